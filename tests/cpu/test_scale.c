/* The work of the result tools per row must not grow with the number of rows: a lookup that
 * scans (quadratic in all) would make a file of a 1,000-GPU run take hours. Counts the hash
 * probes (slots visited and keys compared) of the reader with report's tables, of compare
 * (both ways of matching rows), and of run's end-of-run tables, at 2,000 and 8,000 rows. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benches.h"
#include "compare.h"
#include "record.h"
#include "report.h"
#include "results.h"

/* Probes per row may differ between sizes by the hash table's fill (it doubles), not by the
 * size: a scan over the rows gives x4 from 2k to 8k. */
#define MAX_GROWTH 1.5
#define MAX_PER_ROW 64.0

/* A result file of n rows: 8 GPUs per host (named PREFIX-0, PREFIX-1, ...), cases spread over
 * benchmarks, dtypes and sizes; with distinct, every row a case of its own (the worst case for
 * tables keyed by case). */
static char *result_text_on(size_t n, int distinct, const char *prefix, size_t *len)
{
    static const char *const benches[] = {"membw", "matmul", "attention", "allreduce"};
    static const char *const dtypes[] = {"fp32", "bf16", "fp16"};
    static const char *const impls[] = {"copy", "wgmma", "vendor"};
    size_t cap = 512 + n * 400;
    char *t = malloc(cap);
    cr_assert_not_null(t);
    size_t at = (size_t)snprintf(t, cap,
                                 "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"host\":"
                                 "\"node-0\",\"driver\":\"570.1\",\"gpus\":[{\"index\":0,"
                                 "\"name\":\"NVIDIA H200\",\"l2_bytes\":52428800}]}\n");
    for (size_t i = 0; i < n; i++) {
        size_t c = distinct ? i : i % 250, gpu = (i / 250) % 8, host = i / 2000;
        at += (size_t)snprintf(
            t + at, cap - at,
            "{\"type\":\"result\",\"bench\":\"%s\",\"impl\":\"%s\",\"kind\":\"hand-written\","
            "\"dtype\":\"%s\",\"axes\":{\"bytes\":%zu,\"mode\":\"m%zu\"},\"gpus\":[%zu],"
            "\"device\":\"NVIDIA H200\",\"host\":\"%s-%zu\",\"status\":\"ok\","
            "\"time_s\":{\"median\":1e-3,\"q1\":0.9e-3,\"q3\":1.1e-3},\"gbps\":%zu,"
            "\"pct_peak\":50,\"bytes\":1048576}\n",
            benches[c % 4], impls[(c / 4) % 3], dtypes[(c / 12) % 3], 4096 + 64 * c, c % 5, gpu,
            prefix, host, 100 + i % 97);
        cr_assert_lt(at, cap);
    }
    *len = at;
    return t;
}

static char *result_text(size_t n, int distinct, size_t *len)
{
    return result_text_on(n, distinct, "node", len);
}

/* Probes per row of reading n rows and writing report's tables (markdown and CSV). */
static double reader_report_probes(size_t n, int distinct)
{
    size_t len;
    char *text = result_text(n, distinct, &len);
    tb_rfile f;
    tb_err err;
    cr_assert_eq(tb_results_parse(text, len, "scale.jsonl", &f, NULL, &err), TB_OK, "%s",
                 err.msg);
    free(text);
    cr_assert_eq(f.n, n);
    unsigned long long probes = tb_results_probes(&f);
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    cr_assert_eq(tb_report_write_counted(&f, 1, tb_headline_cols, tb_headline_ncols, TB_FMT_MD,
                                         sink, &probes, &err),
                 TB_OK, "%s", err.msg);
    cr_assert_eq(tb_report_write_counted(&f, 1, tb_headline_cols, tb_headline_ncols, TB_FMT_CSV,
                                         sink, &probes, &err),
                 TB_OK, "%s", err.msg);
    fclose(sink);
    tb_results_free(&f);
    return (double)probes / (double)n;
}

static void assert_flat(double small, double big, const char *what)
{
    cr_log_info("%s: %.2f probes per row at 2k rows, %.2f at 8k", what, small, big);
    cr_assert(small > 0 && big > 0, "%s: no probes counted (%.2f, %.2f)", what, small, big);
    cr_assert(big <= MAX_GROWTH * small && big <= MAX_PER_ROW,
              "%s: %.2f probes per row at 2k rows, %.2f at 8k: the work per row grows with the "
              "rows",
              what, small, big);
}

Test(scale, reader_and_report_probes_per_row_do_not_grow)
{
    assert_flat(reader_report_probes(2000, 0), reader_report_probes(8000, 0),
                "reader + report, 250 cases x GPUs x hosts");
}

Test(scale, reader_and_report_probes_per_row_do_not_grow_with_distinct_cases)
{
    assert_flat(reader_report_probes(2000, 1), reader_report_probes(8000, 1),
                "reader + report, every row a case");
}

/* ---- compare ---- */

/* Probes per row of compare over n rows a side: the same hosts on both sides (rows match by
 * host and GPU), or other hosts on NEW (by GPU alone: each case's hosts merged into one). */
static double compare_probes(size_t n, int distinct, int other_hosts)
{
    size_t len;
    tb_rfile f[2];
    tb_err err;
    for (int s = 0; s < 2; s++) {
        char *text = result_text_on(n, distinct, s && other_hosts ? "other" : "node", &len);
        cr_assert_eq(tb_results_parse(text, len, "scale.jsonl", &f[s], NULL, &err), TB_OK, "%s",
                     err.msg);
        free(text);
    }
    tb_cmp *c = tb_cmp_new();
    cr_assert_not_null(c);
    cr_assert_eq(tb_cmp_add(c, 0, &f[0], &err), TB_OK, "%s", err.msg);
    cr_assert_eq(tb_cmp_add(c, 1, &f[1], &err), TB_OK, "%s", err.msg);
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    int failed;
    cr_assert_eq(tb_cmp_write(c, &(tb_gate_opts)TB_GATE_OPTS_DEFAULT, TB_FMT_CSV, sink, &failed,
                              &err),
                 TB_OK, "%s", err.msg);
    fclose(sink);
    cr_assert_eq(tb_cmp_by_host(c), !other_hosts);
    double per_row = (double)tb_cmp_probes(c) / (double)n;
    tb_cmp_free(c);
    tb_results_free(&f[0]);
    tb_results_free(&f[1]);
    return per_row;
}

Test(scale, compare_probes_per_row_do_not_grow)
{
    assert_flat(compare_probes(2000, 0, 0), compare_probes(8000, 0, 0),
                "compare, by host and GPU");
    assert_flat(compare_probes(2000, 1, 0), compare_probes(8000, 1, 0),
                "compare, by host and GPU, every row a case");
}

Test(scale, compare_probes_per_row_do_not_grow_merging_hosts)
{
    assert_flat(compare_probes(2000, 0, 1), compare_probes(8000, 0, 1),
                "compare, by GPU alone across hosts");
    assert_flat(compare_probes(2000, 1, 1), compare_probes(8000, 1, 1),
                "compare, by GPU alone, every row a case");
}

/* ---- run's end-of-run tables ---- */

static const tb_axis axes[] = {
    {"bytes", TB_AXIS_SIZE, "1M", "1M", NULL, NULL, NULL, "size"},
};
static tb_status no_setup(const tb_case *c, const tb_env *e, void **s, tb_err *err)
{
    (void)c, (void)e, (void)s;
    return tb_err_set(err, TB_SKIP, "unused");
}
static tb_status no_run(void *s, tb_err *e)
{
    (void)s, (void)e;
    return TB_OK;
}
static void no_teardown(void *s)
{
    (void)s;
}
static const tb_impl impls[] = {
    {"fast", TB_KIND_HANDWRITTEN, "x", 80, 0, TB_DT(TB_FP32), "base", 0, no_setup, no_run,
     no_teardown, NULL},
    {"mid", TB_KIND_HANDWRITTEN, "x", 80, 0, TB_DT(TB_FP32), "base", 0, no_setup, no_run,
     no_teardown, NULL},
    {"base", TB_KIND_VENDOR, "y", 0, 0, TB_DT(TB_FP32), NULL, 0, no_setup, no_run, no_teardown,
     NULL},
};

static size_t end_rows; /* rows handed to the end-of-run tables of the benchmarks */
static void count_rows(const tb_result *const *results, size_t n, FILE *f)
{
    (void)results, (void)f;
    end_rows += n;
}

static tb_bench benches[3];
static tb_device devices[4];

/* Probes per result of run's three end-of-run tables over n results. */
static double run_table_probes(size_t n)
{
    for (int b = 0; b < 3; b++) {
        memset(&benches[b], 0, sizeof benches[b]);
        benches[b].name = b == 0 ? "alpha" : b == 1 ? "beta" : "gamma";
        benches[b].summary = "a bench";
        benches[b].axes = axes;
        benches[b].n_axes = 1;
        benches[b].impls = impls;
        benches[b].n_impls = 3;
        benches[b].end_tables = b == 2 ? count_rows : NULL;
    }
    for (int d = 0; d < 4; d++) {
        memset(&devices[d], 0, sizeof devices[d]);
        devices[d].ordinal = d;
        snprintf(devices[d].name, sizeof devices[d].name, "NVIDIA H200");
    }
    char jpath[512];
    snprintf(jpath, sizeof jpath, "%s/scale_%d.jsonl", TB_TEST_TMP, (int)getpid());
    cJSON *ctx = cJSON_CreateObject();
    tb_writer *w;
    tb_err err;
    cr_assert_eq(tb_writer_open(&w, jpath, NULL, NULL, ctx, &err), TB_OK, "%s", err.msg);
    cJSON_Delete(ctx);
    for (size_t i = 0; i < n; i++) {
        tb_result r;
        memset(&r, 0, sizeof r);
        r.c.bench = &benches[i % 3];
        r.c.impl = &impls[(i / 3) % 3];
        r.c.dtype = TB_FP32;
        r.c.axis[0] = (int64_t)(4096 + 64 * (i / 9 / 4));
        r.device = &devices[(i / 9) % 4];
        r.status = TB_OK;
        r.bytes = 2e6;
        r.gbps = 100.0 + (double)(i % 89);
        r.tflops = NAN;
        r.pct_peak = NAN;
        cr_assert_eq(tb_writer_add(w, &r, &err), TB_OK, "%s", err.msg);
    }
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    end_rows = 0;
    tb_writer_ladder(w, sink);
    tb_writer_summary(w, sink);
    tb_writer_bench_summaries(w, sink);
    fclose(sink);
    cr_assert_eq(end_rows, n / 3, "every gamma result reaches its end_tables");
    unsigned long long probes = tb_writer_probes(w);
    tb_writer_close(w);
    remove(jpath);
    return (double)probes / (double)n;
}

Test(scale, run_table_probes_per_result_do_not_grow)
{
    assert_flat(run_table_probes(2000 - 2000 % 3 + 3), run_table_probes(8000 - 8000 % 3 + 3),
                "end-of-run tables");
}
