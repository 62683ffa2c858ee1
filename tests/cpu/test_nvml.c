#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nvml.h"

Test(nvml, absent_library_gives_null_and_a_reason)
{
    setenv("TRAINBENCH_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    char why[512];
    tb_nvml *n = tb_nvml_open(why, sizeof why);
    cr_assert_null(n);
    cr_assert(strstr(why, "/nonexistent/libnvidia-ml.so.1"), "%s", why);
    /* every figure is NAN (null in JSON), never 0 */
    tb_telemetry t;
    tb_telemetry_begin(n, NULL, &t);
    tb_telemetry_sample(n, NULL, &t);
    tb_telemetry_add_busy(&t, 0.5);
    tb_telemetry_end(n, NULL, &t);
    cr_assert(isnan(tb_telemetry_clock_mhz(&t)));
    cr_assert(isnan(tb_telemetry_power_w(&t)));
    cr_assert_null(tb_telemetry_power_source(&t));
    cr_assert(isnan(tb_telemetry_energy_j(&t)));
    cr_assert(isnan(tb_telemetry_temp_c(&t)));
    cr_assert_eq(t.have_reasons, 0);
    tb_nvml_info info;
    tb_nvml_device_info(n, NULL, &info);
    cr_assert_float_eq(info.power_limit_w, -1, 0);
    cr_assert_eq(info.ecc, -1);
    char drv[64];
    tb_nvml_driver_version(n, drv, sizeof drv);
    cr_assert_str_eq(drv, "");
}

Test(nvml, present_library_is_read_through_dlopen)
{
    setenv("TRAINBENCH_NVML_LIB", TB_FAKE_NVML, 1);
    char why[512] = "";
    tb_nvml *n = tb_nvml_open(why, sizeof why);
    cr_assert_not_null(n, "%s", why);
    char drv[64];
    tb_nvml_driver_version(n, drv, sizeof drv);
    cr_assert_str_eq(drv, "999.12.34");
    cr_assert_null(tb_nvml_device(n, "0000:02:00.0"), "unknown bus id");
    void *dev = tb_nvml_device(n, "0000:01:00.0");
    cr_assert_not_null(dev);

    tb_nvml_info info;
    tb_nvml_device_info(n, dev, &info);
    cr_assert_float_eq(info.power_limit_w, 700.0, 1e-9);
    cr_assert_eq(info.ecc, 1);
    cr_assert_eq(info.persistence, 1);
    cr_assert_eq(info.mig, 0);
    cr_assert_eq(info.max_sm_mhz, 1980);
    cr_assert_eq(info.max_mem_mhz, 2619);

    tb_telemetry t;
    tb_telemetry_begin(n, dev, &t); /* energy read once */
    tb_telemetry_sample(n, dev, &t);
    tb_telemetry_add_busy(&t, 0.125);
    tb_telemetry_add_busy(&t, 0.125);
    tb_telemetry_end(n, dev, &t); /* and once more: +1000 mJ */
    cr_assert_float_eq(tb_telemetry_clock_mhz(&t), 1500, 1e-9);
    /* 1 J over 0.25 s of GPU time: 4 W from the counter, not the 350 W power reading */
    cr_assert_float_eq(tb_telemetry_power_w(&t), 4.0, 1e-9);
    cr_assert_str_eq(tb_telemetry_power_source(&t), "energy");
    cr_assert_float_eq(tb_telemetry_energy_j(&t), 1.0, 1e-12);
    cr_assert_float_eq(tb_telemetry_temp_c(&t), 61, 0);
    cr_assert_eq(t.reasons, 0x4);
    tb_nvml_close(n);
}

Test(nvml, begin_and_end_read_no_clock_while_the_gpu_idles)
{
    setenv("TRAINBENCH_NVML_LIB", TB_FAKE_NVML, 1);
    char why[512] = "";
    tb_nvml *n = tb_nvml_open(why, sizeof why);
    cr_assert_not_null(n, "%s", why);
    void *dev = tb_nvml_device(n, "0000:01:00.0");
    tb_telemetry t;
    tb_telemetry_begin(n, dev, &t);
    tb_telemetry_end(n, dev, &t);
    /* no sample was taken during timed work: no clock, power reading or temperature */
    cr_assert(isnan(tb_telemetry_clock_mhz(&t)));
    cr_assert(isnan(tb_telemetry_temp_c(&t)));
    cr_assert_eq(t.have_reasons, 0);
    /* the counter advanced but no GPU time was added: no power, not a division by zero */
    cr_assert(isnan(tb_telemetry_power_w(&t)));
    cr_assert_null(tb_telemetry_power_source(&t));
    cr_assert_float_eq(tb_telemetry_energy_j(&t), 1.0, 1e-12);
    tb_nvml_close(n);
}

Test(nvml, power_falls_back_to_the_reading_without_the_counter)
{
    setenv("TRAINBENCH_NVML_LIB", TB_FAKE_NVML, 1);
    setenv("FAKE_NVML_NO_ENERGY", "1", 1);
    char why[512] = "";
    tb_nvml *n = tb_nvml_open(why, sizeof why);
    cr_assert_not_null(n, "%s", why);
    void *dev = tb_nvml_device(n, "0000:01:00.0");
    tb_telemetry t;
    tb_telemetry_begin(n, dev, &t);
    tb_telemetry_sample(n, dev, &t);
    tb_telemetry_add_busy(&t, 0.25);
    tb_telemetry_end(n, dev, &t);
    unsetenv("FAKE_NVML_NO_ENERGY");
    cr_assert(isnan(tb_telemetry_energy_j(&t)));
    cr_assert_float_eq(tb_telemetry_power_w(&t), 350, 1e-9);
    cr_assert_str_eq(tb_telemetry_power_source(&t), "power_usage");
    tb_nvml_close(n);
}

Test(nvml, reason_names)
{
    const char *names[16];
    int k = tb_nvml_reason_names(0x4 | 0x40 | 0x1, names, 16);
    cr_assert_eq(k, 3);
    cr_assert_str_eq(names[0], "gpu_idle");
    cr_assert_str_eq(names[1], "sw_power_cap");
    cr_assert_str_eq(names[2], "hw_thermal_slowdown");
    cr_assert_eq(tb_nvml_reason_names(0, names, 16), 0);
}
