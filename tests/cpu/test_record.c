#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

static const tb_axis axes[] = {
    {"bytes", TB_AXIS_SIZE, "1M", "1M", NULL, NULL, NULL, "size"},
    {"mode", TB_AXIS_ENUM, "a,b", "a", NULL, NULL, (const char *const[]){"a", "b", NULL}, "m"},
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
    {"base", TB_KIND_VENDOR, "y", 0, 0, TB_DT(TB_FP32), NULL, 0, no_setup, no_run, no_teardown,
     NULL},
};
static const tb_bench bench = {"fake", "a fake bench", axes, 2, impls, 2, 0, NULL,
                               NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL,
                               NULL, NULL, NULL, NULL};

static tb_device dev;

static tb_result ok_result(void)
{
    memset(&dev, 0, sizeof dev);
    dev.ordinal = 3;
    snprintf(dev.name, sizeof dev.name, "NVIDIA H200");
    tb_result r;
    memset(&r, 0, sizeof r);
    r.c.bench = &bench;
    r.c.impl = &impls[0];
    r.c.dtype = TB_FP32;
    r.c.axis[0] = 1 << 20;
    r.c.axis[1] = 1;
    r.device = &dev;
    r.status = TB_OK;
    const double samples[] = {1e-3, 1.1e-3, 0.9e-3};
    tb_stats_compute(samples, 3, &r.stats);
    r.have_stats = 1;
    r.timing = "graph";
    r.batch = 100;
    r.stop = TB_STOP_CONVERGED;
    r.bytes = 2e6;
    r.gbps = 2.0;
    r.tflops = NAN;
    r.peak.kind = TB_PEAK_MEMORY;
    r.peak.unit = "GB/s";
    r.peak.derived = 4915.2;
    r.peak.datasheet = 4800;
    r.peak.usable = 1;
    r.pct_peak = 0.04;
    r.pct_vendor = 97.5;
    r.vendor_impl = "base";
    r.have_verify = 1;
    r.verify.ok = 1;
    r.verify.n_checked = 262144;
    return r;
}

static const char *const required_result_fields[] = {
    "type", "bench", "impl", "kind", "dtype", "axes", "gpus", "status", "reason", "samples",
    "time_s", "flops", "bytes", "tflops", "gbps", "busbw_gbps", "peak", "pct_peak",
    "pct_vendor", "verify", "clock_mhz", "power_w", "power_source", "energy_j", "temp_c",
    "throttle", "flops_convention", "alloc_bytes", NULL};

Test(record, result_json_has_every_field)
{
    tb_result r = ok_result();
    cJSON *o = tb_record_result_json(&r);
    for (int i = 0; required_result_fields[i]; i++)
        cr_assert(cJSON_HasObjectItem(o, required_result_fields[i]), "missing %s",
                  required_result_fields[i]);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "result");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "kind")->valuestring, "hand-written");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "ok");
    cJSON *ax = cJSON_GetObjectItem(o, "axes");
    cr_assert_float_eq(cJSON_GetObjectItem(ax, "bytes")->valuedouble, 1048576, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(ax, "mode")->valuestring, "b");
    cJSON *gpus = cJSON_GetObjectItem(o, "gpus");
    cr_assert_eq(cJSON_GetArraySize(gpus), 1);
    cr_assert_float_eq(cJSON_GetArrayItem(gpus, 0)->valuedouble, 3, 0);
    cJSON *t = cJSON_GetObjectItem(o, "time_s");
    const char *stat_fields[] = {"median", "min", "max", "mean", "stdev", "q1", "q3",
                                 "rel_stdev"};
    for (int i = 0; i < 8; i++)
        cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(t, stat_fields[i])), "%s", stat_fields[i]);
    cr_assert_float_eq(cJSON_GetObjectItem(t, "median")->valuedouble, 1e-3, 1e-15);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "tflops")), "NAN is written as null");
    cr_assert_float_eq(cJSON_GetObjectItem(o, "pct_vendor")->valuedouble, 97.5, 1e-12);
    cJSON *v = cJSON_GetObjectItem(o, "verify");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")));
    /* no telemetry: null, never 0 */
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "clock_mhz")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "power_w")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "energy_j")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "temp_c")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "throttle")));
    cJSON_Delete(o);
}

Test(record, skipped_result_has_reason_and_no_times)
{
    tb_result r = ok_result();
    r.status = TB_SKIP;
    r.have_stats = 0;
    r.have_verify = 0;
    snprintf(r.reason, sizeof r.reason, "needs compute capability 9.0");
    cJSON *o = tb_record_result_json(&r);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "skipped");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "reason")->valuestring,
                     "needs compute capability 9.0");
    cr_assert_float_eq(cJSON_GetObjectItem(o, "samples")->valuedouble, 0, 0);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "time_s")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "verify")));
    cJSON_Delete(o);
}

Test(record, case_text)
{
    tb_result r = ok_result();
    char b[64];
    tb_record_case_text(&r.c, b, sizeof b);
    cr_assert_str_eq(b, "bytes=1M mode=b");
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

Test(record, writer_writes_context_then_results_as_jsonl_and_csv)
{
    char jpath[512], cpath[512];
    snprintf(jpath, sizeof jpath, "%s/record_%d.jsonl", TB_TEST_TMP, (int)getpid());
    snprintf(cpath, sizeof cpath, "%s/record_%d.csv", TB_TEST_TMP, (int)getpid());
    cJSON *ctx = cJSON_CreateObject();
    cJSON_AddStringToObject(ctx, "type", "context");
    tb_writer *w;
    tb_err err;
    FILE *table = tmpfile();
    cr_assert_eq(tb_writer_open(&w, jpath, cpath, table, ctx, &err), TB_OK, "%s", err.msg);
    cr_assert_eq(count_lines(jpath), 1, "the context is flushed at open");
    tb_result r = ok_result();
    cr_assert_eq(tb_writer_add(w, &r, &err), TB_OK);
    cr_assert_eq(count_lines(jpath), 2, "each result is flushed as it is added");
    r.status = TB_WRONG;
    snprintf(r.reason, sizeof r.reason, "3 of 9 values outside tolerance");
    tb_writer_add(w, &r, &err);
    int ok, wrong, skipped, failed;
    tb_writer_counts(w, &ok, &wrong, &skipped, &failed);
    cr_assert_eq(ok, 1);
    cr_assert_eq(wrong, 1);
    tb_writer_close(w);
    cJSON_Delete(ctx);

    FILE *f = fopen(jpath, "r");
    char line[8192];
    int i = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        cr_assert_not_null(o, "line %d parses", i);
        cr_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring,
                         i == 0 ? "context" : "result");
        cJSON_Delete(o);
        i++;
    }
    fclose(f);
    cr_assert_eq(i, 3);
    cr_assert_eq(count_lines(cpath), 3, "header and two rows");

    rewind(table);
    char row[1024];
    cr_assert_not_null(fgets(row, sizeof row, table));
    cr_assert(strstr(row, "GB/s") && strstr(row, "%vendor"), "header: %s", row);
    cr_assert_not_null(fgets(row, sizeof row, table));
    cr_assert(strstr(row, "bytes=1M mode=b") && strstr(row, "97.5"), "row: %s", row);
    fclose(table);
    remove(jpath);
    remove(cpath);
}

Test(record, writer_names_a_path_it_cannot_create)
{
    tb_writer *w;
    tb_err err;
    cJSON *ctx = cJSON_CreateObject();
    tb_status st = tb_writer_open(&w, "/nonexistent-dir/x.jsonl", NULL, NULL, ctx, &err);
    cJSON_Delete(ctx);
    cr_assert_eq(st, TB_USAGE);
    cr_assert(strstr(err.msg, "/nonexistent-dir/x.jsonl"), "%s", err.msg);
}

Test(record, end_of_run_tables_put_impls_side_by_side_and_pick_the_best)
{
    char jpath[512];
    snprintf(jpath, sizeof jpath, "%s/ladder_%d.jsonl", TB_TEST_TMP, (int)getpid());
    cJSON *ctx = cJSON_CreateObject();
    tb_writer *w;
    tb_err err;
    cr_assert_eq(tb_writer_open(&w, jpath, NULL, NULL, ctx, &err), TB_OK, "%s", err.msg);
    cJSON_Delete(ctx);
    tb_result r = ok_result(); /* fast, bytes=1M mode=b, 2.0 GB/s */
    tb_writer_add(w, &r, &err);
    r.c.axis[0] = 1 << 30;
    r.gbps = 3.5;
    r.pct_peak = 0.07;
    tb_writer_add(w, &r, &err);
    r.c.impl = &impls[1];
    r.gbps = 3.0;
    tb_writer_add(w, &r, &err);
    r.status = TB_SKIP; /* not a figure */
    r.gbps = 99.0;
    tb_writer_add(w, &r, &err);
    FILE *f = tmpfile();
    tb_writer_ladder(w, f);
    tb_writer_summary(w, f);
    tb_writer_close(w);
    remove(jpath);
    rewind(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_assert(strstr(text, "fake fp32 GPU 3, GB/s (median):\ncase"), "%s", text);
    cr_assert(strstr(text, "bytes=1M mode=b        2.00           -\n"), "%s", text);
    cr_assert(strstr(text, "bytes=1G mode=b        3.50        3.00\n"), "%s", text);
    cr_assert(strstr(text, "3     fake      fast         fp32          3.50 GB/s        0.1  "
                           "bytes=1G mode=b\n"),
              "%s", text);
    cr_assert(strstr(text, "3     fake      base         fp32          3.00 GB/s        0.1  "
                           "bytes=1G mode=b\n"),
              "the skipped 99 GB/s is not a figure: %s", text);
}

/* FLOP rates under 1 TFLOP/s (the host's) are shown in GFLOP/s, not as 0.01; long cases keep
 * the columns aligned. */
Test(record, small_flop_rates_in_gflops_and_long_cases_aligned)
{
    char jpath[512];
    snprintf(jpath, sizeof jpath, "%s/gflops_%d.jsonl", TB_TEST_TMP, (int)getpid());
    cJSON *ctx = cJSON_CreateObject();
    tb_writer *w;
    tb_err err;
    FILE *table = tmpfile();
    cr_assert_eq(tb_writer_open(&w, jpath, NULL, table, ctx, &err), TB_OK, "%s", err.msg);
    cJSON_Delete(ctx);
    static const tb_axis long_axes[] = {
        {"a-very-long-axis-name", TB_AXIS_INT, "1", "1", NULL, NULL, NULL, "x"},
        {"another-long-axis-name", TB_AXIS_INT, "1", "1", NULL, NULL, NULL, "y"},
    };
    tb_bench lb = bench;
    lb.axes = long_axes;
    tb_result r = ok_result();
    r.c.bench = &lb;
    r.c.axis[0] = 123456;
    r.c.axis[1] = 7;
    tb_case planned = r.c;
    tb_writer_fit_cases(w, &planned, 1);
    r.flops = 1e9;
    r.tflops = 0.0123;
    r.gbps = NAN;
    tb_writer_add(w, &r, &err);
    r.c.impl = &impls[1];
    r.tflops = 0.0101;
    tb_writer_add(w, &r, &err);
    FILE *f = tmpfile();
    tb_writer_ladder(w, f);
    tb_writer_summary(w, f);
    tb_writer_close(w);
    remove(jpath);
    char text[4096];
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_assert(strstr(text, "fake fp32 GPU 3, GFLOP/s (median):\n"), "%s", text);
    cr_assert(strstr(text, "a-very-long-axis-name=123456 another-long-axis-name=7       12.30"
                           "       10.10\n"),
              "%s", text);
    cr_assert(strstr(text, "fast         fp32         12.30 GFLOP/s"), "%s", text);
    /* the row table: the header's columns line up with the rows' */
    char header[1024], row[1024];
    rewind(table);
    cr_assert_not_null(fgets(header, sizeof header, table));
    cr_assert_not_null(fgets(row, sizeof row, table));
    fclose(table);
    const char *h = strstr(header, "time(us)"), *t = strstr(row, "1000.00");
    cr_assert(h && t, "%s%s", header, row);
    cr_assert_eq((h - header) + (long)strlen("time(us)"), (t - row) + (long)strlen("1000.00"),
                 "time column misaligned:\n%s%s", header, row);
    cr_assert(strstr(row, " 0.01230 "), "TFLOP/s in fixed notation: %s", row);
}
