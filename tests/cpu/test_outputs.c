/* What trainbench run does to the files and streams it writes: every output path is checked
 * before any is touched, nothing it did not create is removed or truncated, every write is
 * checked, and an interrupted run says what it wrote. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_helper.h"

#define Q "--min-samples", "1", "--min-time", "0", "--timeout", "0.05"

typedef struct {
    const char *cwd;      /* working directory of the run, or NULL */
    const char *out_path; /* stdout goes here (default: a file read back into out) */
    long fsize_limit;     /* RLIMIT_FSIZE in bytes, or 0 */
} spawn_opts;

typedef struct {
    pid_t pid;
    char outp[512], errp[512];
} child;

static void spawn(child *c, const spawn_opts *o, const char *const *args)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = TB_BINARY;
    for (int i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    static int seq;
    snprintf(c->outp, sizeof c->outp, "%s/outs_%d_%d.out", TB_TEST_TMP, (int)getpid(), seq);
    snprintf(c->errp, sizeof c->errp, "%s/outs_%d_%d.err", TB_TEST_TMP, (int)getpid(), seq++);
    c->pid = fork();
    if (c->pid == 0) {
        int out = open(o && o->out_path ? o->out_path : c->outp, O_WRONLY | O_CREAT | O_TRUNC,
                       0644);
        int e = open(c->errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1);
        dup2(e, 2);
        if (o && o->cwd && chdir(o->cwd) != 0)
            _exit(126);
        if (o && o->fsize_limit) {
            signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
            struct rlimit rl = {(rlim_t)o->fsize_limit, (rlim_t)o->fsize_limit};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execv(TB_BINARY, (char *const *)argv);
        _exit(127);
    }
}

static int finish(child *c, cli_result *r)
{
    int status = 0;
    waitpid(c->pid, &status, 0);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    slurp(c->outp, r->out, sizeof r->out);
    slurp(c->errp, r->err, sizeof r->err);
    remove(c->outp);
    remove(c->errp);
    return r->code;
}

static cli_result *run_with(const spawn_opts *o, const char *const *args)
{
    static cli_result r;
    child c;
    spawn(&c, o, args);
    finish(&c, &r);
    return &r;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void read_text(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    slurp(path, buf, n);
}

/* Each line of a result file is a JSON object; returns how many, or -1 when one is not. */
static int valid_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    static char line[1 << 16];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o) || line[strlen(line) - 1] != '\n') {
            cJSON_Delete(o);
            fclose(f);
            return -1;
        }
        cJSON_Delete(o);
        n++;
    }
    fclose(f);
    return n;
}

Test(outputs, bad_csv_path_keeps_the_existing_output_file)
{
    char prev[512];
    tmp_path(prev, sizeof prev, "prev.jsonl");
    write_text(prev, "keep\n");
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          "-o", prev, "--csv", "/nonexistent-dir/x.csv", NULL};
    cli_result *r = run_with(NULL, args);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(strstr(r->err, "/nonexistent-dir/x.csv"), "%s", r->err);
    char text[64];
    read_text(prev, text, sizeof text);
    cr_assert_str_eq(text, "keep\n", "the -o file was touched");
    remove(prev);

    /* a new -o file is not left behind either */
    char fresh[512];
    tmp_path(fresh, sizeof fresh, "fresh.jsonl");
    const char *args2[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                           "-o", fresh, "--csv", "/nonexistent-dir/x.csv", NULL};
    r = run_with(NULL, args2);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(!exists(fresh), "a file was left at %s", fresh);
}

Test(outputs, same_file_for_jsonl_and_csv_is_refused)
{
    char dir[512], a[600], b[600], link[600];
    tmp_path(dir, sizeof dir, "same_dir");
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(a, sizeof a, "%s/r.jsonl", dir);
    snprintf(b, sizeof b, "%s/./r.jsonl", dir);
    snprintf(link, sizeof link, "%s/link.csv", dir);
    write_text(a, "keep\n");
    cr_assert_eq(symlink("r.jsonl", link), 0);
    const char *const targets[] = {a, b, link};
    for (int i = 0; i < 3; i++) {
        const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                              "-o", a, "--csv", targets[i], NULL};
        cli_result *r = run_with(NULL, args);
        cr_assert_eq(r->code, 2, "--csv %s: exit %d, %s", targets[i], r->code, r->err);
        cr_assert(strstr(r->err, "same file"), "%s", r->err);
        char text[64];
        read_text(a, text, sizeof text);
        cr_assert_str_eq(text, "keep\n");
    }
    /* a new file named twice: refused, and not left behind */
    char fresh[600];
    snprintf(fresh, sizeof fresh, "%s/new.jsonl", dir);
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          "-o", fresh, "--csv", fresh, NULL};
    cli_result *r = run_with(NULL, args);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(!exists(fresh));
    remove(link);
    remove(a);
    rmdir(dir);
}

Test(outputs, csv_write_error_exits_4)
{
    char path[512];
    tmp_path(path, sizeof path, "csvfull.jsonl");
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          "-o", path, "--csv", "/dev/full", NULL};
    cli_result *r = run_with(NULL, args);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "/dev/full"), "%s", r->err);
    cr_assert_geq(valid_lines(path), 1, "the result file is whole");
    cr_assert(exists("/dev/full"), "the device node is still there");
    remove(path);
}

Test(outputs, stdout_write_error_exits_4)
{
    char path[512];
    tmp_path(path, sizeof path, "stdoutfull.jsonl");
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          "-o", path, NULL};
    spawn_opts o = {NULL, "/dev/full", 0};
    cli_result *r = run_with(&o, args);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->err, "standard output"), "%s", r->err);
    cr_assert_eq(valid_lines(path), 2, "the result file is kept whole");
    remove(path);
}

/* -o naming a link (or a device node: the same path through open) is never removed. */
Test(outputs, output_through_a_link_is_left_in_place)
{
    char target[512], link[512];
    tmp_path(target, sizeof target, "link_target.jsonl");
    tmp_path(link, sizeof link, "link.jsonl");
    write_text(target, "keep\n");
    cr_assert_eq(symlink(target, link), 0);
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          "-o", link, "--csv", "/nonexistent-dir/x.csv", NULL};
    cli_result *r = run_with(NULL, args);
    cr_assert_eq(r->code, 2, "%s", r->err);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0, "the link was removed");
    cr_assert(S_ISLNK(st.st_mode));
    char text[64];
    read_text(target, text, sizeof text);
    cr_assert_str_eq(text, "keep\n");
    remove(link);
    remove(target);
}

static void host_name(char *buf, size_t n)
{
    gethostname(buf, n - 1);
    buf[n - 1] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Existing files at the default path (this second and the next few) are never truncated; the
 * run takes a new name beside them. */
Test(outputs, default_path_never_overwrites)
{
    char dir[512], res[600], host[128];
    tmp_path(dir, sizeof dir, "defpath");
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(res, sizeof res, "%s/results", dir);
    cr_assert_eq(mkdir(res, 0755), 0);
    host_name(host, sizeof host);
    time_t now = time(NULL);
    char taken[8][800];
    for (int k = 0; k < 8; k++) {
        time_t t = now + k;
        struct tm tm;
        localtime_r(&t, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(taken[k], sizeof taken[k], "%s/%s-%s.jsonl", res, host, stamp);
        write_text(taken[k], "keep\n");
    }
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          NULL};
    spawn_opts o = {dir, NULL, 0};
    cli_result *r = run_with(&o, args);
    cr_assert_eq(r->code, 0, "%s", r->err);
    for (int k = 0; k < 8; k++) {
        char text[64];
        read_text(taken[k], text, sizeof text);
        cr_assert_str_eq(text, "keep\n", "%s was overwritten", taken[k]);
    }
    cr_assert_eq(count_files(res), 9, "one new file beside the 8");
    const char *p = strstr(r->out, "results: ");
    cr_assert_not_null(p, "%s", r->out);
    char written[800];
    snprintf(written, sizeof written, "%s/%.*s", dir, (int)strcspn(p + 9, "\n"), p + 9);
    cr_assert_eq(valid_lines(written), 2, "%s", written);
    for (int k = 0; k < 8; k++)
        remove(taken[k]);
    remove(written);
    rmdir(res);
    rmdir(dir);
}

/* Runs started together in one directory each get their own file. */
Test(outputs, concurrent_runs_get_separate_files)
{
    char dir[512], res[600];
    tmp_path(dir, sizeof dir, "concurrent");
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(res, sizeof res, "%s/results", dir);
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          NULL};
    spawn_opts o = {dir, NULL, 0};
    child c[4];
    for (int i = 0; i < 4; i++)
        spawn(&c[i], &o, args);
    for (int i = 0; i < 4; i++) {
        cli_result r;
        cr_assert_eq(finish(&c[i], &r), 0, "%s", r.err);
    }
    cr_assert_eq(count_files(res), 4, "four runs, four files");
    DIR *d = opendir(res);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", res, e->d_name);
        cr_assert_eq(valid_lines(p), 2, "%s: not one context and one result", p);
        remove(p);
    }
    closedir(d);
    rmdir(res);
    rmdir(dir);
}

/* The summary counts the results that reached the file, not the ones measured. */
Test(outputs, summary_counts_what_was_written)
{
    char path[512];
    tmp_path(path, sizeof path, "fsize.jsonl");
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M,2M,4M",
                          Q, "-o", path, NULL};
    cli_result *r = run_with(NULL, args);
    cr_assert_eq(r->code, 0, "%s", r->err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    /* room for the context and about one and a half results */
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    long first = 0, second = 0;
    if (fgets(line, sizeof line, f))
        first = (long)strlen(line);
    if (fgets(line, sizeof line, f))
        second = (long)strlen(line);
    fclose(f);
    remove(path);
    spawn_opts o = {NULL, NULL, first + second + second / 2};
    r = run_with(&o, args);
    cr_assert_eq(r->code, 4, "exit %d: %s", r->code, r->err);
    int lines = valid_lines(path);
    cr_assert_eq(lines, 2, "the context and one whole result, got %d", lines);
    cr_assert(strstr(r->out, "1 ok, 0 wrong, 0 skipped, 0 failed"), "%s", r->out);
    remove(path);
}

static void wait_for_lines(const char *path, int n, double max_s)
{
    for (double t = 0; t < max_s; t += 0.01) {
        if (valid_lines(path) >= n)
            return;
        usleep(10000);
    }
}

/* SIGINT and SIGTERM: 128 + signal, after saying what was written and where. */
Test(outputs, signal_prints_the_summary, .timeout = 120)
{
    static const int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        char path[512];
        tmp_path(path, sizeof path, "sig.jsonl");
        /* six cases of at least 0.3 s, one round (a row is written when its case's last
         * round ends): the run is still going after the second */
        const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes",
                              "1M:32M:x2", "--min-samples", "1", "--min-time", "0.3", "--timeout",
                              "5", "--rounds", "1", "-o", path, NULL};
        child c;
        spawn(&c, NULL, args);
        wait_for_lines(path, 3, 60);
        kill(c.pid, sigs[i]);
        cli_result r;
        finish(&c, &r);
        cr_assert_eq(r.code, 128 + sigs[i], "exit %d: %s", r.code, r.err);
        int lines = valid_lines(path);
        cr_assert_geq(lines, 3, "the results written stay whole");
        char expect[700];
        snprintf(expect, sizeof expect, "%d ok, 0 wrong, 0 skipped, 0 failed; results: %s",
                 lines - 1, path);
        cr_assert(strstr(r.err, expect), "expected '%s' in: %s", expect, r.err);
        cr_assert(strstr(r.err, sigs[i] == SIGINT ? "SIGINT" : "SIGTERM"), "%s", r.err);
        remove(path);
    }
}

/* A run piped into head: every case that finished is whole in the file. */
Test(outputs, piped_into_head_keeps_a_complete_file, .timeout = 120)
{
    char path[512], cmd[2048];
    tmp_path(path, sizeof path, "head.jsonl");
    snprintf(cmd, sizeof cmd,
             "'%s' run membw --host --impl host-copy,host-triad --bytes 1M:16M:x2 --min-samples 1 "
             "--min-time 0 --timeout 0.05 -o '%s' | head -n 2 >/dev/null",
             TB_BINARY, path);
    cr_assert_eq(system(cmd), 0);
    int lines = valid_lines(path);
    cr_assert_geq(lines, 2, "at least one result, whole; got %d", lines);
    remove(path);
}

Test(outputs, seed_is_stored_exactly)
{
    char path[512];
    tmp_path(path, sizeof path, "seed.jsonl");
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          "--seed", "9223372036854775807", "-o", path, NULL};
    cli_result *r = run_with(NULL, args);
    cr_assert_eq(r->code, 0, "%s", r->err);
    static char text[1 << 16];
    read_text(path, text, sizeof text);
    cr_assert(strstr(text, "\"seed\":9223372036854775807,") ||
                  strstr(text, "\"seed\":9223372036854775807}"),
              "%.2000s", text);
    remove(path);
}

/* A refused run leaves no results/ directory behind where it made one. */
Test(outputs, refused_run_leaves_no_results_directory)
{
    char dir[512], res[600];
    tmp_path(dir, sizeof dir, "nodir");
    cr_assert_eq(mkdir(dir, 0755), 0);
    const char *args[] = {"run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M", Q,
                          "--csv", "/nonexistent-dir/x.csv", NULL};
    spawn_opts o = {dir, NULL, 0};
    cli_result *r = run_with(&o, args);
    cr_assert_eq(r->code, 2, "%s", r->err);
    snprintf(res, sizeof res, "%s/results", dir);
    cr_assert(!exists(res), "results/ was left behind");
    rmdir(dir);
}
