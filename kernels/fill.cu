// fill.cu - random-normal inputs on the device (tb_random.h), one grid-stride pass.
#include "fill.h"
#include "tb_random.h"

__global__ void tb_fill_normal_f32_kernel(float *x, long long n, uint64_t seed)
{
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] = tb_rand_normal(seed, (uint64_t)i);
}

extern "C" cudaError_t tb_fill_normal_f32(float *x, int64_t n, uint64_t seed, int sm_count,
                                          cudaStream_t stream)
{
    if (n <= 0)
        return cudaSuccess;
    const int threads = 256;
    long long blocks = (n + threads - 1) / threads;
    long long cap = (long long)(sm_count > 0 ? sm_count : 1) * 8;
    if (blocks > cap)
        blocks = cap;
    tb_fill_normal_f32_kernel<<<(unsigned)blocks, threads, 0, stream>>>(x, n, seed);
    return cudaGetLastError();
}
