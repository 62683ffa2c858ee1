/* bench.h - the contract between the harness and a benchmark.
 *
 * A benchmark is a table: a name, axes, implementations, the work it counts (flops, bytes)
 * and a verification. The harness builds the cases, runs each one through
 *     setup -> run once -> verify -> measure (run many times) -> reinit, run once, verify
 *     -> record -> teardown
 * on one device (a collective benchmark's: on the group of every device), and never knows
 * what the benchmark computes. A benchmark never
 * prints, except the end-of-run tables it is handed a stream for. */
#ifndef TB_BENCH_H
#define TB_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "device.h"
#include "error.h"
#include "fault.h"
#include "sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TB_FP32 = 0, TB_TF32, TB_BF16, TB_FP16, TB_FP8E4M3, TB_DTYPE_COUNT } tb_dtype;
#define TB_DT(d) (1u << (d))

const char *tb_dtype_name(tb_dtype d);
/* Parses "fp32", "tf32", "bf16", "fp16", "fp8" / "fp8e4m3"; returns 0 or -1. */
int tb_dtype_parse(const char *text, tb_dtype *out);

typedef enum {
    TB_AXIS_SIZE, /* integer, K/M/G/T binary suffixes accepted, printed as 4K, 1M */
    TB_AXIS_INT,  /* plain integer */
    TB_AXIS_ENUM  /* one of `choices`; stored as the index */
} tb_axis_type;

typedef struct {
    const char *name;        /* the option is --NAME */
    tb_axis_type type;
    const char *defaults;    /* sweep syntax (sweep.h), or comma-separated choices */
    const char *quick;       /* the --quick values */
    const char *host_defaults; /* for --host (host references are slower); NULL: defaults */
    const char *host_quick;    /* for --host --quick; NULL: quick */
    const char *const *choices; /* TB_AXIS_ENUM: NULL-terminated list */
    const char *help;
} tb_axis;

typedef enum { TB_KIND_HANDWRITTEN, TB_KIND_VENDOR, TB_KIND_HOST } tb_impl_kind;
const char *tb_impl_kind_name(tb_impl_kind k);

#define TB_MAX_AXES 8

struct tb_bench;
struct tb_impl;

/* One point of the sweep for one implementation. */
typedef struct {
    const struct tb_bench *bench;
    const struct tb_impl *impl;
    tb_dtype dtype;
    int64_t axis[TB_MAX_AXES]; /* in the order of bench->axes */
} tb_case;

/* Something an implementation keeps across the cases of one run because it is too costly to
 * make per case (a communicator). The runner calls release(obj) at the end of the run. */
typedef struct {
    void *obj;
    void (*release)(void *obj);
} tb_keep;

#define TB_MAX_RANK_TIMES 64

/* Each rank's time of one execution of a collective, for the per-iteration statistics: the
 * runner arms it before one execution (never inside a graph capture); an implementation that
 * can tell then writes t[0 .. ranks - 1] in seconds (host: each rank's own time; GPU: each
 * device's, from the launch until its stream reaches the end) and sets ranks, by the time the
 * group's streams have finished. ranks 0: unknown. */
typedef struct {
    int armed;
    int ranks;
    double start;         /* tb_clock_monotonic() when the runner started the execution */
    double t[TB_MAX_RANK_TIMES];
} tb_rank_times;

/* The devices a collective case spans (tb_bench.collective): every device of the run. */
typedef struct {
    const tb_device *devices;
    int n_devices;
    void *const *streams; /* cudaStream_t per device; NULLs on the host */
    tb_keep *keep;        /* this implementation's slot, kept across the run's cases */
    double timeout_s;     /* --timeout: a wait longer than this is a hang */
    tb_rank_times *rank_times; /* see above; NULL: not asked */
} tb_group;

/* What an implementation is given to run on. */
typedef struct {
    const tb_device *device;
    void *stream;      /* cudaStream_t of the case; NULL on the host */
    uint64_t seed;     /* the input seed: the same for every implementation of a case */
    const tb_group *group; /* collective cases only; NULL otherwise */
    const tb_fault *fault; /* the bug a host implementation commits on purpose (fault.h);
                            * NULL or TB_FAULT_NONE: none */
} tb_env;

/* A measure of the error over units of the output beside the element-wise one: "norm" (per
 * matrix, head or rank buffer: ||out - ref|| / ||ref||), "tile" (per query-row tile of
 * attention: the rows one CTA owns), "lse" (attention's log-sum-exp). */
typedef struct {
    const char *name;  /* "norm", "tile", "lse": the key under verify in the result */
    const char *unit;  /* what one value is taken over: "matrix", "head", "query tile", "row" */
    double worst;      /* the largest value over the units */
    double bound;      /* what each value is held to */
    int64_t n_units;   /* units measured */
    int64_t n_failed;  /* units over the bound */
} tb_verify_measure;

#define TB_VERIFY_MAX_MEASURES 4

typedef struct {
    int ok;
    double max_abs_err;
    double max_rel_err;
    double tolerance;   /* what max_abs_err (or the bench's stated measure) is held to */
    int64_t n_wrong;    /* elements outside the tolerance */
    int64_t n_checked;
    int n_measures;     /* the measures beside the element-wise check */
    tb_verify_measure measures[TB_VERIFY_MAX_MEASURES];
} tb_verify;

/* Adds a measure to v (ignored past TB_VERIFY_MAX_MEASURES; a name already there is
 * replaced); clears v->ok when n_failed > 0. name and unit must outlive v (literals). */
void tb_verify_add_measure(tb_verify *v, const char *name, const char *unit, double worst,
                           double bound, int64_t n_units, int64_t n_failed);

/* The measure of v named name, or NULL. */
const tb_verify_measure *tb_verify_measure_find(const tb_verify *v, const char *name);

/* Why v failed, for a result's reason: "12 of 4096 values outside tolerance 0.01 (max abs
 * err 0.5)" and/or "norm: 3 of 8 heads over 0.004 (worst 0.13)". */
void tb_verify_describe(const tb_verify *v, char *buf, size_t len);

typedef enum {
    TB_PEAK_NONE,   /* no meaningful peak (e.g. PCIe copies) */
    TB_PEAK_MEMORY, /* device memory bandwidth */
    TB_PEAK_TENSOR, /* tensor-core FLOP/s for the case's dtype */
    TB_PEAK_SIMT    /* CUDA-core fp32 FLOP/s */
} tb_peak_kind;

typedef struct tb_impl {
    const char *name;
    tb_impl_kind kind;
    const char *summary;
    int min_cc, max_cc;     /* compute capability x10 (80 = 8.0); 0 = no bound; host: ignored */
    unsigned dtypes;        /* TB_DT() mask */
    const char *compare_to; /* the baseline implementation for % of vendor, or NULL */
    int exclusive;          /* 1: measured on one GPU at a time even when all GPUs run at once,
                             * because it measures something they share (the host link) */
    /* Allocates, fills inputs with the seed's random-normal data, poisons outputs (NaN).
     * Returns TB_OK, TB_SKIP with the reason (e.g. not enough memory), or TB_DEVFAIL. */
    tb_status (*setup)(const tb_case *c, const tb_env *env, void **state, tb_err *err);
    /* Enqueues exactly one execution on the stream (runs it, on the host). Must be
     * capturable in a CUDA graph. */
    tb_status (*run)(void *state, tb_err *err);
    void (*teardown)(void *state);
    /* Optional: TB_SKIP with the reason when this case cannot run on this device (a shape the
     * kernel does not handle, a layout the library refuses); TB_OK otherwise. */
    tb_status (*supports)(const tb_case *c, const tb_device *dev, tb_err *err);
} tb_impl;

/* A benchmark option that is not an axis (e.g. --shapes, --tokens): its text is handed to the
 * benchmark's points function. */
typedef struct {
    const char *name;
    const char *defaults; /* NULL: not set unless given */
    const char *help;
} tb_option;

/* How a collective case spans its group. */
typedef struct {
    int ranks;         /* ranks taking part (>= 2) */
    double bus_factor; /* bus bandwidth = algorithm bandwidth x bus_factor (nccl-tests) */
    int shared_device; /* 1: several ranks share a device, so the figures are not link
                        * bandwidth (correctness runs) */
    double bytes;      /* > 0: the bytes algbw counts at this group size, in place of
                        * bench->bytes (a size that names the whole buffer of n ranks) */
} tb_collective;

struct tb_result;

/* The axis points of a run, when a benchmark builds them itself. */
typedef struct {
    int64_t (*v)[TB_MAX_AXES];
    size_t n, cap;
} tb_points;

/* Appends one point (n_axes values); TB_USAGE when out of memory or past 1e6 points. */
tb_status tb_points_add(tb_points *p, const int64_t *axis, int n_axes, tb_err *err);
void tb_points_free(tb_points *p);

typedef struct tb_bench {
    const char *name;
    const char *summary;
    const tb_axis *axes;
    int n_axes;
    const tb_impl *impls;
    int n_impls;
    int in_default_suite;
    /* The counted work of one execution: FLOPs (0 when none are counted) and bytes moved
     * (0 when none are counted). */
    double (*flops)(const tb_case *c);
    double (*bytes)(const tb_case *c);
    tb_peak_kind (*peak_kind)(const tb_case *c);
    /* Compares the output of the last run with a reference; the stream has been synchronized.
     * Fills v; returns TB_OK (whether or not v->ok), or TB_DEVFAIL. */
    tb_status (*verify)(const tb_case *c, void *state, tb_verify *v, tb_err *err);
    const tb_option *options;
    int n_options;
    /* Optional: builds the axis points when they are not the product of the axes' sweeps
     * (named shape sets). axis_values[i] is the text given for axes[i] (NULL: not given),
     * option_values[j] that of options[j] (NULL: not given); quick and host select the
     * defaults. Returns TB_OK or TB_USAGE naming the bad value. */
    tb_status (*points)(const struct tb_bench *b, const char *const *axis_values,
                        const char *const *option_values, int quick, int host, tb_points *out,
                        tb_err *err);
    /* Optional: more text for `trainbench list BENCH` (e.g. the shapes of named sets),
     * written into buf (NUL-terminated, truncated to len). */
    void (*details)(char *buf, size_t len);
    /* Optional: how flops() counts, where a figure cannot be read without it (attention's
     * causal halving and backward multiple); recorded with every result and printed above the
     * end-of-run tables. NULL: the count needs no convention. */
    const char *flops_convention;
    /* Optional: the bytes of device memory (host memory for a host implementation) the case's
     * implementation allocates, recorded with the result. NULL: not reported. */
    double (*alloc_bytes)(const tb_case *c);
    /* Collective benchmarks only (NULL for benchmarks whose cases run on each device): a case
     * spans every device of the run as one group, is given them in tb_env.group, and its
     * `run` enqueues one execution on every device's stream. Fills out for a group of
     * n_devices; TB_SKIP with the reason when the case cannot form a group there (fewer
     * than two ranks). */
    tb_status (*collective)(const tb_case *c, int n_devices, tb_collective *out, tb_err *err);
    /* Refills the inputs and poisons the outputs, so the result of one more run can be
     * checked after the timed loop (nccl-tests' and STREAM's check); every benchmark has one
     * (NULL: its cases are not checked after timing). TB_OK or TB_DEVFAIL. */
    tb_status (*reinit)(const tb_case *c, void *state, tb_err *err);
    /* Optional: makes the work of a case in flight end (aborts a communicator, releases
     * kernels waiting on each other) when a wait for it timed out. */
    void (*abort)(const tb_case *c, void *state);
    /* Optional: writes end-of-run tables made from every result of this benchmark in the run
     * (whatever their status) to f. */
    void (*end_tables)(const struct tb_result *const *results, size_t n, FILE *f);
} tb_bench;

/* Parses the text given for an axis: a sweep (sizes, integers) or a comma-separated list of
 * its choices (stored as their indices). Returns TB_OK or TB_USAGE naming the bad value and
 * what is accepted; on failure out is left empty. */
tb_status tb_axis_parse(const tb_axis *ax, const char *spec, tb_sweep *out, tb_err *err);

/* Appends printf-style text at buf + *used (buf holds len bytes, stays NUL-terminated, and
 * what does not fit is cut); for details functions. */
void tb_appendf(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The implementation of b named name, or NULL. */
const tb_impl *tb_bench_impl(const tb_bench *b, const char *name);

#ifdef __cplusplus
}
#endif
#endif
