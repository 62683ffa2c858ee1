/* tb_dtype.h - conversions between fp32 and the stored formats (bf16, fp16, fp8 e4m3), shared
 * by host and device so both produce the same bits: round to nearest even, NaN kept, fp16
 * overflow to infinity, e4m3 saturating to +-448 (it has no infinity). */
#ifndef TB_DTYPE_H
#define TB_DTYPE_H

#include <stdint.h>
#include <string.h>

#include "tb_random.h"

TB_HD uint32_t tb_f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

TB_HD float tb_bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

TB_HD uint16_t tb_f32_to_bf16(float x)
{
    uint32_t u = tb_f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

TB_HD float tb_bf16_to_f32(uint16_t h)
{
    return tb_bits_f32((uint32_t)h << 16);
}

TB_HD uint16_t tb_f32_to_f16(float x)
{
    uint32_t u = tb_f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (a >= 0x477ff000u)                  /* rounds to 65520 or more: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {                 /* below 2^-14: a subnormal half (or zero) */
        if (a < 0x33000000u)               /* below 2^-25: rounds to zero */
            return sign;
        uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(a >> 23); /* 14 .. 24 */
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u); /* round the 13 dropped bits to even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

TB_HD float tb_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return tb_bits_f32(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        /* subnormal: m * 2^-24, exact in fp32 */
        float v = (float)m * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return tb_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

/* fp8 e4m3 (OCP / NVIDIA "fn"): bias 7, 3 mantissa bits, largest 448, 0x7f is NaN. */
TB_HD uint8_t tb_f32_to_e4m3(float x)
{
    uint32_t u = tb_f32_bits(x);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint8_t)(sign | 0x7fu);
    if (a >= 0x43e00000u) /* 448 or more (and infinity): saturate */
        return (uint8_t)(sign | 0x7eu);
    int e = (int)(a >> 23) - 127; /* unbiased exponent of x */
    uint32_t q;
    if (e < -6) {
        /* subnormal e4m3: multiples of 2^-9 */
        if (e < -11)
            return sign; /* below 2^-11: rounds to zero (2^-10 is half the smallest step) */
        uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        int shift = 23 + (-9 - e); /* value = mant * 2^(e-23); in units of 2^-9 */
        uint32_t qq = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (qq & 1u)))
            qq++;
        return (uint8_t)(sign | qq); /* qq == 8 carries into the smallest normal */
    }
    uint32_t r = a + 0x7ffffu + ((a >> 20) & 1u); /* round the 20 dropped bits to even */
    e = (int)(r >> 23) - 127;
    if (e > 8)
        return (uint8_t)(sign | 0x7eu);
    q = ((uint32_t)(e + 7) << 3) | ((r >> 20) & 7u);
    if (q > 0x7eu)
        q = 0x7eu;
    return (uint8_t)(sign | q);
}

TB_HD float tb_e4m3_to_f32(uint8_t b)
{
    uint32_t sign = (uint32_t)(b & 0x80u) << 24;
    uint32_t e = (b >> 3) & 0xfu, m = b & 7u;
    if (e == 0xf && m == 7)
        return tb_bits_f32(sign | 0x7fc00000u);
    if (e == 0) {
        float v = (float)m * 0.001953125f; /* m * 2^-9 */
        return sign ? -v : v;
    }
    return tb_bits_f32(sign | ((e + 120u) << 23) | (m << 20));
}

#endif
