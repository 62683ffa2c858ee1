/* test_world.c - the world of one process, and the table of a job's slowest ranks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "results.h"
#include "world.h"

Test(world, one_process_is_rank_0_of_1)
{
    tb_err err;
    cr_assert_eq(tb_world_init(&err), TB_OK); /* not started by a launcher */
    cr_assert_eq(tb_world_rank(), 0);
    cr_assert_eq(tb_world_size(), 1);
    cr_assert_eq(tb_world_multi(), 0);
    cr_assert_eq(tb_world_nodes(), 1);
    char **all = tb_world_gather_strings("mine");
    cr_assert_not_null(all);
    cr_assert_str_eq(all[0], "mine");
    free(all[0]);
    free(all);
    uint64_t v[1];
    tb_world_allgather_u64(42, v);
    cr_assert_eq(v[0], 42);
    void *base[1];
    tb_world_shm *shm;
    cr_assert_eq(tb_world_shm_alloc(64, &shm, base, &err), TB_SKIP);
    cr_assert(strstr(err.msg, "mpirun"), "%s", err.msg);
}

/* A job's file: case A on ranks 0..4 at 100, 101, 102, 104.9 (4.7 % below: kept) and 125
 * us (20 % below); case B on every rank at 50 us but rank 3's at 60 (16.7 % below). */
static const char *job =
    "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"host\":\"n0\"}\n"
    "%s";

static void row(char *buf, size_t n, const char *impl, int rank, const char *host, double us)
{
    size_t used = strlen(buf);
    snprintf(buf + used, n - used,
             "{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"%s\",\"dtype\":\"fp32\","
             "\"axes\":{\"bytes\":1048576},\"gpus\":[],\"device\":\"host\",\"status\":\"ok\","
             "\"rank\":%d,\"host\":\"%s\",\"time_s\":{\"median\":%g,\"q1\":%g,\"q3\":%g}}\n",
             impl, rank, host, us * 1e-6, us * 1e-6, us * 1e-6);
}

Test(world, outliers_are_rows_more_than_5_pct_below_their_median)
{
    static char rows[1 << 14], text[1 << 15];
    rows[0] = 0;
    const double a[] = {100, 101, 102, 104.9, 125};
    for (int r = 0; r < 5; r++)
        row(rows, sizeof rows, "host-copy", r, r < 3 ? "n0" : "n1", a[r]);
    for (int r = 0; r < 5; r++)
        row(rows, sizeof rows, "host-sum", r, r < 3 ? "n0" : "n1", r == 3 ? 60 : 50);
    snprintf(text, sizeof text, job, rows);
    tb_rfile f;
    tb_err err;
    cr_assert_eq(tb_results_parse(text, strlen(text), "job", &f, NULL, &err), TB_OK, "%s",
                 err.msg);
    cr_assert_eq(f.rows[4].rank, 4);
    cr_assert_str_eq(f.rows[4].gpus_text, "host:4");
    cr_assert_str_eq(f.rows[0].gpus_text, "host");
    char out[8192];
    FILE *m = fmemopen(out, sizeof out, "w");
    size_t n = tb_report_outliers(&f, TB_OUTLIER_PCT, m);
    fclose(m);
    cr_assert_eq(n, 2, "%s", out);
    cr_assert(strstr(out, "4  n1                   host:4      125.000      102.000"), "%s", out);
    cr_assert(strstr(out, "3  n1                   host:3       60.000       50.000"), "%s", out);
    cr_assert(strstr(out, "18.4%"), "host-copy rank 4: 1 - 102/125: %s", out);
    cr_assert(strstr(out, "hosts with slow rows: n1 (2)"), "%s", out);
    cr_assert_null(strstr(out, "104.900"), "4.7 %% below is within the bound: %s", out);
    tb_results_free(&f);
}
