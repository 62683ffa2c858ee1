/* check.c - `trainbench check`: the plan, its thresholds, and the verdicts. */
#include "check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime.h>
#include <omp.h>

#include "../harness/context.h"
#include "../harness/device.h"
#include "../harness/health.h"
#include "../harness/record.h"
#include "../harness/results.h"
#include "../harness/runner.h"
#include "../harness/specs.h"
#include "../harness/verdict.h"
#include "benches.h"
#include "burn.h"
#include "p2p.h"

static const char usage_check[] =
    "usage: trainbench check [options]\n"
    "\n"
    "Node acceptance: runs a fixed plan on every GPU (inventory and health, HBM bandwidth,\n"
    "host<->device copies with the PCIe link read under load, bf16 GEMM on all GPUs at once,\n"
    "the P2P transfer matrix, all-reduce at 8 B and 1 GiB, a sustained burn) and gives every\n"
    "GPU and link a verdict: PASS, WARN, FAIL or SKIP with a reason code, the figure measured,\n"
    "the one expected and where it came from; the node verdict last. Results and `verdict`\n"
    "lines go to one JSON Lines file (results/<host>-<YYYYmmdd-HHMMSS>-check.jsonl or -o).\n"
    "\n"
    "  --plan P           quick, standard (default) or long\n"
    "  --burn S           seconds of sustained load (default: quick 10, standard 60, long\n"
    "                     600; --host 1, 2, 10); 0 skips it\n"
    "  --baseline FILE    a result file of a node known good: each figure must reach --pass %\n"
    "                     of its figure there (else the built-in table per GPU model)\n"
    "  --pass PCT         the share of a baseline figure that passes (default 90; --host 50)\n"
    "  --host             the plan's host counterparts on host pseudo-devices (no GPU needed)\n"
    "  --devices N        host pseudo-devices with --host (default 3, 1..16)\n"
    "  -o, --output FILE  the JSON Lines file\n"
    "  -q, --quiet        no progress line on stderr\n"
    "\n"
    "Exit codes: 0 every verdict PASS (WARN and SKIP allowed); 1 any FAIL; 2 bad usage or\n"
    "input; 3 no usable GPU; 4 a device or library failure stopped the plan.\n";

typedef enum { PLAN_QUICK, PLAN_STANDARD, PLAN_LONG } plan_kind;
static const char *const plan_names[] = {"quick", "standard", "long"};

typedef struct {
    plan_kind plan;
    double burn_s;
    int burn_set;
    const char *baseline;
    double pass_frac;
    int pass_set;
    int host;
    int n_host_devices;
    int devices_set;
    const char *output;
    int quiet;
} check_args;

static tb_status parse_args(int argc, char **argv, check_args *a, int *help, tb_err *err)
{
    memset(a, 0, sizeof *a);
    a->plan = PLAN_STANDARD;
    a->n_host_devices = 3;
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            return TB_OK;
        }
        if (!strcmp(arg, "--host")) {
            a->host = 1;
            continue;
        }
        if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->quiet = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        static const char *const with_value[] = {"--plan", "--burn", "--baseline", "--pass",
                                                 "--devices", "--output", "-o", NULL};
        int known = 0;
        for (int k = 0; with_value[k]; k++)
            known |= !strcmp(name, with_value[k]);
        if (!known)
            return tb_err_set(err, TB_USAGE,
                              "check: unknown option '%s' (see 'trainbench check --help')", arg);
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc)
                return tb_err_set(err, TB_USAGE, "check: option '%s' needs a value", name);
            v = argv[++i];
        }
        char *end;
        if (!strcmp(name, "--plan")) {
            int found = -1;
            for (int k = 0; k < 3; k++)
                if (!strcmp(v, plan_names[k]))
                    found = k;
            if (found < 0)
                return tb_err_set(err, TB_USAGE,
                                  "--plan: '%s' is not a plan (use quick, standard or long)", v);
            a->plan = (plan_kind)found;
        } else if (!strcmp(name, "--burn")) {
            errno = 0;
            double s = strtod(v, &end);
            if (!*v || *end || errno || !(s >= 0) || s > 86400)
                return tb_err_set(err, TB_USAGE,
                                  "--burn: '%s' is not a number of seconds (0 to 86400)", v);
            a->burn_s = s;
            a->burn_set = 1;
        } else if (!strcmp(name, "--baseline")) {
            a->baseline = v;
        } else if (!strcmp(name, "--pass")) {
            if (tb_verdict_parse_pct(v, &a->pass_frac))
                return tb_err_set(err, TB_USAGE,
                                  "--pass: '%s' is not a percentage in (0, 100] (use e.g. 90)", v);
            a->pass_set = 1;
        } else if (!strcmp(name, "--devices")) {
            errno = 0;
            long n = strtol(v, &end, 10);
            if (!*v || *end || errno || n < 1 || n > 16)
                return tb_err_set(err, TB_USAGE, "--devices: '%s' is not a count from 1 to 16",
                                  v);
            a->n_host_devices = (int)n;
            a->devices_set = 1;
        } else {
            a->output = v;
        }
    }
    return TB_OK;
}

/* ---------------------------------------------------------------- the plan */

/* A figure the plan measures on every device (or once on the node): which benchmark case, and
 * the codes of its verdicts. */
typedef enum { FIG_HBM, FIG_H2D, FIG_D2H, FIG_GEMM, FIG_GEMM_HW, FIG_AR_SMALL, FIG_AR_LARGE,
               FIG_COUNT } fig_id;

typedef struct {
    const char *what, *unit, *low_code, *outlier_code;
    int node_wide; /* a collective: one figure for the node */
} fig_def;

static const fig_def figs[FIG_COUNT] = {
    {"hbm", "GB/s", "HBM_LOW", "HBM_OUTLIER", 0},
    {"h2d", "GB/s", "PCIE_LOW", "PCIE_OUTLIER", 0},
    {"d2h", "GB/s", "PCIE_LOW", "PCIE_OUTLIER", 0},
    {"gemm", "TFLOP/s", "GEMM_LOW", "GEMM_OUTLIER", 0},
    {"gemm_hw", "TFLOP/s", "GEMM_LOW", "GEMM_OUTLIER", 0},
    {"allreduce_small", "us", "AR_LOW", "AR_LOW", 1},
    {"allreduce_large", "busbw GB/s", "AR_LOW", "AR_LOW", 1},
};

typedef struct {
    fig_id fig;
    const tb_bench *bench;
    const char *impl;
    tb_dtype dtype;
    int64_t axis[TB_MAX_AXES];
} plan_item;

#define MAX_ITEMS 16
/* passes over the host plan: each pseudo-device's best counts (see judge_figure) */
#define HOST_PASSES 3

typedef struct {
    plan_item items[MAX_ITEMS];
    int n;
} plan;

static void add_item(plan *p, fig_id fig, const tb_bench *b, const char *impl, tb_dtype dt,
                     int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4)
{
    plan_item *it = &p->items[p->n++];
    memset(it, 0, sizeof *it);
    it->fig = fig;
    it->bench = b;
    it->impl = impl;
    it->dtype = dt;
    int64_t ax[5] = {a0, a1, a2, a3, a4};
    memcpy(it->axis, ax, sizeof ax);
}

/* The plan's benchmark cases: on GPUs the figures a node is accepted on; on the host their
 * counterparts at sizes a shared CPU measures in seconds. */
static void build_plan(const check_args *a, const tb_device *devs, int ndev, plan *p)
{
    memset(p, 0, sizeof *p);
    int quick = a->plan == PLAN_QUICK;
    const int64_t M = 1 << 20, G = (int64_t)1 << 30;
    if (a->host) {
        int64_t mem = quick ? 4 * M : 16 * M, mm = quick ? 128 : 256;
        add_item(p, FIG_HBM, &tb_bench_membw, "host-copy", TB_FP32, mem, 0, 0, 0, 0);
        add_item(p, FIG_GEMM, &tb_bench_matmul, "host", TB_BF16, mm, mm, mm, 0, 0);
        if (ndev >= 2) {
            add_item(p, FIG_AR_SMALL, &tb_bench_allreduce, "host-ring", TB_FP32, 8, 0, 0, 1, ndev);
            add_item(p, FIG_AR_LARGE, &tb_bench_allreduce, "host-ring", TB_FP32, M, 0, 0, 1, ndev);
        }
        return;
    }
    int64_t mem = quick ? 256 * M : G, mm = a->plan == PLAN_LONG ? 16384 : quick ? 4096 : 8192;
    add_item(p, FIG_HBM, &tb_bench_membw, "copy", TB_FP32, mem, 0, 0, 0, 0);
    add_item(p, FIG_H2D, &tb_bench_membw, "h2d", TB_FP32, 256 * M, 0, 0, 0, 0);
    add_item(p, FIG_D2H, &tb_bench_membw, "d2h", TB_FP32, 256 * M, 0, 0, 0, 0);
    add_item(p, FIG_GEMM, &tb_bench_matmul, "cublas", TB_BF16, mm, mm, mm, 0, 0);
    /* the best hand-written GEMM this node's architecture runs */
    add_item(p, FIG_GEMM_HW, &tb_bench_matmul,
             tb_device_cc(&devs[0]) == 90 ? "wgmma_persistent" : "mma", TB_BF16, mm, mm, mm, 0, 0);
    if (ndev >= 2) {
        add_item(p, FIG_AR_SMALL, &tb_bench_allreduce, "nccl", TB_BF16, 8, 0, 0, 1, 0);
        add_item(p, FIG_AR_LARGE, &tb_bench_allreduce, "nccl", TB_BF16, G, 0, 0, 1, 0);
    }
}

static double default_burn(const check_args *a)
{
    if (a->burn_set)
        return a->burn_s;
    static const double gpu[] = {10, 60, 600}, host[] = {1, 2, 10};
    return a->host ? host[a->plan] : gpu[a->plan];
}

/* ---------------------------------------------------------------- thresholds */

/* Built-in expectations per GPU model: the datasheet figure (REFERENCE.md, harness/specs.c)
 * times a stated factor. Each factor leaves the room public measurements show between the
 * datasheet and a healthy node. */
#define HBM_FACTOR 0.75   /* DCGM's SKU floors: measured x 0.75; a healthy H200 copies 4.3 of 4.8 */
#define GEMM_FACTOR 0.60  /* MAMF reaches 78-87 % of the bf16 peak (A100/H100/B200) */
#define P2P_FACTOR 0.70   /* Azure NHC: P2P >= 335 GB/s on H100, 0.74 of its 450 GB/s NVLink */
#define PCIE_FACTOR 0.70  /* Azure NHC: H2D/D2H >= 48 GB/s on PCIe Gen5 x16 (63 GB/s) */
/* The host's floors only catch a broken pipeline: a CPU of any age clears them. */
#define HOST_HBM_FLOOR_GBPS 0.05
#define HOST_GEMM_FLOOR_TFLOPS 0.00001

/* PCIe payload rate of one lane in one direction, GB/s, by generation (after line coding). */
static double pcie_lane_gbps(int gen)
{
    static const double rate[] = {0, 0.25, 0.5, 0.985, 1.969, 3.938, 7.877};
    return gen >= 1 && gen <= 6 ? rate[gen] : 0;
}

typedef struct {
    double expected;
    char source[160];
} threshold;

static threshold table_threshold(fig_id f, const tb_device *d, const tb_health *h)
{
    threshold t = {NAN, ""};
    if (d->is_host) {
        if (f == FIG_HBM) {
            t.expected = HOST_HBM_FLOOR_GBPS;
            snprintf(t.source, sizeof t.source, "host floor %.2f GB/s", HOST_HBM_FLOOR_GBPS);
        } else if (f == FIG_GEMM) {
            t.expected = HOST_GEMM_FLOOR_TFLOPS;
            snprintf(t.source, sizeof t.source, "host floor %.2f GFLOP/s",
                     HOST_GEMM_FLOOR_TFLOPS * 1e3);
        }
        return t;
    }
    const tb_spec *s = tb_specs_lookup(d->name);
    if ((f == FIG_H2D || f == FIG_D2H) && h && h->pcie_gen_max > 0 && h->pcie_width_max > 0) {
        double raw = pcie_lane_gbps(h->pcie_gen_max) * h->pcie_width_max;
        if (raw > 0) {
            t.expected = raw * PCIE_FACTOR;
            snprintf(t.source, sizeof t.source, "PCIe gen%d x%d %.1f GB/s x %.2f",
                     h->pcie_gen_max, h->pcie_width_max, raw, PCIE_FACTOR);
        }
        return t;
    }
    if (!s)
        return t;
    if (f == FIG_HBM && s->hbm_tbps > 0) {
        t.expected = s->hbm_tbps * 1000 * HBM_FACTOR;
        snprintf(t.source, sizeof t.source, "table %s: datasheet %.0f GB/s x %.2f", s->model,
                 s->hbm_tbps * 1000, HBM_FACTOR);
    } else if (f == FIG_GEMM && s->bf16_tflops > 0) {
        t.expected = s->bf16_tflops * GEMM_FACTOR;
        snprintf(t.source, sizeof t.source, "table %s: datasheet bf16 %.0f TFLOP/s x %.2f",
                 s->model, s->bf16_tflops, GEMM_FACTOR);
    }
    return t;
}

/* ---------------------------------------------------------------- figures from the results */

/* The row's case matches a plan item: same benchmark, implementation and dtype, and (for the
 * two all-reduce sizes) the same bytes. */
static int row_is(const tb_rrow *r, const plan_item *it)
{
    if (!r->bench || !r->impl || !r->dtype)
        return 0;
    if (strcmp(r->bench, it->bench->name) || strcmp(r->impl, it->impl) ||
        strcmp(r->dtype, tb_dtype_name(it->dtype)))
        return 0;
    if (it->fig == FIG_AR_SMALL || it->fig == FIG_AR_LARGE)
        return tb_json_num(r->axes, "bytes") == (double)it->axis[0];
    return 1;
}

static double row_figure(const tb_rrow *r, fig_id f)
{
    if (f == FIG_AR_SMALL)
        return r->median * 1e6;
    if (f == FIG_AR_LARGE)
        return r->busbw_gbps;
    if (f == FIG_GEMM || f == FIG_GEMM_HW)
        return r->tflops;
    return r->gbps;
}

static int row_device(const tb_rrow *r)
{
    if (!r->gpus_text || strchr(r->gpus_text, ',') || !strcmp(r->gpus_text, "host"))
        return -1;
    return atoi(r->gpus_text);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The baseline's figure for a plan item: the median of its ok rows of that case over its
 * devices (NAN when it has none). */
static double baseline_figure(const tb_rfile *bf, const plan_item *it)
{
    double v[256];
    int n = 0;
    for (size_t i = 0; i < bf->n && n < 256; i++) {
        const tb_rrow *r = &bf->rows[i];
        if (r->status && !strcmp(r->status, "ok") && row_is(r, it)) {
            double x = row_figure(r, it->fig);
            if (isfinite(x))
                v[n++] = x;
        }
    }
    if (!n)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---------------------------------------------------------------- verdicts */

typedef struct {
    const check_args *a;
    const tb_device *devs;
    int ndev;
    const tb_rfile *res;      /* this run's results */
    const tb_rfile *baseline; /* or NULL */
    const tb_health *health;  /* per device */
    const tb_verdict_rules *rules;
} judge_ctx;

static int judge_figure(tb_node_verdicts *out, const judge_ctx *j, const plan_item *it)
{
    const fig_def *fd = &figs[it->fig];
    int n = fd->node_wide ? 1 : j->ndev;
    int dev[64], idx;
    double meas[64], expct[64];
    char why_buf[64][256], src_buf[64][160];
    const char *why[64], *src[64];
    for (int d = 0; d < n; d++) {
        dev[d] = fd->node_wide ? TB_VERDICT_DEVICE_NODE : d;
        meas[d] = expct[d] = NAN;
        snprintf(why_buf[d], sizeof why_buf[d], "no result");
        src_buf[d][0] = '\0';
        why[d] = why_buf[d];
        src[d] = src_buf[d];
    }
    for (size_t i = 0; i < j->res->n; i++) {
        const tb_rrow *r = &j->res->rows[i];
        if (!row_is(r, it))
            continue;
        idx = fd->node_wide ? 0 : row_device(r);
        if (idx < 0 || idx >= n)
            continue;
        /* host pseudo-devices are measured in several passes: the best pass counts, as a
         * shared CPU only ever makes a pass slower */
        double x = r->status && !strcmp(r->status, "ok") ? row_figure(r, it->fig) : NAN;
        if (isfinite(x) && (!isfinite(meas[idx]) || (it->fig == FIG_AR_SMALL ? x < meas[idx]
                                                                            : x > meas[idx])))
            meas[idx] = x;
        else if (!isfinite(x))
            snprintf(why_buf[idx], sizeof why_buf[idx], "%s/%s %s: %s", r->bench, r->impl,
                     r->status ? r->status : "?", r->reason ? r->reason : "");
    }
    double base = j->baseline ? baseline_figure(j->baseline, it) : NAN;
    for (int d = 0; d < n; d++) {
        if (isfinite(base) && it->fig != FIG_AR_SMALL) {
            expct[d] = base * j->rules->pass_frac;
            snprintf(src_buf[d], sizeof src_buf[d], "baseline %.4g x %.2f", base,
                     j->rules->pass_frac);
        } else if (!fd->node_wide) {
            threshold t = table_threshold(it->fig, &j->devs[d], &j->health[d]);
            expct[d] = t.expected;
            snprintf(src_buf[d], sizeof src_buf[d], "%s", t.source);
        }
        if (!isfinite(expct[d]) && !src_buf[d][0])
            snprintf(src_buf[d], sizeof src_buf[d], "%s",
                     fd->node_wide ? "no built-in threshold (use --baseline)"
                                   : "model not in the table: within-node only");
    }
    tb_metric m = {fd->what, fd->unit, fd->low_code, fd->outlier_code, n, dev, NULL, meas,
                   why, expct, src};
    size_t before = out->n;
    if (tb_verdict_metric(out, &m, j->rules))
        return -1;
    /* a latency has no floor and no median; host ranks are threads the OS schedules, whose
     * times check the pipeline only (runner.h): correctness only */
    int correctness_only = it->fig == FIG_AR_SMALL || (fd->node_wide && j->devs[0].is_host);
    for (size_t i = before; i < out->n; i++) {
        tb_node_verdict *v = &out->v[i];
        if (fd->node_wide && v->level != TB_VERDICT_SKIP)
            snprintf(v->detail, sizeof v->detail, "the node's figure (%s ranks)",
                     j->devs[0].is_host ? "host" : "GPU");
        if (correctness_only && v->level != TB_VERDICT_SKIP) {
            v->level = TB_VERDICT_PASS;
            v->expected = NAN;
            snprintf(v->reason, sizeof v->reason, "OK");
            snprintf(v->source, sizeof v->source, "%s",
                     j->devs[0].is_host ? "correctness only: host ranks are threads the OS "
                                          "schedules"
                                        : "correctness only: a latency");
        }
    }
    return 0;
}

/* WRONG_RESULT and DEVICE_ERROR per device (node-wide for collectives). */
static int judge_rows(tb_node_verdicts *out, const judge_ctx *j)
{
    for (size_t i = 0; i < j->res->n; i++) {
        const tb_rrow *r = &j->res->rows[i];
        int wrong = r->status && !strcmp(r->status, "wrong");
        int error = r->status && !strcmp(r->status, "error");
        if (!wrong && !error)
            continue;
        tb_node_verdict v;
        memset(&v, 0, sizeof v);
        v.device = row_device(r);
        if (v.device < 0)
            v.device = TB_VERDICT_DEVICE_NODE;
        v.peer = -1;
        snprintf(v.what, sizeof v.what, "%s", r->bench);
        v.level = TB_VERDICT_FAIL;
        snprintf(v.reason, sizeof v.reason, wrong ? "WRONG_RESULT" : "DEVICE_ERROR");
        v.measured = v.expected = NAN;
        snprintf(v.source, sizeof v.source, "verification");
        snprintf(v.detail, sizeof v.detail, "%s/%s: %s", r->bench, r->impl,
                 r->reason ? r->reason : "");
        if (!tb_verdicts_add(out, &v))
            return -1;
    }
    return 0;
}

static int judge_p2p(tb_node_verdicts *out, const judge_ctx *j, const tb_p2p_cell *cells, size_t n)
{
    /* links: the CE unidirectional copy of each ordered pair is held to the table and to the
     * node's median; every other cell to correctness */
    int dev[256], peer[256], k = 0;
    double meas[256], expct[256];
    char why_buf[256][256], src_buf[256][160];
    const char *why[256], *src[256];
    const tb_spec *s = j->devs[0].is_host ? NULL : tb_specs_lookup(j->devs[0].name);
    for (size_t i = 0; i < n && k < 256; i++) {
        const tb_p2p_cell *c = &cells[i];
        if (c->status == TB_WRONG || c->status == TB_DEVFAIL) {
            tb_node_verdict v;
            memset(&v, 0, sizeof v);
            v.device = c->src >= 0 ? c->src : c->dst;
            v.peer = c->src >= 0 && c->dst >= 0 ? c->dst : -1;
            snprintf(v.what, sizeof v.what, "p2p_%s%s", tb_p2p_op_name(c->op),
                     c->bidir ? "_bi" : "");
            v.level = TB_VERDICT_FAIL;
            snprintf(v.reason, sizeof v.reason, "%s",
                     c->status == TB_WRONG ? "WRONG_RESULT" : "DEVICE_ERROR");
            v.measured = v.expected = NAN;
            snprintf(v.source, sizeof v.source, "verification");
            snprintf(v.detail, sizeof v.detail, "%s", c->reason);
            if (!tb_verdicts_add(out, &v))
                return -1;
        }
        if (c->op != TB_P2P_CE || c->bidir || c->src < 0 || c->dst < 0)
            continue;
        dev[k] = c->src;
        peer[k] = c->dst;
        meas[k] = c->status == TB_OK ? c->gbps : NAN;
        expct[k] = NAN;
        snprintf(why_buf[k], sizeof why_buf[k], "%s", c->reason[0] ? c->reason : "not measured");
        src_buf[k][0] = '\0';
        if (c->status == TB_SKIP && s && s->nvlink_gbps > 0) {
            /* a dead link on a model that has NVLink must not pass */
            tb_node_verdict v;
            memset(&v, 0, sizeof v);
            v.device = c->src;
            v.peer = c->dst;
            snprintf(v.what, sizeof v.what, "p2p_ce");
            v.level = TB_VERDICT_FAIL;
            snprintf(v.reason, sizeof v.reason, "P2P_MISSING");
            v.measured = NAN;
            v.expected = s->nvlink_gbps * P2P_FACTOR;
            snprintf(v.source, sizeof v.source, "table %s: NVLink", s->model);
            snprintf(v.detail, sizeof v.detail, "%s", c->reason);
            if (!tb_verdicts_add(out, &v))
                return -1;
            continue;
        }
        if (s && s->nvlink_gbps > 0) {
            expct[k] = s->nvlink_gbps * P2P_FACTOR;
            snprintf(src_buf[k], sizeof src_buf[k], "table %s: NVLink %.0f GB/s x %.2f",
                     s->model, s->nvlink_gbps, P2P_FACTOR);
        } else {
            snprintf(src_buf[k], sizeof src_buf[k], "%s",
                     j->devs[0].is_host ? "host: within-node only"
                                        : "model not in the table: within-node only");
        }
        why[k] = why_buf[k];
        src[k] = src_buf[k];
        k++;
    }
    for (int i = 0; i < k; i++) {
        why[i] = why_buf[i];
        src[i] = src_buf[i];
    }
    tb_metric m = {"p2p_ce", "GB/s", "P2P_LOW", "P2P_OUTLIER", k, dev, peer, meas, why, expct,
                   src};
    return k ? tb_verdict_metric(out, &m, j->rules) : 0;
}

static int add_simple(tb_node_verdicts *out, int device, const char *what, tb_level level,
                      const char *reason, double measured, double expected, const char *unit,
                      const char *source, const char *detail)
{
    tb_node_verdict v;
    memset(&v, 0, sizeof v);
    v.device = device;
    v.peer = -1;
    snprintf(v.what, sizeof v.what, "%s", what);
    v.level = level;
    snprintf(v.reason, sizeof v.reason, "%s", reason);
    v.measured = measured;
    v.expected = expected;
    snprintf(v.unit, sizeof v.unit, "%s", unit);
    snprintf(v.source, sizeof v.source, "%s", source);
    snprintf(v.detail, sizeof v.detail, "%s", detail);
    return tb_verdicts_add(out, &v) ? 0 : -1;
}

static int judge_burn(tb_node_verdicts *out, const judge_ctx *j, const tb_burn_result *b)
{
    int rc = 0;
    for (int d = 0; d < j->ndev; d++) {
        const tb_burn_result *r = &b[d];
        char detail[200];
        if (r->status == TB_SKIP || r->status == TB_DEVFAIL) {
            rc |= add_simple(out, d, "burn", r->status == TB_SKIP ? TB_VERDICT_SKIP
                                                                  : TB_VERDICT_FAIL,
                             r->status == TB_SKIP ? "NOT_MEASURED" : "DEVICE_ERROR", NAN, NAN,
                             "", "", r->reason);
            continue;
        }
        snprintf(detail, sizeof detail, "%ld executions of %s, %ld differed (%lld words)",
                 r->iters, r->impl, r->sdc_iters, (long long)r->sdc_words);
        rc |= add_simple(out, d, "burn_bits", r->sdc_iters ? TB_VERDICT_FAIL : TB_VERDICT_PASS,
                         r->sdc_iters ? "SDC" : "OK", (double)r->sdc_iters, 0, "executions",
                         "bit-exact repeat of the first output", detail);
        /* throughput decay: the last window against the first */
        tb_level l = TB_VERDICT_PASS;
        if (isfinite(r->decay) && r->decay > j->rules->outlier_fail)
            l = TB_VERDICT_FAIL;
        else if (isfinite(r->decay) && r->decay > j->rules->outlier_warn)
            l = TB_VERDICT_WARN;
        /* a CPU has no clocks to throttle: its windows move with the other jobs on it */
        if (j->devs[d].is_host && l == TB_VERDICT_FAIL)
            l = TB_VERDICT_WARN;
        /* the bar shown: the one the figure missed, else the first one it had to clear */
        double frac = l == TB_VERDICT_FAIL || (l == TB_VERDICT_WARN && j->devs[d].is_host &&
                                               r->decay > j->rules->outlier_fail)
                          ? j->rules->outlier_fail
                          : j->rules->outlier_warn;
        char src[160];
        snprintf(src, sizeof src, "first %.3g s x %.2f", r->window_s, 1.0 - frac);
        int k = snprintf(detail, sizeof detail, "first %.4g, last %.4g TFLOP/s over %.3g s windows",
                         r->tflops_first, r->tflops_last, r->window_s);
        if (k > 0 && (size_t)k < sizeof detail && isfinite(r->clock_mhz))
            snprintf(detail + k, sizeof detail - (size_t)k,
                     "; steady state %.0f MHz, %.0f W, %.0f C at most", r->clock_mhz,
                     r->power_w, r->temp_max_c);
        rc |= add_simple(out, d, "burn_rate",
                         isfinite(r->decay) ? l : TB_VERDICT_SKIP,
                         !isfinite(r->decay) ? "NOT_MEASURED"
                         : l == TB_VERDICT_PASS ? "OK"
                                                : "BURN_DECAY",
                         r->tflops_last, r->tflops_first * (1.0 - frac),
                         "TFLOP/s", src, detail);
    }
    return rc;
}

/* ---------------------------------------------------------------- running */

static tb_status make_output(const check_args *a, char *path, size_t n, tb_err *err)
{
    if (a->output) {
        snprintf(path, n, "%s", a->output);
        return TB_OK;
    }
    char host[128] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (mkdir("results", 0777) != 0 && errno != EEXIST)
        return tb_err_set(err, TB_USAGE, "cannot create the directory 'results': %s",
                          strerror(errno));
    snprintf(path, n, "results/%s-%s-check.jsonl", host, stamp);
    return TB_OK;
}

static cJSON *options_json(const check_args *a, double burn_s, const tb_verdict_rules *rules)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "command", "check");
    cJSON_AddStringToObject(o, "plan", plan_names[a->plan]);
    cJSON_AddNumberToObject(o, "burn_s", burn_s);
    cJSON_AddBoolToObject(o, "host", a->host);
    cJSON_AddNumberToObject(o, "pass_pct", rules->pass_frac * 100);
    cJSON_AddNumberToObject(o, "outlier_warn_pct", rules->outlier_warn * 100);
    cJSON_AddNumberToObject(o, "outlier_fail_pct", rules->outlier_fail * 100);
    if (a->baseline)
        cJSON_AddStringToObject(o, "baseline", a->baseline);
    else
        cJSON_AddNullToObject(o, "baseline");
    return o;
}

/* Loads each GPU's PCIe link with host-to-device copies and reads its generation and width
 * meanwhile: an idle GPU trains its link down to save power. */
static void pcie_under_load(const tb_device *devs, int ndev, tb_health_lib *hl, void **hdev,
                            tb_health *health)
{
    const size_t bytes = 64u << 20;
    for (int d = 0; d < ndev; d++) {
        if (!hdev[d] || cudaSetDevice(devs[d].ordinal) != cudaSuccess)
            continue;
        void *host = NULL, *dev = NULL;
        cudaStream_t s = NULL;
        if (cudaHostAlloc(&host, bytes, cudaHostAllocDefault) == cudaSuccess &&
            cudaMalloc(&dev, bytes) == cudaSuccess && cudaStreamCreate(&s) == cudaSuccess) {
            for (int k = 0; k < 8; k++)
                cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, s);
            for (int k = 0; k < 4; k++) {
                tb_health_sample_load(hl, hdev[d], &health[d]);
                usleep(2000);
            }
            cudaStreamSynchronize(s);
        }
        if (s)
            cudaStreamDestroy(s);
        cudaFree(dev);
        cudaFreeHost(host);
        cudaGetLastError();
    }
}

static tb_status append_verdicts(const char *path, const tb_node_verdicts *vs, const tb_node_verdict *node,
                                 tb_err *err)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return tb_err_set(err, TB_DEVFAIL, "cannot append verdicts to %s: %s", path,
                          strerror(errno));
    for (size_t i = 0; i <= vs->n; i++) {
        cJSON *o = tb_verdict_json(i < vs->n ? &vs->v[i] : node);
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;
        if (s)
            fprintf(f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    if (fclose(f) != 0)
        return tb_err_set(err, TB_DEVFAIL, "cannot write verdicts to %s: %s", path,
                          strerror(errno));
    return TB_OK;
}

int tb_check_main(int argc, char **argv, int full_argc, char **full_argv)
{
    check_args a;
    tb_err err;
    int help;
    tb_status st = parse_args(argc, argv, &a, &help, &err);
    if (!st && help) {
        fputs(usage_check, stdout);
        return TB_OK;
    }
    if (!st && !a.host && a.devices_set)
        st = tb_err_set(&err, TB_USAGE, "--devices: only with --host (GPUs are found)");
    tb_fault fault;
    if (!st)
        st = tb_fault_parse(getenv(TB_FAULT_ENV), &fault, &err);
    /* the baseline is read before anything is measured: a bad file measures nothing */
    tb_rfile baseline;
    int have_baseline = 0;
    if (!st && a.baseline) {
        if (!(st = tb_results_load(a.baseline, &baseline, stderr, &err))) {
            have_baseline = 1;
            if (baseline.n == 0)
                st = tb_err_set(&err, TB_USAGE,
                                "--baseline: '%s' holds no results to hold this node to",
                                a.baseline);
        }
    }
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        if (have_baseline)
            tb_results_free(&baseline);
        return TB_USAGE;
    }
    tb_verdict_rules rules = a.host ? tb_verdict_host_rules : tb_verdict_gpu_rules;
    if (a.pass_set)
        rules.pass_frac = a.pass_frac;
    double burn_s = default_burn(&a);

    /* devices */
    tb_device *devs = NULL;
    int ndev = 0;
    if (a.host) {
        /* a host pseudo-device is one core: its CPU time is then its own work (an OpenMP
         * barrier waiting for a thread another job holds spins in CPU time, and moved a
         * 0.4 ms copy by 20x on a shared 2-core machine) */
        omp_set_num_threads(1);
        ndev = a.n_host_devices;
        devs = calloc((size_t)ndev, sizeof *devs);
        for (int d = 0; devs && d < ndev; d++) {
            tb_device_host(&devs[d]);
            devs[d].ordinal = d;
        }
    } else if ((st = tb_device_discover(&devs, &ndev, &err))) {
        fprintf(stderr,
                "trainbench: %s\n"
                "trainbench: to run the plan's host counterparts: trainbench check --host\n",
                err.msg);
        if (have_baseline)
            tb_results_free(&baseline);
        return TB_NODEV;
    }
    if (!devs || ndev > 64) {
        fprintf(stderr, "trainbench: check: %s\n", devs ? "more than 64 devices" : "out of memory");
        free(devs);
        return TB_DEVFAIL;
    }

    /* health: by PCI bus id on GPUs; host pseudo-device N reads NVML device N where a library
     * (the tests' stand-in) has one */
    char why[512] = "";
    tb_health_lib *hl = tb_health_open(why, sizeof why);
    tb_nvml *nvml = a.host ? NULL : tb_nvml_open(why, sizeof why);
    void *hdev[64];
    tb_health health[64];
    for (int d = 0; d < ndev; d++) {
        hdev[d] = tb_health_device(hl, devs[d].pci_bus_id, d);
        tb_health_init(&health[d]);
    }

    char path[1024];
    if ((st = make_output(&a, path, sizeof path, &err))) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        tb_health_close(hl);
        tb_nvml_close(nvml);
        free(devs);
        if (have_baseline)
            tb_results_free(&baseline);
        return st;
    }
    cJSON *opts = options_json(&a, burn_s, &rules);
    cJSON *ctx = tb_context_build(full_argc, full_argv, devs, ndev, nvml,
                                  a.host ? "not used with --host" : why, opts);
    cJSON_Delete(opts);
    tb_writer *w = NULL;
    if (a.output)
        st = tb_writer_open(&w, path, NULL, stdout, ctx, &err);
    else
        st = tb_writer_open_new(&w, path, sizeof path, NULL, stdout, ctx, &err);
    cJSON_Delete(ctx);
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        tb_writer_close(w);
        tb_health_close(hl);
        tb_nvml_close(nvml);
        free(devs);
        if (have_baseline)
            tb_results_free(&baseline);
        return st;
    }

    /* 1. the link under load, for the inventory */
    if (!a.host)
        pcie_under_load(devs, ndev, hl, hdev, health);

    /* 2. the benchmark cases: every GPU at once; host pseudo-devices one after another, as
     * their times are the process's CPU time */
    plan p;
    build_plan(&a, devs, ndev, &p);
    tb_case cases[MAX_ITEMS];
    for (int i = 0; i < p.n; i++) {
        memset(&cases[i], 0, sizeof cases[i]);
        cases[i].bench = p.items[i].bench;
        cases[i].impl = tb_bench_impl(p.items[i].bench, p.items[i].impl);
        cases[i].dtype = p.items[i].dtype;
        memcpy(cases[i].axis, p.items[i].axis, sizeof cases[i].axis);
    }
    tb_run_opts ro;
    memset(&ro, 0, sizeof ro);
    tb_stop_rule host_rule = TB_STOP_RULE_HOST, gpu_rule = TB_STOP_RULE_DEFAULT;
    ro.rule = a.host ? host_rule : gpu_rule;
    if (a.plan == PLAN_QUICK) {
        ro.rule.min_samples = 5;
        ro.rule.min_time = 0.1;
    }
    ro.rule.timeout = a.plan == PLAN_LONG ? 15 : 5;
    /* host ranks are threads that wait on each other: on a loaded machine a rank can wait
     * seconds for a core, which is no hang */
    if (a.host)
        ro.rule.timeout = 60;
    ro.serial = a.host;
    ro.progress = !a.quiet && isatty(STDERR_FILENO);
    ro.seed = 1;
    ro.fault = fault;
    ro.rounds = 1;
    tb_writer_fit_cases(w, cases, (size_t)p.n);
    int devfail = 0;
    for (int pass = 0; pass < (a.host ? HOST_PASSES : 1) && !devfail; pass++)
        devfail = tb_runner_run(cases, (size_t)p.n, devs, ndev, &ro, nvml, w, &err) == TB_DEVFAIL;
    if (devfail)
        fprintf(stderr, "trainbench: %s\n", err.msg);

    /* 3. the transfer matrix */
    tb_p2p_cell *cells = NULL;
    size_t ncells = 0;
    if (ndev >= 2 && !devfail) {
        tb_p2p_opts po;
        memset(&po, 0, sizeof po);
        po.bytes = a.host ? (a.plan == PLAN_QUICK ? 2u << 20 : 8u << 20)
                          : (a.plan == PLAN_QUICK ? 64u << 20 : 256u << 20);
        po.rule = ro.rule;
        po.seed = 1;
        po.fault = &fault;
        tb_status pst = a.host ? tb_p2p_host_matrix(devs, ndev, &po, &cells, &ncells, &err)
                               : tb_p2p_gpu_matrix(devs, ndev, &po, &cells, &ncells, &err);
        if (pst == TB_DEVFAIL) {
            fprintf(stderr, "trainbench: p2p: %s\n", err.msg);
            devfail = 1;
        }
        if (ncells && tb_p2p_write(cells, ncells, devs, w, &err)) {
            fprintf(stderr, "trainbench: %s\n", err.msg);
            devfail = 1;
        }
    }

    /* 4. the burn */
    tb_burn_result burn[64];
    memset(burn, 0, sizeof burn);
    int burned = 0;
    if (burn_s > 0 && !devfail) {
        tb_burn_opts bo = {burn_s, 1, &fault, hl, nvml, a.host ? 96 : 8192};
        tb_status bst = a.host ? tb_burn_host(devs, ndev, &bo, hdev, burn, &err)
                               : tb_burn_gpu(devs, ndev, &bo, hdev, burn, &err);
        if (bst == TB_DEVFAIL) {
            fprintf(stderr, "trainbench: burn: %s\n", err.msg);
            devfail = 1;
        }
        burned = 1;
        for (int d = 0; d < ndev; d++) {
            health[d].reasons |= burn[d].health.reasons;
            health[d].have_reasons |= burn[d].health.have_reasons;
        }
    }
    /* 5. health after the load (counts that grew under it count) */
    for (int d = 0; d < ndev; d++) {
        if (!burned)
            tb_health_sample_load(hl, hdev[d], &health[d]);
        tb_health_read(hl, hdev[d], &health[d]);
    }

    tb_err ferr;
    tb_status fst = tb_writer_finish(w, &ferr);
    if (fst) {
        fprintf(stderr, "trainbench: %s\n", ferr.msg);
        devfail = 1;
    }
    tb_writer_summary(w, stdout);

    /* 6. verdicts, from the results as written */
    tb_rfile res;
    memset(&res, 0, sizeof res);
    tb_node_verdicts vs;
    memset(&vs, 0, sizeof vs);
    int oom = 0;
    if ((st = tb_results_load(path, &res, stderr, &err))) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        devfail = 1;
    } else {
        judge_ctx j = {&a, devs, ndev, &res, have_baseline ? &baseline : NULL, health, &rules};
        for (int d = 0; d < ndev; d++)
            oom |= tb_verdict_health(&vs, d, &health[d]);
        for (int i = 0; i < p.n; i++)
            oom |= judge_figure(&vs, &j, &p.items[i]);
        oom |= judge_rows(&vs, &j);
        if (ndev >= 2)
            oom |= judge_p2p(&vs, &j, cells, ncells);
        else {
            const char *one = "one device: all-reduce, p2p and the within-node comparison need two";
            oom |= add_simple(&vs, TB_VERDICT_DEVICE_NODE, "multi_gpu", TB_VERDICT_SKIP,
                              "SINGLE_GPU", NAN, NAN, "", "", one);
        }
        if (burned)
            oom |= judge_burn(&vs, &j, burn);
        else
            oom |= add_simple(&vs, TB_VERDICT_DEVICE_NODE, "burn", TB_VERDICT_SKIP,
                              "NOT_MEASURED", NAN, NAN, "", "",
                              burn_s > 0 ? "not run: a device failed first" : "--burn 0");
    }
    if (ncells) {
        printf("\np2p copy engine, one direction (GB/s, rows: source, columns: destination)\n");
        tb_p2p_table(stdout, cells, ncells, ndev, TB_P2P_CE, 0);
        printf("\np2p copy engine, both directions (GB/s)\n");
        tb_p2p_table(stdout, cells, ncells, ndev, TB_P2P_CE, 1);
        if (!a.host) {
            printf("\np2p SM copy, one direction (GB/s)\n");
            tb_p2p_table(stdout, cells, ncells, ndev, TB_P2P_SM, 0);
            printf("\np2p write latency seen by the peer (us)\n");
            tb_p2p_table(stdout, cells, ncells, ndev, TB_P2P_LATENCY, 0);
        }
    }
    int n_fail = 0, n_warn = 0;
    tb_level node = tb_verdict_node(&vs, &n_fail, &n_warn);
    if (devfail && node != TB_VERDICT_FAIL)
        node = TB_VERDICT_FAIL;
    tb_node_verdict nv;
    memset(&nv, 0, sizeof nv);
    nv.device = TB_VERDICT_DEVICE_NODE;
    nv.peer = -1;
    snprintf(nv.what, sizeof nv.what, "node");
    nv.level = node;
    snprintf(nv.reason, sizeof nv.reason, "%s",
             devfail ? "DEVICE_ERROR" : node == TB_VERDICT_FAIL ? "FAIL" : "OK");
    nv.measured = nv.expected = NAN;
    snprintf(nv.source, sizeof nv.source, "%s", have_baseline ? "baseline" : "built-in table");
    snprintf(nv.detail, sizeof nv.detail, "%d FAIL, %d WARN over %zu verdicts", n_fail, n_warn,
             vs.n);
    if (!oom && !st) {
        tb_err aerr;
        if (append_verdicts(path, &vs, &nv, &aerr)) {
            fprintf(stderr, "trainbench: %s\n", aerr.msg);
            devfail = 1;
        }
    }
    printf("\nverdicts (%s)\n", a.host ? "host pseudo-devices" : "GPUs");
    tb_verdict_table(stdout, &vs, a.host ? "host" : "gpu");
    printf("\nnode %s: %d FAIL, %d WARN; results and verdicts: %s\n", tb_level_name(node), n_fail,
           n_warn, path);
    fflush(stdout);

    tb_verdicts_free(&vs);
    tb_results_free(&res);
    free(cells);
    tb_writer_close(w);
    tb_health_close(hl);
    tb_nvml_close(nvml);
    free(devs);
    if (have_baseline)
        tb_results_free(&baseline);
    if (oom) {
        fprintf(stderr, "trainbench: out of host memory judging the results\n");
        return TB_DEVFAIL;
    }
    if (devfail)
        return TB_DEVFAIL;
    return node == TB_VERDICT_FAIL ? TB_WRONG : TB_OK;
}
