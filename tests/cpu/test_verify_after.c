/* The check after the timed loop, end to end: every benchmark can refill its inputs for it,
 * every row of a host run carries it, and a fault that appears only after some executions
 * (late-corruption) passes the check before timing and is reported wrong by the one after. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "benches.h"
#include "cli_helper.h"

Test(verify_after, every_registered_benchmark_can_refill_its_inputs)
{
    int n = 0;
    for (int i = 0; tb_benches[i]; i++, n++)
        cr_assert_not_null(tb_benches[i]->reinit, "%s has no reinit: its cases would not be "
                                                  "checked after the timed loop",
                           tb_benches[i]->name);
    cr_assert_geq(n, 4, "membw, matmul, attention, allreduce at least");
}

/* The verify object of a result, and its check after timing. */
static cJSON *after_of(cJSON *o)
{
    cJSON *v = cJSON_GetObjectItem(o, "verify");
    cr_assert(cJSON_IsObject(v), "no verify object");
    return cJSON_GetObjectItem(v, "after");
}

Test(verify_after, every_row_of_a_host_run_is_checked_after_timing, .timeout = 600)
{
    char path[512];
    tmp_path(path, sizeof path, "after_all.jsonl");
    cli_result *r = run_cli(NULL, "run", "--host", "--quick", "--min-samples", "2",
                            "--min-time", "0", "--max-noise", "100", "--rounds", "2", "-q",
                            "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    static cJSON *rs[1024];
    int n = results(path, rs, 1024);
    cr_assert_gt(n, 0);
    const char *benches[] = {"membw", "matmul", "attention", "allreduce"};
    int seen[4] = {0};
    for (int i = 0; i < n; i++) {
        const char *bench = cJSON_GetObjectItem(rs[i], "bench")->valuestring;
        cr_assert_str_eq(cJSON_GetObjectItem(rs[i], "status")->valuestring, "ok", "%s", bench);
        cJSON *after = after_of(rs[i]);
        cr_assert(cJSON_IsObject(after), "%s row %d has no verify.after", bench, i);
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(after, "ok")), "%s row %d", bench, i);
        cr_assert_gt(cJSON_GetObjectItem(after, "n_checked")->valuedouble, 0);
        for (int b = 0; b < 4; b++)
            seen[b] += !strcmp(bench, benches[b]);
        cJSON_Delete(rs[i]);
    }
    for (int b = 0; b < 4; b++)
        cr_assert_gt(seen[b], 0, "no %s rows", benches[b]);
    remove(path);
}

/* Runs one benchmark under late-corruption:1 (the first execution, the check before timing,
 * is right; every later one wrong) and asserts each row: wrong, exit 1, timed, right before
 * timing, wrong after it, and the reason says so. */
static void late_corruption_is_caught_after_timing(const char *bench, const char *extra[],
                                                   int expect_rows)
{
    char path[512];
    tmp_path(path, sizeof path, "after_late.jsonl");
    const char *a[32] = {"run", bench, "--host", "--min-samples", "3", "--min-time", "0",
                         "--max-noise", "100", "-q", "-o", path};
    int k = 12;
    for (int i = 0; extra[i]; i++)
        a[k++] = extra[i];
    while (k < 32)
        a[k++] = NULL;
    cli_result *r = run_cli("TRAINBENCH_TEST_FAULT=late-corruption:1", a[0], a[1], a[2], a[3],
                            a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14],
                            a[15], a[16], a[17], a[18], a[19], NULL);
    cr_assert_eq(r->code, 1, "%s: a wrong result exits 1 (%d): %s", bench, r->code, r->err);
    static cJSON *rs[256];
    int n = results(path, rs, 256);
    cr_assert_eq(n, expect_rows, "%s: %d rows", bench, n);
    for (int i = 0; i < n; i++) {
        cJSON *o = rs[i];
        cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "wrong", "%s row %d",
                         bench, i);
        const char *reason = cJSON_GetObjectItem(o, "reason")->valuestring;
        cr_assert(strstr(reason, "after timing: ") == reason, "%s: %s", bench, reason);
        cr_assert_geq(cJSON_GetObjectItem(o, "samples")->valuedouble, 3, "timed first");
        cJSON *v = cJSON_GetObjectItem(o, "verify");
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")), "%s: right before timing", bench);
        cJSON *after = after_of(o);
        cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(after, "ok")), "%s: wrong after", bench);
        cr_assert_gt(cJSON_GetObjectItem(after, "n_wrong")->valuedouble, 0);
        cJSON_Delete(o);
    }
    remove(path);
}

Test(verify_after, late_corruption_in_membw_is_caught_after_timing)
{
    const char *extra[] = {"--impl", "host-copy,host-triad,host-sum", "--bytes", "1M", NULL};
    late_corruption_is_caught_after_timing("membw", extra, 3);
}

Test(verify_after, late_corruption_in_matmul_is_caught_after_timing)
{
    const char *extra[] = {"--dtype", "fp32,bf16", "--size", "96", NULL};
    late_corruption_is_caught_after_timing("matmul", extra, 2);
}

Test(verify_after, late_corruption_in_allreduce_is_caught_after_timing)
{
    const char *extra[] = {"--ranks", "4", "--bytes", "4100", "--dtype", "fp32", NULL};
    /* oneshot, twoshot, ring x out-of-place, in-place */
    late_corruption_is_caught_after_timing("allreduce", extra, 6);
}

Test(verify_after, without_the_fault_the_same_runs_are_ok)
{
    char path[512];
    tmp_path(path, sizeof path, "after_clean.jsonl");
    cli_result *r = run_cli(NULL, "run", "membw", "matmul", "allreduce", "--host", "--impl",
                            "host-copy,host,host-ring", "--bytes", "4100", "--size", "96",
                            "--ranks", "4", "--min-samples", "3", "--min-time", "0",
                            "--max-noise", "100", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    static cJSON *rs[64];
    int n = results(path, rs, 64);
    cr_assert_gt(n, 0);
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(cJSON_GetObjectItem(rs[i], "status")->valuestring, "ok");
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(after_of(rs[i]), "ok")));
        cJSON_Delete(rs[i]);
    }
    remove(path);
}
