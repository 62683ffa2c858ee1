// coll_device.cuh - what the all-gather, reduce-scatter and all-to-all kernels share on top of
// all-reduce's flag protocol and vector access (allreduce/ar_device.cuh): a chunk part copied,
// or reduced over every rank, by 16-byte vectors when every chunk starts on a vector (the
// chunk is a whole number of vectors), element by element otherwise.
#ifndef TB_COLL_DEVICE_CUH
#define TB_COLL_DEVICE_CUH

#include "../allreduce/ar_device.cuh"
#include "../collectives.h"
#include "coll_data.h"

// dst[i] = src[i] for i in [lo, hi).
__device__ __forceinline__ void coll_copy(const void *src, void *dst, long long lo,
                                          long long hi, int DT, int vec_ok)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    long long nv = vec_ok ? (hi - lo) / V : 0, v0 = lo / V;
    for (long long k = threadIdx.x; k < nv; k += blockDim.x)
        ar_st(dst, v0 + k, ar_ld(src, v0 + k));
    for (long long i = lo + nv * V + threadIdx.x; i < hi; i += blockDim.x)
        tb_ar_set(dst, DT, i, tb_ar_get(src, DT, i));
}

// dst[i] = the reduction over ranks q (from this rank round) of block `blk` of in[q], element
// i, for i in [lo, hi).
__device__ __forceinline__ void coll_reduce(const tb_ar_args *a, int rank, int blk, long long lo,
                                            long long hi, void *dst, int DT, int OP, int vec_ok)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    const size_t off = (size_t)blk * (size_t)a->count * (DT == TB_AR_F32 ? 4 : 2);
    const int n = a->nranks;
    long long nv = vec_ok ? (hi - lo) / V : 0, v0 = lo / V;
    for (long long k = threadIdx.x; k < nv; k += blockDim.x) {
        float acc[8], x[8];
        for (int base = 0; base < n; base += AR_LOADS_IN_FLIGHT) {
            uint4 u[AR_LOADS_IN_FLIGHT];
#pragma unroll
            for (int j = 0; j < AR_LOADS_IN_FLIGHT; j++)
                if (base + j < n)
                    u[j] = ar_ld((const char *)a->in[tb_coll_peer(rank, base + j, n)] + off,
                                 v0 + k);
#pragma unroll
            for (int j = 0; j < AR_LOADS_IN_FLIGHT; j++)
                if (base + j < n) {
                    if (base + j == 0) {
                        ar_unpack(DT, u[j], acc);
                    } else {
                        ar_unpack(DT, u[j], x);
                        ar_acc(DT, OP, acc, x);
                    }
                }
        }
        ar_st(dst, v0 + k, ar_pack(DT, acc));
    }
    for (long long i = lo + nv * V + threadIdx.x; i < hi; i += blockDim.x) {
        float acc = tb_ar_get((const char *)a->in[rank] + off, DT, i);
        for (int p = 1; p < n; p++)
            acc = tb_ar_combine(OP, acc,
                                tb_ar_get((const char *)a->in[tb_coll_peer(rank, p, n)] + off,
                                          DT, i));
        tb_ar_set(dst, DT, i, acc);
    }
}

// The blocks per rank: a block moves its part of every one of the n chunks.
static inline int coll_blocks(const tb_ar_args *a, int local_ranks)
{
    int V = tb_ar_vec_elems(a->dtype);
    long long units = (a->count + V - 1) / V;
    return ar_blocks_for(units * a->nranks, a->sm_count, local_ranks);
}

#endif
