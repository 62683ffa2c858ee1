#include "record.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "results.h"
#include "sweep.h"

static void add_number_or_null(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static const char *status_word(tb_status s)
{
    switch (s) {
    case TB_OK: return "ok";
    case TB_WRONG: return "wrong";
    case TB_SKIP: return "skipped";
    default: return "error";
    }
}

void tb_record_case_text(const tb_case *c, char *buf, size_t buflen)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->bench->n_axes && used < buflen; i++) {
        const tb_axis *a = &c->bench->axes[i];
        char v[64];
        if (a->type == TB_AXIS_SIZE)
            tb_sweep_format_size(c->axis[i], v, sizeof v);
        else if (a->type == TB_AXIS_ENUM)
            snprintf(v, sizeof v, "%s", a->choices[c->axis[i]]);
        else
            snprintf(v, sizeof v, "%lld", (long long)c->axis[i]);
        int k = snprintf(buf + used, buflen - used, "%s%s=%s", i ? " " : "", a->name, v);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static cJSON *axes_json(const tb_case *c)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < c->bench->n_axes; i++) {
        const tb_axis *a = &c->bench->axes[i];
        if (a->type == TB_AXIS_ENUM)
            cJSON_AddStringToObject(o, a->name, a->choices[c->axis[i]]);
        else
            cJSON_AddNumberToObject(o, a->name, (double)c->axis[i]);
    }
    return o;
}

/* The fields of one verification: the element-wise check and each measure beside it. */
static void verify_json(cJSON *v, const tb_verify *vf)
{
    cJSON_AddBoolToObject(v, "ok", vf->ok);
    add_number_or_null(v, "max_abs_err", vf->max_abs_err);
    add_number_or_null(v, "max_rel_err", vf->max_rel_err);
    add_number_or_null(v, "tolerance", vf->tolerance);
    cJSON_AddNumberToObject(v, "n_wrong", (double)vf->n_wrong);
    cJSON_AddNumberToObject(v, "n_checked", (double)vf->n_checked);
    for (int i = 0; i < vf->n_measures; i++) {
        const tb_verify_measure *m = &vf->measures[i];
        cJSON *mj = cJSON_AddObjectToObject(v, m->name);
        cJSON_AddStringToObject(mj, "unit", m->unit);
        add_number_or_null(mj, "worst", m->worst);
        add_number_or_null(mj, "bound", m->bound);
        add_number_or_null(mj, "ratio", m->bound > 0 ? m->worst / m->bound : NAN);
        cJSON_AddNumberToObject(mj, "n", (double)m->n_units);
        cJSON_AddNumberToObject(mj, "n_failed", (double)m->n_failed);
    }
}

cJSON *tb_record_result_json(const tb_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "result");
    cJSON_AddStringToObject(o, "bench", r->c.bench->name);
    cJSON_AddStringToObject(o, "impl", r->c.impl->name);
    cJSON_AddStringToObject(o, "kind", tb_impl_kind_name(r->c.impl->kind));
    cJSON_AddStringToObject(o, "dtype", tb_dtype_name(r->c.dtype));
    cJSON_AddItemToObject(o, "axes", axes_json(&r->c));
    cJSON *gpus = cJSON_AddArrayToObject(o, "gpus");
    if (r->group) {
        for (int d = 0; d < r->n_group; d++)
            if (!r->group[d].is_host)
                cJSON_AddItemToArray(gpus, cJSON_CreateNumber(r->group[d].ordinal));
    } else if (!r->device->is_host) {
        cJSON_AddItemToArray(gpus, cJSON_CreateNumber(r->device->ordinal));
    }
    cJSON_AddStringToObject(o, "device", r->device->is_host ? "host" : r->device->name);
    cJSON_AddStringToObject(o, "status", status_word(r->status));
    if (r->status != TB_OK)
        cJSON_AddStringToObject(o, "reason", r->reason);
    else
        cJSON_AddNullToObject(o, "reason");

    if (r->have_stats) {
        cJSON_AddNumberToObject(o, "samples",
                                (double)(r->rounds > 0 ? r->round_samples : r->stats.count));
        cJSON *t = cJSON_AddObjectToObject(o, "time_s");
        cJSON_AddNumberToObject(t, "median", r->stats.median);
        cJSON_AddNumberToObject(t, "min", r->stats.min);
        cJSON_AddNumberToObject(t, "max", r->stats.max);
        cJSON_AddNumberToObject(t, "mean", r->stats.mean);
        cJSON_AddNumberToObject(t, "stdev", r->stats.stdev);
        cJSON_AddNumberToObject(t, "q1", r->stats.q1);
        cJSON_AddNumberToObject(t, "q3", r->stats.q3);
        cJSON_AddNumberToObject(t, "p99", r->stats.p99);
        cJSON_AddNumberToObject(t, "rel_stdev", r->stats.rel_stdev);
        cJSON_AddStringToObject(o, "timing", r->timing ? r->timing : "batch");
        cJSON_AddNumberToObject(o, "batch", (double)r->batch);
        cJSON_AddStringToObject(o, "stop", tb_stop_reason_name(r->stop));
        /* per-round medians: what compare tests; absent in a single-round row */
        if (r->rounds > 0) {
            cJSON *rd = cJSON_AddObjectToObject(o, "rounds");
            cJSON_AddNumberToObject(rd, "n", r->rounds);
            cJSON_AddItemToObject(rd, "median_s",
                                  cJSON_CreateDoubleArray(r->round_median, r->rounds));
        }
    } else {
        cJSON_AddNumberToObject(o, "samples", 0);
        cJSON_AddNullToObject(o, "time_s");
    }
    add_number_or_null(o, "flops", r->flops > 0 ? r->flops : NAN);
    add_number_or_null(o, "bytes", r->bytes > 0 ? r->bytes : NAN);
    add_number_or_null(o, "tflops", r->tflops);
    add_number_or_null(o, "gbps", r->gbps);
    add_number_or_null(o, "busbw_gbps", r->busbw_gbps);
    if (r->coll.ranks > 0) {
        /* nccl-tests' figures under their names: time (us), algbw, busbw, #wrong */
        cJSON_AddNumberToObject(o, "ranks", r->coll.ranks);
        cJSON_AddBoolToObject(o, "bandwidth_measurement", !r->coll.shared_device);
        add_number_or_null(o, "time_us", r->have_stats ? r->stats.median * 1e6 : NAN);
        add_number_or_null(o, "p99_us", r->have_stats ? r->stats.p99 * 1e6 : NAN);
        add_number_or_null(o, "algbw_gbps", r->gbps);
        add_number_or_null(o, "bus_factor", r->coll.bus_factor);
        if (r->have_verify)
            cJSON_AddNumberToObject(o, "n_wrong", (double)r->verify.n_wrong);
        else
            cJSON_AddNullToObject(o, "n_wrong");
    }
    if (r->c.bench->flops_convention)
        cJSON_AddStringToObject(o, "flops_convention", r->c.bench->flops_convention);
    else
        cJSON_AddNullToObject(o, "flops_convention");
    add_number_or_null(o, "alloc_bytes", r->alloc_bytes > 0 ? r->alloc_bytes : NAN);

    cJSON *pk = cJSON_AddObjectToObject(o, "peak");
    if (r->peak.kind == TB_PEAK_NONE) {
        cJSON_AddNullToObject(pk, "unit");
    } else {
        cJSON_AddStringToObject(pk, "unit", r->peak.unit);
    }
    add_number_or_null(pk, "derived", r->peak.derived > 0 ? r->peak.derived : NAN);
    add_number_or_null(pk, "datasheet", r->peak.datasheet > 0 ? r->peak.datasheet : NAN);
    cJSON_AddStringToObject(pk, "pct_of", "derived");
    if (!r->peak.usable)
        cJSON_AddStringToObject(pk, "note", r->peak.note);
    add_number_or_null(o, "pct_peak", r->pct_peak);
    add_number_or_null(o, "pct_vendor", r->pct_vendor);
    if (r->vendor_impl && isfinite(r->pct_vendor))
        cJSON_AddStringToObject(o, "vendor_impl", r->vendor_impl);
    else
        cJSON_AddNullToObject(o, "vendor_impl");

    if (r->have_verify) {
        cJSON *v = cJSON_AddObjectToObject(o, "verify");
        verify_json(v, &r->verify);
        if (r->have_verify_after)
            verify_json(cJSON_AddObjectToObject(v, "after"), &r->verify_after);
        else
            cJSON_AddNullToObject(v, "after");
    } else {
        cJSON_AddNullToObject(o, "verify");
    }

    add_number_or_null(o, "clock_mhz", tb_telemetry_clock_mhz(&r->tel));
    add_number_or_null(o, "power_w", tb_telemetry_power_w(&r->tel));
    add_number_or_null(o, "energy_j", tb_telemetry_energy_j(&r->tel));
    add_number_or_null(o, "temp_c", tb_telemetry_temp_c(&r->tel));
    if (r->tel.have_reasons) {
        const char *names[16];
        int k = tb_nvml_reason_names(r->tel.reasons, names, 16);
        cJSON *arr = cJSON_AddArrayToObject(o, "throttle");
        for (int i = 0; i < k; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
    } else {
        cJSON_AddNullToObject(o, "throttle");
    }
    return o;
}

static void fmt_num(char *buf, size_t n, double v, const char *fmt)
{
    if (isfinite(v))
        snprintf(buf, n, fmt, v);
    else
        snprintf(buf, n, "-");
}

void tb_record_table_header(FILE *f)
{
    fprintf(f, "%-5s %-8s %-11s %-5s %-28s %11s %9s %8s %6s %8s %6s %6s %5s %5s  %s\n", "gpu",
            "bench", "impl", "dtype", "case", "time(us)", "GB/s", "TFLOP/s", "%peak", "%vendor",
            "noise", "n", "MHz", "W", "status");
}

/* "3", "0,1,2,3" (a collective case's group), or "host". */
static void gpu_text(const tb_result *r, char *buf, size_t n)
{
    if (r->device->is_host) {
        snprintf(buf, n, "host");
        return;
    }
    if (!r->group) {
        snprintf(buf, n, "%d", r->device->ordinal);
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < r->n_group && used + 1 < n; d++) {
        int k = snprintf(buf + used, n - used, "%s%d", d ? "," : "", r->group[d].ordinal);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

void tb_record_table_row(FILE *f, const tb_result *r)
{
    char gpu[64], cs[128], t[32], gb[32], tf[32], pp[32], pv[32], nz[32], ns[32], mhz[32], w[32];
    gpu_text(r, gpu, sizeof gpu);
    tb_record_case_text(&r->c, cs, sizeof cs);
    fmt_num(t, sizeof t, r->have_stats ? r->stats.median * 1e6 : NAN, "%.2f");
    fmt_num(gb, sizeof gb, r->gbps, "%.1f");
    fmt_num(tf, sizeof tf, r->tflops, "%.4g");
    fmt_num(pp, sizeof pp, r->pct_peak, "%.1f");
    fmt_num(pv, sizeof pv, r->pct_vendor, "%.1f");
    fmt_num(nz, sizeof nz, r->have_stats ? r->stats.rel_stdev * 100 : NAN, "%.2f%%");
    if (r->have_stats)
        snprintf(ns, sizeof ns, "%zu", r->stats.count);
    else
        snprintf(ns, sizeof ns, "-");
    fmt_num(mhz, sizeof mhz, tb_telemetry_clock_mhz(&r->tel), "%.0f");
    fmt_num(w, sizeof w, tb_telemetry_power_w(&r->tel), "%.0f");
    char status[1100];
    if (r->status == TB_OK && r->coll.ranks > 0) {
        /* a collective row also says its bus bandwidth, how it was timed, and whether it is
         * a bandwidth measurement at all */
        char p99[48] = "";
        if (r->have_stats && r->timing && !strcmp(r->timing, "graph"))
            snprintf(p99, sizeof p99, ", p99 %.2f us", r->stats.p99 * 1e6);
        snprintf(status, sizeof status, "ok; %d ranks, busbw %.2f GB/s; %s timing%s%s",
                 r->coll.ranks, r->busbw_gbps, r->timing ? r->timing : "batch", p99,
                 r->coll.shared_device ? "; ranks share a GPU: not a bandwidth measurement"
                                       : "");
    } else if (r->status == TB_OK)
        snprintf(status, sizeof status, "ok");
    else
        snprintf(status, sizeof status, "%s: %s", status_word(r->status), r->reason);
    fprintf(f, "%-5s %-8s %-11s %-5s %-28s %11s %9s %8s %6s %8s %6s %6s %5s %5s  %s\n", gpu,
            r->c.bench->name, r->c.impl->name, tb_dtype_name(r->c.dtype), cs, t, gb, tf, pp, pv,
            nz, ns, mhz, w, status);
}

void tb_record_csv_header(FILE *f)
{
    fprintf(f, "bench,impl,kind,dtype,case,gpu,device,status,reason,samples,median_s,min_s,max_s,"
               "mean_s,stdev_s,q1_s,q3_s,rel_stdev,timing,batch,flops,bytes,tflops,gbps,"
               "pct_peak,pct_vendor,verify_ok,max_abs_err,max_rel_err,tolerance,clock_mhz,"
               "power_w,energy_j,temp_c,alloc_bytes,ranks,busbw_gbps,p99_s\n");
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputc(',', f);
}

static void csv_str(FILE *f, const char *s)
{
    fputc(',', f);
    tb_csv_quote(f, s);
}

void tb_record_csv_row(FILE *f, const tb_result *r)
{
    char cs[128];
    tb_record_case_text(&r->c, cs, sizeof cs);
    fprintf(f, "%s,%s,%s,%s", r->c.bench->name, r->c.impl->name,
            tb_impl_kind_name(r->c.impl->kind), tb_dtype_name(r->c.dtype));
    csv_str(f, cs);
    char gpu[64];
    gpu_text(r, gpu, sizeof gpu);
    csv_str(f, gpu);
    csv_str(f, r->device->is_host ? "host" : r->device->name);
    fprintf(f, ",%s", status_word(r->status));
    csv_str(f, r->status == TB_OK ? "" : r->reason);
    const tb_stats *s = &r->stats;
    int h = r->have_stats;
    csv_num(f, h ? (double)s->count : 0);
    csv_num(f, h ? s->median : NAN);
    csv_num(f, h ? s->min : NAN);
    csv_num(f, h ? s->max : NAN);
    csv_num(f, h ? s->mean : NAN);
    csv_num(f, h ? s->stdev : NAN);
    csv_num(f, h ? s->q1 : NAN);
    csv_num(f, h ? s->q3 : NAN);
    csv_num(f, h ? s->rel_stdev : NAN);
    fprintf(f, ",%s", h && r->timing ? r->timing : "");
    csv_num(f, h ? (double)r->batch : NAN);
    csv_num(f, r->flops > 0 ? r->flops : NAN);
    csv_num(f, r->bytes > 0 ? r->bytes : NAN);
    csv_num(f, r->tflops);
    csv_num(f, r->gbps);
    csv_num(f, r->pct_peak);
    csv_num(f, r->pct_vendor);
    fprintf(f, ",%s", r->have_verify ? (r->verify.ok ? "true" : "false") : "");
    csv_num(f, r->have_verify ? r->verify.max_abs_err : NAN);
    csv_num(f, r->have_verify ? r->verify.max_rel_err : NAN);
    csv_num(f, r->have_verify ? r->verify.tolerance : NAN);
    csv_num(f, tb_telemetry_clock_mhz(&r->tel));
    csv_num(f, tb_telemetry_power_w(&r->tel));
    csv_num(f, tb_telemetry_energy_j(&r->tel));
    csv_num(f, tb_telemetry_temp_c(&r->tel));
    csv_num(f, r->alloc_bytes > 0 ? r->alloc_bytes : NAN);
    csv_num(f, r->coll.ranks > 0 ? (double)r->coll.ranks : NAN);
    csv_num(f, r->busbw_gbps);
    csv_num(f, h ? s->p99 : NAN);
    fputc('\n', f);
}

typedef struct {
    const tb_device *device;
    const tb_bench *bench;
    const tb_impl *impl;
    tb_dtype dtype;
    char case_text[128];
    double figure; /* TFLOP/s when the bench counts FLOPs, else GB/s */
    int is_tflops;
    double pct_peak;
} ladder_entry;

struct tb_writer {
    pthread_mutex_t lock;
    ladder_entry *ladder; /* every ok result's figure, for the end-of-run tables */
    size_t n_ladder, cap_ladder;
    tb_result **kept;     /* results of benchmarks with their own end-of-run summary */
    size_t n_kept, cap_kept;
    FILE *jsonl, *csv, *table;
    char jsonl_path[1024];
    int n_ok, n_wrong, n_skipped, n_failed;
    int header_done;
};

tb_status tb_writer_open(tb_writer **out, const char *jsonl_path, const char *csv_path,
                         FILE *table, const cJSON *context, tb_err *err)
{
    *out = NULL;
    tb_writer *w = calloc(1, sizeof *w);
    if (!w)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    pthread_mutex_init(&w->lock, NULL);
    w->table = table;
    snprintf(w->jsonl_path, sizeof w->jsonl_path, "%s", jsonl_path);
    w->jsonl = fopen(jsonl_path, "w");
    if (!w->jsonl) {
        tb_status st = tb_err_set(err, TB_USAGE, "cannot create result file '%s': %s",
                                  jsonl_path, strerror(errno));
        free(w);
        return st;
    }
    if (csv_path) {
        w->csv = fopen(csv_path, "w");
        if (!w->csv) {
            tb_status st = tb_err_set(err, TB_USAGE, "--csv: cannot create '%s': %s", csv_path,
                                      strerror(errno));
            fclose(w->jsonl);
            remove(jsonl_path);
            free(w);
            return st;
        }
        tb_record_csv_header(w->csv);
        fflush(w->csv);
    }
    char *line = cJSON_PrintUnformatted(context);
    if (!line || fprintf(w->jsonl, "%s\n", line) < 0 || fflush(w->jsonl) != 0) {
        free(line);
        tb_writer_close(w);
        return tb_err_set(err, TB_DEVFAIL, "cannot write '%s'", jsonl_path);
    }
    free(line);
    *out = w;
    return TB_OK;
}

/* Keeps a copy of a result its benchmark's summary will read. */
static void keep_result(tb_writer *w, const tb_result *r)
{
    tb_result **nk = tb_grow(w->kept, &w->cap_kept, w->n_kept + 1, sizeof *nk);
    tb_result *copy = malloc(sizeof *copy);
    if (!nk || !copy) {
        free(copy);
        if (nk)
            w->kept = nk;
        return; /* only the summary loses a row */
    }
    w->kept = nk;
    *copy = *r;
    w->kept[w->n_kept++] = copy;
}

static void note_figure(tb_writer *w, const tb_result *r)
{
    int is_tflops = r->flops > 0;
    double fig = is_tflops ? r->tflops : r->gbps;
    if (!isfinite(fig))
        return;
    ladder_entry *nl = tb_grow(w->ladder, &w->cap_ladder, w->n_ladder + 1, sizeof *nl);
    if (!nl)
        return; /* only the end-of-run tables lose a cell */
    w->ladder = nl;
    ladder_entry *e = &w->ladder[w->n_ladder++];
    e->device = r->device;
    e->bench = r->c.bench;
    e->impl = r->c.impl;
    e->dtype = r->c.dtype;
    tb_record_case_text(&r->c, e->case_text, sizeof e->case_text);
    e->figure = fig;
    e->is_tflops = is_tflops;
    e->pct_peak = r->pct_peak;
}

static int same_group(const ladder_entry *a, const ladder_entry *b)
{
    return a->device == b->device && a->bench == b->bench && a->dtype == b->dtype;
}

void tb_writer_ladder(tb_writer *w, FILE *f)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_ladder;
    char *done = calloc(n ? n : 1, 1);
    const tb_impl **impls = malloc((n ? n : 1) * sizeof *impls);
    const char **rows = malloc((n ? n : 1) * sizeof *rows);
    for (size_t g = 0; done && impls && rows && g < n; g++) {
        if (done[g])
            continue;
        const ladder_entry *head = &w->ladder[g];
        size_t ni = 0, nr = 0;
        for (size_t i = g; i < n; i++) {
            const ladder_entry *e = &w->ladder[i];
            if (!same_group(e, head))
                continue;
            done[i] = 1;
            size_t k = 0;
            while (k < ni && impls[k] != e->impl)
                k++;
            if (k == ni)
                impls[ni++] = e->impl;
            k = 0;
            while (k < nr && strcmp(rows[k], e->case_text) != 0)
                k++;
            if (k == nr)
                rows[nr++] = e->case_text;
        }
        if (ni < 2)
            continue; /* a single implementation: the rows above say it all */
        char gpu[32];
        if (head->device->is_host)
            snprintf(gpu, sizeof gpu, "host");
        else
            snprintf(gpu, sizeof gpu, "GPU %d", head->device->ordinal);
        fprintf(f, "\n%s %s %s, %s (median):\n%-30s", head->bench->name,
                tb_dtype_name(head->dtype), gpu, head->is_tflops ? "TFLOP/s" : "GB/s", "case");
        if (head->is_tflops && head->bench->flops_convention)
            fprintf(f, "(FLOPs: %s)\n%-30s", head->bench->flops_convention, "");
        for (size_t k = 0; k < ni; k++)
            fprintf(f, " %11s", impls[k]->name);
        fputc('\n', f);
        for (size_t r = 0; r < nr; r++) {
            fprintf(f, "%-30s", rows[r]);
            for (size_t k = 0; k < ni; k++) {
                double v = NAN;
                for (size_t i = g; i < n; i++) {
                    const ladder_entry *e = &w->ladder[i];
                    if (same_group(e, head) && e->impl == impls[k] &&
                        strcmp(e->case_text, rows[r]) == 0)
                        v = e->figure;
                }
                char cell[32];
                fmt_num(cell, sizeof cell, v, "%.2f");
                fprintf(f, " %11s", cell);
            }
            fputc('\n', f);
        }
    }
    free(done);
    free(impls);
    free(rows);
    pthread_mutex_unlock(&w->lock);
}

static int same_impl(const ladder_entry *a, const ladder_entry *b)
{
    return a->device == b->device && a->impl == b->impl && a->dtype == b->dtype;
}

void tb_writer_summary(tb_writer *w, FILE *f)
{
    pthread_mutex_lock(&w->lock);
    if (w->n_ladder)
        fprintf(f, "\nbest per implementation:\n%-5s %-8s %-11s %-5s %12s %-8s %6s  %s\n", "gpu",
                "bench", "impl", "dtype", "best", "unit", "%peak", "at");
    for (size_t i = 0; i < w->n_ladder; i++) {
        const ladder_entry *first = &w->ladder[i], *best = first;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = same_impl(&w->ladder[j], first);
        if (seen)
            continue; /* printed with its first result */
        for (size_t j = i + 1; j < w->n_ladder; j++)
            if (same_impl(&w->ladder[j], first) && w->ladder[j].figure > best->figure)
                best = &w->ladder[j];
        char gpu[16], pp[32];
        if (best->device->is_host)
            snprintf(gpu, sizeof gpu, "host");
        else
            snprintf(gpu, sizeof gpu, "%d", best->device->ordinal);
        fmt_num(pp, sizeof pp, best->pct_peak, "%.1f");
        fprintf(f, "%-5s %-8s %-11s %-5s %12.2f %-8s %6s  %s\n", gpu, best->bench->name,
                best->impl->name, tb_dtype_name(best->dtype), best->figure,
                best->is_tflops ? "TFLOP/s" : "GB/s", pp, best->case_text);
    }
    pthread_mutex_unlock(&w->lock);
}

tb_status tb_writer_add(tb_writer *w, const tb_result *r, tb_err *err)
{
    cJSON *o = tb_record_result_json(r);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    tb_status st = TB_OK;
    pthread_mutex_lock(&w->lock);
    if (w->table) {
        if (!w->header_done) {
            tb_record_table_header(w->table);
            w->header_done = 1;
        }
        tb_record_table_row(w->table, r);
        fflush(w->table);
    }
    if (!line || fprintf(w->jsonl, "%s\n", line) < 0 || fflush(w->jsonl) != 0)
        st = tb_err_set(err, TB_DEVFAIL, "cannot write a result to '%s'", w->jsonl_path);
    if (w->csv) {
        tb_record_csv_row(w->csv, r);
        fflush(w->csv);
    }
    if (r->c.bench->end_tables)
        keep_result(w, r);
    if (r->status == TB_OK && !r->group)
        note_figure(w, r); /* a collective's figures go to its benchmark's summary */
    switch (r->status) {
    case TB_OK: w->n_ok++; break;
    case TB_WRONG: w->n_wrong++; break;
    case TB_SKIP: w->n_skipped++; break;
    default: w->n_failed++; break;
    }
    pthread_mutex_unlock(&w->lock);
    free(line);
    return st;
}

void tb_writer_bench_summaries(tb_writer *w, FILE *f)
{
    pthread_mutex_lock(&w->lock);
    const tb_result **rows = malloc((w->n_kept ? w->n_kept : 1) * sizeof *rows);
    for (size_t i = 0; rows && i < w->n_kept; i++) {
        const tb_bench *b = w->kept[i]->c.bench;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = w->kept[j]->c.bench == b;
        if (seen)
            continue;
        size_t n = 0;
        for (size_t j = i; j < w->n_kept; j++)
            if (w->kept[j]->c.bench == b)
                rows[n++] = w->kept[j];
        b->end_tables(rows, n, f);
    }
    free(rows);
    pthread_mutex_unlock(&w->lock);
}

void tb_writer_counts(tb_writer *w, int *ok, int *wrong, int *skipped, int *failed)
{
    pthread_mutex_lock(&w->lock);
    *ok = w->n_ok;
    *wrong = w->n_wrong;
    *skipped = w->n_skipped;
    *failed = w->n_failed;
    pthread_mutex_unlock(&w->lock);
}

void tb_writer_close(tb_writer *w)
{
    if (!w)
        return;
    if (w->jsonl)
        fclose(w->jsonl);
    if (w->csv)
        fclose(w->csv);
    free(w->ladder);
    for (size_t i = 0; i < w->n_kept; i++)
        free(w->kept[i]);
    free(w->kept);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
