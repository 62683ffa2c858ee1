/* ar_data.h - the all-reduce inputs, their expected result, and element access in each
 * dtype: shared by the device fill and check kernels, the host implementation and the tests.
 *
 * Rank r's input element i is a small integer in [-8, 8] drawn from (seed, r, i), so every
 * partial sum of up to 16 ranks (|sum| <= 128) is exact in fp32, bf16 and fp16 whatever the
 * order of the additions: a result that differs from the integer sum is wrong, not rounded. */
#ifndef TB_AR_DATA_H
#define TB_AR_DATA_H

#include <stdint.h>

#include "../tb_dtype.h"
#include "../tb_random.h"

/* the element types and reductions of the kernels (tb_dtype-independent: kernels see only
 * these) */
enum { TB_AR_F32 = 0, TB_AR_BF16 = 1, TB_AR_F16 = 2 };
enum { TB_AR_SUM = 0, TB_AR_MAX = 1, TB_AR_MIN = 2 };

TB_HD int tb_ar_elem_bytes(int dt)
{
    return dt == TB_AR_F32 ? 4 : 2;
}

/* elements in one 16-byte vector */
TB_HD int tb_ar_vec_elems(int dt)
{
    return 16 / tb_ar_elem_bytes(dt);
}

TB_HD int tb_ar_input(uint64_t seed, int rank, long long i)
{
    uint64_t h = tb_mix64(tb_rand_stream(seed, (uint64_t)rank) + (uint64_t)i * 0x9E3779B97F4A7C15ull);
    return (int)(h % 17u) - 8;
}

TB_HD int tb_ar_combine_int(int op, int a, int b)
{
    if (op == TB_AR_MAX)
        return a > b ? a : b;
    if (op == TB_AR_MIN)
        return a < b ? a : b;
    return a + b;
}

/* The exact result at element i over ranks 0 .. n-1. */
TB_HD int tb_ar_expected(uint64_t seed, int n, int op, long long i)
{
    int acc = tb_ar_input(seed, 0, i);
    for (int r = 1; r < n; r++)
        acc = tb_ar_combine_int(op, acc, tb_ar_input(seed, r, i));
    return acc;
}

TB_HD float tb_ar_combine(int op, float a, float b)
{
    if (op == TB_AR_MAX)
        return a > b ? a : b;
    if (op == TB_AR_MIN)
        return a < b ? a : b;
    return a + b;
}

/* Element i of a buffer of dtype dt, as a float. */
TB_HD float tb_ar_get(const void *buf, int dt, long long i)
{
    if (dt == TB_AR_F32)
        return ((const float *)buf)[i];
    uint16_t h = ((const uint16_t *)buf)[i];
    return dt == TB_AR_BF16 ? tb_bf16_to_f32(h) : tb_f16_to_f32(h);
}

/* Stores x, rounded to nearest even in dtype dt, as element i. */
TB_HD void tb_ar_set(void *buf, int dt, long long i, float x)
{
    if (dt == TB_AR_F32)
        ((float *)buf)[i] = x;
    else
        ((uint16_t *)buf)[i] = dt == TB_AR_BF16 ? tb_f32_to_bf16(x) : tb_f32_to_f16(x);
}

#endif
