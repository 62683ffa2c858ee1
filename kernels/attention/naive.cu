// naive.cu - attention with the score matrix materialized in fp32: S = scale Q K^T, a row
// softmax, O = P V; the backward from the same P: dP = dO V^T, dS = P o (dP - D), dQ = scale
// dS K, dK = scale dS^T Q, dV = P^T dO, summed over the query heads sharing a KV head. One
// block per row (or per key for dK, dV), plain fp32 loops, no tensor cores: the correctness
// anchor the other implementations and the verification are held to. Any architecture.
#include "../attention.h"
#include "attn_common.h"

#define NV_THREADS 256

// The global row (of B*H*S) of slab row `row` = (zl, g, r): group z0+zl, head g of its group,
// query row r0+r.
__device__ __forceinline__ int64_t slab_q_row(const tb_attn_shape sh, int z0, int r0, int R,
                                              int64_t row, int *head_row)
{
    const int G = sh.H / sh.KVH;
    const int r = (int)(row % R);
    const int64_t zg = row / R; // zl*G + g
    *head_row = r0 + r;
    return ((int64_t)z0 * G + zg) * sh.S + r0 + r; // (z*G + g) = b*H + h
}

// W[row][j] = scale * A_i . Bm_j (masked: -inf when mask). A rows are query-side rows of
// [B*H*S][D], Bm rows key-side rows of [B*KVH*S][D]. One block per slab row.
__global__ void __launch_bounds__(NV_THREADS)
    nv_scores(const tb_attn_shape sh, const void *__restrict__ A, const void *__restrict__ Bm,
              float scale, int mask, float *__restrict__ W, int z0, int r0, int R)
{
    __shared__ float a[256];
    const int64_t row = blockIdx.x;
    int i;
    const int64_t qrow = slab_q_row(sh, z0, r0, R, row, &i);
    const int G = sh.H / sh.KVH;
    const int64_t zabs = z0 + row / R / G;
    for (int d = threadIdx.x; d < sh.D; d += blockDim.x)
        a[d] = tb_mm_load(sh.storage, A, qrow * sh.D + d);
    __syncthreads();
    const int j = blockIdx.y * blockDim.x + threadIdx.x;
    if (j >= sh.S)
        return;
    float x = 0.0f;
    const int64_t kbase = (zabs * sh.S + j) * sh.D;
    for (int d = 0; d < sh.D; d++)
        x += a[d] * tb_mm_load(sh.storage, Bm, kbase + d);
    W[row * sh.S + j] = (mask && tb_attn_masked(i, j, sh.S, sh.causal)) ? -INFINITY : scale * x;
}

__device__ float block_reduce(float v, int is_max)
{
    __shared__ float part[NV_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads(); // part[] may still be read by a previous reduction
    if (lane == 0)
        part[warp] = v;
    __syncthreads();
    v = part[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); w++)
        v = is_max ? fmaxf(v, part[w]) : v + part[w];
    return v;
}

// In place: W[row] = softmax(W[row]); lse of the row (natural). A row with no visible key
// becomes zeros with lse -inf.
__global__ void __launch_bounds__(NV_THREADS)
    nv_softmax(const tb_attn_shape sh, float *__restrict__ W, float *__restrict__ lse, int z0,
               int r0, int R)
{
    const int64_t row = blockIdx.x;
    int i;
    const int64_t qrow = slab_q_row(sh, z0, r0, R, row, &i);
    float *w = W + row * sh.S;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < sh.S; j += blockDim.x)
        m = fmaxf(m, w[j]);
    m = block_reduce(m, 1);
    const float base = m == -INFINITY ? 0.0f : m;
    float l = 0.0f;
    for (int j = threadIdx.x; j < sh.S; j += blockDim.x)
        l += expf(w[j] - base);
    l = block_reduce(l, 0);
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int j = threadIdx.x; j < sh.S; j += blockDim.x)
        w[j] = expf(w[j] - base) * inv;
    if (threadIdx.x == 0 && lse)
        lse[qrow] = l > 0.0f ? base + logf(l) : -INFINITY;
}

// out[row][d] = scale * sum_j W[row][j] M_j[d] (M key-side rows), in out_storage; bound[row][d]
// (when not NULL) = scale * sum_j Wabs[row][j] |M_j[d]|. One block per slab row, a thread per d.
__global__ void __launch_bounds__(NV_THREADS)
    nv_rows_times(const tb_attn_shape sh, const float *__restrict__ W,
                  const float *__restrict__ Wabs, const void *__restrict__ M, float scale,
                  void *__restrict__ out, int out_storage, float *__restrict__ bound, int z0,
                  int r0, int R)
{
    const int64_t row = blockIdx.x;
    int i;
    const int64_t qrow = slab_q_row(sh, z0, r0, R, row, &i);
    const int G = sh.H / sh.KVH;
    const int64_t zabs = z0 + row / R / G;
    const float *w = W + row * sh.S;
    const float *wa = Wabs ? Wabs + row * sh.S : NULL;
    for (int d = threadIdx.x; d < sh.D; d += blockDim.x) {
        float acc = 0.0f, b = 0.0f;
        for (int j = 0; j < sh.S; j++) {
            const float m = tb_mm_load(sh.storage, M, (zabs * sh.S + j) * sh.D + d);
            acc += w[j] * m;
            if (wa)
                b += wa[j] * fabsf(m);
        }
        const int64_t o = qrow * sh.D + d;
        if (out_storage == TB_MM_F32)
            ((float *)out)[o] = scale * acc;
        else if (out_storage == TB_MM_BF16)
            ((uint16_t *)out)[o] = tb_f32_to_bf16(scale * acc);
        else
            ((uint16_t *)out)[o] = tb_f32_to_f16(scale * acc);
        if (bound)
            bound[o] = scale * b;
    }
}

// out_j[d] (+)= scale * sum over the slab rows of the key's group W[row][j] X_row[d] (X
// query-side rows); bound likewise from Wabs and |X|. One block per (key j, group), a thread
// per d.
__global__ void __launch_bounds__(NV_THREADS)
    nv_cols_times(const tb_attn_shape sh, const float *__restrict__ W,
                  const float *__restrict__ Wabs, const void *__restrict__ X, float scale,
                  void *__restrict__ out, int out_storage, int accumulate,
                  float *__restrict__ bound, int z0, int r0, int R)
{
    const int j = blockIdx.x;
    const int zl = blockIdx.y;
    const int G = sh.H / sh.KVH;
    const int64_t rows = (int64_t)G * R;
    for (int d = threadIdx.x; d < sh.D; d += blockDim.x) {
        float acc = 0.0f, b = 0.0f;
        for (int64_t k = 0; k < rows; k++) {
            const int64_t row = (int64_t)zl * rows + k;
            int i;
            const int64_t qrow = slab_q_row(sh, z0, r0, R, row, &i);
            const float x = tb_mm_load(sh.storage, X, qrow * sh.D + d);
            acc += W[row * sh.S + j] * x;
            if (Wabs)
                b += Wabs[row * sh.S + j] * fabsf(x);
        }
        const int64_t o = ((int64_t)(z0 + zl) * sh.S + j) * sh.D + d;
        if (out_storage == TB_MM_F32) {
            float *f = (float *)out;
            f[o] = scale * acc + (accumulate ? f[o] : 0.0f);
        } else if (out_storage == TB_MM_BF16) {
            ((uint16_t *)out)[o] = tb_f32_to_bf16(scale * acc);
        } else {
            ((uint16_t *)out)[o] = tb_f32_to_f16(scale * acc);
        }
        if (bound)
            bound[o] = scale * b + (accumulate ? bound[o] : 0.0f);
    }
}

// In place of dP: dS = P o (dP - Drow_i); W3 (when not NULL) = P o (|dP| + Dabs_i), a bound
// on |dS| that includes the error of Drow.
__global__ void nv_dsoftmax(const tb_attn_shape sh, const float *__restrict__ P,
                            float *__restrict__ dP, const float *__restrict__ Drow,
                            const float *__restrict__ Dabs, float *__restrict__ W3, int z0,
                            int r0, int R, int64_t n)
{
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = e / sh.S;
        int i;
        const int64_t qrow = slab_q_row(sh, z0, r0, R, row, &i);
        const float p = P[e], dp = dP[e];
        dP[e] = p * (dp - Drow[qrow]);
        if (W3)
            W3[e] = p * (fabsf(dp) + Dabs[qrow]);
    }
}

static unsigned grid_1d(int64_t n)
{
    int64_t b = (n + NV_THREADS - 1) / NV_THREADS;
    return (unsigned)(b > 65535 * 8 ? 65535 * 8 : (b < 1 ? 1 : b));
}

static int slab_ok(const tb_attn_shape *sh, int z0, int nz, int r0, int R)
{
    return sh->D >= 1 && sh->D <= 256 && sh->KVH >= 1 && sh->H % sh->KVH == 0 && nz >= 1 &&
           R >= 1 && z0 >= 0 && r0 >= 0 && r0 + R <= sh->S &&
           (int64_t)nz * (sh->H / sh->KVH) * R <= 0x7fffffff && sh->S <= 65535 * NV_THREADS;
}

extern "C" cudaError_t tb_attn_naive_fwd(const tb_attn_shape *sh, const void *Q, const void *K,
                                         const void *V, void *O, int out_storage, float *lse,
                                         float *Oabs, float *W, int z0, int nz, int r0, int R,
                                         cudaStream_t stream)
{
    if (!slab_ok(sh, z0, nz, r0, R))
        return cudaErrorInvalidValue;
    const unsigned rows = (unsigned)((int64_t)nz * (sh->H / sh->KVH) * R);
    const float scale = 1.0f / sqrtf((float)sh->D);
    dim3 g(rows, (unsigned)((sh->S + NV_THREADS - 1) / NV_THREADS));
    nv_scores<<<g, NV_THREADS, 0, stream>>>(*sh, Q, K, scale, 1, W, z0, r0, R);
    nv_softmax<<<rows, NV_THREADS, 0, stream>>>(*sh, W, lse, z0, r0, R);
    nv_rows_times<<<rows, NV_THREADS, 0, stream>>>(*sh, W, Oabs ? W : NULL, V, 1.0f, O,
                                                   out_storage, Oabs, z0, r0, R);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_attn_naive_bwd(const tb_attn_shape *sh, const void *Q, const void *K,
                                         const void *V, const void *dO, const float *Drow,
                                         const float *Dabs, void *dQ, void *dK, void *dV,
                                         int out_storage, int accumulate, float *dQabs,
                                         float *dKabs, float *dVabs, float *W, float *W2,
                                         float *W3, int z0, int nz, int r0, int R,
                                         cudaStream_t stream)
{
    if (!slab_ok(sh, z0, nz, r0, R) || (accumulate && out_storage != TB_MM_F32))
        return cudaErrorInvalidValue;
    const int bounds = Dabs != NULL;
    const unsigned rows = (unsigned)((int64_t)nz * (sh->H / sh->KVH) * R);
    const float scale = 1.0f / sqrtf((float)sh->D);
    dim3 g(rows, (unsigned)((sh->S + NV_THREADS - 1) / NV_THREADS));
    nv_scores<<<g, NV_THREADS, 0, stream>>>(*sh, Q, K, scale, 1, W, z0, r0, R);
    nv_softmax<<<rows, NV_THREADS, 0, stream>>>(*sh, W, NULL, z0, r0, R);
    nv_scores<<<g, NV_THREADS, 0, stream>>>(*sh, dO, V, 1.0f, 0, W2, z0, r0, R);
    const int64_t n = (int64_t)rows * sh->S;
    nv_dsoftmax<<<grid_1d(n), NV_THREADS, 0, stream>>>(*sh, W, W2, Drow, Dabs,
                                                       bounds ? W3 : NULL, z0, r0, R, n);
    nv_rows_times<<<rows, NV_THREADS, 0, stream>>>(*sh, W2, bounds ? W3 : NULL, K, scale, dQ,
                                                   out_storage, bounds ? dQabs : NULL, z0, r0,
                                                   R);
    dim3 gk((unsigned)sh->S, (unsigned)nz);
    nv_cols_times<<<gk, NV_THREADS, 0, stream>>>(*sh, W2, bounds ? W3 : NULL, Q, scale, dK,
                                                 out_storage, accumulate,
                                                 bounds ? dKabs : NULL, z0, r0, R);
    nv_cols_times<<<gk, NV_THREADS, 0, stream>>>(*sh, W, bounds ? W : NULL, dO, 1.0f, dV,
                                                 out_storage, accumulate,
                                                 bounds ? dVabs : NULL, z0, r0, R);
    return cudaGetLastError();
}
