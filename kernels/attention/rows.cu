// rows.cu - the row kernels the attention implementations share: the backward's pre-pass
// D = rowsum(dO o O) (flash and unfused), and the unfused path's softmax (one pass for the
// maximum and sum, one to write P, 16-byte accesses) and softmax backward over materialized
// bf16/fp16 score rows (what a framework's fallback runs between its cuBLAS GEMMs).
// Memory-bound; any architecture.
#include "../attention.h"
#include "attn_common.h"

#define RW_THREADS 256

// One warp per row of D elements.
__global__ void __launch_bounds__(RW_THREADS)
    rw_rowdot(const void *__restrict__ dO, int do_storage, const void *__restrict__ O,
              int o_storage, int D, int64_t rows, float *__restrict__ Drow,
              float *__restrict__ Dabs)
{
    const int lane = threadIdx.x & 31;
    for (int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; row < rows;
         row += ((int64_t)gridDim.x * blockDim.x) >> 5) {
        float s = 0.0f, a = 0.0f;
        for (int d = lane; d < D; d += 32) {
            const float x = tb_mm_load(do_storage, dO, row * D + d);
            const float y = tb_mm_load(o_storage, O, row * D + d);
            s += x * y;
            a += fabsf(x * y);
        }
        for (int o = 16; o > 0; o >>= 1) {
            s += __shfl_xor_sync(0xffffffffu, s, o);
            a += __shfl_xor_sync(0xffffffffu, a, o);
        }
        if (lane == 0) {
            Drow[row] = s;
            if (Dabs)
                Dabs[row] = a;
        }
    }
}

__device__ __forceinline__ uint16_t rw_round(int storage, float x)
{
    return storage == TB_MM_BF16 ? tb_f32_to_bf16(x) : tb_f32_to_f16(x);
}

// A running (max, sum) pair in base 2: l = sum of 2^(x - m); m = -inf, l = 0 for nothing seen.
struct rw_ml {
    float m, l;
};

__device__ __forceinline__ rw_ml rw_ml_merge(rw_ml a, rw_ml b)
{
    const float m = fmaxf(a.m, b.m);
    if (m == -INFINITY)
        return a;
    rw_ml r = {m, a.l * exp2f(a.m - m) + b.l * exp2f(b.m - m)};
    return r;
}

__device__ __forceinline__ void rw_ml_add(rw_ml *r, float x)
{
    if (x > r->m) {
        r->l = r->l * exp2f(r->m - x) + 1.0f; // 2^(-inf) = 0 for the first
        r->m = x;
    } else if (x != -INFINITY) {
        r->l += exp2f(x - r->m);
    }
}

// The block's (max, sum), every thread gets it.
__device__ rw_ml rw_reduce_ml(rw_ml v)
{
    __shared__ rw_ml part[RW_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) {
        rw_ml u = {__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.l, o)};
        v = rw_ml_merge(v, u);
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        part[threadIdx.x >> 5] = v;
    __syncthreads();
    v = part[0];
#pragma unroll
    for (int w = 1; w < RW_THREADS / 32; w++)
        v = rw_ml_merge(v, part[w]);
    return v;
}

// One block per score row (B*H*S rows of S keys); scores already scaled. Causal: keys past
// the row's position are masked (written as 0). One pass reads the row for its maximum and sum
// together (the online softmax), a second writes P; both move 16 bytes (8 elements) per access
// when rows are 16-byte aligned (S a multiple of 8), as a framework's fused softmax does.
__global__ void __launch_bounds__(RW_THREADS)
    rw_softmax(const tb_attn_shape sh, uint16_t *__restrict__ P, float *__restrict__ lse)
{
    const int64_t row = blockIdx.x;
    const int i = (int)(row % sh.S);
    const int n = sh.causal ? i + 1 : sh.S; // the visible keys
    uint16_t *p = P + row * sh.S;
    const bool vec = sh.S % 8 == 0;
    rw_ml ml = {-INFINITY, 0.0f};
    if (vec) {
        for (int c = threadIdx.x; c * 8 < n; c += RW_THREADS) {
            const uint4 w = ((const uint4 *)p)[c];
            const uint16_t *e = (const uint16_t *)&w;
#pragma unroll
            for (int k = 0; k < 8; k++)
                if (c * 8 + k < n)
                    rw_ml_add(&ml, tb_mm_load(sh.storage, e, k) * TB_ATTN_LOG2E);
        }
    } else {
        for (int j = threadIdx.x; j < n; j += RW_THREADS)
            rw_ml_add(&ml, tb_mm_load(sh.storage, p, j) * TB_ATTN_LOG2E);
    }
    ml = rw_reduce_ml(ml);
    const float inv = 1.0f / ml.l;
    if (vec) {
        for (int c = threadIdx.x; c * 8 < sh.S; c += RW_THREADS) {
            uint4 w = c * 8 < n ? ((const uint4 *)p)[c] : make_uint4(0, 0, 0, 0);
            uint16_t *e = (uint16_t *)&w;
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const float x = tb_mm_load(sh.storage, e, k) * TB_ATTN_LOG2E;
                e[k] = rw_round(sh.storage, c * 8 + k < n ? exp2f(x - ml.m) * inv : 0.0f);
            }
            ((uint4 *)p)[c] = w;
        }
    } else {
        for (int j = threadIdx.x; j < sh.S; j += RW_THREADS) {
            const float x = j < n ? exp2f(tb_mm_load(sh.storage, p, j) * TB_ATTN_LOG2E - ml.m) * inv
                                  : 0.0f;
            p[j] = rw_round(sh.storage, x);
        }
    }
    if (threadIdx.x == 0)
        lse[row] = (ml.m + log2f(ml.l)) * TB_ATTN_LN2;
}

// dS = P o (dP - Drow), in place of dP; rows of S keys.
__global__ void __launch_bounds__(RW_THREADS)
    rw_dsoftmax(const tb_attn_shape sh, const uint16_t *__restrict__ P, uint16_t *__restrict__ dP,
                const float *__restrict__ Drow, int64_t n)
{
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const float p = tb_mm_load(sh.storage, P, e), dp = tb_mm_load(sh.storage, dP, e);
        dP[e] = rw_round(sh.storage, p * (dp - Drow[e / sh.S]));
    }
}

static unsigned rw_grid(int64_t threads)
{
    int64_t b = (threads + RW_THREADS - 1) / RW_THREADS;
    return (unsigned)(b > 65535 * 8 ? 65535 * 8 : (b < 1 ? 1 : b));
}

extern "C" cudaError_t tb_attn_rowdot(const tb_attn_shape *sh, const void *dO, const void *O,
                                      int o_storage, float *Drow, float *Dabs,
                                      cudaStream_t stream)
{
    const int64_t rows = (int64_t)sh->B * sh->H * sh->S;
    rw_rowdot<<<rw_grid(rows * 32), RW_THREADS, 0, stream>>>(dO, sh->storage, O, o_storage,
                                                             sh->D, rows, Drow, Dabs);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_attn_softmax_rows(const tb_attn_shape *sh, void *P, float *lse,
                                            cudaStream_t stream)
{
    const int64_t rows = (int64_t)sh->B * sh->H * sh->S;
    if (sh->storage == TB_MM_F32 || rows > 0x7fffffff)
        return cudaErrorInvalidValue;
    rw_softmax<<<(unsigned)rows, RW_THREADS, 0, stream>>>(*sh, (uint16_t *)P, lse);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_attn_dsoftmax(const tb_attn_shape *sh, const void *P, void *dP,
                                        const float *Drow, cudaStream_t stream)
{
    if (sh->storage == TB_MM_F32)
        return cudaErrorInvalidValue;
    const int64_t n = (int64_t)sh->B * sh->H * sh->S * sh->S;
    rw_dsoftmax<<<rw_grid(n), RW_THREADS, 0, stream>>>(*sh, (const uint16_t *)P,
                                                       (uint16_t *)dP, Drow, n);
    return cudaGetLastError();
}
