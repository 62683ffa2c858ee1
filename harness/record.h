/* record.h - one case's result and the writers that carry it: the human table on stdout,
 * JSON Lines (flushed as each case finishes) and CSV. */
#ifndef TB_RECORD_H
#define TB_RECORD_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "bench.h"
#include "device.h"
#include "error.h"
#include "nvml.h"
#include "specs.h"
#include "stats.h"
#include "timer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_SCHEMA "trainbench/1"

typedef struct tb_result {
    tb_case c;
    const tb_device *device;  /* the device; a collective case's first device */
    const tb_device *group;   /* a collective case's devices (gpus), or NULL */
    int n_group;
    tb_collective coll;       /* a collective case's ranks and bus factor (ranks 0: none) */
    double busbw_gbps;        /* algorithm bandwidth (gbps) x bus factor; NAN when none */
    tb_status status;     /* TB_OK, TB_WRONG, TB_SKIP or TB_DEVFAIL */
    char reason[1024];    /* why, for anything but TB_OK */
    int have_stats;
    tb_stats stats;       /* seconds per execution; over the round medians with rounds > 1 */
    int rounds;               /* rounds measured (0: one, not recorded as rounds) */
    const double *round_median; /* rounds values: each round's median, in round order */
    size_t round_samples;     /* samples of every round together */
    const char *timing;   /* "batch", "graph", "chunked", "cold" or "host" (sampler.h) */
    long batch;           /* executions per sample */
    tb_stop_reason stop;
    double flops, bytes;  /* counted work of one execution */
    double tflops, gbps;  /* from the median; NAN when the bench counts no such work */
    double alloc_bytes;   /* memory the implementation allocates; NAN when not reported */
    tb_peak peak;
    double pct_peak;      /* NAN when no usable peak */
    double pct_vendor;    /* NAN when there is no baseline result */
    const char *vendor_impl;
    int have_verify;
    tb_verify verify;         /* before timing */
    int have_verify_after;
    tb_verify verify_after;   /* one more run after the timed loop, inputs refilled */
    tb_telemetry tel;     /* zeroed: no telemetry (the fields are null) */
    int have_iters;
    tb_iter_stats iters;  /* a collective case's per-iteration statistics */
} tb_result;

/* The JSON object of one result line ({"type":"result", ...}); caller deletes it. */
cJSON *tb_record_result_json(const tb_result *r);

/* "bytes=1M" style text of a case's axes. */
void tb_record_case_text(const tb_case *c, char *buf, size_t buflen);

/* The table on stdout, its case column case_width characters wide. */
void tb_record_table_header(FILE *f, int case_width);
void tb_record_table_row(FILE *f, const tb_result *r, int case_width);
void tb_record_csv_header(FILE *f);
void tb_record_csv_row(FILE *f, const tb_result *r);

typedef struct tb_writer tb_writer;

/* Opens the outputs before anything is measured: the JSONL file (its first line, the context,
 * written now), the CSV file when csv_path is not NULL, and the table stream (may be NULL).
 * Every path is opened before any is emptied: a file the user named is truncated only once
 * all opened; a default path (tb_writer_open_new) is created new, never over an existing file: when
 * the name is taken, "-2", "-3", ... go before its extension, and the name taken is written
 * back to jsonl_path. Returns TB_USAGE naming the path when a file cannot be created, or when
 * two outputs (or stdout, when it is a file) are the same file; on TB_USAGE nothing this call
 * created is left and nothing it did not create is removed or changed. TB_DEVFAIL when the
 * first lines cannot be written (then *w is set: close it). */
tb_status tb_writer_open(tb_writer **w, const char *jsonl_path, const char *csv_path,
                         FILE *table, const cJSON *context, tb_err *err);
tb_status tb_writer_open_new(tb_writer **w, char *jsonl_path, size_t jsonl_len,
                             const char *csv_path, FILE *table, const cJSON *context, tb_err *err);

/* Rows name their rank and host ("rank", "host"; "gpu_uuid" on a GPU); gpu_index >= 0 names
 * a one-GPU row's GPU by its index on its host in place of this process's CUDA index (a
 * process that sees one GPU calls it 0). */
void tb_writer_set_origin(tb_writer *w, int rank, const char *host, int gpu_index);

/* A writer with no files: each result line (n bytes, no newline) goes to sink (a rank
 * sending its rows to rank 0); a row counts when the sink returns TB_OK. */
typedef tb_status (*tb_writer_sink)(void *ctx, const char *line, size_t n, tb_err *err);
tb_status tb_writer_open_sink(tb_writer **w, tb_writer_sink sink, void *ctx, tb_err *err);

/* Appends a result line another rank made to the JSONL file (and its counts); thread-safe.
 * TB_DEVFAIL when the line is no result or cannot be written. */
tb_status tb_writer_add_line(tb_writer *w, const char *line, tb_err *err);

/* Stops every later write of this writer (one under way completes first) and returns: for a
 * process about to be ended, so that its file ends on a whole line. */
void tb_writer_quiesce(tb_writer *w);

/* Widens the table's case column to fit the text of every case (before the first result). */
void tb_writer_fit_cases(tb_writer *w, const tb_case *cases, size_t n);

/* The result file's path (the name taken, for a default path). */
const char *tb_writer_path(const tb_writer *w);

/* Writes one result to the JSONL file, then the CSV, then the table, flushing each; safe to
 * call from several threads. Returns TB_DEVFAIL naming the output when a write fails (disk
 * full, stdout closed); a result is counted only when its JSONL line was written whole. */
tb_status tb_writer_add(tb_writer *w, const tb_result *r, tb_err *err);

/* Counts of the results written to the JSONL file, by status. */
void tb_writer_counts(tb_writer *w, int *ok, int *wrong, int *skipped, int *failed);

/* Prints, per device, benchmark and dtype with more than one implementation, a table of the
 * figures: rows the cases, columns the implementations (the ladder at a glance). */
void tb_writer_ladder(tb_writer *w, FILE *f);

/* Prints the best figure each implementation reached on each device (the size where it
 * reached it and its % of peak), one row per device, bench, implementation and dtype. */
void tb_writer_summary(tb_writer *w, FILE *f);

/* Hands every benchmark that has an end-of-run summary (tb_bench.end_tables) all its results
 * of the run, in the order they were written, to write its tables to f. */
void tb_writer_bench_summaries(tb_writer *w, FILE *f);

/* The hash probes the three end-of-run tables above have cost so far: O(1) per result at any
 * number of results (keyindex.h), which tests assert. */
unsigned long long tb_writer_probes(tb_writer *w);

/* Writes "interrupted by NAME: N ok, ... failed; results: PATH" to fd. Async-signal-safe:
 * for a signal handler, while other threads may be writing. */
void tb_writer_signal_summary(tb_writer *w, int fd, const char *signal_name);

/* Closes the files; TB_DEVFAIL naming the file when the close reports a write error. The
 * end-of-run tables can still be printed after it. */
tb_status tb_writer_finish(tb_writer *w, tb_err *err);

/* Closes what is still open and frees the writer. */
void tb_writer_close(tb_writer *w);

#ifdef __cplusplus
}
#endif
#endif
