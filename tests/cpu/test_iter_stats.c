/* Per-iteration statistics (harness/stats.c tb_iter_stats_compute): the per-operation figures
 * and the straggler from known inputs; then through `trainbench run`, the straggler a planted
 * slow-rank:R names, on host threads. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "cli_helper.h"
#include "results.h"
#include "stats.h"

Test(iter_stats, per_operation_min_max_p99_and_cv)
{
    const double op[] = {2, 4, 4, 4, 5, 5, 7, 9};
    tb_iter_stats it;
    cr_assert_eq(tb_iter_stats_compute(op, NULL, 8, 0, &it), 0);
    cr_assert_eq(it.n, 8);
    cr_assert_float_eq(it.min, 2, 1e-12);
    cr_assert_float_eq(it.max, 9, 1e-12);
    /* 0.99 x 7 = 6.93 between the 7th (7) and 8th (9) sorted values */
    cr_assert_float_eq(it.p99, 7 + 0.93 * 2, 1e-12);
    /* mean 5, sample stdev sqrt(32 / 7) */
    cr_assert_float_eq(it.cv, sqrt(32.0 / 7) / 5, 1e-12);
    cr_assert_eq(it.ranks, 0);
    cr_assert_eq(it.straggler, -1, "no rank times: no straggler");
    cr_assert(isnan(it.rank_mean));
    cr_assert_eq(tb_iter_stats_compute(op, NULL, 0, 0, &it), -1);
}

Test(iter_stats, the_straggler_is_the_rank_slowest_most_often)
{
    /* 5 operations x 3 ranks: rank 2 slowest three times, rank 0 twice */
    const double op[] = {1, 1, 1, 1, 1};
    const double rk[] = {5, 1, 2, /**/ 1, 1, 3, /**/ 1, 2, 4, /**/ 6, 1, 1, /**/ 1, 1, 2};
    tb_iter_stats it;
    cr_assert_eq(tb_iter_stats_compute(op, rk, 5, 3, &it), 0);
    cr_assert_eq(it.ranks, 3);
    cr_assert_eq(it.straggler, 2);
    cr_assert_eq(it.straggler_count, 3);
    /* rank means 14/5, 6/5, 12/5 */
    cr_assert_float_eq(it.rank_min, 1.2, 1e-12);
    cr_assert_float_eq(it.rank_max, 2.8, 1e-12);
    cr_assert_float_eq(it.rank_mean, (2.8 + 1.2 + 2.4) / 3, 1e-12);
    /* a tie goes to the lowest rank */
    const double tie[] = {2, 1, /**/ 1, 2};
    cr_assert_eq(tb_iter_stats_compute(op, tie, 2, 2, &it), 0);
    cr_assert_eq(it.straggler, 0);
    cr_assert_eq(it.straggler_count, 1);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    cr_assert(cJSON_IsNumber(v), "'%s' is not a number", k);
    return v->valuedouble;
}

/* slow-rank:R makes host rank R spin as long again after its part: it is the straggler in
 * (nearly) every operation (5 to 20 of them, as the pass's time budget allows), the row and the table say so, and the figures are consistent. */
Test(iter_stats, a_slow_host_rank_is_named_the_straggler, .timeout = 300)
{
    static const char *const benches[] = {"allgather", "reducescatter", "alltoall", "broadcast",
                                          "sendrecv"};
    for (int b = 0; b < 5; b++) {
        char path[512];
        tmp_path(path, sizeof path, "iter_slow.jsonl");
        cli_result *r = run_cli("TRAINBENCH_TEST_FAULT=slow-rank:2", "run", benches[b],
                                "--host", "--ranks", "4", "--bytes", "262144", "--dtype", "fp32",
                                "--inplace", "0", "--min-samples", "1", "--min-time", "0",
                                "--rounds", "1", "-q", "-o", path, NULL);
        cr_assert_eq(r->code, 0, "%s: %s", benches[b], r->err);
        cr_assert(strstr(r->out, "slowest rank 2 ("), "%s: %s", benches[b], r->out);
        cr_assert(strstr(r->out, "host/-      2 ("), "the end table's column: %s", r->out);
        cJSON *rs[2];
        cr_assert_eq(results(path, rs, 2), 1);
        cJSON *it = cJSON_GetObjectItem(rs[0], "iters");
        cr_assert(cJSON_IsObject(it), "%s: no iters", benches[b]);
        double n = num(it, "n");
        cr_assert(n >= 5 && n <= 20, "%g operations", n);
        cr_assert_eq(num(it, "straggler"), 2, "%s", benches[b]);
        cr_assert_geq(num(it, "straggler_count"), 0.75 * n, "%s", benches[b]);
        cr_assert_leq(num(it, "min_s"), num(it, "p99_s"));
        cr_assert_leq(num(it, "p99_s"), num(it, "max_s"));
        cJSON *rk = cJSON_GetObjectItem(it, "rank_time_s");
        cr_assert_leq(num(rk, "min"), num(rk, "mean"));
        cr_assert_leq(num(rk, "mean"), num(rk, "max"));
        cJSON_Delete(rs[0]);
        remove(path);
    }
}

/* allreduce rows carry the per-operation figures and each rank's time too. */
Test(iter_stats, allreduce_rows_carry_per_operation_figures_and_the_straggler)
{
    char path[512];
    tmp_path(path, sizeof path, "iter_ar.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--host", "--ranks", "3", "--bytes", "4100",
                            "--dtype", "fp32", "--inplace", "0", "--impl", "host-ring",
                            "--min-samples", "1", "--min-time", "0", "--rounds", "1", "-q", "-o",
                            path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "per op p99"), "%s", r->out);
    cJSON *rs[2];
    cr_assert_eq(results(path, rs, 2), 1);
    cJSON *it = cJSON_GetObjectItem(rs[0], "iters");
    double n = num(it, "n");
    cr_assert(n >= 5 && n <= 20, "%g operations", n);
    cr_assert_gt(num(it, "max_s"), 0);
    double slowest = num(it, "straggler");
    cr_assert(slowest >= 0 && slowest < 3, "straggler %g", slowest);
    cr_assert_geq(num(it, "straggler_count"), n / 3, "the most often slowest of 3 ranks");
    cr_assert(strstr(r->out, "slowest rank "), "%s", r->out);
    cJSON_Delete(rs[0]);
    remove(path);
}

/* The result reader keeps the per-iteration figures and refuses a malformed straggler. */
#define CTX "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"gpus\":[]}\n"
#define ROW(extra)                                                                             \
    "{\"type\":\"result\",\"bench\":\"allgather\",\"impl\":\"nccl\",\"dtype\":\"fp32\","      \
    "\"axes\":{\"bytes\":1048576},\"gpus\":[0,1],\"status\":\"ok\"" extra "}\n"

Test(iter_stats, the_reader_keeps_them_and_refuses_a_bad_straggler)
{
    const char *text = CTX ROW(",\"iters\":{\"n\":20,\"p99_s\":3e-5,\"cv\":0.25,\"straggler\":3}")
        ROW(",\"iters\":null") ROW("");
    tb_rfile f;
    tb_err err;
    cr_assert_eq(tb_results_parse(text, strlen(text), "r.jsonl", &f, NULL, &err), TB_OK, "%s",
                 err.msg);
    cr_assert_eq(f.n, 3);
    cr_assert_float_eq(f.rows[0].iter_p99, 3e-5, 1e-18);
    cr_assert_float_eq(f.rows[0].iter_cv, 0.25, 1e-15);
    cr_assert_eq(f.rows[0].straggler, 3);
    cr_assert_eq(f.rows[1].straggler, -1);
    cr_assert(isnan(f.rows[2].iter_p99));
    tb_results_free(&f);
    static const char *const bad[] = {",\"iters\":{\"straggler\":-1}",
                                      ",\"iters\":{\"straggler\":1.5}",
                                      ",\"iters\":{\"straggler\":\"2\"}", ",\"iters\":[1]"};
    for (int i = 0; i < 4; i++) {
        char t[512];
        snprintf(t, sizeof t, "%s{\"type\":\"result\",\"bench\":\"allgather\",\"impl\":\"nccl\","
                 "\"dtype\":\"fp32\",\"axes\":{\"bytes\":8},\"status\":\"ok\"%s}\n", CTX, bad[i]);
        cr_assert_eq(tb_results_parse(t, strlen(t), "r.jsonl", &f, NULL, &err), TB_USAGE, "%s",
                     bad[i]);
        cr_assert(strstr(err.msg, "r.jsonl:2: ") && strstr(err.msg, "iters"), "%s", err.msg);
    }
}
