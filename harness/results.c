#include "results.h"

#include "grow.h"

#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void tb_csv_quote(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

const char *tb_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

double tb_json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

double tb_rrow_figure(const tb_rrow *r, const char **unit)
{
    const char *u = NULL;
    double v = NAN;
    if (isfinite(r->tflops)) {
        v = r->tflops;
        u = "TFLOP/s";
    } else if (isfinite(r->busbw_gbps)) {
        v = r->busbw_gbps;
        u = "busbw GB/s";
    } else if (isfinite(r->gbps)) {
        v = r->gbps;
        u = "GB/s";
    }
    if (unit)
        *unit = u;
    return v;
}

/* Appends text to buf (always terminated). */
static void append(char *buf, size_t n, const char *text)
{
    size_t used = strlen(buf);
    if (used + 1 < n)
        snprintf(buf + used, n - used, "%s", text);
}

static void axes_text(const cJSON *axes, char *buf, size_t n, int pretty)
{
    buf[0] = '\0';
    const cJSON *a;
    int first = 1;
    cJSON_ArrayForEach(a, axes)
    {
        char item[128];
        double v = cJSON_IsNumber(a) ? a->valuedouble : 0;
        if (cJSON_IsNumber(a) && pretty && v >= 1048576 && v < 9e15 && v == floor(v) &&
            fmod(v, 1048576) == 0) {
            char size[32];
            snprintf(item, sizeof item, "%s%s=%s", first ? "" : " ", a->string ? a->string : "?",
                     tb_sweep_format_size((int64_t)v, size, sizeof size));
        } else if (cJSON_IsNumber(a))
            snprintf(item, sizeof item, "%s%s=%.17g", first ? "" : " ", a->string ? a->string : "?",
                     v);
        else if (cJSON_IsString(a))
            snprintf(item, sizeof item, "%s%s=%s", first ? "" : " ", a->string ? a->string : "?",
                     a->valuestring);
        else
            snprintf(item, sizeof item, "%s%s=?", first ? "" : " ", a->string ? a->string : "?");
        append(buf, n, item);
        first = 0;
    }
}

static tb_status parse_result(const cJSON *o, int line, const char *name, tb_rrow *r,
                              tb_err *err)
{
    memset(r, 0, sizeof *r);
    r->obj = o;
    r->line = line;
    static const char *const required[] = {"bench", "impl", "dtype", "status"};
    const char *vals[4];
    for (int i = 0; i < 4; i++) {
        vals[i] = tb_json_str(o, required[i]);
        if (!vals[i])
            return tb_err_set(err, TB_USAGE, "%s:%d: result has no '%s' string", name, line,
                              required[i]);
    }
    r->bench = vals[0];
    r->impl = vals[1];
    r->dtype = vals[2];
    r->status = vals[3];
    r->axes = cJSON_GetObjectItemCaseSensitive(o, "axes");
    if (!cJSON_IsObject(r->axes))
        return tb_err_set(err, TB_USAGE, "%s:%d: result has no 'axes' object", name, line);
    r->kind = tb_json_str(o, "kind");
    r->reason = tb_json_str(o, "reason");
    r->device = tb_json_str(o, "device");
    axes_text(r->axes, r->axes_text, sizeof r->axes_text, 0);
    axes_text(r->axes, r->axes_label, sizeof r->axes_label, 1);

    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(o, "gpus");
    const cJSON *g;
    r->gpus_text[0] = '\0';
    cJSON_ArrayForEach(g, gpus)
    {
        if (!cJSON_IsNumber(g) || !(g->valuedouble >= 0 && g->valuedouble < 1e6))
            continue; /* not a GPU index */
        char item[24];
        snprintf(item, sizeof item, "%s%d", r->gpu_count ? "," : "", (int)g->valuedouble);
        append(r->gpus_text, sizeof r->gpus_text, item);
        r->gpu_count++;
    }
    if (r->gpu_count == 0)
        snprintf(r->gpus_text, sizeof r->gpus_text, "host");

    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time_s");
    r->median = tb_json_num(t, "median");
    r->q1 = tb_json_num(t, "q1");
    r->q3 = tb_json_num(t, "q3");
    r->have_time = r->median > 0 && r->q1 >= 0 && r->q3 >= r->q1;
    r->bytes = tb_json_num(o, "bytes");
    r->gbps = tb_json_num(o, "gbps");
    r->tflops = tb_json_num(o, "tflops");
    r->busbw_gbps = tb_json_num(o, "busbw_gbps");
    r->pct_peak = tb_json_num(o, "pct_peak");
    r->power_w = tb_json_num(o, "power_w");
    snprintf(r->key, sizeof r->key, "%s|%s|%s|%s|%s|%s", r->bench, r->impl, r->dtype,
             r->axes_text, r->device ? r->device : "?", r->gpus_text);
    return TB_OK;
}

static tb_status check_context(const cJSON *o, const char *name, tb_err *err)
{
    const char *type = tb_json_str(o, "type");
    if (!type || strcmp(type, "context") != 0)
        return tb_err_set(err, TB_USAGE,
                          "%s:1: not a trainbench result file (the first line is not a "
                          "{\"type\":\"context\"} record)",
                          name);
    const char *schema = tb_json_str(o, "schema");
    if (!schema || strncmp(schema, "trainbench/", 11) != 0)
        return tb_err_set(err, TB_USAGE, "%s:1: the context has no 'schema' trainbench/N", name);
    char *end;
    errno = 0;
    long major = strtol(schema + 11, &end, 10);
    if (end == schema + 11 || errno || (*end && *end != '.'))
        return tb_err_set(err, TB_USAGE, "%s:1: schema '%s' is not trainbench/N", name, schema);
    if (major != TB_SCHEMA_MAJOR)
        return tb_err_set(err, TB_USAGE,
                          "%s:1: schema '%s' is not supported (this trainbench reads "
                          "trainbench/%d files)",
                          name, schema, TB_SCHEMA_MAJOR);
    return TB_OK;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

tb_status tb_results_parse(const char *text, size_t len, const char *name, tb_rfile *out,
                           FILE *warn, tb_err *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    size_t cap_rows = 0, cap_roots = 0;
    int line = 0;
    tb_status st = TB_OK;
    for (size_t pos = 0; pos < len && !st;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *s = text + pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (blank(s, n))
            continue;
        const char *stop = NULL;
        /* a NUL would end a string early without a word: the line is refused whole */
        const char *nul = memchr(s, '\0', n);
        cJSON *o = nul ? NULL : cJSON_ParseWithLengthOpts(s, n, &stop, 0);
        const char *after = NULL; /* text after the object, other than white space */
        if (o && stop && stop >= s && stop <= s + n) {
            const char *e = stop;
            while (e < s + n && (*e == ' ' || *e == '\t' || *e == '\r'))
                e++;
            if (e < s + n)
                after = e;
        }
        if (!o || !cJSON_IsObject(o) || after) {
            cJSON_Delete(o);
            if (!nl && out->context) {
                /* the last line, unterminated: a run that was killed while writing it */
                out->truncated_line = line;
                if (warn)
                    fprintf(warn,
                            "trainbench: warning: %s:%d: skipping a truncated last line (a run "
                            "that was stopped?)\n",
                            name, line);
                break;
            }
            const char *at = nul ? nul : after ? after : stop;
            long col = at && at >= s && at <= s + n ? (long)(at - s) + 1 : 1;
            st = tb_err_set(err, TB_USAGE, "%s:%d: %s (at column %ld)", name, line,
                            nul     ? "a NUL byte"
                            : after ? "text after the JSON object"
                            : o     ? "not a JSON object"
                                    : "not valid JSON",
                            col);
            break;
        }
        if (!out->context) {
            if ((st = check_context(o, name, err))) {
                cJSON_Delete(o);
                break;
            }
            out->context = o;
            continue;
        }
        const char *type = tb_json_str(o, "type");
        if (!type || strcmp(type, "result") != 0) {
            cJSON_Delete(o); /* other record types of newer versions: ignored */
            continue;
        }
        tb_rrow *nr = tb_grow(out->rows, &cap_rows, out->n + 1, sizeof *nr);
        if (nr)
            out->rows = nr;
        cJSON **nroots = nr ? tb_grow(out->roots, &cap_roots, out->n + 1, sizeof *nroots) : NULL;
        if (nroots)
            out->roots = nroots;
        if (!nr || !nroots) {
            cJSON_Delete(o);
            st = tb_err_set(err, TB_USAGE, "%s: out of host memory at line %d", name, line);
            break;
        }
        out->roots[out->n] = o;
        if ((st = parse_result(o, line, name, &out->rows[out->n], err))) {
            cJSON_Delete(o);
            break;
        }
        out->n++;
    }
    if (!st && !out->context)
        st = tb_err_set(err, TB_USAGE, "%s: empty (no context line)", name);
    if (st)
        tb_results_free(out);
    return st;
}

tb_status tb_results_load(const char *path, tb_rfile *out, FILE *warn, tb_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tb_err_set(err, TB_USAGE, "cannot read '%s': %s%s", path, strerror(errno),
                          errno == ENOENT && strpbrk(path, "*?[")
                              ? " (a pattern no file matched: the shell passed it on as it was)"
                              : "");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int read_error = ferror(f);
    fclose(f);
    if (!buf || read_error) {
        free(buf);
        return tb_err_set(err, TB_USAGE, "cannot read '%s'", path);
    }
    tb_status st = tb_results_parse(buf, len, path, out, warn, err);
    free(buf);
    return st;
}

void tb_results_free(tb_rfile *f)
{
    for (size_t i = 0; i < f->n; i++)
        cJSON_Delete(f->roots[i]);
    cJSON_Delete(f->context);
    free(f->roots);
    free(f->rows);
    f->roots = NULL;
    f->rows = NULL;
    f->context = NULL;
    f->n = 0;
}
