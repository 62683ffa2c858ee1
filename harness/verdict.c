#include "verdict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* gpu-fryer fails a GPU more than 10 % below the best; SuperBench flags 5 % below baseline
 * (REFERENCE.md, "outlier rules"). Against the median, so one weak GPU does not move it. */
const tb_verdict_rules tb_verdict_gpu_rules = {0.90, 0.05, 0.10};
/* Host pseudo-devices run one after another on a shared CPU whose speed moves with the other
 * jobs on it (a healthy host link measured once came 36 % below the median under CI's
 * parallel tests): only a device or link 40 % below the median is a FAIL (an injected 2x
 * slowdown is 50 % below). */
const tb_verdict_rules tb_verdict_host_rules = {0.50, 0.20, 0.40};

const char *tb_level_name(tb_level l)
{
    switch (l) {
    case TB_VERDICT_PASS: return "PASS";
    case TB_VERDICT_WARN: return "WARN";
    case TB_VERDICT_FAIL: return "FAIL";
    case TB_VERDICT_SKIP: break;
    }
    return "SKIP";
}

tb_node_verdict *tb_verdicts_add(tb_node_verdicts *vs, const tb_node_verdict *v)
{
    tb_node_verdict *a = tb_grow(vs->v, &vs->cap, vs->n + 1, sizeof *a);
    if (!a)
        return NULL;
    vs->v = a;
    a[vs->n] = *v;
    return &a[vs->n++];
}

void tb_verdicts_free(tb_node_verdicts *vs)
{
    free(vs->v);
    memset(vs, 0, sizeof *vs);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static tb_node_verdict base(int device, int peer, const char *what, const char *unit)
{
    tb_node_verdict v;
    memset(&v, 0, sizeof v);
    v.device = device;
    v.peer = peer;
    snprintf(v.what, sizeof v.what, "%s", what);
    snprintf(v.unit, sizeof v.unit, "%s", unit ? unit : "");
    snprintf(v.reason, sizeof v.reason, "OK");
    v.measured = v.expected = NAN;
    return v;
}

int tb_verdict_metric(tb_node_verdicts *out, const tb_metric *m, const tb_verdict_rules *rules)
{
    double *vals = malloc(((size_t)m->n + 1) * sizeof *vals);
    if (!vals)
        return -1;
    int nv = 0;
    for (int i = 0; i < m->n; i++)
        if (isfinite(m->measured[i]))
            vals[nv++] = m->measured[i];
    double median = NAN;
    if (nv >= 2) {
        qsort(vals, (size_t)nv, sizeof *vals, cmp_double);
        median = nv % 2 ? vals[nv / 2] : 0.5 * (vals[nv / 2 - 1] + vals[nv / 2]);
    }
    free(vals);
    for (int i = 0; i < m->n; i++) {
        tb_node_verdict v = base(m->device[i], m->peer ? m->peer[i] : -1, m->what, m->unit);
        double x = m->measured[i];
        v.measured = x;
        if (!isfinite(x)) {
            v.level = TB_VERDICT_SKIP;
            snprintf(v.reason, sizeof v.reason, "NOT_MEASURED");
            snprintf(v.detail, sizeof v.detail, "%s",
                     m->skip_why && m->skip_why[i] ? m->skip_why[i] : "no result");
            if (!tb_verdicts_add(out, &v))
                return -1;
            continue;
        }
        /* the absolute threshold */
        tb_level abs_level = TB_VERDICT_PASS;
        double e = m->expected ? m->expected[i] : NAN;
        if (isfinite(e) && x < e)
            abs_level = TB_VERDICT_FAIL;
        /* the node's median */
        tb_level rel_level = TB_VERDICT_PASS;
        double below = isfinite(median) && median > 0 ? 1.0 - x / median : NAN;
        if (isfinite(below) && below > rules->outlier_fail)
            rel_level = TB_VERDICT_FAIL;
        else if (isfinite(below) && below > rules->outlier_warn)
            rel_level = TB_VERDICT_WARN;
        if (abs_level == TB_VERDICT_FAIL) {
            v.level = TB_VERDICT_FAIL;
            snprintf(v.reason, sizeof v.reason, "%s", m->low_code);
        } else if (rel_level != TB_VERDICT_PASS) {
            v.level = rel_level;
            snprintf(v.reason, sizeof v.reason, "%s", m->outlier_code);
        }
        if (abs_level == TB_VERDICT_FAIL || rel_level == TB_VERDICT_PASS || !isfinite(median)) {
            v.expected = e;
            snprintf(v.source, sizeof v.source, "%s", m->source && m->source[i] ? m->source[i] : "");
        } else {
            double frac = rel_level == TB_VERDICT_WARN ? rules->outlier_warn : rules->outlier_fail;
            v.expected = median * (1.0 - frac);
            snprintf(v.source, sizeof v.source, "node median %.4g x %.2f", median, 1.0 - frac);
        }
        if (isfinite(median))
            snprintf(v.detail, sizeof v.detail, "%.1f %% %s the node median %.4g %s",
                     100.0 * fabs(below), below > 0 ? "below" : "above", median, m->unit);
        else
            snprintf(v.detail, sizeof v.detail, "one %s measured: no within-node comparison",
                     m->peer ? "link" : "device");
        if (!tb_verdicts_add(out, &v))
            return -1;
    }
    return 0;
}

static int add_fact(tb_node_verdicts *out, int device, const char *what, tb_level level,
                    const char *reason, double measured, double expected, const char *detail)
{
    tb_node_verdict v = base(device, -1, what, "");
    v.level = level;
    snprintf(v.reason, sizeof v.reason, "%s", reason);
    v.measured = measured;
    v.expected = expected;
    snprintf(v.source, sizeof v.source, "NVML");
    snprintf(v.detail, sizeof v.detail, "%s", detail);
    return tb_verdicts_add(out, &v) ? 0 : -1;
}

/* nvmlClocksEventReason bits (nvml.h lists the names) */
#define R_SW_POWER_CAP 0x4ULL
#define R_HW_SLOWDOWN 0x8ULL
#define R_SW_THERMAL 0x20ULL
#define R_HW_THERMAL 0x40ULL
#define R_HW_POWER_BRAKE 0x80ULL

int tb_verdict_health(tb_node_verdicts *out, int device, const tb_health *h)
{
    if (!h->known)
        return add_fact(out, device, "health", TB_VERDICT_SKIP, "NO_NVML", NAN, NAN,
                        "NVML not available: ECC, remapped rows, PCIe link and throttle reasons "
                        "not read");
    int rc = 0;
    char d[200];
    if (h->ecc_uncorrected > 0) {
        snprintf(d, sizeof d, "%lld uncorrectable ECC errors since the driver loaded",
                 h->ecc_uncorrected);
        rc |= add_fact(out, device, "ecc", TB_VERDICT_FAIL, "ECC_UNCORRECTABLE",
                       (double)h->ecc_uncorrected, 0, d);
    } else if (h->ecc_mode == 0) {
        rc |= add_fact(out, device, "ecc", TB_VERDICT_WARN, "ECC_DISABLED", 0, 1,
                       "ECC is off: memory errors go undetected");
    } else if (h->ecc_mode == 1 || h->ecc_uncorrected == 0) {
        snprintf(d, sizeof d, "ECC on; %lld corrected errors", h->ecc_corrected);
        rc |= add_fact(out, device, "ecc", TB_VERDICT_PASS, "OK", 0, 0, d);
    }
    if (h->remap_failed == 1)
        rc |= add_fact(out, device, "row_remap", TB_VERDICT_FAIL, "ROW_REMAP_FAILED", 1, 0,
                       "a row remap failed: no spare rows left");
    else if (h->remap_pending == 1)
        rc |= add_fact(out, device, "row_remap", TB_VERDICT_FAIL, "ROW_REMAP_PENDING", 1, 0,
                       "a row remap waits for a GPU reset");
    else if (h->remap_pending == 0) {
        snprintf(d, sizeof d, "%lld rows remapped for uncorrectable errors", h->rows_remapped_unc);
        rc |= add_fact(out, device, "row_remap", TB_VERDICT_PASS, "OK",
                       (double)h->rows_remapped_unc, NAN, d);
    }
    if (h->retired_pending == 1)
        rc |= add_fact(out, device, "retired_pages", TB_VERDICT_FAIL, "RETIRED_PAGES_PENDING", 1,
                       0, "a page retirement waits for a reboot");
    if (h->pcie_width > 0 && h->pcie_width_max > 0 && h->pcie_gen > 0 && h->pcie_gen_max > 0) {
        int down = h->pcie_width < h->pcie_width_max || h->pcie_gen < h->pcie_gen_max;
        snprintf(d, sizeof d, "PCIe gen %d x%d under load (maximum gen %d x%d)", h->pcie_gen,
                 h->pcie_width, h->pcie_gen_max, h->pcie_width_max);
        rc |= add_fact(out, device, "pcie_link", down ? TB_VERDICT_FAIL : TB_VERDICT_PASS,
                       down ? "PCIE_DOWNGRADED" : "OK", h->pcie_width, h->pcie_width_max, d);
    }
    if (h->have_reasons) {
        unsigned long long r = h->reasons;
        if (r & (R_HW_THERMAL | R_SW_THERMAL)) {
            int hw = (r & R_HW_THERMAL) != 0;
            rc |= add_fact(out, device, "throttle", hw ? TB_VERDICT_FAIL : TB_VERDICT_WARN,
                           "THROTTLE_THERMAL", (double)r, 0,
                           hw ? "hw_thermal_slowdown under load: the GPU overheats"
                              : "sw_thermal_slowdown under load: clocks lowered for temperature");
        }
        if (r & (R_HW_POWER_BRAKE | R_HW_SLOWDOWN))
            rc |= add_fact(out, device, "throttle", TB_VERDICT_FAIL, "THROTTLE_POWER", (double)r,
                           0,
                           (r & R_HW_POWER_BRAKE)
                               ? "hw_power_brake_slowdown under load: the power supply asked for "
                                 "a slowdown"
                               : "hw_slowdown under load: clocks halved by the hardware");
        if (!(r & (R_HW_THERMAL | R_SW_THERMAL | R_HW_POWER_BRAKE | R_HW_SLOWDOWN)))
            rc |= add_fact(out, device, "throttle", TB_VERDICT_PASS, "OK", (double)r, 0,
                           (r & R_SW_POWER_CAP) ? "sw_power_cap only (at the power limit, as "
                                                  "expected under full load)"
                                                : "no slowdown under load");
    }
    return rc;
}

tb_level tb_verdict_node(const tb_node_verdicts *vs, int *n_fail, int *n_warn)
{
    tb_level worst = TB_VERDICT_PASS;
    int f = 0, w = 0;
    for (size_t i = 0; i < vs->n; i++) {
        if (vs->v[i].level == TB_VERDICT_FAIL)
            f++;
        else if (vs->v[i].level == TB_VERDICT_WARN)
            w++;
    }
    if (f)
        worst = TB_VERDICT_FAIL;
    else if (w)
        worst = TB_VERDICT_WARN;
    if (n_fail)
        *n_fail = f;
    if (n_warn)
        *n_warn = w;
    return worst;
}

static void add_num(cJSON *o, const char *k, double x)
{
    if (isfinite(x))
        cJSON_AddNumberToObject(o, k, x);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *tb_verdict_json(const tb_node_verdict *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "type", "verdict");
    const char *scope = v->device == TB_VERDICT_DEVICE_NODE ? "node" : v->peer >= 0 ? "link" : "gpu";
    cJSON_AddStringToObject(o, "scope", scope);
    if (v->device >= 0)
        cJSON_AddNumberToObject(o, "gpu", v->device);
    if (v->peer >= 0)
        cJSON_AddNumberToObject(o, "peer", v->peer);
    cJSON_AddStringToObject(o, "what", v->what);
    cJSON_AddStringToObject(o, "verdict", tb_level_name(v->level));
    cJSON_AddStringToObject(o, "reason", v->reason);
    add_num(o, "measured", v->measured);
    add_num(o, "expected", v->expected);
    cJSON_AddStringToObject(o, "unit", v->unit);
    cJSON_AddStringToObject(o, "source", v->source);
    cJSON_AddStringToObject(o, "detail", v->detail);
    return o;
}

static int scope_rank(const tb_node_verdict *v)
{
    return v->device == TB_VERDICT_DEVICE_NODE ? 2 : v->peer >= 0 ? 1 : 0;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const tb_node_verdict *a = *(const tb_node_verdict *const *)pa, *b = *(const tb_node_verdict *const *)pb;
    int sa = scope_rank(a), sb = scope_rank(b);
    if (sa != sb)
        return sa - sb;
    if (a->device != b->device)
        return a->device - b->device;
    if (a->peer != b->peer)
        return a->peer - b->peer;
    return (int)b->level - (int)a->level;
}

static void fmt_fig(char *buf, size_t n, double x)
{
    if (!isfinite(x))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.4g", x);
}

void tb_verdict_table(FILE *f, const tb_node_verdicts *vs, const char *device_word)
{
    const tb_node_verdict **rows = malloc((vs->n + 1) * sizeof *rows);
    if (!rows)
        return;
    for (size_t i = 0; i < vs->n; i++)
        rows[i] = &vs->v[i];
    qsort(rows, vs->n, sizeof *rows, cmp_rows);
    fprintf(f, "%-10s %-15s %-7s %-22s %10s %10s %-10s %s\n", "subject", "what", "verdict", "reason",
            "measured", "expected", "unit", "threshold source; detail");
    for (size_t i = 0; i < vs->n; i++) {
        const tb_node_verdict *v = rows[i];
        char subj[32], m[32], e[32];
        if (v->device == TB_VERDICT_DEVICE_NODE)
            snprintf(subj, sizeof subj, "node");
        else if (v->peer >= 0)
            snprintf(subj, sizeof subj, "link %d-%d", v->device, v->peer);
        else
            snprintf(subj, sizeof subj, "%s %d", device_word, v->device);
        fmt_fig(m, sizeof m, v->measured);
        fmt_fig(e, sizeof e, v->expected);
        fprintf(f, "%-10s %-15s %-7s %-22s %10s %10s %-10s %s%s%s\n", subj, v->what,
                tb_level_name(v->level), v->reason, m, e, v->unit, v->source,
                v->source[0] && v->detail[0] ? "; " : "", v->detail);
    }
    free(rows);
}

int tb_verdict_parse_pct(const char *text, double *frac)
{
    char *end;
    double p = strtod(text, &end);
    if (!*text || *end || !(p > 0) || p > 100)
        return -1;
    *frac = p / 100.0;
    return 0;
}
