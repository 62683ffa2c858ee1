#include "runner.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudacheck.h"
#include "sampler.h"
#include "specs.h"

/* A case's rounds so far: the medians measured, and whether its row is written. */
typedef struct {
    double *median; /* one per planned round */
    int n;
    int done;
    size_t samples;
} round_slot;

typedef struct {
    const tb_case *cases;
    size_t ncases;
    const tb_device *dev;
    const tb_run_opts *opts;
    tb_nvml *nvml;
    tb_writer *w;
    pthread_mutex_t *progress_lock;
    pthread_mutex_t *exclusive_lock; /* held through exclusive cases */
    tb_status status; /* worst outcome on this device */
    tb_err err;       /* the first failure's message */
    int n_group;      /* collective cases: the devices of the group (dev is the first) */
    round_slot *slots; /* per case, in cases' order */
    int round;        /* the round running (0-based) */
} worker;

const char *tb_runner_unsupported_dtype(const tb_impl *impl, tb_dtype dtype, char *buf,
                                        size_t buflen)
{
    if (impl->dtypes & TB_DT(dtype))
        return NULL;
    char have[64] = "";
    for (int d = 0; d < TB_DTYPE_COUNT; d++)
        if (impl->dtypes & TB_DT(d)) {
            size_t used = strlen(have);
            snprintf(have + used, sizeof have - used, "%s%s", used ? ", " : "",
                     tb_dtype_name((tb_dtype)d));
        }
    snprintf(buf, buflen, "%s does not run %s (it runs %s)", impl->name, tb_dtype_name(dtype),
             have);
    return buf;
}

const char *tb_runner_unsupported(const tb_impl *impl, const tb_device *dev, char *buf,
                                  size_t buflen)
{
    if (dev->is_host != (impl->kind == TB_KIND_HOST)) {
        snprintf(buf, buflen, "%s", dev->is_host ? "needs a GPU" : "runs on the host (--host)");
        return buf;
    }
    if (dev->is_host)
        return NULL;
    int cc = tb_device_cc(dev);
    if ((impl->min_cc && cc < impl->min_cc) || (impl->max_cc && cc > impl->max_cc)) {
        char range[64];
        if (impl->min_cc && impl->max_cc == impl->min_cc) {
            /* one exact capability: the architecture-specific target (wgmma, setmaxnreg) */
            snprintf(buf, buflen, "needs sm_%da (compute capability %d.%d), GPU %d is %d.%d",
                     impl->min_cc, impl->min_cc / 10, impl->min_cc % 10, dev->ordinal,
                     dev->cc_major, dev->cc_minor);
            return buf;
        }
        if (impl->min_cc && impl->max_cc)
            snprintf(range, sizeof range, "%d.%d to %d.%d", impl->min_cc / 10, impl->min_cc % 10,
                     impl->max_cc / 10, impl->max_cc % 10);
        else if (impl->min_cc)
            snprintf(range, sizeof range, "%d.%d or newer", impl->min_cc / 10, impl->min_cc % 10);
        else
            snprintf(range, sizeof range, "%d.%d or older", impl->max_cc / 10, impl->max_cc % 10);
        snprintf(buf, buflen, "needs compute capability %s, GPU %d is %d.%d", range, dev->ordinal,
                 dev->cc_major, dev->cc_minor);
        return buf;
    }
    return NULL;
}

static int same_point(const tb_case *a, const tb_case *b)
{
    return a->bench == b->bench && a->dtype == b->dtype &&
           memcmp(a->axis, b->axis, sizeof a->axis) == 0;
}

static int planned_rounds(const worker *wk)
{
    return wk->opts->rounds > 1 ? wk->opts->rounds : 1;
}

/* The figure (TFLOP/s, else GB/s) of a case at time t per execution. */
static double figure_at(const tb_case *c, double t)
{
    double flops = c->bench->flops ? c->bench->flops(c) : 0;
    double bytes = c->bench->bytes ? c->bench->bytes(c) : 0;
    return flops > 0 ? flops / t / 1e12 : bytes > 0 ? bytes / t / 1e9 : NAN;
}

/* The vendor baseline's figure on this device (or group): the median of the rounds it has
 * measured so far, or NAN. */
static double find_baseline(worker *wk, const tb_case *c)
{
    if (!c->impl->compare_to)
        return NAN;
    for (size_t i = 0; i < wk->ncases; i++) {
        const tb_case *b = &wk->cases[i];
        const round_slot *s = &wk->slots[i];
        if (s->n > 0 && same_point(b, c) && strcmp(b->impl->name, c->impl->compare_to) == 0) {
            tb_stats st;
            if (tb_stats_compute(s->median, (size_t)s->n, &st) == 0)
                return figure_at(b, st.median);
        }
    }
    return NAN;
}

static void progress(worker *wk, size_t i, const tb_case *c)
{
    if (!wk->opts->progress)
        return;
    char cs[160];
    tb_record_case_text(c, cs, sizeof cs);
    if (planned_rounds(wk) > 1) {
        size_t used = strlen(cs);
        snprintf(cs + used, sizeof cs - used, " (round %d/%d)", wk->round + 1, planned_rounds(wk));
    }
    pthread_mutex_lock(wk->progress_lock);
    if (wk->n_group > 1)
        fprintf(stderr, "\r\033[K[%d GPUs] %zu/%zu %s %s %s %s", wk->n_group, i + 1, wk->ncases,
                c->bench->name, c->impl->name, tb_dtype_name(c->dtype), cs);
    else if (wk->dev->is_host)
        fprintf(stderr, "\r\033[K[host] %zu/%zu %s %s %s %s", i + 1, wk->ncases, c->bench->name,
                c->impl->name, tb_dtype_name(c->dtype), cs);
    else
        fprintf(stderr, "\r\033[K[gpu %d] %zu/%zu %s %s %s %s", wk->dev->ordinal, i + 1,
                wk->ncases, c->bench->name, c->impl->name, tb_dtype_name(c->dtype), cs);
    fflush(stderr);
    pthread_mutex_unlock(wk->progress_lock);
}

static void clear_progress(worker *wk)
{
    if (!wk->opts->progress)
        return;
    pthread_mutex_lock(wk->progress_lock);
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    pthread_mutex_unlock(wk->progress_lock);
}

/* Measures one set-up case: sampler, stopping rule, telemetry, statistics, figures. */
static tb_status measure(worker *wk, const tb_case *c, void *state, void *stream,
                         void *flush, size_t flush_bytes, tb_result *r, tb_err *err)
{
    const tb_device *dev = wk->dev;
    void *nvdev = dev->is_host ? NULL : tb_nvml_device(wk->nvml, dev->pci_bus_id);
    tb_sampler s;
    memset(&s, 0, sizeof s);
    s.impl = c->impl;
    s.state = state;
    s.device = dev;
    s.stream = stream;
    s.cold = wk->opts->cold && !dev->is_host;
    s.flush_buf = flush;
    s.flush_bytes = flush_bytes;
    s.flush_sink = flush ? (float *)((char *)flush + flush_bytes) : NULL;
    s.nvml = wk->nvml;
    s.nvml_dev = nvdev;
    s.tel = &r->tel;
    s.fault = &wk->opts->fault;
    tb_status st = tb_sampler_init(&s, err);
    tb_samples samples;
    memset(&samples, 0, sizeof samples);
    if (!st) {
        tb_telemetry_begin(wk->nvml, nvdev, &r->tel);
        st = tb_timer_measure(&wk->opts->rule, tb_sampler_sample, &s, tb_clock_monotonic, NULL,
                              &samples, err);
        tb_telemetry_end(wk->nvml, nvdev, &r->tel);
    }
    r->timing = tb_sampler_timing(&s);
    r->batch = s.batch;
    tb_sampler_destroy(&s);
    if (st) {
        tb_samples_free(&samples);
        return st;
    }
    r->stop = samples.reason;
    if (tb_stats_compute(samples.per_op, samples.count, &r->stats) == 0)
        r->have_stats = 1;
    tb_samples_free(&samples);
    if (!r->have_stats)
        return tb_err_set(err, TB_DEVFAIL, "no samples were taken");
    return TB_OK;
}

/* The rates of a measured case, from its (headline) median: FLOP/s, GB/s, bus bandwidth,
 * % of peak, % of the vendor baseline measured earlier on this device (or group). */
static void figures(worker *wk, const tb_case *c, tb_result *r)
{
    double t = r->stats.median;
    r->tflops = r->flops > 0 ? r->flops / t / 1e12 : NAN;
    r->gbps = r->bytes > 0 ? r->bytes / t / 1e9 : NAN;
    if (r->coll.ranks > 0)
        r->busbw_gbps = r->gbps * r->coll.bus_factor;
    if (r->peak.usable) {
        double fig = r->peak.kind == TB_PEAK_MEMORY ? r->gbps : r->tflops;
        r->pct_peak = 100.0 * fig / r->peak.derived;
    }
    double figure = r->flops > 0 ? r->tflops : r->gbps;
    double base = find_baseline(wk, c);
    if (isfinite(base) && base > 0 && isfinite(figure)) {
        r->pct_vendor = 100.0 * figure / base;
        r->vendor_impl = c->impl->compare_to;
    }
}

/* Writes a case's result and folds its status into the worker's; returns the status
 * (TB_DEVFAIL stops the device; TB_CASEFAIL is an error the run goes on after). */
static tb_status record(worker *wk, tb_result *r, tb_status st, tb_err *err)
{
    r->status = st == TB_CASEFAIL ? TB_DEVFAIL : st;
    clear_progress(wk);
    tb_err werr;
    if (tb_writer_add(wk->w, r, &werr) && !st) {
        st = TB_DEVFAIL;
        snprintf(err->msg, sizeof err->msg, "%s", werr.msg);
    }
    if ((st == TB_DEVFAIL || st == TB_CASEFAIL) && wk->status != TB_DEVFAIL) {
        wk->status = TB_DEVFAIL;
        wk->err = *err;
    } else if (st == TB_WRONG && wk->status == TB_OK) {
        wk->status = TB_WRONG;
        wk->err = *err;
    }
    return st;
}

/* One execution of a per-device case, waited for on the device. */
static tb_status run_once(worker *wk, const tb_case *c, void *state, void *stream, tb_err *err)
{
    tb_status st = c->impl->run(state, err);
    if (!st && !wk->dev->is_host) {
        cudaError_t e = cudaStreamSynchronize((cudaStream_t)stream);
        if (e == cudaSuccess)
            e = cudaGetLastError();
        if (e != cudaSuccess)
            st = tb_err_set(err, TB_DEVFAIL, "%s/%s run failed: %s (%s)", c->bench->name,
                            c->impl->name, cudaGetErrorName(e), cudaGetErrorString(e));
    }
    return st;
}

/* Checks the output of the last execution into v (*have set once checked); a failed check
 * is TB_WRONG with its description, prefixed by `when` ("" before timing). */
static tb_status check_output(const tb_case *c, void *state, const char *when, tb_verify *v,
                              int *have, tb_err *err)
{
    tb_status st = c->bench->verify(c, state, v, err);
    if (st)
        return st;
    *have = 1;
    if (v->ok)
        return TB_OK;
    char why[512];
    tb_verify_describe(v, why, sizeof why);
    return tb_err_set(err, TB_WRONG, "%s%s", when, why);
}

#define AFTER_TIMING "after timing: "

/* The check after the timed loop (nccl-tests' and STREAM's): the inputs refilled and the
 * outputs poisoned by the benchmark's reinit, one more execution, checked into
 * r->verify_after, so a fault that shows only under repetition (a race, a stage reused too
 * early) is a wrong result. No reinit: nothing checked (verify.after null). */
static tb_status verify_after_timing(worker *wk, const tb_case *c, void *state, void *stream,
                                     tb_result *r, tb_err *err)
{
    if (!c->bench->reinit)
        return TB_OK;
    tb_status st = c->bench->reinit(c, state, err);
    if (!st && !wk->dev->is_host) {
        cudaError_t e = cudaStreamSynchronize((cudaStream_t)stream);
        if (e != cudaSuccess)
            st = tb_err_set(err, TB_DEVFAIL, "%s/%s refilling the inputs failed: %s",
                            c->bench->name, c->impl->name, cudaGetErrorString(e));
    }
    if (!st)
        st = run_once(wk, c, state, stream, err);
    if (!st)
        st = check_output(c, state, AFTER_TIMING, &r->verify_after, &r->have_verify_after, err);
    return st;
}

/* Ends one round of case i: keeps its median, and once the case is final (its last round,
 * or anything but ok) computes its headline statistics and figures from the rounds and
 * writes its row. Returns the round's status (TB_DEVFAIL stops the device). */
static tb_status finish_round(worker *wk, size_t i, tb_result *r, tb_status st, tb_err *err)
{
    round_slot *s = &wk->slots[i];
    if (st == TB_OK) {
        s->median[s->n++] = r->stats.median;
        s->samples += r->stats.count;
        if (s->n < planned_rounds(wk))
            return TB_OK;
        if (s->n > 1) {
            tb_stats over;
            if (tb_stats_compute(s->median, (size_t)s->n, &over) == 0)
                r->stats = over;
            r->rounds = s->n;
            r->round_median = s->median;
            r->round_samples = s->samples;
        }
        figures(wk, &wk->cases[i], r);
    }
    s->done = 1;
    return record(wk, r, st, err);
}

/* One round of case i end to end; returns its status (TB_DEVFAIL stops the device). */
static tb_status run_case(worker *wk, size_t i, void *stream, void *flush, size_t flush_bytes)
{
    const tb_case *c = &wk->cases[i];
    tb_result r;
    memset(&r, 0, sizeof r);
    r.c = *c;
    r.device = wk->dev;
    r.tflops = r.gbps = r.pct_peak = r.pct_vendor = r.busbw_gbps = NAN;
    r.flops = c->bench->flops ? c->bench->flops(c) : 0;
    r.bytes = c->bench->bytes ? c->bench->bytes(c) : 0;
    r.alloc_bytes = c->bench->alloc_bytes ? c->bench->alloc_bytes(c) : NAN;
    tb_peak_kind pk = c->bench->peak_kind ? c->bench->peak_kind(c) : TB_PEAK_NONE;
    tb_specs_peak(wk->dev, pk, c->dtype, &r.peak);

    tb_err err;
    err.msg[0] = '\0';
    tb_status st = TB_OK;
    void *state = NULL;
    int locked = c->impl->exclusive && !wk->opts->serial;
    if (locked)
        pthread_mutex_lock(wk->exclusive_lock);
    const char *why = tb_runner_unsupported_dtype(c->impl, c->dtype, r.reason, sizeof r.reason);
    if (!why)
        why = tb_runner_unsupported(c->impl, wk->dev, r.reason, sizeof r.reason);
    if (!why && c->impl->supports && c->impl->supports(c, wk->dev, &err) == TB_SKIP) {
        snprintf(r.reason, sizeof r.reason, "%s", err.msg);
        why = r.reason;
    }
    if (why) {
        st = TB_SKIP;
    } else {
        tb_env env = {wk->dev, stream, wk->opts->seed, NULL, &wk->opts->fault};
        st = c->impl->setup(c, &env, &state, &err);
        if (!st) {
            /* the verification run: outputs were poisoned by setup */
            st = run_once(wk, c, state, stream, &err);
            if (!st)
                st = check_output(c, state, "", &r.verify, &r.have_verify, &err);
            if (!st)
                st = measure(wk, c, state, stream, flush, flush_bytes, &r, &err);
            if (!st)
                st = verify_after_timing(wk, c, state, stream, &r, &err);
            c->impl->teardown(state);
        }
        if (st)
            snprintf(r.reason, sizeof r.reason, "%s", err.msg);
    }
    if (locked)
        pthread_mutex_unlock(wk->exclusive_lock);
    return finish_round(wk, i, &r, st, &err);
}

/* ---- rounds: the outer schedule ---- */

typedef tb_status (*round_case_fn)(worker *wk, size_t i, void *ctx);

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The order of one round: the given order when there is one round, else a Fisher-Yates
 * shuffle seeded by the run's seed and the round (so a run is reproducible, and a case's
 * neighbours and its place in the run change from round to round). */
static void round_order(size_t *order, size_t n, uint64_t seed, int round, int rounds)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (rounds <= 1)
        return;
    uint64_t x = seed ^ (0x5851f42d4c957f2dull * (uint64_t)(round + 1));
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&x) % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* Runs every case of the worker in each round, skipping those already final; stops at a
 * device failure. */
static void run_rounds(worker *wk, round_case_fn fn, void *ctx)
{
    int rounds = planned_rounds(wk);
    size_t n = wk->ncases;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    round_slot *slots = calloc(n ? n : 1, sizeof *slots);
    double *medians = calloc((n ? n : 1) * (size_t)rounds, sizeof *medians);
    if (!order || !slots || !medians) {
        free(order);
        free(slots);
        free(medians);
        wk->status = tb_err_set(&wk->err, TB_DEVFAIL, "out of host memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        slots[i].median = medians + i * (size_t)rounds;
    wk->slots = slots;
    int stopped = 0;
    for (int k = 0; k < rounds && !stopped; k++) {
        wk->round = k;
        round_order(order, n, wk->opts->seed, k, rounds);
        for (size_t p = 0; p < n && !stopped; p++) {
            size_t i = order[p];
            if (slots[i].done)
                continue;
            progress(wk, p, &wk->cases[i]);
            stopped = fn(wk, i, ctx) == TB_DEVFAIL;
        }
    }
    wk->slots = NULL;
    free(order);
    free(slots);
    free(medians);
}

typedef struct {
    void *stream, *flush;
    size_t flush_bytes;
} device_ctx;

static tb_status device_case(worker *wk, size_t i, void *ctx)
{
    device_ctx *d = ctx;
    return run_case(wk, i, d->stream, d->flush, d->flush_bytes);
}

static tb_status device_begin(worker *wk, void **stream, void **flush, size_t *flush_bytes,
                              tb_err *err)
{
    *stream = NULL;
    *flush = NULL;
    *flush_bytes = 0;
    if (wk->dev->is_host)
        return TB_OK;
    TB_CUDA_TRY(cudaSetDevice(wk->dev->ordinal), err);
    cudaStream_t s;
    TB_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), err);
    *stream = s;
    if (wk->opts->cold) {
        /* twice the L2, and one float after it for the flush kernel's sink */
        size_t bytes = 2 * (size_t)(wk->dev->l2_bytes > 0 ? wk->dev->l2_bytes : (64 << 20));
        cudaError_t e = cudaMalloc(flush, bytes + 256);
        if (e == cudaSuccess)
            e = cudaMemset(*flush, 0, bytes + 256);
        if (e != cudaSuccess) {
            cudaStreamDestroy(s);
            *stream = NULL;
            if (*flush)
                cudaFree(*flush);
            *flush = NULL;
            return tb_err_set(err, TB_DEVFAIL, "cannot allocate the %zu MiB L2 flush buffer: %s",
                              bytes >> 20, cudaGetErrorString(e));
        }
        *flush_bytes = bytes;
    }
    return TB_OK;
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    void *stream, *flush;
    size_t flush_bytes;
    tb_status st = device_begin(wk, &stream, &flush, &flush_bytes, &wk->err);
    if (st) {
        wk->status = st;
        return NULL;
    }
    device_ctx d = {stream, flush, flush_bytes};
    run_rounds(wk, device_case, &d);
    if (!wk->dev->is_host) {
        if (flush)
            cudaFree(flush);
        if (stream)
            cudaStreamDestroy((cudaStream_t)stream);
    }
    return NULL;
}

/* ---- collective cases: one group of every device ---- */

/* One execution of a collective case, waited for at most the group's timeout. */
static tb_status group_run_once(const tb_case *c, void *state, const tb_group *g, int *timed_out,
                                tb_err *err)
{
    tb_status st = c->impl->run(state, err);
    if (!st && !g->devices[0].is_host)
        st = tb_group_wait(g->devices, g->n_devices, g->streams, g->timeout_s, timed_out, err);
    return st;
}

/* One execution of a collective case, checked into v (*have set once checked); `when` as
 * check_output's. */
static tb_status group_verify(const tb_case *c, void *state, const tb_group *g, const char *when,
                              tb_verify *v, int *have, int *timed_out, tb_err *err)
{
    tb_status st = group_run_once(c, state, g, timed_out, err);
    if (!st)
        st = check_output(c, state, when, v, have, err);
    return st;
}

/* The collective form of verify_after_timing: refilled inputs, poisoned outputs, one more
 * execution of the group, checked into r->verify_after. */
static tb_status group_verify_after_timing(const tb_case *c, void *state, const tb_group *g,
                                           tb_result *r, int *timed_out, tb_err *err)
{
    if (!c->bench->reinit)
        return TB_OK;
    tb_status st = c->bench->reinit(c, state, err);
    if (!st)
        st = group_verify(c, state, g, AFTER_TIMING, &r->verify_after, &r->have_verify_after,
                          timed_out, err);
    return st;
}

static tb_status measure_group(worker *wk, const tb_case *c, void *state, const tb_group *g,
                               tb_result *r, int *timed_out, tb_err *err)
{
    const tb_device *first = &g->devices[0];
    void *nvdev = first->is_host ? NULL : tb_nvml_device(wk->nvml, first->pci_bus_id);
    tb_group_sampler s;
    memset(&s, 0, sizeof s);
    s.impl = c->impl;
    s.state = state;
    s.devices = g->devices;
    s.n_devices = g->n_devices;
    s.streams = g->streams;
    s.timeout_s = g->timeout_s;
    s.nvml = wk->nvml;
    s.nvml_dev = nvdev;
    s.tel = &r->tel;
    tb_samples samples;
    memset(&samples, 0, sizeof samples);
    /* host ranks are threads the OS schedules: their times check the pipeline and are no
     * measurement, so they stop at --min-samples and --min-time, never waiting for a noise
     * level thread scheduling does not reach */
    tb_stop_rule rule = wk->opts->rule;
    if (first->is_host)
        rule.max_noise = INFINITY;
    tb_status st = tb_group_sampler_init(&s, err);
    if (!st) {
        tb_telemetry_begin(wk->nvml, nvdev, &r->tel);
        st = tb_timer_measure(&rule, tb_group_sampler_sample, &s, tb_clock_monotonic, NULL,
                              &samples, err);
        tb_telemetry_end(wk->nvml, nvdev, &r->tel);
    }
    r->timing = tb_group_sampler_timing(&s);
    r->batch = s.batch;
    *timed_out |= s.timed_out;
    tb_group_sampler_destroy(&s);
    if (!st) {
        r->stop = samples.reason;
        if (tb_stats_compute(samples.per_op, samples.count, &r->stats) == 0)
            r->have_stats = 1;
        else
            st = tb_err_set(err, TB_DEVFAIL, "no samples were taken");
    }
    tb_samples_free(&samples);
    return st;
}

/* Why the group cannot run a case (dtype, a device's compute capability, too few ranks),
 * or NULL. */
static const char *group_unsupported(const tb_case *c, const tb_group *g, tb_result *r)
{
    const char *why = tb_runner_unsupported_dtype(c->impl, c->dtype, r->reason, sizeof r->reason);
    for (int d = 0; !why && d < g->n_devices; d++)
        why = tb_runner_unsupported(c->impl, &g->devices[d], r->reason, sizeof r->reason);
    tb_err err;
    if (!why && c->bench->collective(c, g->n_devices, &r->coll, &err) == TB_SKIP) {
        snprintf(r->reason, sizeof r->reason, "%s", err.msg);
        why = r->reason;
    }
    return why;
}

/* Executions timed one at a time for the per-iteration statistics (nccl-tests' -n default;
 * fewer past the sampler's budget) */
#define TB_ITER_STATS_N 20

/* One collective case end to end: setup on the group, a checked execution, the timed loop,
 * a second check after it (inputs refilled, outputs poisoned), teardown. A wait that passes
 * the timeout aborts the case's work and is recorded as an error; it stops the group. */
static tb_status run_group_case(worker *wk, size_t i, tb_group *g)
{
    const tb_case *c = &wk->cases[i];
    tb_result r;
    memset(&r, 0, sizeof r);
    r.c = *c;
    r.device = &g->devices[0];
    r.group = g->devices;
    r.n_group = g->n_devices;
    r.tflops = r.gbps = r.pct_peak = r.pct_vendor = r.busbw_gbps = NAN;
    r.flops = c->bench->flops ? c->bench->flops(c) : 0;
    r.bytes = c->bench->bytes ? c->bench->bytes(c) : 0;
    tb_peak_kind pk = c->bench->peak_kind ? c->bench->peak_kind(c) : TB_PEAK_NONE;
    tb_specs_peak(r.device, pk, c->dtype, &r.peak);

    tb_err err;
    err.msg[0] = '\0';
    tb_status st = TB_OK;
    if (group_unsupported(c, g, &r))
        return finish_round(wk, i, &r, TB_SKIP, &err);
    if (r.coll.bytes > 0)
        r.bytes = r.coll.bytes;
    tb_env env = {r.device, g->streams[0], wk->opts->seed, g, &wk->opts->fault};
    void *state = NULL;
    int timed_out = 0;
    st = c->impl->setup(c, &env, &state, &err);
    if (!st) {
        st = group_verify(c, state, g, "", &r.verify, &r.have_verify, &timed_out, &err);
        if (!st)
            st = measure_group(wk, c, state, g, &r, &timed_out, &err);
        if (!st) {
            /* per-iteration statistics after the timed loop, so they never stretch it */
            tb_rank_times rt;
            g->rank_times = &rt;
            st = tb_group_iterations(c->impl, state, g, TB_ITER_STATS_N, &r.iters, &timed_out,
                                     &err);
            g->rank_times = NULL;
            r.have_iters = !st;
        }
        if (!st)
            st = group_verify_after_timing(c, state, g, &r, &timed_out, &err);
        int drained = 1;
        if (timed_out || st == TB_DEVFAIL || st == TB_CASEFAIL) {
            /* a timeout, or a failure after some ranks may have been given work their peers
             * will never match (a launch that failed partway, a GPU that faulted): release
             * whatever still waits before teardown synchronizes on it */
            char what[sizeof err.msg];
            snprintf(what, sizeof what, "%s", err.msg);
            if (c->bench->abort)
                c->bench->abort(c, state);
            tb_err ignored;
            drained = tb_group_wait(g->devices, g->n_devices, g->streams, 10.0, NULL,
                                    &ignored) == TB_OK;
            if (timed_out)
                st = tb_err_set(&err, TB_DEVFAIL, "%s; the case's work was %s", what,
                                drained ? "aborted" : "aborted but did not end");
            else if (!drained)
                st = tb_err_set(&err, TB_DEVFAIL, "%s; the case's work was aborted but did "
                                                  "not end", what);
        }
        if (drained)
            c->impl->teardown(state);
    }
    if (st)
        snprintf(r.reason, sizeof r.reason, "%s", err.msg);
    return finish_round(wk, i, &r, st, &err);
}

typedef struct {
    const tb_impl *impl;
    tb_keep keep;
} keep_slot;

typedef struct {
    const tb_device *devs;
    int ndev;
    void **streams;
    keep_slot *keeps;
    size_t nkeeps;
} group_ctx;

static tb_status group_case(worker *wk, size_t i, void *ctx)
{
    group_ctx *gc = ctx;
    const tb_case *c = &wk->cases[i];
    size_t k = 0;
    while (k < gc->nkeeps && gc->keeps[k].impl != c->impl)
        k++;
    if (k == gc->nkeeps)
        gc->keeps[gc->nkeeps++].impl = c->impl;
    tb_group g = {gc->devs, gc->ndev, gc->streams, &gc->keeps[k].keep, wk->opts->rule.timeout,
                  NULL};
    return run_group_case(wk, i, &g);
}

/* Runs the collective cases on every device as one group, from this thread. */
static void run_group(worker *wk, const tb_device *devs, int ndev)
{
    void **streams = calloc((size_t)ndev, sizeof *streams);
    keep_slot *keeps = calloc(wk->ncases ? wk->ncases : 1, sizeof *keeps);
    size_t nkeeps = 0;
    if (!streams || !keeps) {
        free(streams);
        free(keeps);
        wk->status = tb_err_set(&wk->err, TB_DEVFAIL, "out of host memory");
        return;
    }
    int streams_failed = 0;
    for (int d = 0; d < ndev && !streams_failed; d++) {
        if (devs[d].is_host)
            continue;
        cudaStream_t s;
        cudaError_t e = cudaSetDevice(devs[d].ordinal);
        if (e == cudaSuccess)
            e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
        if (e != cudaSuccess) {
            wk->status = tb_err_set(&wk->err, TB_DEVFAIL, "GPU %d: cannot create a stream: %s",
                                    devs[d].ordinal, cudaGetErrorString(e));
            streams_failed = 1;
        } else {
            streams[d] = s;
        }
    }
    group_ctx gc = {devs, ndev, streams, keeps, 0};
    if (!streams_failed)
        run_rounds(wk, group_case, &gc);
    nkeeps = gc.nkeeps;
    for (size_t k = 0; k < nkeeps; k++)
        if (keeps[k].keep.obj && keeps[k].keep.release)
            keeps[k].keep.release(keeps[k].keep.obj);
    for (int d = 0; d < ndev; d++)
        if (streams[d]) {
            cudaSetDevice(devs[d].ordinal);
            cudaStreamDestroy((cudaStream_t)streams[d]);
        }
    free(streams);
    free(keeps);
}

tb_status tb_runner_run(const tb_case *all_cases, size_t n_all, const tb_device *devs, int ndev,
                        const tb_run_opts *opts, tb_nvml *nvml, tb_writer *w, tb_err *err)
{
    pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_t exclusive_lock = PTHREAD_MUTEX_INITIALIZER;
    worker *wks = calloc((size_t)ndev + 1, sizeof *wks);
    pthread_t *th = calloc((size_t)ndev, sizeof *th);
    int *started = calloc((size_t)ndev, sizeof *started);
    /* the per-device cases, then the collective ones (run after, on the whole group) */
    tb_case *cases = malloc((n_all ? n_all : 1) * sizeof *cases);
    if (!wks || !th || !started || !cases) {
        free(wks);
        free(th);
        free(started);
        free(cases);
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    }
    size_t ncases = 0, ngroup = 0;
    for (size_t i = 0; i < n_all; i++)
        if (!all_cases[i].bench->collective)
            cases[ncases++] = all_cases[i];
    for (size_t i = 0; i < n_all; i++)
        if (all_cases[i].bench->collective)
            cases[ncases + ngroup++] = all_cases[i];
    for (int d = 0; d < ndev && ncases; d++) {
        wks[d] = (worker){cases, ncases, &devs[d], opts, nvml, w, &progress_lock,
                          &exclusive_lock, TB_OK, {{0}}, 1, NULL, 0};
        if (opts->serial || ndev == 1 || pthread_create(&th[d], NULL, worker_main, &wks[d]))
            worker_main(&wks[d]);
        else
            started[d] = 1;
    }
    for (int d = 0; d < ndev; d++)
        if (started[d])
            pthread_join(th[d], NULL);
    if (ngroup) {
        wks[ndev] = (worker){cases + ncases, ngroup, &devs[0], opts, nvml, w, &progress_lock,
                             &exclusive_lock, TB_OK, {{0}}, ndev, NULL, 0};
        run_group(&wks[ndev], devs, ndev);
    }
    tb_status worst = TB_OK;
    for (int d = 0; d <= ndev; d++) {
        if (wks[d].status == TB_DEVFAIL && worst != TB_DEVFAIL) {
            worst = TB_DEVFAIL;
            *err = wks[d].err;
        } else if (wks[d].status == TB_WRONG && worst == TB_OK) {
            worst = TB_WRONG;
            *err = wks[d].err;
        }
    }
    free(wks);
    free(th);
    free(started);
    free(cases);
    return worst;
}
