#include "bench.h"

#include "grow.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dtype_names[TB_DTYPE_COUNT] = {"fp32", "tf32", "bf16", "fp16", "fp8"};

const char *tb_dtype_name(tb_dtype d)
{
    return (unsigned)d < TB_DTYPE_COUNT ? dtype_names[d] : "?";
}

int tb_dtype_parse(const char *text, tb_dtype *out)
{
    for (int i = 0; i < TB_DTYPE_COUNT; i++) {
        if (strcmp(text, dtype_names[i]) == 0) {
            *out = (tb_dtype)i;
            return 0;
        }
    }
    if (strcmp(text, "fp8e4m3") == 0) {
        *out = TB_FP8E4M3;
        return 0;
    }
    return -1;
}

const char *tb_impl_kind_name(tb_impl_kind k)
{
    switch (k) {
    case TB_KIND_HANDWRITTEN: return "hand-written";
    case TB_KIND_VENDOR: return "vendor";
    case TB_KIND_HOST: return "host";
    }
    return "?";
}

tb_status tb_points_add(tb_points *p, const int64_t *axis, int n_axes, tb_err *err)
{
    if (p->n >= 1000000)
        return tb_err_set(err, TB_USAGE, "more than 1000000 cases");
    int64_t(*nv)[TB_MAX_AXES] = tb_grow(p->v, &p->cap, p->n + 1, sizeof *nv);
    if (!nv)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    p->v = nv;
    memset(p->v[p->n], 0, sizeof p->v[p->n]);
    memcpy(p->v[p->n], axis, (size_t)n_axes * sizeof *axis);
    p->n++;
    return TB_OK;
}

void tb_points_free(tb_points *p)
{
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

const tb_impl *tb_bench_impl(const tb_bench *b, const char *name)
{
    for (int i = 0; i < b->n_impls; i++)
        if (strcmp(b->impls[i].name, name) == 0)
            return &b->impls[i];
    return NULL;
}

tb_status tb_axis_parse(const tb_axis *ax, const char *spec, tb_sweep *out, tb_err *err)
{
    char what[80];
    snprintf(what, sizeof what, "--%s", ax->name);
    if (ax->type != TB_AXIS_ENUM)
        return tb_sweep_parse(spec, what, ax->type == TB_AXIS_SIZE, out, err);
    out->values = NULL;
    out->count = 0;
    size_t nch = 0;
    char accepted[256] = "";
    for (; ax->choices[nch]; nch++)
        snprintf(accepted + strlen(accepted), sizeof accepted - strlen(accepted), "%s%s",
                 nch ? ", " : "", ax->choices[nch]);
    out->values = calloc(nch * 4 + 1, sizeof *out->values);
    if (!out->values)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    for (const char *p = spec; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        size_t k = 0;
        while (k < nch && !(strlen(ax->choices[k]) == len && !strncmp(ax->choices[k], p, len)))
            k++;
        if (k == nch || out->count >= nch * 4) {
            tb_sweep_free(out);
            return tb_err_set(err, TB_USAGE, "%s: '%.*s' is not one of %s", what, (int)len, p,
                              accepted);
        }
        out->values[out->count++] = (int64_t)k;
        p = c ? c + 1 : NULL;
    }
    if (out->count == 0) {
        tb_sweep_free(out);
        return tb_err_set(err, TB_USAGE, "%s: empty value", what);
    }
    return TB_OK;
}

void tb_appendf(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (k > 0)
        *used = *used + (size_t)k < len ? *used + (size_t)k : len;
}

void tb_verify_add_measure(tb_verify *v, const char *name, const char *unit, double worst,
                           double bound, int64_t n_units, int64_t n_failed)
{
    tb_verify_measure *m = NULL;
    for (int i = 0; i < v->n_measures && !m; i++)
        if (!strcmp(v->measures[i].name, name))
            m = &v->measures[i];
    if (!m) {
        if (v->n_measures >= TB_VERIFY_MAX_MEASURES)
            return;
        m = &v->measures[v->n_measures++];
    }
    m->name = name;
    m->unit = unit;
    m->worst = worst;
    m->bound = bound;
    m->n_units = n_units;
    m->n_failed = n_failed;
    if (n_failed > 0)
        v->ok = 0;
}

const tb_verify_measure *tb_verify_measure_find(const tb_verify *v, const char *name)
{
    for (int i = 0; i < v->n_measures; i++)
        if (!strcmp(v->measures[i].name, name))
            return &v->measures[i];
    return NULL;
}

void tb_verify_describe(const tb_verify *v, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (v->n_wrong > 0 || v->n_measures == 0)
        tb_appendf(buf, len, &used, "%lld of %lld values outside tolerance %.3g (max abs err %.3g)",
                   (long long)v->n_wrong, (long long)v->n_checked, v->tolerance, v->max_abs_err);
    for (int i = 0; i < v->n_measures; i++) {
        const tb_verify_measure *m = &v->measures[i];
        if (m->n_failed <= 0)
            continue;
        size_t ul = strlen(m->unit);
        int ix = ul > 0 && m->unit[ul - 1] == 'x'; /* matrix -> matrices */
        tb_appendf(buf, len, &used, "%s%s: %lld of %lld %.*s%s over %.3g (worst %.3g)",
                   used ? "; " : "", m->name, (long long)m->n_failed, (long long)m->n_units,
                   (int)(ix ? ul - 1 : ul), m->unit, ix ? "ces" : "s", m->bound, m->worst);
    }
}
