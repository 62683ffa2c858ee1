// sum.cu - read-only bandwidth: the sum of an fp32 array.
//
// Technique: the STREAM loop shape (float4 loads, four-way unroll, 4 blocks of 256 per SM)
// with nothing written but one partial per block; a second one-block kernel adds the
// partials. Accumulation is fp64 so the result can be checked to 1e-9 of sum|x|; one fp64 add
// per 4 bytes read should stay below the fp64 rate of data-center GPUs (not yet measured).
// Architecture: any (sm_80+).
#include "../membw.h"

#define SUM_THREADS 256
#define SUM_BLOCKS_PER_SM 4
#define SUM_UNROLL 4

__device__ __forceinline__ double sum4(float4 v)
{
    return ((double)v.x + (double)v.y) + ((double)v.z + (double)v.w);
}

// Block-wide sum; the result is valid in thread 0.
__device__ __forceinline__ double block_sum(double v)
{
    __shared__ double warp_sums[SUM_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0)
        warp_sums[threadIdx.x >> 5] = v;
    __syncthreads();
    v = threadIdx.x < SUM_THREADS / 32 ? warp_sums[threadIdx.x] : 0.0;
    if (threadIdx.x < 32)
        for (int o = 16; o > 0; o >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

__global__ void __launch_bounds__(SUM_THREADS, SUM_BLOCKS_PER_SM)
    sum_partials(const float *__restrict__ x, long long n, double *__restrict__ partials)
{
    const float4 *x4 = (const float4 *)x;
    long long n4 = n / 4;
    long long stride = (long long)gridDim.x * blockDim.x;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    double acc = 0.0;
    for (; i + (SUM_UNROLL - 1) * stride < n4; i += SUM_UNROLL * stride) {
        float4 a[SUM_UNROLL];
#pragma unroll
        for (int u = 0; u < SUM_UNROLL; u++)
            a[u] = x4[i + u * stride];
#pragma unroll
        for (int u = 0; u < SUM_UNROLL; u++)
            acc += sum4(a[u]);
    }
    for (; i < n4; i += stride)
        acc += sum4(x4[i]);
    if (blockIdx.x == 0 && threadIdx.x < (unsigned)(n - n4 * 4))
        acc += (double)x[n4 * 4 + threadIdx.x];
    acc = block_sum(acc);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = acc;
}

__global__ void __launch_bounds__(SUM_THREADS)
    sum_final(const double *__restrict__ partials, int nparts, double *__restrict__ out)
{
    double acc = 0.0;
    for (int i = threadIdx.x; i < nparts; i += SUM_THREADS)
        acc += partials[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0)
        *out = acc;
}

extern "C" int tb_membw_sum_partials(int sm_count)
{
    return (sm_count > 0 ? sm_count : 1) * SUM_BLOCKS_PER_SM;
}

extern "C" cudaError_t tb_membw_sum(const float *x, int64_t n, double *partials, double *out,
                                    int sm_count, cudaStream_t stream)
{
    if (((uintptr_t)x & 15) != 0)
        return cudaErrorMisalignedAddress;
    long long n4 = n / 4;
    long long want = (n4 + SUM_THREADS - 1) / SUM_THREADS;
    long long cap = tb_membw_sum_partials(sm_count);
    int blocks = (int)(want < 1 ? 1 : (want > cap ? cap : want));
    sum_partials<<<blocks, SUM_THREADS, 0, stream>>>(x, n, partials);
    sum_final<<<1, SUM_THREADS, 0, stream>>>(partials, blocks, out);
    return cudaGetLastError();
}
