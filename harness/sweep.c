#include "sweep.h"

#include "grow.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE_HINT "use 8, 4K, 1M, 2G, or a sweep such as 8:8G:x2, 1K:64K:+1K, 4096,8192"
#define INT_HINT "use 8, 128, or a sweep such as 1:64:x2, 16:128:+16, 64,128"

static const char *hint(int allow_suffix)
{
    return allow_suffix ? SIZE_HINT : INT_HINT;
}

tb_status tb_sweep_parse_value(const char *text, const char *what, int allow_suffix,
                               int64_t *out, tb_err *err)
{
    const char *p = text;
    if (*p == '\0')
        return tb_err_set(err, TB_USAGE, "%s: empty value (%s)", what, hint(allow_suffix));
    if (*p == '-')
        return tb_err_set(err, TB_USAGE, "%s: '%s' is negative (values are at least 1; %s)", what,
                          text, hint(allow_suffix));
    if (!isdigit((unsigned char)*p))
        return tb_err_set(err, TB_USAGE, "%s: '%s' is not %s (%s)", what, text,
                          allow_suffix ? "a size" : "an integer", hint(allow_suffix));
    uint64_t v = 0;
    int overflow = 0;
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > ((uint64_t)TB_SWEEP_MAX_VALUE - d) / 10)
            overflow = 1;
        else
            v = v * 10 + d;
    }
    int shift = 0;
    if (*p != '\0' && allow_suffix) {
        switch (toupper((unsigned char)*p)) {
        case 'K': shift = 10; p++; break;
        case 'M': shift = 20; p++; break;
        case 'G': shift = 30; p++; break;
        case 'T': shift = 40; p++; break;
        default: break;
        }
    }
    if (*p != '\0')
        return tb_err_set(err, TB_USAGE, "%s: '%s' is not %s (%s)", what, text,
                          allow_suffix ? "a size" : "an integer", hint(allow_suffix));
    if (!overflow && shift && v > ((uint64_t)TB_SWEEP_MAX_VALUE >> shift))
        overflow = 1;
    if (overflow)
        return tb_err_set(err, TB_USAGE, "%s: '%s' is too large (the largest accepted is 2^62)",
                          what, text);
    v <<= shift;
    if (v == 0)
        return tb_err_set(err, TB_USAGE, "%s: '%s' is zero (values are at least 1; %s)", what,
                          text, hint(allow_suffix));
    *out = (int64_t)v;
    return TB_OK;
}

static tb_status push(tb_sweep *s, size_t *cap, int64_t v, const char *what, const char *spec,
                      tb_err *err)
{
    if (s->count >= TB_SWEEP_MAX_POINTS)
        return tb_err_set(err, TB_USAGE, "%s: '%s' has more than %d points", what, spec,
                          TB_SWEEP_MAX_POINTS);
    int64_t *nv = tb_grow(s->values, cap, s->count + 1, sizeof *nv);
    if (!nv)
        return tb_err_set(err, TB_USAGE, "%s: out of host memory", what);
    s->values = nv;
    s->values[s->count++] = v;
    return TB_OK;
}

/* One list item: a single value or start:end:step. */
static tb_status parse_item(const char *item, const char *what, int allow_suffix, tb_sweep *s,
                            size_t *cap, tb_err *err)
{
    const char *c1 = strchr(item, ':');
    if (!c1) {
        int64_t v;
        tb_status st = tb_sweep_parse_value(item, what, allow_suffix, &v, err);
        return st ? st : push(s, cap, v, what, item, err);
    }
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || strchr(c2 + 1, ':'))
        return tb_err_set(err, TB_USAGE,
                          "%s: '%s' is not a range (write start:end:xFACTOR or start:end:+STEP; %s)",
                          what, item, hint(allow_suffix));
    char a[64], b[64];
    size_t la = (size_t)(c1 - item), lb = (size_t)(c2 - c1 - 1);
    if (la >= sizeof a || lb >= sizeof b)
        return tb_err_set(err, TB_USAGE, "%s: '%s' is not a range (%s)", what, item,
                          hint(allow_suffix));
    memcpy(a, item, la);
    a[la] = '\0';
    memcpy(b, c1 + 1, lb);
    b[lb] = '\0';
    const char *step = c2 + 1;
    int64_t start, end, inc;
    tb_status st = tb_sweep_parse_value(a, what, allow_suffix, &start, err);
    if (st)
        return st;
    if ((st = tb_sweep_parse_value(b, what, allow_suffix, &end, err)))
        return st;
    if (start > end)
        return tb_err_set(err, TB_USAGE, "%s: '%s' starts above its end (%s > %s)", what, item, a,
                          b);
    if (step[0] == 'x' || step[0] == 'X' || step[0] == '*') {
        tb_err inner;
        if (tb_sweep_parse_value(step + 1, what, 0, &inc, &inner) || inc < 2)
            return tb_err_set(err, TB_USAGE,
                              "%s: '%s' has factor '%s' (a geometric factor is an integer >= 2, "
                              "e.g. x2)",
                              what, item, step + 1);
        for (int64_t v = start;; v *= inc) {
            if ((st = push(s, cap, v, what, item, err)))
                return st;
            if (v > end / inc)
                break;
        }
        return TB_OK;
    }
    if (step[0] == '+') {
        tb_err inner;
        if (tb_sweep_parse_value(step + 1, what, allow_suffix, &inc, &inner))
            return tb_err_set(err, TB_USAGE,
                              "%s: '%s' has step '%s' (an arithmetic step is an integer >= 1, "
                              "e.g. +1K)",
                              what, item, step + 1);
        for (int64_t v = start;; v += inc) {
            if ((st = push(s, cap, v, what, item, err)))
                return st;
            if (v > end - inc)
                break;
        }
        return TB_OK;
    }
    return tb_err_set(err, TB_USAGE,
                      "%s: '%s' has step '%s' (write xFACTOR for geometric or +STEP for arithmetic)",
                      what, item, step);
}

tb_status tb_sweep_parse(const char *spec, const char *what, int allow_suffix, tb_sweep *out,
                         tb_err *err)
{
    out->values = NULL;
    out->count = 0;
    if (!spec || spec[0] == '\0')
        return tb_err_set(err, TB_USAGE, "%s: empty value (%s)", what, hint(allow_suffix));
    size_t cap = 0;
    const char *p = spec;
    tb_status st = TB_OK;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (len == 0) {
            st = tb_err_set(err, TB_USAGE, "%s: '%s' has an empty item (%s)", what, spec,
                            hint(allow_suffix));
            break;
        }
        if (len >= sizeof item) {
            st = tb_err_set(err, TB_USAGE, "%s: '%.*s' is too long to be a value", what,
                            (int)len, p);
            break;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if ((st = parse_item(item, what, allow_suffix, out, &cap, err)))
            break;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (st)
        tb_sweep_free(out);
    return st;
}

void tb_sweep_free(tb_sweep *s)
{
    free(s->values);
    s->values = NULL;
    s->count = 0;
}

char *tb_sweep_format_size(int64_t v, char *buf, size_t buflen)
{
    static const char suffix[] = "KMGT";
    int i = -1;
    while (i < 3 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        i++;
    }
    if (i < 0)
        snprintf(buf, buflen, "%lld", (long long)v);
    else
        snprintf(buf, buflen, "%lld%c", (long long)v, suffix[i]);
    return buf;
}
