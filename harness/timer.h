/* timer.h - the measurement loop and its stopping rule (nvbench's names).
 *
 * The loop knows nothing about GPUs: it asks a sampler for one sample at a time and a clock
 * for the wall time, both injected, so the rule is tested on the CPU with fakes. */
#ifndef TB_TIMER_H
#define TB_TIMER_H

#include <math.h>
#include <stddef.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int min_samples;  /* never stop before this many samples (--min-samples, default 10) */
    double min_time;  /* ... nor before this much measured time, seconds (--min-time, 0.5) */
    double max_noise; /* then stop once relative stdev < this, a fraction (--max-noise 0.5 %) */
    double timeout;   /* always stop after this much wall time, seconds (--timeout, 15) */
} tb_stop_rule;

#define TB_STOP_RULE_DEFAULT {10, 0.5, 0.005, 15.0}

/* The rule of host (CPU) runs. Their times come from threads the OS schedules on a machine
 * that is often shared: the relative stdev rarely settles under any fixed level, so waiting
 * for it only runs every case to the timeout. A host case stops once it has min_samples and
 * min_time (0.2 s); max_noise INFINITY means no noise criterion (the noise is still recorded). */
#define TB_STOP_RULE_HOST {10, 0.2, INFINITY, 15.0}

typedef enum {
    TB_STOP_CONTINUE = 0,
    TB_STOP_CONVERGED, /* min samples and min time reached, noise under max_noise */
    TB_STOP_TIMEOUT,   /* wall time reached timeout first */
    TB_STOP_MINIMUM    /* min samples and min time reached; the rule has no noise criterion */
} tb_stop_reason;

const char *tb_stop_reason_name(tb_stop_reason r);

/* The rule itself: given the samples so far, the measured time they cover and the wall time
 * since the loop started, whether to stop and why. */
tb_stop_reason tb_stop_check(const tb_stop_rule *rule, size_t n_samples, double rel_stdev,
                             double measured_time, double wall_elapsed);

/* Takes one sample: *per_op = seconds per execution, *spent = measured seconds the sample
 * covered (a batch of 100 runs of 10 us spends 1 ms). */
typedef tb_status (*tb_sample_fn)(void *ctx, double *per_op, double *spent, tb_err *err);

/* Returns the current wall time in seconds (any origin). */
typedef double (*tb_clock_fn)(void *ctx);

/* A monotonic wall clock (CLOCK_MONOTONIC); ctx is unused. */
double tb_clock_monotonic(void *ctx);

typedef struct {
    double *per_op; /* the samples, seconds per execution */
    size_t count;
    size_t cap;
    double measured_time;
    double wall_time;
    tb_stop_reason reason;
} tb_samples;

/* Samples until the rule says stop. Returns TB_OK with the samples in *out (free with
 * tb_samples_free) or the sampler's failure status (samples so far are kept). */
tb_status tb_timer_measure(const tb_stop_rule *rule, tb_sample_fn sample, void *sample_ctx,
                           tb_clock_fn clock, void *clock_ctx, tb_samples *out, tb_err *err);

void tb_samples_free(tb_samples *s);

/* Checks a rule's values; returns TB_USAGE naming the bad option. max_noise INFINITY (no
 * noise criterion) is accepted. */
tb_status tb_stop_rule_validate(const tb_stop_rule *rule, tb_err *err);

/* ---- waiting on asynchronous work that reports its own state ---- */

typedef enum {
    TB_POLL_DONE = 0,
    TB_POLL_PENDING, /* still in progress: ask again */
    TB_POLL_FAILED   /* failed: the reason is in why */
} tb_poll_state;

/* Asks once whether the work has finished; on TB_POLL_FAILED writes the reason to why. */
typedef tb_poll_state (*tb_poll_fn)(void *ctx, char *why, size_t whylen);

/* Polls until the work is done or failed, or until timeout_s seconds of clock time have
 * passed (clock NULL: tb_clock_monotonic), yielding the CPU between polls. Returns TB_OK;
 * TB_DEVFAIL "WHAT failed: WHY"; or TB_DEVFAIL "timed out after S s waiting for WHAT" with
 * *timed_out set (timed_out may be NULL). */
tb_status tb_poll_wait(tb_poll_fn poll, void *poll_ctx, const char *what, double timeout_s,
                       tb_clock_fn clock, void *clock_ctx, int *timed_out, tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
