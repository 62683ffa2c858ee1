// check.cu - matmul inputs (random-normal values rounded to the storage type, plus the same
// values in fp32 for the reference) and the device-side comparison of an output with the fp32
// reference, so a 16384^3 case is checked without a host copy.
#include "../matmul.h"
#include "../tb_dtype.h"

__device__ __forceinline__ float mm_round(int storage, float x, void *dst, int64_t i)
{
    switch (storage) {
    case TB_MM_BF16: {
        uint16_t h = tb_f32_to_bf16(x);
        ((uint16_t *)dst)[i] = h;
        return tb_bf16_to_f32(h);
    }
    case TB_MM_F16: {
        uint16_t h = tb_f32_to_f16(x);
        ((uint16_t *)dst)[i] = h;
        return tb_f16_to_f32(h);
    }
    case TB_MM_E4M3: {
        uint8_t b = tb_f32_to_e4m3(x);
        ((uint8_t *)dst)[i] = b;
        return tb_e4m3_to_f32(b);
    }
    default:
        ((float *)dst)[i] = x;
        return x;
    }
}

__global__ void mm_fill_kernel(int storage, void *dst, float *dst32, long long n, uint64_t seed)
{
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v = mm_round(storage, tb_rand_normal(seed, (uint64_t)i), dst, i);
        if (dst32)
            dst32[i] = v;
    }
}

__global__ void mm_check_kernel(int storage, const void *C, const float *__restrict__ ref,
                                const float *__restrict__ bound, float bound_scale, long long n,
                                float abs_tol, float rel_tol, tb_mm_check_result *res)
{
    unsigned long long wrong = 0;
    float max_abs = 0.0f, max_rel = 0.0f;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float want = ref[i], got = tb_mm_load(storage, C, i);
        float err = fabsf(got - want);
        if (err != err)
            err = __int_as_float(0x7f800000); // NaN (an unwritten output) is infinitely wrong
        const float tol = abs_tol + rel_tol * fabsf(want) + (bound ? bound_scale * bound[i] : 0.0f);
        if (!(err <= tol))
            wrong++;
        max_abs = fmaxf(max_abs, err);
        // relative error only where the reference is not near zero (|ref| >= abs_tol)
        if (fabsf(want) >= abs_tol)
            max_rel = fmaxf(max_rel, err / fabsf(want));
    }
    for (int o = 16; o > 0; o >>= 1) {
        wrong += __shfl_down_sync(0xffffffffu, wrong, o);
        max_abs = fmaxf(max_abs, __shfl_down_sync(0xffffffffu, max_abs, o));
        max_rel = fmaxf(max_rel, __shfl_down_sync(0xffffffffu, max_rel, o));
    }
    if ((threadIdx.x & 31) == 0) {
        if (wrong)
            atomicAdd(&res->n_wrong, wrong);
        atomicMax(&res->max_abs_err_bits, __float_as_uint(max_abs));
        atomicMax(&res->max_rel_err_bits, __float_as_uint(max_rel));
    }
}

// The norm-wise sums of C against the reference: sums[0] += sum (C_i - ref_i)^2 (infinite
// for a NaN output), sums[1] += sum ref_i^2, in fp64.
__global__ void mm_norm_kernel(int storage, const void *C, const float *__restrict__ ref,
                               long long n, double *sums)
{
    double err2 = 0.0, ref2 = 0.0;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        double want = ref[i], d = (double)tb_mm_load(storage, C, i) - want;
        err2 += d != d ? __longlong_as_double(0x7ff0000000000000LL) : d * d;
        ref2 += want * want;
    }
    for (int o = 16; o > 0; o >>= 1) {
        err2 += __shfl_down_sync(0xffffffffu, err2, o);
        ref2 += __shfl_down_sync(0xffffffffu, ref2, o);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(&sums[0], err2);
        atomicAdd(&sums[1], ref2);
    }
}

static unsigned grid_for(long long n, int sm_count)
{
    long long want = (n + 255) / 256, cap = (long long)(sm_count > 0 ? sm_count : 1) * 8;
    return (unsigned)(want < 1 ? 1 : (want > cap ? cap : want));
}

extern "C" cudaError_t tb_mm_fill(int storage, void *dst, float *dst32, int64_t n, uint64_t seed,
                                  int sm_count, cudaStream_t stream)
{
    mm_fill_kernel<<<grid_for(n, sm_count), 256, 0, stream>>>(storage, dst, dst32, n, seed);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_mm_check(int storage, const void *C, const float *ref,
                                   const float *bound, float bound_scale, int64_t n,
                                   float abs_tol, float rel_tol, tb_mm_check_result *res,
                                   int sm_count, cudaStream_t stream)
{
    mm_check_kernel<<<grid_for(n, sm_count), 256, 0, stream>>>(storage, C, ref, bound,
                                                               bound_scale, n, abs_tol, rel_tol,
                                                               res);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_mm_norm(int storage, const void *C, const float *ref, int64_t n,
                                  double *sums, int sm_count, cudaStream_t stream)
{
    mm_norm_kernel<<<grid_for(n, sm_count), 256, 0, stream>>>(storage, C, ref, n, sums);
    return cudaGetLastError();
}
