/* report on known inputs. The files are written by the tests themselves: synthetic figures on
 * made-up contexts, never a measurement. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "cli_helper.h"

static const char *const h200_ctx =
    "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"driver\":\"570.1\",\"gpus\":[{\"index\":0,"
    "\"name\":\"NVIDIA H200\",\"l2_bytes\":52428800}]}";
static const char *const a100_ctx =
    "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"driver\":\"570.1\",\"gpus\":[{\"index\":0,"
    "\"name\":\"NVIDIA A100-SXM4-80GB\",\"l2_bytes\":41943040},{\"index\":1,\"name\":\"NVIDIA "
    "A100-SXM4-80GB\",\"l2_bytes\":41943040}]}";

static void result(FILE *f, const char *impl, const char *kind, long long bytes, int gpu,
                   const char *device, double gbps, double pct, const char *power)
{
    fprintf(f,
            "{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"%s\",\"kind\":\"%s\","
            "\"dtype\":\"fp32\",\"axes\":{\"bytes\":%lld},\"gpus\":[%d],\"device\":\"%s\","
            "\"status\":\"ok\",\"time_s\":{\"median\":1e-3,\"q1\":1e-3,\"q3\":1e-3},"
            "\"bytes\":%lld,\"gbps\":%g,\"pct_peak\":%g,\"power_w\":%s}\n",
            impl, kind, bytes, gpu, device, 2 * bytes, gbps, pct, power);
}

static char h200a[512], h200b[512], a100[512];

static void make_files(void)
{
    tmp_path(h200a, sizeof h200a, "rep_h200a.jsonl");
    tmp_path(h200b, sizeof h200b, "rep_h200b.jsonl");
    tmp_path(a100, sizeof a100, "rep_a100.jsonl");
    FILE *f = fopen(h200a, "w");
    fprintf(f, "%s\n", h200_ctx);
    result(f, "copy", "hand-written", 1 << 30, 0, "NVIDIA H200", 4000, 81.4, "600");
    result(f, "copy", "hand-written", 1 << 20, 0, "NVIDIA H200", 9000, 183.1, "500");
    fclose(f);
    f = fopen(h200b, "w"); /* a second run of the same machine: the best run wins */
    fprintf(f, "%s\n", h200_ctx);
    result(f, "copy", "hand-written", 1 << 30, 0, "NVIDIA H200", 4100, 83.4, "null");
    fclose(f);
    f = fopen(a100, "w"); /* two GPUs: the best GPU's figure */
    fprintf(f, "%s\n", a100_ctx);
    result(f, "copy", "hand-written", 1 << 30, 0, "NVIDIA A100-SXM4-80GB", 1450, 71.1, "300");
    result(f, "copy", "hand-written", 1 << 30, 1, "NVIDIA A100-SXM4-80GB", 1500, 73.5, "320");
    result(f, "memcpy", "vendor", 1 << 30, 0, "NVIDIA A100-SXM4-80GB", 1400, 68.6, "310");
    fclose(f);
}

Test(report, markdown_tables_on_known_input, .init = make_files)
{
    cli_result *r = run_cli(NULL, "report", h200a, h200b, a100, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    /* headline: HBM from arrays of at least 4 L2s only (the 1M row is L2), mean power */
    cr_assert(strstr(r->out, "| 1x NVIDIA H200, driver 570.1 | 2 | 4100 (83.4 %) | – | – | – | "
                             "– | – | 550 | – |"),
              "%s", r->out);
    cr_assert(strstr(r->out, "| 2x NVIDIA A100-SXM4-80GB, driver 570.1 | 1 | 1500 (73.5 %) | – "
                             "| – | – | – | – | 310 | – |"),
              "%s", r->out);
    cr_assert(strstr(r->out, "## membw fp32\n\n| impl | case | unit | 1x NVIDIA H200, driver "
                             "570.1 | 2x NVIDIA A100-SXM4-80GB, driver 570.1 |"),
              "%s", r->out);
    cr_assert(strstr(r->out, "| copy | bytes=1G | GB/s | 4100 (83.4 %) | 1500 (73.5 %) |"), "%s",
              r->out);
    cr_assert(strstr(r->out, "| copy | bytes=1M | GB/s | 9000 (183.1 %) | – |"), "%s", r->out);
    cr_assert(strstr(r->out, "| memcpy | bytes=1G | GB/s | – | 1400 (68.6 %) |"), "%s", r->out);
}

Test(report, csv_one_row_per_case_and_machine, .init = make_files)
{
    cli_result *r = run_cli(NULL, "report", h200a, h200b, a100, "--format", "csv", NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "machine,runs,bench,dtype,impl,case,unit,figure,pct_peak\n"));
    cr_assert(strstr(r->out, "\"1x NVIDIA H200, driver 570.1\",2,membw,fp32,copy,\"bytes=1G\","
                             "GB/s,4100,83.400\n"),
              "%s", r->out);
    int lines = 0;
    for (const char *p = r->out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 5, "header + 4 cells: %s", r->out);
}

Test(report, bad_input)
{
    cli_result *r = run_cli(NULL, "report", NULL);
    cr_assert_eq(r->code, 2);
    r = run_cli(NULL, "report", "x.jsonl", "--format", "json", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'json'"), "%s", r->err);
    r = run_cli(NULL, "report", "/nonexistent/x.jsonl", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "/nonexistent/x.jsonl"), "%s", r->err);
}

Test(report, plot_data_and_script, .init = make_files)
{
    char dir[512];
    tmp_path(dir, sizeof dir, "plots");
    cli_result *r = run_cli(NULL, "report", h200a, h200b, a100, "--plot", dir, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    char gp[600], csv[600];
    snprintf(gp, sizeof gp, "%s/membw-fp32.gp", dir);
    snprintf(csv, sizeof csv, "%s/membw-fp32.csv", dir);
    cr_assert(strstr(r->out, gp), "%s", r->out);
    char text[8192];
    slurp(gp, text, sizeof text);
    cr_assert(strstr(text, "set output 'membw-fp32.png'"), "%s", text);
    cr_assert(strstr(text, "set logscale x 2"), "%s", text);
    cr_assert(strstr(text, "index 2 using 1:2"), "three series: %s", text);
    cr_assert(strstr(text, "title '1x NVIDIA H200, driver 570.1: copy'"), "%s", text);
    slurp(csv, text, sizeof text);
    cr_assert(strstr(text, "# 1x NVIDIA H200, driver 570.1: copy\n1048576,9000\n1073741824,4100\n"),
              "%s", text);
}

/* Renders one plot from a real `run --host` file with gnuplot through scripts/plot. */
Test(report, scripts_plot_renders_a_png, .timeout = 300)
{
    char res[512], dir[512], png[600], cmd[2048];
    tmp_path(res, sizeof res, "plot_run.jsonl");
    tmp_path(dir, sizeof dir, "plot_png");
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--impl", "host-copy", "--bytes",
                            "1M,4M,16M", "--min-time", "0.02", "--timeout", "0.5", "-q", "-o", res,
                            NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    snprintf(cmd, sizeof cmd, "TRAINBENCH=%s %s/scripts/plot %s %s > %s/plot.log 2>&1", TB_BINARY,
             TB_SOURCE_DIR, dir, res, TB_TEST_TMP);
    int rc = system(cmd);
    char log[4096];
    snprintf(png, sizeof png, "%s/plot.log", TB_TEST_TMP);
    slurp(png, log, sizeof log);
    cr_assert_eq(rc, 0, "scripts/plot failed: %s", log);
    snprintf(png, sizeof png, "%s/membw-fp32.png", dir);
    FILE *f = fopen(png, "rb");
    cr_assert_not_null(f, "no %s: %s", png, log);
    unsigned char sig[8];
    cr_assert_eq(fread(sig, 1, 8, f), 8);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
    cr_assert_gt(size, 10000, "a plot with axes, a line and a legend is larger: %ld bytes", size);
}

/* Strings from a result file never become gnuplot commands: a newline in the machine's CPU
 * or an implementation's name is not a line break in the script, and gnuplot runs nothing. */
Test(report, plot_scripts_carry_no_commands_from_the_file, .timeout = 300)
{
    char res[512], dir[512], marker[512], cmd[4096];
    tmp_path(res, sizeof res, "evil.jsonl");
    tmp_path(dir, sizeof dir, "evil_plots");
    tmp_path(marker, sizeof marker, "PWNED");
    FILE *f = fopen(res, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"cpu\":\"x'\\nsystem(\\\"touch "
            "%s\\\")\\n#\",\"cpu_threads\":4,\"gpus\":[]}\n",
            marker);
    for (int k = 0; k < 2; k++)
        fprintf(f,
                "{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"copy'\\nsystem(\\\"touch "
                "%s\\\")\\n\\u0007\",\"kind\":\"host\",\"dtype\":\"fp32\",\"axes\":{\"bytes\":%d},"
                "\"gpus\":[],\"device\":\"host\",\"status\":\"ok\",\"time_s\":{\"median\":1e-3,"
                "\"q1\":1e-3,\"q3\":1e-3},\"gbps\":%d}\n",
                marker, 1 << (20 + k), 10 + k);
    fprintf(f,
            "{\"type\":\"result\",\"bench\":\"../../evil\\n\",\"impl\":\"a\",\"kind\":\"host\","
            "\"dtype\":\"fp32\\r\",\"axes\":{\"bytes\":1,\"x\\ny\":2},\"gpus\":[],"
            "\"device\":\"host\",\"status\":\"ok\",\"gbps\":1}\n"
            "{\"type\":\"result\",\"bench\":\"../../evil\\n\",\"impl\":\"a\",\"kind\":\"host\","
            "\"dtype\":\"fp32\\r\",\"axes\":{\"bytes\":2,\"x\\ny\":2},\"gpus\":[],"
            "\"device\":\"host\",\"status\":\"ok\",\"gbps\":2}\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "TRAINBENCH=%s %s/scripts/plot %s %s > %s/evil.log 2>&1",
             TB_BINARY, TB_SOURCE_DIR, dir, res, TB_TEST_TMP);
    int rc = system(cmd);
    char log[4096], logp[600];
    snprintf(logp, sizeof logp, "%s/evil.log", TB_TEST_TMP);
    slurp(logp, log, sizeof log);
    cr_assert_eq(rc, 0, "scripts/plot failed: %s", log);
    cr_assert(!exists(marker), "gnuplot ran a command from the result file");
    /* every script: no control character but the line ends, and no file name leaves dir */
    snprintf(cmd, sizeof cmd, "ls %s", dir);
    FILE *ls = popen(cmd, "r");
    char name[512];
    int scripts = 0;
    while (fgets(name, sizeof name, ls)) {
        name[strcspn(name, "\n")] = '\0';
        cr_assert_eq(strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"),
                     strlen(name), "file name '%s'", name);
        size_t len = strlen(name);
        if (len < 3 || strcmp(name + len - 3, ".gp") != 0)
            continue;
        scripts++;
        char gp[1200], text[16384];
        snprintf(gp, sizeof gp, "%s/%s", dir, name);
        slurp(gp, text, sizeof text);
        for (const char *p = text; *p; p++)
            cr_assert(*p == '\n' || (unsigned char)*p >= 0x20, "control character in %s", gp);
        cr_assert_null(strstr(text, "\nsystem("), "%s", text);
    }
    pclose(ls);
    cr_assert_eq(scripts, 2, "one script per bench and dtype");
}

/* A glob that matched nothing reaches report as itself: the message says so. */
Test(report, unmatched_pattern_is_named_as_such)
{
    cli_result *r = run_cli(NULL, "report", "results/published/*.jsonl", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'results/published/*.jsonl'") && strstr(r->err, "a pattern no file matched"),
              "%s", r->err);
}
