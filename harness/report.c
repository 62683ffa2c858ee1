#include "report.h"

#include "grow.h"
#include "keyindex.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void tb_report_machine(const cJSON *ctx, char *buf, size_t buflen)
{
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(ctx, "gpus");
    int n = cJSON_GetArraySize(gpus);
    if (n == 0) {
        const char *cpu = tb_json_str(ctx, "cpu");
        double threads = tb_json_num(ctx, "cpu_threads");
        if (isfinite(threads))
            snprintf(buf, buflen, "host %s (%.0f threads)", cpu ? cpu : "?", threads);
        else
            snprintf(buf, buflen, "host %s", cpu ? cpu : "?");
        return;
    }
    char models[256] = "";
    int same = 1;
    const char *first = tb_json_str(cJSON_GetArrayItem(gpus, 0), "name");
    for (int i = 1; i < n; i++) {
        const char *name = tb_json_str(cJSON_GetArrayItem(gpus, i), "name");
        if (!first || !name || strcmp(first, name) != 0)
            same = 0;
    }
    if (same) {
        snprintf(models, sizeof models, "%dx %s", n, first ? first : "?");
    } else {
        for (int i = 0; i < n; i++) {
            const char *name = tb_json_str(cJSON_GetArrayItem(gpus, i), "name");
            size_t used = strlen(models);
            snprintf(models + used, sizeof models - used, "%s%s", i ? " + " : "",
                     name ? name : "?");
        }
    }
    const char *driver = tb_json_str(ctx, "driver");
    const char *cuda = tb_json_str(ctx, "cuda_driver");
    if (driver)
        snprintf(buf, buflen, "%s, driver %s", models, driver);
    else
        snprintf(buf, buflen, "%s, CUDA driver %s", models, cuda ? cuda : "?");
}

/* ---- the model: machines, groups (bench x dtype), cases, cells ---- */

typedef struct {
    char label[320];
    int runs;
    double l2_bytes; /* of its first GPU; NAN when unknown */
} machine;

typedef struct {
    const tb_rrow *row; /* the best result of this case on this machine */
    double figure;
} cell;

typedef struct {
    const char *bench, *dtype, *impl;
    const char *axes_text, *axes_label;
    const char *unit;
    char *key;   /* bench, dtype, impl and axes: what makes a case */
    size_t group; /* of its bench and dtype, in the order tables are written */
    cell *cells; /* one per machine */
} rcase;

typedef struct {
    machine *machines;
    int nm;
    int *file_machine; /* machine of each file */
    rcase *cases;
    size_t nc, capc;
    unsigned long long probes; /* of the model's indexes */
} model;

static void model_free(model *m)
{
    for (size_t i = 0; i < m->nc; i++) {
        free(m->cases[i].cells);
        free(m->cases[i].key);
    }
    free(m->cases);
    free(m->machines);
    free(m->file_machine);
}

static int case_order(const void *a, const void *b)
{
    const rcase *x = a, *y = b;
    int c = strcmp(x->bench, y->bench);
    if (!c)
        c = strcmp(x->dtype, y->dtype);
    return c;
}

/* Text joining parts with the unit separator (which no name holds); NULL on no memory. */
static char *join_key(const char *const *parts, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    char *k = malloc(len);
    if (!k)
        return NULL;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(k + at, parts[i], l);
        at += l;
        k[at++] = i + 1 < n ? '\x1f' : '\0';
    }
    return k;
}

static int group_order(const void *a, const void *b)
{
    return case_order(*(const rcase *const *)a, *(const rcase *const *)b);
}

/* Orders the cases by bench and dtype, keeping the order of first appearance within each:
 * each group's first case is ranked by a sort of the groups, then the cases are placed
 * by rank (counting sort), O(cases + groups log groups). */
static tb_status order_cases(model *m, size_t ngroups, tb_err *err)
{
    const rcase **heads = malloc((ngroups ? ngroups : 1) * sizeof *heads);
    size_t *rank = malloc((ngroups ? ngroups : 1) * sizeof *rank);
    size_t *start = calloc(ngroups + 1, sizeof *start);
    rcase *sorted = malloc((m->nc ? m->nc : 1) * sizeof *sorted);
    if (!heads || !rank || !start || !sorted) {
        free(heads);
        free(rank);
        free(start);
        free(sorted);
        return tb_err_set(err, TB_USAGE, "out of host memory");
    }
    for (size_t c = m->nc; c-- > 0;)
        heads[m->cases[c].group] = &m->cases[c];
    qsort(heads, ngroups, sizeof *heads, group_order);
    for (size_t g = 0; g < ngroups; g++)
        rank[heads[g]->group] = g;
    for (size_t c = 0; c < m->nc; c++)
        start[rank[m->cases[c].group] + 1]++;
    for (size_t g = 0; g < ngroups; g++)
        start[g + 1] += start[g];
    for (size_t c = 0; c < m->nc; c++)
        sorted[start[rank[m->cases[c].group]]++] = m->cases[c];
    if (m->nc)
        memcpy(m->cases, sorted, m->nc * sizeof *sorted);
    free(heads);
    free(rank);
    free(start);
    free(sorted);
    return TB_OK;
}

static tb_status build_model(const tb_rfile *files, size_t nfiles, model *m, tb_err *err)
{
    memset(m, 0, sizeof *m);
    m->machines = calloc(nfiles ? nfiles : 1, sizeof *m->machines);
    m->file_machine = calloc(nfiles ? nfiles : 1, sizeof *m->file_machine);
    if (!m->machines || !m->file_machine)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    tb_keyindex machines, cases, groups;
    tb_keyindex_init(&machines);
    tb_keyindex_init(&cases);
    tb_keyindex_init(&groups);
    tb_status st = TB_OK;
    for (size_t f = 0; f < nfiles && !st; f++) {
        machine *mc = &m->machines[m->nm];
        tb_report_machine(files[f].context, mc->label, sizeof mc->label);
        size_t k = tb_keyindex_put(&machines, mc->label, strlen(mc->label), (size_t)m->nm);
        if (k == TB_KEYINDEX_NONE) {
            st = tb_err_set(err, TB_USAGE, "out of host memory");
            break;
        }
        if (k == (size_t)m->nm) {
            const cJSON *g0 =
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(files[f].context, "gpus"), 0);
            mc->l2_bytes = tb_json_num(g0, "l2_bytes");
            m->nm++;
        }
        m->machines[k].runs++;
        m->file_machine[f] = (int)k;
    }
    /* a group is keyed by its own copy of bench and dtype */
    char **group_keys = NULL;
    size_t ngroups = 0, cap_groups = 0;
    for (size_t f = 0; f < nfiles && !st; f++) {
        int mk = m->file_machine[f];
        for (size_t i = 0; i < files[f].n && !st; i++) {
            const tb_rrow *r = &files[f].rows[i];
            const char *unit;
            double fig = tb_rrow_figure(r, &unit);
            const char *parts[] = {r->bench, r->dtype, r->impl, r->axes_text};
            char *key = join_key(parts, 4);
            char *gkey = join_key(parts, 2);
            rcase *nv = tb_grow(m->cases, &m->capc, m->nc + 1, sizeof *nv);
            char **ng = tb_grow(group_keys, &cap_groups, ngroups + 1, sizeof *ng);
            if (nv)
                m->cases = nv;
            if (ng)
                group_keys = ng;
            size_t c = key && nv ? tb_keyindex_put(&cases, key, strlen(key), m->nc)
                                 : TB_KEYINDEX_NONE;
            size_t g = gkey && ng ? tb_keyindex_put(&groups, gkey, strlen(gkey), ngroups)
                                  : TB_KEYINDEX_NONE;
            if (c == TB_KEYINDEX_NONE || g == TB_KEYINDEX_NONE) {
                if (c == m->nc)
                    free(key);
                if (g == ngroups)
                    free(gkey);
                st = tb_err_set(err, TB_USAGE, "out of host memory");
                break;
            }
            if (g == ngroups)
                group_keys[ngroups++] = gkey;
            else
                free(gkey);
            if (c == m->nc) {
                rcase *rc = &m->cases[m->nc];
                memset(rc, 0, sizeof *rc);
                rc->bench = r->bench;
                rc->dtype = r->dtype;
                rc->impl = r->impl;
                rc->axes_text = r->axes_text;
                rc->axes_label = r->axes_label;
                rc->key = key;
                rc->group = g;
                m->nc++;
                rc->cells = calloc((size_t)m->nm, sizeof *rc->cells);
                if (!rc->cells) {
                    st = tb_err_set(err, TB_USAGE, "out of host memory");
                    break;
                }
            } else {
                free(key);
            }
            rcase *rc = &m->cases[c];
            if (strcmp(r->status, "ok") != 0 || !isfinite(fig))
                continue;
            if (!rc->unit)
                rc->unit = unit;
            cell *ce = &rc->cells[mk];
            if (!ce->row || fig > ce->figure) {
                ce->row = r;
                ce->figure = fig;
            }
        }
    }
    m->probes = machines.probes + cases.probes + groups.probes;
    tb_keyindex_free(&machines);
    tb_keyindex_free(&cases);
    tb_keyindex_free(&groups);
    for (size_t g = 0; g < ngroups; g++)
        free(group_keys[g]);
    free(group_keys);
    /* group tables by bench and dtype, cases in order of first appearance within each */
    if (!st)
        st = order_cases(m, ngroups, err);
    return st;
}

/* ---- headline ---- */

static int axes_match(const cJSON *axes, const char *spec)
{
    if (!spec)
        return 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return 0;
        *eq = '\0';
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(axes, tok);
        if (cJSON_IsNumber(v)) {
            if (v->valuedouble != strtod(eq + 1, NULL))
                return 0;
        } else if (cJSON_IsString(v)) {
            if (strcmp(v->valuestring, eq + 1) != 0)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

static double field_value(const tb_rrow *r, const char *field)
{
    if (!strcmp(field, "gbps"))
        return r->gbps;
    if (!strcmp(field, "tflops"))
        return r->tflops;
    if (!strcmp(field, "busbw_gbps"))
        return r->busbw_gbps;
    if (!strcmp(field, "time_us"))
        return r->have_time ? r->median * 1e6 : NAN;
    if (!strcmp(field, "power_w"))
        return r->power_w;
    if (!strcmp(field, "gflop_per_j"))
        return isfinite(r->tflops) && r->power_w > 0 ? r->tflops * 1e3 / r->power_w : NAN;
    return NAN;
}

static int str_match(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

/* The headline value of one column for one machine: NAN when nothing matches. */
static double headline_value(const tb_rfile *files, size_t nfiles, const model *m, int mk,
                             const tb_headline_col *col, const tb_rrow **best_row)
{
    double best = NAN, sum = 0;
    int n = 0;
    *best_row = NULL;
    for (size_t f = 0; f < nfiles; f++) {
        if (m->file_machine[f] != mk)
            continue;
        for (size_t i = 0; i < files[f].n; i++) {
            const tb_rrow *r = &files[f].rows[i];
            if (strcmp(r->status, "ok") != 0 || !str_match(col->bench, r->bench) ||
                !str_match(col->dtype, r->dtype) || !str_match(col->kind, r->kind) ||
                !str_match(col->impl, r->impl) || !axes_match(r->axes, col->axes))
                continue;
            if (col->min_l2_multiple > 0) {
                double l2 = m->machines[mk].l2_bytes;
                if (!(isfinite(l2) && r->bytes >= col->min_l2_multiple * l2))
                    continue;
            }
            double v = field_value(r, col->field);
            if (!isfinite(v))
                continue;
            sum += v;
            n++;
            if (!isfinite(best) || (col->lowest ? v < best : v > best)) {
                best = v;
                *best_row = r;
            }
        }
    }
    if (col->mean && n) {
        *best_row = NULL;
        return sum / n;
    }
    return best;
}

static void value_cell(double v, const tb_rrow *r, int with_pct, char *buf, size_t n)
{
    if (!isfinite(v))
        snprintf(buf, n, "–");
    else if (with_pct && r && isfinite(r->pct_peak))
        snprintf(buf, n, "%.4g (%.1f %%)", v, r->pct_peak);
    else
        snprintf(buf, n, "%.4g", v);
}

tb_status tb_report_write(const tb_rfile *files, size_t nfiles, const tb_headline_col *cols,
                          int ncols, tb_format fmt, FILE *out, tb_err *err)
{
    return tb_report_write_counted(files, nfiles, cols, ncols, fmt, out, NULL, err);
}

tb_status tb_report_write_counted(const tb_rfile *files, size_t nfiles,
                                  const tb_headline_col *cols, int ncols, tb_format fmt,
                                  FILE *out, unsigned long long *probes, tb_err *err)
{
    if (fmt == TB_FMT_JSON)
        return tb_err_set(err, TB_USAGE, "--format: report writes md or csv, not json");
    model m;
    tb_status st = build_model(files, nfiles, &m, err);
    if (probes)
        *probes += m.probes;
    if (st) {
        model_free(&m);
        return st;
    }
    if (fmt == TB_FMT_CSV) {
        fprintf(out, "machine,runs,bench,dtype,impl,case,unit,figure,pct_peak\n");
        for (size_t c = 0; c < m.nc; c++) {
            const rcase *rc = &m.cases[c];
            for (int k = 0; k < m.nm; k++) {
                const cell *ce = &rc->cells[k];
                if (!ce->row)
                    continue;
                tb_csv_quote(out, m.machines[k].label);
                fprintf(out, ",%d,%s,%s,%s,", m.machines[k].runs, rc->bench, rc->dtype,
                        rc->impl);
                tb_csv_quote(out, rc->axes_label);
                fprintf(out, ",%s,%.6g,", rc->unit ? rc->unit : "", ce->figure);
                if (isfinite(ce->row->pct_peak))
                    fprintf(out, "%.3f", ce->row->pct_peak);
                fputc('\n', out);
            }
        }
        model_free(&m);
        return TB_OK;
    }

    fprintf(out, "## Headline\n\n| machine | runs |");
    for (int c = 0; c < ncols; c++)
        fprintf(out, " %s |", cols[c].title);
    fprintf(out, "\n|---|---:|");
    for (int c = 0; c < ncols; c++)
        fprintf(out, "---:|");
    fputc('\n', out);
    for (int k = 0; k < m.nm; k++) {
        fprintf(out, "| %s | %d |", m.machines[k].label, m.machines[k].runs);
        for (int c = 0; c < ncols; c++) {
            const tb_rrow *r;
            double v = headline_value(files, nfiles, &m, k, &cols[c], &r);
            char cellt[64];
            value_cell(v, r, 1, cellt, sizeof cellt);
            fprintf(out, " %s |", cellt);
        }
        fputc('\n', out);
    }

    for (size_t c = 0; c < m.nc;) {
        size_t end = c;
        while (end < m.nc && case_order(&m.cases[c], &m.cases[end]) == 0)
            end++;
        fprintf(out, "\n## %s %s\n\n| impl | case | unit |", m.cases[c].bench, m.cases[c].dtype);
        for (int k = 0; k < m.nm; k++)
            fprintf(out, " %s |", m.machines[k].label);
        fprintf(out, "\n|---|---|---|");
        for (int k = 0; k < m.nm; k++)
            fprintf(out, "---:|");
        fputc('\n', out);
        for (size_t i = c; i < end; i++) {
            const rcase *rc = &m.cases[i];
            fprintf(out, "| %s | %s | %s |", rc->impl, rc->axes_label, rc->unit ? rc->unit : "–");
            for (int k = 0; k < m.nm; k++) {
                char cellt[64];
                value_cell(rc->cells[k].row ? rc->cells[k].figure : NAN, rc->cells[k].row, 1,
                           cellt, sizeof cellt);
                fprintf(out, " %s |", cellt);
            }
            fputc('\n', out);
        }
        c = end;
    }
    fprintf(out,
            "\nCells: the best figure any run and any GPU of the machine reached, with its %% of "
            "the device-derived peak; – where there is none.\n");
    model_free(&m);
    return TB_OK;
}

/* ---- plots ---- */

/* The x axis of a group: the first numeric axis (in the first case's order) whose value
 * varies over the group's cases; NULL when none does. */
static const char *x_axis(const model *m, size_t c0, size_t c1)
{
    const tb_rrow *first = NULL;
    for (size_t c = c0; c < c1 && !first; c++)
        for (int k = 0; k < m->nm && !first; k++)
            first = m->cases[c].cells[k].row;
    if (!first)
        return NULL;
    const cJSON *a;
    cJSON_ArrayForEach(a, first->axes)
    {
        if (!cJSON_IsNumber(a) || !a->string)
            continue;
        for (size_t c = c0; c < c1; c++)
            for (int k = 0; k < m->nm; k++) {
                const tb_rrow *r = m->cases[c].cells[k].row;
                if (!r)
                    continue;
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->axes, a->string);
                if (cJSON_IsNumber(v) && v->valuedouble != a->valuedouble)
                    return a->string;
            }
    }
    return NULL;
}

/* The axes of a row other than x, as text. */
static void other_axes(const tb_rrow *r, const char *x, char *buf, size_t n)
{
    buf[0] = '\0';
    const cJSON *a;
    cJSON_ArrayForEach(a, r->axes)
    {
        if (!a->string || strcmp(a->string, x) == 0)
            continue;
        size_t used = strlen(buf);
        if (cJSON_IsNumber(a))
            snprintf(buf + used, n - used, " %s=%.10g", a->string, a->valuedouble);
        else if (cJSON_IsString(a))
            snprintf(buf + used, n - used, " %s=%s", a->string, a->valuestring);
    }
}

/* Text from a result file made safe for a gnuplot script: every control character (a newline
 * would end the command and start another) becomes a space, and with quote a single quote is
 * doubled, as gnuplot's single-quoted strings take it. */
static void gp_safe(const char *s, int quote, char *out, size_t n)
{
    size_t t = 0;
    for (; s && *s && t + 3 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f)
            out[t++] = ' ';
        else if (ch == '\'' && quote) {
            out[t++] = '\'';
            out[t++] = '\'';
        } else
            out[t++] = (char)ch;
    }
    out[t] = '\0';
}

/* A file name from a result file's text: letters, digits, '.', '-' and '_' only (no '/'),
 * not starting with '.'. */
static void file_safe(const char *s, char *out, size_t n)
{
    size_t t = 0;
    for (; s && *s && t + 1 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
        int hidden = t == 0 && ch == '.';
        out[t++] = ok && !hidden ? (char)ch : '_';
    }
    out[t] = '\0';
}

typedef struct {
    char *label;
    double *x; /* (x, y) pairs */
    size_t n, cap;
} series;

static int cmp_xy(const void *a, const void *b)
{
    const double *p = a, *q = b;
    return (p[0] > q[0]) - (p[0] < q[0]);
}

static tb_status write_plot(const model *m, size_t c0, size_t c1, const char *x,
                            const char *dir, FILE *list, tb_err *err)
{
    series *s = NULL;
    size_t ns = 0, cap_series = 0;
    tb_keyindex labels; /* series by label */
    tb_keyindex_init(&labels);
    tb_status st = TB_OK;
    for (size_t c = c0; c < c1 && !st; c++)
        for (int k = 0; k < m->nm && !st; k++) {
            const tb_rrow *r = m->cases[c].cells[k].row;
            if (!r)
                continue;
            const cJSON *xv = cJSON_GetObjectItemCaseSensitive(r->axes, x);
            if (!cJSON_IsNumber(xv))
                continue;
            char label[1024], rest[256];
            other_axes(r, x, rest, sizeof rest);
            snprintf(label, sizeof label, "%.320s: %.256s%.255s", m->machines[k].label, r->impl,
                     rest);
            size_t i = tb_keyindex_get(&labels, label, strlen(label));
            if (i == TB_KEYINDEX_NONE) {
                series *nsv = tb_grow(s, &cap_series, ns + 1, sizeof *nsv);
                char *copy = nsv ? malloc(strlen(label) + 1) : NULL;
                if (nsv)
                    s = nsv;
                if (!copy || tb_keyindex_put(&labels, strcpy(copy, label), strlen(label), ns) ==
                                 TB_KEYINDEX_NONE) {
                    free(copy);
                    st = tb_err_set(err, TB_USAGE, "out of host memory");
                    break;
                }
                memset(&s[ns], 0, sizeof s[ns]);
                s[ns].label = copy;
                i = ns++;
            }
            series *se = &s[i];
            double *nx = tb_grow(se->x, &se->cap, se->n + 1, 2 * sizeof *nx);
            if (!nx) {
                st = tb_err_set(err, TB_USAGE, "out of host memory");
                break;
            }
            se->x = nx;
            se->x[2 * se->n] = xv->valuedouble;
            se->x[2 * se->n + 1] = m->cases[c].cells[k].figure;
            se->n++;
        }
    char base[256], path[1024], bench[100], dtype[100], xs[200], bench_q[200], dtype_q[200];
    file_safe(m->cases[c0].bench, bench, sizeof bench);
    file_safe(m->cases[c0].dtype, dtype, sizeof dtype);
    snprintf(base, sizeof base, "%s-%s", bench, dtype);
    gp_safe(x, 1, xs, sizeof xs);
    gp_safe(m->cases[c0].bench, 1, bench_q, sizeof bench_q);
    gp_safe(m->cases[c0].dtype, 1, dtype_q, sizeof dtype_q);
    FILE *data = NULL, *gp = NULL;
    if (!st) {
        snprintf(path, sizeof path, "%s/%s.csv", dir, base);
        data = fopen(path, "w");
        if (!data)
            st = tb_err_set(err, TB_USAGE, "--plot: cannot create '%s': %s", path,
                            strerror(errno));
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/%s.gp", dir, base);
        gp = fopen(path, "w");
        if (!gp)
            st = tb_err_set(err, TB_USAGE, "--plot: cannot create '%s': %s", path,
                            strerror(errno));
    }
    if (!st) {
        const char *unit = m->cases[c0].unit ? m->cases[c0].unit : "";
        /* x: log2, one tic per power of 2 up to 12 tics, every 4th, 16th ... beyond */
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < ns; i++)
            for (size_t j = 0; j < s[i].n; j++) {
                lo = fmin(lo, s[i].x[2 * j]);
                hi = fmax(hi, s[i].x[2 * j]);
            }
        double step = 2;
        while (lo > 0 && hi / lo > pow(step, 12))
            step *= step;
        double first = lo > 0 ? pow(2, floor(log2(lo))) : 1;
        int is_size = strcmp(x, "bytes") == 0;
        fprintf(gp,
                "# generated by trainbench report --plot; run in this directory: gnuplot %s.gp\n"
                "set terminal pngcairo size 1280,860 noenhanced font ',11'\n"
                "set output '%s.png'\n"
                "set datafile separator ','\n"
                "set title '%s %s: %s against %s'\n"
                "set xlabel '%s (log scale%s)'\nset ylabel '%s'\n"
                "set logscale x 2\nset xtics %.17g, %.17g\nset format x '%s'\n"
                "set yrange [0:*]\nset grid\n"
                "set key below left Left reverse maxcols 2 spacing 1.2 width 2\n",
                base, base, bench_q, dtype_q, unit, xs, xs,
                is_size ? "; binary: 1kiB = 1024 bytes" : ", base 2", unit, first, step,
                is_size ? "%.0b%BB" : "%.0f");
        fprintf(data, "# %s: one block per series (x,y), blocks in the order of %s.gp\n", base,
                base);
        fprintf(gp, "plot");
        for (size_t i = 0; i < ns; i++) {
            qsort(s[i].x, s[i].n, 2 * sizeof(double), cmp_xy);
            char comment[1100], title[2100];
            gp_safe(s[i].label, 0, comment, sizeof comment);
            gp_safe(s[i].label, 1, title, sizeof title);
            fprintf(data, "%s# %s\n", i ? "\n\n" : "", comment);
            for (size_t j = 0; j < s[i].n; j++)
                fprintf(data, "%.17g,%.17g\n", s[i].x[2 * j], s[i].x[2 * j + 1]);
            fprintf(gp, "%s '%s.csv' index %zu using 1:2 with linespoints lw 2 title '%s'",
                    i ? ", \\\n    " : " ", base, i, title);
        }
        fprintf(gp, "\n");
        if (list)
            fprintf(list, "%s/%s.gp\n", dir, base);
    }
    if (data)
        fclose(data);
    if (gp)
        fclose(gp);
    for (size_t i = 0; i < ns; i++) {
        free(s[i].x);
        free(s[i].label);
    }
    free(s);
    tb_keyindex_free(&labels);
    return st;
}

tb_status tb_report_plots(const tb_rfile *files, size_t nfiles, const char *dir, FILE *list,
                          tb_err *err)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tb_err_set(err, TB_USAGE, "--plot: cannot create '%s': %s", dir, strerror(errno));
    model m;
    tb_status st = build_model(files, nfiles, &m, err);
    for (size_t c = 0; !st && c < m.nc;) {
        size_t end = c;
        while (end < m.nc && case_order(&m.cases[c], &m.cases[end]) == 0)
            end++;
        const char *x = x_axis(&m, c, end);
        if (x)
            st = write_plot(&m, c, end, x, dir, list, err);
        c = end;
    }
    model_free(&m);
    return st;
}

/* ---- the slowest ranks of a job ---- */

typedef struct {
    const tb_rrow *row;
    const char *case_key; /* bench|impl|dtype|axes: the same case on every rank */
    double median_s;      /* the case's median across the ranks */
    double below_pct;     /* how far this row's figure is below it */
} ranked_row;

static int by_case_then_time(const void *a, const void *b)
{
    const ranked_row *x = a, *y = b;
    int c = strcmp(x->case_key, y->case_key);
    if (c)
        return c;
    return (x->row->median < y->row->median) ? -1 : (x->row->median > y->row->median);
}

static int by_host(const void *a, const void *b)
{
    const ranked_row *x = a, *y = b;
    return strcmp(x->row->host ? x->row->host : "-", y->row->host ? y->row->host : "-");
}

size_t tb_report_outliers(const tb_rfile *f, double pct, FILE *out)
{
    ranked_row *rows = calloc(f->n ? f->n : 1, sizeof *rows);
    char **keys = calloc(f->n ? f->n : 1, sizeof *keys);
    ranked_row *slow = calloc(f->n ? f->n : 1, sizeof *slow);
    size_t n = 0, nslow = 0;
    if (!rows || !keys || !slow) {
        free(rows);
        free(keys);
        free(slow);
        fprintf(out, "(out of host memory: no table of the slowest ranks)\n");
        return 0;
    }
    for (size_t i = 0; i < f->n; i++) {
        const tb_rrow *r = &f->rows[i];
        if (strcmp(r->status, "ok") || !r->have_time)
            continue;
        size_t len = strlen(r->bench) + strlen(r->impl) + strlen(r->dtype) +
                     strlen(r->axes_text) + 4;
        if (!(keys[n] = malloc(len)))
            continue;
        snprintf(keys[n], len, "%s|%s|%s|%s", r->bench, r->impl, r->dtype, r->axes_text);
        rows[n].row = r;
        rows[n].case_key = keys[n];
        n++;
    }
    qsort(rows, n, sizeof *rows, by_case_then_time);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && !strcmp(rows[a].case_key, rows[b].case_key))
            b++;
        size_t m = b - a;
        double median = m % 2 ? rows[a + m / 2].row->median
                              : 0.5 * (rows[a + m / 2 - 1].row->median +
                                       rows[a + m / 2].row->median);
        /* figure = 1 / time: more than pct % below the median figure */
        for (size_t k = b; k-- > a;) {
            double below = 100.0 * (1.0 - median / rows[k].row->median);
            if (!(below > pct))
                break;
            slow[nslow] = rows[k];
            slow[nslow].median_s = median;
            slow[nslow++].below_pct = below;
        }
        a = b;
    }
    if (!nslow) {
        fprintf(out, "no rank more than %g %% below its case's median\n", pct);
    } else {
        fprintf(out, "slowest ranks: %zu row%s more than %g %% below their case's median\n",
                nslow, nslow == 1 ? "" : "s", pct);
        fprintf(out, "  %-44s %5s  %-20s %-6s %12s %12s %9s\n", "case", "rank", "host", "gpu",
                "time_us", "median_us", "below");
        for (size_t i = 0; i < nslow; i++) {
            const tb_rrow *r = slow[i].row;
            char label[256];
            snprintf(label, sizeof label, "%s %s %s %s", r->bench, r->impl, r->dtype,
                     r->axes_label);
            fprintf(out, "  %-44.44s %5d  %-20.20s %-6.6s %12.3f %12.3f %8.1f%%\n", label,
                    r->rank, r->host ? r->host : "-", r->gpus_text, r->median * 1e6,
                    slow[i].median_s * 1e6, slow[i].below_pct);
        }
        qsort(slow, nslow, sizeof *slow, by_host);
        fprintf(out, "hosts with slow rows:");
        for (size_t a = 0; a < nslow;) {
            size_t b = a;
            while (b < nslow && !by_host(&slow[a], &slow[b]))
                b++;
            fprintf(out, " %s (%zu)", slow[a].row->host ? slow[a].row->host : "-", b - a);
            a = b;
        }
        fprintf(out, "\n");
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(rows);
    free(slow);
    return nslow;
}
