// oneshot.cu - one-shot all-reduce: after a barrier, every rank reads all n inputs over P2P
// (16-byte loads, up to 8 ranks' in flight per thread), reduces in fp32 and writes its own
// output; a second barrier keeps every input unchanged until all peers have read it. In
// place, the result goes to a local scratch buffer first and is copied over the input after
// that barrier. Both barriers release with one store per peer and poll relaxed, with one
// acquire fence once the flags flip (ar_wait): no L1 invalidate per spin.
//
// Moves (n - 1) x size over the links per rank, in one step: meant for latency-bound sizes
// (tens to hundreds of KiB). Architecture: any (sm_80+), peer access between every pair.
// Not yet measured.
#include "ar_device.cuh"
#include "ar_resident.cuh"

__device__ __forceinline__ void oneshot_body(const tb_ar_args *a, int DT, int OP)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    int rank = a->first_rank + (int)blockIdx.y;
    unsigned *epoch = a->epochs[rank] + blockIdx.x;
    unsigned v = tb_ar_epoch_begin(*epoch);
    long long lo, hi;
    tb_ar_oneshot_range(a->count, V, (int)gridDim.x, (int)blockIdx.x, &lo, &hi);
    if (!ar_barrier(a, rank, 0, v)) // every input is ready
        return;
    ar_reduce_all(a, rank, lo, hi, a->inplace ? a->scratch[rank] : a->out[rank], DT, OP);
    if (!ar_barrier(a, rank, 1, v)) // every peer has read this rank's input
        return;
    if (a->inplace)
        ar_combine(a->scratch[rank], NULL, a->out[rank], NULL, lo, hi, DT, OP);
    if (threadIdx.x == 0)
        *epoch = tb_ar_epoch_end(v, 1);
}

#define ONESHOT_KERNEL(NAME, DT, OP)                                                           \
    __global__ void __launch_bounds__(AR_THREADS, 1) NAME(tb_ar_args a)                        \
    {                                                                                          \
        oneshot_body(&a, DT, OP);                                                              \
    }
AR_INSTANTIATE(ONESHOT_KERNEL, oneshot)

extern "C" int tb_ar_oneshot_blocks(const tb_ar_args *a, int local_ranks)
{
    long long units = (a->count + tb_ar_vec_elems(a->dtype) - 1) / tb_ar_vec_elems(a->dtype);
    return ar_blocks_for(units, a->sm_count, local_ranks);
}

extern "C" cudaError_t tb_ar_oneshot(const tb_ar_args *a, int local_ranks, cudaStream_t stream)
{
    return ar_launch(oneshot_kernels, a, tb_ar_oneshot_blocks(a, local_ranks), local_ranks,
                     stream);
}

extern "C" cudaError_t tb_ar_oneshot_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                              int *needed)
{
    return ar_resident(oneshot_kernels, a, tb_ar_oneshot_blocks(a, local_ranks), local_ranks,
                       resident, needed);
}
