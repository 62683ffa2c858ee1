/* sampler.h - takes the samples the timer asks for, on a GPU (CUDA events) or on the host.
 *
 * GPU: a sample is a batch of back-to-back executions sized to at least TB_BATCH_TARGET_S of
 * GPU time, divided by the batch count; executions shorter than TB_GRAPH_BELOW_S are replayed
 * from a captured CUDA graph so launch overhead is not what gets measured; the start event is
 * queued behind a blocking kernel the host releases once the work is enqueued, so launch
 * latency is not timed either. With cold set, a sample is one execution after an L2 flush (a
 * read of a buffer twice the L2 size, which leaves no dirty lines to write back).
 * Host: a batch timed in the process's CPU time (every thread's), so other jobs on a shared
 * machine do not count. */
#ifndef TB_SAMPLER_H
#define TB_SAMPLER_H

#include "bench.h"
#include "device.h"
#include "error.h"
#include "fault.h"
#include "nvml.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_BATCH_TARGET_S 1e-3
#define TB_GRAPH_BELOW_S 50e-6
#define TB_MAX_BATCH 10000

typedef struct {
    const tb_impl *impl;
    void *state;
    const tb_device *device;
    void *stream;        /* cudaStream_t */
    int cold;
    void *flush_buf;     /* device buffer of flush_bytes, for cold */
    size_t flush_bytes;
    float *flush_sink;   /* one device float the flush may write */
    int *block_flag;     /* host-mapped flag releasing the blocking kernel */
    int *block_flag_dev;
    long batch;
    int use_graph;
    void *graph_exec;    /* cudaGraphExec_t */
    void *ev_start, *ev_stop;
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

/* "graph", "batch", "cold" or "host". */
const char *tb_sampler_timing(const tb_sampler *s);

void tb_sampler_destroy(tb_sampler *s);

/* Collective cases (nccl-tests' method): one execution is enqueued on every device's stream;
 * the host clock times from before the first launch to after every stream has finished, and
 * time per execution is that divided by the batch (the slowest rank decides). Executions
 * shorter than TB_GRAPH_BELOW_S are captured, per device, into a CUDA graph of the batch and
 * replayed, so what is timed is not the launches. Every wait for the streams is bounded by
 * timeout_s. On the host the implementation runs each execution itself. */
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

void tb_group_sampler_destroy(tb_group_sampler *s);

#ifdef __cplusplus
}
#endif
#endif
