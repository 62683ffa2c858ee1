// naive.cu - fp32 matmul, one thread per output, every layout: the correctness anchor of the
// ladder. Architecture: any. Each thread reads a row of A and a column of B from global
// memory; not yet measured.
#include "../matmul.h"
#include "mm_common.h"

__global__ void mm_naive_kernel(int layout, const float *__restrict__ A,
                                const float *__restrict__ B, float *__restrict__ C, int M, int N,
                                int K)
{
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    int m = blockIdx.y * blockDim.y + threadIdx.y;
    if (m >= M || n >= N)
        return;
    float acc = 0.0f;
    for (int k = 0; k < K; k++)
        acc += A[tb_mm_a_index(layout, m, k, M, K)] * B[tb_mm_b_index(layout, k, n, N, K)];
    C[(int64_t)m * N + n] = acc;
}

extern "C" cudaError_t tb_mm_naive(int layout, const float *A, const float *B, float *C, int M,
                                   int N, int K, cudaStream_t stream)
{
    dim3 block(16, 16);
    dim3 grid((unsigned)((N + 15) / 16), (unsigned)((M + 15) / 16));
    if (grid.y > 65535)
        return cudaErrorInvalidConfiguration;
    mm_naive_kernel<<<grid, block, 0, stream>>>(layout, A, B, C, M, N, K);
    return cudaGetLastError();
}
