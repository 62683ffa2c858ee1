#include <criterion/criterion.h>
#include <string.h>

#include "timer.h"

/* A fake device: sample k takes pattern[k % n] seconds; the fake clock advances tick per
 * sample. */
typedef struct {
    const double *pattern;
    int n;
    int taken;
    int fail_at; /* sample index that fails, or -1 */
    double now;
    double tick;
} fake;

static tb_status fake_sample(void *ctx, double *per_op, double *spent, tb_err *err)
{
    fake *f = ctx;
    if (f->taken == f->fail_at)
        return tb_err_set(err, TB_DEVFAIL, "fake device failure at sample %d", f->taken);
    *per_op = f->pattern[f->taken % f->n];
    *spent = *per_op;
    f->taken++;
    f->now += f->tick;
    return TB_OK;
}

static double fake_clock(void *ctx)
{
    return ((fake *)ctx)->now;
}

static tb_status measure(fake *f, tb_stop_rule rule, tb_samples *out)
{
    tb_err err;
    return tb_timer_measure(&rule, fake_sample, f, fake_clock, f, out, &err);
}

Test(timer, stops_on_low_noise_once_min_time_is_reached)
{
    const double steady[] = {1e-3};
    fake f = {steady, 1, 0, -1, 0.0, 1.0 / 1024};
    tb_stop_rule rule = {10, 0.5, 0.005, 15.0};
    tb_samples s;
    cr_assert_eq(measure(&f, rule, &s), TB_OK);
    cr_assert_eq(s.reason, TB_STOP_CONVERGED);
    cr_assert_eq(s.count, 500, "0.5 s of 1 ms samples, got %zu", s.count);
    cr_assert_float_eq(s.measured_time, 0.5, 1e-9);
    tb_samples_free(&s);
}

Test(timer, never_stops_before_min_samples)
{
    const double steady[] = {1e-3};
    fake f = {steady, 1, 0, -1, 0.0, 1.0 / 1024};
    tb_stop_rule rule = {50, 0.0, 0.005, 15.0};
    tb_samples s;
    cr_assert_eq(measure(&f, rule, &s), TB_OK);
    cr_assert_eq(s.reason, TB_STOP_CONVERGED);
    cr_assert_eq(s.count, 50);
    tb_samples_free(&s);
}

Test(timer, noisy_samples_run_until_timeout)
{
    const double noisy[] = {1e-3, 2e-3}; /* rel stdev ~ 33 % */
    fake f = {noisy, 2, 0, -1, 0.0, 1.0 / 64};
    tb_stop_rule rule = {10, 0.0, 0.005, 1.0};
    tb_samples s;
    cr_assert_eq(measure(&f, rule, &s), TB_OK);
    cr_assert_eq(s.reason, TB_STOP_TIMEOUT);
    cr_assert_eq(s.count, 64, "1 s of 1/64 s ticks, got %zu", s.count);
    tb_samples_free(&s);
}

Test(timer, timeout_wins_over_min_samples)
{
    const double steady[] = {1e-3};
    fake f = {steady, 1, 0, -1, 0.0, 0.25};
    tb_stop_rule rule = {1000, 0.5, 0.005, 1.0};
    tb_samples s;
    cr_assert_eq(measure(&f, rule, &s), TB_OK);
    cr_assert_eq(s.reason, TB_STOP_TIMEOUT);
    cr_assert_eq(s.count, 4);
    tb_samples_free(&s);
}

Test(timer, noise_settling_late_converges_late)
{
    /* 20 noisy samples then steady ones: the noise of all samples must fall under 0.5 %. */
    double pattern[4000];
    for (int i = 0; i < 4000; i++)
        pattern[i] = i < 20 ? (i % 2 ? 1.033e-3 : 0.967e-3) : 1e-3;
    fake f = {pattern, 4000, 0, -1, 0.0, 1.0 / 1024};
    tb_stop_rule rule = {10, 0.0, 0.005, 100.0};
    tb_samples s;
    cr_assert_eq(measure(&f, rule, &s), TB_OK);
    cr_assert_eq(s.reason, TB_STOP_CONVERGED);
    /* 20 samples 3.3e-5 off a 1e-3 mean: sqrt(20 * 3.3e-5^2 / (n - 1)) / 1e-3 < 0.005
     * first holds at n - 1 = 872 (871.2 is the bound) */
    cr_assert_eq(s.count, 873, "got %zu", s.count);
    tb_samples_free(&s);
}

Test(timer, sampler_failure_is_returned_with_samples_kept)
{
    const double steady[] = {1e-3};
    fake f = {steady, 1, 0, 3, 0.0, 0.01};
    tb_stop_rule rule = TB_STOP_RULE_DEFAULT;
    tb_samples s;
    tb_err err;
    cr_assert_eq(tb_timer_measure(&rule, fake_sample, &f, fake_clock, &f, &s, &err), TB_DEVFAIL);
    cr_assert_eq(s.count, 3);
    cr_assert(strstr(err.msg, "sample 3"), "%s", err.msg);
    tb_samples_free(&s);
}

Test(timer, stop_check_directly)
{
    tb_stop_rule rule = {10, 0.5, 0.005, 15.0};
    cr_assert_eq(tb_stop_check(&rule, 9, 0.0, 1.0, 1.0), TB_STOP_CONTINUE);
    cr_assert_eq(tb_stop_check(&rule, 10, 0.0, 0.49, 1.0), TB_STOP_CONTINUE);
    cr_assert_eq(tb_stop_check(&rule, 10, 0.006, 0.5, 1.0), TB_STOP_CONTINUE);
    cr_assert_eq(tb_stop_check(&rule, 10, 0.004, 0.5, 1.0), TB_STOP_CONVERGED);
    cr_assert_eq(tb_stop_check(&rule, 1, 1.0, 0.0, 15.0), TB_STOP_TIMEOUT);
}

Test(timer, rule_validation_names_the_option)
{
    tb_err err;
    tb_stop_rule r = {0, 0.5, 0.005, 15};
    cr_assert_eq(tb_stop_rule_validate(&r, &err), TB_USAGE);
    cr_assert(strstr(err.msg, "--min-samples"), "%s", err.msg);
    r = (tb_stop_rule){10, -1, 0.005, 15};
    cr_assert_eq(tb_stop_rule_validate(&r, &err), TB_USAGE);
    cr_assert(strstr(err.msg, "--min-time"), "%s", err.msg);
    r = (tb_stop_rule){10, 0.5, 0, 15};
    cr_assert_eq(tb_stop_rule_validate(&r, &err), TB_USAGE);
    cr_assert(strstr(err.msg, "--max-noise"), "%s", err.msg);
    r = (tb_stop_rule){10, 0.5, 0.005, 0};
    cr_assert_eq(tb_stop_rule_validate(&r, &err), TB_USAGE);
    cr_assert(strstr(err.msg, "--timeout"), "%s", err.msg);
    r = (tb_stop_rule)TB_STOP_RULE_DEFAULT;
    cr_assert_eq(tb_stop_rule_validate(&r, &err), TB_OK);
}

/* The host's rule has no noise criterion: it stops at the minimums, however noisy. */
Test(timer, host_rule_stops_at_the_minimums)
{
    tb_stop_rule rule = TB_STOP_RULE_HOST;
    cr_assert(isinf(rule.max_noise));
    cr_assert_eq(tb_stop_rule_validate(&rule, NULL), TB_OK);
    cr_assert_eq(tb_stop_check(&rule, 9, 0.0, 1.0, 1.0), TB_STOP_CONTINUE);
    cr_assert_eq(tb_stop_check(&rule, 10, 0.0, 0.19, 1.0), TB_STOP_CONTINUE);
    cr_assert_eq(tb_stop_check(&rule, 10, 3.0, 0.2, 1.0), TB_STOP_MINIMUM);
    cr_assert_eq(tb_stop_check(&rule, 1, INFINITY, 0.2, 1.0), TB_STOP_CONTINUE);
    rule.min_samples = 1;
    cr_assert_eq(tb_stop_check(&rule, 1, INFINITY, 0.2, 1.0), TB_STOP_MINIMUM,
                 "one sample has no noise, and needs none");
    cr_assert_str_eq(tb_stop_reason_name(TB_STOP_MINIMUM), "minimum");
}
