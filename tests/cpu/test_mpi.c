/* test_mpi.c - trainbench run under a real mpirun (oversubscribed on the CI machine's cores):
 * one result file for the job, the host all-reduce over MPI processes, a killed rank, a hung
 * rank, ranks with different arguments and a slow rank named by the outlier table. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "results.h"

/* Small, quick host cases: a few ms each, so a job of several ranks on two cores takes
 * seconds. */
#define QUICK "--min-time", "0.01", "--min-samples", "3", "--rounds", "1"

typedef struct {
    int code;
    char out[1 << 18];
    char err[1 << 16];
} mpi_result;

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = '\0';
    if (f)
        fclose(f);
}

/* Starts mpirun -np np with env ("K=V" passed to every rank with -x, or NULL) and the
 * trainbench arguments (NULL-ended; a lone ":" starts a second app context of np2 ranks
 * running the arguments after it). Returns the pid; stdout/stderr go to files. */
static pid_t start_mpi(int np, int np2, const char *env, const char *const *args, char *outp,
                       char *errp)
{
    const char *argv[96];
    int argc = 0;
    char n1[16], n2[16];
    snprintf(n1, sizeof n1, "%d", np);
    snprintf(n2, sizeof n2, "%d", np2);
    argv[argc++] = TB_MPIEXEC;
    argv[argc++] = "--oversubscribe";
    argv[argc++] = "--bind-to";
    argv[argc++] = "none";
    argv[argc++] = "-np";
    argv[argc++] = n1;
    if (env) {
        argv[argc++] = "-x";
        argv[argc++] = env;
    }
    argv[argc++] = TB_BINARY;
    for (int i = 0; args[i] && argc < 90; i++) {
        argv[argc++] = args[i];
        if (!strcmp(args[i], ":")) {
            argv[argc++] = "-np";
            argv[argc++] = n2;
            argv[argc++] = TB_BINARY;
        }
    }
    argv[argc] = NULL;
    snprintf(outp, 512, "%s/mpi_%d.out", TB_TEST_TMP, (int)getpid());
    snprintf(errp, 512, "%s/mpi_%d.err", TB_TEST_TMP, (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        if (env)
            putenv((char *)env);
        execv(TB_MPIEXEC, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static mpi_result *finish_mpi(pid_t pid, const char *outp, const char *errp)
{
    static mpi_result r;
    int status = 0;
    /* a job that hangs is ended after 120 s (and fails its test) */
    for (int i = 0; i < 1200 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        struct timespec t = {0, 100000000};
        nanosleep(&t, NULL);
        if (i == 1199) { /* mpirun ends its ranks on SIGTERM */
            kill(pid, SIGTERM);
            sleep(5);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    slurp(outp, r.out, sizeof r.out);
    slurp(errp, r.err, sizeof r.err);
    remove(outp);
    remove(errp);
    return &r;
}

static mpi_result *run_mpi2(int np, int np2, const char *env, const char *const *args)
{
    char outp[512], errp[512];
    pid_t pid = start_mpi(np, np2, env, args, outp, errp);
    return finish_mpi(pid, outp, errp);
}

static mpi_result *run_mpi(int np, const char *env, const char *const *args)
{
    return run_mpi2(np, 0, env, args);
}

static void tmp_file(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s_%d.jsonl", TB_TEST_TMP, name, (int)getpid());
    remove(buf);
}

/* Loads a result file with the strict reader: it must be valid. */
static void load(const char *path, tb_rfile *f)
{
    tb_err err;
    cr_assert_eq(tb_results_load(path, f, NULL, &err), TB_OK, "%s", err.msg);
}

static int rows_of_rank(const tb_rfile *f, int rank)
{
    int n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += f->rows[i].rank == rank;
    return n;
}

/* The rows of this rank the file holds so far. */
static int rank_rows_in(const char *path, int rank)
{
    char want[32], line[1 << 14];
    snprintf(want, sizeof want, "\"rank\":%d,", rank);
    FILE *f = fopen(path, "r");
    int found = 0, lineno = 0;
    while (f && fgets(line, sizeof line, f))
        found += lineno++ > 0 && strstr(line, want) != NULL; /* line 1 lists the ranks */
    if (f)
        fclose(f);
    return found;
}

static size_t lines_in(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    int c, last = '\n';
    while ((c = fgetc(f)) != EOF) {
        n += c == '\n';
        last = c;
    }
    fclose(f);
    return n + (last != '\n');
}

Test(mpi, one_file_holds_every_rank)
{
    char path[512];
    tmp_file(path, sizeof path, "mpi_membw");
    const char *args[] = {"run", "membw", "--host", "--quick", "--bytes", "1M", QUICK, "-o",
                          path, NULL};
    mpi_result *r = run_mpi(3, NULL, args);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    tb_rfile f;
    load(path, &f);
    const cJSON *ranks = cJSON_GetObjectItem(f.context, "ranks");
    cr_assert_eq(cJSON_GetArraySize(ranks), 3, "the context lists the 3 ranks");
    for (int k = 0; k < 3; k++) {
        const cJSON *e = cJSON_GetArrayItem(ranks, k);
        cr_assert_eq((int)cJSON_GetObjectItem(e, "rank")->valuedouble, k);
        cr_assert_str_eq(cJSON_GetObjectItem(e, "gpu")->valuestring, "host");
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(e, "host")));
    }
    cr_assert_eq((int)cJSON_GetObjectItem(f.context, "nodes")->valuedouble, 1);
    /* the five host implementations at one size, on each of the three ranks */
    cr_assert_eq(f.n, 15, "rows: %zu", f.n);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(rows_of_rank(&f, k), 5, "rank %d has %d rows", k, rows_of_rank(&f, k));
    /* rows are told apart by rank on one host: no two rows share a key */
    for (size_t i = 0; i < f.n; i++)
        for (size_t j = i + 1; j < f.n; j++)
            cr_assert(strcmp(f.rows[i].key, f.rows[j].key), "rows %zu and %zu share %s", i, j,
                      f.rows[i].key);
    cr_assert(strstr(r->out, "3 ranks on 1 node"), "%s", r->out);
    tb_results_free(&f);
    remove(path);
}

Test(mpi, host_allreduce_over_processes)
{
    char path[512];
    tmp_file(path, sizeof path, "mpi_ar");
    const char *args[] = {"run",   "allreduce", "--host", "--bytes", "8,4100", "--dtype", "fp32",
                          QUICK,   "-o",        path,     NULL};
    mpi_result *r = run_mpi(4, NULL, args);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    tb_rfile f;
    load(path, &f);
    static const char *const impls[] = {"host-mpi", "host-oneshot", "host-twoshot", "host-ring"};
    for (int k = 0; k < 4; k++) {
        int ok = 0;
        for (size_t i = 0; i < f.n; i++)
            if (!strcmp(f.rows[i].impl, impls[k]))
                ok += !strcmp(f.rows[i].status, "ok");
        /* 2 sizes x in/out of place, on 4 ranks, each checked exactly */
        cr_assert_eq(ok, 16, "%s: %d ok rows", impls[k], ok);
    }
    cr_assert(strstr(r->out, "4 ranks on MPI processes"), "%s", r->out);
    tb_results_free(&f);
    remove(path);
}

/* The collectives beside allreduce do not span processes yet: under mpirun each would run
 * among its own process's threads and label the rows with the ranks; they are skipped, with
 * the reason, on every rank alike. */
Test(mpi, collectives_not_across_processes_are_skipped)
{
    char path[512];
    tmp_file(path, sizeof path, "mpi_ag");
    const char *args[] = {"run", "allgather", "--host", "--bytes", "4096", "--dtype", "fp32",
                          QUICK, "-o", path, NULL};
    mpi_result *r = run_mpi(2, NULL, args);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    tb_rfile f;
    load(path, &f);
    cr_assert_gt(f.n, 0);
    for (size_t i = 0; i < f.n; i++) {
        cr_assert_str_eq(f.rows[i].status, "skipped", "row %zu is %s", i, f.rows[i].status);
        cr_assert(strstr(f.rows[i].reason, "across the processes of mpirun"), "%s",
                  f.rows[i].reason);
    }
    tb_results_free(&f);
    remove(path);
}

Test(mpi, different_arguments_exit_2)
{
    char path[512];
    tmp_file(path, sizeof path, "mpi_argv");
    const char *args[] = {"run", "membw", "--host", "--bytes", "1M", QUICK, "-o", path, ":",
                          "run", "membw", "--host", "--bytes", "2M", QUICK, "-o", path, NULL};
    mpi_result *r = run_mpi2(2, 1, NULL, args);
    cr_assert_eq(r->code, 2, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "rank 2 runs other arguments"), "%s", r->err);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0, "no file is written");
}

Test(mpi, hung_rank_exits_4_keeping_rows)
{
    char path[512];
    tmp_file(path, sizeof path, "mpi_hang");
    /* the last rank stops answering in the second size's collective */
    const char *args[] = {"run",   "allreduce", "--host", "--bytes", "8,4100", "--dtype", "fp32",
                          "--impl", "host-ring", "--timeout", "2", QUICK, "-o", path, NULL};
    mpi_result *r = run_mpi(4, "TRAINBENCH_TEST_STALL_BYTES=4100", args);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "timed out"), "%s", r->err);
    tb_rfile f;
    load(path, &f);
    int ok = 0, timed_out = 0;
    for (size_t i = 0; i < f.n; i++) {
        ok += !strcmp(f.rows[i].status, "ok");
        timed_out += f.rows[i].reason && strstr(f.rows[i].reason, "timed out") != NULL;
    }
    cr_assert_eq(ok, 8, "bytes=8 in and out of place on 4 ranks: %d ok rows", ok);
    cr_assert_geq(timed_out, 1, "the hung case is recorded");
    tb_results_free(&f);
    remove(path);
}

/* The pid of the rank's process among mpirun's children (by OMPI_COMM_WORLD_RANK). */
static pid_t rank_pid(pid_t launcher, int rank)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (d && found < 0 && (e = readdir(d))) {
        char p[300], buf[1 << 16];
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        int ppid = -1;
        if (!f)
            continue;
        if (fscanf(f, "%*d %*s %*c %d", &ppid) != 1)
            ppid = -1;
        fclose(f);
        if (ppid != launcher)
            continue;
        snprintf(p, sizeof p, "/proc/%s/environ", e->d_name);
        f = fopen(p, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            if (!strcmp(buf + i, want))
                found = (pid_t)atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

Test(mpi, killed_rank_leaves_a_valid_file)
{
    char path[512], outp[512], errp[512];
    tmp_file(path, sizeof path, "mpi_kill");
    const char *args[] = {"run", "membw", "--host", "--bytes", "1M,2M,4M,8M", "--min-time", "0.05",
                          "--min-samples", "3", "--rounds", "1", "-o", path, NULL};
    pid_t pid = start_mpi(3, 0, NULL, args, outp, errp);
    /* once rank 1's first cases are in rank 0's file, rank 2 is killed */
    int seen = 0;
    for (int i = 0; i < 600 && !seen; i++) {
        struct timespec t = {0, 50000000};
        nanosleep(&t, NULL);
        seen = rank_rows_in(path, 1) > 0;
    }
    cr_assert(seen, "rank 1's rows reach the file");
    /* 4 sizes x 5 implementations per rank: rank 0 is still measuring */
    int own = rank_rows_in(path, 0);
    cr_assert_lt(own, 20, "rank 1's rows arrive while rank 0 measures (rank 0 has %d)", own);
    pid_t victim = rank_pid(pid, 2);
    cr_assert_gt(victim, 0, "rank 2's process is found");
    size_t before = lines_in(path) - 1; /* result rows written by now */
    kill(victim, SIGKILL);
    mpi_result *r = finish_mpi(pid, outp, errp);
    cr_assert_neq(r->code, 0, "the launcher reports the killed rank");
    tb_rfile f;
    load(path, &f);
    cr_assert_geq(f.n, before, "every row written before the kill is kept: %zu of %zu", f.n,
                  before);
    cr_assert_lt(f.n, 60, "the job stopped early (%zu rows)", f.n);
    tb_results_free(&f);
    remove(path);
}

Test(mpi, slow_rank_named_by_the_outlier_table)
{
    char path[512];
    tmp_file(path, sizeof path, "mpi_slow");
    const char *args[] = {"run", "membw", "--host", "--bytes", "1M", QUICK, "-o", path, NULL};
    mpi_result *r = run_mpi(3, "TRAINBENCH_TEST_FAULT=slow-rank:1", args);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    const char *table = strstr(r->out, "slowest ranks:");
    cr_assert_not_null(table, "%s", r->out);
    /* every case of rank 1 is listed: rank is the column after the case */
    int named = 0;
    for (const char *line = strchr(table, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char c[5][64];
        int rank = -1;
        if (sscanf(line + 1, " %63s %63s %63s %63s %d", c[0], c[1], c[2], c[3], &rank) == 5 &&
            !strcmp(c[0], "membw"))
            named += rank == 1;
    }
    cr_assert_eq(named, 5, "rank 1 is named for each of its 5 cases (%d):\n%s", named, table);
    remove(path);
}
