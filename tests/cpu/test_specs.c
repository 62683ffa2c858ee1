#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "specs.h"

static tb_device gpu(const char *name, int cc, int sms, int clock_mhz, int mem_mhz, int bus)
{
    tb_device d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    d.cc_major = cc / 10;
    d.cc_minor = cc % 10;
    d.sm_count = sms;
    d.max_sm_clock_khz = clock_mhz * 1000;
    d.max_mem_clock_khz = mem_mhz * 1000;
    d.bus_width_bits = bus;
    return d;
}

Test(specs, per_sm_per_clock_rates_of_reference)
{
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(80, TB_PEAK_TENSOR, TB_BF16), 2048, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(90, TB_PEAK_TENSOR, TB_BF16), 4096, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(100, TB_PEAK_TENSOR, TB_FP16), 8192, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(90, TB_PEAK_TENSOR, TB_TF32), 2048, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(90, TB_PEAK_TENSOR, TB_FP8E4M3), 8192, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(80, TB_PEAK_TENSOR, TB_FP8E4M3), 0, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(80, TB_PEAK_SIMT, TB_FP32), 128, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(90, TB_PEAK_SIMT, TB_FP32), 256, 0);
    cr_assert_float_eq(tb_specs_flop_per_sm_clock(86, TB_PEAK_TENSOR, TB_BF16), 0, 0,
                       "an unknown architecture has no rate");
}

Test(specs, a100_tensor_peak_by_arithmetic)
{
    /* REFERENCE.md: 108 x 1.41 GHz x 2048 = 312 T */
    tb_device d = gpu("NVIDIA A100-SXM4-80GB", 80, 108, 1410, 1593, 5120);
    tb_peak p;
    tb_specs_peak(&d, TB_PEAK_TENSOR, TB_BF16, &p);
    cr_assert_float_eq(p.derived, 108 * 1.41e9 * 2048 / 1e12, 1e-9);
    cr_assert_float_eq(p.datasheet, 312, 0);
    cr_assert(p.usable);
    cr_assert_str_eq(p.unit, "TFLOP/s");
}

Test(specs, h100_memory_peak_from_bus_and_clock)
{
    tb_device d = gpu("NVIDIA H100 80GB HBM3", 90, 132, 1980, 2619, 5120);
    tb_peak p;
    tb_specs_peak(&d, TB_PEAK_MEMORY, TB_FP32, &p);
    cr_assert_float_eq(p.derived, 2 * 2619e6 * 640 / 1e9, 1e-6); /* 3352.3 GB/s */
    cr_assert_float_eq(p.datasheet, 3350, 1e-9);
    cr_assert(p.usable);
    cr_assert_str_eq(p.unit, "GB/s");
}

Test(specs, derived_far_from_datasheet_gives_no_percent)
{
    tb_device d = gpu("NVIDIA H100 80GB HBM3", 90, 132, 1980, 1000, 5120);
    tb_peak p;
    tb_specs_peak(&d, TB_PEAK_MEMORY, TB_FP32, &p);
    cr_assert_not(p.usable);
    cr_assert(strstr(p.note, "away from"), "%s", p.note);
}

Test(specs, unknown_device_gives_no_percent)
{
    tb_device d = gpu("NVIDIA GeForce RTX 4090", 89, 128, 2520, 10501, 384);
    tb_peak p;
    tb_specs_peak(&d, TB_PEAK_MEMORY, TB_FP32, &p);
    cr_assert_not(p.usable);
    cr_assert(p.derived > 0, "the device's own figure is still derived");
    cr_assert_float_eq(p.datasheet, 0, 0);
    cr_assert(strstr(p.note, "not in the spec table"), "%s", p.note);
}

Test(specs, host_has_no_peak)
{
    tb_device d;
    tb_device_host(&d);
    tb_peak p;
    tb_specs_peak(&d, TB_PEAK_MEMORY, TB_FP32, &p);
    cr_assert_not(p.usable);
    cr_assert_float_eq(p.derived, 0, 0);
}

Test(specs, names_map_to_the_right_rows)
{
    cr_assert_str_eq(tb_specs_lookup("NVIDIA H200")->model, "H200 SXM");
    cr_assert_str_eq(tb_specs_lookup("NVIDIA H100 80GB HBM3")->model, "H100 SXM");
    cr_assert_str_eq(tb_specs_lookup("NVIDIA A100-SXM4-80GB")->model, "A100 SXM 80GB");
    cr_assert_str_eq(tb_specs_lookup("NVIDIA B200")->model, "B200 SXM");
    cr_assert_str_eq(tb_specs_lookup("NVIDIA GB200")->model, "GB200");
    cr_assert_null(tb_specs_lookup("NVIDIA H200 NVL"), "the NVL part has other clocks");
    cr_assert_null(tb_specs_lookup("NVIDIA GH200 480GB"));
    cr_assert_null(tb_specs_lookup("NVIDIA A100-SXM4-40GB"), "40 GB has 1.55 TB/s, not in table");
    cr_assert_null(tb_specs_lookup("NVIDIA H100 PCIe"));
}
