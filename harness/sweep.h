/* sweep.h - the values of one axis, parsed from the command line.
 *
 * Syntax (as nccl-tests and nvbench users write it):
 *   4096,8192      a list
 *   8:8G:x2        geometric: start, end (inclusive), integer factor >= 2
 *   1K:64K:+1K     arithmetic: start, end (inclusive), step >= 1
 * Items of a list may themselves be ranges. Sizes take binary suffixes K, M, G, T
 * (case-insensitive: 1K = 1024). Every value is an integer in [1, 2^62]. */
#ifndef TB_SWEEP_H
#define TB_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_SWEEP_MAX_POINTS 100000
#define TB_SWEEP_MAX_VALUE ((int64_t)1 << 62)

typedef struct {
    int64_t *values;
    size_t count;
} tb_sweep;

/* Parses one value. `what` names the option in messages ("--bytes"). With allow_suffix 0,
 * K/M/G/T are rejected. Returns TB_OK or TB_USAGE with a message naming the bad text. */
tb_status tb_sweep_parse_value(const char *text, const char *what, int allow_suffix,
                               int64_t *out, tb_err *err);

/* Parses a whole sweep into out (caller frees with tb_sweep_free). Returns TB_OK or TB_USAGE;
 * on failure out is left empty. */
tb_status tb_sweep_parse(const char *spec, const char *what, int allow_suffix, tb_sweep *out,
                         tb_err *err);

void tb_sweep_free(tb_sweep *s);

/* Writes v the way a person reads a size: the largest binary suffix that divides it exactly
 * ("4K", "1M", "1536"). Returns buf. */
char *tb_sweep_format_size(int64_t v, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
