/* membw's host implementations and verification, through the benchmark table as the harness
 * uses it. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "benches.h"
#include "runner.h"

static const tb_impl *impl(const char *name)
{
    const tb_impl *m = tb_bench_impl(&tb_bench_membw, name);
    cr_assert_not_null(m, "no impl %s", name);
    return m;
}

static tb_case mkcase(const char *name, int64_t bytes)
{
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_membw;
    c.impl = impl(name);
    c.dtype = TB_FP32;
    c.axis[0] = bytes;
    return c;
}

static tb_device host;

static tb_verify setup_run_verify(const char *name, int64_t bytes, int run)
{
    tb_device_host(&host);
    tb_case c = mkcase(name, bytes);
    tb_env env = {&host, NULL, 99, NULL, NULL};
    void *state = NULL;
    tb_err err;
    cr_assert_eq(c.impl->setup(&c, &env, &state, &err), TB_OK, "%s", err.msg);
    if (run)
        cr_assert_eq(c.impl->run(state, &err), TB_OK);
    tb_verify v;
    cr_assert_eq(tb_bench_membw.verify(&c, state, &v, &err), TB_OK);
    c.impl->teardown(state);
    return v;
}

static const char *const host_impls[] = {"host-copy", "host-scale", "host-add", "host-triad",
                                         "host-sum", NULL};

Test(membw_host, every_host_impl_verifies_including_ragged_sizes)
{
    /* 1 MiB, and sizes whose element count is not a multiple of 4 */
    const int64_t sizes[] = {1 << 20, (1 << 20) + 4, (1 << 20) + 12, 64};
    for (int i = 0; host_impls[i]; i++)
        for (int k = 0; k < 4; k++) {
            tb_verify v = setup_run_verify(host_impls[i], sizes[k], 1);
            cr_assert(v.ok, "%s at %lld bytes: %lld wrong", host_impls[i], (long long)sizes[k],
                      (long long)v.n_wrong);
            cr_assert_eq(v.n_checked, sizes[k] / 4);
            cr_assert_eq(v.n_wrong, 0);
        }
}

Test(membw_host, unwritten_output_is_caught)
{
    /* setup poisons the output with NaN; verifying without running must fail */
    for (int i = 0; host_impls[i]; i++) {
        tb_verify v = setup_run_verify(host_impls[i], 4096, 0);
        cr_assert_not(v.ok, "%s passed without running", host_impls[i]);
        cr_assert(isinf(v.max_abs_err), "%s: NaN counts as an infinite error", host_impls[i]);
        if (strcmp(host_impls[i], "host-sum") != 0)
            cr_assert_eq(v.n_wrong, 1024);
    }
}

Test(membw_host, bytes_counted_as_reference)
{
    /* copy and scale 2 words per element, add and triad 3, sum 1 */
    const int64_t b = 1 << 20;
    tb_case c = mkcase("copy", b);
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 2.0 * b, 0);
    c = mkcase("scale", b);
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 2.0 * b, 0);
    c = mkcase("add", b);
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 3.0 * b, 0);
    c = mkcase("host-triad", b);
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 3.0 * b, 0);
    c = mkcase("sum", b);
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 1.0 * b, 0);
    c = mkcase("memcpy", b);
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 2.0 * b, 0);
    c = mkcase("h2d", b);
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 1.0 * b, 0);
    c = mkcase("triad", b + 2); /* whole elements only */
    cr_assert_float_eq(tb_bench_membw.bytes(&c), 3.0 * b, 0);
}

Test(membw_host, peaks_and_baselines)
{
    tb_case c = mkcase("triad", 1 << 20);
    cr_assert_eq(tb_bench_membw.peak_kind(&c), TB_PEAK_MEMORY);
    c = mkcase("h2d", 1 << 20);
    cr_assert_eq(tb_bench_membw.peak_kind(&c), TB_PEAK_NONE, "no HBM peak for PCIe copies");
    /* host-link copies are measured one GPU at a time; the rest run on all GPUs at once */
    cr_assert_eq(impl("h2d")->exclusive, 1);
    cr_assert_eq(impl("d2h")->exclusive, 1);
    cr_assert_eq(impl("triad")->exclusive, 0);
    cr_assert_eq(impl("memcpy")->exclusive, 0);
    /* every compare_to names an implementation of the table listed before it */
    for (int i = 0; i < tb_bench_membw.n_impls; i++) {
        const char *base = tb_bench_membw.impls[i].compare_to;
        if (!base)
            continue;
        int found = 0;
        for (int j = 0; j < i; j++)
            found |= !strcmp(tb_bench_membw.impls[j].name, base);
        cr_assert(found, "%s compares to %s, which must come first",
                  tb_bench_membw.impls[i].name, base);
    }
}

Test(membw_host, runner_says_which_device_an_impl_needs)
{
    tb_device_host(&host);
    char b[256];
    cr_assert_not_null(tb_runner_unsupported(impl("copy"), &host, b, sizeof b));
    cr_assert_str_eq(b, "needs a GPU");
    cr_assert_null(tb_runner_unsupported(impl("host-copy"), &host, b, sizeof b));
    tb_device a100;
    memset(&a100, 0, sizeof a100);
    a100.cc_major = 8;
    tb_impl hopper = *impl("copy");
    hopper.min_cc = hopper.max_cc = 90;
    cr_assert_not_null(tb_runner_unsupported(&hopper, &a100, b, sizeof b));
    cr_assert_str_eq(b, "needs sm_90a (compute capability 9.0), GPU 0 is 8.0");
    cr_assert_null(tb_runner_unsupported(impl("copy"), &a100, b, sizeof b));
}

/* reinit poisons the outputs and refills the inputs; under late-corruption:1 the second
 * execution leaves the tail block of 256 elements out, which only that poison shows. */
Test(membw_host, reinit_poisons_and_late_corruption_drops_the_tail_block)
{
    tb_fault late = {TB_FAULT_LATE_CORRUPTION, 1, 0, 0};
    for (int i = 0; host_impls[i]; i++) {
        tb_device_host(&host);
        tb_case c = mkcase(host_impls[i], 1 << 16);
        tb_env env = {&host, NULL, 99, NULL, &late};
        void *state = NULL;
        tb_err err;
        tb_verify v;
        int is_sum = !strcmp(host_impls[i], "host-sum");
        cr_assert_eq(c.impl->setup(&c, &env, &state, &err), TB_OK, "%s", err.msg);
        cr_assert_eq(c.impl->run(state, &err), TB_OK);
        cr_assert_eq(tb_bench_membw.verify(&c, state, &v, &err), TB_OK);
        cr_assert(v.ok, "%s: the first execution is right", host_impls[i]);
        cr_assert_eq(tb_bench_membw.reinit(&c, state, &err), TB_OK);
        cr_assert_eq(tb_bench_membw.verify(&c, state, &v, &err), TB_OK);
        cr_assert_not(v.ok, "%s: reinit poisons the output", host_impls[i]);
        cr_assert_eq(c.impl->run(state, &err), TB_OK);
        cr_assert_eq(tb_bench_membw.verify(&c, state, &v, &err), TB_OK);
        cr_assert_not(v.ok, "%s: the second execution is wrong", host_impls[i]);
        if (!is_sum)
            cr_assert_eq(v.n_wrong, 256, "%s: the tail block", host_impls[i]);
        c.impl->teardown(state);
    }
}
