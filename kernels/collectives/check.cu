// check.cu - the collectives' inputs written on the device, and every output element compared
// with its exact value regenerated from the seed (coll_data.h), so no buffer is copied back.
#include "../collectives.h"
#include "coll_data.h"

__global__ void coll_fill_kernel(void *buf, int dt, long long count, long long first,
                                 uint64_t seed, int rank)
{
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
        tb_ar_set(buf, dt, i, (float)tb_ar_input(seed, rank, first + i));
}

__global__ void coll_check_kernel(int coll, const void *out, int dt, long long count,
                                  long long chunk, uint64_t seed, int nranks, int rank, int op,
                                  int root, tb_ar_check_result *res)
{
    unsigned long long wrong = 0;
    float max_abs = 0.0f;
    double err2 = 0.0, ref2 = 0.0;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
        float want = (float)tb_coll_expected(coll, seed, nranks, rank, op, root, chunk, i);
        float got = tb_ar_get(out, dt, i);
        ref2 += (double)want * want;
        if (got != want) { // NaN (an unwritten, poisoned output) is never equal
            wrong++;
            float err = fabsf(got - want);
            err = err != err ? __int_as_float(0x7f800000) : err;
            max_abs = fmaxf(max_abs, err);
            err2 += (double)err * err;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        wrong += __shfl_down_sync(0xffffffffu, wrong, o);
        max_abs = fmaxf(max_abs, __shfl_down_sync(0xffffffffu, max_abs, o));
        err2 += __shfl_down_sync(0xffffffffu, err2, o);
        ref2 += __shfl_down_sync(0xffffffffu, ref2, o);
    }
    if ((threadIdx.x & 31) == 0) {
        if (wrong) {
            atomicAdd(&res->n_wrong, wrong);
            atomicMax(&res->max_abs_err_bits, __float_as_uint(max_abs));
            atomicAdd(&res->err2, err2);
        }
        atomicAdd(&res->ref2, ref2);
    }
}

static unsigned grid_for(long long count, int sm_count)
{
    long long want = (count + 255) / 256, cap = (long long)(sm_count > 0 ? sm_count : 1) * 8;
    return (unsigned)(want < 1 ? 1 : (want > cap ? cap : want));
}

extern "C" cudaError_t tb_coll_fill(void *buf, int dtype, long long count, long long first,
                                    uint64_t seed, int rank, int sm_count, cudaStream_t stream)
{
    if (count <= 0)
        return cudaSuccess;
    coll_fill_kernel<<<grid_for(count, sm_count), 256, 0, stream>>>(buf, dtype, count, first,
                                                                     seed, rank);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_coll_check(int coll, const void *out, int dtype, long long out_count,
                                     long long chunk, uint64_t seed, int nranks, int rank, int op,
                                     int root, tb_ar_check_result *res, int sm_count,
                                     cudaStream_t stream)
{
    if (out_count <= 0)
        return cudaSuccess;
    coll_check_kernel<<<grid_for(out_count, sm_count), 256, 0, stream>>>(
        coll, out, dtype, out_count, chunk, seed, nranks, rank, op, root, res);
    return cudaGetLastError();
}
