// stream.cu - STREAM copy, scale, add and triad (McCalpin's four kernels) on fp32.
//
// Technique: 16-byte vector loads and stores (float4), a grid-stride loop unrolled four
// ways with all loads issued before any store, and a grid of 4 resident 256-thread blocks
// per SM, so each SM keeps up to 64 KiB of reads in flight (meant to cover HBM latency; not
// yet measured against the HBM peak). Architecture: any (sm_80+).
#include "../membw.h"
#include "membw_ref.h"

#define STREAM_THREADS 256
#define STREAM_BLOCKS_PER_SM 4
#define STREAM_UNROLL 4

__device__ __forceinline__ float4 stream_op4(int op, float4 x, float4 y, float s)
{
    return make_float4(tb_membw_expected(op, x.x, y.x, s), tb_membw_expected(op, x.y, y.y, s),
                       tb_membw_expected(op, x.z, y.z, s), tb_membw_expected(op, x.w, y.w, s));
}

// OP is a compile-time constant in each instantiation below, so the switch folds away and
// the kernels that do not read y never touch it.
#define STREAM_KERNEL(NAME, OP, READS_Y)                                                       \
    __global__ void __launch_bounds__(STREAM_THREADS, STREAM_BLOCKS_PER_SM)                    \
        NAME(const float *__restrict__ x, const float *__restrict__ y, float *__restrict__ z,  \
             long long n, float s)                                                             \
    {                                                                                          \
        const float4 *x4 = (const float4 *)x;                                                  \
        const float4 *y4 = (const float4 *)y;                                                  \
        float4 *z4 = (float4 *)z;                                                              \
        long long n4 = n / 4;                                                                  \
        long long stride = (long long)gridDim.x * blockDim.x;                                  \
        long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;                        \
        for (; i + (STREAM_UNROLL - 1) * stride < n4; i += STREAM_UNROLL * stride) {           \
            float4 a[STREAM_UNROLL], b[STREAM_UNROLL];                                         \
            _Pragma("unroll") for (int u = 0; u < STREAM_UNROLL; u++)                          \
            {                                                                                  \
                a[u] = x4[i + u * stride];                                                     \
                b[u] = READS_Y ? y4[i + u * stride] : a[u];                                    \
            }                                                                                  \
            _Pragma("unroll") for (int u = 0; u < STREAM_UNROLL; u++)                          \
                z4[i + u * stride] = stream_op4(OP, a[u], b[u], s);                            \
        }                                                                                      \
        for (; i < n4; i += stride) {                                                          \
            float4 a = x4[i];                                                                  \
            float4 b = READS_Y ? y4[i] : a;                                                    \
            z4[i] = stream_op4(OP, a, b, s);                                                   \
        }                                                                                      \
        /* the last n % 4 elements */                                                          \
        if (blockIdx.x == 0 && threadIdx.x < (unsigned)(n - n4 * 4)) {                         \
            long long k = n4 * 4 + threadIdx.x;                                                \
            z[k] = tb_membw_expected(OP, x[k], READS_Y ? y[k] : 0.0f, s);                      \
        }                                                                                      \
    }

STREAM_KERNEL(stream_copy, TB_MEMBW_COPY, 0)
STREAM_KERNEL(stream_scale, TB_MEMBW_SCALE, 0)
STREAM_KERNEL(stream_add, TB_MEMBW_ADD, 1)
STREAM_KERNEL(stream_triad, TB_MEMBW_TRIAD, 1)

extern "C" cudaError_t tb_membw_stream(int op, const float *x, const float *y, float *z,
                                       int64_t n, float s, int sm_count, cudaStream_t stream)
{
    if (n <= 0)
        return cudaSuccess;
    if ((((uintptr_t)x | (uintptr_t)y | (uintptr_t)z) & 15) != 0)
        return cudaErrorMisalignedAddress;
    long long n4 = n / 4;
    long long want = (n4 + STREAM_THREADS - 1) / STREAM_THREADS;
    long long cap = (long long)(sm_count > 0 ? sm_count : 1) * STREAM_BLOCKS_PER_SM;
    unsigned blocks = (unsigned)(want < 1 ? 1 : (want > cap ? cap : want));
    switch (op) {
    case TB_MEMBW_COPY:
        stream_copy<<<blocks, STREAM_THREADS, 0, stream>>>(x, y, z, n, s);
        break;
    case TB_MEMBW_SCALE:
        stream_scale<<<blocks, STREAM_THREADS, 0, stream>>>(x, y, z, n, s);
        break;
    case TB_MEMBW_ADD:
        stream_add<<<blocks, STREAM_THREADS, 0, stream>>>(x, y, z, n, s);
        break;
    case TB_MEMBW_TRIAD:
        stream_triad<<<blocks, STREAM_THREADS, 0, stream>>>(x, y, z, n, s);
        break;
    default:
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}
