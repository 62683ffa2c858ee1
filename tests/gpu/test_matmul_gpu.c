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


/* Runs and verifies one case; returns 0 when the implementation skips it (the reason in
 * why, when not NULL). */
static int check(const tb_impl *im, tb_dtype dt, int M, int N, int K, int layout, int run,
                 tb_verify *v, char *why)
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
    char ignored[1024];
    return gpu_check_case(&c, run, v, why ? why : ignored, sizeof ignored);
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
                               1, &v, NULL))
                        continue;
                    cr_assert(v.ok, "%s %s layout %d %dx%dx%d: %lld of %lld wrong, max abs %g",
                              im->name, tb_dtype_name((tb_dtype)d), layout, shapes[s][0],
                              shapes[s][1], shapes[s][2], (long long)v.n_wrong,
                              (long long)v.n_checked, v.max_abs_err);
                    /* the norm-wise check of the output matrix, inside its bound */
                    const tb_verify_measure *m = tb_verify_measure_find(&v, "norm");
                    cr_assert_not_null(m, "%s: no norm-wise measure", im->name);
                    cr_assert(m->n_units == 1 && m->n_failed == 0 && m->worst <= m->bound,
                              "%s %s layout %d %dx%dx%d: norm-wise %g over %g", im->name,
                              tb_dtype_name((tb_dtype)d), layout, shapes[s][0], shapes[s][1],
                              shapes[s][2], m->worst, m->bound);
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
        if (check(im, dt, 256, 256, 256, TB_MM_FWD, 0, &v, NULL)) {
            cr_assert_not(v.ok, "%s passed without running", im->name);
            const tb_verify_measure *m = tb_verify_measure_find(&v, "norm");
            cr_assert(m && m->n_failed == 1, "%s: the NaN output fails the norm-wise check",
                      im->name);
        }
    }
}

/* The check after the timed loop on the GPU: reinit poisons the output (it fails unrun) and
 * refills the inputs as setup did (one more execution is right again), for every
 * implementation. */
Test(matmul_gpu, reinit_poisons_and_refills_for_the_check_after_timing, .init = need_gpu)
{
    for (int i = 0; i < tb_bench_matmul.n_impls; i++) {
        const tb_impl *im = &tb_bench_matmul.impls[i];
        if (im->kind == TB_KIND_HOST)
            continue;
        tb_case c;
        memset(&c, 0, sizeof c);
        c.bench = &tb_bench_matmul;
        c.impl = im;
        c.dtype = (im->dtypes & TB_DT(TB_BF16)) ? TB_BF16 : TB_FP32;
        c.axis[0] = c.axis[1] = c.axis[2] = 256;
        c.axis[3] = TB_MM_FWD;
        tb_err err;
        if (im->supports && im->supports(&c, &devs[0], &err) == TB_SKIP)
            continue;
        cudaStream_t s;
        cr_assert_eq(cudaSetDevice(0), cudaSuccess);
        cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
        tb_env env = {&devs[0], s, 11, NULL, NULL};
        void *state;
        tb_status st = im->setup(&c, &env, &state, &err);
        if (st == TB_SKIP) {
            cudaStreamDestroy(s);
            continue;
        }
        cr_assert_eq(st, TB_OK, "%s: %s", im->name, err.msg);
        tb_verify v;
        cr_assert_eq(im->run(state, &err), TB_OK, "%s", err.msg);
        cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
        cr_assert_eq(tb_bench_matmul.reinit(&c, state, &err), TB_OK, "%s", err.msg);
        cr_assert_eq(tb_bench_matmul.verify(&c, state, &v, &err), TB_OK, "%s", err.msg);
        cr_assert_eq(v.n_wrong, 256 * 256, "%s: reinit poisons the whole output", im->name);
        cr_assert_eq(im->run(state, &err), TB_OK, "%s", err.msg);
        cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
        cr_assert_eq(tb_bench_matmul.verify(&c, state, &v, &err), TB_OK, "%s", err.msg);
        cr_assert(v.ok, "%s after reinit: %lld wrong", im->name, (long long)v.n_wrong);
        im->teardown(state);
        cudaStreamDestroy(s);
    }
}

static const char *layout_name(int layout)
{
    return layout == TB_MM_FWD ? "fwd" : layout == TB_MM_DGRAD ? "dgrad" : "wgrad";
}

/* The Hopper rows (wgmma, wgmma_ws, wgmma_persistent, wgmma_cluster) on the given shapes.
 * On an sm_90 GPU a row may skip only a shape its requirements exclude (it must not skip for
 * want of sm_90a code: the build is expected to hold it); elsewhere they skip. wgmma_cluster
 * runs every layout; the others fwd only. */
static void wgmma_sweep(const int64_t (*shapes)[TB_MAX_AXES], size_t n)
{
    const int hopper = tb_device_cc(&devs[0]) == 90;
    int ran = 0, ran_grad = 0;
    for (int i = 0; i < tb_bench_matmul.n_impls; i++) {
        const tb_impl *im = &tb_bench_matmul.impls[i];
        if (strncmp(im->name, "wgmma", 5) != 0)
            continue;
        const int all_layouts = strcmp(im->name, "wgmma_cluster") == 0;
        for (size_t s = 0; s < n; s++) {
            int M = (int)shapes[s][0], N = (int)shapes[s][1], K = (int)shapes[s][2];
            int layout = (int)shapes[s][3];
            char why[1024];
            tb_verify v;
            if (!check(im, TB_BF16, M, N, K, layout, 1, &v, why)) {
                const int runnable = (layout == TB_MM_WGRAD || K % 8 == 0) && N % 8 == 0 &&
                                     (layout == TB_MM_FWD ||
                                      (all_layouts && (layout != TB_MM_WGRAD || M % 8 == 0)));
                cr_assert(!hopper || !runnable, "%s skipped %s %dx%dx%d on an sm_90 GPU: %s",
                          im->name, layout_name(layout), M, N, K, why);
                continue;
            }
            ran++;
            ran_grad += layout != TB_MM_FWD;
            cr_assert(v.ok, "%s %s %dx%dx%d: %lld of %lld wrong, max abs %g", im->name,
                      layout_name(layout), M, N, K, (long long)v.n_wrong,
                      (long long)v.n_checked, v.max_abs_err);
        }
    }
    if (hopper) {
        cr_assert_gt(ran, 0, "no wgmma case ran on an sm_90 GPU");
        for (size_t s = 0; s < n; s++)
            if (shapes[s][3] != TB_MM_FWD)
                cr_assert_gt(ran_grad, 0, "no dgrad or wgrad case ran on an sm_90 GPU");
    }
}

Test(matmul_gpu, wgmma_squares, .init = need_gpu, .timeout = 3600)
{
    /* M, N, K, layout: the squares, then ragged shapes (predicated or clipped edges,
     * K below one 64-deep stage, a single partial tile with N and K of one TMA element row,
     * an odd number of tile rows for the cluster pairs) */
    static const int64_t shapes[][TB_MAX_AXES] = {
        {128, 128, 128, TB_MM_FWD},   {1000, 1000, 1000, TB_MM_FWD},
        {4096, 4096, 4096, TB_MM_FWD}, {8192, 8192, 8192, TB_MM_FWD},
        {4095, 4097, 1024, TB_MM_FWD}, {136, 72, 40, TB_MM_FWD},
        {72, 8, 8, TB_MM_FWD},         {384, 264, 200, TB_MM_FWD}};
    wgmma_sweep(shapes, sizeof shapes / sizeof shapes[0]);
}

/* The gradient layouts on the top rung (M/N-major operands through TMA along M or N and
 * wgmma's transpose bits): squares, then ragged shapes (clipped M and N boxes, K below one
 * stage and not a multiple of 8 where no operand is K-major, an odd number of tile rows). */
Test(matmul_gpu, wgmma_dgrad_wgrad, .init = need_gpu, .timeout = 3600)
{
    static const int64_t shapes[][TB_MAX_AXES] = {
        {128, 256, 128, TB_MM_DGRAD},   {4096, 4096, 4096, TB_MM_DGRAD},
        {1000, 1000, 1000, TB_MM_DGRAD}, {4095, 4104, 1024, TB_MM_DGRAD},
        {384, 264, 200, TB_MM_DGRAD},   {128, 256, 128, TB_MM_WGRAD},
        {4096, 4096, 4096, TB_MM_WGRAD}, {1000, 1000, 1000, TB_MM_WGRAD},
        {4096, 4104, 1001, TB_MM_WGRAD}, {392, 264, 40, TB_MM_WGRAD}};
    wgmma_sweep(shapes, sizeof shapes / sizeof shapes[0]);
}

/* The fwd GEMMs of every linear layer of the Llama 3 shape sets at 8192 tokens (their dgrad
 * and wgrad GEMMs run on wgmma_cluster in wgmma_llama_gradients). */
Test(matmul_gpu, wgmma_llama_shapes, .init = need_gpu, .timeout = 3600)
{
    const char *axes[4] = {NULL, NULL, NULL, "fwd"};
    const char *opts[4] = {NULL, "llama3-8b,llama3-70b,llama3-405b", NULL, NULL};
    tb_points p = {NULL, 0, 0};
    tb_err err;
    cr_assert_eq(tb_bench_matmul.points(&tb_bench_matmul, axes, opts, 0, 0, &p, &err), TB_OK,
                 "%s", err.msg);
    cr_assert_eq(p.n, 12, "3 models x 4 linear layers");
    wgmma_sweep((const int64_t(*)[TB_MAX_AXES])p.v, p.n);
    tb_points_free(&p);
}

Test(matmul_gpu, wgmma_llama_gradients, .init = need_gpu, .timeout = 3600)
{
    const char *axes[4] = {NULL, NULL, NULL, "dgrad,wgrad"};
    const char *opts[4] = {NULL, "llama3-8b,llama3-70b", NULL, NULL};
    tb_points p = {NULL, 0, 0};
    tb_err err;
    cr_assert_eq(tb_bench_matmul.points(&tb_bench_matmul, axes, opts, 0, 0, &p, &err), TB_OK,
                 "%s", err.msg);
    cr_assert_eq(p.n, 16, "2 models x 4 linear layers x dgrad, wgrad");
    wgmma_sweep((const int64_t(*)[TB_MAX_AXES])p.v, p.n);
    tb_points_free(&p);
}
