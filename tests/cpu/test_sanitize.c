/* scripts/sanitize on the CPU: its argument handling, the no-GPU path (exit 3 before
 * anything is built), and its verdict per kernel and tool, with a fake nvidia-smi and a fake
 * compute-sanitizer standing in for the GPU node's. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRIPT TB_SOURCE_DIR "/scripts/sanitize"

typedef struct {
    int code;
    char out[1 << 16];
    char err[1 << 14];
} script_result;

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = '\0';
    if (f)
        fclose(f);
}

/* Runs the script with the NULL-ended arguments after the NULL-ended "K=V" settings. */
static script_result *run_script(const char *const *env, const char *const *args)
{
    static script_result r;
    const char *argv[32] = {"bash", SCRIPT};
    int argc = 2;
    for (; args && *args && argc < 31; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    char outp[512], errp[512];
    snprintf(outp, sizeof outp, "%s/sanitize_%d.out", TB_TEST_TMP, (int)getpid());
    snprintf(errp, sizeof errp, "%s/sanitize_%d.err", TB_TEST_TMP, (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        for (; env && *env; env++)
            putenv((char *)*env);
        execvp("bash", (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    slurp(outp, r.out, sizeof r.out);
    slurp(errp, r.err, sizeof r.err);
    return &r;
}

static void write_exec(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
    chmod(path, 0755);
}

Test(sanitize, bad_usage_exits_2_naming_the_value)
{
    static const char *const no_gpu[] = {"CUDA_VISIBLE_DEVICES=", NULL};
    static const char *const tools[] = {"--tools", "memcheck,leakcheck", NULL};
    script_result *r = run_script(no_gpu, tools);
    cr_assert_eq(r->code, 2, "usage is checked before the GPU: %s", r->err);
    cr_assert(strstr(r->err, "--tools: 'leakcheck' is not one of memcheck, racecheck, "
                             "synccheck, initcheck"), "%s", r->err);
    static const char *const bench[] = {"--bench", "matmul,conv", NULL};
    r = run_script(no_gpu, bench);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--bench: 'conv' is not one of"), "%s", r->err);
    static const char *const jobs[] = {"-j", "0", NULL};
    r = run_script(no_gpu, jobs);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "-j: '0' is not a positive integer"), "%s", r->err);
    static const char *const missing[] = {"--run-timeout", NULL};
    r = run_script(no_gpu, missing);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--run-timeout needs a value"), "%s", r->err);
    static const char *const unknown[] = {"--all", NULL};
    r = run_script(no_gpu, unknown);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'--all' is not an option"), "%s", r->err);
    static const char *const help[] = {"--help", NULL};
    r = run_script(no_gpu, help);
    cr_assert_eq(r->code, 0);
    cr_assert(strstr(r->out, "--tools LIST"), "%s", r->out);
    cr_assert(strstr(r->out, "3 no GPU visible"), "%s", r->out);
}

Test(sanitize, no_gpu_exits_3_before_building)
{
    char build[512], env_build[600];
    snprintf(build, sizeof build, "%s/sanitize-nobuild-%d", TB_TEST_TMP, (int)getpid());
    snprintf(env_build, sizeof env_build, "BUILD_DIR=%s", build);
    const char *const env[] = {"CUDA_VISIBLE_DEVICES=", env_build, NULL};
    script_result *r = run_script(env, NULL);
    cr_assert_eq(r->code, 3, "%s", r->err);
    cr_assert(strstr(r->err, "no GPU visible"), "%s", r->err);
    struct stat sb;
    cr_assert_neq(stat(build, &sb), 0, "nothing was built");
}

/* A fake compute-sanitizer: memcheck finds nothing, racecheck finds 3 hazards, synccheck
 * cannot run on this device, initcheck finds nothing but the run it wraps fails. */
static const char fake_sanitizer[] =
    "#!/usr/bin/env bash\n"
    "tool=$2\n"
    "echo '========= COMPUTE-SANITIZER'\n"
    "case $tool in\n"
    "memcheck) echo '========= ERROR SUMMARY: 0 errors' ;;\n"
    "racecheck) echo '========= Error: Race reported between Write access'\n"
    "           echo '========= RACECHECK SUMMARY: 3 hazards displayed (3 errors, 0 warnings)'\n"
    "           echo '========= ERROR SUMMARY: 3 errors' ;;\n"
    "synccheck) echo '========= Internal Sanitizer Error: The device is not supported'\n"
    "           exit 1 ;;\n"
    "initcheck) echo '========= ERROR SUMMARY: 0 errors'; exit 4 ;;\n"
    "esac\n";

Test(sanitize, one_verdict_per_kernel_and_tool, .timeout = 120)
{
    char dir[512], path[600], env_path[1200], env_san[700], env_logs[700], env_build[700];
    snprintf(dir, sizeof dir, "%s/sanitize-fake-%d", TB_TEST_TMP, (int)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/nvidia-smi", dir);
    write_exec(path, "#!/bin/sh\necho 'GPU 0: Fake GPU (UUID: GPU-0)'\n");
    snprintf(path, sizeof path, "%s/compute-sanitizer", dir);
    write_exec(path, fake_sanitizer);
    snprintf(env_path, sizeof env_path, "PATH=%s:%s", dir, getenv("PATH"));
    snprintf(env_san, sizeof env_san, "COMPUTE_SANITIZER=%s", path);
    snprintf(env_logs, sizeof env_logs, "LOG_DIR=%s/logs", dir);
    /* the build the tests run from: trainbench list names the implementations */
    char tb[512];
    snprintf(tb, sizeof tb, "%s", TB_BINARY);
    *strrchr(tb, '/') = '\0';
    snprintf(env_build, sizeof env_build, "BUILD_DIR=%s", tb);
    const char *const env[] = {env_path, env_san, env_logs, env_build, NULL};
    static const char *const args[] = {"--bench", "membw", "--impl", "copy,sum", NULL};
    script_result *r = run_script(env, args);
    cr_assert_eq(r->code, 1, "errors were found: %s\n%s", r->out, r->err);
    static const char *const want[] = {
        "membw/copy                       memcheck   ok\n",
        "membw/copy                       racecheck  3 errors\n",
        "membw/copy                       synccheck  unsupported (Internal Sanitizer Error: "
        "The device is not supported)\n",
        "membw/copy                       initcheck  ok, but the run exited 4",
        "membw/sum                        memcheck   ok\n",
        "membw/sum                        racecheck  3 errors\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r->out, want[i]), "missing '%s' in:\n%s", want[i], r->out);
    /* in order: copy's four lines, then sum's */
    cr_assert_lt(strstr(r->out, "membw/copy                       initcheck") - r->out,
                 strstr(r->out, "membw/sum                        memcheck") - r->out);
    cr_assert(strstr(r->out, "8 lines, 4 with errors or failures"), "%s", r->out);
}
