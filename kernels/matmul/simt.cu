// simt.cu - fp32 matmul on CUDA cores, layout FWD (C = A B^T, A [M][K], B [N][K]).
//
// Technique: a 128x128x16 block tile; eight warps each own a 64x32 warp tile; each thread
// accumulates an 8x8 outer product from two float4 reads of A and two of B per k (64 FMAs per
// 4 shared-memory loads). Global tiles arrive as float4 (K contiguous) and are stored
// transposed, k-major, into one of two shared buffers while the other is being computed
// (double buffering, one barrier per tile). Edges in M and N are zero-filled; K must be a
// multiple of 4. Architecture: any.
#include "../matmul.h"

#define SIMT_BM 128
#define SIMT_BN 128
#define SIMT_BK 16
#define SIMT_THREADS 256

__device__ __forceinline__ float4 simt_load4(const float *__restrict__ G, int r, int R, int k,
                                             int K)
{
    if (r < R && k < K)
        return *(const float4 *)(G + (int64_t)r * K + k);
    return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
}

__global__ void __launch_bounds__(SIMT_THREADS, 2)
    mm_simt_kernel(const float *__restrict__ A, const float *__restrict__ B,
                   float *__restrict__ C, int M, int N, int K)
{
    __shared__ __align__(16) float As[2][SIMT_BK][SIMT_BM]; // [k][m]
    __shared__ __align__(16) float Bs[2][SIMT_BK][SIMT_BN]; // [k][n]
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    // warp tile: 2 warps along M x 4 along N; thread tile 8x8: 8 lanes along M x 4 along N
    const int row0 = (warp >> 2) * 64 + (lane >> 2) * 8;
    const int col0 = (warp & 3) * 32 + (lane & 3) * 8;
    const int m_blk = blockIdx.y * SIMT_BM, n_blk = blockIdx.x * SIMT_BN;

    // global -> shared: 128 rows x 4 float4 per operand, two float4 per thread
    int ld_r[2], ld_k[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        int q = tid + i * SIMT_THREADS;
        ld_r[i] = q >> 2;
        ld_k[i] = (q & 3) * 4;
    }
    float4 ra[2], rb[2];
    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++)
            acc[i][j] = 0.0f;

    const int ntiles = (K + SIMT_BK - 1) / SIMT_BK;
#pragma unroll
    for (int i = 0; i < 2; i++) {
        ra[i] = simt_load4(A, m_blk + ld_r[i], M, ld_k[i], K);
        rb[i] = simt_load4(B, n_blk + ld_r[i], N, ld_k[i], K);
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
        As[0][ld_k[i] + 0][ld_r[i]] = ra[i].x;
        As[0][ld_k[i] + 1][ld_r[i]] = ra[i].y;
        As[0][ld_k[i] + 2][ld_r[i]] = ra[i].z;
        As[0][ld_k[i] + 3][ld_r[i]] = ra[i].w;
        Bs[0][ld_k[i] + 0][ld_r[i]] = rb[i].x;
        Bs[0][ld_k[i] + 1][ld_r[i]] = rb[i].y;
        Bs[0][ld_k[i] + 2][ld_r[i]] = rb[i].z;
        Bs[0][ld_k[i] + 3][ld_r[i]] = rb[i].w;
    }
    __syncthreads();

    for (int t = 0; t < ntiles; t++) {
        const int cur = t & 1;
        const int next_k = (t + 1) * SIMT_BK;
        if (t + 1 < ntiles) {
#pragma unroll
            for (int i = 0; i < 2; i++) {
                ra[i] = simt_load4(A, m_blk + ld_r[i], M, next_k + ld_k[i], K);
                rb[i] = simt_load4(B, n_blk + ld_r[i], N, next_k + ld_k[i], K);
            }
        }
        // unrolled by 2, not 16: fully unrolled, sm_100a spills at the 128-register bound
#pragma unroll 2
        for (int kk = 0; kk < SIMT_BK; kk++) {
            float4 a0 = *(const float4 *)&As[cur][kk][row0];
            float4 a1 = *(const float4 *)&As[cur][kk][row0 + 4];
            float4 b0 = *(const float4 *)&Bs[cur][kk][col0];
            float4 b1 = *(const float4 *)&Bs[cur][kk][col0 + 4];
            const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++)
                    acc[i][j] += a[i] * b[j];
        }
        if (t + 1 < ntiles) {
            const int nxt = cur ^ 1;
#pragma unroll
            for (int i = 0; i < 2; i++) {
                As[nxt][ld_k[i] + 0][ld_r[i]] = ra[i].x;
                As[nxt][ld_k[i] + 1][ld_r[i]] = ra[i].y;
                As[nxt][ld_k[i] + 2][ld_r[i]] = ra[i].z;
                As[nxt][ld_k[i] + 3][ld_r[i]] = ra[i].w;
                Bs[nxt][ld_k[i] + 0][ld_r[i]] = rb[i].x;
                Bs[nxt][ld_k[i] + 1][ld_r[i]] = rb[i].y;
                Bs[nxt][ld_k[i] + 2][ld_r[i]] = rb[i].z;
                Bs[nxt][ld_k[i] + 3][ld_r[i]] = rb[i].w;
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 8; i++) {
        const int m = m_blk + row0 + i;
        if (m >= M)
            continue;
        float *crow = C + (int64_t)m * N;
        const int n = n_blk + col0;
        if ((N & 3) == 0 && n + 7 < N) {
            *(float4 *)(crow + n) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
            *(float4 *)(crow + n + 4) = make_float4(acc[i][4], acc[i][5], acc[i][6], acc[i][7]);
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++)
                if (n + j < N)
                    crow[n + j] = acc[i][j];
        }
    }
}

extern "C" cudaError_t tb_mm_simt(const float *A, const float *B, float *C, int M, int N, int K,
                                  cudaStream_t stream)
{
    if (K % 4 != 0)
        return cudaErrorInvalidValue;
    dim3 grid((unsigned)((N + SIMT_BN - 1) / SIMT_BN), (unsigned)((M + SIMT_BM - 1) / SIMT_BM));
    if (grid.y > 65535)
        return cudaErrorInvalidConfiguration;
    mm_simt_kernel<<<grid, SIMT_THREADS, 0, stream>>>(A, B, C, M, N, K);
    return cudaGetLastError();
}
