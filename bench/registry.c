#include <string.h>

#include "benches.h"

const tb_bench *const tb_benches[] = {&tb_bench_membw, &tb_bench_matmul, &tb_bench_attention,
                                     &tb_bench_allreduce, &tb_bench_allgather,
                                     &tb_bench_reducescatter, &tb_bench_alltoall,
                                     &tb_bench_broadcast, &tb_bench_sendrecv, NULL};

const tb_bench *tb_bench_find(const char *name)
{
    for (int i = 0; tb_benches[i]; i++)
        if (strcmp(tb_benches[i]->name, name) == 0)
            return tb_benches[i];
    return NULL;
}
