#include "sampler.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cudacheck.h"
#include "timing.h"
#include "timer.h"
#include "world.h"

static long batch_for(double per_op)
{
    if (!(per_op > 0))
        return TB_MAX_BATCH;
    double b = ceil(TB_BATCH_TARGET_S / per_op);
    if (b < 1)
        return 1;
    return b > TB_MAX_BATCH ? TB_MAX_BATCH : (long)b;
}

const char *tb_timing_method_name(tb_timing_method m)
{
    switch (m) {
    case TB_TIMING_HOST:
        return "host";
    case TB_TIMING_COLD:
        return "cold";
    case TB_TIMING_GRAPH:
        return "graph";
    case TB_TIMING_CHUNKED:
        return "chunked";
    case TB_TIMING_BATCH:
        break;
    }
    return "batch";
}

tb_timing_method tb_timing_method_for(int is_host, int cold, int use_graph, long batch)
{
    if (is_host)
        return TB_TIMING_HOST;
    if (cold)
        return TB_TIMING_COLD;
    if (use_graph)
        return TB_TIMING_GRAPH;
    return batch > TB_CHUNK_MAX ? TB_TIMING_CHUNKED : TB_TIMING_BATCH;
}

long tb_chunk_plan(long batch, long max_chunk, long *sizes, long cap)
{
    if (batch < 1 || max_chunk < 1)
        return 0;
    long n = (batch + max_chunk - 1) / max_chunk;
    long base = batch / n, extra = batch % n;
    for (long i = 0; i < n && i < cap; i++)
        sizes[i] = base + (i < extra);
    return n;
}

static tb_status run_n(tb_sampler *s, long n, tb_err *err)
{
    for (long i = 0; i < n; i++) {
        tb_status st = s->impl->run(s->state, err);
        if (st)
            return st;
    }
    return TB_OK;
}

/* Host samples are CPU time of the whole process (every thread of an OpenMP region): on a
 * shared machine, time spent waiting for a core another job holds is not the
 * implementation's, and would swamp the figure (a two-thread region waits for both cores). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* TRAINBENCH_TEST_FAULT=slow:PCT, inside the timed region of executions that took work_s of
 * CPU time: a spin for PCT % of work_s more, so every sample is exactly PCT % longer than the
 * work measured in it. (Running the implementation again instead made less than PCT % more:
 * the repeat finds its operands in the caches the first execution warmed, by an amount that
 * changes with what else the machine runs.) */
static void host_slowdown(const tb_sampler *s, double work_s)
{
    double until = cpu_now() + work_s * s->fault->slow_pct / 100.0;
    while (cpu_now() < until)
        ;
}

static tb_status host_time(tb_sampler *s, long n, double *elapsed, tb_err *err)
{
    double t0 = cpu_now();
    tb_status st = run_n(s, n, err);
    if (!st && (tb_fault_is(s->fault, TB_FAULT_SLOW) ||
                (tb_fault_is(s->fault, TB_FAULT_SLOW_RANK) &&
                 s->fault->target == tb_world_rank())))
        host_slowdown(s, cpu_now() - t0);
    /* slow-device:N: only the samples of host pseudo-device N (node acceptance's devices) */
    else if (!st && tb_fault_is(s->fault, TB_FAULT_SLOW_DEVICE) &&
             s->device->ordinal == s->fault->target)
        host_slowdown(s, cpu_now() - t0);
    *elapsed = cpu_now() - t0;
    return st;
}

#define TB_BLOCK_TIMEOUT_NS 1000000000ull

/* Makes sure there are at least n start/stop event pairs. */
static tb_status need_events(tb_sampler *s, long n, tb_err *err)
{
    if (n <= s->n_events)
        return TB_OK;
    void **a = realloc(s->ev_start, (size_t)n * sizeof *a);
    if (a)
        s->ev_start = a;
    void **b = a ? realloc(s->ev_stop, (size_t)n * sizeof *b) : NULL;
    if (b)
        s->ev_stop = b;
    if (!a || !b)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    for (; s->n_events < n; s->n_events++) {
        cudaEvent_t ea = NULL, eb = NULL;
        cudaError_t e = cudaEventCreate(&ea);
        if (e == cudaSuccess && (e = cudaEventCreate(&eb)) != cudaSuccess)
            cudaEventDestroy(ea);
        if (e != cudaSuccess)
            return tb_err_set(err, TB_DEVFAIL, "cudaEventCreate failed: %s",
                              cudaGetErrorString(e));
        s->ev_start[s->n_events] = ea;
        s->ev_stop[s->n_events] = eb;
    }
    return TB_OK;
}

/* Enqueues one chunk behind its own blocking kernel: the blocking kernel, the start event,
 * `launches` executions (or one graph replay when graph is set), the stop event; then
 * releases the blocking kernel and, with tel, reads telemetry while the chunk runs. */
static tb_status enqueue_chunk(tb_sampler *s, long k, long launches, int graph,
                               tb_telemetry *tel, tb_err *err)
{
    cudaStream_t stream = (cudaStream_t)s->stream;
    unsigned ticket = ++s->tickets;
    TB_CUDA_TRY(tb_timing_block(s->block_flag_dev, ticket, TB_BLOCK_TIMEOUT_NS, stream), err);
    tb_status st = TB_OK;
    cudaError_t e = cudaEventRecord((cudaEvent_t)s->ev_start[k], stream);
    if (e != cudaSuccess) {
        st = tb_err_set(err, TB_DEVFAIL, "cudaEventRecord failed: %s", cudaGetErrorString(e));
    } else if (graph) {
        e = cudaGraphLaunch((cudaGraphExec_t)s->graph_exec, stream);
        if (e != cudaSuccess)
            st = tb_err_set(err, TB_DEVFAIL, "cudaGraphLaunch failed: %s",
                            cudaGetErrorString(e));
    } else {
        st = run_n(s, launches, err);
    }
    if (!st && (e = cudaEventRecord((cudaEvent_t)s->ev_stop[k], stream)) != cudaSuccess)
        st = tb_err_set(err, TB_DEVFAIL, "cudaEventRecord failed: %s", cudaGetErrorString(e));
    __atomic_store_n(s->block_flag, ticket, __ATOMIC_SEQ_CST); /* release the stream */
    if (!st && tel)
        tb_telemetry_sample(s->nvml, s->nvml_dev, tel);
    return st;
}

/* Times n executions (or one graph replay when n is 0): one chunk per plan entry, each
 * behind its own blocking kernel, the elapsed time the sum of the chunks' event times.
 * With tel, telemetry is read while the work runs. */
static tb_status gpu_time(tb_sampler *s, long n, tb_telemetry *tel, double *elapsed,
                          tb_err *err)
{
    long one = 1, *plan = &one, chunks = 1;
    if (n > 0) {
        long *p = realloc(s->chunks, (size_t)((n + TB_CHUNK_MAX - 1) / TB_CHUNK_MAX) *
                                         sizeof *p);
        if (!p)
            return tb_err_set(err, TB_DEVFAIL, "out of host memory");
        s->chunks = plan = p;
        chunks = tb_chunk_plan(n, TB_CHUNK_MAX, plan, (n + TB_CHUNK_MAX - 1) / TB_CHUNK_MAX);
    }
    tb_status st = need_events(s, chunks, err);
    if (st)
        return st;
    if (s->cold)
        TB_CUDA_TRY(tb_timing_flush_l2(s->flush_buf, s->flush_bytes, s->flush_sink,
                                       s->device->sm_count, (cudaStream_t)s->stream),
                    err);
    for (long k = 0; k < chunks && !st; k++)
        st = enqueue_chunk(s, k, plan[k], n == 0, tel, err);
    if (st)
        return st;
    TB_CUDA_TRY(cudaEventSynchronize((cudaEvent_t)s->ev_stop[chunks - 1]), err);
    TB_CUDA_TRY(cudaGetLastError(), err);
    double total = 0;
    for (long k = 0; k < chunks; k++) {
        float ms = 0;
        TB_CUDA_TRY(cudaEventElapsedTime(&ms, (cudaEvent_t)s->ev_start[k],
                                         (cudaEvent_t)s->ev_stop[k]),
                    err);
        total += ms * 1e-3;
    }
    *elapsed = total;
    return TB_OK;
}

/* Captures batch executions into a graph; on any capture failure falls back to launches.
 * TRAINBENCH_TEST_NO_GRAPH set makes every capture fail, so the tests reach the fallback. */
static void try_capture(tb_sampler *s)
{
    cudaStream_t stream = (cudaStream_t)s->stream;
    cudaGraph_t graph = NULL;
    tb_err ignored;
    if (getenv("TRAINBENCH_TEST_NO_GRAPH"))
        return;
    if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        cudaGetLastError();
        return;
    }
    tb_status st = run_n(s, s->batch, &ignored);
    cudaError_t e = cudaStreamEndCapture(stream, &graph);
    if (st || e != cudaSuccess || !graph) {
        cudaGetLastError();
        if (graph)
            cudaGraphDestroy(graph);
        return;
    }
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return;
    }
    s->graph_exec = exec;
    s->use_graph = 1;
}

tb_status tb_sampler_init(tb_sampler *s, tb_err *err)
{
    double t = 0;
    tb_status st;
    if (s->device->is_host) {
        if ((st = host_time(s, 1, &t, err)))
            return st;
        s->batch = batch_for(t);
        return TB_OK;
    }
    unsigned *flag = NULL;
    TB_CUDA_TRY(cudaHostAlloc((void **)&flag, sizeof *flag, cudaHostAllocMapped), err);
    *flag = 0;
    s->tickets = 0;
    s->block_flag = flag;
    TB_CUDA_TRY(cudaHostGetDevicePointer((void **)&s->block_flag_dev, flag, 0), err);
    if (s->cold) {
        s->batch = 1;
        return gpu_time(s, 1, NULL, &t, err); /* warm-up */
    }
    if ((st = gpu_time(s, 1, NULL, &t, err)))
        return st;
    s->batch = batch_for(t);
    if (s->batch > 1) {
        if ((st = gpu_time(s, s->batch, NULL, &t, err)))
            return st;
        double per_op = t / (double)s->batch;
        s->batch = batch_for(per_op);
        if (per_op < TB_GRAPH_BELOW_S) {
            try_capture(s);
            /* a replay has less launch overhead than the launches the batch was sized from:
             * re-time it and grow the batch until a sample covers the target */
            for (int tries = 0; s->use_graph && tries < 3; tries++) {
                if ((st = gpu_time(s, 0, NULL, &t, err)))
                    return st;
                long want = batch_for(t / (double)s->batch);
                if (t >= 0.9 * TB_BATCH_TARGET_S || want <= s->batch)
                    break;
                cudaGraphExecDestroy((cudaGraphExec_t)s->graph_exec);
                s->graph_exec = NULL;
                s->use_graph = 0;
                s->batch = want;
                try_capture(s);
            }
        }
    }
    /* one full sample as warm-up, never counted */
    return gpu_time(s, s->use_graph ? 0 : s->batch, NULL, &t, err);
}

tb_status tb_sampler_sample(void *ctx, double *per_op, double *spent, tb_err *err)
{
    tb_sampler *s = ctx;
    double t = 0;
    tb_status st = s->device->is_host ? host_time(s, s->batch, &t, err)
                                      : gpu_time(s, s->use_graph ? 0 : s->batch, s->tel, &t,
                                                 err);
    if (st)
        return st;
    *spent = t;
    *per_op = t / (double)s->batch;
    if (s->tel)
        tb_telemetry_add_busy(s->tel, t);
    return TB_OK;
}

const char *tb_sampler_timing(const tb_sampler *s)
{
    return tb_timing_method_name(
        tb_timing_method_for(s->device->is_host, s->cold, s->use_graph, s->batch));
}

void tb_sampler_destroy(tb_sampler *s)
{
    if (s->graph_exec)
        cudaGraphExecDestroy((cudaGraphExec_t)s->graph_exec);
    for (long k = 0; k < s->n_events; k++) {
        cudaEventDestroy((cudaEvent_t)s->ev_start[k]);
        cudaEventDestroy((cudaEvent_t)s->ev_stop[k]);
    }
    free(s->ev_start);
    free(s->ev_stop);
    free(s->chunks);
    if (s->block_flag)
        cudaFreeHost(s->block_flag);
    s->graph_exec = NULL;
    s->ev_start = s->ev_stop = NULL;
    s->n_events = 0;
    s->chunks = NULL;
    s->block_flag = s->block_flag_dev = NULL;
}

/* ---- collective cases ---- */

tb_status tb_group_wait(const tb_device *devices, int n, void *const *streams, double timeout_s,
                        int *timed_out, tb_err *err)
{
    double deadline = tb_clock_monotonic(NULL) + timeout_s;
    for (int d = 0; d < n; d++) {
        if (devices[d].is_host)
            continue;
        TB_CUDA_TRY(cudaSetDevice(devices[d].ordinal), err);
        for (;;) {
            cudaError_t e = cudaStreamQuery((cudaStream_t)streams[d]);
            if (e == cudaSuccess)
                break;
            if (e != cudaErrorNotReady)
                return tb_err_set(err, TB_DEVFAIL, "GPU %d: %s (%s)", devices[d].ordinal,
                                  cudaGetErrorName(e), cudaGetErrorString(e));
            if (tb_clock_monotonic(NULL) > deadline) {
                if (timed_out)
                    *timed_out = 1;
                return tb_err_set(err, TB_DEVFAIL, "timed out after %g s waiting for GPU %d",
                                  timeout_s, devices[d].ordinal);
            }
            sched_yield();
        }
    }
    return TB_OK;
}

static tb_status group_run_n(tb_group_sampler *s, long n, tb_err *err)
{
    for (long i = 0; i < n; i++) {
        tb_status st = s->impl->run(s->state, err);
        if (st)
            return st;
    }
    return TB_OK;
}

/* Times n executions (or one replay of the graphs when n is 0) with the host clock; with
 * tel, telemetry is read once everything is launched, while it runs. */
static tb_status group_time(tb_group_sampler *s, long n, tb_telemetry *tel, double *elapsed,
                            tb_err *err)
{
    double t0 = tb_clock_monotonic(NULL);
    tb_status st = TB_OK;
    if (s->devices[0].is_host) {
        st = group_run_n(s, n, err);
    } else if (n == 0) {
        for (int d = 0; d < s->n_devices && !st; d++) {
            cudaError_t e = cudaSetDevice(s->devices[d].ordinal);
            if (e == cudaSuccess)
                e = cudaGraphLaunch((cudaGraphExec_t)s->graph_execs[d],
                                    (cudaStream_t)s->streams[d]);
            if (e != cudaSuccess)
                st = tb_err_set(err, TB_DEVFAIL, "cudaGraphLaunch on GPU %d failed: %s",
                                s->devices[d].ordinal, cudaGetErrorString(e));
        }
    } else {
        st = group_run_n(s, n, err);
    }
    if (!st && tel)
        tb_telemetry_sample(s->nvml, s->nvml_dev, tel); /* while the launches run */
    if (!st && !s->devices[0].is_host)
        st = tb_group_wait(s->devices, s->n_devices, s->streams, s->timeout_s, &s->timed_out,
                           err);
    *elapsed = tb_clock_monotonic(NULL) - t0;
    /* under MPI every rank takes the slowest rank's time (nccl-tests' figure), so every
     * rank sizes its batches and stops alike: the ranks run the same executions */
    if (!st)
        st = tb_world_max_within(elapsed, s->timeout_s, err);
    return st;
}

static void group_drop_graphs(tb_group_sampler *s)
{
    for (int d = 0; s->graph_execs && d < s->n_devices; d++)
        if (s->graph_execs[d]) {
            cudaGraphExecDestroy((cudaGraphExec_t)s->graph_execs[d]);
            s->graph_execs[d] = NULL;
        }
    s->use_graph = 0;
}

/* Captures batch executions into one graph per device (every stream captured at once, as
 * the execution spans them); on any failure the batch is launched instead. */
static void group_capture(tb_group_sampler *s)
{
    int n = s->n_devices, begun = 0, ok = 1;
    cudaGraph_t *graphs = calloc((size_t)n, sizeof *graphs);
    if (!s->graph_execs)
        s->graph_execs = calloc((size_t)n, sizeof *s->graph_execs);
    if (!graphs || !s->graph_execs) {
        free(graphs);
        return;
    }
    for (; begun < n && ok; begun++)
        ok = cudaSetDevice(s->devices[begun].ordinal) == cudaSuccess &&
             cudaStreamBeginCapture((cudaStream_t)s->streams[begun],
                                    cudaStreamCaptureModeThreadLocal) == cudaSuccess;
    tb_err ignored;
    if (ok && group_run_n(s, s->batch, &ignored))
        ok = 0;
    for (int d = 0; d < begun; d++) {
        cudaSetDevice(s->devices[d].ordinal);
        if (cudaStreamEndCapture((cudaStream_t)s->streams[d], &graphs[d]) != cudaSuccess ||
            !graphs[d])
            ok = 0;
    }
    for (int d = 0; d < n && ok; d++) {
        cudaSetDevice(s->devices[d].ordinal);
        cudaGraphExec_t exec = NULL;
        if (cudaGraphInstantiate(&exec, graphs[d], 0) != cudaSuccess)
            ok = 0;
        s->graph_execs[d] = exec;
    }
    for (int d = 0; d < n; d++)
        if (graphs[d])
            cudaGraphDestroy(graphs[d]);
    free(graphs);
    cudaGetLastError();
    if (ok)
        s->use_graph = 1;
    else
        group_drop_graphs(s);
}

tb_status tb_group_sampler_init(tb_group_sampler *s, tb_err *err)
{
    double t = 0;
    tb_status st = group_time(s, 1, NULL, &t, err);
    if (st)
        return st;
    s->batch = batch_for(t);
    if (s->devices[0].is_host)
        return TB_OK;
    if (s->batch > 1) {
        if ((st = group_time(s, s->batch, NULL, &t, err)))
            return st;
        double per_op = t / (double)s->batch;
        s->batch = batch_for(per_op);
        if (per_op < TB_GRAPH_BELOW_S) {
            group_capture(s);
            /* a replay has less launch overhead than the launches the batch was sized from */
            for (int tries = 0; s->use_graph && tries < 3; tries++) {
                if ((st = group_time(s, 0, NULL, &t, err)))
                    return st;
                long want = batch_for(t / (double)s->batch);
                if (t >= 0.9 * TB_BATCH_TARGET_S || want <= s->batch)
                    break;
                group_drop_graphs(s);
                s->batch = want;
                group_capture(s);
            }
        }
    }
    /* one full sample as warm-up, never counted */
    return group_time(s, s->use_graph ? 0 : s->batch, NULL, &t, err);
}

tb_status tb_group_sampler_sample(void *ctx, double *per_op, double *spent, tb_err *err)
{
    tb_group_sampler *s = ctx;
    double t = 0;
    tb_status st = group_time(s, s->use_graph ? 0 : s->batch,
                              s->devices[0].is_host ? NULL : s->tel, &t, err);
    if (st)
        return st;
    *spent = t;
    *per_op = t / (double)s->batch;
    if (s->tel)
        tb_telemetry_add_busy(s->tel, t);
    return TB_OK;
}

const char *tb_group_sampler_timing(const tb_group_sampler *s)
{
    if (s->devices[0].is_host)
        return "host";
    return s->use_graph ? "graph" : "batch";
}

void tb_group_sampler_destroy(tb_group_sampler *s)
{
    group_drop_graphs(s);
    free(s->graph_execs);
    s->graph_execs = NULL;
}

tb_status tb_group_iterations(const tb_impl *impl, void *state, const tb_group *g, int n,
                              tb_iter_stats *out, int *timed_out, tb_err *err)
{
    double *op = calloc((size_t)(n > 0 ? n : 1), sizeof *op);
    double *ranks = calloc((size_t)(n > 0 ? n : 1) * TB_MAX_RANK_TIMES, sizeof *ranks);
    tb_status st = op && ranks ? TB_OK : tb_err_set(err, TB_DEVFAIL, "out of host memory");
    int nranks = -1; /* the count every execution reported, or 0 */
    double begin = tb_clock_monotonic(NULL);
    int done = 0;
    for (int i = 0; i < n && !st; i++) {
        if (i >= TB_ITER_STATS_MIN && tb_clock_monotonic(NULL) - begin > TB_ITER_STATS_BUDGET_S)
            break;
        tb_rank_times *rt = g->rank_times;
        if (rt) {
            memset(rt, 0, sizeof *rt);
            rt->armed = 1;
            rt->start = tb_clock_monotonic(NULL);
        }
        double t0 = tb_clock_monotonic(NULL);
        st = impl->run(state, err);
        if (!st && !g->devices[0].is_host)
            st = tb_group_wait(g->devices, g->n_devices, g->streams, g->timeout_s, timed_out,
                               err);
        op[i] = tb_clock_monotonic(NULL) - t0;
        int got = rt ? rt->ranks : 0;
        if (rt) {
            rt->armed = 0;
            memcpy(ranks + (size_t)i * TB_MAX_RANK_TIMES, rt->t, sizeof rt->t);
        }
        nranks = nranks < 0 || nranks == got ? got : 0;
        done = i + 1;
    }
    n = done;
    if (!st && nranks > 0) /* pack each execution's ranks together */
        for (int i = 1; i < n; i++)
            memmove(ranks + (size_t)i * (size_t)nranks, ranks + (size_t)i * TB_MAX_RANK_TIMES,
                    (size_t)nranks * sizeof *ranks);
    if (!st && tb_iter_stats_compute(op, ranks, n, nranks > 0 ? nranks : 0, out))
        st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
    free(op);
    free(ranks);
    return st;
}

static void CUDART_CB stamp_ranks(void *p)
{
    tb_rank_stamp *rs = p;
    double t = tb_clock_monotonic(NULL) - rs->rt->start;
    for (int r = rs->first; r < rs->first + rs->count; r++)
        rs->rt->t[r] = t;
}

tb_status tb_group_stamp_ranks(const tb_group *g, int ranks_per_device, tb_rank_stamp *stamps,
                               tb_err *err)
{
    tb_rank_times *rt = g->rank_times;
    if (!rt || !rt->armed || g->n_devices * ranks_per_device > TB_MAX_RANK_TIMES)
        return TB_OK;
    for (int d = 0; d < g->n_devices; d++) {
        stamps[d] = (tb_rank_stamp){rt, d * ranks_per_device, ranks_per_device};
        TB_CUDA_TRY(cudaSetDevice(g->devices[d].ordinal), err);
        TB_CUDA_TRY(cudaLaunchHostFunc((cudaStream_t)g->streams[d], stamp_ranks, &stamps[d]),
                    err);
    }
    rt->ranks = g->n_devices * ranks_per_device;
    return TB_OK;
}
