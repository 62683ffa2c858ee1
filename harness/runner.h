/* runner.h - runs a list of cases on each device: one thread per GPU, all loaded at once
 * (how a node trains, and what exposes a weak GPU), or one device at a time with serial.
 *
 * Per case: check the device can run it -> setup -> one run -> verify -> measure -> reinit
 * (inputs refilled, outputs poisoned), one more run, verify again (tb_result.verify_after) ->
 * record -> teardown. A result wrong before timing is recorded and not timed; one wrong only
 * after it is recorded wrong, with its figures and a reason that says so. Implementations marked exclusive
 * (they measure something the GPUs share, such as the host link) run on one GPU at a time. A
 * device failure is recorded and stops that device's remaining cases; results already
 * written stay written.
 *
 * The cases of a collective benchmark (tb_bench.collective) run after the others, once, on
 * every device together as one group, driven from one thread: timed by nccl-tests' method
 * (sampler.h), every wait bounded by the stopping rule's timeout (a hang is aborted through
 * tb_bench.abort, recorded as timed out, and stops the group), and checked again after the
 * timed loop (tb_bench.reinit) like every case. A case a library
 * refused (TB_CASEFAIL) is recorded as an error and the group goes on; the run exits 4.
 *
 * Rounds: with opts->rounds R > 1 the whole list runs R times, each round in its own order (a
 * shuffle seeded by opts->seed and the round, the same on every run with that seed), every
 * case set up afresh each round. A case's row is written when its last round finishes: its
 * time statistics summarize the per-round medians (the headline median is the median of the
 * rounds), which the row keeps in round order. A case that is skipped, wrong or fails in any
 * round is written then and not run again. A device failure or an interruption loses the
 * rounds of the cases whose last round had not finished. */
#ifndef TB_RUNNER_H
#define TB_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "device.h"
#include "fault.h"
#include "nvml.h"
#include "record.h"
#include "timer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rounds per case by default: seven, so that one outlying round moves neither compare's test
 * nor its interval. With five, a bootstrap resample's median is a side's smallest or largest
 * round 5.8 % of the time each, so the 95 % interval always reaches a side's extremes and one
 * slow round makes a 2x slowdown AMBIGUOUS; with seven it is 1.0 %, inside the interval's
 * 2.5 % tails. README, "compare". */
#define TB_DEFAULT_ROUNDS 7
#define TB_MAX_ROUNDS 1000

typedef struct {
    tb_stop_rule rule;
    int cold;       /* flush L2 before every single-execution sample */
    int serial;     /* one device at a time */
    int progress;   /* a progress line on stderr */
    uint64_t seed;  /* input data seed */
    tb_fault fault; /* TRAINBENCH_TEST_FAULT: handed to every implementation in tb_env */
    int rounds;     /* rounds of the whole list (0 or 1: one, in the given order) */
} tb_run_opts;

/* Why a device cannot run an implementation ("needs compute capability 8.9 or newer, GPU 0 is
 * 8.0"; one exact capability names its architecture-specific target: "needs sm_90a (compute
 * capability 9.0), GPU 0 is 8.0"), or NULL when it can. */
const char *tb_runner_unsupported(const tb_impl *impl, const tb_device *dev, char *buf,
                                  size_t buflen);

/* Why an implementation cannot run a dtype ("mma does not run fp8 (it runs bf16, fp16)"), or
 * NULL when it can. */
const char *tb_runner_unsupported_dtype(const tb_impl *impl, tb_dtype dtype, char *buf,
                                        size_t buflen);

/* Runs the cases on every device. Returns TB_OK, TB_WRONG when any result was wrong, or
 * TB_DEVFAIL when a device or library failure stopped a device (err holds the first). */
tb_status tb_runner_run(const tb_case *cases, size_t ncases, const tb_device *devs, int ndev,
                        const tb_run_opts *opts, tb_nvml *nvml, tb_writer *w, tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
