#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "cli_helper.h"
#include "compare.h"

static tb_rrow row(const char *status, double median, double q1, double q3)
{
    tb_rrow r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.median = median;
    r.q1 = q1;
    r.q3 = q3;
    r.have_time = median > 0;
    r.reason = "why";
    return r;
}

static tb_verdict judge(tb_rrow b, tb_rrow n, double *change)
{
    char reason[256];
    return tb_compare_judge(&b, &n, 0.02, change, reason, sizeof reason);
}

Test(compare, verdicts)
{
    double ch;
    /* 1 % faster: inside the threshold */
    cr_assert_eq(judge(row("ok", 1.01, 1.0, 1.02), row("ok", 1.0, 0.99, 1.01), &ch), TB_V_SAME);
    cr_assert_float_eq(ch, 0.01, 1e-12);
    /* 10 % faster, intervals apart */
    cr_assert_eq(judge(row("ok", 1.1, 1.09, 1.11), row("ok", 1.0, 0.99, 1.01), &ch), TB_V_FASTER);
    cr_assert_float_eq(ch, 0.1, 1e-12);
    /* 10 % slower (throughput 1/1.1), intervals apart */
    cr_assert_eq(judge(row("ok", 1.0, 0.99, 1.01), row("ok", 1.1, 1.09, 1.11), &ch), TB_V_SLOWER);
    cr_assert_float_eq(ch, 1.0 / 1.1 - 1.0, 1e-12);
    /* 10 % slower but the [q1, q3] overlap: noise could explain it */
    cr_assert_eq(judge(row("ok", 1.0, 0.9, 1.2), row("ok", 1.1, 1.0, 1.3), &ch),
                 TB_V_AMBIGUOUS);
    /* wrong or failed in NEW: failures whatever the times */
    cr_assert_eq(judge(row("ok", 1.0, 0.9, 1.1), row("wrong", 0.5, 0.5, 0.5), &ch), TB_V_WRONG);
    cr_assert(isnan(ch));
    cr_assert_eq(judge(row("ok", 1.0, 0.9, 1.1), row("error", 0, 0, 0), &ch), TB_V_ERROR);
    /* nothing to compare */
    cr_assert_eq(judge(row("skipped", 0, 0, 0), row("ok", 1.0, 1.0, 1.0), &ch), TB_V_UNMEASURED);
    cr_assert_eq(judge(row("ok", 1.0, 1.0, 1.0), row("skipped", 0, 0, 0), &ch), TB_V_UNMEASURED);
    cr_assert_eq(judge(row("wrong", 1.0, 1.0, 1.0), row("ok", 1.0, 1.0, 1.0), &ch),
                 TB_V_UNMEASURED);
}

Test(compare, which_verdicts_fail)
{
    cr_assert(tb_verdict_fails(TB_V_SLOWER));
    cr_assert(tb_verdict_fails(TB_V_WRONG));
    cr_assert(tb_verdict_fails(TB_V_ERROR));
    cr_assert_not(tb_verdict_fails(TB_V_SAME));
    cr_assert_not(tb_verdict_fails(TB_V_FASTER));
    cr_assert_not(tb_verdict_fails(TB_V_AMBIGUOUS));
    cr_assert_not(tb_verdict_fails(TB_V_UNMEASURED));
}

Test(compare, context_differences)
{
    cJSON *a = cJSON_Parse("{\"driver\":\"570.86\",\"cublas\":\"13.1.0\",\"gpus\":[{\"name\":"
                           "\"NVIDIA H200\",\"power_limit_w\":700}],\"options\":{\"cold\":false}}");
    cJSON *b = cJSON_Parse("{\"driver\":\"575.51\",\"cublas\":\"13.1.0\",\"gpus\":[{\"name\":"
                           "\"NVIDIA H200\",\"power_limit_w\":600}],\"options\":{\"cold\":true}}");
    tb_ctx_diff d[16];
    int n = tb_compare_contexts(a, b, d, 16);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(d[0].what, "driver");
    cr_assert_str_eq(d[0].base, "570.86");
    cr_assert_str_eq(d[0].neu, "575.51");
    cr_assert_str_eq(d[1].what, "GPU 0 power_limit_w");
    cr_assert_str_eq(d[1].neu, "600");
    cr_assert_str_eq(d[2].what, "option cold");
    cr_assert_eq(tb_compare_contexts(a, a, d, 16), 0);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* ---- end to end: one run --host, then an altered copy ---- */

static char base_path[512], new_path[512];

/* Rewrites the run's file as BASE and NEW. In both, the host-copy 4M case gets tight
 * [q1, q3] = median (host timings are noisy; the verdict logic is what is tested); in NEW its
 * times are 1.5x, host-add 1M is wrong, host-add 4M is missing and the driver differs. */
static void make_files(void)
{
    char run_path[512];
    tmp_path(run_path, sizeof run_path, "cmp_run.jsonl");
    tmp_path(base_path, sizeof base_path, "cmp_base.jsonl");
    tmp_path(new_path, sizeof new_path, "cmp_new.jsonl");
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--impl", "host-copy,host-add",
                            "--bytes", "1M,4M", "--min-time", "0.02", "--timeout", "0.5", "-q",
                            "-o", run_path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    for (int pass = 0; pass < 2; pass++) {
        FILE *in = fopen(run_path, "r"), *out = fopen(pass ? new_path : base_path, "w");
        static char line[1 << 16];
        int n = 0;
        while (fgets(line, sizeof line, in)) {
            cJSON *o = cJSON_Parse(line);
            if (n++ == 0) {
                if (pass)
                    cJSON_ReplaceItemInObject(o, "driver", cJSON_CreateString("999.1"));
            } else {
                const char *impl = cJSON_GetObjectItem(o, "impl")->valuestring;
                double bytes =
                    cJSON_GetObjectItem(cJSON_GetObjectItem(o, "axes"), "bytes")->valuedouble;
                if (!strcmp(impl, "host-copy") && bytes == 4194304) {
                    cJSON *t = cJSON_GetObjectItem(o, "time_s");
                    double med = cJSON_GetObjectItem(t, "median")->valuedouble * (pass ? 1.5 : 1);
                    const char *k[] = {"median", "min", "max", "mean", "q1", "q3"};
                    for (int i = 0; i < 6; i++)
                        cJSON_SetNumberValue(cJSON_GetObjectItem(t, k[i]), med);
                } else if (pass && !strcmp(impl, "host-add") && bytes == 1048576) {
                    cJSON_ReplaceItemInObject(o, "status", cJSON_CreateString("wrong"));
                    cJSON_ReplaceItemInObject(o, "reason",
                                              cJSON_CreateString("7 of 262144 wrong"));
                } else if (pass && !strcmp(impl, "host-add") && bytes == 4194304) {
                    cJSON_Delete(o);
                    continue;
                }
            }
            char *s = cJSON_PrintUnformatted(o);
            fprintf(out, "%s\n", s);
            free(s);
            cJSON_Delete(o);
        }
        fclose(in);
        fclose(out);
    }
    remove(run_path);
}

Test(compare, altered_run_gives_slower_wrong_missing_and_the_driver, .init = make_files)
{
    cli_result *r = run_cli(NULL, "compare", base_path, new_path, NULL);
    cr_assert_eq(r->code, 1, "SLOWER and WRONG fail: %s %s", r->out, r->err);
    cr_assert(strstr(r->out, "differs: driver: null -> 999.1"), "%s", r->out);
    cr_assert(strstr(r->out, "-33.3 %"), "%s", r->out);
    cr_assert(strstr(r->out, "SLOWER"), "%s", r->out);
    cr_assert(strstr(r->out, "wrong in NEW: 7 of 262144 wrong"), "%s", r->out);
    cr_assert(strstr(r->out, "only in BASE: 1\n  membw host-add fp32 bytes=4M gpu host"), "%s",
              r->out);
    cr_assert(strstr(r->out, "only in NEW: 0"), "%s", r->out);
    cr_assert(strstr(r->out, "summary: 1 SAME, 0 FASTER, 1 SLOWER, 0 AMBIGUOUS, 1 WRONG, 0 "
                             "ERROR, 0 UNMEASURED; geomean change: membw -18.35 %"),
              "%s", r->out);
    cr_assert(strstr(r->out, "verdict: FAIL"), "%s", r->out);

    r = run_cli(NULL, "compare", base_path, new_path, "--format", "json", NULL);
    cr_assert_eq(r->code, 1);
    cJSON *o = cJSON_Parse(r->out);
    cr_assert_not_null(o, "%s", r->out);
    cJSON *sum = cJSON_GetObjectItem(o, "summary");
    cr_assert_float_eq(cJSON_GetObjectItem(sum, "SLOWER")->valuedouble, 1, 0);
    cr_assert_float_eq(cJSON_GetObjectItem(sum, "WRONG")->valuedouble, 1, 0);
    cr_assert_float_eq(cJSON_GetObjectItem(sum, "SAME")->valuedouble, 1, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(sum, "failed")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "only_in_base")), 1);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "cases")), 3);
    cJSON_Delete(o);

    r = run_cli(NULL, "compare", base_path, new_path, "--format", "csv", NULL);
    int lines = 0;
    for (const char *p = r->out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 5, "header, 3 cases, 1 only in BASE: %s", r->out);
    cr_assert(strstr(r->out, "ONLY_IN_BASE"), "%s", r->out);

    /* a threshold above the slowdown turns it into SAME; WRONG still fails */
    r = run_cli(NULL, "compare", base_path, new_path, "--threshold", "50", NULL);
    cr_assert_eq(r->code, 1);
    cr_assert(strstr(r->out, "2 SAME, 0 FASTER, 0 SLOWER"), "%s", r->out);
}

Test(compare, a_file_against_itself_passes, .init = make_files)
{
    cli_result *r = run_cli(NULL, "compare", base_path, base_path, "--format", "md", NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "contexts: same driver"), "%s", r->out);
    cr_assert(strstr(r->out, "| membw host-copy fp32 bytes=1M | host |"), "%s", r->out);
    cr_assert(strstr(r->out, "4 SAME, 0 FASTER"), "%s", r->out);
    cr_assert(strstr(r->out, "verdict: PASS"), "%s", r->out);
}

Test(compare, bad_input_exits_2)
{
    cli_result *r = run_cli(NULL, "compare", "only-one.jsonl", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "two result files"), "%s", r->err);
    r = run_cli(NULL, "compare", "/nonexistent/a.jsonl", "/nonexistent/b.jsonl", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "/nonexistent/a.jsonl"), "%s", r->err);
    r = run_cli(NULL, "compare", "a", "b", "--threshold", "x", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'x'"), "%s", r->err);
    r = run_cli(NULL, "compare", "a", "b", "--format", "xml", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'xml'"), "%s", r->err);

    char path[512];
    tmp_path(path, sizeof path, "schema2.jsonl");
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"type\":\"context\",\"schema\":\"trainbench/2\"}\n");
    fclose(f);
    r = run_cli(NULL, "compare", path, path, NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "schema 'trainbench/2' is not supported"), "%s", r->err);
    remove(path);
}
