/* gpu_helper.h - the GPU tests' common start: skip cleanly where no GPU is visible. */
#ifndef TB_GPU_HELPER_H
#define TB_GPU_HELPER_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "device.h"

static tb_device *devs;
static int ndev;

/* Criterion .init: discovers the GPUs, or skips the test saying why (ctest reads the line). */
static inline void need_gpu(void)
{
    tb_err err;
    if (tb_device_discover(&devs, &ndev, &err) != TB_OK) {
        fprintf(stderr, "no GPU visible: %s\n", err.msg);
        cr_skip_test("no GPU visible: %s", err.msg);
    }
}

#endif
