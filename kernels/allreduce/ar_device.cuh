// ar_device.cuh - what the hand-written all-reduce kernels share: the flag protocol between
// ranks, 16-byte vector access, and the element-wise reduction in each dtype.
//
// Flags: each rank owns a flag array (TB_AR_FLAG_WORDS) in its device memory that the other
// ranks write with system-scope release stores. A wait polls its flag with relaxed loads (no
// L1 invalidate per spin) and, once the flag has reached its value, takes one acquire fence:
// together an acquire of the release it saw. Block b of
// a rank only ever talks to block b of the other ranks, whose schedules (ar_schedule.h)
// give them the same part of every slice or chunk. A flag holds an epoch, not a boolean:
// each block keeps a counter in its rank's memory that every launch advances, so a flag is
// "set" when it holds at least this launch's value and never needs resetting (graph replays
// included, since the counter lives in memory, not in the launch's arguments).
#ifndef TB_AR_DEVICE_CUH
#define TB_AR_DEVICE_CUH

#include "../allreduce.h"
#include "../ptx.cuh"
#include "ar_data.h"
#include "ar_schedule.h"

#define AR_THREADS 512
// 16-byte loads a thread issues before using the first (ar_reduce_all, ar_gather)
#define AR_LOADS_IN_FLIGHT 8
// vectors a thread loads before it stores the first of them (ar_combine)
#define AR_COMBINE_BATCH 4

// Waits until *flag holds v or later (wrap-safe); 0 when the host asked every wait to give
// up (the watchdog), 1 otherwise. The spin reads relaxed; the one fence after it makes every
// later access of this thread see what the flag's release published.
__device__ __forceinline__ int ar_wait(const unsigned *flag, unsigned v, const int *abort)
{
    unsigned spins = 0;
    while (!tb_ar_flag_reached(tb_ptx_ld_relaxed_sys(flag), v)) {
        if ((++spins & 1023u) == 0 && tb_ptx_ld_volatile(abort))
            return 0;
    }
    tb_ptx_fence_acquire_sys();
    return 1;
}

// Every rank's block blockIdx.x meets here (flag slot `slot`, epoch v): the block's writes
// before it are visible to the others after it, and the others' to this block. The whole
// block calls it; returns 0 when aborted.
__device__ __forceinline__ int ar_barrier(const tb_ar_args *a, int rank, int slot, unsigned v)
{
    __syncthreads();
    int ok = 1;
    int t = threadIdx.x;
    if (tb_ar_barrier_peer(t, rank, a->nranks)) {
        tb_ptx_st_release_sys(a->flags[t] + tb_ar_flag_index(slot, rank, blockIdx.x), v);
        ok = ar_wait(a->flags[rank] + tb_ar_flag_index(slot, t, blockIdx.x), v, a->abort);
    }
    return __syncthreads_and(ok);
}

// Tells rank `to`'s block blockIdx.x that this block's writes of step `slot` are done.
__device__ __forceinline__ void ar_send(const tb_ar_args *a, int to, int slot, unsigned v)
{
    __syncthreads();
    if (threadIdx.x == 0)
        tb_ptx_st_release_sys(a->flags[to] + tb_ar_flag_index(slot, 0, blockIdx.x), v);
}

// Waits for the previous rank's ar_send of step `slot`; returns 0 when aborted.
__device__ __forceinline__ int ar_recv(const tb_ar_args *a, int rank, int slot, unsigned v)
{
    int ok = 1;
    if (threadIdx.x == 0)
        ok = ar_wait(a->flags[rank] + tb_ar_flag_index(slot, 0, blockIdx.x), v, a->abort);
    return __syncthreads_and(ok);
}

// 16-byte vector k of buf. Loads are cached in L2 only (.cg): peers write these buffers
// while the kernel runs, so no SM may keep a line of them in its L1 (and the non-coherent
// path is never used). The data streams through once, so L1 would not help anyway.
__device__ __forceinline__ uint4 ar_ld(const void *buf, long long k)
{
    uint4 v;
    size_t g = __cvta_generic_to_global((const uint4 *)buf + k);
    asm volatile("ld.global.cg.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(g)
                 : "memory");
    return v;
}

__device__ __forceinline__ void ar_st(void *buf, long long k, uint4 v)
{
    size_t g = __cvta_generic_to_global((uint4 *)buf + k);
    asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"l"(g), "r"(v.x), "r"(v.y),
                 "r"(v.z), "r"(v.w)
                 : "memory");
}

// A vector's elements as floats (4 for fp32, 8 for bf16/fp16); DT is a compile-time
// constant in every kernel, so the branches fold away.
__device__ __forceinline__ void ar_unpack(int DT, uint4 u, float f[8])
{
    const unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
        if (DT == TB_AR_F32) {
            f[k] = __uint_as_float(w[k]);
        } else if (DT == TB_AR_BF16) {
            f[2 * k] = __uint_as_float(w[k] << 16);
            f[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
        } else {
            f[2 * k] = tb_ptx_f16_to_f32((unsigned short)(w[k] & 0xffffu));
            f[2 * k + 1] = tb_ptx_f16_to_f32((unsigned short)(w[k] >> 16));
        }
    }
}

__device__ __forceinline__ uint4 ar_pack(int DT, const float f[8])
{
    unsigned w[4];
#pragma unroll
    for (int k = 0; k < 4; k++) {
        if (DT == TB_AR_F32)
            w[k] = __float_as_uint(f[k]);
        else if (DT == TB_AR_BF16)
            w[k] = (unsigned)tb_ptx_f32_to_bf16(f[2 * k]) |
                   ((unsigned)tb_ptx_f32_to_bf16(f[2 * k + 1]) << 16);
        else
            w[k] = (unsigned)tb_ptx_f32_to_f16(f[2 * k]) |
                   ((unsigned)tb_ptx_f32_to_f16(f[2 * k + 1]) << 16);
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

__device__ __forceinline__ void ar_acc(int DT, int OP, float acc[8], const float x[8])
{
#pragma unroll
    for (int k = 0; k < 8; k++)
        if (DT != TB_AR_F32 || k < 4)
            acc[k] = OP == TB_AR_SUM ? __fadd_rn(acc[k], x[k])
                                     : (OP == TB_AR_MAX ? fmaxf(acc[k], x[k]) : fminf(acc[k], x[k]));
}

// dst[i] = reduction over every rank's in[i] for i in [lo, hi), starting with this rank's
// own input and going round the ranks (so the ranks do not all read one peer at once).
// lo is a multiple of the vector; a partial vector at hi is done element by element.
__device__ __forceinline__ void ar_reduce_all(const tb_ar_args *a, int rank, long long lo,
                                              long long hi, void *dst, int DT, int OP)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    long long nv = (hi - lo) / V, v0 = lo / V;
    const int n = a->nranks;
    for (long long k = threadIdx.x; k < nv; k += blockDim.x) {
        float acc[8], x[8];
        // up to AR_LOADS_IN_FLIGHT ranks' vectors are loaded before any is used, so their
        // latencies overlap instead of adding up rank after rank
        for (int base = 0; base < n; base += AR_LOADS_IN_FLIGHT) {
            uint4 u[AR_LOADS_IN_FLIGHT];
#pragma unroll
            for (int j = 0; j < AR_LOADS_IN_FLIGHT; j++)
                if (base + j < n) {
                    int src = rank + base + j;
                    u[j] = ar_ld(a->in[src < n ? src : src - n], v0 + k);
                }
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
        float acc = tb_ar_get(a->in[rank], DT, i);
        for (int p = 1; p < a->nranks; p++) {
            int src = rank + p < a->nranks ? rank + p : rank + p - a->nranks;
            acc = tb_ar_combine(OP, acc, tb_ar_get(a->in[src], DT, i));
        }
        tb_ar_set(dst, DT, i, acc);
    }
}

// For i in [lo, hi): x = src[i] (combined with add[i] when add is not NULL), stored to dst[i]
// and, when dst2 is not NULL, to dst2[i] too. Each thread loads AR_COMBINE_BATCH vectors
// (half as many of src and of add when adding, which needs twice the registers) before it
// stores any, so their latencies overlap; they lie AR_THREADS vectors apart (the block size
// of every launch), a constant offset from one pointer per buffer. add and dst2 are NULL or
// not at every call site, so their branches and the batch fold to constants.
__device__ __forceinline__ void ar_combine(const void *src, const void *add, void *dst,
                                           void *dst2, long long lo, long long hi, int DT, int OP)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    // a range is one block's share of a launch: far below 2^31 vectors (32 GiB)
    int nv = (int)((hi - lo) / V);
    long long v0 = lo / V;
    const uint4 *s = (const uint4 *)src + v0, *x2 = (const uint4 *)add + v0;
    uint4 *d = (uint4 *)dst + v0, *d2 = (uint4 *)dst2 + v0;
    const int batch = add ? AR_COMBINE_BATCH / 2 : AR_COMBINE_BATCH;
    for (int k0 = threadIdx.x; k0 < nv; k0 += batch * AR_THREADS) {
        uint4 u[AR_COMBINE_BATCH], w[AR_COMBINE_BATCH];
#pragma unroll
        for (int j = 0; j < batch; j++)
            if (k0 + j * AR_THREADS < nv)
                u[j] = ar_ld(s, k0 + j * AR_THREADS);
        if (add) {
#pragma unroll
            for (int j = 0; j < batch; j++)
                if (k0 + j * AR_THREADS < nv)
                    w[j] = ar_ld(x2, k0 + j * AR_THREADS);
        }
#pragma unroll
        for (int j = 0; j < batch; j++) {
            int k = k0 + j * AR_THREADS;
            if (k >= nv)
                break;
            uint4 x = u[j];
            if (add) {
                float acc[8], y[8];
                ar_unpack(DT, x, acc);
                ar_unpack(DT, w[j], y);
                ar_acc(DT, OP, acc, y);
                x = ar_pack(DT, acc);
            }
            ar_st(d, k, x);
            if (dst2)
                ar_st(d2, k, x);
        }
    }
    for (long long i = lo + (long long)nv * V + threadIdx.x; i < hi; i += blockDim.x) {
        float x = tb_ar_get(src, DT, i);
        if (add)
            x = tb_ar_combine(OP, x, tb_ar_get(add, DT, i));
        tb_ar_set(dst, DT, i, x);
        if (dst2)
            tb_ar_set(dst2, DT, i, x);
    }
}

// twoshot's all-gather: this block's part of every other slice s (the slice rank s reduced)
// copied from out[s] into out[rank]. A thread loads its vector of up to AR_LOADS_IN_FLIGHT
// peers' slices before it stores any, instead of one remote load in flight at a time. A
// block's parts of the slices differ by at most a vector or two, so one loop covers them all.
__device__ __forceinline__ void ar_gather(const tb_ar_args *a, int rank, int DT)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    const int n = a->nranks;
    for (int base = 1; base < n; base += AR_LOADS_IN_FLIGHT) {
        const uint4 *src[AR_LOADS_IN_FLIGHT];
        uint4 *dst[AR_LOADS_IN_FLIGHT];
        long long nv[AR_LOADS_IN_FLIGHT], most = 0;
#pragma unroll
        for (int j = 0; j < AR_LOADS_IN_FLIGHT; j++) {
            nv[j] = 0;
            src[j] = (const uint4 *)a->out[rank];
            dst[j] = (uint4 *)a->out[rank];
            if (base + j < n) {
                int s = rank + base + j < n ? rank + base + j : rank + base + j - n;
                long long lo, hi;
                tb_ar_twoshot_range(a->count, n, V, (int)gridDim.x, s, (int)blockIdx.x, &lo, &hi);
                src[j] = (const uint4 *)a->out[s] + lo / V;
                dst[j] += lo / V;
                nv[j] = (hi - lo) / V;
                most = nv[j] > most ? nv[j] : most;
            }
        }
        for (long long k = threadIdx.x; k < most; k += blockDim.x) {
            uint4 u[AR_LOADS_IN_FLIGHT];
#pragma unroll
            for (int j = 0; j < AR_LOADS_IN_FLIGHT; j++)
                if (k < nv[j])
                    u[j] = ar_ld(src[j], k);
#pragma unroll
            for (int j = 0; j < AR_LOADS_IN_FLIGHT; j++)
                if (k < nv[j])
                    ar_st(dst[j], k, u[j]);
        }
    }
    // a partial vector ends only the slice that ends at count: element by element
    if (a->count % V == 0)
        return;
#pragma unroll 1
    for (int p = 1; p < n; p++) {
        int s = rank + p < n ? rank + p : rank + p - n;
        long long lo, hi;
        tb_ar_twoshot_range(a->count, n, V, (int)gridDim.x, s, (int)blockIdx.x, &lo, &hi);
        if (hi == a->count)
            for (long long i = lo + (hi - lo) / V * V + threadIdx.x; i < hi; i += blockDim.x)
                tb_ar_set(a->out[rank], DT, i, tb_ar_get(a->out[s], DT, i));
    }
}

// The blocks per rank for work of `units` vectors handled AR_THREADS at a time, within
// what keeps every rank's blocks resident together.
static inline int ar_blocks_for(long long units, int sm_count, int local_ranks)
{
    long long want = (units + AR_THREADS - 1) / AR_THREADS;
    long long cap = (sm_count > 0 ? sm_count : 1) / (local_ranks > 0 ? local_ranks : 1);
    if (cap > TB_AR_MAX_BLOCKS)
        cap = TB_AR_MAX_BLOCKS;
    if (cap < 1)
        cap = 1;
    return (int)(want < 1 ? 1 : (want > cap ? cap : want));
}

// Instantiates KERNEL_MACRO(name, DT, OP) for the nine dtype x op pairs and a table of them
// indexed by dt * 3 + op.
#define AR_INSTANTIATE(KERNEL_MACRO, PREFIX)                                                   \
    KERNEL_MACRO(PREFIX##_f32_sum, TB_AR_F32, TB_AR_SUM)                                       \
    KERNEL_MACRO(PREFIX##_f32_max, TB_AR_F32, TB_AR_MAX)                                       \
    KERNEL_MACRO(PREFIX##_f32_min, TB_AR_F32, TB_AR_MIN)                                       \
    KERNEL_MACRO(PREFIX##_bf16_sum, TB_AR_BF16, TB_AR_SUM)                                     \
    KERNEL_MACRO(PREFIX##_bf16_max, TB_AR_BF16, TB_AR_MAX)                                     \
    KERNEL_MACRO(PREFIX##_bf16_min, TB_AR_BF16, TB_AR_MIN)                                     \
    KERNEL_MACRO(PREFIX##_f16_sum, TB_AR_F16, TB_AR_SUM)                                       \
    KERNEL_MACRO(PREFIX##_f16_max, TB_AR_F16, TB_AR_MAX)                                       \
    KERNEL_MACRO(PREFIX##_f16_min, TB_AR_F16, TB_AR_MIN)                                       \
    static void (*const PREFIX##_kernels[9])(tb_ar_args) = {                                   \
        PREFIX##_f32_sum,  PREFIX##_f32_max,  PREFIX##_f32_min,                                \
        PREFIX##_bf16_sum, PREFIX##_bf16_max, PREFIX##_bf16_min,                               \
        PREFIX##_f16_sum,  PREFIX##_f16_max,  PREFIX##_f16_min};

// Launches table[dt * 3 + op] with `blocks` blocks per rank for the launch's local ranks.
static inline cudaError_t ar_launch(void (*const table[9])(tb_ar_args), const tb_ar_args *a,
                                    int blocks, int local_ranks, cudaStream_t stream)
{
    if (a->nranks < 2 || a->nranks > TB_AR_MAX_RANKS || local_ranks < 1 ||
        a->first_rank + local_ranks > a->nranks || a->dtype < 0 || a->dtype > 2 || a->op < 0 ||
        a->op > 2)
        return cudaErrorInvalidValue;
    if (a->count <= 0)
        return cudaSuccess;
    dim3 grid((unsigned)blocks, (unsigned)local_ranks);
    table[a->dtype * 3 + a->op]<<<grid, AR_THREADS, 0, stream>>>(*a);
    return cudaGetLastError();
}

#endif
