/* compare.h - a regression verdict per case between two sets of result files (trainbench
 * compare BASE... -- NEW...).
 *
 * Cases match by benchmark, implementation, dtype, every axis value, GPU model and GPUs (the
 * indices, so each GPU of a node is compared with itself). Each side of a case is the pooled
 * per-round medians of all its ok rows in that side's files (a row without rounds is one
 * round). The verdict comes from those rounds: a two-sided Mann-Whitney U test and a seeded
 * bootstrap interval of the change of throughput (median BASE time / median NEW time - 1).
 * SLOWER or FASTER only when the interval lies wholly beyond the threshold and the test is
 * significant; SAME when the interval lies wholly within it; AMBIGUOUS otherwise, and always
 * when the sides have too few rounds for the test to reach significance.
 *
 * Duplicates: when a side holds a case more than once, the worst status counts (an error or a
 * wrong copy fails the case) and the rounds of every ok copy are pooled. A case BASE measured
 * ok that NEW lacks is MISSING, and fails; a wrong or failed row of NEW fails whether or not
 * BASE has the case.
 *
 * Memory is a compact record per case (strings, status, rounds) in a hash table, so compare is
 * linear in the rows; each file's parsed lines are freed once its rows are taken in. */
#ifndef TB_COMPARE_H
#define TB_COMPARE_H

#include <stdint.h>
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
    TB_V_AMBIGUOUS,  /* the interval straddles the threshold, the test is not significant, or
                      * there are too few rounds to decide */
    TB_V_WRONG,      /* wrong in NEW: always a failure */
    TB_V_ERROR,      /* a device or library failure in NEW: a failure */
    TB_V_MISSING,    /* measured ok in BASE, absent from NEW: a failure */
    TB_V_UNMEASURED, /* skipped, or not ok in BASE: nothing to compare */
    TB_V_COUNT
} tb_verdict;

const char *tb_verdict_name(tb_verdict v);

/* Whether a verdict makes compare exit 1. */
int tb_verdict_fails(tb_verdict v);

/* ---- the statistics ---- */

typedef struct {
    double u;   /* pairs (x, y) with x > y, ties counted 1/2 */
    double p;   /* two-sided p-value */
    int exact;  /* 1: the exact distribution (no ties, nx + ny <= TB_MWU_EXACT_MAX) */
} tb_mwu;

#define TB_MWU_EXACT_MAX 50

/* The Mann-Whitney U test of x against y (nx, ny >= 1): exact without ties up to
 * TB_MWU_EXACT_MAX values together, else the normal approximation with tie and continuity
 * corrections. */
tb_mwu tb_mwu_test(const double *x, size_t nx, const double *y, size_t ny);

/* The smallest two-sided p-value the test can give for these sizes, 2 / C(nx + ny, nx)
 * (capped at 1): when it is not under alpha no data can make the test significant. */
double tb_mwu_min_p(size_t nx, size_t ny);

/* Percentile bootstrap interval, at level (e.g. 0.95), of median(base) / median(neu) - 1:
 * each side resampled with replacement, resamples times, from a splitmix64 stream seeded by
 * seed (the same values and seed give the same interval, in whatever order the values come:
 * the draws index each side's values sorted). When both sides hold an odd number
 * of values, at most TB_EXACT_BOOT_MAX, the bootstrap distribution is computed exactly instead
 * (the limit of resampling; resamples and seed are then not used). Returns 0, or -1 when a
 * side is empty, a value is not positive or host memory runs out. */
#define TB_EXACT_BOOT_MAX 63
int tb_bootstrap_change(const double *base, size_t nb, const double *neu, size_t nn,
                        int resamples, double level, uint64_t seed, double *lo, double *hi);

typedef enum {
    TB_METHOD_ROUNDS,    /* the test and interval on round medians (the default) */
    TB_METHOD_QUARTILES, /* the former rule: beyond the threshold with the first ok rows'
                          * [q1, q3] of time apart (kept to measure the gate against) */
} tb_cmp_method;

typedef struct {
    double threshold; /* a fraction: 0.02 is 2 % */
    double alpha;     /* significance level of the test */
    double level;     /* confidence level of the interval */
    int resamples;
    uint64_t seed;
    tb_cmp_method method;
} tb_gate_opts;

#define TB_GATE_OPTS_DEFAULT {0.02, 0.05, 0.95, 2000, 1, TB_METHOD_ROUNDS}
/* compare's default threshold when every file is a host run (--host): whole host runs move
 * between runs (other jobs' memory traffic, scheduling) by more than rounds inside one run
 * sample: memory-bound host cases out of cache by up to ~40 % on the development machine, with
 * intervals reaching past 10 %; README, "What it resolves". */
#define TB_HOST_THRESHOLD 0.15

typedef struct {
    double change;  /* median BASE / median NEW - 1 (positive: faster); NAN when not computed */
    double lo, hi;  /* the interval of change; NAN when not computed */
    double p;       /* the test's p-value; NAN when not computed */
} tb_gate_figures;

/* The verdict on the round medians of one case's two sides (timing only: status is judged
 * before). seed_extra is mixed into the bootstrap seed (compare passes a hash of the case).
 * reason says why in a few words. */
tb_verdict tb_gate_verdict(const double *base, size_t nb, const double *neu, size_t nn,
                           const tb_gate_opts *o, uint64_t seed_extra, tb_gate_figures *fig,
                           char *reason, size_t reason_len);

/* The former rule on one row per side (median, q1, q3 of time). */
tb_verdict tb_gate_quartiles(double base_median, double base_q1, double base_q3,
                             double new_median, double new_q1, double new_q3, double threshold,
                             tb_gate_figures *fig, char *reason, size_t reason_len);

/* ---- contexts ---- */

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

/* ---- a comparison ---- */

typedef struct tb_cmp tb_cmp;

/* An empty comparison, or NULL when host memory runs out. */
tb_cmp *tb_cmp_new(void);

/* Takes in the rows of a loaded file on one side (0 BASE, 1 NEW); the file may be freed
 * afterwards. Returns TB_OK, or TB_USAGE naming the file and line of a malformed rounds field
 * or when host memory runs out (or when the table was written already). */
tb_status tb_cmp_add(tb_cmp *c, int side, const tb_rfile *f, tb_err *err);

/* Writes the table, the cases found on one side only and the summary. *failed is set when any
 * case is SLOWER, WRONG, ERROR or MISSING. First it settles how rows match, as DESIGN.md says:
 * by host and GPU when both sides' rows name the same set of hosts (a roll-out on the same
 * machines; the GPU column names the host too when BASE holds several, "node7/0"), by GPU
 * alone otherwise (node A against node B), each case's rows on several hosts pooled as one.
 * Rows are taken in keyed by host, so the files are read once. */
tb_status tb_cmp_write(tb_cmp *c, const tb_gate_opts *o, tb_format fmt, FILE *out, int *failed,
                       tb_err *err);

void tb_cmp_free(tb_cmp *c);

/* Hash probes made so far finding cases and settling how rows match: O(1) per row at any
 * size, which a test asserts. */
unsigned long long tb_cmp_probes(const tb_cmp *c);

/* How rows matched: 1 by host and GPU, 0 by GPU alone, -1 before tb_cmp_write. */
int tb_cmp_by_host(const tb_cmp *c);

/* One file a side with the default test at threshold: tb_cmp_add and tb_cmp_write. */
tb_status tb_compare_write(const tb_rfile *base, const tb_rfile *neu, double threshold,
                           tb_format fmt, FILE *out, int *failed, tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
