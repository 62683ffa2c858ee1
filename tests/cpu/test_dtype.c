/* The conversions of kernels/tb_dtype.h, exhaustively: every finite value of each format
 * survives a round trip, and values halfway between neighbours round to the even one. */
#include <criterion/criterion.h>
#include <math.h>

#include "tb_dtype.h"

Test(dtype, fp16_round_trip_and_ties_to_even)
{
    for (unsigned h = 0; h < 65536; h++) {
        float f = tb_f16_to_f32((uint16_t)h);
        if (isnan(f))
            continue;
        cr_assert_eq(tb_f32_to_f16(f), h, "fp16 %04x -> %g", h, f);
    }
    for (unsigned h = 0; h < 0x7bff; h++) {
        float lo = tb_f16_to_f32((uint16_t)h), hi = tb_f16_to_f32((uint16_t)(h + 1));
        float mid = (lo + hi) / 2;
        cr_assert_eq(tb_f32_to_f16(mid), (h & 1) ? h + 1 : h, "tie after %04x", h);
        cr_assert_eq(tb_f32_to_f16(nextafterf(mid, 1e9f)), h + 1, "above the tie after %04x", h);
    }
    cr_assert_eq(tb_f32_to_f16(65504.0f), 0x7bff);
    cr_assert_eq(tb_f32_to_f16(65520.0f), 0x7c00, "rounds to infinity");
    cr_assert_eq(tb_f32_to_f16(-1.0f), 0xbc00);
    cr_assert_eq(tb_f32_to_f16(5.9604644775390625e-08f), 0x0001, "smallest subnormal");
}

Test(dtype, bf16_round_trip_and_ties_to_even)
{
    for (unsigned h = 0; h < 65536; h++) {
        float f = tb_bf16_to_f32((uint16_t)h);
        if (isnan(f))
            continue;
        cr_assert_eq(tb_f32_to_bf16(f), h, "bf16 %04x", h);
    }
    cr_assert_eq(tb_f32_to_bf16(1.00390625f), 0x3f80, "1 + 2^-8 ties to even (down)");
    cr_assert_eq(tb_f32_to_bf16(1.01171875f), 0x3f82, "1 + 3 * 2^-8 ties to even (up)");
    cr_assert(isnan(tb_bf16_to_f32(tb_f32_to_bf16(NAN))));
}

Test(dtype, e4m3_round_trip_ties_and_saturation)
{
    for (unsigned b = 0; b < 256; b++) {
        float f = tb_e4m3_to_f32((uint8_t)b);
        if (isnan(f))
            continue;
        cr_assert_eq(tb_f32_to_e4m3(f), b, "e4m3 %02x -> %g", b, f);
    }
    for (unsigned b = 0; b < 0x7e; b++) {
        float lo = tb_e4m3_to_f32((uint8_t)b), hi = tb_e4m3_to_f32((uint8_t)(b + 1));
        float mid = (lo + hi) / 2;
        cr_assert_eq(tb_f32_to_e4m3(mid), (b & 1) ? b + 1 : b, "tie after %02x", b);
        cr_assert_eq(tb_f32_to_e4m3(nextafterf(mid, 1e9f)), b + 1, "above the tie after %02x", b);
    }
    cr_assert_float_eq(tb_e4m3_to_f32(0x7e), 448.0f, 0);
    cr_assert_float_eq(tb_e4m3_to_f32(0x01), 0.001953125f, 0, "2^-9");
    cr_assert_eq(tb_f32_to_e4m3(1000.0f), 0x7e, "saturates: e4m3 has no infinity");
    cr_assert_eq(tb_f32_to_e4m3(-1000.0f), 0xfe);
    cr_assert(isnan(tb_e4m3_to_f32(0x7f)));
}
