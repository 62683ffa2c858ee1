/* compare.h - a regression verdict per case between two result files (trainbench compare).
 *
 * Cases match by benchmark, implementation, dtype, every axis value, GPU model and GPUs (the
 * indices, so each GPU of a node is compared with itself). A change counts only when it exceeds
 * the threshold and the two runs' [q1, q3] intervals of time do not overlap. */
#ifndef TB_COMPARE_H
#define TB_COMPARE_H

#include <stdio.h>

#include "error.h"
#include "results.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TB_V_SAME,
    TB_V_FASTER,
    TB_V_SLOWER,
    TB_V_AMBIGUOUS,  /* beyond the threshold, but the [q1, q3] intervals overlap */
    TB_V_WRONG,      /* wrong in NEW: always a failure */
    TB_V_ERROR,      /* a device or library failure in NEW: a failure */
    TB_V_UNMEASURED, /* skipped, or not ok in BASE: nothing to compare */
    TB_V_COUNT
} tb_verdict;

const char *tb_verdict_name(tb_verdict v);

/* Whether a verdict makes compare exit 1. */
int tb_verdict_fails(tb_verdict v);

/* The verdict for one case. *change is the change of throughput, base median time / new
 * median time - 1 (positive: faster), or NAN when not measured in both; reason says why. */
tb_verdict tb_compare_judge(const tb_rrow *base, const tb_rrow *neu, double threshold,
                            double *change, char *reason, size_t reason_len);

typedef struct {
    char what[64];
    char base[128];
    char neu[128];
} tb_ctx_diff;

/* The context facts that differ (driver, CUDA, cuBLAS, NCCL, tool, GPUs and their clocks,
 * power limits and modes, run options); returns how many were written to out (at most max). */
int tb_compare_contexts(const cJSON *base, const cJSON *neu, tb_ctx_diff *out, int max);

typedef enum { TB_FMT_TEXT, TB_FMT_MD, TB_FMT_CSV, TB_FMT_JSON } tb_format;

/* Parses "text", "md", "csv", "json"; returns 0 or -1. */
int tb_format_parse(const char *s, tb_format *out);

/* Compares two loaded files and writes the table, the cases found in only one file and the
 * summary. *failed is set when any case is SLOWER, WRONG or ERROR. */
tb_status tb_compare_write(const tb_rfile *base, const tb_rfile *neu, double threshold,
                           tb_format fmt, FILE *out, int *failed, tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
