// smem.cu - fp32 matmul with 32x32 shared-memory tiles: each element of A and B is read from
// global memory once per tile instead of once per output. Every layout and shape (edges
// zero-filled). Architecture: any.
#include "../matmul.h"
#include "mm_common.h"

#define SMEM_TILE 32

__global__ void __launch_bounds__(SMEM_TILE *SMEM_TILE)
    mm_smem_kernel(int layout, const float *__restrict__ A, const float *__restrict__ B,
                   float *__restrict__ C, int M, int N, int K)
{
    __shared__ float As[SMEM_TILE][SMEM_TILE + 1]; // [m][k], +1 against bank conflicts
    __shared__ float Bs[SMEM_TILE][SMEM_TILE + 1]; // [k][n]
    int tx = threadIdx.x, ty = threadIdx.y;
    int m = blockIdx.y * SMEM_TILE + ty, n = blockIdx.x * SMEM_TILE + tx;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += SMEM_TILE) {
        // thread (ty, tx) loads A(m0 + ty, k0 + tx) and B(k0 + ty, n0 + tx)
        int am = blockIdx.y * SMEM_TILE + ty, ak = k0 + tx;
        As[ty][tx] = (am < M && ak < K) ? A[tb_mm_a_index(layout, am, ak, M, K)] : 0.0f;
        int bk = k0 + ty, bn = blockIdx.x * SMEM_TILE + tx;
        Bs[ty][tx] = (bk < K && bn < N) ? B[tb_mm_b_index(layout, bk, bn, N, K)] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < SMEM_TILE; kk++)
            acc += As[ty][kk] * Bs[kk][tx];
        __syncthreads();
    }
    if (m < M && n < N)
        C[(int64_t)m * N + n] = acc;
}

extern "C" cudaError_t tb_mm_smem(int layout, const float *A, const float *B, float *C, int M,
                                  int N, int K, cudaStream_t stream)
{
    dim3 block(SMEM_TILE, SMEM_TILE);
    dim3 grid((unsigned)((N + SMEM_TILE - 1) / SMEM_TILE),
              (unsigned)((M + SMEM_TILE - 1) / SMEM_TILE));
    if (grid.y > 65535)
        return cudaErrorInvalidConfiguration;
    mm_smem_kernel<<<grid, block, 0, stream>>>(layout, A, B, C, M, N, K);
    return cudaGetLastError();
}
