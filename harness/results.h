/* results.h - reads result files (JSON Lines, schema trainbench/1) back, for compare and
 * report. Files from older and newer versions of the tool are read: unknown fields and line
 * types are ignored, missing optional fields are null; a different schema major version is
 * refused. A truncated last line (a killed run) is skipped with a warning; any other malformed
 * line is an error naming the file, the line and what is wrong. */
#ifndef TB_RESULTS_H
#define TB_RESULTS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_SCHEMA_MAJOR 1

/* One result line, kept as a compact record: the fields tables and compare need, with every
 * string interned in the file's store (rows of the same case on many GPUs share one copy), and
 * no parsed tree of the whole line. Optional strings are NULL and optional numbers NAN when
 * absent or null. Every pointer is owned by the file and lives until tb_results_free. */
typedef struct {
    const cJSON *obj;         /* the row's "rounds" (the only field kept beyond those below),
                                 as an object {"rounds": ...}; NULL when the row has none */
    int line;                 /* 1-based */
    const char *bench, *impl, *dtype, *status;
    const char *kind, *reason, *device;
    const char *host;         /* the row's "host", else the context's; NULL when neither */
    int rank;                 /* the row's MPI rank ("rank"); -1 when absent */
    const cJSON *axes;        /* the axes object, shared by the rows with equal axes */
    const char *axes_text;    /* "bytes=1048576", in the file's order: for matching */
    const char *axes_label;   /* "bytes=1M": for people (multiples of 1M get a suffix) */
    const char *gpus_text;    /* "0", "0,1,2,3", or "host" ("host:R" for rank R > 0 of a
                                 job of several ranks: each rank is a host device) */
    int gpu_count;
    int have_time;
    double median, q1, q3;    /* seconds per execution */
    double bytes, gbps, tflops, busbw_gbps, pct_peak, power_w;
    double iter_p99, iter_cv; /* a collective's per-iteration statistics ("iters") */
    int straggler;            /* the rank slowest most often; -1 when not known */
    const char *key;          /* bench|impl|dtype|axes|device|gpus: what compare matches */
} tb_rrow;

typedef struct tb_rstore tb_rstore; /* the strings and shared trees of one file */

typedef struct {
    char name[512];
    cJSON *context;           /* the first line */
    tb_rrow *rows;
    size_t n;
    int truncated_line;       /* the line number of a skipped truncated last line, or 0 */
    tb_rstore *store;
} tb_rfile;

/* Memory a file's records hold beyond the rows array, in bytes (strings, shared axes, kept
 * rounds, the intern index): what a caller can weigh against the rows it holds. */
size_t tb_results_store_bytes(const tb_rfile *f);

/* Hash probes the reader made interning the file's strings and axes (see keyindex.h). */
unsigned long long tb_results_probes(const tb_rfile *f);

/* Parses the text of a result file; name is used in messages. Returns TB_OK or TB_USAGE with
 * "NAME:LINE: what is wrong". A warning (truncated last line) is written to warn if not NULL. */
tb_status tb_results_parse(const char *text, size_t len, const char *name, tb_rfile *out,
                           FILE *warn, tb_err *err);

/* Reads and parses a file, a line at a time (memory holds the records, not the file's text);
 * TB_USAGE names the path when it cannot be read. */
tb_status tb_results_load(const char *path, tb_rfile *out, FILE *warn, tb_err *err);

void tb_results_free(tb_rfile *f);

/* The figure a row is judged by: TFLOP/s, else bus bandwidth, else GB/s; NAN when none.
 * *unit (if not NULL) is set to "TFLOP/s", "busbw GB/s" or "GB/s". */
double tb_rrow_figure(const tb_rrow *r, const char **unit);

/* Writes s as one CSV field: in double quotes, inner quotes doubled. */
void tb_csv_quote(FILE *f, const char *s);

/* A string field of an object, or NULL. */
const char *tb_json_str(const cJSON *o, const char *key);
/* A number field of an object, or NAN. */
double tb_json_num(const cJSON *o, const char *key);

#ifdef __cplusplus
}
#endif
#endif
