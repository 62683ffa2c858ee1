/* membw - memory bandwidth: the STREAM kernels (copy, scale, add, triad), a read-only sum,
 * cudaMemcpyAsync device to device (the vendor baseline), and host<->device copies from
 * pinned memory (the PCIe / C2C figure a node check needs).
 *
 * Bytes counted per element of n fp32 elements (REFERENCE.md, the fewest bytes the kernel
 * must move): copy 2 words, scale 2, add 3, triad 3, sum 1, memcpy 2, h2d 1, d2h 1.
 * The axis `bytes` is the size of each array, as in STREAM. Working sets that fit in L2 (a
 * few tens of MiB) measure L2, not HBM: the sweep shows both; --cold flushes L2 per sample.
 *
 * Verification: every output element is compared bit for bit with the value regenerated from
 * the seeds (the operations are single correctly-rounded IEEE operations); sums are checked
 * against an fp64 reference to 1e-9 of sum(|x|). Before timing, and again after the timed loop
 * on refilled inputs and re-poisoned outputs (reinit). Under TRAINBENCH_TEST_FAULT=
 * late-corruption[:N] the host implementations leave the tail block out after the Nth
 * execution. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/bench.h"
#include "../harness/cudacheck.h"
#include "../kernels/fill.h"
#include "../kernels/membw.h"
#include "../kernels/membw/membw_ref.h"
#include "benches.h"

/* Sum tolerance relative to sum(|x|): fp64 accumulation in two different orders differs by
 * ~1e-16 * log2(n) of it; 1e-9 leaves room while a missed or doubled block of 256 inputs
 * (~16 in absolute value) is still caught at 4 GiB (sum|x| ~ 8.6e8). */
#define SUM_TOLERANCE 1e-9

enum { OP_COPY, OP_SCALE, OP_ADD, OP_TRIAD, OP_SUM, OP_MEMCPY, OP_H2D, OP_D2H };

static const struct {
    const char *name;
    int op;
} op_names[] = {
    {"memcpy", OP_MEMCPY},    {"copy", OP_COPY},          {"scale", OP_SCALE},
    {"add", OP_ADD},          {"triad", OP_TRIAD},        {"sum", OP_SUM},
    {"h2d", OP_H2D},          {"d2h", OP_D2H},            {"host-copy", OP_COPY},
    {"host-scale", OP_SCALE}, {"host-add", OP_ADD},       {"host-triad", OP_TRIAD},
    {"host-sum", OP_SUM},
};

static int op_of(const tb_impl *impl)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (strcmp(op_names[i].name, impl->name) == 0)
            return op_names[i].op;
    return -1;
}

/* The STREAM operation an output is checked against. */
static int stream_op(int op)
{
    switch (op) {
    case OP_SCALE: return TB_MEMBW_SCALE;
    case OP_ADD: return TB_MEMBW_ADD;
    case OP_TRIAD: return TB_MEMBW_TRIAD;
    default: return TB_MEMBW_COPY;
    }
}

static int reads_y(int op)
{
    return op == OP_ADD || op == OP_TRIAD;
}

typedef struct {
    int op;
    int host;
    int64_t n;             /* elements per array */
    float s;
    uint64_t seed_x, seed_y;
    int sm_count;
    cudaStream_t stream;
    float *x, *y, *z;      /* device arrays (host arrays for host implementations) */
    float *pinned;         /* h2d source, d2h destination */
    double *partials;      /* sum: per-block partials (device) */
    double *sum_out;       /* sum: the result (device, or host for host-sum) */
    void *scratch;         /* device scratch for the checks */
    long runs;             /* executions so far (host: late-corruption counts them) */
    long late_after;       /* host late-corruption: executions that stay right; -1: none */
} membw_state;

/* The elements a host execution leaves out under late-corruption: the last block of up to
 * 256 (a tail block that exits early: its outputs keep what was there before, a sum misses
 * them). */
#define LATE_TAIL 256

/* ---- work counted ---- */

static double membw_bytes(const tb_case *c)
{
    double n = (double)(c->axis[0] / 4) * 4.0; /* bytes of one array, whole fp32 elements */
    switch (op_of(c->impl)) {
    case OP_ADD:
    case OP_TRIAD: return 3 * n;
    case OP_SUM:
    case OP_H2D:
    case OP_D2H: return n;
    default: return 2 * n;
    }
}

static tb_peak_kind membw_peak_kind(const tb_case *c)
{
    int op = op_of(c->impl);
    return (op == OP_H2D || op == OP_D2H) ? TB_PEAK_NONE : TB_PEAK_MEMORY;
}

/* ---- host reference and host implementation ---- */

static void host_fill(float *x, int64_t n, uint64_t seed)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = tb_rand_normal(seed, (uint64_t)i);
}

static void host_stream(int op, const float *x, const float *y, float *z, int64_t n, float s)
{
    /* one loop per operation, so each vectorizes */
    switch (op) {
    case OP_SCALE:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            z[i] = tb_membw_expected(TB_MEMBW_SCALE, x[i], 0.0f, s);
        break;
    case OP_ADD:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            z[i] = tb_membw_expected(TB_MEMBW_ADD, x[i], y[i], s);
        break;
    case OP_TRIAD:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            z[i] = tb_membw_expected(TB_MEMBW_TRIAD, x[i], y[i], s);
        break;
    default:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            z[i] = x[i];
        break;
    }
}

static double host_sum(const float *x, int64_t n)
{
    double acc = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : acc)
    for (int64_t i = 0; i < n; i++)
        acc += (double)x[i];
    return acc;
}

/* Bit-exact check of an elementwise output against regenerated inputs. */
static void host_check(int op, const float *z, int64_t n, uint64_t seed_x, uint64_t seed_y,
                       float s, tb_verify *v)
{
    int sop = stream_op(op), ry = reads_y(op);
    int64_t wrong = 0;
    double max_abs = 0.0, max_rel = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : wrong) reduction(max : max_abs, max_rel)
    for (int64_t i = 0; i < n; i++) {
        float xv = tb_rand_normal(seed_x, (uint64_t)i);
        float yv = ry ? tb_rand_normal(seed_y, (uint64_t)i) : 0.0f;
        float want = tb_membw_expected(sop, xv, yv, s);
        if (memcmp(&want, &z[i], sizeof want) != 0) {
            wrong++;
            double err = fabs((double)z[i] - (double)want);
            if (isnan(err))
                err = INFINITY;
            double rel = want != 0.0f ? err / fabs((double)want) : err;
            max_abs = err > max_abs ? err : max_abs;
            max_rel = rel > max_rel ? rel : max_rel;
        }
    }
    v->n_checked = n;
    v->n_wrong = wrong;
    v->max_abs_err = max_abs;
    v->max_rel_err = max_rel;
    v->tolerance = 0.0;
    v->ok = wrong == 0;
}

static void check_sum(double got, double want, double want_abs, int64_t n, tb_verify *v)
{
    double err = fabs(got - want);
    if (isnan(err))
        err = INFINITY;
    v->n_checked = n;
    v->tolerance = SUM_TOLERANCE * want_abs;
    v->max_abs_err = err;
    v->max_rel_err = want != 0.0 ? err / fabs(want) : err;
    v->ok = err <= v->tolerance;
    v->n_wrong = v->ok ? 0 : 1;
}

/* ---- setup / run / teardown ---- */

static void membw_teardown(void *p)
{
    membw_state *st = p;
    if (!st)
        return;
    if (st->host) {
        free(st->x);
        free(st->y);
        free(st->z);
        free(st->sum_out);
    } else {
        cudaFree(st->x);
        cudaFree(st->y);
        cudaFree(st->z);
        cudaFree(st->partials);
        cudaFree(st->sum_out);
        cudaFree(st->scratch);
        if (st->pinned)
            cudaFreeHost(st->pinned);
    }
    free(st);
}

static tb_status setup_host(membw_state *st, tb_err *err)
{
    size_t bytes = (size_t)st->n * sizeof(float);
    int nin = reads_y(st->op) ? 2 : 1, nout = st->op == OP_SUM ? 0 : 1;
    tb_status s = tb_device_need_memory(0, (double)bytes * (nin + nout), err);
    if (s)
        return s;
    st->x = malloc(bytes);
    st->y = reads_y(st->op) ? malloc(bytes) : NULL;
    st->z = nout ? malloc(bytes) : NULL;
    st->sum_out = malloc(sizeof(double));
    if (!st->x || (reads_y(st->op) && !st->y) || (nout && !st->z) || !st->sum_out)
        return tb_err_set(err, TB_SKIP, "cannot allocate %zu MiB of host memory",
                          bytes * (size_t)(nin + nout) >> 20);
    return TB_OK;
}

static tb_status setup_gpu(membw_state *st, tb_err *err)
{
    size_t bytes = (size_t)st->n * sizeof(float);
    int op = st->op;
    int dev_in = (op == OP_H2D) ? 0 : (reads_y(op) ? 2 : 1);
    int dev_out = (op == OP_SUM || op == OP_D2H) ? 0 : 1;
    int pinned = op == OP_H2D || op == OP_D2H;
    tb_status s = tb_device_need_memory((double)bytes * (dev_in + dev_out), pinned ? (double)bytes : 0,
                              err);
    if (s)
        return s;
    cudaError_t e;
    if (dev_in >= 1 && (e = cudaMalloc((void **)&st->x, bytes)) != cudaSuccess)
        goto oom;
    if (dev_in == 2 && (e = cudaMalloc((void **)&st->y, bytes)) != cudaSuccess)
        goto oom;
    if (dev_out && (e = cudaMalloc((void **)&st->z, bytes)) != cudaSuccess)
        goto oom;
    if (pinned && (e = cudaMallocHost((void **)&st->pinned, bytes)) != cudaSuccess)
        goto oom;
    if (op == OP_SUM) {
        TB_CUDA_TRY(cudaMalloc((void **)&st->partials,
                               sizeof(double) * (size_t)tb_membw_sum_partials(st->sm_count)),
                    err);
        TB_CUDA_TRY(cudaMalloc((void **)&st->sum_out, sizeof(double)), err);
    }
    TB_CUDA_TRY(cudaMalloc(&st->scratch, 2 * sizeof(double) + sizeof(tb_membw_check_result)),
                err);
    return TB_OK;
oom:
    cudaGetLastError();
    return tb_err_set(err, TB_SKIP, "cannot allocate %.2f GiB (%s)",
                      (double)bytes / (1024.0 * 1024 * 1024), cudaGetErrorString(e));
}

/* Writes the inputs from the seeds and poisons (NaN) the outputs: at setup, and again for
 * the check after the timed loop. */
static tb_status fill_and_poison(membw_state *st, tb_err *err)
{
    size_t bytes = (size_t)st->n * sizeof(float);
    if (st->host) {
        host_fill(st->x, st->n, st->seed_x);
        if (st->y)
            host_fill(st->y, st->n, st->seed_y);
        if (st->z)
            memset(st->z, 0xff, bytes);
        memset(st->sum_out, 0xff, sizeof(double));
        return TB_OK;
    }
    if (st->x)
        TB_CUDA_TRY(tb_fill_normal_f32(st->x, st->n, st->seed_x, st->sm_count, st->stream), err);
    if (st->y)
        TB_CUDA_TRY(tb_fill_normal_f32(st->y, st->n, st->seed_y, st->sm_count, st->stream), err);
    if (st->op == OP_H2D)
        host_fill(st->pinned, st->n, st->seed_x);
    if (st->op == OP_D2H)
        memset(st->pinned, 0xff, bytes);
    if (st->z)
        TB_CUDA_TRY(cudaMemsetAsync(st->z, 0xff, bytes, st->stream), err);
    if (st->sum_out)
        TB_CUDA_TRY(cudaMemsetAsync(st->sum_out, 0xff, sizeof(double), st->stream), err);
    TB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    return TB_OK;
}

static tb_status membw_reinit(const tb_case *c, void *p, tb_err *err)
{
    (void)c;
    return fill_and_poison(p, err);
}

static tb_status membw_setup(const tb_case *c, const tb_env *env, void **state, tb_err *err)
{
    *state = NULL;
    if (c->axis[0] < 16)
        return tb_err_set(err, TB_SKIP, "bytes=%lld holds fewer than 4 fp32 elements",
                          (long long)c->axis[0]);
    membw_state *st = calloc(1, sizeof *st);
    if (!st)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    st->op = op_of(c->impl);
    st->host = env->device->is_host;
    st->n = c->axis[0] / 4;
    st->s = TB_MEMBW_SCALAR;
    st->seed_x = tb_rand_stream(env->seed, 0);
    st->seed_y = tb_rand_stream(env->seed, 1);
    st->sm_count = env->device->sm_count;
    st->stream = (cudaStream_t)env->stream;
    st->late_after = tb_fault_is(env->fault, TB_FAULT_LATE_CORRUPTION) ? env->fault->late_after : -1;
    tb_status s = st->host ? setup_host(st, err) : setup_gpu(st, err);
    if (!s)
        s = fill_and_poison(st, err);
    if (s) {
        membw_teardown(st);
        return s;
    }
    *state = st;
    return TB_OK;
}

static tb_status membw_run_gpu(void *p, tb_err *err)
{
    membw_state *st = p;
    size_t bytes = (size_t)st->n * sizeof(float);
    switch (st->op) {
    case OP_MEMCPY:
        TB_CUDA_TRY(cudaMemcpyAsync(st->z, st->x, bytes, cudaMemcpyDeviceToDevice, st->stream),
                    err);
        break;
    case OP_H2D:
        TB_CUDA_TRY(
            cudaMemcpyAsync(st->z, st->pinned, bytes, cudaMemcpyHostToDevice, st->stream), err);
        break;
    case OP_D2H:
        TB_CUDA_TRY(
            cudaMemcpyAsync(st->pinned, st->x, bytes, cudaMemcpyDeviceToHost, st->stream), err);
        break;
    case OP_SUM:
        TB_CUDA_TRY(tb_membw_sum(st->x, st->n, st->partials, st->sum_out, st->sm_count,
                                 st->stream),
                    err);
        break;
    default:
        TB_CUDA_TRY(tb_membw_stream(stream_op(st->op), st->x, st->y, st->z, st->n, st->s,
                                    st->sm_count, st->stream),
                    err);
        break;
    }
    return TB_OK;
}

static tb_status membw_run_host(void *p, tb_err *err)
{
    (void)err;
    membw_state *st = p;
    int64_t n = st->n;
    if (st->late_after >= 0 && ++st->runs > st->late_after)
        n -= n < LATE_TAIL ? n : LATE_TAIL; /* late-corruption: the tail block is skipped */
    if (st->op == OP_SUM)
        *st->sum_out = host_sum(st->x, n);
    else
        host_stream(st->op, st->x, st->y, st->z, n, st->s);
    return TB_OK;
}

/* ---- verification ---- */

static tb_status membw_verify(const tb_case *c, void *p, tb_verify *v, tb_err *err)
{
    (void)c;
    membw_state *st = p;
    memset(v, 0, sizeof *v);
    if (st->host) {
        if (st->op == OP_SUM) {
            /* reference: a sequential fp64 sum of the regenerated inputs */
            double want = 0.0, want_abs = 0.0;
            for (int64_t i = 0; i < st->n; i++) {
                double xv = (double)tb_rand_normal(st->seed_x, (uint64_t)i);
                want += xv;
                want_abs += fabs(xv);
            }
            check_sum(*st->sum_out, want, want_abs, st->n, v);
        } else {
            host_check(st->op, st->z, st->n, st->seed_x, st->seed_y, st->s, v);
        }
        return TB_OK;
    }
    if (st->op == OP_D2H) {
        host_check(OP_COPY, st->pinned, st->n, st->seed_x, st->seed_y, st->s, v);
        return TB_OK;
    }
    if (st->op == OP_SUM) {
        double *ref = (double *)st->scratch, host_ref[2], got;
        TB_CUDA_TRY(cudaMemsetAsync(ref, 0, 2 * sizeof(double), st->stream), err);
        TB_CUDA_TRY(tb_membw_sum_reference(st->n, st->seed_x, ref, st->sm_count, st->stream),
                    err);
        TB_CUDA_TRY(cudaMemcpyAsync(host_ref, ref, sizeof host_ref, cudaMemcpyDeviceToHost,
                                    st->stream),
                    err);
        TB_CUDA_TRY(cudaMemcpyAsync(&got, st->sum_out, sizeof got, cudaMemcpyDeviceToHost,
                                    st->stream),
                    err);
        TB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
        check_sum(got, host_ref[0], host_ref[1], st->n, v);
        return TB_OK;
    }
    tb_membw_check_result *res =
        (tb_membw_check_result *)((char *)st->scratch + 2 * sizeof(double));
    tb_membw_check_result h;
    TB_CUDA_TRY(cudaMemsetAsync(res, 0, sizeof *res, st->stream), err);
    TB_CUDA_TRY(tb_membw_check(stream_op(st->op), st->z, st->n, st->seed_x, st->seed_y, st->s,
                               res, st->sm_count, st->stream),
                err);
    TB_CUDA_TRY(cudaMemcpyAsync(&h, res, sizeof h, cudaMemcpyDeviceToHost, st->stream), err);
    TB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    float abs_err, rel_err;
    memcpy(&abs_err, &h.max_abs_err_bits, sizeof abs_err);
    memcpy(&rel_err, &h.max_rel_err_bits, sizeof rel_err);
    v->n_checked = st->n;
    v->n_wrong = (int64_t)h.n_wrong;
    v->max_abs_err = abs_err;
    v->max_rel_err = rel_err;
    v->tolerance = 0.0;
    v->ok = h.n_wrong == 0;
    return TB_OK;
}

/* ---- the table ---- */

static const tb_axis membw_axes[] = {
    {"bytes", TB_AXIS_SIZE, "1M:4G:x2", "1M,16M,256M,1G", "1M:1G:x4", "1M,16M,64M", NULL,
     "size of each array (STREAM's array size), bytes"},
};

#define ALL_CC 0, 0
#define F32 TB_DT(TB_FP32)
static const tb_impl membw_impls[] = {
    {"memcpy", TB_KIND_VENDOR, "cudaMemcpyAsync device to device", ALL_CC, F32, NULL, 0,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"copy", TB_KIND_HANDWRITTEN, "STREAM copy z = x, float4", ALL_CC, F32, "memcpy", 0,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"scale", TB_KIND_HANDWRITTEN, "STREAM scale z = 3x, float4", ALL_CC, F32, "memcpy", 0,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"add", TB_KIND_HANDWRITTEN, "STREAM add z = x + y, float4", ALL_CC, F32, "memcpy", 0,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"triad", TB_KIND_HANDWRITTEN, "STREAM triad z = x + 3y, float4", ALL_CC, F32, "memcpy", 0,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"sum", TB_KIND_HANDWRITTEN, "read-only sum of x (fp64 accumulate)", ALL_CC, F32, "memcpy", 0,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"h2d", TB_KIND_VENDOR, "cudaMemcpyAsync pinned host to device", ALL_CC, F32, NULL, 1,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"d2h", TB_KIND_VENDOR, "cudaMemcpyAsync device to pinned host", ALL_CC, F32, NULL, 1,
     membw_setup, membw_run_gpu, membw_teardown, NULL},
    {"host-copy", TB_KIND_HOST, "STREAM copy on the CPU (OpenMP)", ALL_CC, F32, NULL, 0,
     membw_setup, membw_run_host, membw_teardown, NULL},
    {"host-scale", TB_KIND_HOST, "STREAM scale on the CPU (OpenMP)", ALL_CC, F32, NULL, 0,
     membw_setup, membw_run_host, membw_teardown, NULL},
    {"host-add", TB_KIND_HOST, "STREAM add on the CPU (OpenMP)", ALL_CC, F32, NULL, 0,
     membw_setup, membw_run_host, membw_teardown, NULL},
    {"host-triad", TB_KIND_HOST, "STREAM triad on the CPU (OpenMP)", ALL_CC, F32, NULL, 0,
     membw_setup, membw_run_host, membw_teardown, NULL},
    {"host-sum", TB_KIND_HOST, "sum on the CPU (OpenMP, fp64 accumulate)", ALL_CC, F32, NULL, 0,
     membw_setup, membw_run_host, membw_teardown, NULL},
};

const tb_bench tb_bench_membw = {
    "membw",
    "memory bandwidth: STREAM copy/scale/add/triad, read-only sum, memcpy, host<->device",
    membw_axes,
    (int)(sizeof membw_axes / sizeof membw_axes[0]),
    membw_impls,
    (int)(sizeof membw_impls / sizeof membw_impls[0]),
    1,
    NULL,
    membw_bytes,
    membw_peak_kind,
    membw_verify,
    NULL,
    0,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    membw_reinit,
    NULL,
    NULL,
};
