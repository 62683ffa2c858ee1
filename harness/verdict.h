/* verdict.h - node acceptance: turns measured figures and health facts into a verdict per GPU
 * and per link (PASS, WARN, FAIL, SKIP), each with a reason code, the figure measured, the one
 * expected and where that expectation came from, and a node verdict over them all.
 *
 * A figure is held to, in order: a baseline (a known-good node's figure x the pass fraction),
 * else the built-in table (a datasheet figure x a stated factor); and always to the node's
 * own median over its devices (more than outlier_warn below: WARN, more than outlier_fail
 * below: FAIL). The verdict of a figure is the worse of the two. Pure logic: no device, no I/O
 * but the writers at the end. */
#ifndef TB_VERDICT_H
#define TB_VERDICT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "health.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TB_VERDICT_PASS = 0, TB_VERDICT_SKIP, TB_VERDICT_WARN, TB_VERDICT_FAIL } tb_level;

/* "PASS", "WARN", "FAIL", "SKIP". */
const char *tb_level_name(tb_level l);

#define TB_VERDICT_DEVICE_NODE (-1)

typedef struct {
    int device;            /* the GPU (or host pseudo-device); TB_VERDICT_DEVICE_NODE: node */
    int peer;              /* a link's other end, else -1 */
    char what[32];         /* the figure or fact: "hbm", "gemm", "p2p_ce_uni", "ecc" */
    tb_level level;
    char reason[32];       /* "OK", "HBM_LOW", "GEMM_OUTLIER", ... */
    double measured, expected; /* expected: the threshold the figure was held to; NAN: none */
    char unit[16];
    char source[160];      /* where the threshold came from */
    char detail[200];      /* more words for an operator, or "" */
} tb_node_verdict;

typedef struct {
    tb_node_verdict *v;
    size_t n, cap;
} tb_node_verdicts;

/* Appends a verdict (copies); returns it, or NULL when out of memory. */
tb_node_verdict *tb_verdicts_add(tb_node_verdicts *vs, const tb_node_verdict *v);
void tb_verdicts_free(tb_node_verdicts *vs);

typedef struct {
    double pass_frac;     /* of a baseline figure: 0.90 */
    double outlier_warn;  /* below the node median by more than this: WARN (0.05) */
    double outlier_fail;  /* ... FAIL (0.10) */
} tb_verdict_rules;

/* The rules for GPUs, and the wider ones for host pseudo-devices (a shared CPU is noisier). */
extern const tb_verdict_rules tb_verdict_gpu_rules;
extern const tb_verdict_rules tb_verdict_host_rules;

/* One figure measured on each of n devices (or links): higher is better. */
typedef struct {
    const char *what;          /* "hbm" */
    const char *unit;          /* "GB/s" */
    const char *low_code;      /* below the absolute threshold: "HBM_LOW" */
    const char *outlier_code;  /* below the node median: "HBM_OUTLIER" */
    int n;
    const int *device;         /* device per entry */
    const int *peer;           /* NULL, or a link's other end per entry */
    const double *measured;    /* NAN: not measured (then SKIP with skip_why[i]) */
    const char *const *skip_why; /* NULL or per entry */
    const double *expected;    /* absolute threshold per entry (already x factor); NAN: none */
    const char *const *source; /* where each absolute threshold came from */
} tb_metric;

/* Judges a figure on every device: one verdict per entry, appended to out. Within-node needs
 * at least two measured entries (with one, only the absolute threshold applies and the detail
 * says so). Returns 0, or -1 when out of memory. */
int tb_verdict_metric(tb_node_verdicts *out, const tb_metric *m, const tb_verdict_rules *rules);

/* Judges a device's health facts (unknown facts give no verdict; health not read at all
 * gives one SKIP): ECC_UNCORRECTABLE, ECC_DISABLED, ROW_REMAP_PENDING, ROW_REMAP_FAILED,
 * RETIRED_PAGES_PENDING, PCIE_DOWNGRADED, THROTTLE_THERMAL, THROTTLE_POWER. */
int tb_verdict_health(tb_node_verdicts *out, int device, const tb_health *h);

/* The node's verdict: the worst level over vs (SKIP counts as PASS); *n_fail and *n_warn
 * (if not NULL) the counts. */
tb_level tb_verdict_node(const tb_node_verdicts *vs, int *n_fail, int *n_warn);

/* The JSON line of a verdict: {"type":"verdict", "scope":"gpu"|"link"|"node", ...}. */
cJSON *tb_verdict_json(const tb_node_verdict *v);

/* The verdict table: per device, then per link, then node-wide rows; the worst first within
 * each. */
void tb_verdict_table(FILE *f, const tb_node_verdicts *vs, const char *device_word);

/* Parses a percentage for --pass ("90" -> 0.90); 0 or -1 when not in (0, 100]. */
int tb_verdict_parse_pct(const char *text, double *frac);

#ifdef __cplusplus
}
#endif
#endif
