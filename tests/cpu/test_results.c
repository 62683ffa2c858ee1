#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "results.h"

#define CTX "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"gpus\":[]}\n"
#define ROW(impl, extra)                                                                       \
    "{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"" impl "\",\"dtype\":\"fp32\","      \
    "\"axes\":{\"bytes\":1048576},\"gpus\":[0],\"device\":\"NVIDIA H200\",\"status\":\"ok\"" \
    extra "}\n"

static tb_status parse(const char *text, tb_rfile *f, tb_err *err, FILE *warn)
{
    return tb_results_parse(text, strlen(text), "r.jsonl", f, warn, err);
}

Test(results, reads_a_result_and_its_fields)
{
    const char *text = CTX ROW("copy", ",\"time_s\":{\"median\":2e-6,\"q1\":1.9e-6,\"q3\":2.1e-6},"
                                       "\"gbps\":1048.6,\"pct_peak\":21.3,\"kind\":\"hand-written\"");
    tb_rfile f;
    tb_err err;
    cr_assert_eq(parse(text, &f, &err, NULL), TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1);
    const tb_rrow *r = &f.rows[0];
    cr_assert_str_eq(r->bench, "membw");
    cr_assert_str_eq(r->impl, "copy");
    cr_assert_str_eq(r->kind, "hand-written");
    cr_assert_eq(r->line, 2);
    cr_assert_str_eq(r->axes_text, "bytes=1048576");
    cr_assert_str_eq(r->axes_label, "bytes=1M");
    cr_assert_str_eq(r->gpus_text, "0");
    cr_assert_eq(r->gpu_count, 1);
    cr_assert(r->have_time);
    cr_assert_float_eq(r->median, 2e-6, 1e-18);
    cr_assert_float_eq(r->pct_peak, 21.3, 1e-12);
    cr_assert_str_eq(r->key, "membw|copy|fp32|bytes=1048576|NVIDIA H200|0");
    const char *unit;
    cr_assert_float_eq(tb_rrow_figure(r, &unit), 1048.6, 1e-9);
    cr_assert_str_eq(unit, "GB/s");
    tb_results_free(&f);
}

Test(results, unknown_fields_and_types_are_ignored_missing_ones_are_null)
{
    const char *text = CTX "{\"type\":\"summary\",\"whatever\":1}\n" ROW("copy", ",\"future\":[1,2]");
    tb_rfile f;
    tb_err err;
    cr_assert_eq(parse(text, &f, &err, NULL), TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.rows[0].line, 3);
    cr_assert_not(f.rows[0].have_time);
    cr_assert(isnan(f.rows[0].gbps));
    cr_assert(isnan(tb_rrow_figure(&f.rows[0], NULL)));
    cr_assert_null(f.rows[0].kind);
    tb_results_free(&f);
}

Test(results, tflops_wins_over_bandwidth)
{
    const char *text = CTX ROW("mma", ",\"tflops\":700.5,\"gbps\":12,\"busbw_gbps\":null");
    tb_rfile f;
    tb_err err;
    cr_assert_eq(parse(text, &f, &err, NULL), TB_OK);
    const char *unit;
    cr_assert_float_eq(tb_rrow_figure(&f.rows[0], &unit), 700.5, 1e-9);
    cr_assert_str_eq(unit, "TFLOP/s");
    tb_results_free(&f);
}

Test(results, newer_minor_schema_is_read)
{
    tb_rfile f;
    tb_err err;
    cr_assert_eq(parse("{\"type\":\"context\",\"schema\":\"trainbench/1.4\"}\n", &f, &err, NULL),
                 TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 0);
    tb_results_free(&f);
}

static void expect_error(const char *text, const char *needle)
{
    tb_rfile f;
    tb_err err = {{0}};
    cr_assert_eq(parse(text, &f, &err, NULL), TB_USAGE, "should fail: %s", text);
    cr_assert(strstr(err.msg, needle), "'%s' not in: %s", needle, err.msg);
    cr_assert_eq(f.n, 0);
    cr_assert_null(f.context);
}

Test(results, other_schema_major_is_refused)
{
    expect_error("{\"type\":\"context\",\"schema\":\"trainbench/2\"}\n",
                 "r.jsonl:1: schema 'trainbench/2' is not supported (this trainbench reads "
                 "trainbench/1 files)");
}

Test(results, malformed_inputs_name_file_line_and_problem)
{
    expect_error("", "r.jsonl: empty");
    expect_error("{\"type\":\"result\"}\n", "r.jsonl:1: not a trainbench result file");
    expect_error("{\"type\":\"context\"}\n", "r.jsonl:1: the context has no 'schema'");
    expect_error("{\"type\":\"context\",\"schema\":\"trainbench/x\"}\n", "is not trainbench/N");
    expect_error(CTX "{\"type\":\"result\", oops}\n" ROW("copy", ""),
                 "r.jsonl:2: not valid JSON (at column 20)");
    expect_error(CTX "[1,2]\n", "r.jsonl:2: not a JSON object");
    expect_error(CTX "{\"type\":\"result\",\"impl\":\"x\",\"dtype\":\"fp32\",\"status\":\"ok\","
                     "\"axes\":{}}\n",
                 "r.jsonl:2: result has no 'bench' string");
    expect_error(CTX "{\"type\":\"result\",\"bench\":\"b\",\"impl\":\"x\",\"dtype\":\"fp32\","
                     "\"status\":\"ok\",\"axes\":3}\n",
                 "r.jsonl:2: result has no 'axes' object");
}

Test(results, truncated_last_line_is_skipped_with_a_warning)
{
    const char *text = CTX ROW("copy", "") "{\"type\":\"result\",\"bench\":\"mem";
    tb_rfile f;
    tb_err err;
    FILE *warn = tmpfile();
    cr_assert_eq(parse(text, &f, &err, warn), TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.truncated_line, 3);
    rewind(warn);
    char msg[512] = "";
    cr_assert_not_null(fgets(msg, sizeof msg, warn));
    cr_assert(strstr(msg, "r.jsonl:3: skipping a truncated last line"), "%s", msg);
    fclose(warn);
    tb_results_free(&f);
}

Test(results, an_unterminated_but_complete_last_line_is_read)
{
    const char *text = CTX "{\"type\":\"result\",\"bench\":\"b\",\"impl\":\"x\",\"dtype\":\"fp32\","
                           "\"status\":\"ok\",\"axes\":{}}";
    tb_rfile f;
    tb_err err;
    cr_assert_eq(parse(text, &f, &err, NULL), TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.truncated_line, 0);
    cr_assert_str_eq(f.rows[0].gpus_text, "host");
    tb_results_free(&f);
}

Test(results, load_names_a_missing_file)
{
    tb_rfile f;
    tb_err err;
    cr_assert_eq(tb_results_load("/nonexistent/r.jsonl", &f, NULL, &err), TB_USAGE);
    cr_assert(strstr(err.msg, "cannot read '/nonexistent/r.jsonl'"), "%s", err.msg);
}

Test(results, gpu_indices_out_of_range_are_ignored)
{
    /* found by the fuzzer: a huge index was cast to int */
    const char *text = CTX "{\"type\":\"result\",\"bench\":\"b\",\"impl\":\"x\",\"dtype\":\"fp32\","
                           "\"status\":\"ok\",\"axes\":{},\"gpus\":[8.8e74,-1,2]}\n";
    tb_rfile f;
    tb_err err;
    cr_assert_eq(parse(text, &f, &err, NULL), TB_OK, "%s", err.msg);
    cr_assert_str_eq(f.rows[0].gpus_text, "2");
    cr_assert_eq(f.rows[0].gpu_count, 1);
    tb_results_free(&f);
}

/* Anything but white space after the object, a second object, or a NUL inside the line: an
 * error naming the line and the column where it starts. */
Test(results, garbage_second_objects_and_nul_are_errors)
{
    expect_error(CTX ROW("copy", "") "{\"type\":\"result\"} trailing\n",
                 "r.jsonl:3: text after the JSON object (at column 19)");
    expect_error(CTX "{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"copy\",\"dtype\":\"fp32\","
                     "\"axes\":{},\"status\":\"ok\"}x\n",
                 "r.jsonl:2: text after the JSON object (at column 87)");
    expect_error(CTX "{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"copy\",\"dtype\":\"fp32\","
                     "\"axes\":{},\"status\":\"ok\"} {\"type\":\"result\"}\n",
                 "r.jsonl:2: text after the JSON object (at column 88)");
    expect_error("{\"type\":\"context\",\"schema\":\"trainbench/1\"}{}\n",
                 "r.jsonl:1: text after the JSON object (at column 43)");
    /* a NUL inside a string: the line is refused, not read up to the NUL */
    static const char nul[] = CTX "{\"type\":\"result\",\"bench\":\"mem\0bw\",\"impl\":\"copy\","
                                  "\"dtype\":\"fp32\",\"axes\":{},\"status\":\"ok\"}\n";
    tb_rfile f;
    tb_err err = {{0}};
    cr_assert_eq(tb_results_parse(nul, sizeof nul - 1, "r.jsonl", &f, NULL, &err), TB_USAGE);
    cr_assert(strstr(err.msg, "r.jsonl:2: a NUL byte (at column 30)"), "%s", err.msg);
    /* white space after the object is fine */
    cr_assert_eq(parse(CTX ROW("copy", "") "  \t\r\n", &f, &err, NULL), TB_OK, "%s", err.msg);
    tb_results_free(&f);
    char crlf[2048];
    snprintf(crlf, sizeof crlf, "%s", CTX ROW("copy", ""));
    crlf[strlen(crlf) - 1] = '\0';
    strcat(crlf, " \r\n");
    cr_assert_eq(parse(crlf, &f, &err, NULL), TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1);
    tb_results_free(&f);
}

/* Rows keep compact records: equal strings and equal axes are one copy in the file's store,
 * the row's host falls back to the context's, and only "rounds" of the line is kept. */
Test(results, records_share_strings_and_axes_and_keep_rounds)
{
    const char *text = "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"host\":\"node-7\"}\n" ROW(
        "copy", ",\"rounds\":{\"median_s\":[1e-3,2e-3]}") ROW("copy", ",\"host\":\"node-9\"")
        ROW("scale", "");
    tb_rfile f;
    tb_err err;
    cr_assert_eq(parse(text, &f, &err, NULL), TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 3);
    cr_assert_str_eq(f.rows[0].host, "node-7", "the context's host");
    cr_assert_str_eq(f.rows[1].host, "node-9", "the row's own host");
    cr_assert_eq(f.rows[0].impl, f.rows[1].impl, "one copy of an equal string");
    cr_assert_str_eq(f.rows[0].key, f.rows[1].key);
    cr_assert_eq(f.rows[0].axes, f.rows[2].axes, "equal axes: one tree");
    cr_assert_eq(cJSON_GetObjectItem(f.rows[0].axes, "bytes")->valuedouble, 1048576.0);
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(f.rows[0].obj, "rounds"), "median_s");
    cr_assert_eq(cJSON_GetArraySize(m), 2);
    cr_assert_float_eq(cJSON_GetArrayItem(m, 1)->valuedouble, 2e-3, 1e-15);
    cr_assert_null(f.rows[1].obj, "no rounds: nothing kept");
    cr_assert_null(cJSON_GetObjectItem(f.rows[0].obj, "gpus"), "only rounds is kept");
    cr_assert(tb_results_store_bytes(&f) > 0);
    tb_results_free(&f);
}

/* Loading reads a line at a time: a line longer than the read buffer, the line of a NUL and a
 * truncated last line come out as they do from text in memory. */
Test(results, load_reads_long_lines_and_truncated_ends_like_parse)
{
    char path[512];
    snprintf(path, sizeof path, "%s/results_load_%d.jsonl", TB_TEST_TMP, (int)getpid());
    FILE *out = fopen(path, "wb");
    cr_assert_not_null(out);
    fputs(CTX, out);
    fputs("{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"copy\",\"dtype\":\"fp32\","
          "\"axes\":{\"bytes\":8},\"status\":\"ok\",\"note\":\"",
          out);
    for (int i = 0; i < 200000; i++)
        fputc('x', out);
    fputs("\"}\n", out);
    for (int i = 0; i < 3000; i++)
        fputs(ROW("copy", ""), out);
    fputs("{\"type\":\"result\",\"bench\":\"mem", out);
    fclose(out);
    tb_rfile f;
    tb_err err;
    FILE *warn = tmpfile();
    cr_assert_eq(tb_results_load(path, &f, warn, &err), TB_OK, "%s", err.msg);
    cr_assert_eq(f.n, 3001);
    cr_assert_eq(f.rows[0].line, 2);
    cr_assert_eq(f.rows[3000].line, 3002);
    cr_assert_str_eq(f.rows[0].axes_text, "bytes=8");
    cr_assert_eq(f.truncated_line, 3003);
    fclose(warn);
    tb_results_free(&f);
    /* a NUL in a line of the file: the same error as from memory */
    out = fopen(path, "wb");
    cr_assert_not_null(out);
    fputs(CTX, out);
    fwrite("{\"type\":\"result\",\"bench\":\"mem\0bw\"}\n", 1, 36, out);
    fclose(out);
    cr_assert_eq(tb_results_load(path, &f, NULL, &err), TB_USAGE);
    cr_assert(strstr(err.msg, ":2: a NUL byte (at column 30)"), "%s", err.msg);
    cr_assert_null(f.context);
    remove(path);
}
