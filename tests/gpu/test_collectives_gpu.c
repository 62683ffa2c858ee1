/* allgather, reducescatter and alltoall on GPUs, through the command line: virtual ranks on one
 * GPU (the P2P kernels and their flag protocol, every dtype, odd sizes that leave chunks off
 * the 16-byte vector, in and out of place), and NCCL's rows for all five collectives where
 * several GPUs are visible. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "../cpu/cli_helper.h"
#include "gpu_helper.h"

/* Every result's status is one of `allowed`; an ok one was checked with nothing wrong.
 * Returns the number of ok ones. */
static int check_results(const char *path, const char *allowed)
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
            /* per-iteration statistics, each rank's time stamped behind its GPU's stream */
            const cJSON *it = cJSON_GetObjectItem(o, "iters");
            cr_assert_geq(cJSON_GetObjectItem(it, "n")->valuedouble, 5);
            cr_assert_geq(cJSON_GetObjectItem(it, "straggler")->valuedouble, 0);
        }
        cJSON_Delete(o);
    }
    fclose(f);
    return ok;
}

static const char *const kernels[] = {"allgather", "reducescatter", "alltoall"};

Test(collectives_gpu, virtual_ranks_on_one_gpu_are_exact, .init = need_gpu)
{
    for (int b = 0; b < 3; b++) {
        char path[512];
        tmp_path(path, sizeof path, "coll_gpu_virtual.jsonl");
        /* whole-buffer sizes: one element per rank at 4 ranks of fp32 (16 B), chunks that are
         * not a whole vector (100 B), and large ones */
        cli_result *r = run_cli(NULL, "run", kernels[b], "--gpus", "0", "--ranks-per-gpu",
                                "2,3,4", "--impl", "p2p", "--bytes", "16,100,65540,4194304",
                                "--min-samples", "2", "--min-time", "0", "--max-noise", "100",
                                "--timeout", "30", "-q", "-o", path, NULL);
        cr_assert_eq(r->code, 0, "%s: %s\n%s", kernels[b], r->err, r->out);
        /* 16 B over 3 and 4 ranks of fp32 holds no element per rank: skipped */
        int places = b == 2 ? 1 : 2;
        int ok = check_results(path, "ok skipped");
        cr_assert_geq(ok, 3 * 3 * 3 * places, "%s: %d ok", kernels[b], ok);
        cr_assert(strstr(r->out, "not a bandwidth measurement"), "%s", r->out);
        remove(path);
    }
}

Test(collectives_gpu, reducescatter_max_and_min_on_virtual_ranks, .init = need_gpu)
{
    char path[512];
    tmp_path(path, sizeof path, "coll_gpu_ops.jsonl");
    cli_result *r = run_cli(NULL, "run", "reducescatter", "--gpus", "0", "--ranks-per-gpu", "5",
                            "--op", "max,min", "--bytes", "100000", "--dtype", "bf16,fp16",
                            "--impl", "p2p", "--min-samples", "1", "--min-time", "0",
                            "--timeout", "30", "-q", "-o", path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert_eq(check_results(path, "ok"), 2 * 2 * 2);
    remove(path);
}

Test(collectives_gpu, real_ranks_on_every_gpu_against_nccl, .init = need_gpu)
{
    if (ndev < 2)
        cr_skip_test("one GPU: real ranks need two (the virtual-rank tests cover the kernels)");
    static const char *const all[] = {"allgather", "reducescatter", "alltoall", "broadcast",
                                      "sendrecv"};
    for (int b = 0; b < 5; b++) {
        char path[512];
        tmp_path(path, sizeof path, "coll_gpu_real.jsonl");
        cli_result *r = run_cli(NULL, "run", all[b], "--bytes", "1024,4194304", "--dtype",
                                "fp32,bf16", "--min-samples", "2", "--min-time", "0",
                                "--max-noise", "100", "--timeout", "30", "-q", "-o", path, NULL);
        cr_assert(r->code == 0, "%s: %s", all[b], r->err);
        cr_assert_gt(check_results(path, "ok skipped"), 0, "%s", all[b]);
        cr_assert(strstr(r->out, "busbw"), "%s", r->out);
        remove(path);
    }
}
