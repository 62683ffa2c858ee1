#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const verdict_names[TB_V_COUNT] = {
    "SAME", "FASTER", "SLOWER", "AMBIGUOUS", "WRONG", "ERROR", "UNMEASURED"};

const char *tb_verdict_name(tb_verdict v)
{
    return (unsigned)v < TB_V_COUNT ? verdict_names[v] : "?";
}

int tb_verdict_fails(tb_verdict v)
{
    return v == TB_V_SLOWER || v == TB_V_WRONG || v == TB_V_ERROR;
}

int tb_format_parse(const char *s, tb_format *out)
{
    static const char *const names[] = {"text", "md", "csv", "json"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (tb_format)i;
            return 0;
        }
    return -1;
}

tb_verdict tb_compare_judge(const tb_rrow *base, const tb_rrow *neu, double threshold,
                            double *change, char *reason, size_t reason_len)
{
    *change = NAN;
    if (strcmp(neu->status, "wrong") == 0) {
        snprintf(reason, reason_len, "wrong in NEW: %s", neu->reason ? neu->reason : "");
        return TB_V_WRONG;
    }
    if (strcmp(neu->status, "ok") != 0 && strcmp(neu->status, "skipped") != 0) {
        snprintf(reason, reason_len, "%s in NEW: %s", neu->status, neu->reason ? neu->reason : "");
        return TB_V_ERROR;
    }
    if (strcmp(neu->status, "ok") != 0 || strcmp(base->status, "ok") != 0) {
        const tb_rrow *which = strcmp(base->status, "ok") != 0 ? base : neu;
        snprintf(reason, reason_len, "%s in %s: %s", which->status, which == base ? "BASE" : "NEW",
                 which->reason ? which->reason : "");
        return TB_V_UNMEASURED;
    }
    if (!base->have_time || !neu->have_time) {
        snprintf(reason, reason_len, "no time statistics in %s", base->have_time ? "NEW" : "BASE");
        return TB_V_UNMEASURED;
    }
    *change = base->median / neu->median - 1.0;
    int overlap = !(neu->q1 > base->q3 || base->q1 > neu->q3);
    if (fabs(*change) <= threshold) {
        snprintf(reason, reason_len, "within %.3g %%", threshold * 100);
        return TB_V_SAME;
    }
    if (overlap) {
        snprintf(reason, reason_len, "%+.1f %% but the [q1, q3] of the two runs overlap",
                 *change * 100);
        return TB_V_AMBIGUOUS;
    }
    snprintf(reason, reason_len, "%+.1f %%, [q1, q3] apart", *change * 100);
    return *change > 0 ? TB_V_FASTER : TB_V_SLOWER;
}

/* ---- contexts ---- */

static void value_text(const cJSON *v, char *buf, size_t n)
{
    if (!v)
        snprintf(buf, n, "absent");
    else if (cJSON_IsString(v))
        snprintf(buf, n, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, n, "%.10g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, n, "null");
    else
        snprintf(buf, n, "(%s)", cJSON_IsArray(v) ? "list" : "object");
}

static int diff_field(const char *what, const cJSON *a, const cJSON *b, tb_ctx_diff *out,
                      int k, int max)
{
    char x[128], y[128];
    value_text(a, x, sizeof x);
    value_text(b, y, sizeof y);
    if (strcmp(x, y) == 0 || k >= max)
        return k;
    snprintf(out[k].what, sizeof out[k].what, "%s", what);
    snprintf(out[k].base, sizeof out[k].base, "%s", x);
    snprintf(out[k].neu, sizeof out[k].neu, "%s", y);
    return k + 1;
}

int tb_compare_contexts(const cJSON *base, const cJSON *neu, tb_ctx_diff *out, int max)
{
    static const char *const top[] = {"driver", "cuda_driver", "cuda_runtime", "cublas", "nccl",
                                      "host", "cpu", NULL};
    int k = 0;
    for (int i = 0; top[i]; i++)
        k = diff_field(top[i], cJSON_GetObjectItemCaseSensitive(base, top[i]),
                       cJSON_GetObjectItemCaseSensitive(neu, top[i]), out, k, max);
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(base, "tool");
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(neu, "tool");
    k = diff_field("trainbench", cJSON_GetObjectItemCaseSensitive(ta, "version"),
                   cJSON_GetObjectItemCaseSensitive(tb, "version"), out, k, max);
    k = diff_field("commit", cJSON_GetObjectItemCaseSensitive(ta, "git_commit"),
                   cJSON_GetObjectItemCaseSensitive(tb, "git_commit"), out, k, max);

    const cJSON *ga = cJSON_GetObjectItemCaseSensitive(base, "gpus");
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(neu, "gpus");
    int na = cJSON_GetArraySize(ga), nb = cJSON_GetArraySize(gb);
    cJSON *ca = cJSON_CreateNumber(na), *cb = cJSON_CreateNumber(nb);
    k = diff_field("GPU count", ca, cb, out, k, max);
    cJSON_Delete(ca);
    cJSON_Delete(cb);
    static const char *const gpu_fields[] = {"name", "compute_capability", "max_sm_clock_mhz",
                                             "max_mem_clock_mhz", "power_limit_w", "ecc",
                                             "persistence", "mig", NULL};
    for (int g = 0; g < na && g < nb; g++) {
        const cJSON *a = cJSON_GetArrayItem(ga, g), *b = cJSON_GetArrayItem(gb, g);
        for (int i = 0; gpu_fields[i]; i++) {
            char what[64];
            snprintf(what, sizeof what, "GPU %d %s", g, gpu_fields[i]);
            k = diff_field(what, cJSON_GetObjectItemCaseSensitive(a, gpu_fields[i]),
                           cJSON_GetObjectItemCaseSensitive(b, gpu_fields[i]), out, k, max);
        }
    }
    const cJSON *oa = cJSON_GetObjectItemCaseSensitive(base, "options");
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(neu, "options");
    const cJSON *o;
    cJSON_ArrayForEach(o, oa)
    {
        char what[64];
        snprintf(what, sizeof what, "option %s", o->string ? o->string : "?");
        k = diff_field(what, o, o->string ? cJSON_GetObjectItemCaseSensitive(ob, o->string) : NULL,
                       out, k, max);
    }
    cJSON_ArrayForEach(o, ob)
    {
        if (o->string && !cJSON_GetObjectItemCaseSensitive(oa, o->string)) {
            char what[64];
            snprintf(what, sizeof what, "option %s", o->string);
            k = diff_field(what, NULL, o, out, k, max);
        }
    }
    return k;
}

/* ---- matching ---- */

static int cmp_row_ptr(const void *a, const void *b)
{
    const tb_rrow *x = *(const tb_rrow *const *)a, *y = *(const tb_rrow *const *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Rows of f sorted by key (the first of equal keys first); caller frees. */
static const tb_rrow **sorted_rows(const tb_rfile *f)
{
    const tb_rrow **v = malloc((f->n ? f->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < f->n; i++)
        v[i] = &f->rows[i];
    qsort(v, f->n, sizeof *v, cmp_row_ptr);
    return v;
}

static const tb_rrow *find(const tb_rrow **sorted, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(sorted[mid]->key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(sorted[lo]->key, key) == 0 ? sorted[lo] : NULL;
}

/* ---- output ---- */

typedef struct {
    const tb_rrow *base, *neu;
    tb_verdict v;
    double change;
    char reason[640];
    char base_fig[48], new_fig[48], change_text[24];
} cmp_case;

static void figure_text(const tb_rrow *r, char *buf, size_t n)
{
    const char *unit;
    double f = tb_rrow_figure(r, &unit);
    if (strcmp(r->status, "ok") != 0)
        snprintf(buf, n, "%s", r->status);
    else if (isfinite(f))
        snprintf(buf, n, "%.4g %s", f, unit);
    else if (r->have_time)
        snprintf(buf, n, "%.4g us", r->median * 1e6);
    else
        snprintf(buf, n, "-");
}

/* The ten cells of a case's row in the text table, the last (why) unpadded. */
static void text_cells(const cmp_case *c, const char *cells[10])
{
    const char *v[10] = {c->base->bench,       c->base->impl,     c->base->dtype,
                         c->base->axes_label,  c->base->gpus_text, c->base_fig,
                         c->new_fig,           c->change_text,    tb_verdict_name(c->v),
                         c->reason};
    memcpy(cells, v, sizeof v);
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

typedef struct {
    const char *bench;
    double log_sum;
    int n;
} geo_entry;

static void write_header(const tb_rfile *base, const tb_rfile *neu, const tb_ctx_diff *d,
                         int nd, tb_format fmt, FILE *out)
{
    const char *pre = fmt == TB_FMT_MD ? "- " : "";
    fprintf(out, "%sBASE %s (%s, %s, commit %s)\n", pre, base->name,
            or_dash(tb_json_str(base->context, "date")),
            or_dash(tb_json_str(base->context, "host")),
            or_dash(tb_json_str(cJSON_GetObjectItemCaseSensitive(base->context, "tool"),
                                "git_commit")));
    fprintf(out, "%sNEW  %s (%s, %s, commit %s)\n", pre, neu->name,
            or_dash(tb_json_str(neu->context, "date")), or_dash(tb_json_str(neu->context, "host")),
            or_dash(tb_json_str(cJSON_GetObjectItemCaseSensitive(neu->context, "tool"),
                                "git_commit")));
    if (nd == 0)
        fprintf(out,
                "%scontexts: same driver, CUDA, cuBLAS, NCCL, GPUs, clocks, power limits and "
                "options\n",
                pre);
    for (int i = 0; i < nd; i++)
        fprintf(out, "%sdiffers: %s: %s -> %s\n", pre, d[i].what, d[i].base, d[i].neu);
    fputc('\n', out);
}

tb_status tb_compare_write(const tb_rfile *base, const tb_rfile *neu, double threshold,
                           tb_format fmt, FILE *out, int *failed, tb_err *err)
{
    *failed = 0;
    const tb_rrow **sb = sorted_rows(base), **sn = sorted_rows(neu);
    cmp_case *cases = calloc(base->n ? base->n : 1, sizeof *cases);
    geo_entry *geo = calloc(base->n ? base->n : 1, sizeof *geo);
    if (!sb || !sn || !cases || !geo) {
        free(sb);
        free(sn);
        free(cases);
        free(geo);
        return tb_err_set(err, TB_USAGE, "out of host memory");
    }
    size_t nc = 0, ngeo = 0;
    int counts[TB_V_COUNT] = {0};
    const tb_rrow **only_base = malloc((base->n ? base->n : 1) * sizeof *only_base);
    const tb_rrow **only_new = malloc((neu->n ? neu->n : 1) * sizeof *only_new);
    size_t n_ob = 0, n_on = 0;
    for (size_t i = 0; i < base->n; i++) {
        const tb_rrow *b = &base->rows[i];
        if (find(sb, base->n, b->key) != b)
            continue; /* a repeated case in BASE: its first result is used */
        const tb_rrow *n = find(sn, neu->n, b->key);
        if (!n) {
            if (only_base)
                only_base[n_ob++] = b;
            continue;
        }
        cmp_case *c = &cases[nc++];
        c->base = b;
        c->neu = n;
        c->v = tb_compare_judge(b, n, threshold, &c->change, c->reason, sizeof c->reason);
        counts[c->v]++;
        if (tb_verdict_fails(c->v))
            *failed = 1;
        figure_text(b, c->base_fig, sizeof c->base_fig);
        figure_text(n, c->new_fig, sizeof c->new_fig);
        if (isfinite(c->change)) {
            snprintf(c->change_text, sizeof c->change_text, "%+.1f %%", c->change * 100);
            size_t g = 0;
            while (g < ngeo && strcmp(geo[g].bench, b->bench) != 0)
                g++;
            if (g == ngeo) {
                geo[ngeo].bench = b->bench;
                ngeo++;
            }
            geo[g].log_sum += log1p(c->change);
            geo[g].n++;
        } else {
            snprintf(c->change_text, sizeof c->change_text, "-");
        }
    }
    for (size_t i = 0; i < neu->n; i++) {
        const tb_rrow *n = &neu->rows[i];
        if (find(sn, neu->n, n->key) == n && !find(sb, base->n, n->key) && only_new)
            only_new[n_on++] = n;
    }

    tb_ctx_diff diffs[64];
    int nd = tb_compare_contexts(base->context, neu->context, diffs, 64);

    if (fmt == TB_FMT_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "base", base->name);
        cJSON_AddStringToObject(o, "new", neu->name);
        cJSON_AddNumberToObject(o, "threshold_pct", threshold * 100);
        cJSON *cd = cJSON_AddArrayToObject(o, "context_differences");
        for (int i = 0; i < nd; i++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "what", diffs[i].what);
            cJSON_AddStringToObject(x, "base", diffs[i].base);
            cJSON_AddStringToObject(x, "new", diffs[i].neu);
            cJSON_AddItemToArray(cd, x);
        }
        cJSON *arr = cJSON_AddArrayToObject(o, "cases");
        for (size_t i = 0; i < nc; i++) {
            const cmp_case *c = &cases[i];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "bench", c->base->bench);
            cJSON_AddStringToObject(x, "impl", c->base->impl);
            cJSON_AddStringToObject(x, "dtype", c->base->dtype);
            cJSON_AddItemToObject(x, "axes", cJSON_Duplicate(c->base->axes, 1));
            cJSON_AddStringToObject(x, "gpus", c->base->gpus_text);
            cJSON_AddStringToObject(x, "device", or_dash(c->base->device));
            if (c->base->have_time)
                cJSON_AddNumberToObject(x, "base_median_s", c->base->median);
            else
                cJSON_AddNullToObject(x, "base_median_s");
            if (c->neu->have_time)
                cJSON_AddNumberToObject(x, "new_median_s", c->neu->median);
            else
                cJSON_AddNullToObject(x, "new_median_s");
            if (isfinite(c->change))
                cJSON_AddNumberToObject(x, "change_pct", c->change * 100);
            else
                cJSON_AddNullToObject(x, "change_pct");
            cJSON_AddStringToObject(x, "verdict", tb_verdict_name(c->v));
            cJSON_AddStringToObject(x, "reason", c->reason);
            cJSON_AddItemToArray(arr, x);
        }
        cJSON *ob = cJSON_AddArrayToObject(o, "only_in_base");
        for (size_t i = 0; i < n_ob; i++)
            cJSON_AddItemToArray(ob, cJSON_CreateString(only_base[i]->key));
        cJSON *on = cJSON_AddArrayToObject(o, "only_in_new");
        for (size_t i = 0; i < n_on; i++)
            cJSON_AddItemToArray(on, cJSON_CreateString(only_new[i]->key));
        cJSON *sum = cJSON_AddObjectToObject(o, "summary");
        for (int v = 0; v < TB_V_COUNT; v++)
            cJSON_AddNumberToObject(sum, tb_verdict_name((tb_verdict)v), counts[v]);
        cJSON *gm = cJSON_AddObjectToObject(sum, "geomean_change_pct");
        for (size_t g = 0; g < ngeo; g++)
            cJSON_AddNumberToObject(gm, geo[g].bench, expm1(geo[g].log_sum / geo[g].n) * 100);
        cJSON_AddBoolToObject(sum, "failed", *failed);
        char *s = cJSON_Print(o);
        fprintf(out, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else if (fmt == TB_FMT_CSV) {
        fprintf(out, "bench,impl,dtype,case,gpus,device,base,new,change_pct,verdict,reason\n");
        for (size_t i = 0; i < nc; i++) {
            const cmp_case *c = &cases[i];
            fprintf(out, "%s,%s,%s,", c->base->bench, c->base->impl, c->base->dtype);
            tb_csv_quote(out, c->base->axes_label);
            fprintf(out, ",");
            tb_csv_quote(out, c->base->gpus_text);
            fprintf(out, ",");
            tb_csv_quote(out, or_dash(c->base->device));
            fprintf(out, ",");
            tb_csv_quote(out, c->base_fig);
            fprintf(out, ",");
            tb_csv_quote(out, c->new_fig);
            if (isfinite(c->change))
                fprintf(out, ",%.4f,", c->change * 100);
            else
                fprintf(out, ",,");
            fprintf(out, "%s,", tb_verdict_name(c->v));
            tb_csv_quote(out, c->reason);
            fputc('\n', out);
        }
        for (int pass = 0; pass < 2; pass++) {
            const tb_rrow **v = pass ? only_new : only_base;
            size_t nv = pass ? n_on : n_ob;
            for (size_t i = 0; i < nv; i++) {
                fprintf(out, "%s,%s,%s,", v[i]->bench, v[i]->impl, v[i]->dtype);
                tb_csv_quote(out, v[i]->axes_label);
                fprintf(out, ",");
                tb_csv_quote(out, v[i]->gpus_text);
                fprintf(out, ",");
                tb_csv_quote(out, or_dash(v[i]->device));
                fprintf(out, ",,,,%s,\n", pass ? "ONLY_IN_NEW" : "ONLY_IN_BASE");
            }
        }
    } else {
        write_header(base, neu, diffs, nd, fmt, out);
        int md = fmt == TB_FMT_MD;
        /* column widths for the text table */
        const char *head[] = {"bench", "impl", "dtype", "case", "gpu", "base", "new", "change",
                              "verdict", "why"};
        size_t w[10];
        for (int k = 0; k < 10; k++)
            w[k] = strlen(head[k]);
        for (size_t i = 0; i < nc; i++) {
            const char *cells[10];
            text_cells(&cases[i], cells);
            for (int k = 0; k < 9; k++)
                if (strlen(cells[k]) > w[k])
                    w[k] = strlen(cells[k]);
        }
        if (md) {
            fprintf(out, "| case | gpu | base | new | change | verdict | why |\n");
            fprintf(out, "|---|---|---:|---:|---:|---|---|\n");
        } else {
            for (int k = 0; k < 10; k++)
                fprintf(out, "%-*s%s", (int)w[k], head[k], k < 9 ? "  " : "\n");
        }
        for (size_t i = 0; i < nc; i++) {
            const cmp_case *c = &cases[i];
            if (md) {
                fprintf(out, "| %s %s %s %s | %s | %s | %s | %s | %s | %s |\n", c->base->bench,
                        c->base->impl, c->base->dtype, c->base->axes_label, c->base->gpus_text,
                        c->base_fig, c->new_fig, c->change_text, tb_verdict_name(c->v),
                        c->reason);
                continue;
            }
            const char *cells[10];
            text_cells(c, cells);
            for (int k = 0; k < 10; k++)
                fprintf(out, "%-*s%s", k < 9 ? (int)w[k] : 0, cells[k], k < 9 ? "  " : "\n");
        }
        for (int pass = 0; pass < 2; pass++) {
            const tb_rrow **v = pass ? only_new : only_base;
            size_t nv = pass ? n_on : n_ob;
            fprintf(out, "\n%sonly in %s: %zu\n", md ? "- " : "", pass ? "NEW" : "BASE", nv);
            for (size_t i = 0; i < nv; i++)
                fprintf(out, "%s  %s %s %s %s gpu %s\n", md ? "  -" : "", v[i]->bench,
                        v[i]->impl, v[i]->dtype, v[i]->axes_label, v[i]->gpus_text);
        }
        fprintf(out, "\n%ssummary:", md ? "- " : "");
        for (int v = 0; v < TB_V_COUNT; v++)
            fprintf(out, "%s %d %s", v ? "," : "", counts[v], tb_verdict_name((tb_verdict)v));
        fprintf(out, "; geomean change:");
        if (ngeo == 0)
            fprintf(out, " -");
        for (size_t g = 0; g < ngeo; g++)
            fprintf(out, "%s %s %+.2f %%", g ? "," : "", geo[g].bench,
                    expm1(geo[g].log_sum / geo[g].n) * 100);
        fprintf(out, "\n%sverdict: %s\n", md ? "- " : "",
                *failed ? "FAIL (a case is SLOWER, WRONG or ERROR in NEW)" : "PASS");
    }
    free(sb);
    free(sn);
    free(cases);
    free(geo);
    free(only_base);
    free(only_new);
    return TB_OK;
}
