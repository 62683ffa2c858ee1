/* matmul logic that runs on the CPU: layouts, tile order, the host reference, shape sets,
 * the implementations' shape requirements and the host implementation through the table. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "benches.h"
#include "cli_helper.h"
#include "matmul.h"
#include "matmul/mm_common.h"
#include "runner.h"

Test(matmul_host, layouts_place_elements_as_documented)
{
    /* M=2, N=3, K=4 */
    cr_assert_eq(tb_mm_a_index(TB_MM_FWD, 1, 2, 2, 4), 1 * 4 + 2);   /* A [M][K] */
    cr_assert_eq(tb_mm_b_index(TB_MM_FWD, 2, 1, 3, 4), 1 * 4 + 2);   /* B [N][K] */
    cr_assert_eq(tb_mm_a_index(TB_MM_DGRAD, 1, 2, 2, 4), 1 * 4 + 2); /* A [M][K] */
    cr_assert_eq(tb_mm_b_index(TB_MM_DGRAD, 2, 1, 3, 4), 2 * 3 + 1); /* B [K][N] */
    cr_assert_eq(tb_mm_a_index(TB_MM_WGRAD, 1, 2, 2, 4), 2 * 2 + 1); /* A [K][M] */
    cr_assert_eq(tb_mm_b_index(TB_MM_WGRAD, 2, 1, 3, 4), 2 * 3 + 1); /* B [K][N] */
    cr_assert(tb_mm_a_kmajor(TB_MM_FWD) && tb_mm_b_kmajor(TB_MM_FWD));
    cr_assert(tb_mm_a_kmajor(TB_MM_DGRAD) && !tb_mm_b_kmajor(TB_MM_DGRAD));
    cr_assert(!tb_mm_a_kmajor(TB_MM_WGRAD) && !tb_mm_b_kmajor(TB_MM_WGRAD));
}

Test(matmul_host, grouped_tile_order_is_a_bijection)
{
    const int64_t shapes[][2] = {{1, 1}, {8, 8}, {13, 7}, {3, 40}, {17, 1}, {64, 32}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t mt = shapes[s][0], nt = shapes[s][1];
        char *seen = calloc((size_t)(mt * nt), 1);
        for (int64_t pid = 0; pid < mt * nt; pid++) {
            int64_t tm, tn;
            tb_mm_tile_of(pid, mt, nt, 8, &tm, &tn);
            cr_assert(tm >= 0 && tm < mt && tn >= 0 && tn < nt, "pid %lld -> (%lld, %lld)",
                      (long long)pid, (long long)tm, (long long)tn);
            cr_assert_eq(seen[tm * nt + tn], 0, "tile visited twice");
            seen[tm * nt + tn] = 1;
        }
        free(seen);
    }
    /* consecutive blocks walk down a group of 8 tile rows first */
    int64_t tm, tn;
    tb_mm_tile_of(1, 64, 32, 8, &tm, &tn);
    cr_assert(tm == 1 && tn == 0);
    tb_mm_tile_of(8, 64, 32, 8, &tm, &tn);
    cr_assert(tm == 0 && tn == 1);
}

static float *randm(int64_t n, unsigned seed)
{
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = tb_rand_normal(seed, (uint64_t)i);
    return x;
}

Test(matmul_host, reference_equals_the_triple_loop_on_odd_shapes)
{
    const int shapes[][3] = {{1, 1, 1}, {7, 13, 129}, {127, 255, 64}, {33, 65, 300}};
    for (int layout = 0; layout < 3; layout++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *A = randm((int64_t)M * K, 1), *B = randm((int64_t)N * K, 2);
            float *C = malloc((size_t)M * N * sizeof *C);
            tb_matmul_host_reference(layout, A, B, C, M, N, K);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    float acc = 0.0f;
                    for (int k = 0; k < K; k++)
                        acc += A[tb_mm_a_index(layout, m, k, M, K)] *
                               B[tb_mm_b_index(layout, k, n, N, K)];
                    cr_assert_eq(memcmp(&acc, &C[m * N + n], sizeof acc), 0,
                                 "layout %d %dx%dx%d at (%d, %d): %.9g vs %.9g", layout, M, N, K,
                                 m, n, acc, C[m * N + n]);
                }
            free(A);
            free(B);
            free(C);
        }
}

Test(matmul_host, reference_computes_a_known_product)
{
    /* fwd: C = A B^T with A = [[1,2],[3,4]], B = [[5,6],[7,8]] -> [[17,23],[39,53]] */
    const float A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8};
    float C[4];
    tb_matmul_host_reference(TB_MM_FWD, A, B, C, 2, 2, 2);
    cr_assert_float_eq(C[0], 17, 0);
    cr_assert_float_eq(C[1], 23, 0);
    cr_assert_float_eq(C[2], 39, 0);
    cr_assert_float_eq(C[3], 53, 0);
    /* dgrad: C = A B -> [[19,22],[43,50]] */
    tb_matmul_host_reference(TB_MM_DGRAD, A, B, C, 2, 2, 2);
    cr_assert_float_eq(C[0], 19, 0);
    cr_assert_float_eq(C[3], 50, 0);
    /* wgrad: C = A^T B -> [[26,30],[38,44]] */
    tb_matmul_host_reference(TB_MM_WGRAD, A, B, C, 2, 2, 2);
    cr_assert_float_eq(C[0], 26, 0);
    cr_assert_float_eq(C[1], 30, 0);
    cr_assert_float_eq(C[2], 38, 0);
    cr_assert_float_eq(C[3], 44, 0);
}

Test(matmul_host, linear_layer_gemms)
{
    int64_t g[3][4];
    /* llama3-8b qkv: in 4096, out (32 + 2*8) * 128 = 6144, column-parallel */
    tb_matmul_linear_gemms(4096, 6144, 1, 8192, 1, g);
    const int64_t want[3][4] = {{8192, 6144, 4096, TB_MM_FWD},
                                {8192, 4096, 6144, TB_MM_DGRAD},
                                {6144, 4096, 8192, TB_MM_WGRAD}};
    cr_assert_eq(memcmp(g, want, sizeof want), 0);
    tb_matmul_linear_gemms(4096, 6144, 1, 8192, 2, g); /* tp 2 splits out */
    cr_assert_eq(g[0][1], 3072);
    tb_matmul_linear_gemms(14336, 4096, 0, 8192, 4, g); /* down, row-parallel: splits in */
    cr_assert_eq(g[0][2], 3584);
    cr_assert_eq(g[2][0], 4096);
    cr_assert_eq(g[2][1], 3584);
}

static tb_points points(const char *size, const char *shapes, const char *tokens,
                        const char *tp, const char *layout, const char *m, tb_status want)
{
    const char *axes[4] = {m, NULL, NULL, layout};
    const char *opts[4] = {size, shapes, tokens, tp};
    tb_points p = {NULL, 0, 0};
    tb_err err = {{0}};
    tb_status st = tb_bench_matmul.points(&tb_bench_matmul, axes, opts, 0, 0, &p, &err);
    cr_assert_eq(st, want, "%s", err.msg);
    return p;
}

Test(matmul_host, shape_sets_and_sweeps)
{
    tb_points p = points(NULL, "llama3-8b", NULL, NULL, NULL, NULL, TB_OK);
    cr_assert_eq(p.n, 12, "4 linears x fwd, dgrad, wgrad");
    cr_assert_eq(p.v[0][0], 8192);
    cr_assert_eq(p.v[0][1], 6144);
    cr_assert_eq(p.v[0][2], 4096);
    cr_assert_eq(p.v[0][3], TB_MM_FWD);
    /* gate_up of llama3-8b: out 2 * 14336 */
    cr_assert_eq(p.v[6][1], 28672);
    tb_points_free(&p);
    p = points(NULL, "llama3-70b,gpt3-175b", "4096", "8", "wgrad", NULL, TB_OK);
    cr_assert_eq(p.n, 8);
    cr_assert_eq(p.v[0][0], (64 + 16) * 128 / 8);
    cr_assert_eq(p.v[0][2], 4096);
    tb_points_free(&p);
    p = points("256:1024:x2", NULL, NULL, NULL, "fwd,dgrad", NULL, TB_OK);
    cr_assert_eq(p.n, 6, "3 squares x 2 layouts");
    cr_assert_eq(p.v[5][0], 1024);
    cr_assert_eq(p.v[5][3], TB_MM_DGRAD);
    tb_points_free(&p);
    p = points("64,128", NULL, NULL, NULL, NULL, "1000", TB_OK);
    cr_assert_eq(p.n, 4, "m fixed, n and k from --size");
    cr_assert_eq(p.v[3][0], 1000);
    cr_assert_eq(p.v[3][1], 128);
    cr_assert_eq(p.v[3][2], 128);
    tb_points_free(&p);
}

Test(matmul_host, bad_shape_options)
{
    points(NULL, "llama4", NULL, NULL, NULL, NULL, TB_USAGE);
    points(NULL, "llama3-8b", NULL, "3", NULL, NULL, TB_USAGE);
    points(NULL, "llama3-8b", NULL, "16", NULL, NULL, TB_USAGE); /* 8 KV heads */
    points("128", "llama3-8b", NULL, NULL, NULL, NULL, TB_USAGE);
    points(NULL, NULL, NULL, NULL, "sideways", NULL, TB_USAGE);
    points("0", NULL, NULL, NULL, NULL, NULL, TB_USAGE);
    points(NULL, NULL, NULL, NULL, NULL, "-5", TB_USAGE);
}

Test(matmul_host, mma_shape_requirements)
{
    cr_assert_null(tb_mm_mma_unsupported(TB_MM_FWD, 4095, 4097, 1024));
    cr_assert_not_null(tb_mm_mma_unsupported(TB_MM_FWD, 64, 64, 1001));
    cr_assert_null(tb_mm_mma_unsupported(TB_MM_DGRAD, 4095, 4096, 1024));
    cr_assert_not_null(tb_mm_mma_unsupported(TB_MM_DGRAD, 4096, 4097, 1024));
    cr_assert_null(tb_mm_mma_unsupported(TB_MM_WGRAD, 4096, 4096, 1001));
    cr_assert_not_null(tb_mm_mma_unsupported(TB_MM_WGRAD, 4095, 4096, 1024));
}

static const tb_impl *impl(const char *name)
{
    const tb_impl *m = tb_bench_impl(&tb_bench_matmul, name);
    cr_assert_not_null(m, "no impl %s", name);
    return m;
}

/* Sets up the host implementation for a case, runs it `runs` times (under fault, which may
 * be NULL) and verifies the last run. */
static tb_verify host_case_dt(int M, int N, int K, int layout, tb_dtype dtype,
                              const tb_fault *fault, int runs)
{
    tb_device host;
    tb_device_host(&host);
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_matmul;
    c.impl = impl("host");
    c.dtype = dtype;
    c.axis[0] = M;
    c.axis[1] = N;
    c.axis[2] = K;
    c.axis[3] = layout;
    tb_env env = {&host, NULL, 5, NULL, fault};
    void *state;
    tb_err err;
    cr_assert_eq(c.impl->supports(&c, &host, &err), TB_OK, "%s", err.msg);
    cr_assert_eq(c.impl->setup(&c, &env, &state, &err), TB_OK, "%s", err.msg);
    for (int i = 0; i < runs; i++)
        cr_assert_eq(c.impl->run(state, &err), TB_OK);
    tb_verify v;
    cr_assert_eq(tb_bench_matmul.verify(&c, state, &v, &err), TB_OK);
    c.impl->teardown(state);
    return v;
}

static tb_verify host_case(int M, int N, int K, int layout, int run)
{
    return host_case_dt(M, N, K, layout, TB_FP32, NULL, run);
}

Test(matmul_host, host_impl_verifies_and_unwritten_output_fails)
{
    for (int layout = 0; layout < 3; layout++) {
        tb_verify v = host_case(37, 19, 70, layout, 1);
        cr_assert(v.ok, "layout %d: %lld wrong", layout, (long long)v.n_wrong);
        cr_assert_eq(v.n_checked, 37 * 19);
        cr_assert_float_eq(v.max_abs_err, 0, 0, "same order as the triple loop: exact");
    }
    tb_verify v = host_case(16, 16, 16, TB_MM_FWD, 0);
    cr_assert_not(v.ok);
    cr_assert_eq(v.n_wrong, 256);
}

/* The norm-wise measure of a verification (one output matrix). */
static const tb_verify_measure *norm_of(const tb_verify *v)
{
    const tb_verify_measure *m = tb_verify_measure_find(v, "norm");
    cr_assert_not_null(m, "no norm-wise measure");
    cr_assert_str_eq(m->unit, "matrix");
    cr_assert_eq(m->n_units, 1);
    return m;
}

/* The host implementation in the GPU dtypes: inputs rounded to the dtype, the output rounded
 * as the kernels write it, checked by the GPU path's tolerances: well inside both bounds, yet
 * not exact (the output rounding is seen). */
Test(matmul_host, host_impl_runs_the_gpu_dtypes_with_their_tolerances)
{
    const tb_dtype dts[] = {TB_BF16, TB_FP16, TB_FP8E4M3};
    /* u(out) + c(dtype): bf16 out 2^-8 + 2^-10, fp16 2^-11 + 2^-10, fp8 (bf16 out) 2^-8 + 2^-6 */
    const double bounds[] = {ldexp(1, -8) + ldexp(1, -10), ldexp(1, -11) + ldexp(1, -10),
                             ldexp(1, -8) + ldexp(1, -6)};
    for (int d = 0; d < 3; d++)
        for (int layout = 0; layout < (dts[d] == TB_FP8E4M3 ? 1 : 3); layout++) {
            tb_verify v = host_case_dt(48, 40, 512, layout, dts[d], NULL, 1);
            const tb_verify_measure *m = norm_of(&v);
            cr_assert(v.ok, "%s layout %d: %lld wrong", tb_dtype_name(dts[d]), layout,
                      (long long)v.n_wrong);
            cr_assert_gt(v.max_abs_err, 0, "%s: the output is rounded", tb_dtype_name(dts[d]));
            cr_assert_float_eq(m->bound, bounds[d], 1e-12, "%s", tb_dtype_name(dts[d]));
            cr_assert_gt(m->worst, 0);
            cr_assert_lt(m->worst, 0.5 * m->bound, "%s: %g of %g", tb_dtype_name(dts[d]),
                         m->worst, m->bound);
        }
    tb_verify v = host_case_dt(37, 19, 70, TB_MM_DGRAD, TB_FP32, NULL, 1);
    cr_assert_float_eq(norm_of(&v)->worst, 0, 0, "fp32: the reference's own order, exact");
}

Test(matmul_host, host_fp8_runs_the_fwd_layout_only_as_the_gpu_path)
{
    tb_device host;
    tb_device_host(&host);
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_matmul;
    c.impl = impl("host");
    c.dtype = TB_FP8E4M3;
    c.axis[0] = c.axis[1] = c.axis[2] = 64;
    c.axis[3] = TB_MM_DGRAD;
    tb_err err;
    cr_assert_eq(c.impl->supports(&c, &host, &err), TB_SKIP);
    cr_assert(strstr(err.msg, "fwd layout only"), "%s", err.msg);
    cr_assert(impl("host")->dtypes & TB_DT(TB_BF16));
    cr_assert_not(impl("host")->dtypes & TB_DT(TB_TF32), "tf32 rounds inside the kernels");
}

/* mm-drop-kslice at bf16, K = 4096: the first 128 x 128 tile misses 16 of 4096 products,
 * ~N(0, 16) per element against a tolerance of ~0.56: both checks catch it. */
Test(matmul_host, a_dropped_k_slice_is_caught_by_both_checks)
{
    tb_fault drop = {TB_FAULT_MM_DROP_KSLICE, 0, 0, 0};
    tb_verify v = host_case_dt(256, 192, 4096, TB_MM_FWD, TB_BF16, &drop, 1);
    const tb_verify_measure *m = norm_of(&v);
    cr_assert_not(v.ok);
    cr_assert_gt(v.n_wrong, 128 * 128 / 2, "element-wise: %lld wrong", (long long)v.n_wrong);
    cr_assert_leq(v.n_wrong, 128 * 128, "only the tile is wrong");
    cr_assert_eq(m->n_failed, 1, "norm-wise: %g over %g", m->worst, m->bound);
    /* the same case without the fault */
    v = host_case_dt(256, 192, 4096, TB_MM_FWD, TB_BF16, NULL, 1);
    cr_assert(v.ok, "%lld wrong", (long long)v.n_wrong);
    cr_assert_eq(norm_of(&v)->n_failed, 0);
}

/* late-corruption:2: the first two executions are right; the third leaves the last row of C
 * as it was, which only the poison of reinit (as before the check after timing) shows. */
Test(matmul_host, late_corruption_leaves_the_last_row_unwritten_after_the_nth_execution)
{
    tb_fault late = {TB_FAULT_LATE_CORRUPTION, 2, 0, 0};
    tb_device host;
    tb_device_host(&host);
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_matmul;
    c.impl = impl("host");
    c.dtype = TB_BF16;
    c.axis[0] = 24;
    c.axis[1] = 20;
    c.axis[2] = 64;
    c.axis[3] = TB_MM_WGRAD;
    tb_env env = {&host, NULL, 5, NULL, &late};
    void *state;
    tb_err err;
    tb_verify v;
    cr_assert_eq(c.impl->setup(&c, &env, &state, &err), TB_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(c.impl->run(state, &err), TB_OK);
        cr_assert_eq(tb_bench_matmul.verify(&c, state, &v, &err), TB_OK);
        cr_assert(v.ok, "execution %d looks right (the third keeps the second's last row)",
                  i + 1);
    }
    cr_assert_eq(tb_bench_matmul.reinit(&c, state, &err), TB_OK);
    cr_assert_eq(c.impl->run(state, &err), TB_OK);
    cr_assert_eq(tb_bench_matmul.verify(&c, state, &v, &err), TB_OK);
    cr_assert_not(v.ok);
    cr_assert_eq(v.n_wrong, 20, "the last row");
    cr_assert(isinf(norm_of(&v)->worst), "NaN makes the norm-wise error infinite");
    c.impl->teardown(state);
}

Test(matmul_host, reinit_refills_and_poisons)
{
    tb_device host;
    tb_device_host(&host);
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_matmul;
    c.impl = impl("host");
    c.dtype = TB_BF16;
    c.axis[0] = c.axis[1] = c.axis[2] = 32;
    tb_env env = {&host, NULL, 5, NULL, NULL};
    void *state;
    tb_err err;
    tb_verify v;
    cr_assert_eq(c.impl->setup(&c, &env, &state, &err), TB_OK, "%s", err.msg);
    cr_assert_eq(c.impl->run(state, &err), TB_OK);
    cr_assert_eq(tb_bench_matmul.reinit(&c, state, &err), TB_OK);
    cr_assert_eq(tb_bench_matmul.verify(&c, state, &v, &err), TB_OK);
    cr_assert_eq(v.n_wrong, 32 * 32, "the output is poisoned again");
    cr_assert_eq(c.impl->run(state, &err), TB_OK);
    cr_assert_eq(tb_bench_matmul.verify(&c, state, &v, &err), TB_OK);
    cr_assert(v.ok);
    c.impl->teardown(state);
}

Test(matmul_host, flops_and_peaks)
{
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_matmul;
    c.impl = impl("mma");
    c.axis[0] = 4096;
    c.axis[1] = 4096;
    c.axis[2] = 4096;
    c.dtype = TB_BF16;
    cr_assert_float_eq(tb_bench_matmul.flops(&c), 2.0 * 4096 * 4096 * 4096, 0);
    cr_assert_eq(tb_bench_matmul.peak_kind(&c), TB_PEAK_TENSOR);
    c.dtype = TB_FP32;
    cr_assert_eq(tb_bench_matmul.peak_kind(&c), TB_PEAK_SIMT);
    /* the ladder compares with cuBLAS, listed first */
    cr_assert_str_eq(tb_bench_matmul.impls[0].name, "cublas");
    cr_assert_str_eq(impl("mma")->compare_to, "cublas");
    cr_assert_eq(impl("mma")->min_cc, 80);
}

Test(matmul_host, skip_reasons)
{
    tb_device a100;
    memset(&a100, 0, sizeof a100);
    a100.cc_major = 8;
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_matmul;
    tb_err err;
    c.impl = impl("cublas");
    c.dtype = TB_FP8E4M3;
    c.axis[0] = c.axis[1] = c.axis[2] = 4096;
    cr_assert_eq(c.impl->supports(&c, &a100, &err), TB_SKIP, "no fp8 on sm_80");
    cr_assert(strstr(err.msg, "8.9"), "%s", err.msg);
    c.impl = impl("naive");
    c.dtype = TB_FP32;
    c.axis[0] = c.axis[1] = c.axis[2] = 16384;
    cr_assert_eq(c.impl->supports(&c, &a100, &err), TB_SKIP);
    c.impl = impl("simt");
    c.axis[0] = c.axis[1] = c.axis[2] = 4096;
    c.axis[3] = TB_MM_DGRAD;
    cr_assert_eq(c.impl->supports(&c, &a100, &err), TB_SKIP);
    c.axis[3] = TB_MM_FWD;
    cr_assert_eq(c.impl->supports(&c, &a100, &err), TB_OK);
}

/* The Hopper rows: bf16 only, exactly sm_90 ("needs sm_90a" elsewhere), the fwd layout only,
 * K a multiple of 8 (TMA row strides), and N a multiple of 8 where C is written by TMA. */
Test(matmul_host, wgmma_rows_and_skip_reasons)
{
    static const char *const names[] = {"wgmma", "wgmma_ws", "wgmma_persistent",
                                        "wgmma_cluster"};
    tb_device a100, h100, b200;
    memset(&a100, 0, sizeof a100);
    a100.cc_major = 8;
    h100 = a100;
    h100.cc_major = 9;
    b200 = a100;
    b200.cc_major = 10;
    char why[256];
    tb_err err;
    for (int i = 0; i < 4; i++) {
        const tb_impl *m = impl(names[i]);
        cr_assert_eq(m->min_cc, 90);
        cr_assert_eq(m->max_cc, 90);
        cr_assert_eq(m->dtypes, TB_DT(TB_BF16), "%s", names[i]);
        cr_assert_str_eq(m->compare_to, "cublas");
        cr_assert_not_null(tb_runner_unsupported(m, &a100, why, sizeof why));
        cr_assert(strstr(why, "needs sm_90a") == why, "%s", why);
        cr_assert_not_null(tb_runner_unsupported(m, &b200, why, sizeof why));
        cr_assert_null(tb_runner_unsupported(m, &h100, why, sizeof why));

        tb_case c;
        memset(&c, 0, sizeof c);
        c.bench = &tb_bench_matmul;
        c.impl = m;
        c.dtype = TB_BF16;
        c.axis[0] = 4095;
        c.axis[1] = 4096;
        c.axis[2] = 1000;
        c.axis[3] = TB_MM_FWD;
        cr_assert_eq(m->supports(&c, &h100, &err), TB_OK, "%s: %s", names[i], err.msg);
        c.axis[3] = TB_MM_DGRAD;
        if (i < 3) { /* the top rung alone runs the gradient layouts */
            cr_assert_eq(m->supports(&c, &h100, &err), TB_SKIP);
            cr_assert(strstr(err.msg, "fwd layout only"), "%s", err.msg);
        } else {
            cr_assert_eq(m->supports(&c, &h100, &err), TB_OK, "%s: %s", names[i], err.msg);
            c.axis[3] = TB_MM_WGRAD; /* M = 4095: A is M-contiguous, TMA needs 16-byte rows */
            cr_assert_eq(m->supports(&c, &h100, &err), TB_SKIP);
            cr_assert(strstr(err.msg, "M a multiple of 8"), "%s", err.msg);
            c.axis[0] = 4096;
            cr_assert_eq(m->supports(&c, &h100, &err), TB_OK, "%s: %s", names[i], err.msg);
            c.axis[0] = 4095;
        }
        c.axis[3] = TB_MM_FWD;
        c.axis[2] = 1001;
        cr_assert_eq(m->supports(&c, &h100, &err), TB_SKIP);
        cr_assert(strstr(err.msg, "K a multiple of 8"), "%s", err.msg);
        c.axis[2] = 1000;
        c.axis[1] = 1001; /* ragged N: predicated stores handle it, TMA stores cannot */
        cr_assert_eq(m->supports(&c, &h100, &err), i < 2 ? TB_OK : TB_SKIP, "%s", names[i]);
    }
    cr_assert_null(tb_mm_wg_unsupported(TB_MM_WG_PLAIN, TB_MM_FWD, 1, 1, 8));
    cr_assert_not_null(tb_mm_wg_unsupported(TB_MM_WG_CLUSTER, TB_MM_FWD, 0, 8, 8));
}

/* `trainbench run matmul --host --dtype bf16` at M = N = 256, K = 4096: wrong and exit 1 with
 * mm-drop-kslice, caught by the element-wise and the norm-wise check; ok and exit 0 without. */
Test(matmul_host, a_dropped_k_slice_run_is_wrong_and_exits_1, .timeout = 300)
{
    char path[512];
    tmp_path(path, sizeof path, "mm_drop.jsonl");
    for (int fault = 1; fault >= 0; fault--) {
        cli_result *r = run_cli(fault ? "TRAINBENCH_TEST_FAULT=mm-drop-kslice" : NULL, "run",
                                "matmul", "--host", "--dtype", "bf16", "--m", "256", "--n",
                                "256", "--k", "4096", "--min-samples", "2", "--min-time", "0",
                                "--max-noise", "100", "-q", "-o", path, NULL);
        cr_assert_eq(r->code, fault ? 1 : 0, "fault %d: exit %d: %s", fault, r->code, r->err);
        cJSON *rs[2];
        cr_assert_eq(results(path, rs, 2), 1);
        cJSON *v = cJSON_GetObjectItem(rs[0], "verify"), *norm = cJSON_GetObjectItem(v, "norm");
        const char *status = cJSON_GetObjectItem(rs[0], "status")->valuestring;
        double n_wrong = cJSON_GetObjectItem(v, "n_wrong")->valuedouble;
        double n_failed = cJSON_GetObjectItem(norm, "n_failed")->valuedouble;
        if (fault) {
            cr_assert_str_eq(status, "wrong");
            const char *reason = cJSON_GetObjectItem(rs[0], "reason")->valuestring;
            cr_assert(strstr(reason, "values outside tolerance") && strstr(reason, "norm: 1 of 1 "
                                                                                   "matrices"),
                      "%s", reason);
            cr_assert_gt(n_wrong, 0);
            cr_assert_eq(n_failed, 1);
        } else {
            cr_assert_str_eq(status, "ok");
            cr_assert_eq(n_wrong, 0);
            cr_assert_eq(n_failed, 0);
            cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "after"), "ok")));
        }
        cJSON_Delete(rs[0]);
    }
    remove(path);
}
