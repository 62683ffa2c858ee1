#include <criterion/criterion.h>
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

Test(device, driver_missing_is_explained)
{
    char b[512];
    unsetenv("CUDA_VISIBLE_DEVICES");
    tb_device_explain_init_error(cudaErrorInsufficientDriver, 0, 13000, b, sizeof b);
    cr_assert(strstr(b, "no CUDA device"), "%s", b);
    cr_assert(strstr(b, "no NVIDIA driver"), "%s", b);
    cr_assert(strstr(b, "13.0"), "%s", b);
}

Test(device, driver_too_old_is_explained)
{
    char b[512];
    tb_device_explain_init_error(cudaErrorInsufficientDriver, 12040, 13000, b, sizeof b);
    cr_assert(strstr(b, "12.4") && strstr(b, "13.0") && strstr(b, "update the driver"), "%s", b);
}

Test(device, hidden_devices_are_explained)
{
    char b[512];
    setenv("CUDA_VISIBLE_DEVICES", "-1", 1);
    tb_device_explain_init_error(cudaErrorNoDevice, 13000, 13000, b, sizeof b);
    cr_assert(strstr(b, "CUDA_VISIBLE_DEVICES='-1'"), "%s", b);
}

/* With no device visible (no driver here, or CUDA_VISIBLE_DEVICES=-1 on a GPU machine),
 * discovery is a clean TB_NODEV with a reason, not a crash. */
Test(device, discovery_without_a_device_is_a_clean_no_device)
{
    setenv("CUDA_VISIBLE_DEVICES", "-1", 1);
    tb_device *devs = (tb_device *)0x1;
    int n = -1;
    tb_err err;
    cr_assert_eq(tb_device_discover(&devs, &n, &err), TB_NODEV);
    cr_assert_null(devs);
    cr_assert_eq(n, 0);
    cr_assert(strncmp(err.msg, "no CUDA device", 14) == 0, "%s", err.msg);
}

Test(device, host_pseudo_device)
{
    tb_device d;
    tb_device_host(&d);
    cr_assert_eq(d.is_host, 1);
    cr_assert_eq(d.ordinal, -1);
    cr_assert_geq(d.sm_count, 1);
    cr_assert(strncmp(d.name, "host (", 6) == 0, "%s", d.name);
    cr_assert_gt(d.mem_bytes, 0);
}

Test(device, cuda_versions)
{
    char b[16];
    cr_assert_str_eq(tb_device_format_cuda_version(13000, b, sizeof b), "13.0");
    cr_assert_str_eq(tb_device_format_cuda_version(12040, b, sizeof b), "12.4");
    cr_assert_str_eq(tb_device_format_cuda_version(0, b, sizeof b), "none");
}
