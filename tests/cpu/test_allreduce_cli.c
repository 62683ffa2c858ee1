/* `trainbench run allreduce` as a user runs it: the host end to end run, the figures it
 * records, its bad inputs, and the watchdog. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benches.h"
#include "cli_helper.h"
#include "record.h"

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    cr_assert(cJSON_IsNumber(v), "'%s' is not a number", k);
    return v->valuedouble;
}

Test(allreduce_cli, host_quick_end_to_end_is_verified_with_nccl_tests_figures)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_quick.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--host", "--ranks", "2,3,4,8", "--quick",
                            "--rounds", "2", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    /* nccl-tests' table, with both placements */
    cr_assert(strstr(r->out, "out-of-place") && strstr(r->out, "in-place"), "%s", r->out);
    cr_assert(strstr(r->out, "algbw") && strstr(r->out, "busbw") && strstr(r->out, "#wrong"));
    cr_assert(strstr(r->out, "allreduce host-ring, fp32/bf16/fp16 sum, 8 ranks on host threads"),
              "%s", r->out);
    /* one table per implementation and rank count, the dtypes in it: 3 x 4, not 36 */
    int tables = 0;
    for (const char *p = r->out; (p = strstr(p, "busbw = algbw")); p++)
        tables++;
    cr_assert_eq(tables, 12, "%d tables", tables);
    static cJSON *rs[4096];
    int n = results(path, rs, 4096);
    /* 3 implementations x 3 dtypes x 3 sizes x 2 placements x 4 rank counts */
    cr_assert_eq(n, 3 * 3 * 3 * 2 * 4, "%d results", n);
    int seen_ranks[9] = {0};
    for (int i = 0; i < n; i++) {
        cJSON *o = rs[i];
        cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "ok");
        cJSON *v = cJSON_GetObjectItem(o, "verify");
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")));
        double ranks = num(o, "ranks");
        cr_assert_eq(ranks, num(cJSON_GetObjectItem(o, "axes"), "ranks"));
        seen_ranks[(int)ranks]++;
        cr_assert_eq(num(o, "n_wrong"), 0);
        /* every element of every rank checked */
        double elem = !strcmp(cJSON_GetObjectItem(o, "dtype")->valuestring, "fp32") ? 4 : 2;
        cr_assert_eq(num(v, "n_checked"), num(o, "bytes") / elem * ranks);
        double algbw = num(o, "algbw_gbps"), busbw = num(o, "busbw_gbps");
        cr_assert_float_eq(busbw, algbw * 2 * (ranks - 1) / ranks, 1e-9 * busbw);
        cr_assert_float_eq(algbw, num(o, "bytes") / num(cJSON_GetObjectItem(o, "time_s"), "median") / 1e9,
                           1e-9 * algbw);
        cr_assert_float_eq(num(o, "time_us"), num(cJSON_GetObjectItem(o, "time_s"), "median") * 1e6,
                           1e-9);
        cr_assert_str_eq(cJSON_GetObjectItem(o, "timing")->valuestring, "host");
        cJSON_Delete(o);
    }
    cr_assert(seen_ranks[2] && seen_ranks[3] && seen_ranks[4] && seen_ranks[8]);
    remove(path);
}

/* The context line keeps the NCCL_* variables NCCL's rows were run under, and only those. */
Test(allreduce_cli, context_keeps_the_nccl_environment)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_env.jsonl");
    cli_result *r = run_cli("NCCL_ALGO=Ring", "run", "allreduce", "--host", "--ranks", "2",
                            "--bytes", "1K", "--dtype", "fp32", "--inplace", "0", "-q", "-o",
                            path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char line[1 << 16];
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cJSON *ctx = cJSON_Parse(line);
    cJSON *env = cJSON_GetObjectItem(ctx, "nccl_env");
    cr_assert(cJSON_IsObject(env), "%s", line);
    cJSON *algo = cJSON_GetObjectItem(env, "NCCL_ALGO");
    cr_assert(cJSON_IsString(algo), "%s", line);
    cr_assert_str_eq(algo->valuestring, "Ring");
    for (cJSON *e = env->child; e; e = e->next)
        cr_assert(!strncmp(e->string, "NCCL_", 5), "%s", e->string);
    cJSON_Delete(ctx);
    remove(path);
}

Test(allreduce_cli, sizes_not_a_multiple_of_the_dtype_are_rounded_down_with_a_note)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_round.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--host", "--ranks", "3", "--bytes", "1001",
                            "--dtype", "fp32", "--impl", "host-twoshot", "--inplace", "0", "-q",
                            "--min-samples", "1", "--min-time", "0", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "rounded down"), "%s", r->out);
    cr_assert(strstr(r->out, "        1000          250  fp32   sum"), "%s", r->out);
    cJSON *rs[4];
    cr_assert_eq(results(path, rs, 4), 1);
    cr_assert_eq(num(rs[0], "bytes"), 1000);
    cr_assert_eq(num(cJSON_GetObjectItem(rs[0], "axes"), "bytes"), 1001);
    cJSON_Delete(rs[0]);
    remove(path);
}

Test(allreduce_cli, fewer_than_two_host_ranks_is_bad_input)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_one.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--host", "--ranks", "2,1", "-o", path, NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "at least 2 ranks") && strstr(r->err, "not 1"), "%s", r->err);
    cr_assert(!exists(path), "nothing measured, no file");
}

Test(allreduce_cli, rank_options_belong_to_their_mode)
{
    cli_result *r = run_cli(NULL, "run", "allreduce", "--host", "--ranks-per-gpu", "2", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--ranks-per-gpu") && strstr(r->err, "--ranks"), "%s", r->err);
    r = run_cli(NULL, "run", "allreduce", "--ranks", "4", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--ranks: sets the host ranks"), "%s", r->err);
    r = run_cli(NULL, "run", "allreduce", "--host", "--ranks", "17", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'17' is not an integer from 0 to 16"), "%s", r->err);
    r = run_cli(NULL, "run", "allreduce", "--host", "--op", "prod", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'prod' is not one of sum, max, min"), "%s", r->err);
    r = run_cli(NULL, "run", "allreduce", "--host", "--inplace", "2", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--inplace: '2'"), "%s", r->err);
}

Test(allreduce_cli, max_and_min_are_exact_too)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_ops.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--host", "--ranks", "5", "--op", "max,min",
                            "--bytes", "4100", "-q", "--min-samples", "1", "--min-time", "0", "-o",
                            path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    static cJSON *rs[64];
    int n = results(path, rs, 64);
    cr_assert_eq(n, 2 * 3 * 3 * 2, "2 ops x 3 impls x 3 dtypes x 2 placements, got %d", n);
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(cJSON_GetObjectItem(rs[i], "status")->valuestring, "ok");
        cJSON_Delete(rs[i]);
    }
    remove(path);
}

/* report's headline reads allreduce's fields (time_us at 8 B) from a real result file */
Test(allreduce_cli, report_headline_reads_the_latency_at_8_bytes)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_head.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--host", "--ranks", "2", "--bytes", "8",
                            "--impl", "host-oneshot", "--dtype", "fp32", "--inplace", "0", "-q",
                            "--min-samples", "1", "--min-time", "0", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *rs[2];
    cr_assert_eq(results(path, rs, 2), 1);
    double us = num(rs[0], "time_us");
    cJSON_Delete(rs[0]);
    r = run_cli(NULL, "report", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    /* the latency cell, then the power and GFLOP/J cells the file has nothing for */
    char cell[64];
    snprintf(cell, sizeof cell, " | %.4g | – | – |", us);
    cr_assert(strstr(r->out, cell), "no '%s' in\n%s", cell, r->out);
    remove(path);
}

/* A rank that never arrives (injected) must not hang the tool: the case is recorded as timed
 * out, the results before it are kept, and the run stops with exit 4. One round, so the case
 * before the hang is final when the hang comes. */
Test(allreduce_cli, a_hang_is_aborted_by_the_watchdog_and_earlier_results_are_kept)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_hang.jsonl");
    cli_result *r = run_cli("TRAINBENCH_TEST_STALL_BYTES=4100", "run", "allreduce", "--host",
                            "--ranks", "3", "--impl", "host-ring", "--dtype", "fp32", "--inplace",
                            "0", "--bytes", "8,4100,65540", "--timeout", "1", "--min-samples", "1",
                            "--min-time", "0", "--rounds", "1", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 4, "%s", r->err);
    cJSON *rs[8];
    int n = results(path, rs, 8);
    cr_assert_eq(n, 2, "the case before the hang and the hang; nothing after");
    cr_assert_str_eq(cJSON_GetObjectItem(rs[0], "status")->valuestring, "ok");
    cr_assert_str_eq(cJSON_GetObjectItem(rs[1], "status")->valuestring, "error");
    const char *why = cJSON_GetObjectItem(rs[1], "reason")->valuestring;
    cr_assert(!strncmp(why, "timed out after 1 s", 19), "%s", why);
    cr_assert(strstr(r->out, "error: timed out"), "%s", r->out);
    for (int i = 0; i < n; i++)
        cJSON_Delete(rs[i]);
    remove(path);
}

/* The group rule the command line enforces on GPUs: fewer than two ranks is refused with the
 * reason (checked here through the benchmark's table; the GPU tests run the command). */
Test(allreduce_cli, one_gpu_with_one_rank_is_not_a_group)
{
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_allreduce;
    c.impl = tb_bench_impl(&tb_bench_allreduce, "ring");
    c.dtype = TB_FP32;
    c.axis[0] = 1024;
    c.axis[3] = 1; /* ranks per GPU */
    tb_collective coll;
    tb_err err;
    cr_assert_eq(tb_bench_allreduce.collective(&c, 1, &coll, &err), TB_SKIP);
    cr_assert(strstr(err.msg, "at least 2 ranks: 1 GPU x 1 rank per GPU"), "%s", err.msg);
    c.axis[3] = 4;
    cr_assert_eq(tb_bench_allreduce.collective(&c, 1, &coll, &err), TB_OK);
    cr_assert_eq(coll.ranks, 4);
    cr_assert(coll.shared_device, "virtual ranks are not a bandwidth measurement");
    cr_assert_float_eq(coll.bus_factor, 1.5, 1e-12);
    cr_assert_eq(tb_bench_allreduce.collective(&c, 8, &coll, &err), TB_SKIP, "32 ranks");
    c.axis[3] = 1;
    cr_assert_eq(tb_bench_allreduce.collective(&c, 8, &coll, &err), TB_OK);
    cr_assert_float_eq(coll.bus_factor, 1.75, 1e-12);
    cr_assert(!coll.shared_device);
}

/* The end-of-run table on made-up GPU results: % of NCCL per size and the crossover sizes. */
Test(allreduce_cli, end_table_gives_percent_of_nccl_and_the_crossovers)
{
    static tb_device gpus[2];
    memset(gpus, 0, sizeof gpus);
    gpus[0].ordinal = 0;
    gpus[1].ordinal = 1;
    const tb_impl *nccl = tb_bench_impl(&tb_bench_allreduce, "nccl");
    const tb_impl *ring = tb_bench_impl(&tb_bench_allreduce, "ring");
    static tb_result rs[8];
    const tb_result *ptrs[8];
    /* made-up times, not measurements: the ring rows are given less time than NCCL's at 8 B
     * and 1K and more at 1M and 1G */
    const int64_t sizes[] = {8, 1024, 1 << 20, 1 << 30};
    const double nccl_s[] = {10e-6, 12e-6, 40e-6, 10e-3}, ring_s[] = {5e-6, 10e-6, 80e-6, 20e-3};
    for (int i = 0; i < 8; i++) {
        tb_result *r = &rs[i];
        memset(r, 0, sizeof *r);
        r->c.bench = &tb_bench_allreduce;
        r->c.impl = i < 4 ? nccl : ring;
        r->c.dtype = TB_FP32;
        r->c.axis[0] = sizes[i % 4];
        r->c.axis[3] = 1;
        r->device = &gpus[0];
        r->group = gpus;
        r->n_group = 2;
        r->coll.ranks = 2;
        r->coll.bus_factor = 1.0;
        r->status = TB_OK;
        r->have_stats = 1;
        r->stats.median = i < 4 ? nccl_s[i] : ring_s[i - 4];
        r->stats.p99 = r->stats.median * 1.5;
        r->timing = sizes[i % 4] < 4096 ? "graph" : "batch";
        r->gbps = (double)sizes[i % 4] / r->stats.median / 1e9;
        r->busbw_gbps = r->gbps;
        r->have_verify = 1;
        ptrs[i] = r;
    }
    char buf[16384];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    tb_bench_allreduce.end_tables(ptrs, 8, f);
    fclose(f);
    cr_assert(strstr(buf, "allreduce ring, fp32 sum, 2 ranks on GPUs 0,1"), "%s", buf);
    /* 8 B: NCCL 10 us over ring 5 us; its p99 too, as a graph was timed */
    cr_assert(strstr(buf, "           8            2  fp32   sum       5.00     7.50     0.00     0.00       0   200%"),
              "%s", buf);
    cr_assert(strstr(buf, "1073741824    268435456  fp32   sum   20000.00        -    53.69    53.69       0    50%"),
              "%s", buf);
    cr_assert(strstr(buf, "crossover, out-of-place: faster than nccl 8..1K; slower than nccl 1M..1G"),
              "%s", buf);
}

/* ar-skip-peer: every host schedule at 4 ranks and several sizes is wrong with the fault (the
 * exact check and the norm-wise measure per rank buffer both fail) and ok without it. */
Test(allreduce_cli, a_skipped_peer_is_wrong_in_every_schedule_and_size, .timeout = 300)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_skip.jsonl");
    for (int fault = 1; fault >= 0; fault--) {
        cli_result *r = run_cli(fault ? "TRAINBENCH_TEST_FAULT=ar-skip-peer" : NULL, "run",
                                "allreduce", "--host", "--ranks", "4", "--bytes",
                                "4100,65540,1M", "--dtype", "fp32,bf16", "--min-samples", "3",
                                "--min-time", "0", "-q", "-o", path, NULL);
        cr_assert_eq(r->code, fault ? 1 : 0, "fault %d: exit %d: %s", fault, r->code, r->err);
        static cJSON *rs[64];
        int n = results(path, rs, 64);
        /* 3 schedules x 3 sizes x 2 dtypes x 2 placements */
        cr_assert_eq(n, 36, "%d rows", n);
        for (int i = 0; i < n; i++) {
            cJSON *o = rs[i];
            const char *impl = cJSON_GetObjectItem(o, "impl")->valuestring;
            cJSON *v = cJSON_GetObjectItem(o, "verify");
            cJSON *norm = cJSON_GetObjectItem(v, "norm");
            cr_assert_str_eq(cJSON_GetObjectItem(norm, "unit")->valuestring, "rank buffer");
            cr_assert_eq(num(norm, "n"), 4);
            cr_assert_eq(num(norm, "bound"), 0, "exact");
            if (fault) {
                cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "wrong", "%s",
                                 impl);
                cr_assert_gt(num(v, "n_wrong"), 0, "%s", impl);
                cr_assert_eq(num(norm, "n_failed"), 4, "%s: every rank's buffer", impl);
                cr_assert_gt(num(norm, "worst"), 0.1, "%s", impl);
            } else {
                cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "ok", "%s", impl);
                cr_assert_eq(num(norm, "worst"), 0);
                cr_assert_eq(num(cJSON_GetObjectItem(v, "after"), "n_wrong"), 0);
            }
            cJSON_Delete(o);
        }
    }
    remove(path);
}
