/* The trainbench command line, run as a user runs it: exit codes, messages, result files. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_helper.h"

Test(cli, no_command_is_usage)
{
    cli_result *r = run_cli(NULL, NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "usage: trainbench"), "%s", r->err);
}

Test(cli, help_on_each_command)
{
    cr_assert_eq(run_cli(NULL, "--help", NULL)->code, 0);
    cli_result *r = run_cli(NULL, "run", "--help", NULL);
    cr_assert_eq(r->code, 0);
    cr_assert(strstr(r->out, "--max-noise"), "%s", r->out);
    cr_assert_eq(run_cli(NULL, "list", "--help", NULL)->code, 0);
    cr_assert_eq(run_cli(NULL, "info", "--help", NULL)->code, 0);
}

Test(cli, unknown_command)
{
    cli_result *r = run_cli(NULL, "bogus", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'bogus'"), "%s", r->err);
}

Test(cli, list_shows_benchmarks_axes_and_impls)
{
    cli_result *r = run_cli(NULL, "list", NULL);
    cr_assert_eq(r->code, 0);
    cr_assert(strstr(r->out, "membw"));
    cr_assert(strstr(r->out, "--bytes"));
    cr_assert(strstr(r->out, "1M:4G:x2"));
    cr_assert(strstr(r->out, "triad"));
    cr_assert(strstr(r->out, "host-copy"));
    cr_assert(strstr(r->out, "vendor"));
    cr_assert_eq(run_cli(NULL, "list", "membw", NULL)->code, 0);
}

Test(cli, unknown_benchmark)
{
    cli_result *r = run_cli(NULL, "run", "nosuch", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "unknown benchmark 'nosuch'") && strstr(r->err, "membw"), "%s",
              r->err);
    r = run_cli(NULL, "list", "nosuch", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'nosuch'"), "%s", r->err);
}

Test(cli, unknown_option)
{
    cli_result *r = run_cli(NULL, "run", "--bogus", "1", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "unknown option '--bogus'"), "%s", r->err);
    r = run_cli(NULL, "info", "--bogus", NULL);
    cr_assert_eq(r->code, 2);
}

Test(cli, missing_value)
{
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--bytes", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'--bytes' needs a value"), "%s", r->err);
}

/* Each bad sweep: exit 2, a message naming the value, nothing measured, no file. */
Test(cli, bad_sweeps_exit_2_and_leave_no_file)
{
    const char *bad[] = {"0", "-1", "8:4:x2", "1:8:x1", "12Q", "8:8G:x0", "1e30", "", NULL};
    char path[512];
    tmp_path(path, sizeof path, "bad.jsonl");
    for (int i = 0; bad[i]; i++) {
        cli_result *r =
            run_cli(NULL, "run", "membw", "--host", "--bytes", bad[i], "-o", path, NULL);
        cr_assert_eq(r->code, 2, "'%s' gave %d", bad[i], r->code);
        char named[64];
        snprintf(named, sizeof named, "'%s'", bad[i]);
        if (bad[i][0])
            cr_assert(strstr(r->err, named), "message for %s: %s", bad[i], r->err);
        else
            cr_assert(strstr(r->err, "empty"), "message for '': %s", r->err);
        cr_assert(strstr(r->err, "--bytes"), "%s", r->err);
        cr_assert_not(exists(path), "no file for '%s'", bad[i]);
        cr_assert_eq(r->out[0], '\0', "nothing measured for '%s': %s", bad[i], r->out);
    }
}

Test(cli, bad_selections_exit_2)
{
    cli_result *r = run_cli(NULL, "run", "--impl", "nosuch", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'nosuch'") && strstr(r->err, "triad"), "%s", r->err);
    r = run_cli(NULL, "run", "--impl", "host-copy", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "add --host"), "%s", r->err);
    r = run_cli(NULL, "run", "--dtype", "fp64", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'fp64'"), "%s", r->err);
    r = run_cli(NULL, "run", "--min-samples", "0", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--min-samples"), "%s", r->err);
    r = run_cli(NULL, "run", "--max-noise", "abc", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'abc'"), "%s", r->err);
    r = run_cli(NULL, "run", "--experts", "8", NULL);
    cr_assert_eq(r->code, 2, "not an axis of any benchmark");
    r = run_cli(NULL, "run", "membw", "--host", "--gpus", "0", NULL);
    cr_assert_eq(r->code, 2);
}

Test(cli, unwritable_output_exits_2)
{
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--bytes", "1M", "--impl",
                            "host-copy", "-o", "/nonexistent-dir/r.jsonl", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "/nonexistent-dir/r.jsonl"), "%s", r->err);
}

Test(cli, run_without_a_gpu_exits_3_and_points_to_host)
{
    cli_result *r = run_cli("CUDA_VISIBLE_DEVICES=-1", "run", NULL);
    cr_assert_eq(r->code, 3, "%s", r->err);
    cr_assert(strstr(r->err, "no CUDA device"), "%s", r->err);
    cr_assert(strstr(r->err, "trainbench run --host"), "%s", r->err);
}

Test(cli, info_json_is_a_context_record)
{
    cli_result *r = run_cli("CUDA_VISIBLE_DEVICES=-1", "info", "--json", NULL);
    cr_assert_eq(r->code, 3, "no GPU visible");
    cJSON *o = cJSON_Parse(r->out);
    cr_assert_not_null(o, "%s", r->out);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "context");
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(o, "no_device_reason")));
    cJSON_Delete(o);
    r = run_cli("CUDA_VISIBLE_DEVICES=-1", "info", NULL);
    cr_assert_eq(r->code, 3);
    cr_assert(strstr(r->out, "cuda runtime"), "%s", r->out);
}

static const char *const context_fields[] = {
    "type", "schema", "tool", "argv", "date", "host", "cpu", "cpu_threads", "driver",
    "cuda_driver", "cuda_runtime", "cublas", "nccl", "nvml", "options", "gpus", NULL};

static const char *const result_fields[] = {
    "type", "bench", "impl", "kind", "dtype", "axes", "gpus", "status", "samples", "time_s",
    "timing", "gbps", "pct_peak", "pct_vendor", "verify", "clock_mhz", "power_w", "energy_j",
    "temp_c", "throttle", NULL};

Test(cli, host_quick_end_to_end, .timeout = 600)
{
    char path[512], csv[512];
    tmp_path(path, sizeof path, "e2e.jsonl");
    tmp_path(csv, sizeof csv, "e2e.csv");
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--quick", "-q", "-o", path,
                            "--csv", csv, NULL);
    cr_assert_eq(r->code, 0, "stderr: %s", r->err);
    cr_assert(strstr(r->out, "15 ok, 0 wrong, 0 skipped, 0 failed"), "%s", r->out);
    cr_assert(strstr(r->out, "host-triad"), "%s", r->out);

    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char line[1 << 16];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        cr_assert_not_null(o, "line %d is JSON", n);
        const char *const *fields = n == 0 ? context_fields : result_fields;
        for (int i = 0; fields[i]; i++)
            cr_assert(cJSON_HasObjectItem(o, fields[i]), "line %d lacks %s", n, fields[i]);
        if (n == 0) {
            cr_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "context");
            cr_assert_str_eq(cJSON_GetObjectItem(o, "schema")->valuestring, "trainbench/1");
            cJSON *tool = cJSON_GetObjectItem(o, "tool");
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(tool, "git_commit")));
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(tool, "version")));
        } else {
            cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "ok");
            cJSON *v = cJSON_GetObjectItem(o, "verify");
            cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")), "line %d verified", n);
            cr_assert_gt(cJSON_GetObjectItem(o, "gbps")->valuedouble, 0);
            cr_assert_geq(cJSON_GetObjectItem(o, "samples")->valuedouble, 5);
            cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "power_w")), "no NVML on the host");
        }
        cJSON_Delete(o);
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 16, "a context and 5 impls x 3 sizes, got %d lines", n);

    FILE *c = fopen(csv, "r");
    cr_assert_not_null(c);
    int rows = 0;
    while (fgets(line, sizeof line, c))
        rows++;
    fclose(c);
    cr_assert_eq(rows, 16, "CSV header and 15 rows");
    remove(path);
    remove(csv);
}

Test(cli, matmul_host_quick_verifies, .timeout = 300)
{
    char path[512];
    tmp_path(path, sizeof path, "mm.jsonl");
    cli_result *r = run_cli(NULL, "run", "matmul", "--host", "--quick", "--layout",
                            "fwd,dgrad,wgrad", "--rounds", "2", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    /* 2 sizes x 3 layouts in fp32, bf16 and fp16; fp8 in the fwd layout only */
    cr_assert(strstr(r->out, "20 ok, 0 wrong, 4 skipped, 0 failed"), "%s", r->out);
    cJSON *res[32];
    int n = results(path, res, 32);
    cr_assert_eq(n, 24);
    for (int i = 0; i < n; i++) {
        cJSON *o = res[i];
        if (!strcmp(cJSON_GetObjectItem(o, "status")->valuestring, "skipped")) {
            cr_assert_str_eq(cJSON_GetObjectItem(o, "dtype")->valuestring, "fp8");
            cJSON_Delete(o);
            continue;
        }
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "verify"), "ok")));
        cr_assert_gt(cJSON_GetObjectItem(o, "tflops")->valuedouble, 0);
        cJSON *ax = cJSON_GetObjectItem(o, "axes");
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(ax, "layout")));
        cJSON_Delete(o);
    }
    remove(path);
}

Test(cli, matmul_bad_input_exits_2)
{
    cli_result *r = run_cli(NULL, "run", "matmul", "--host", "--shapes", "llama4", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'llama4'") && strstr(r->err, "llama3-405b"), "%s", r->err);
    r = run_cli(NULL, "run", "matmul", "--host", "--shapes", "llama3-8b", "--tp", "3", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--tp: 3 does not divide"), "%s", r->err);
    r = run_cli(NULL, "run", "matmul", "--host", "--size", "0", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--size: '0'"), "%s", r->err);
    r = run_cli(NULL, "run", "matmul", "--host", "--m", "-4", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--m: '-4'"), "%s", r->err);
    r = run_cli(NULL, "run", "matmul", "--host", "--layout", "sideways", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'sideways'"), "%s", r->err);
    r = run_cli(NULL, "run", "matmul", "--host", "--shapes", "llama3-8b", "--size", "64", NULL);
    cr_assert_eq(r->code, 2);
    /* a dtype an implementation lacks, asked for by name: skipped with the reason */
    char path[512];
    tmp_path(path, sizeof path, "mm_skip.jsonl");
    r = run_cli(NULL, "run", "matmul", "--host", "--dtype", "tf32", "--impl", "host", "--size",
                "64", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "skipped: host does not run tf32 (it runs fp32, bf16, fp16, fp8)"),
              "%s", r->out);
    cr_assert(strstr(r->out, "0 ok, 0 wrong, 1 skipped, 0 failed"), "%s", r->out);
    remove(path);
    r = run_cli(NULL, "list", "matmul", NULL);
    cr_assert_eq(r->code, 0);
    cr_assert(strstr(r->out, "--shapes") && strstr(r->out, "gpt3-175b") && strstr(r->out, "mma"),
              "%s", r->out);
    /* the sets with their shapes: llama3-8b qkv is 4096 -> (32 + 2 * 8) * 128 */
    cr_assert(strstr(r->out, "qkv        4096 -> 6144   fwd 8192x6144x4096  dgrad "
                             "8192x4096x6144  wgrad 6144x4096x8192"),
              "%s", r->out);
}

Test(cli, attention_host_quick_verifies, .timeout = 300)
{
    char path[512];
    tmp_path(path, sizeof path, "at.jsonl");
    cli_result *r = run_cli(NULL, "run", "attention", "--host", "--quick", "--pass",
                            "fwd,bwd,fwdbwd", "--rounds", "2", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    /* seq 100 (not a tile multiple) x causal no, yes x three passes x fp32, bf16, fp16 */
    cr_assert(strstr(r->out, "18 ok, 0 wrong, 0 skipped, 0 failed"), "%s", r->out);
    cJSON *res[24];
    int n = results(path, res, 24);
    cr_assert_eq(n, 18);
    for (int i = 0; i < n; i++) {
        cJSON *o = res[i];
        cJSON *v = cJSON_GetObjectItem(o, "verify");
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")));
        cr_assert_gt(cJSON_GetObjectItem(v, "n_checked")->valuedouble, 0);
        cr_assert_gt(cJSON_GetObjectItem(o, "tflops")->valuedouble, 0);
        cr_assert_gt(cJSON_GetObjectItem(o, "alloc_bytes")->valuedouble, 0);
        cr_assert(strstr(cJSON_GetObjectItem(o, "flops_convention")->valuestring,
                         "halved when causal"));
        cJSON *ax = cJSON_GetObjectItem(o, "axes");
        cr_assert_eq(cJSON_GetObjectItem(ax, "kv-heads")->valuedouble, 2);
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(ax, "pass")));
        cJSON_Delete(o);
    }
    remove(path);
}

Test(cli, attention_bad_input_exits_2)
{
    cli_result *r = run_cli(NULL, "run", "attention", "--host", "--heads", "8", "--kv-heads",
                            "3", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--kv-heads: 3 does not divide --heads 8"), "%s", r->err);
    r = run_cli(NULL, "run", "attention", "--host", "--seq", "0", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--seq: '0'"), "%s", r->err);
    r = run_cli(NULL, "run", "attention", "--host", "--head-dim", "-64", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--head-dim: '-64'"), "%s", r->err);
    r = run_cli(NULL, "run", "attention", "--host", "--pass", "sideways", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'sideways' is not one of fwd, bwd, fwdbwd"), "%s", r->err);
    r = run_cli(NULL, "run", "attention", "--host", "--shapes", "llama2", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'llama2'") && strstr(r->err, "fa2"), "%s", r->err);
    r = run_cli(NULL, "run", "attention", "--host", "--shapes", "fa2", "--heads", "8", NULL);
    cr_assert_eq(r->code, 2);
    /* a head dim the host runs but flash does not is a skip with the reason, not an error */
    r = run_cli(NULL, "list", "attention", NULL);
    cr_assert_eq(r->code, 0);
    cr_assert(strstr(r->out, "llama3-70b: batch 1, 64 heads, 8 KV heads") &&
                  strstr(r->out, "backward 2.5 x forward"),
              "%s", r->out);
}

#define Q "--min-samples", "1", "--min-time", "0", "--timeout", "0.05"

/* An option that cannot apply is refused, never dropped or recorded as applied. */
Test(cli, options_that_cannot_apply_exit_2)
{
    char path[512];
    tmp_path(path, sizeof path, "na.jsonl");
    cli_result *r = run_cli(NULL, "run", "attention", "--host", "--shapes", "fa2", "-o", path,
                            NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "fa2"), "%s", r->err);
    r = run_cli(NULL, "run", "membw", "--host", "--cold", "--bytes", "1M", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "--cold"), "%s", r->err);
    r = run_cli(NULL, "run", "matmul", "--host", "--tp", "2", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "--tp"), "%s", r->err);
    r = run_cli(NULL, "run", "matmul", "--host", "--tokens", "512", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(!exists(path));
}

/* Repeated sweep values and benchmark names run once; a repeated option is an error. */
Test(cli, duplicates_run_once_and_repeated_options_exit_2)
{
    char path[512];
    tmp_path(path, sizeof path, "dup.jsonl");
    cli_result *r = run_cli(NULL, "run", "membw", "membw", "--host", "--impl", "host-copy",
                            "--bytes", "1M,1M,2M,1M", Q, "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *res[8];
    int n = results(path, res, 8);
    cr_assert_eq(n, 2, "1M and 2M once each, got %d results", n);
    for (int i = 0; i < n; i++)
        cJSON_Delete(res[i]);
    remove(path);

    static const char *const twice[][4] = {
        {"--impl", "host-copy", "--impl", "host-copy"},
        {"--timeout", "1", "--timeout", "2"},
        {"-o", "/tmp/tb-a.jsonl", "--output", "/tmp/tb-b.jsonl"},
        {"--csv", "/tmp/tb-a.csv", "--csv=/tmp/tb-b.csv", NULL},
        {"--seed", "1", "--seed", "2"},
        {"--host", "-q", "--quiet", NULL},
    };
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
        r = run_cli(NULL, "run", "membw", "--host", "--bytes", "1M", twice[i][0], twice[i][1],
                    twice[i][2], twice[i][3], NULL);
        cr_assert_eq(r->code, 2, "%s twice: exit %d", twice[i][0], r->code);
        cr_assert(strstr(r->err, "given twice"), "%s", r->err);
    }
    cr_assert(!exists("/tmp/tb-a.jsonl") && !exists("/tmp/tb-b.jsonl"));
}

Test(cli, empty_list_items_exit_2)
{
    static const char *const bad[][2] = {
        {"--impl", "host-copy,"}, {"--impl", ",host-copy"}, {"--impl", "host-copy,,host-triad"},
        {"--dtype", "fp32,"},     {"--impl", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_result *r = run_cli(NULL, "run", "membw", "--host", "--bytes", "1M", bad[i][0],
                                bad[i][1], NULL);
        cr_assert_eq(r->code, 2, "%s '%s': exit %d", bad[i][0], bad[i][1], r->code);
        cr_assert(strstr(r->err, "empty"), "%s", r->err);
    }
}

/* A malformed --gpus is a usage error whether or not a GPU is present. */
Test(cli, bad_gpus_syntax_exits_2_before_looking_for_gpus)
{
    static const char *const bad[] = {"abc", "0,", "-1", "1x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_result *r = run_cli("CUDA_VISIBLE_DEVICES=-1", "run", "membw", "--gpus", bad[i],
                                NULL);
        cr_assert_eq(r->code, 2, "--gpus '%s': exit %d: %s", bad[i], r->code, r->err);
        cr_assert(strstr(r->err, "--gpus"), "%s", r->err);
    }
}

/* node-check on a machine without a GPU says so and stops before building anything. */
Test(cli, node_check_without_a_gpu_exits_3_before_building, .timeout = 120)
{
    char cmd[2048], log[600], text[8192];
    snprintf(log, sizeof log, "%s/nodecheck_%d.log", TB_TEST_TMP, (int)getpid());
    snprintf(cmd, sizeof cmd,
             "PATH=/usr/bin:/bin BUILD_DIR=%s/nodecheck_build_%d timeout 60 %s/scripts/node-check "
             ">%s 2>&1",
             TB_TEST_TMP, (int)getpid(), TB_SOURCE_DIR, log);
    int rc = system(cmd);
    slurp(log, text, sizeof text);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 3, "exit %d: %s", WEXITSTATUS(rc), text);
    cr_assert(strstr(text, "no GPU"), "%s", text);
    cr_assert_null(strstr(text, "CMake"), "it started building: %s", text);
    snprintf(cmd, sizeof cmd, "%s/nodecheck_build_%d", TB_TEST_TMP, (int)getpid());
    cr_assert(!exists(cmd), "a build directory was made");
    remove(log);
}

/* Host cases stop at the host's minimums instead of running to the timeout. */
Test(cli, host_runs_stop_at_the_minimums, .timeout = 120)
{
    char path[512];
    tmp_path(path, sizeof path, "hostrule.jsonl");
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--impl", "host-copy", "--bytes",
                            "1M", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *res[2];
    cr_assert_eq(results(path, res, 2), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(res[0], "stop")->valuestring, "minimum");
    cr_assert_geq(cJSON_GetObjectItem(res[0], "samples")->valuedouble, 10);
    cJSON_Delete(res[0]);
    static char text[1 << 16];
    slurp(path, text, sizeof text);
    cr_assert(strstr(text, "\"max_noise_pct\":null"), "no noise criterion recorded");
    /* --max-noise restores the criterion */
    r = run_cli(NULL, "run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M",
                "--max-noise", "50", "--timeout", "5", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    slurp(path, text, sizeof text);
    cr_assert(strstr(text, "\"max_noise_pct\":50"), "%.300s", text);
    cr_assert_null(strstr(text, "\"stop\":\"minimum\""));
    remove(path);
}
