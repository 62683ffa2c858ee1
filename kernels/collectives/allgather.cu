// allgather.cu - all-gather by P2P reads (two-shot all-reduce's second half): after a barrier,
// rank r reads chunk s of every rank s over the links into block s of its own output, starting
// with its own and going round the ranks; a last barrier keeps every input unchanged until all
// peers have read it. In place, rank r's chunk already sits in block r and is not copied.
//
// Moves (n - 1) / n x size over the links per rank, in one step. Architecture: any (sm_80+),
// peer access between every pair. Not yet measured.
#include "../allreduce/ar_resident.cuh"
#include "coll_device.cuh"

__device__ __forceinline__ void allgather_body(const tb_ar_args *a, int DT)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    const size_t es = DT == TB_AR_F32 ? 4 : 2;
    int rank = a->first_rank + (int)blockIdx.y, n = a->nranks;
    unsigned *epoch = a->epochs[rank] + blockIdx.x;
    unsigned v = tb_ar_epoch_begin(*epoch);
    long long lo, hi;
    tb_coll_part(a->count, V, (int)gridDim.x, (int)blockIdx.x, &lo, &hi);
    int vec_ok = a->count % V == 0;
    if (!ar_barrier(a, rank, 0, v)) // every input is ready
        return;
    for (int p = 0; p < n; p++) {
        int s = tb_coll_peer(rank, p, n);
        void *dst = (char *)a->out[rank] + (size_t)s * (size_t)a->count * es;
        if (dst != a->in[s])
            coll_copy(a->in[s], dst, lo, hi, DT, vec_ok);
    }
    if (!ar_barrier(a, rank, 1, v)) // every peer has read this rank's chunk
        return;
    if (threadIdx.x == 0)
        *epoch = tb_ar_epoch_end(v, 1);
}

#define ALLGATHER_KERNEL(NAME, DT, OP)                                                         \
    __global__ void __launch_bounds__(AR_THREADS, 1) NAME(tb_ar_args a)                        \
    {                                                                                          \
        allgather_body(&a, DT);                                                                \
    }
AR_INSTANTIATE(ALLGATHER_KERNEL, allgather)

extern "C" int tb_coll_allgather_blocks(const tb_ar_args *a, int local_ranks)
{
    return coll_blocks(a, local_ranks);
}

extern "C" cudaError_t tb_coll_allgather(const tb_ar_args *a, int local_ranks,
                                         cudaStream_t stream)
{
    return ar_launch(allgather_kernels, a, coll_blocks(a, local_ranks), local_ranks, stream);
}

extern "C" cudaError_t tb_coll_allgather_resident(const tb_ar_args *a, int local_ranks,
                                                  int *resident, int *needed)
{
    return ar_resident(allgather_kernels, a, coll_blocks(a, local_ranks), local_ranks, resident,
                       needed);
}
