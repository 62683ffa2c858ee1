/* `trainbench run allgather|reducescatter|alltoall|broadcast|sendrecv --host` as a user runs
 * them: nccl-tests' figures (size convention, algbw, busbw factor, #wrong) in the file and the
 * table, every element checked, bad input refused, a planted fault reported wrong, a hang
 * aborted by the watchdog. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benches.h"
#include "cli_helper.h"

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    cr_assert(cJSON_IsNumber(v), "'%s' is not a number", k);
    return v->valuedouble;
}

static const char *const benches[] = {"allgather", "reducescatter", "alltoall", "broadcast",
                                      "sendrecv"};

Test(collectives_cli, list_shows_the_six_collectives)
{
    cli_result *r = run_cli(NULL, "list", NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "allreduce - "), "%s", r->out);
    for (int b = 0; b < 5; b++) {
        char head[64];
        snprintf(head, sizeof head, "\n%s - ", benches[b]);
        cr_assert(strstr(r->out, head), "no %s in list", benches[b]);
        cr_assert_not_null(tb_bench_find(benches[b]));
    }
    r = run_cli(NULL, "list", "allgather", NULL);
    cr_assert(strstr(r->out, "bytes of the whole buffer"), "%s", r->out);
    cr_assert(strstr(r->out, "host-p2p") && strstr(r->out, "p2p") && strstr(r->out, "nccl"));
}

/* Every collective on 2, 3 and 4 host ranks: ok, every element of every rank checked, the
 * bytes as nccl-tests counts them (the whole buffer, or one rank's), algbw = bytes / time and
 * busbw = algbw x the collective's factor. */
Test(collectives_cli, host_runs_carry_nccl_tests_figures, .timeout = 600)
{
    for (int b = 0; b < 5; b++) {
        char path[512];
        tmp_path(path, sizeof path, "coll_figures.jsonl");
        cli_result *r = run_cli(NULL, "run", benches[b], "--host", "--ranks", "2,3,4", "--bytes",
                                "100,4100", "--min-samples", "2", "--min-time", "0", "--rounds",
                                "1", "-q", "-o", path, NULL);
        cr_assert_eq(r->code, 0, "%s: %s", benches[b], r->err);
        cr_assert(strstr(r->out, "busbw") && strstr(r->out, "#wrong"), "%s", r->out);
        int whole = b < 3, inplace_too = b == 0 || b == 1 || b == 3;
        static cJSON *rs[512];
        int n = results(path, rs, 512);
        /* host rows x 3 dtypes x 2 sizes x placements x 3 rank counts */
        cr_assert_eq(n, 3 * 2 * (1 + inplace_too) * 3, "%s: %d results", benches[b], n);
        for (int i = 0; i < n; i++) {
            cJSON *o = rs[i];
            cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "ok");
            double ranks = num(o, "ranks");
            double es = !strcmp(cJSON_GetObjectItem(o, "dtype")->valuestring, "fp32") ? 4 : 2;
            double size = num(cJSON_GetObjectItem(o, "axes"), "bytes");
            double count = floor(size / es), chunk = whole ? floor(count / ranks) : count;
            double bytes = chunk * es * (whole ? ranks : 1);
            cr_assert_eq(num(o, "bytes"), bytes, "%s size %g on %g ranks", benches[b], size,
                         ranks);
            double out_elems = b == 0 || b == 2 ? chunk * ranks : chunk;
            cr_assert_eq(num(cJSON_GetObjectItem(o, "verify"), "n_checked"), out_elems * ranks);
            cr_assert_eq(num(o, "n_wrong"), 0);
            double factor = whole ? (ranks - 1) / ranks : 1.0;
            cr_assert_float_eq(num(o, "bus_factor"), factor, 1e-12);
            double algbw = num(o, "algbw_gbps");
            cr_assert_float_eq(algbw, bytes / num(cJSON_GetObjectItem(o, "time_s"), "median") / 1e9,
                               1e-9 * algbw);
            cr_assert_float_eq(num(o, "busbw_gbps"), algbw * factor, 1e-9 * algbw);
            cJSON_Delete(o);
        }
        remove(path);
    }
}

Test(collectives_cli, the_table_names_the_size_convention_and_factor)
{
    cli_result *r = run_cli(NULL, "run", "reducescatter", "--host", "--ranks", "4", "--bytes",
                            "1000", "--dtype", "fp32", "--op", "max", "--min-samples", "1",
                            "--min-time", "0", "--rounds", "1", "-q", NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "reducescatter host-p2p, max, 4 ranks on host threads; busbw = "
                             "algbw x (n-1)/n = x0.750"),
              "%s", r->out);
    /* 1000 bytes of fp32 over 4 ranks: chunk 62, 992 bytes */
    cr_assert(strstr(r->out, "         992          248  fp32   max"), "%s", r->out);
    cr_assert(strstr(r->out, "size is the whole buffer"), "%s", r->out);
    r = run_cli(NULL, "run", "broadcast", "--host", "--ranks", "3", "--bytes", "1000", "--dtype",
                "fp32", "--min-samples", "1", "--min-time", "0", "--rounds", "1", "-q", NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "busbw = algbw x 1 = x1.000"), "%s", r->out);
    cr_assert(strstr(r->out, "        1000          250  fp32  none"), "%s", r->out);
}

Test(collectives_cli, bad_input_is_refused_before_anything_runs)
{
    char path[512];
    tmp_path(path, sizeof path, "coll_bad.jsonl");
    cli_result *r = run_cli(NULL, "run", "alltoall", "--host", "--inplace", "1", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(strstr(r->err, "--inplace: '1'") && strstr(r->err, "out-of-place only"), "%s",
              r->err);
    r = run_cli(NULL, "run", "sendrecv", "--host", "--inplace", "0,1", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "%s", r->err);
    r = run_cli(NULL, "run", "allgather", "--host", "--ranks", "1", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(strstr(r->err, "--ranks: '1'") && strstr(r->err, "from 2 to 16"), "%s", r->err);
    r = run_cli(NULL, "run", "allgather", "--host", "--op", "sum", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(strstr(r->err, "'sum' is not one of none"), "%s", r->err);
    r = run_cli(NULL, "run", "reducescatter", "--host", "--op", "prod", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(strstr(r->err, "'prod' is not one of sum, max, min"), "%s", r->err);
    r = run_cli(NULL, "run", "broadcast", "--ranks", "4", "-o", path, NULL);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(strstr(r->err, "--ranks: sets the host ranks"), "%s", r->err);
    cr_assert(!exists(path), "nothing measured, no file");
}

Test(collectives_cli, sizes_below_one_element_per_rank_are_skipped_with_the_reason)
{
    char path[512];
    tmp_path(path, sizeof path, "coll_tiny.jsonl");
    cli_result *r = run_cli(NULL, "run", "allgather", "--host", "--ranks", "3", "--bytes", "8",
                            "--dtype", "fp32", "--inplace", "0", "--min-samples", "1",
                            "--min-time", "0", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cJSON *rs[4];
    cr_assert_eq(results(path, rs, 4), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(rs[0], "status")->valuestring, "skipped");
    cr_assert(strstr(cJSON_GetObjectItem(rs[0], "reason")->valuestring,
                     "bytes=8 holds no fp32 element per rank"));
    cJSON_Delete(rs[0]);
    remove(path);
}

/* A planted fault (ar-skip-peer, late-corruption) is reported wrong in every collective, the
 * latter only by the check after the timed loop. */
Test(collectives_cli, a_planted_fault_is_wrong_in_every_collective, .timeout = 300)
{
    for (int b = 0; b < 5; b++) {
        char path[512];
        tmp_path(path, sizeof path, "coll_fault.jsonl");
        cli_result *r = run_cli("TRAINBENCH_TEST_FAULT=ar-skip-peer", "run", benches[b], "--host",
                                "--ranks", "3", "--bytes", "4100", "--dtype", "bf16",
                                "--min-samples", "1", "--min-time", "0", "--rounds", "1", "-q",
                                "-o", path, NULL);
        cr_assert_eq(r->code, 1, "%s: %s", benches[b], r->err);
        cJSON *rs[8];
        int n = results(path, rs, 8);
        cr_assert_geq(n, 1);
        for (int i = 0; i < n; i++) {
            cr_assert_str_eq(cJSON_GetObjectItem(rs[i], "status")->valuestring, "wrong",
                             "%s", benches[b]);
            cr_assert_gt(num(rs[i], "n_wrong"), 0);
            cJSON_Delete(rs[i]);
        }
        r = run_cli("TRAINBENCH_TEST_FAULT=late-corruption:2", "run", benches[b], "--host",
                    "--ranks", "3", "--bytes", "4100", "--dtype", "fp32", "--inplace", "0",
                    "--min-samples", "3", "--min-time", "0", "--rounds", "1", "-q", "-o", path,
                    NULL);
        cr_assert_eq(r->code, 1, "%s: %s", benches[b], r->err);
        cr_assert_eq(results(path, rs, 8), 1);
        cJSON *v = cJSON_GetObjectItem(rs[0], "verify");
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")), "the first check passes");
        cr_assert(!cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "after"), "ok")),
                  "%s: the check after timing fails", benches[b]);
        cJSON_Delete(rs[0]);
        remove(path);
    }
}

Test(collectives_cli, a_hang_is_aborted_by_the_watchdog_and_earlier_results_are_kept)
{
    char path[512];
    tmp_path(path, sizeof path, "coll_hang.jsonl");
    cli_result *r = run_cli("TRAINBENCH_TEST_STALL_BYTES=4100", "run", "alltoall", "--host",
                            "--ranks", "3", "--dtype", "fp32", "--bytes", "96,4100,65540",
                            "--timeout", "1", "--min-samples", "1", "--min-time", "0",
                            "--rounds", "1", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 4, "%s", r->err);
    cJSON *rs[8];
    int n = results(path, rs, 8);
    cr_assert_eq(n, 2, "the case before the hang and the hang; nothing after");
    cr_assert_str_eq(cJSON_GetObjectItem(rs[0], "status")->valuestring, "ok");
    cr_assert_str_eq(cJSON_GetObjectItem(rs[1], "status")->valuestring, "error");
    const char *why = cJSON_GetObjectItem(rs[1], "reason")->valuestring;
    cr_assert(!strncmp(why, "timed out after 1 s", 19), "%s", why);
    for (int i = 0; i < n; i++)
        cJSON_Delete(rs[i]);
    remove(path);
}
