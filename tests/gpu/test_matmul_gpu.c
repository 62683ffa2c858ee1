/* matmul on a real GPU: every implementation x dtype x layout it supports, on square, odd and
 * model shapes, verified against the fp32 cuBLASLt reference (and the host reference for the
 * small ones) through the benchmark's own verification. Skips where no GPU is visible. */
#include <criterion/criterion.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

#include "benches.h"
#include "gpu_helper.h"
#include "matmul/mm_common.h"


/* Runs and verifies one case; returns 0 when the implementation skips it. */
static int check(const tb_impl *im, tb_dtype dt, int M, int N, int K, int layout, int run,
                 tb_verify *v)
{
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_matmul;
    c.impl = im;
    c.dtype = dt;
    c.axis[0] = M;
    c.axis[1] = N;
    c.axis[2] = K;
    c.axis[3] = layout;
    tb_err err;
    if (im->supports && im->supports(&c, &devs[0], &err) == TB_SKIP)
        return 0;
    cudaStream_t s;
    cr_assert_eq(cudaSetDevice(0), cudaSuccess);
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
    tb_env env = {&devs[0], s, 11, NULL};
    void *state;
    tb_status st = im->setup(&c, &env, &state, &err);
    if (st == TB_SKIP) {
        cudaStreamDestroy(s);
        return 0;
    }
    cr_assert_eq(st, TB_OK, "%s %s: %s", im->name, tb_dtype_name(dt), err.msg);
    if (run) {
        cr_assert_eq(im->run(state, &err), TB_OK, "%s", err.msg);
        cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
    }
    cr_assert_eq(tb_bench_matmul.verify(&c, state, v, &err), TB_OK, "%s", err.msg);
    im->teardown(state);
    cudaStreamDestroy(s);
    return 1;
}

static void sweep(const int (*shapes)[3], int n)
{
    for (int i = 0; i < tb_bench_matmul.n_impls; i++) {
        const tb_impl *im = &tb_bench_matmul.impls[i];
        if (im->kind == TB_KIND_HOST)
            continue;
        for (int d = 0; d < TB_DTYPE_COUNT; d++) {
            if (!(im->dtypes & TB_DT(d)))
                continue;
            for (int layout = 0; layout < 3; layout++)
                for (int s = 0; s < n; s++) {
                    tb_verify v;
                    if (!check(im, (tb_dtype)d, shapes[s][0], shapes[s][1], shapes[s][2], layout,
                               1, &v))
                        continue;
                    cr_assert(v.ok, "%s %s layout %d %dx%dx%d: %lld of %lld wrong, max abs %g",
                              im->name, tb_dtype_name((tb_dtype)d), layout, shapes[s][0],
                              shapes[s][1], shapes[s][2], (long long)v.n_wrong,
                              (long long)v.n_checked, v.max_abs_err);
                }
        }
    }
}

Test(matmul_gpu, squares_and_ragged_small, .init = need_gpu, .timeout = 1800)
{
    static const int shapes[][3] = {{256, 256, 256}, {16, 16, 16}, {136, 72, 40}, {200, 264, 96}};
    sweep(shapes, 4);
}

Test(matmul_gpu, odd_and_model_shapes, .init = need_gpu, .timeout = 1800)
{
    static const int shapes[][3] = {
        {1000, 1000, 1000}, {4095, 4097, 1024}, {4096, 4096, 4096}, {2048, 6144, 4096}};
    sweep(shapes, 4);
}

Test(matmul_gpu, unwritten_outputs_are_caught, .init = need_gpu)
{
    for (int i = 0; i < tb_bench_matmul.n_impls; i++) {
        const tb_impl *im = &tb_bench_matmul.impls[i];
        if (im->kind == TB_KIND_HOST)
            continue;
        tb_dtype dt = (im->dtypes & TB_DT(TB_BF16)) ? TB_BF16 : TB_FP32;
        tb_verify v;
        if (check(im, dt, 256, 256, 256, TB_MM_FWD, 0, &v))
            cr_assert_not(v.ok, "%s passed without running", im->name);
    }
}
