#include "fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[TB_FAULT_KIND_COUNT] = {
    [TB_FAULT_NONE] = "none",
    [TB_FAULT_ATTN_DROP_TILE] = "attn-drop-tile",
    [TB_FAULT_ATTN_STALE_V] = "attn-stale-v",
    [TB_FAULT_ATTN_SCALE] = "attn-scale",
    [TB_FAULT_MM_DROP_KSLICE] = "mm-drop-kslice",
    [TB_FAULT_AR_SKIP_PEER] = "ar-skip-peer",
    [TB_FAULT_LATE_CORRUPTION] = "late-corruption",
    [TB_FAULT_SLOW] = "slow",
    [TB_FAULT_SLOW_RANK] = "slow-rank",
    [TB_FAULT_SLOW_DEVICE] = "slow-device",
};

const char *tb_fault_name(tb_fault_kind kind)
{
    return kind >= 0 && kind < TB_FAULT_KIND_COUNT ? names[kind] : "?";
}

int tb_fault_is(const tb_fault *f, tb_fault_kind kind)
{
    return f && f->kind == kind;
}

static tb_status bad(const char *text, tb_fault *out, tb_err *err, const char *why)
{
    memset(out, 0, sizeof *out);
    return tb_err_set(err, TB_USAGE,
                      "%s: '%s' %s (use attn-drop-tile, attn-stale-v, attn-scale, "
                      "mm-drop-kslice, ar-skip-peer, late-corruption[:N] with N >= 0, "
                      "slow:PCT with PCT > 0, slow-rank:R, slow-device:N with R, N >= 0)",
                      TB_FAULT_ENV, text, why);
}

tb_status tb_fault_parse(const char *text, tb_fault *out, tb_err *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return TB_OK;
    const char *colon = strchr(text, ':');
    size_t name_len = colon ? (size_t)(colon - text) : strlen(text);
    tb_fault_kind kind = TB_FAULT_NONE;
    for (int k = 1; k < TB_FAULT_KIND_COUNT; k++)
        if (strlen(names[k]) == name_len && !strncmp(text, names[k], name_len))
            kind = (tb_fault_kind)k;
    if (kind == TB_FAULT_NONE)
        return bad(text, out, err, "is not a fault");
    out->kind = kind;
    if (kind == TB_FAULT_LATE_CORRUPTION) {
        out->late_after = TB_FAULT_LATE_DEFAULT;
        if (colon) {
            char *end;
            errno = 0;
            long n = strtol(colon + 1, &end, 10);
            if (end == colon + 1 || *end || errno || n < 0)
                return bad(text, out, err, "has a bad execution count");
            out->late_after = n;
        }
    } else if (kind == TB_FAULT_SLOW) {
        if (!colon)
            return bad(text, out, err, "needs a percentage");
        char *end;
        errno = 0;
        double pct = strtod(colon + 1, &end);
        if (end == colon + 1 || *end || errno || !(pct > 0) || pct > 1e6)
            return bad(text, out, err, "has a bad percentage");
        out->slow_pct = pct;
    } else if (kind == TB_FAULT_SLOW_RANK || kind == TB_FAULT_SLOW_DEVICE) {
        if (!colon)
            return bad(text, out, err, kind == TB_FAULT_SLOW_RANK ? "needs a rank"
                                                                  : "needs a device index");
        char *end;
        errno = 0;
        long n = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || errno || n < 0 || n > 1000000)
            return bad(text, out, err, kind == TB_FAULT_SLOW_RANK ? "has a bad rank"
                                                                  : "has a bad device index");
        out->target = (int)n;
        out->slow_pct = 100.0;
    } else if (colon) {
        return bad(text, out, err, "takes no argument");
    }
    return TB_OK;
}
