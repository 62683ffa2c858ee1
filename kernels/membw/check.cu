// check.cu - device-side verification of the membw outputs against values regenerated from
// the seeds (tb_random.h), so a 4 GiB output is checked without a host copy.
#include "../membw.h"
#include "membw_ref.h"

__global__ void membw_check_kernel(int op, const float *__restrict__ z, long long n,
                                   uint64_t seed_x, uint64_t seed_y, float s,
                                   tb_membw_check_result *res)
{
    unsigned long long wrong = 0;
    float max_abs = 0.0f, max_rel = 0.0f;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float x = tb_rand_normal(seed_x, (uint64_t)i);
        float y = op == TB_MEMBW_ADD || op == TB_MEMBW_TRIAD ? tb_rand_normal(seed_y, (uint64_t)i)
                                                             : 0.0f;
        float want = tb_membw_expected(op, x, y, s);
        float got = z[i];
        if (__float_as_uint(got) != __float_as_uint(want)) {
            wrong++;
            float err = fabsf(got - want);
            if (err != err)
                err = __int_as_float(0x7f800000); // NaN (unwritten output) counts as infinite
            max_abs = fmaxf(max_abs, err);
            max_rel = fmaxf(max_rel, fabsf(want) > 0.0f ? err / fabsf(want) : err);
        }
    }
    if (wrong) {
        atomicAdd(&res->n_wrong, wrong);
        // non-negative floats order like their bit patterns
        atomicMax(&res->max_abs_err_bits, __float_as_uint(max_abs));
        atomicMax(&res->max_rel_err_bits, __float_as_uint(max_rel));
    }
}

__global__ void membw_sum_reference_kernel(long long n, uint64_t seed_x, double *out)
{
    double sum = 0.0, sum_abs = 0.0;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        double v = (double)tb_rand_normal(seed_x, (uint64_t)i);
        sum += v;
        sum_abs += fabs(v);
    }
    for (int o = 16; o > 0; o >>= 1) {
        sum += __shfl_down_sync(0xffffffffu, sum, o);
        sum_abs += __shfl_down_sync(0xffffffffu, sum_abs, o);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(&out[0], sum);
        atomicAdd(&out[1], sum_abs);
    }
}

static unsigned check_blocks(long long n, int sm_count, int threads)
{
    long long want = (n + threads - 1) / threads;
    long long cap = (long long)(sm_count > 0 ? sm_count : 1) * 8;
    return (unsigned)(want < 1 ? 1 : (want > cap ? cap : want));
}

extern "C" cudaError_t tb_membw_check(int op, const float *z, int64_t n, uint64_t seed_x,
                                      uint64_t seed_y, float s, tb_membw_check_result *res,
                                      int sm_count, cudaStream_t stream)
{
    membw_check_kernel<<<check_blocks(n, sm_count, 256), 256, 0, stream>>>(op, z, n, seed_x,
                                                                           seed_y, s, res);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_membw_sum_reference(int64_t n, uint64_t seed_x, double *out,
                                              int sm_count, cudaStream_t stream)
{
    membw_sum_reference_kernel<<<check_blocks(n, sm_count, 256), 256, 0, stream>>>(n, seed_x,
                                                                                   out);
    return cudaGetLastError();
}
