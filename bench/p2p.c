/* p2p.c - the transfer matrix: cells, their verification and statistics, the host
 * pseudo-devices' memcpy matrix and the GPUs' copy-engine, SM and latency matrix. */
#include "p2p.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "../harness/cudacheck.h"
#include "../harness/grow.h"
#include "../harness/sampler.h"
#include "../kernels/p2p/p2p_kernels.h"
#include "../kernels/p2p/p2p_pattern.h"

/* round trips per latency execution: long enough to time, and never 1 (the flags of the
 * last execution must differ from the first write of the next) */
#define P2P_ROUND_TRIPS 1000

uint32_t tb_p2p_word(uint64_t seed, int src, uint64_t i)
{
    return tb_p2p_pattern(seed, src, i);
}

int64_t tb_p2p_check(const uint32_t *got, size_t n, uint64_t seed, int src, int64_t *first_bad)
{
    int64_t bad = 0;
    *first_bad = -1;
    for (size_t i = 0; i < n; i++)
        if (got[i] != tb_p2p_pattern(seed, src, i)) {
            if (!bad)
                *first_bad = (int64_t)i;
            bad++;
        }
    return bad;
}

int tb_p2p_figures(tb_p2p_cell *c, const double *per_op, size_t n, long round_trips)
{
    if (n == 0 || tb_stats_compute(per_op, n, &c->stats) != 0)
        return -1;
    double t = c->stats.median;
    c->gbps = c->op == TB_P2P_LATENCY || !(t > 0) ? NAN : c->bytes / t / 1e9;
    c->latency_us = c->op == TB_P2P_LATENCY && round_trips > 0 ? t / (double)round_trips * 1e6 / 2
                                                              : NAN;
    return 0;
}

const char *tb_p2p_op_name(tb_p2p_op op)
{
    switch (op) {
    case TB_P2P_CE: return "ce";
    case TB_P2P_SM: return "sm";
    case TB_P2P_LATENCY: break;
    }
    return "latency";
}

static tb_p2p_cell *new_cell(tb_p2p_cell **cells, size_t *n, size_t *cap, int src, int dst,
                             tb_p2p_op op, int bidir, double bytes)
{
    tb_p2p_cell *a = tb_grow(*cells, cap, *n + 1, sizeof *a);
    if (!a)
        return NULL;
    *cells = a;
    tb_p2p_cell *c = &a[(*n)++];
    memset(c, 0, sizeof *c);
    c->src = src;
    c->dst = dst;
    c->op = op;
    c->bidir = bidir;
    c->bytes = bytes;
    c->gbps = c->latency_us = NAN;
    return c;
}

/* Times a cell whose first execution has been made and checked, by the harness's sampler on
 * device dev (slow-device:N reaches device N's samples there). */
static tb_status time_cell(const tb_impl *impl, void *state, const tb_device *dev, void *stream,
                           const tb_p2p_opts *o, tb_p2p_cell *c, long round_trips, tb_err *err)
{
    tb_sampler s;
    memset(&s, 0, sizeof s);
    s.impl = impl;
    s.state = state;
    s.device = dev;
    s.stream = stream;
    s.fault = o->fault;
    tb_status st = tb_sampler_init(&s, err);
    tb_samples samples;
    memset(&samples, 0, sizeof samples);
    if (!st)
        st = tb_timer_measure(&o->rule, tb_sampler_sample, &s, tb_clock_monotonic, NULL,
                              &samples, err);
    tb_sampler_destroy(&s);
    if (!st && tb_p2p_figures(c, samples.per_op, samples.count, round_trips))
        st = tb_err_set(err, TB_DEVFAIL, "no samples were taken");
    tb_samples_free(&samples);
    return st;
}

/* ---------------------------------------------------------------- host pseudo-devices */

typedef struct {
    uint32_t *send_a, *send_b; /* what a and b send */
    uint32_t *recv_a, *recv_b; /* what they receive */
    size_t words;
    int bidir;
} host_copy;

static tb_status host_copy_run(void *state, tb_err *err)
{
    (void)err;
    host_copy *h = state;
    memcpy(h->recv_b, h->send_a, h->words * 4);
    if (h->bidir)
        memcpy(h->recv_a, h->send_b, h->words * 4);
    return TB_OK;
}

static const tb_impl host_copy_impl = {
    "host-memcpy", TB_KIND_HOST, "memcpy between host pseudo-devices' buffers", 0, 0,
    TB_DT(TB_FP32), NULL, 0, NULL, host_copy_run, NULL, NULL};

/* Poisons the receiving buffers, runs once, checks them: the number of wrong words. */
static int64_t host_copy_checked(host_copy *h, uint64_t seed, int a, int b, char *why, size_t n)
{
    memset(h->recv_b, 0xff, h->words * 4);
    if (h->bidir)
        memset(h->recv_a, 0xff, h->words * 4);
    tb_err e;
    host_copy_run(h, &e);
    int64_t first;
    int64_t bad = tb_p2p_check(h->recv_b, h->words, seed, a, &first);
    if (bad)
        snprintf(why, n, "%lld of %zu words wrong at %d->%d (first at word %lld)",
                 (long long)bad, h->words, a, b, (long long)first);
    if (h->bidir) {
        int64_t bad2 = tb_p2p_check(h->recv_a, h->words, seed, b, &first);
        if (bad2 && !bad)
            snprintf(why, n, "%lld of %zu words wrong at %d->%d (first at word %lld)",
                     (long long)bad2, h->words, b, a, (long long)first);
        bad += bad2;
    }
    return bad;
}

tb_status tb_p2p_host_matrix(const tb_device *devs, int n_dev, const tb_p2p_opts *o,
                             tb_p2p_cell **cells, size_t *n_cells, tb_err *err)
{
    *cells = NULL;
    *n_cells = 0;
    size_t cap = 0, words = o->bytes / 4;
    uint32_t **send = calloc((size_t)n_dev, sizeof *send);
    uint32_t **recv = calloc((size_t)n_dev, sizeof *recv);
    tb_status st = send && recv && words ? TB_OK
                                         : tb_err_set(err, TB_DEVFAIL, "out of host memory");
    for (int d = 0; d < n_dev && !st; d++) {
        send[d] = malloc(words * 4);
        recv[d] = malloc(words * 4);
        if (!send[d] || !recv[d])
            st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
        else
            for (size_t i = 0; i < words; i++)
                send[d][i] = tb_p2p_pattern(o->seed, d, i);
    }
    for (int bidir = 0; bidir <= 1 && !st; bidir++)
        for (int a = 0; a < n_dev && !st; a++)
            for (int b = 0; b < n_dev && !st; b++) {
                if (a == b || (bidir && b < a))
                    continue;
                tb_p2p_cell *c = new_cell(cells, n_cells, &cap, a, b, TB_P2P_CE, bidir,
                                          (double)words * 4 * (bidir ? 2 : 1));
                if (!c) {
                    st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
                    break;
                }
                host_copy h = {send[a], send[b], recv[a], recv[b], words, bidir};
                c->n_checked = (int64_t)words * (bidir ? 2 : 1);
                c->n_wrong = host_copy_checked(&h, o->seed, a, b, c->reason, sizeof c->reason);
                if (c->n_wrong) {
                    c->status = TB_WRONG;
                    continue;
                }
                tb_status ts = time_cell(&host_copy_impl, &h, &devs[a], NULL, o, c, 0, err);
                if (ts) {
                    c->status = ts;
                    snprintf(c->reason, sizeof c->reason, "%.250s", err->msg);
                    continue;
                }
                /* after timing: poisoned again, one more copy, checked */
                c->n_wrong = host_copy_checked(&h, o->seed, a, b, c->reason, sizeof c->reason);
                if (c->n_wrong) {
                    char why[256];
                    snprintf(why, sizeof why, "after timing: %.230s", c->reason);
                    snprintf(c->reason, sizeof c->reason, "%s", why);
                    c->status = TB_WRONG;
                }
            }
    for (int d = 0; d < n_dev; d++) {
        if (send)
            free(send[d]);
        if (recv)
            free(recv[d]);
    }
    free(send);
    free(recv);
    return st;
}

/* ---------------------------------------------------------------- GPUs */

typedef struct {
    tb_p2p_op op;
    int bidir;
    int a, b;               /* CUDA ordinals; TB_P2P_HOST for pinned host memory */
    void *src_a, *dst_b;    /* a's words, their landing place on b */
    void *src_b, *dst_a;    /* bidir: b's words, their landing place on a */
    size_t bytes;
    int sms_a, sms_b;
    cudaStream_t s_a, s_b;  /* s_a: the case's stream (on a, or on b for a host source) */
    cudaEvent_t fork, join;
    uint32_t *flag_a, *flag_b; /* latency: a's flag lives on b (a writes it), b's on a */
} gpu_copy;

static tb_status gpu_copy_run(void *state, tb_err *err)
{
    gpu_copy *g = state;
    cudaStream_t s = g->s_a;
    if (g->bidir || g->op == TB_P2P_LATENCY) {
        TB_CUDA_TRY(cudaEventRecord(g->fork, s), err);
        TB_CUDA_TRY(cudaStreamWaitEvent(g->s_b, g->fork, 0), err);
    }
    int e = 0;
    if (g->op == TB_P2P_LATENCY) {
        e = tb_p2p_pingpong(g->flag_a, g->flag_b, P2P_ROUND_TRIPS, 1, s);
        if (!e)
            e = tb_p2p_pingpong(g->flag_b, g->flag_a, P2P_ROUND_TRIPS, 0, g->s_b);
    } else if (g->op == TB_P2P_CE) {
        e = (int)cudaMemcpyAsync(g->dst_b, g->src_a, g->bytes, cudaMemcpyDefault, s);
        if (!e && g->bidir)
            e = (int)cudaMemcpyAsync(g->dst_a, g->src_b, g->bytes, cudaMemcpyDefault, g->s_b);
    } else {
        e = tb_p2p_sm_copy(g->dst_b, g->src_a, g->bytes, g->sms_a, s);
        if (!e && g->bidir)
            e = tb_p2p_sm_copy(g->dst_a, g->src_b, g->bytes, g->sms_b, g->s_b);
    }
    if (e)
        return tb_err_set(err, TB_DEVFAIL, "p2p %s %d->%d: %s", tb_p2p_op_name(g->op), g->a,
                          g->b, cudaGetErrorString((cudaError_t)e));
    if (g->bidir || g->op == TB_P2P_LATENCY) {
        TB_CUDA_TRY(cudaEventRecord(g->join, g->s_b), err);
        TB_CUDA_TRY(cudaStreamWaitEvent(s, g->join, 0), err);
    }
    return TB_OK;
}

static const tb_impl gpu_copy_impl = {
    "p2p", TB_KIND_VENDOR, "cudaMemcpyPeerAsync, SM copies and a flag ping-pong", 0, 0,
    TB_DT(TB_FP32), NULL, 0, NULL, gpu_copy_run, NULL, NULL};

/* Poisons the landing places, runs once, counts the wrong words (on the device); latency
 * cells check the flags' last value. */
static tb_status gpu_copy_checked(gpu_copy *g, uint64_t seed, int src_a, int src_b,
                                  unsigned long long *bad, tb_err *err)
{
    *bad = 0;
    if (g->op == TB_P2P_LATENCY) {
        TB_CUDA_TRY(cudaSetDevice(g->a), err);
        tb_status st = gpu_copy_run(g, err);
        if (st)
            return st;
        TB_CUDA_TRY(cudaStreamSynchronize(g->s_a), err);
        uint32_t fa = 0, fb = 0;
        TB_CUDA_TRY(cudaMemcpy(&fa, g->flag_a, 4, cudaMemcpyDefault), err);
        TB_CUDA_TRY(cudaMemcpy(&fb, g->flag_b, 4, cudaMemcpyDefault), err);
        *bad = (fa != P2P_ROUND_TRIPS) + (fb != P2P_ROUND_TRIPS);
        return TB_OK;
    }
    TB_CUDA_TRY(cudaMemset(g->dst_b, 0xff, g->bytes), err);
    if (g->bidir)
        TB_CUDA_TRY(cudaMemset(g->dst_a, 0xff, g->bytes), err);
    TB_CUDA_TRY(cudaDeviceSynchronize(), err);
    tb_status st = gpu_copy_run(g, err);
    if (st)
        return st;
    TB_CUDA_TRY(cudaStreamSynchronize(g->s_a), err);
    unsigned long long *count = NULL, host = 0;
    TB_CUDA_TRY(cudaMallocManaged((void **)&count, sizeof *count, cudaMemAttachGlobal), err);
    *count = 0;
    int e = tb_p2p_count_wrong(g->dst_b, NULL, g->bytes / 4, seed, src_a, count, NULL);
    if (!e && g->bidir)
        e = tb_p2p_count_wrong(g->dst_a, NULL, g->bytes / 4, seed, src_b, count, NULL);
    if (!e)
        e = (int)cudaDeviceSynchronize();
    host = *count;
    cudaFree(count);
    if (e)
        return tb_err_set(err, TB_DEVFAIL, "p2p verification: %s",
                          cudaGetErrorString((cudaError_t)e));
    *bad = host;
    return TB_OK;
}

static void *dev_alloc(int ordinal, size_t bytes, cudaError_t *e)
{
    void *p = NULL;
    if (*e != cudaSuccess)
        return NULL;
    if (ordinal == TB_P2P_HOST)
        *e = cudaHostAlloc(&p, bytes, cudaHostAllocMapped | cudaHostAllocPortable);
    else if ((*e = cudaSetDevice(ordinal)) == cudaSuccess)
        *e = cudaMalloc(&p, bytes);
    return p;
}

static void dev_free(int ordinal, void *p)
{
    if (!p)
        return;
    if (ordinal == TB_P2P_HOST)
        cudaFreeHost(p);
    else
        cudaFree(p);
}

/* One cell on GPUs: set up, checked, timed, checked again. */
static tb_status gpu_cell(const tb_device *devs, int a, int b, const tb_p2p_opts *o,
                          tb_p2p_cell *c, uint32_t **send, tb_err *err)
{
    gpu_copy g;
    memset(&g, 0, sizeof g);
    g.op = c->op;
    g.bidir = c->bidir;
    g.a = a >= 0 ? devs[a].ordinal : TB_P2P_HOST;
    g.b = b >= 0 ? devs[b].ordinal : TB_P2P_HOST;
    g.bytes = o->bytes;
    g.sms_a = a >= 0 ? devs[a].sm_count : devs[b].sm_count;
    g.sms_b = b >= 0 ? devs[b].sm_count : devs[a].sm_count;
    int run_on = a >= 0 ? g.a : g.b; /* a host source is pulled by the GPU */
    int other = b >= 0 ? g.b : g.a;
    cudaError_t e = cudaSuccess;
    if (c->op == TB_P2P_LATENCY) {
        g.flag_a = dev_alloc(g.b, 4, &e);
        g.flag_b = dev_alloc(g.a, 4, &e);
        if (e == cudaSuccess)
            e = cudaMemset(g.flag_a, 0, 4);
        if (e == cudaSuccess)
            e = cudaMemset(g.flag_b, 0, 4);
    } else {
        g.src_a = a >= 0 ? send[a] : dev_alloc(TB_P2P_HOST, o->bytes, &e);
        g.dst_b = dev_alloc(g.b, o->bytes, &e);
        if (c->bidir) {
            g.src_b = send[b];
            g.dst_a = dev_alloc(g.a, o->bytes, &e);
        }
        if (e == cudaSuccess && a < 0) /* the host's pattern, as the host sends it */
            for (size_t i = 0; i < o->bytes / 4; i++)
                ((uint32_t *)g.src_a)[i] = tb_p2p_pattern(o->seed, a, i);
    }
    if (e == cudaSuccess && (e = cudaSetDevice(other)) == cudaSuccess)
        e = cudaStreamCreateWithFlags(&g.s_b, cudaStreamNonBlocking);
    if (e == cudaSuccess && (e = cudaSetDevice(run_on)) == cudaSuccess)
        e = cudaStreamCreateWithFlags(&g.s_a, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaEventCreateWithFlags(&g.fork, cudaEventDisableTiming);
    if (e == cudaSuccess)
        e = cudaEventCreateWithFlags(&g.join, cudaEventDisableTiming);
    tb_status st = TB_OK;
    if (e != cudaSuccess)
        st = tb_err_set(err, TB_DEVFAIL, "p2p %d->%d setup: %s", a, b, cudaGetErrorString(e));
    unsigned long long bad = 0;
    c->n_checked = c->op == TB_P2P_LATENCY ? 2 : (int64_t)(o->bytes / 4) * (c->bidir ? 2 : 1);
    if (!st)
        st = gpu_copy_checked(&g, o->seed, a, b, &bad, err);
    if (!st && bad) {
        c->status = TB_WRONG;
        snprintf(c->reason, sizeof c->reason, "%llu of %lld words wrong", bad,
                 (long long)c->n_checked);
    }
    if (!st && !bad) {
        cudaSetDevice(run_on);
        st = time_cell(&gpu_copy_impl, &g, &devs[a >= 0 ? a : b], g.s_a, o, c,
                       c->op == TB_P2P_LATENCY ? P2P_ROUND_TRIPS : 0, err);
        if (!st)
            st = gpu_copy_checked(&g, o->seed, a, b, &bad, err);
        if (!st && bad) {
            c->status = TB_WRONG;
            snprintf(c->reason, sizeof c->reason, "after timing: %llu of %lld words wrong", bad,
                     (long long)c->n_checked);
        }
    }
    c->n_wrong = (int64_t)bad;
    if (st == TB_DEVFAIL) {
        c->status = TB_DEVFAIL;
        snprintf(c->reason, sizeof c->reason, "%.250s", err->msg);
    }
    if (g.s_a)
        cudaStreamDestroy(g.s_a);
    if (g.s_b)
        cudaStreamDestroy(g.s_b);
    if (g.fork)
        cudaEventDestroy(g.fork);
    if (g.join)
        cudaEventDestroy(g.join);
    if (a < 0)
        dev_free(TB_P2P_HOST, g.src_a);
    dev_free(g.b, g.dst_b);
    dev_free(g.a, g.dst_a);
    dev_free(g.b, g.flag_a);
    dev_free(g.a, g.flag_b);
    return st;
}

tb_status tb_p2p_gpu_matrix(const tb_device *devs, int n_dev, const tb_p2p_opts *o,
                            tb_p2p_cell **cells, size_t *n_cells, tb_err *err)
{
    *cells = NULL;
    *n_cells = 0;
    size_t cap = 0;
    uint32_t **send = calloc((size_t)n_dev, sizeof *send);
    if (!send)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    tb_status st = TB_OK;
    cudaError_t e = cudaSuccess;
    for (int d = 0; d < n_dev && e == cudaSuccess; d++) {
        send[d] = dev_alloc(devs[d].ordinal, o->bytes, &e);
        if (e == cudaSuccess && (e = (cudaError_t)tb_p2p_fill(send[d], o->bytes / 4, o->seed, d,
                                                              NULL)) == cudaSuccess)
            e = cudaDeviceSynchronize();
    }
    if (e != cudaSuccess)
        st = tb_err_set(err, TB_DEVFAIL, "p2p buffers: %s", cudaGetErrorString(e));
    /* peer access both ways, where the pair has it */
    for (int a = 0; a < n_dev && !st; a++)
        for (int b = 0; b < n_dev && !st; b++) {
            if (a == b)
                continue;
            int can = 0;
            cudaDeviceCanAccessPeer(&can, devs[a].ordinal, devs[b].ordinal);
            if (!can)
                continue;
            cudaSetDevice(devs[a].ordinal);
            cudaError_t pe = cudaDeviceEnablePeerAccess(devs[b].ordinal, 0);
            if (pe != cudaSuccess && pe != cudaErrorPeerAccessAlreadyEnabled)
                st = tb_err_set(err, TB_DEVFAIL, "cudaDeviceEnablePeerAccess(%d -> %d): %s", a,
                                b, cudaGetErrorString(pe));
            cudaGetLastError();
        }
    static const tb_p2p_op ops[] = {TB_P2P_CE, TB_P2P_SM, TB_P2P_LATENCY};
    for (int k = 0; k < 3 && !st; k++)
        for (int bidir = 0; bidir <= (ops[k] != TB_P2P_LATENCY) && !st; bidir++)
            for (int a = 0; a < n_dev && !st; a++)
                for (int b = 0; b < n_dev && !st; b++) {
                    if (a == b || (bidir && b < a))
                        continue;
                    tb_p2p_cell *c = new_cell(cells, n_cells, &cap, a, b, ops[k], bidir,
                                              (double)o->bytes * (bidir ? 2 : 1));
                    if (!c) {
                        st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
                        break;
                    }
                    int ab = 0, ba = 0;
                    cudaDeviceCanAccessPeer(&ab, devs[a].ordinal, devs[b].ordinal);
                    cudaDeviceCanAccessPeer(&ba, devs[b].ordinal, devs[a].ordinal);
                    if (!ab || !ba) {
                        c->status = TB_SKIP;
                        snprintf(c->reason, sizeof c->reason,
                                 "no peer access between GPU %d and GPU %d "
                                 "(cudaDeviceCanAccessPeer)",
                                 devs[a].ordinal, devs[b].ordinal);
                        continue;
                    }
                    st = gpu_cell(devs, a, b, o, c, send, err);
                }
    /* host<->device per GPU, by copy engine and by SM copies from pinned memory */
    for (int k = 0; k < 2 && !st; k++)
        for (int d = 0; d < n_dev && !st; d++)
            for (int dir = 0; dir < 2 && !st; dir++) {
                int a = dir ? d : TB_P2P_HOST, b = dir ? TB_P2P_HOST : d;
                tb_p2p_cell *c = new_cell(cells, n_cells, &cap, a, b, ops[k], 0,
                                          (double)o->bytes);
                if (!c)
                    st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
                else
                    st = gpu_cell(devs, a, b, o, c, send, err);
            }
    for (int d = 0; d < n_dev; d++)
        if (send[d]) {
            cudaSetDevice(devs[d].ordinal);
            cudaFree(send[d]);
        }
    free(send);
    return st;
}

void tb_p2p_table(FILE *f, const tb_p2p_cell *cells, size_t n, int n_dev, tb_p2p_op op, int bidir)
{
    fprintf(f, "%8s", "src\\dst");
    for (int b = 0; b < n_dev; b++)
        fprintf(f, " %9d", b);
    fprintf(f, "\n");
    for (int a = 0; a < n_dev; a++) {
        fprintf(f, "%8d", a);
        for (int b = 0; b < n_dev; b++) {
            const tb_p2p_cell *hit = NULL;
            for (size_t i = 0; i < n; i++) {
                const tb_p2p_cell *c = &cells[i];
                if (c->op == op && c->bidir == bidir &&
                    ((c->src == a && c->dst == b) ||
                     (bidir && c->src == b && c->dst == a)))
                    hit = c;
            }
            if (a == b || !hit)
                fprintf(f, " %9s", "-");
            else if (hit->status == TB_SKIP)
                fprintf(f, " %9s", "skip");
            else if (hit->status != TB_OK)
                fprintf(f, " %9s", hit->status == TB_WRONG ? "WRONG" : "error");
            else
                fprintf(f, " %9.4g", op == TB_P2P_LATENCY ? hit->latency_us : hit->gbps);
        }
        fprintf(f, "\n");
    }
    const tb_p2p_cell *first_skip = NULL;
    for (size_t i = 0; i < n && !first_skip; i++)
        if (cells[i].op == op && cells[i].bidir == bidir && cells[i].status == TB_SKIP)
            first_skip = &cells[i];
    if (first_skip)
        fprintf(f, "skip: %s\n", first_skip->reason);
}

/* ---------------------------------------------------------------- result rows */

static const char *const p2p_op_choices[] = {"ce", "sm", "latency", NULL};
static const char *const p2p_dir_choices[] = {"uni", "bi", NULL};

static const tb_axis p2p_axes[] = {
    {"bytes", TB_AXIS_SIZE, "256M", "64M", "8M", "2M", NULL, "bytes per direction"},
    {"op", TB_AXIS_ENUM, "ce,sm,latency", "ce,sm,latency", "ce", "ce", p2p_op_choices,
     "copy engine, SM copy, or a small write's latency"},
    {"dir", TB_AXIS_ENUM, "uni,bi", "uni,bi", NULL, NULL, p2p_dir_choices,
     "one direction, or both at once"},
    {"src", TB_AXIS_INT, "0", "0", NULL, NULL, NULL, "the sending device (-1: pinned host)"},
    {"dst", TB_AXIS_INT, "1", "1", NULL, NULL, NULL, "the receiving device (-1: pinned host)"},
};

static const tb_impl p2p_impls[] = {
    {"p2p", TB_KIND_VENDOR, "cudaMemcpyAsync between peers, SM copies, a flag ping-pong", 0, 0,
     TB_DT(TB_FP32), NULL, 0, NULL, NULL, NULL, NULL},
    {"host-memcpy", TB_KIND_HOST, "memcpy between host pseudo-devices' buffers", 0, 0,
     TB_DT(TB_FP32), NULL, 0, NULL, NULL, NULL, NULL},
};

/* The descriptor of the matrix's result rows (measured by check through the sampler, not run
 * by the runner, so not in the registry). */
static const tb_bench p2p_rows = {
    .name = "p2p",
    .summary = "the transfer matrix: copy engine, SM copies and latency between every pair",
    .axes = p2p_axes,
    .n_axes = (int)(sizeof p2p_axes / sizeof p2p_axes[0]),
    .impls = p2p_impls,
    .n_impls = (int)(sizeof p2p_impls / sizeof p2p_impls[0]),
};

tb_status tb_p2p_write(const tb_p2p_cell *cells, size_t n, const tb_device *devs,
                       tb_writer *w, tb_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const tb_p2p_cell *c = &cells[i];
        tb_result r;
        memset(&r, 0, sizeof r);
        int host = c->src >= 0 ? devs[c->src].is_host : devs[c->dst].is_host;
        r.c.bench = &p2p_rows;
        r.c.impl = &p2p_impls[host ? 1 : 0];
        r.c.dtype = TB_FP32;
        r.c.axis[0] = (int64_t)(c->bidir ? c->bytes / 2 : c->bytes);
        r.c.axis[1] = c->op;
        r.c.axis[2] = c->bidir;
        r.c.axis[3] = c->src;
        r.c.axis[4] = c->dst;
        tb_device pair[2];
        int np = 0;
        if (c->src >= 0)
            pair[np++] = devs[c->src];
        if (c->dst >= 0)
            pair[np++] = devs[c->dst];
        r.device = &pair[0];
        if (np == 2 && !host) {
            r.group = pair;
            r.n_group = 2;
        }
        r.status = c->status;
        snprintf(r.reason, sizeof r.reason, "%s", c->reason);
        r.have_stats = c->status == TB_OK || c->stats.count > 0;
        r.stats = c->stats;
        r.timing = host ? "host" : "batch";
        r.bytes = c->op == TB_P2P_LATENCY ? 0 : c->bytes;
        r.tflops = NAN;
        r.gbps = c->op == TB_P2P_LATENCY ? NAN : c->gbps;
        r.busbw_gbps = r.gbps; /* point to point: bus factor 1 */
        r.alloc_bytes = NAN;
        r.pct_peak = r.pct_vendor = NAN;
        r.have_verify = c->n_checked > 0;
        r.verify.ok = c->n_wrong == 0;
        r.verify.n_checked = c->n_checked;
        r.verify.n_wrong = c->n_wrong;
        tb_status st = tb_writer_add(w, &r, err);
        if (st)
            return st;
    }
    return TB_OK;
}
