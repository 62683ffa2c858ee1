// twoshot.cu - two-shot all-reduce: a reduce-scatter by P2P reads (rank r reduces slice r of
// every input into its own output), a barrier, then an all-gather by P2P reads (rank r
// copies every other slice from the rank that reduced it), and a last barrier so no output
// slice changes while a peer still reads it. Both steps load up to 8 ranks' 16-byte vectors
// per thread before using any (ar_reduce_all, ar_gather), so the remote latencies overlap.
//
// Moves 2 (n - 1) / n x size over the links per rank in two steps: meant for medium sizes.
// Architecture: any (sm_80+), peer access between every pair. Not yet measured.
#include "ar_device.cuh"
#include "ar_resident.cuh"

__device__ __forceinline__ void twoshot_body(const tb_ar_args *a, int DT, int OP)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    int rank = a->first_rank + (int)blockIdx.y, n = a->nranks;
    unsigned *epoch = a->epochs[rank] + blockIdx.x;
    unsigned v = tb_ar_epoch_begin(*epoch);
    long long lo, hi;
    if (!ar_barrier(a, rank, 0, v)) // every input is ready
        return;
    tb_ar_twoshot_range(a->count, n, V, (int)gridDim.x, rank, (int)blockIdx.x, &lo, &hi);
    ar_reduce_all(a, rank, lo, hi, a->out[rank], DT, OP);
    if (!ar_barrier(a, rank, 1, v)) // every slice is reduced
        return;
    ar_gather(a, rank, DT); // every other slice, up to 8 peers' loads in flight per thread
    if (!ar_barrier(a, rank, 2, v)) // every peer has read this rank's slice
        return;
    if (threadIdx.x == 0)
        *epoch = tb_ar_epoch_end(v, 1);
}

#define TWOSHOT_KERNEL(NAME, DT, OP)                                                           \
    __global__ void __launch_bounds__(AR_THREADS, 1) NAME(tb_ar_args a)                        \
    {                                                                                          \
        twoshot_body(&a, DT, OP);                                                              \
    }
AR_INSTANTIATE(TWOSHOT_KERNEL, twoshot)

extern "C" int tb_ar_twoshot_blocks(const tb_ar_args *a, int local_ranks)
{
    long long units = (a->count + tb_ar_vec_elems(a->dtype) - 1) / tb_ar_vec_elems(a->dtype);
    return ar_blocks_for((units + a->nranks - 1) / a->nranks, a->sm_count, local_ranks);
}

extern "C" cudaError_t tb_ar_twoshot(const tb_ar_args *a, int local_ranks, cudaStream_t stream)
{
    return ar_launch(twoshot_kernels, a, tb_ar_twoshot_blocks(a, local_ranks), local_ranks,
                     stream);
}

extern "C" cudaError_t tb_ar_twoshot_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                              int *needed)
{
    return ar_resident(twoshot_kernels, a, tb_ar_twoshot_blocks(a, local_ranks), local_ranks,
                       resident, needed);
}
