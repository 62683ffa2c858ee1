// reducescatter.cu - reduce-scatter by P2P reads (two-shot all-reduce's first half): after a
// barrier, rank r reads block r of every rank's input over the links, starting with its own
// and going round the ranks, reduces in fp32 and writes its output chunk; a last barrier keeps
// every input unchanged until all peers have read it. In place, the output is block r of rank
// r's own input, which only rank r reads.
//
// Moves (n - 1) / n x size over the links per rank, in one step. Architecture: any (sm_80+),
// peer access between every pair. Not yet measured.
#include "../allreduce/ar_resident.cuh"
#include "coll_device.cuh"

__device__ __forceinline__ void reducescatter_body(const tb_ar_args *a, int DT, int OP)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    int rank = a->first_rank + (int)blockIdx.y;
    unsigned *epoch = a->epochs[rank] + blockIdx.x;
    unsigned v = tb_ar_epoch_begin(*epoch);
    long long lo, hi;
    tb_coll_part(a->count, V, (int)gridDim.x, (int)blockIdx.x, &lo, &hi);
    if (!ar_barrier(a, rank, 0, v)) // every input is ready
        return;
    coll_reduce(a, rank, rank, lo, hi, a->out[rank], DT, OP, a->count % V == 0);
    if (!ar_barrier(a, rank, 1, v)) // every peer has read this rank's input
        return;
    if (threadIdx.x == 0)
        *epoch = tb_ar_epoch_end(v, 1);
}

#define REDUCESCATTER_KERNEL(NAME, DT, OP)                                                     \
    __global__ void __launch_bounds__(AR_THREADS, 1) NAME(tb_ar_args a)                        \
    {                                                                                          \
        reducescatter_body(&a, DT, OP);                                                        \
    }
AR_INSTANTIATE(REDUCESCATTER_KERNEL, reducescatter)

extern "C" int tb_coll_reducescatter_blocks(const tb_ar_args *a, int local_ranks)
{
    return coll_blocks(a, local_ranks);
}

extern "C" cudaError_t tb_coll_reducescatter(const tb_ar_args *a, int local_ranks,
                                             cudaStream_t stream)
{
    return ar_launch(reducescatter_kernels, a, coll_blocks(a, local_ranks), local_ranks, stream);
}

extern "C" cudaError_t tb_coll_reducescatter_resident(const tb_ar_args *a, int local_ranks,
                                                      int *resident, int *needed)
{
    return ar_resident(reducescatter_kernels, a, coll_blocks(a, local_ranks), local_ranks,
                       resident, needed);
}
