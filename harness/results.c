#include "results.h"

#include "grow.h"
#include "keyindex.h"

#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
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

/* ---- the store: an arena of strings, interned, and the shared axes trees ---- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct {
    cJSON *tree;
    const char *text, *label;
} axes_entry;

struct tb_rstore {
    chunk *chunks;
    size_t bytes;        /* of chunks, index tables and kept trees */
    tb_keyindex strings; /* text -> its interned copy */
    tb_keyindex axes;    /* the axes object printed -> its entry */
    axes_entry *axes_list;
    size_t n_axes, cap_axes;
};

enum { CHUNK_BYTES = 1 << 16 };

static char *store_alloc(tb_rstore *s, size_t n)
{
    if (!s->chunks || s->chunks->cap - s->chunks->used < n) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        chunk *c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        if (s->chunks && n > CHUNK_BYTES) { /* a big one: behind the current chunk */
            c->next = s->chunks->next;
            s->chunks->next = c;
        } else {
            c->next = s->chunks;
            s->chunks = c;
        }
        s->bytes += sizeof *c + cap;
        c->used = n;
        return c->data;
    }
    char *p = s->chunks->data + s->chunks->used;
    s->chunks->used += n;
    return p;
}

/* The one copy of text in the store; NULL for NULL or when memory runs out. */
static const char *intern(tb_rstore *s, const char *text, int *oom)
{
    if (!text)
        return NULL;
    size_t len = strlen(text);
    size_t v = tb_keyindex_get(&s->strings, text, len);
    if (v != TB_KEYINDEX_NONE)
        return (const char *)(uintptr_t)v;
    char *copy = store_alloc(s, len + 1);
    if (copy)
        memcpy(copy, text, len + 1);
    if (!copy || tb_keyindex_put(&s->strings, copy, len, (size_t)(uintptr_t)copy) ==
                     TB_KEYINDEX_NONE) {
        *oom = 1;
        return NULL;
    }
    return copy;
}

static size_t tree_bytes(const cJSON *t)
{
    size_t n = 0;
    for (; t; t = t->next) {
        n += sizeof *t + (t->string ? strlen(t->string) + 1 : 0) +
             (t->valuestring ? strlen(t->valuestring) + 1 : 0) + tree_bytes(t->child);
    }
    return n;
}

static size_t index_bytes(const tb_keyindex *ix)
{
    return ix->cap * (sizeof *ix->keys + sizeof *ix->lens + sizeof *ix->hashes +
                      sizeof *ix->values);
}

size_t tb_results_store_bytes(const tb_rfile *f)
{
    const tb_rstore *s = f->store;
    if (!s)
        return 0;
    size_t n = s->bytes + index_bytes(&s->strings) + index_bytes(&s->axes) +
               s->cap_axes * sizeof *s->axes_list;
    for (size_t i = 0; i < f->n; i++)
        if (f->rows[i].obj)
            n += tree_bytes(f->rows[i].obj);
    return n;
}

unsigned long long tb_results_probes(const tb_rfile *f)
{
    return f->store ? f->store->strings.probes + f->store->axes.probes : 0;
}

static void store_free(tb_rstore *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_axes; i++)
        cJSON_Delete(s->axes_list[i].tree);
    free(s->axes_list);
    tb_keyindex_free(&s->strings);
    tb_keyindex_free(&s->axes);
    while (s->chunks) {
        chunk *next = s->chunks->next;
        free(s->chunks);
        s->chunks = next;
    }
    free(s);
}

/* The shared entry of the row's axes object, taken out of the row (o keeps no axes); NULL
 * when memory runs out. */
static const axes_entry *shared_axes(tb_rstore *s, cJSON *o, cJSON *axes)
{
    char *printed = cJSON_PrintUnformatted(axes);
    if (!printed)
        return NULL;
    size_t len = strlen(printed);
    size_t v = tb_keyindex_get(&s->axes, printed, len);
    if (v != TB_KEYINDEX_NONE) {
        cJSON_free(printed);
        return &s->axes_list[v];
    }
    axes_entry *nl = tb_grow(s->axes_list, &s->cap_axes, s->n_axes + 1, sizeof *nl);
    char *key = nl ? store_alloc(s, len + 1) : NULL;
    if (nl)
        s->axes_list = nl;
    if (!key) {
        cJSON_free(printed);
        return NULL;
    }
    memcpy(key, printed, len + 1);
    cJSON_free(printed);
    char text[256], label[256];
    axes_text(axes, text, sizeof text, 0);
    axes_text(axes, label, sizeof label, 1);
    int oom = 0;
    axes_entry e = {NULL, intern(s, text, &oom), intern(s, label, &oom)};
    if (oom || tb_keyindex_put(&s->axes, key, len, s->n_axes) == TB_KEYINDEX_NONE)
        return NULL;
    e.tree = cJSON_DetachItemViaPointer(o, axes);
    s->axes_list[s->n_axes] = e;
    s->bytes += tree_bytes(e.tree);
    return &s->axes_list[s->n_axes++];
}

/* Fills r from the parsed line o (which the caller then frees). */
static tb_status parse_result(cJSON *o, int line, const char *name, const char *ctx_host,
                              tb_rstore *s, tb_rrow *r, tb_err *err)
{
    memset(r, 0, sizeof *r);
    r->line = line;
    static const char *const required[] = {"bench", "impl", "dtype", "status"};
    const char *vals[4];
    for (int i = 0; i < 4; i++) {
        vals[i] = tb_json_str(o, required[i]);
        if (!vals[i])
            return tb_err_set(err, TB_USAGE, "%s:%d: result has no '%s' string", name, line,
                              required[i]);
    }
    cJSON *axes = cJSON_GetObjectItemCaseSensitive(o, "axes");
    if (!cJSON_IsObject(axes))
        return tb_err_set(err, TB_USAGE, "%s:%d: result has no 'axes' object", name, line);
    int oom = 0;
    r->bench = intern(s, vals[0], &oom);
    r->impl = intern(s, vals[1], &oom);
    r->dtype = intern(s, vals[2], &oom);
    r->status = intern(s, vals[3], &oom);
    r->kind = intern(s, tb_json_str(o, "kind"), &oom);
    r->reason = intern(s, tb_json_str(o, "reason"), &oom);
    r->device = intern(s, tb_json_str(o, "device"), &oom);
    const char *host = tb_json_str(o, "host");
    r->host = intern(s, host ? host : ctx_host, &oom);

    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(o, "gpus");
    const cJSON *g;
    char gpus_text[64] = "";
    cJSON_ArrayForEach(g, gpus)
    {
        if (!cJSON_IsNumber(g) || !(g->valuedouble >= 0 && g->valuedouble < 1e6))
            continue; /* not a GPU index */
        char item[24];
        snprintf(item, sizeof item, "%s%d", r->gpu_count ? "," : "", (int)g->valuedouble);
        append(gpus_text, sizeof gpus_text, item);
        r->gpu_count++;
    }
    double rank = tb_json_num(o, "rank");
    r->rank = rank >= 0 && rank < 1e9 ? (int)rank : -1;
    if (r->gpu_count == 0 && r->rank > 0)
        snprintf(gpus_text, sizeof gpus_text, "host:%d", r->rank);
    else if (r->gpu_count == 0)
        snprintf(gpus_text, sizeof gpus_text, "host");
    r->gpus_text = intern(s, gpus_text, &oom);

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
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "iters");
    const cJSON *sg = cJSON_GetObjectItemCaseSensitive(it, "straggler");
    if (it && !cJSON_IsNull(it) && !cJSON_IsObject(it))
        return tb_err_set(err, TB_USAGE, "%s:%d: result's 'iters' is not an object", name, line);
    if (sg && !cJSON_IsNull(sg) &&
        !(cJSON_IsNumber(sg) && sg->valuedouble >= 0 && sg->valuedouble < 1e7 &&
          sg->valuedouble == (int)sg->valuedouble))
        return tb_err_set(err, TB_USAGE, "%s:%d: 'iters.straggler' is not a rank", name, line);
    r->iter_p99 = tb_json_num(it, "p99_s");
    r->iter_cv = tb_json_num(it, "cv");
    r->straggler = cJSON_IsNumber(sg) ? (int)sg->valuedouble : -1;

    const axes_entry *ax = oom ? NULL : shared_axes(s, o, axes);
    if (!ax)
        return tb_err_set(err, TB_USAGE, "%s: out of host memory at line %d", name, line);
    r->axes = ax->tree;
    r->axes_text = ax->text;
    r->axes_label = ax->label;
    char key[768];
    snprintf(key, sizeof key, "%s|%s|%s|%s|%s|%s", r->bench, r->impl, r->dtype, r->axes_text,
             r->device ? r->device : "?", r->gpus_text);
    size_t klen = strlen(key);
    char *kc = store_alloc(s, klen + 1);
    if (!kc)
        return tb_err_set(err, TB_USAGE, "%s: out of host memory at line %d", name, line);
    memcpy(kc, key, klen + 1);
    r->key = kc;

    cJSON *rounds = cJSON_GetObjectItemCaseSensitive(o, "rounds");
    if (rounds && !cJSON_IsNull(rounds)) {
        cJSON *kept = cJSON_CreateObject();
        if (!kept)
            return tb_err_set(err, TB_USAGE, "%s: out of host memory at line %d", name, line);
        cJSON_AddItemToObject(kept, "rounds", cJSON_DetachItemViaPointer(o, rounds));
        r->obj = kept;
    }
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

/* The reader's state between lines. */
typedef struct {
    tb_rfile *out;
    const char *name;
    FILE *warn;
    tb_err *err;
    int line;
    size_t cap_rows;
    int done; /* a truncated last line was skipped */
} reader;

static tb_status read_line(reader *rd, const char *s, size_t n, int has_newline)
{
    tb_rfile *out = rd->out;
    const char *name = rd->name;
    tb_err *err = rd->err;
    int line = ++rd->line;
    if (blank(s, n))
        return TB_OK;
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
        if (!has_newline && out->context) {
            /* the last line, unterminated: a run that was killed while writing it */
            out->truncated_line = line;
            if (rd->warn)
                fprintf(rd->warn,
                        "trainbench: warning: %s:%d: skipping a truncated last line (a run "
                        "that was stopped?)\n",
                        name, line);
            rd->done = 1;
            return TB_OK;
        }
        const char *at = nul ? nul : after ? after : stop;
        long col = at && at >= s && at <= s + n ? (long)(at - s) + 1 : 1;
        return tb_err_set(err, TB_USAGE, "%s:%d: %s (at column %ld)", name, line,
                          nul     ? "a NUL byte"
                          : after ? "text after the JSON object"
                          : o     ? "not a JSON object"
                                  : "not valid JSON",
                          col);
    }
    if (!out->context) {
        tb_status st = check_context(o, name, err);
        if (st) {
            cJSON_Delete(o);
            return st;
        }
        out->context = o;
        return TB_OK;
    }
    const char *type = tb_json_str(o, "type");
    if (!type || strcmp(type, "result") != 0) {
        cJSON_Delete(o); /* other record types of newer versions: ignored */
        return TB_OK;
    }
    tb_rrow *nr = tb_grow(out->rows, &rd->cap_rows, out->n + 1, sizeof *nr);
    if (!nr) {
        cJSON_Delete(o);
        return tb_err_set(err, TB_USAGE, "%s: out of host memory at line %d", name, line);
    }
    out->rows = nr;
    tb_status st = parse_result(o, line, name, tb_json_str(out->context, "host"), out->store,
                                &out->rows[out->n], err);
    cJSON_Delete(o);
    if (!st)
        out->n++;
    return st;
}

static tb_status reader_start(reader *rd, tb_rfile *out, const char *name, FILE *warn,
                              tb_err *err)
{
    memset(out, 0, sizeof *out);
    memset(rd, 0, sizeof *rd);
    snprintf(out->name, sizeof out->name, "%s", name);
    rd->out = out;
    rd->name = name;
    rd->warn = warn;
    rd->err = err;
    out->store = calloc(1, sizeof *out->store);
    if (!out->store)
        return tb_err_set(err, TB_USAGE, "%s: out of host memory", name);
    tb_keyindex_init(&out->store->strings);
    tb_keyindex_init(&out->store->axes);
    return TB_OK;
}

static tb_status reader_end(reader *rd, tb_status st)
{
    if (!st && !rd->out->context)
        st = tb_err_set(rd->err, TB_USAGE, "%s: empty (no context line)", rd->name);
    if (st)
        tb_results_free(rd->out);
    return st;
}

tb_status tb_results_parse(const char *text, size_t len, const char *name, tb_rfile *out,
                           FILE *warn, tb_err *err)
{
    reader rd;
    tb_status st = reader_start(&rd, out, name, warn, err);
    for (size_t pos = 0; pos < len && !st && !rd.done;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *s = text + pos;
        pos += n + (nl ? 1 : 0);
        st = read_line(&rd, s, n, nl != NULL);
    }
    return reader_end(&rd, st);
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
    reader rd;
    tb_status st = reader_start(&rd, out, path, warn, err);
    /* buf[0, len) holds text not yet read as lines; it grows only for a line longer than it */
    size_t cap = 1 << 16, len = 0;
    char *buf = st ? NULL : malloc(cap);
    int eof = 0;
    while (!st && buf && !rd.done && !eof) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        if (k == 0) {
            eof = 1;
            if (len > 0)
                st = read_line(&rd, buf, len, 0);
            break;
        }
        len += k;
        size_t pos = 0;
        const char *nl;
        while (!st && !rd.done && (nl = memchr(buf + pos, '\n', len - pos))) {
            size_t n = (size_t)(nl - (buf + pos));
            st = read_line(&rd, buf + pos, n, 1);
            pos += n + 1;
        }
        memmove(buf, buf + pos, len - pos);
        len -= pos;
    }
    int failed = !st && (!buf || ferror(f) || (!eof && !rd.done));
    fclose(f);
    free(buf);
    if (failed)
        st = tb_err_set(err, TB_USAGE, "cannot read '%s'", path);
    return reader_end(&rd, st);
}

void tb_results_free(tb_rfile *f)
{
    for (size_t i = 0; i < f->n; i++)
        cJSON_Delete((cJSON *)f->rows[i].obj);
    cJSON_Delete(f->context);
    store_free(f->store);
    free(f->rows);
    f->rows = NULL;
    f->context = NULL;
    f->store = NULL;
    f->n = 0;
}
