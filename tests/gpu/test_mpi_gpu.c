/* test_mpi_gpu.c - two processes of one mpirun job on one GPU: each rank takes the one GPU it
 * sees, both measure at once, and rank 0 writes one file naming both ranks and the GPU's
 * UUID. (NCCL refuses two ranks on one GPU, so its bootstrap across processes needs two.) */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_helper.h"
#include "results.h"

TestSuite(mpi_gpu, .init = need_gpu);

Test(mpi_gpu, two_processes_on_one_gpu_write_one_file)
{
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/mpi_gpu_%d.jsonl", TB_TEST_TMP, (int)getpid());
    remove(path);
    snprintf(cmd, sizeof cmd,
             "CUDA_VISIBLE_DEVICES=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "%s --oversubscribe --bind-to none -np 2 %s run membw --impl copy --bytes 16M "
             "--min-time 0.05 --rounds 1 -q -o %s > /dev/null",
             TB_MPIEXEC, TB_BINARY, path);
    int status = system(cmd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d", cmd, status);
    tb_rfile f;
    tb_err err;
    cr_assert_eq(tb_results_load(path, &f, NULL, &err), TB_OK, "%s", err.msg);
    const cJSON *ranks = cJSON_GetObjectItem(f.context, "ranks");
    cr_assert_eq(cJSON_GetArraySize(ranks), 2);
    const char *uuid0 = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(ranks, 0),
                                                                "gpu"), "uuid")->valuestring;
    const char *uuid1 = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(ranks, 1),
                                                                "gpu"), "uuid")->valuestring;
    cr_assert_str_eq(uuid0, devs[0].uuid, "rank 0 ran on the visible GPU");
    cr_assert_str_eq(uuid1, devs[0].uuid, "rank 1 ran on the visible GPU");
    cr_assert_eq(f.n, 2, "one row per rank: %zu", f.n);
    cr_assert_neq(f.rows[0].rank, f.rows[1].rank);
    for (size_t i = 0; i < f.n; i++) {
        cr_assert_str_eq(f.rows[i].status, "ok");
        cr_assert_str_eq(f.rows[i].gpus_text, "0", "the GPU's index on its host");
    }
    tb_results_free(&f);
    remove(path);
}
