/* sampler.h - takes the samples the timer asks for, on a GPU (CUDA events) or on the host.
 *
 * GPU: a sample is a batch of back-to-back executions sized to at least TB_BATCH_TARGET_S of
 * GPU time, divided by the batch count. Whatever is timed sits behind a blocking kernel the
 * host releases once that work is enqueued, so neither launch latency nor the host's launch
 * rate is timed. The methods, recorded as the result's `timing`:
 *   graph    executions shorter than TB_GRAPH_BELOW_S: the batch captured in a CUDA graph,
 *            one replay behind one blocking kernel;
 *   batch    a batch of at most TB_CHUNK_MAX launches behind one blocking kernel;
 *   chunked  a larger batch whose graph capture failed: chunks of at most TB_CHUNK_MAX
 *            launches, each behind its own blocking kernel and between its own events; the
 *            sample's time is the sum of the chunks' times;
 *   cold     one execution after an L2 flush (a read of a buffer twice the L2 size, which
 *            leaves no dirty lines to write back), behind a blocking kernel;
 *   host     a batch timed in the process's CPU time (every thread's), so other jobs on a
 *            shared machine do not count.
 * Telemetry (nvml.h) is read right after a chunk is released, while the GPU runs it. */
#ifndef TB_SAMPLER_H
#define TB_SAMPLER_H

#include "bench.h"
#include "device.h"
#include "error.h"
#include "fault.h"
#include "nvml.h"
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_BATCH_TARGET_S 1e-3
#define TB_GRAPH_BELOW_S 50e-6
#define TB_MAX_BATCH 10000
/* The most launches queued behind one blocking kernel: more could fill the launch queue
 * while the stream is held, and the blocking kernel's timeout would then release it early. */
#define TB_CHUNK_MAX 64

typedef enum {
    TB_TIMING_HOST,
    TB_TIMING_COLD,
    TB_TIMING_GRAPH,
    TB_TIMING_BATCH,
    TB_TIMING_CHUNKED
} tb_timing_method;

/* "host", "cold", "graph", "batch" or "chunked". */
const char *tb_timing_method_name(tb_timing_method m);

/* The method a sample of batch executions uses (pure: the sampler's own decision). */
tb_timing_method tb_timing_method_for(int is_host, int cold, int use_graph, long batch);

/* Splits batch launches into the fewest chunks of at most max_chunk, their sizes differing
 * by at most one (larger first), and writes the sizes to sizes[0..]; at most cap are
 * written. Returns the number of chunks, or 0 when batch < 1 or max_chunk < 1. */
long tb_chunk_plan(long batch, long max_chunk, long *sizes, long cap);

typedef struct {
    const tb_impl *impl;
    void *state;
    const tb_device *device;
    void *stream;        /* cudaStream_t */
    int cold;
    void *flush_buf;     /* device buffer of flush_bytes, for cold */
    size_t flush_bytes;
    float *flush_sink;   /* one device float the flush may write */
    unsigned *block_flag; /* host-mapped counter releasing the blocking kernels */
    unsigned *block_flag_dev;
    unsigned tickets;     /* the last ticket handed to a blocking kernel */
    long batch;
    int use_graph;
    void *graph_exec;    /* cudaGraphExec_t */
    void **ev_start, **ev_stop; /* one pair per chunk */
    long n_events;
    long *chunks;        /* the chunk plan of the batch */
    tb_nvml *nvml;
    void *nvml_dev;
    tb_telemetry *tel;
    const tb_fault *fault; /* slow:PCT stretches every host execution (may be NULL) */
} tb_sampler;

/* Prepares sampling for one case whose verification run has already been made: warms up,
 * sizes the batch and captures the graph. Returns TB_OK or TB_DEVFAIL. */
tb_status tb_sampler_init(tb_sampler *s, tb_err *err);

/* A tb_sample_fn (timer.h): ctx is a tb_sampler. */
tb_status tb_sampler_sample(void *ctx, double *per_op, double *spent, tb_err *err);

/* "graph", "batch", "chunked", "cold" or "host" (tb_timing_method_name). */
const char *tb_sampler_timing(const tb_sampler *s);

void tb_sampler_destroy(tb_sampler *s);

/* Collective cases (nccl-tests' method): one execution is enqueued on every device's stream;
 * the host clock times from before the first launch to after every stream has finished, and
 * time per execution is that divided by the batch (the slowest rank decides). Executions
 * shorter than TB_GRAPH_BELOW_S are captured, per device, into a CUDA graph of the batch and
 * replayed, so what is timed is not the launches. Every wait for the streams is bounded by
 * timeout_s; telemetry of the first GPU is read after the launches, while they run. On the
 * host the implementation runs each execution itself. */
typedef struct {
    const tb_impl *impl;
    void *state;
    const tb_device *devices;
    int n_devices;
    void *const *streams;
    double timeout_s;
    long batch;
    int use_graph;
    void **graph_execs;  /* cudaGraphExec_t per device */
    int timed_out;       /* set when a wait passed timeout_s */
    tb_nvml *nvml;
    void *nvml_dev;      /* the group's first GPU */
    tb_telemetry *tel;
} tb_group_sampler;

/* Waits until every stream of the group has finished, at most timeout_s seconds. Returns
 * TB_OK, or TB_DEVFAIL with the CUDA error or "timed out after S s waiting for GPU N" (then
 * *timed_out is set). */
tb_status tb_group_wait(const tb_device *devices, int n, void *const *streams, double timeout_s,
                        int *timed_out, tb_err *err);

/* As tb_sampler_init, for a collective case. */
tb_status tb_group_sampler_init(tb_group_sampler *s, tb_err *err);

/* A tb_sample_fn: ctx is a tb_group_sampler. */
tb_status tb_group_sampler_sample(void *ctx, double *per_op, double *spent, tb_err *err);

/* "graph", "batch" or "host". */
const char *tb_group_sampler_timing(const tb_group_sampler *s);

/* The host functions tb_group_stamp_ranks enqueues, one per device (kept by the caller until
 * the streams have finished). */
typedef struct {
    tb_rank_times *rt;
    int first, count; /* the ranks of one device */
} tb_rank_stamp;

/* When g->rank_times is armed: behind the work already enqueued on each device's stream, a
 * host function that writes the time since rt->start to the ranks of that device (device d
 * holds ranks d x ranks_per_device ...), and sets rt->ranks. Nothing when not armed (so never
 * inside a graph capture). TB_OK or TB_DEVFAIL. */
tb_status tb_group_stamp_ranks(const tb_group *g, int ranks_per_device, tb_rank_stamp *stamps,
                               tb_err *err);

/* The per-iteration pass stops after this many seconds once it has TB_ITER_STATS_MIN
 * executions, so large or slow (host) cases are not stretched by it. */
#define TB_ITER_STATS_MIN 5
#define TB_ITER_STATS_BUDGET_S 0.5

/* nccl-tests' -I: n executions (fewer past the budget above) of a collective timed one at a time (host clock from the launch
 * until every stream has finished, so on GPUs a launch's latency is in each figure), each
 * rank's time taken through g->rank_times when the implementation reports it; summarized in
 * out. Returns TB_OK, or the failure of an execution or a wait (*timed_out set on a timeout). */
tb_status tb_group_iterations(const tb_impl *impl, void *state, const tb_group *g, int n,
                              tb_iter_stats *out, int *timed_out, tb_err *err);

void tb_group_sampler_destroy(tb_group_sampler *s);

#ifdef __cplusplus
}
#endif
#endif
