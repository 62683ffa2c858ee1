#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "burn.h"
#include "device.h"

Test(burn, window_is_a_minute_or_a_third)
{
    cr_assert_float_eq(tb_burn_window(600), 60, 0);
    cr_assert_float_eq(tb_burn_window(180), 60, 0);
    cr_assert_float_eq(tb_burn_window(60), 20, 1e-12);
    cr_assert_float_eq(tb_burn_window(3), 1, 1e-12);
}

Test(burn, throughput_first_window_against_last)
{
    /* 300 s: one execution a second; 1 s each for the first 60 s, 1.25 s each in the last
     * 60 s (end times keep the count per window) */
    tb_burn_iter it[300];
    for (int i = 0; i < 300; i++)
        it[i] = (tb_burn_iter){(double)(i + 1), i >= 240 ? 1.25 : 1.0};
    tb_burn_result r;
    memset(&r, 0, sizeof r);
    r.seconds = 300;
    tb_burn_throughput(it, 300, 1e12, &r);
    cr_assert_float_eq(r.window_s, 60, 0);
    cr_assert_float_eq(r.tflops_first, 1.0, 1e-12);
    cr_assert_float_eq(r.tflops_last, 0.8, 1e-12, "%g", r.tflops_last);
    cr_assert_float_eq(r.decay, 0.2, 1e-12);
    /* no execution in a window: NAN, not 0 */
    tb_burn_throughput(it, 0, 1e12, &r);
    cr_assert(isnan(r.tflops_first) && isnan(r.decay));
}

Test(burn, diff_is_bit_for_bit)
{
    uint32_t a[4] = {1, 2, 3, 0x80000000u}, b[4] = {1, 2, 3, 0};
    cr_assert_eq(tb_burn_diff(a, a, 4), 0);
    cr_assert_eq(tb_burn_diff(a, b, 4), 1, "-0.0 against +0.0 is a difference");
}

static void run_host_burn(const tb_fault *f, tb_burn_result *r, int ndev)
{
    tb_device d[2];
    for (int i = 0; i < ndev; i++) {
        tb_device_host(&d[i]);
        d[i].ordinal = i;
    }
    tb_burn_opts o = {0.6, 1, f, NULL, NULL, 48};
    tb_err err;
    cr_assert_eq(tb_burn_host(d, ndev, &o, NULL, r, &err), TB_OK, "%s", err.msg);
}

Test(burn, host_burn_repeats_bit_exactly)
{
    tb_burn_result r[2];
    run_host_burn(NULL, r, 2);
    for (int d = 0; d < 2; d++) {
        cr_assert_eq(r[d].status, TB_OK, "%s", r[d].reason);
        cr_assert_gt(r[d].iters, 10);
        cr_assert_eq(r[d].sdc_iters, 0);
        cr_assert_eq(r[d].sdc_words, 0);
        cr_assert(isfinite(r[d].tflops_first) && r[d].tflops_first > 0);
        cr_assert(isfinite(r[d].decay));
        cr_assert(isnan(r[d].clock_mhz), "no NVML: null, not 0");
    }
}

Test(burn, a_flipped_bit_is_sdc)
{
    tb_fault f;
    tb_err err;
    cr_assert_eq(tb_fault_parse("late-corruption:5", &f, &err), TB_OK);
    tb_burn_result r[1];
    run_host_burn(&f, r, 1);
    cr_assert_eq(r[0].status, TB_WRONG);
    cr_assert_gt(r[0].sdc_iters, 0);
    cr_assert_eq(r[0].sdc_words, r[0].sdc_iters, "one word per sample's last execution");
    cr_assert(strstr(r[0].reason, "differed from the first run"), "%s", r[0].reason);
}
