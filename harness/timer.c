#include "timer.h"

#include "grow.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *tb_stop_reason_name(tb_stop_reason r)
{
    switch (r) {
    case TB_STOP_CONVERGED: return "converged";
    case TB_STOP_TIMEOUT: return "timeout";
    case TB_STOP_CONTINUE: return "continue";
    case TB_STOP_MINIMUM: return "minimum";
    }
    return "unknown";
}

tb_stop_reason tb_stop_check(const tb_stop_rule *rule, size_t n_samples, double rel_stdev,
                             double measured_time, double wall_elapsed)
{
    if (wall_elapsed >= rule->timeout)
        return TB_STOP_TIMEOUT;
    if (n_samples < (size_t)rule->min_samples || measured_time < rule->min_time)
        return TB_STOP_CONTINUE;
    if (isinf(rule->max_noise))
        return TB_STOP_MINIMUM;
    return rel_stdev < rule->max_noise ? TB_STOP_CONVERGED : TB_STOP_CONTINUE;
}

double tb_clock_monotonic(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

tb_status tb_timer_measure(const tb_stop_rule *rule, tb_sample_fn sample, void *sample_ctx,
                           tb_clock_fn clock, void *clock_ctx, tb_samples *out, tb_err *err)
{
    memset(out, 0, sizeof *out);
    double t0 = clock(clock_ctx);
    double mean = 0, m2 = 0; /* Welford's running moments, for the noise after each sample */
    for (;;) {
        double per_op = 0, spent = 0;
        tb_status st = sample(sample_ctx, &per_op, &spent, err);
        out->wall_time = clock(clock_ctx) - t0;
        if (st)
            return st;
        double *np = tb_grow(out->per_op, &out->cap, out->count + 1, sizeof *np);
        if (!np)
            return tb_err_set(err, TB_DEVFAIL, "out of host memory after %zu samples",
                              out->count);
        out->per_op = np;
        out->per_op[out->count++] = per_op;
        out->measured_time += spent;
        double d = per_op - mean;
        mean += d / (double)out->count;
        m2 += d * (per_op - mean);
        double rel = (out->count > 1 && mean != 0.0)
                         ? sqrt(m2 / (double)(out->count - 1)) / fabs(mean)
                         : INFINITY;
        tb_stop_reason r = tb_stop_check(rule, out->count, rel, out->measured_time,
                                         out->wall_time);
        if (r != TB_STOP_CONTINUE) {
            out->reason = r;
            return TB_OK;
        }
    }
}

void tb_samples_free(tb_samples *s)
{
    free(s->per_op);
    memset(s, 0, sizeof *s);
}

tb_status tb_stop_rule_validate(const tb_stop_rule *rule, tb_err *err)
{
    if (rule->min_samples < 1 || rule->min_samples > 1000000)
        return tb_err_set(err, TB_USAGE, "--min-samples: %d is out of range (use 1 to 1000000)",
                          rule->min_samples);
    if (!(rule->min_time >= 0.0) || rule->min_time > 3600.0)
        return tb_err_set(err, TB_USAGE, "--min-time: %g is out of range (use 0 to 3600 seconds)",
                          rule->min_time);
    if (!(rule->max_noise > 0.0) || (rule->max_noise > 1.0 && !isinf(rule->max_noise)))
        return tb_err_set(err, TB_USAGE,
                          "--max-noise: %g %% is out of range (use a percentage above 0, at most "
                          "100)",
                          rule->max_noise * 100.0);
    if (!(rule->timeout > 0.0) || rule->timeout > 86400.0)
        return tb_err_set(err, TB_USAGE, "--timeout: %g is out of range (use 0 < seconds <= 86400)",
                          rule->timeout);
    return TB_OK;
}

tb_status tb_poll_wait(tb_poll_fn poll, void *poll_ctx, const char *what, double timeout_s,
                       tb_clock_fn clock, void *clock_ctx, int *timed_out, tb_err *err)
{
    if (!clock)
        clock = tb_clock_monotonic;
    double deadline = clock(clock_ctx) + timeout_s;
    for (;;) {
        char why[512] = "";
        tb_poll_state state = poll(poll_ctx, why, sizeof why);
        if (state == TB_POLL_DONE)
            return TB_OK;
        if (state == TB_POLL_FAILED)
            return tb_err_set(err, TB_DEVFAIL, "%s failed: %s", what,
                              why[0] ? why : "no reason given");
        if (clock(clock_ctx) > deadline) {
            if (timed_out)
                *timed_out = 1;
            return tb_err_set(err, TB_DEVFAIL, "timed out after %g s waiting for %s", timeout_s,
                              what);
        }
        sched_yield();
    }
}
