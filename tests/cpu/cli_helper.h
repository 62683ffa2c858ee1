/* cli_helper.h - runs the trainbench binary as a user would, for the CLI tests. */
#ifndef TB_CLI_HELPER_H
#define TB_CLI_HELPER_H

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

typedef struct {
    int code;
    char out[1 << 20];
    char err[16384];
} cli_result;

static inline void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = '\0';
    if (f)
        fclose(f);
}

/* Runs trainbench with the NULL-ended arguments; env_assign ("K=V" or NULL) is set first. */
static inline cli_result *run_cli(const char *env_assign, ...)
{
    static cli_result r;
    const char *argv[64];
    int argc = 0;
    argv[argc++] = TB_BINARY;
    va_list ap;
    va_start(ap, env_assign);
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 63)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char outp[512], errp[512];
    snprintf(outp, sizeof outp, "%s/cli_%d.out", TB_TEST_TMP, (int)getpid());
    snprintf(errp, sizeof errp, "%s/cli_%d.err", TB_TEST_TMP, (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        if (env_assign)
            putenv((char *)env_assign);
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

static inline int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static inline void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s_%d", TB_TEST_TMP, name, (int)getpid());
    remove(buf);
}

/* Reads a result file's result lines into out (max entries); returns how many. */
static inline int results(const char *path, cJSON **out, int max)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no result file %s", path);
    static char line[1 << 16];
    int n = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        cr_assert_not_null(o, "line %d does not parse", lineno + 1);
        if (lineno++ == 0) {
            cr_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "context");
            cJSON_Delete(o);
        } else if (n < max) {
            out[n++] = o;
        } else {
            cJSON_Delete(o);
        }
    }
    fclose(f);
    return n;
}

#endif
