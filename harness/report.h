/* report.h - cross-machine tables and plot data from result files (trainbench report).
 *
 * Machines are told apart by GPU model, GPU count and driver (the host by its CPU). Rows are
 * cases, columns machines; a cell is the best figure any run and any GPU of that machine
 * reached for the case, with its % of peak. Knows nothing about any one benchmark: the
 * headline's columns are a table the caller passes. */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <stdio.h>

#include "compare.h"
#include "error.h"
#include "results.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One column of the headline table: the best (or lowest, or mean) of one field over the
 * results that match. NULL filters match anything. */
typedef struct {
    const char *title;
    const char *bench;
    const char *dtype;
    const char *kind;       /* "hand-written", "vendor", "host" */
    const char *impl;
    const char *axes;       /* "m=8192 n=8192 k=8192": every named axis must have that value */
    const char *field;      /* gbps, tflops, busbw_gbps, time_us, power_w or gflop_per_j */
    int lowest;             /* the smallest value wins (latency) */
    int mean;               /* the mean over every matching result */
    double min_l2_multiple; /* leave out results counting fewer bytes than this many L2s */
} tb_headline_col;

/* Writes the headline table (one row per machine) and one table per benchmark and dtype, as
 * markdown (TB_FMT_MD or TB_FMT_TEXT) or as one CSV row per case and machine (TB_FMT_CSV).
 * Files with no results are allowed. Returns TB_OK or TB_USAGE (an unsupported format). */
tb_status tb_report_write(const tb_rfile *files, size_t nfiles, const tb_headline_col *cols,
                          int ncols, tb_format fmt, FILE *out, tb_err *err);

/* tb_report_write, adding to *probes (when not NULL) the hash probes its tables cost: O(1)
 * per row at any number of rows (keyindex.h). */
tb_status tb_report_write_counted(const tb_rfile *files, size_t nfiles,
                                  const tb_headline_col *cols, int ncols, tb_format fmt,
                                  FILE *out, unsigned long long *probes, tb_err *err);

/* Writes, per benchmark and dtype, DIR/<bench>-<dtype>.csv (one block per series: machine,
 * implementation and the other axes; columns x,y) and DIR/<bench>-<dtype>.gp, a gnuplot script
 * that draws DIR/<bench>-<dtype>.png when run in DIR. The x axis is the first numeric axis
 * that varies. Lists the scripts written on list (if not NULL). Returns TB_USAGE when DIR
 * cannot be written. */
tb_status tb_report_plots(const tb_rfile *files, size_t nfiles, const char *dir, FILE *list,
                          tb_err *err);

/* The machine a file was measured on: "1x NVIDIA H200, driver 570.86.15". */
void tb_report_machine(const cJSON *context, char *buf, size_t buflen);

/* A job's rows more than this % slower than their case's median across its ranks. */
#define TB_OUTLIER_PCT 5.0

/* The slowest GPUs and hosts of a job of several ranks: every ok row whose figure (the
 * inverse of its median time) is more than pct % below the median of its case (bench, impl,
 * dtype, axes) across the rows of every rank, slowest first within a case, then the hosts
 * holding such rows with their counts. Sorted, O(N log N) in the rows; returns the number
 * of such rows. */
size_t tb_report_outliers(const tb_rfile *f, double pct, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
