/* allreduce on GPUs, through the command line: virtual ranks on one GPU (the kernels and their
 * flag protocol, every dtype, odd sizes, in and out of place, graph and batch timing), the
 * refusal of a one-rank group, and real ranks where several GPUs are visible. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "../cpu/cli_helper.h"
#include "gpu_helper.h"

/* Every result of the file: its status is one of `allowed` (space-separated words), and an
 * ok result was checked on every element with nothing wrong. Returns the number of ok ones. */
static int check_results(const char *path, const char *allowed, int want_bandwidth)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no result file");
    static char line[1 << 16];
    int ok = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        if (lineno++ == 0)
            continue;
        cJSON *o = cJSON_Parse(line);
        const char *st = cJSON_GetObjectItem(o, "status")->valuestring;
        const cJSON *why = cJSON_GetObjectItem(o, "reason");
        cr_assert(strstr(allowed, st), "status %s: %s", st,
                  cJSON_IsString(why) ? why->valuestring : "");
        if (!strcmp(st, "ok")) {
            ok++;
            cr_assert_eq(cJSON_GetObjectItem(o, "n_wrong")->valuedouble, 0);
            cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "verify"), "ok")));
            cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(o, "bandwidth_measurement")),
                         want_bandwidth);
        }
        cJSON_Delete(o);
    }
    fclose(f);
    return ok;
}

Test(allreduce_gpu, virtual_ranks_on_one_gpu_are_exact, .init = need_gpu)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_gpu_virtual.jsonl");
    /* 1 element, a partial vector, odd sizes, one large enough for many ring rounds, and one
     * (64 MiB + 4) whose ring pieces grow past their 32 KiB base, over two rounds */
    cli_result *r = run_cli(NULL, "run", "allreduce", "--gpus", "0", "--ranks-per-gpu", "2,3,4",
                            "--impl", "oneshot,twoshot,ring", "--bytes",
                            "4,36,65540,4194308,67108868",
                            "--min-samples", "2", "--min-time", "0", "--max-noise", "100",
                            "--timeout", "30", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s\n%s", r->err, r->out);
    /* 3 ranks-per-gpu x 3 impls x 3 dtypes x 5 sizes x 2 placements (4 bytes hold one fp32
     * element, two bf16 or fp16 ones) */
    cr_assert_eq(check_results(path, "ok", 0), 3 * 3 * 3 * 5 * 2);
    cr_assert(strstr(r->out, "not a bandwidth measurement"), "%s", r->out);
    remove(path);
}

Test(allreduce_gpu, max_and_min_on_virtual_ranks, .init = need_gpu)
{
    char path[512];
    tmp_path(path, sizeof path, "ar_gpu_ops.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--gpus", "0", "--ranks-per-gpu", "5",
                            "--op", "max,min", "--bytes", "100004", "--dtype", "bf16,fp16",
                            "--impl", "oneshot,twoshot,ring", "--min-samples", "1", "--min-time",
                            "0", "--timeout", "30", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert_eq(check_results(path, "ok", 0), 2 * 2 * 3 * 2);
    remove(path);
}

Test(allreduce_gpu, one_rank_is_not_a_group, .init = need_gpu)
{
    cli_result *r = run_cli(NULL, "run", "allreduce", "--gpus", "0", NULL);
    cr_assert_eq(r->code, 2, "%s", r->err);
    cr_assert(strstr(r->err, "at least 2 ranks"), "%s", r->err);
    char bad[32];
    snprintf(bad, sizeof bad, "%d", ndev);
    r = run_cli(NULL, "run", "allreduce", "--gpus", bad, NULL);
    cr_assert_eq(r->code, 2, "GPU %s does not exist: %s", bad, r->err);
}

Test(allreduce_gpu, real_ranks_on_every_gpu_against_nccl, .init = need_gpu)
{
    if (ndev < 2)
        cr_skip_test("one GPU: real ranks need two (the virtual-rank tests cover the kernels)");
    char path[512];
    tmp_path(path, sizeof path, "ar_gpu_real.jsonl");
    cli_result *r = run_cli(NULL, "run", "allreduce", "--bytes", "8,65540,4194308,67108864",
                            "--dtype", "fp32,bf16", "--min-samples", "2", "--min-time", "0",
                            "--max-noise", "100", "--timeout", "30", "-q", "-o", path, NULL);
    /* GPUs without P2P between them skip the hand-written rows, with the reason */
    cr_assert(r->code == 0, "%s", r->err);
    cr_assert_gt(check_results(path, "ok skipped", 1), 0);
    cr_assert(strstr(r->out, "busbw"), "%s", r->out);
    remove(path);
}
