/* gpu_helper.h - the GPU tests' common start: skip cleanly where no GPU is visible. */
#ifndef TB_GPU_HELPER_H
#define TB_GPU_HELPER_H

#include <criterion/criterion.h>
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "bench.h"
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

/* Sets up one case on GPU 0, runs it once (when run is set; otherwise the outputs stay
 * poisoned) and verifies it through its benchmark; returns 0 when the implementation skips
 * it, with the reason in why. */
static inline int gpu_check_case(const tb_case *c, int run, tb_verify *v, char *why,
                                 size_t whylen)
{
    const tb_impl *im = c->impl;
    tb_err err;
    err.msg[0] = '\0';
    if (im->supports && im->supports(c, &devs[0], &err) == TB_SKIP) {
        snprintf(why, whylen, "%s", err.msg);
        return 0;
    }
    cudaStream_t s;
    cr_assert_eq(cudaSetDevice(0), cudaSuccess);
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
    tb_env env = {&devs[0], s, 11, NULL, NULL};
    void *state;
    tb_status st = im->setup(c, &env, &state, &err);
    if (st == TB_SKIP) {
        snprintf(why, whylen, "%s", err.msg);
        cudaStreamDestroy(s);
        return 0;
    }
    cr_assert_eq(st, TB_OK, "%s %s: %s", im->name, tb_dtype_name(c->dtype), err.msg);
    if (run) {
        cr_assert_eq(im->run(state, &err), TB_OK, "%s", err.msg);
        cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
    }
    cr_assert_eq(c->bench->verify(c, state, v, &err), TB_OK, "%s", err.msg);
    im->teardown(state);
    cudaStreamDestroy(s);
    return 1;
}

#endif
