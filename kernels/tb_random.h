/* tb_random.h - the deterministic input data every benchmark uses, shared by host and device.
 *
 * Element i of the stream `seed` is an approximately standard-normal float (Irwin-Hall: eight
 * 16-bit uniforms summed, centered, scaled; bounded at +-4.9). Only integer arithmetic, one
 * int->float conversion and one multiply, all correctly rounded, so the host regenerates
 * exactly the bits the device wrote. */
#ifndef TB_RANDOM_H
#define TB_RANDOM_H

#include <stdint.h>

#ifdef __CUDACC__
#define TB_HD static __host__ __device__ __forceinline__
#else
#define TB_HD static inline
#endif

/* 1 / stdev of (2 * sum of eight U{0..65535} - 8 * 65535) = 1 / sqrt(8/3 * (65536^2 - 1)) */
#define TB_RAND_NORMAL_SCALE 9.344061825059267e-06f

/* splitmix64's finalizer: a bijective 64-bit mix. */
TB_HD uint64_t tb_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* A seed for one input of a case: stream k (0, 1, 2 ...) of the case seed. */
TB_HD uint64_t tb_rand_stream(uint64_t seed, uint64_t k)
{
    return tb_mix64(seed ^ tb_mix64(k + 1));
}

TB_HD int32_t tb_rand_sum16x4(uint64_t h)
{
    return (int32_t)(h & 0xffff) + (int32_t)((h >> 16) & 0xffff) +
           (int32_t)((h >> 32) & 0xffff) + (int32_t)(h >> 48);
}

TB_HD float tb_rand_normal(uint64_t seed, uint64_t index)
{
    uint64_t h1 = tb_mix64(seed + index * 0xD1B54A32D192ED03ull);
    uint64_t h2 = tb_mix64(h1 ^ 0x5851F42D4C957F2Dull);
    int32_t sum = tb_rand_sum16x4(h1) + tb_rand_sum16x4(h2); /* 0 .. 8 * 65535 */
    int32_t centered = 2 * sum - 8 * 65535;                   /* |centered| <= 524280 < 2^24 */
#ifdef __CUDA_ARCH__
    /* __fmul_rn is never fused into a later add, so expressions built from this value round
     * as they do on the host */
    return __fmul_rn((float)centered, TB_RAND_NORMAL_SCALE);
#else
    return (float)centered * TB_RAND_NORMAL_SCALE;
#endif
}

#endif
