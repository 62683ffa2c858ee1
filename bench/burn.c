/* burn.c - sustained load with bit-exact repeat checks: its statistics, the host burn and the
 * GPU burn (cuBLAS bf16 GEMM). */
#include "burn.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "../harness/cudacheck.h"
#include "../harness/sampler.h"
#include "../harness/timer.h"
#include "../kernels/p2p/p2p_kernels.h"
#include "../kernels/tb_dtype.h"
#include "../kernels/tb_random.h"

double tb_burn_window(double seconds)
{
    return seconds >= 180 ? 60 : seconds / 3;
}

void tb_burn_throughput(const tb_burn_iter *it, long n, double flops, tb_burn_result *r)
{
    double w = tb_burn_window(r->seconds);
    double first_t = 0, last_t = 0;
    long first_n = 0, last_n = 0;
    for (long i = 0; i < n; i++) {
        if (it[i].end_s <= w) {
            first_t += it[i].dur_s;
            first_n++;
        }
        if (it[i].end_s > r->seconds - w) {
            last_t += it[i].dur_s;
            last_n++;
        }
    }
    r->window_s = w;
    r->tflops_first = first_n && first_t > 0 ? flops * (double)first_n / first_t / 1e12 : NAN;
    r->tflops_last = last_n && last_t > 0 ? flops * (double)last_n / last_t / 1e12 : NAN;
    r->decay = isfinite(r->tflops_first) && isfinite(r->tflops_last) && r->tflops_first > 0
                   ? 1.0 - r->tflops_last / r->tflops_first
                   : NAN;
}

int64_t tb_burn_diff(const uint32_t *first, const uint32_t *out, size_t n)
{
    int64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += first[i] != out[i];
    return d;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The burn loop shared by host and GPU: samples from the harness's sampler until the time is
 * up, each followed by a bit-for-bit comparison of the output with the first's (compare) and
 * a read of the throttle reasons. */
typedef tb_status (*burn_compare_fn)(void *state, int64_t *words, tb_err *err);

static tb_status burn_loop(tb_sampler *s, const tb_burn_opts *o, double flops, void *hdev,
                           burn_compare_fn compare, tb_burn_result *r, tb_err *err)
{
    size_t cap = 1024;
    long n = 0;
    tb_burn_iter *it = malloc(cap * sizeof *it);
    if (!it)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    tb_status st = tb_sampler_init(s, err);
    tb_telemetry all, last;
    memset(&all, 0, sizeof all);
    memset(&last, 0, sizeof last);
    int in_last = 0;
    double w = tb_burn_window(o->seconds);
    tb_telemetry_begin(o->nvml, s->nvml_dev, &all);
    double t0 = wall_now(), now = t0;
    while (!st && now - t0 < o->seconds) {
        if (!in_last && now - t0 >= o->seconds - w) {
            tb_telemetry_begin(o->nvml, s->nvml_dev, &last);
            in_last = 1;
        }
        s->tel = in_last ? &last : &all;
        double per_op = 0, spent = 0;
        st = tb_sampler_sample(s, &per_op, &spent, err);
        tb_health_sample_load(o->health, hdev, &r->health);
        now = wall_now();
        if (st)
            break;
        int64_t words = 0;
        if ((st = compare(s->state, &words, err)))
            break;
        if (words) {
            r->sdc_iters++;
            r->sdc_words += words;
        }
        if ((size_t)n == cap) {
            tb_burn_iter *g = realloc(it, 2 * cap * sizeof *it);
            if (!g) {
                st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
                break;
            }
            it = g;
            cap *= 2;
        }
        it[n++] = (tb_burn_iter){now - t0, per_op * (double)s->batch};
        r->iters += s->batch;
    }
    tb_sampler_destroy(s);
    if (in_last)
        tb_telemetry_end(o->nvml, s->nvml_dev, &last);
    r->seconds = o->seconds;
    tb_burn_throughput(it, n, flops * (double)s->batch, r);
    r->clock_mhz = in_last ? tb_telemetry_clock_mhz(&last) : NAN;
    r->power_w = in_last ? tb_telemetry_power_w(&last) : NAN;
    r->temp_max_c = in_last ? tb_telemetry_temp_c(&last) : NAN;
    free(it);
    if (!st && r->sdc_iters) {
        r->status = TB_WRONG;
        snprintf(r->reason, sizeof r->reason,
                 "%ld of %ld samples' outputs differed from the first run's (%lld words)",
                 r->sdc_iters, n, (long long)r->sdc_words);
    }
    return st;
}

/* ---------------------------------------------------------------- host */

typedef struct {
    int n;
    float *a, *b;     /* bf16-rounded values, (n, n) */
    float *c;         /* (n, n) = a b^T, fp32 accumulate in k order */
    float *first;     /* the first execution's c */
    const tb_fault *fault; /* late-corruption:N flips one bit of every execution after the Nth */
    long runs;
} host_gemm;

static tb_status host_gemm_run(void *state, tb_err *err)
{
    (void)err;
    host_gemm *g = state;
    int n = g->n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0;
            for (int k = 0; k < n; k++)
                acc += g->a[(size_t)i * n + k] * g->b[(size_t)j * n + k];
            g->c[(size_t)i * n + j] = acc;
        }
    if (tb_fault_is(g->fault, TB_FAULT_LATE_CORRUPTION) && ++g->runs > g->fault->late_after) {
        uint32_t bits;
        memcpy(&bits, &g->c[(size_t)(g->runs % n) * n], 4);
        bits ^= 1u << 3; /* a low mantissa bit: a result still plausible, no longer the same */
        memcpy(&g->c[(size_t)(g->runs % n) * n], &bits, 4);
    }
    return TB_OK;
}

static tb_status host_gemm_compare(void *state, int64_t *words, tb_err *err)
{
    (void)err;
    host_gemm *g = state;
    *words = tb_burn_diff((const uint32_t *)g->first, (const uint32_t *)g->c,
                          (size_t)g->n * g->n);
    return TB_OK;
}

static const tb_impl host_gemm_impl = {
    "host", TB_KIND_HOST, "bf16-rounded GEMM, fp32 accumulate in a fixed order", 0, 0,
    TB_DT(TB_BF16), NULL, 0, NULL, host_gemm_run, NULL, NULL};

tb_status tb_burn_host(const tb_device *devs, int n_dev, const tb_burn_opts *o,
                       void *const *health_devs, tb_burn_result *results, tb_err *err)
{
    int n = o->n;
    size_t nn = (size_t)n * n;
    host_gemm g = {n, malloc(nn * 4), malloc(nn * 4), malloc(nn * 4), malloc(nn * 4), o->fault,
                   0};
    tb_status st = TB_OK;
    if (!g.a || !g.b || !g.c || !g.first)
        st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
    for (size_t i = 0; !st && i < nn; i++) {
        g.a[i] = tb_bf16_to_f32(tb_f32_to_bf16(tb_rand_normal(tb_rand_stream(o->seed, 0), i)));
        g.b[i] = tb_bf16_to_f32(tb_f32_to_bf16(tb_rand_normal(tb_rand_stream(o->seed, 1), i)));
    }
    for (int d = 0; d < n_dev && !st; d++) {
        tb_burn_result *r = &results[d];
        memset(r, 0, sizeof *r);
        r->device = d;
        snprintf(r->impl, sizeof r->impl, "host");
        tb_health_init(&r->health);
        g.runs = 0;
        host_gemm_run(&g, err);
        memcpy(g.first, g.c, nn * 4);
        tb_sampler s;
        memset(&s, 0, sizeof s);
        s.impl = &host_gemm_impl;
        s.state = &g;
        s.device = &devs[d];
        s.fault = o->fault;
        st = burn_loop(&s, o, 2.0 * (double)nn * n, health_devs ? health_devs[d] : NULL,
                       host_gemm_compare, r, err);
        if (st) {
            r->status = st;
            snprintf(r->reason, sizeof r->reason, "%.250s", err->msg);
        }
    }
    free(g.a);
    free(g.b);
    free(g.c);
    free(g.first);
    return st;
}

/* ---------------------------------------------------------------- GPUs */

typedef struct {
    int n;
    cublasHandle_t h;
    cudaStream_t stream;
    uint16_t *a, *b, *c, *first; /* bf16 (n, n) */
    unsigned long long *count;   /* managed: words differing */
} gpu_gemm;

static tb_status gpu_gemm_run(void *state, tb_err *err)
{
    gpu_gemm *g = state;
    const float alpha = 1, beta = 0;
    cublasStatus_t s = cublasGemmEx(g->h, CUBLAS_OP_T, CUBLAS_OP_N, g->n, g->n, g->n, &alpha,
                                    g->b, CUDA_R_16BF, g->n, g->a, CUDA_R_16BF, g->n, &beta,
                                    g->c, CUDA_R_16BF, g->n, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        return tb_err_set(err, TB_DEVFAIL, "cublasGemmEx failed: status %d", (int)s);
    return TB_OK;
}

static tb_status gpu_gemm_compare(void *state, int64_t *words, tb_err *err)
{
    gpu_gemm *g = state;
    *g->count = 0;
    int e = tb_p2p_count_wrong((const uint32_t *)g->c, (const uint32_t *)g->first,
                               (size_t)g->n * g->n / 2, 0, 0, g->count, g->stream);
    if (e)
        return tb_err_set(err, TB_DEVFAIL, "burn comparison: %s",
                          cudaGetErrorString((cudaError_t)e));
    TB_CUDA_TRY(cudaStreamSynchronize(g->stream), err);
    *words = (int64_t)*g->count;
    return TB_OK;
}

static const tb_impl gpu_gemm_impl = {
    "cublas", TB_KIND_VENDOR, "cublasGemmEx bf16, fp32 compute", 0, 0, TB_DT(TB_BF16), NULL, 0,
    NULL, gpu_gemm_run, NULL, NULL};

typedef struct {
    const tb_device *dev;
    int index;
    const tb_burn_opts *o;
    void *hdev;
    const uint16_t *ha, *hb;
    tb_burn_result *r;
    tb_status st;
    tb_err err;
} gpu_job;

static void *gpu_burn_one(void *arg)
{
    gpu_job *j = arg;
    tb_burn_result *r = j->r;
    tb_err *err = &j->err;
    gpu_gemm g;
    memset(&g, 0, sizeof g);
    g.n = j->o->n;
    size_t bytes = (size_t)g.n * g.n * 2;
    tb_status st = TB_OK;
    cudaError_t e = cudaSetDevice(j->dev->ordinal);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&g.a, bytes);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&g.b, bytes);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&g.c, bytes);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&g.first, bytes);
    if (e == cudaSuccess)
        e = cudaMallocManaged((void **)&g.count, sizeof *g.count, cudaMemAttachGlobal);
    if (e == cudaSuccess)
        e = cudaMemcpy(g.a, j->ha, bytes, cudaMemcpyHostToDevice);
    if (e == cudaSuccess)
        e = cudaMemcpy(g.b, j->hb, bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess)
        st = tb_err_set(err, TB_DEVFAIL, "GPU %d burn setup: %s", j->dev->ordinal,
                        cudaGetErrorString(e));
    if (!st && cublasCreate(&g.h) != CUBLAS_STATUS_SUCCESS)
        st = tb_err_set(err, TB_DEVFAIL, "GPU %d: cublasCreate failed", j->dev->ordinal);
    if (!st && cublasSetStream(g.h, g.stream) != CUBLAS_STATUS_SUCCESS)
        st = tb_err_set(err, TB_DEVFAIL, "GPU %d: cublasSetStream failed", j->dev->ordinal);
    if (!st && !(st = gpu_gemm_run(&g, err))) {
        e = cudaStreamSynchronize(g.stream);
        if (e == cudaSuccess)
            e = cudaMemcpy(g.first, g.c, bytes, cudaMemcpyDeviceToDevice);
        if (e != cudaSuccess)
            st = tb_err_set(err, TB_DEVFAIL, "GPU %d burn: %s", j->dev->ordinal,
                            cudaGetErrorString(e));
    }
    if (!st) {
        tb_sampler s;
        memset(&s, 0, sizeof s);
        s.impl = &gpu_gemm_impl;
        s.state = &g;
        s.device = j->dev;
        s.stream = g.stream;
        s.nvml = j->o->nvml;
        s.nvml_dev = tb_nvml_device(j->o->nvml, j->dev->pci_bus_id);
        s.fault = j->o->fault;
        st = burn_loop(&s, j->o, 2.0 * (double)g.n * g.n * g.n, j->hdev, gpu_gemm_compare, r,
                       err);
    }
    if (g.h)
        cublasDestroy(g.h);
    cudaFree(g.a);
    cudaFree(g.b);
    cudaFree(g.c);
    cudaFree(g.first);
    cudaFree(g.count);
    if (g.stream)
        cudaStreamDestroy(g.stream);
    if (st) {
        r->status = st;
        snprintf(r->reason, sizeof r->reason, "%.250s", err->msg);
    }
    j->st = st;
    return NULL;
}

tb_status tb_burn_gpu(const tb_device *devs, int n_dev, const tb_burn_opts *o,
                      void *const *health_devs, tb_burn_result *results, tb_err *err)
{
    size_t nn = (size_t)o->n * o->n;
    uint16_t *ha = malloc(nn * 2), *hb = malloc(nn * 2);
    gpu_job *jobs = calloc((size_t)n_dev, sizeof *jobs);
    pthread_t *th = calloc((size_t)n_dev, sizeof *th);
    if (!ha || !hb || !jobs || !th) {
        free(ha);
        free(hb);
        free(jobs);
        free(th);
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    }
    for (size_t i = 0; i < nn; i++) {
        ha[i] = tb_f32_to_bf16(tb_rand_normal(tb_rand_stream(o->seed, 0), i));
        hb[i] = tb_f32_to_bf16(tb_rand_normal(tb_rand_stream(o->seed, 1), i));
    }
    /* every GPU at once: the node's power and cooling under full load */
    for (int d = 0; d < n_dev; d++) {
        memset(&results[d], 0, sizeof results[d]);
        results[d].device = d;
        snprintf(results[d].impl, sizeof results[d].impl, "cublas");
        tb_health_init(&results[d].health);
        jobs[d] = (gpu_job){&devs[d], d, o, health_devs ? health_devs[d] : NULL, ha, hb,
                            &results[d], TB_OK, {{0}}};
        if (pthread_create(&th[d], NULL, gpu_burn_one, &jobs[d]) != 0) {
            th[d] = 0;
            gpu_burn_one(&jobs[d]);
        }
    }
    tb_status st = TB_OK;
    for (int d = 0; d < n_dev; d++) {
        if (th[d])
            pthread_join(th[d], NULL);
        if (jobs[d].st == TB_DEVFAIL && !st) {
            st = TB_DEVFAIL;
            *err = jobs[d].err;
        }
    }
    free(ha);
    free(hb);
    free(jobs);
    free(th);
    return st;
}
