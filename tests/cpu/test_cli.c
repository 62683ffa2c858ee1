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
                            "fwd,dgrad,wgrad", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "6 ok, 0 wrong, 0 skipped, 0 failed"), "%s", r->out);
    cJSON *res[16];
    int n = results(path, res, 16);
    cr_assert_eq(n, 6);
    for (int i = 0; i < n; i++) {
        cJSON *o = res[i];
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
    r = run_cli(NULL, "run", "matmul", "--host", "--dtype", "bf16", "--impl", "host", "--size",
                "64", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "skipped: host does not run bf16 (it runs fp32)"), "%s", r->out);
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
                            "fwd,bwd,fwdbwd", "-q", "-o", path, NULL);
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
