/* trainbench check end to end on host pseudo-devices: reason codes and exit codes, driven by
 * TRAINBENCH_TEST_FAULT, the stand-in NVML library and baseline files. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results.h"

typedef struct {
    int code;
    char out[1 << 18];
    char err[8192];
} run_out;

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = '\0';
    if (f)
        fclose(f);
}

/* Runs trainbench with env (NULL-ended "K=V" list, may be NULL) and args (NULL-ended). */
static run_out *run(const char *const *env, const char *const *args)
{
    static run_out r;
    const char *argv[64];
    int argc = 0;
    argv[argc++] = TB_BINARY;
    for (int i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char outp[512], errp[512];
    snprintf(outp, sizeof outp, "%s/check_%d.out", TB_TEST_TMP, (int)getpid());
    snprintf(errp, sizeof errp, "%s/check_%d.err", TB_TEST_TMP, (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        /* the stand-in NVML never answers unless a test names it */
        setenv("TRAINBENCH_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(TB_BINARY, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    slurp(outp, r.out, sizeof r.out);
    slurp(errp, r.err, sizeof r.err);
    remove(outp);
    remove(errp);
    return &r;
}

static void tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/check_%s_%d.jsonl", TB_TEST_TMP, name, (int)getpid());
    remove(buf);
}

/* The verdict lines of a file: how many have this (gpu, reason, verdict); gpu -1: any. */
static int count_verdicts(const char *path, int gpu, const char *reason, const char *verdict)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no file %s", path);
    static char line[1 << 16];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        cr_assert_not_null(o);
        const cJSON *t = cJSON_GetObjectItem(o, "type");
        if (t && !strcmp(t->valuestring, "verdict")) {
            const cJSON *g = cJSON_GetObjectItem(o, "gpu");
            const char *rs = cJSON_GetObjectItem(o, "reason")->valuestring;
            const char *vd = cJSON_GetObjectItem(o, "verdict")->valuestring;
            if ((gpu < 0 || (g && g->valueint == gpu)) && !strcmp(rs, reason) &&
                (!verdict || !strcmp(vd, verdict)))
                n++;
        }
        cJSON_Delete(o);
    }
    fclose(f);
    return n;
}

/* The last line of the file is the node verdict. */
static void expect_node(const char *path, const char *verdict)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char line[1 << 16], last[1 << 16];
    while (fgets(line, sizeof line, f))
        memcpy(last, line, sizeof line);
    fclose(f);
    cJSON *o = cJSON_Parse(last);
    cr_assert_not_null(o);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "scope")->valuestring, "node");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "verdict")->valuestring, verdict);
    cJSON_Delete(o);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(check, healthy_host_passes_and_the_file_reads_back, .timeout = 300)
{
    char path[512];
    tmp(path, sizeof path, "healthy");
    run_out *r = run(NULL, ARGS("check", "--host", "--plan", "quick", "--burn", "0.6", "-q", "-o",
                                path));
    cr_assert_eq(r->code, 0, "exit %d\n%s\n%s", r->code, r->out, r->err);
    cr_assert(strstr(r->out, "verdicts (host pseudo-devices)"), "%s", r->out);
    cr_assert(strstr(r->out, "\nnode "), "%s", r->out);
    cr_assert_eq(count_verdicts(path, -1, "HBM_OUTLIER", "FAIL"), 0);
    cr_assert_eq(count_verdicts(path, -1, "GEMM_OUTLIER", "FAIL"), 0);
    cr_assert_eq(count_verdicts(path, 1, "OK", "PASS") > 0, 1);
    cr_assert_eq(count_verdicts(path, -1, "SDC", NULL), 0);
    /* the strict reader takes the file, verdict lines and all; report reads it */
    tb_rfile f;
    tb_err err;
    cr_assert_eq(tb_results_load(path, &f, stderr, &err), TB_OK, "%s", err.msg);
    cr_assert_gt(f.n, 6);
    int per_device[3] = {0}, p2p_rows = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (f.rows[i].gpus_text && strlen(f.rows[i].gpus_text) == 1)
            per_device[atoi(f.rows[i].gpus_text) % 3]++;
        if (!strcmp(f.rows[i].bench, "p2p")) {
            p2p_rows++;
            cr_assert_str_eq(f.rows[i].status, "ok");
            cr_assert_gt(f.rows[i].busbw_gbps, 0);
            cr_assert_float_eq(f.rows[i].busbw_gbps, f.rows[i].gbps, 0, "bus factor 1");
        }
    }
    cr_assert_eq(p2p_rows, 6 + 3, "every ordered pair one way, every pair both ways");
    cr_assert(per_device[0] && per_device[1] && per_device[2], "rows per pseudo-device");
    tb_results_free(&f);
    r = run(NULL, ARGS("report", path));
    cr_assert_eq(r->code, 0, "%s", r->err);
    r = run(NULL, ARGS("compare", path, path));
    cr_assert_neq(r->code, 2, "%s", r->err);
    remove(path);
}

Test(check, an_injected_slow_device_fails_with_gemm_outlier, .timeout = 300)
{
    char path[512];
    tmp(path, sizeof path, "slow");
    run_out *r = run(ARGS("TRAINBENCH_TEST_FAULT=slow-device:1"),
                     ARGS("check", "--host", "--plan", "quick", "--burn", "0", "-q", "-o", path));
    cr_assert_eq(r->code, 1, "exit %d\n%s\n%s", r->code, r->out, r->err);
    cr_assert_eq(count_verdicts(path, 1, "GEMM_OUTLIER", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 1, "HBM_OUTLIER", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 0, "GEMM_OUTLIER", NULL), 0, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 2, "GEMM_OUTLIER", NULL), 0, "%s", r->out);
    cr_assert_geq(count_verdicts(path, 1, "P2P_OUTLIER", "FAIL"), 1, "links from device 1");
    expect_node(path, "FAIL");
    cr_assert(strstr(r->out, "GEMM_OUTLIER"), "the table names it");
    remove(path);
}

Test(check, nvml_health_faults_have_their_codes, .timeout = 300)
{
    char path[512], lib[600];
    tmp(path, sizeof path, "nvml");
    snprintf(lib, sizeof lib, "TRAINBENCH_NVML_LIB=%s", TB_FAKE_NVML);
    run_out *r = run(ARGS(lib, "FAKE_NVML_DEVICES=3", "FAKE_NVML_REASONS=1:0x40,2:0x80",
                          "FAKE_NVML_ECC_UNCORRECTED=2:3", "FAKE_NVML_PCIE_WIDTH=0:8",
                          "FAKE_NVML_REMAP_PENDING=1:1"),
                     ARGS("check", "--host", "--plan", "quick", "--burn", "0.3", "-q", "-o", path));
    cr_assert_eq(r->code, 1, "exit %d\n%s\n%s", r->code, r->out, r->err);
    cr_assert_eq(count_verdicts(path, 0, "PCIE_DOWNGRADED", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 1, "THROTTLE_THERMAL", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 1, "ROW_REMAP_PENDING", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 2, "THROTTLE_POWER", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 2, "ECC_UNCORRECTABLE", "FAIL"), 1, "%s", r->out);
    /* the healthy facts pass: device 0's reasons are sw_power_cap only */
    cr_assert_eq(count_verdicts(path, 0, "THROTTLE_THERMAL", NULL), 0);
    cr_assert_eq(count_verdicts(path, 1, "PCIE_DOWNGRADED", NULL), 0);
    remove(path);
}

/* Copies a result file with every figure multiplied by factor: a baseline of a faster node. */
static void scaled_copy(const char *from, const char *to, double factor)
{
    FILE *f = fopen(from, "r"), *g = fopen(to, "w");
    cr_assert(f && g);
    static char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItem(o, "type");
        if (!strcmp(t->valuestring, "verdict")) {
            cJSON_Delete(o);
            continue;
        }
        static const char *const keys[] = {"gbps", "tflops", "busbw_gbps", NULL};
        for (int k = 0; keys[k]; k++) {
            cJSON *x = cJSON_GetObjectItem(o, keys[k]);
            if (cJSON_IsNumber(x))
                cJSON_SetNumberValue(x, x->valuedouble * factor);
        }
        char *s = cJSON_PrintUnformatted(o);
        fprintf(g, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    fclose(f);
    fclose(g);
}

Test(check, a_baseline_sets_the_thresholds, .timeout = 300)
{
    char first[512], base[512], path[512];
    tmp(first, sizeof first, "first");
    tmp(base, sizeof base, "base");
    tmp(path, sizeof path, "against");
    run_out *r = run(NULL, ARGS("check", "--host", "--plan", "quick", "--burn", "0", "--devices",
                                "2", "-q", "-o", first));
    cr_assert_eq(r->code, 0, "%s\n%s", r->out, r->err);
    /* against itself: passes */
    r = run(NULL, ARGS("check", "--host", "--plan", "quick", "--burn", "0", "--devices", "2",
                       "--baseline", first, "-q", "-o", path));
    cr_assert_eq(r->code, 0, "%s\n%s", r->out, r->err);
    cr_assert(strstr(r->out, "baseline "), "the source is the baseline: %s", r->out);
    /* against a node 10x faster: every figure is low */
    scaled_copy(first, base, 10.0);
    r = run(NULL, ARGS("check", "--host", "--plan", "quick", "--burn", "0", "--devices", "2",
                       "--baseline", base, "-q", "-o", path));
    cr_assert_eq(r->code, 1, "%s\n%s", r->out, r->err);
    cr_assert_eq(count_verdicts(path, 0, "HBM_LOW", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 1, "GEMM_LOW", "FAIL"), 1, "%s", r->out);
    remove(first);
    remove(base);
    remove(path);
}

Test(check, silent_data_corruption_in_the_burn_fails, .timeout = 300)
{
    char path[512];
    tmp(path, sizeof path, "sdc");
    run_out *r = run(ARGS("TRAINBENCH_TEST_FAULT=late-corruption:4"),
                     ARGS("check", "--host", "--plan", "quick", "--burn", "0.6", "--devices", "2",
                          "-q", "-o", path));
    cr_assert_eq(r->code, 1, "%s\n%s", r->out, r->err);
    cr_assert_eq(count_verdicts(path, 0, "SDC", "FAIL"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, 1, "SDC", "FAIL"), 1, "%s", r->out);
    /* the benchmark cases commit the same fault: wrong after timing */
    cr_assert_geq(count_verdicts(path, -1, "WRONG_RESULT", "FAIL"), 1, "%s", r->out);
    remove(path);
}

Test(check, one_device_skips_the_multi_device_parts, .timeout = 300)
{
    char path[512];
    tmp(path, sizeof path, "one");
    run_out *r = run(NULL, ARGS("check", "--host", "--plan", "quick", "--burn", "0", "--devices",
                                "1", "-q", "-o", path));
    cr_assert_eq(r->code, 0, "%s\n%s", r->out, r->err);
    cr_assert_eq(count_verdicts(path, -1, "SINGLE_GPU", "SKIP"), 1, "%s", r->out);
    cr_assert_eq(count_verdicts(path, -1, "P2P_OUTLIER", NULL), 0);
    remove(path);
}

Test(check, bad_input_exits_2_and_touches_nothing)
{
    char path[512];
    tmp(path, sizeof path, "bad");
    static const struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"check", "--host", "--plan", "slow"}, "'slow' is not a plan (use quick, standard or long)"},
        {{"check", "--host", "--burn", "-1"}, "--burn: '-1'"},
        {{"check", "--host", "--pass", "0"}, "--pass: '0'"},
        {{"check", "--host", "--devices", "17"}, "--devices: '17'"},
        {{"check", "--host", "--baseline", "/nonexistent/base.jsonl"}, "/nonexistent/base.jsonl"},
        {{"check", "--host", "--frobnicate"}, "unknown option '--frobnicate'"},
        {{"check", "--devices", "3"}, "--devices: only with --host"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[12];
        int k = 0;
        for (; cases[i].args[k]; k++)
            args[k] = cases[i].args[k];
        args[k++] = "-o";
        args[k++] = path;
        args[k] = NULL;
        run_out *r = run(NULL, args);
        cr_assert_eq(r->code, 2, "%s: exit %d", cases[i].says, r->code);
        cr_assert(strstr(r->err, cases[i].says), "want '%s' in: %s", cases[i].says, r->err);
        cr_assert_eq(access(path, F_OK), -1, "no file written");
    }
    run_out *r = run(ARGS("TRAINBENCH_TEST_FAULT=nonsense"), ARGS("check", "--host", "-o", path));
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert_eq(access(path, F_OK), -1);
}

Test(check, without_a_gpu_exits_3)
{
    char path[512];
    tmp(path, sizeof path, "nogpu");
    run_out *r = run(NULL, ARGS("check", "-o", path));
    cr_assert_eq(r->code, 3, "%s", r->err);
    cr_assert(strstr(r->err, "trainbench check --host"), "%s", r->err);
    cr_assert_eq(access(path, F_OK), -1);
}
