/* collectives.h - launchers of the hand-written all-gather, reduce-scatter and all-to-all
 * kernels (kernels/collectives/) and of their input fill and output check. They take
 * all-reduce's launch arguments (allreduce.h) and keep its rules: the ranks of a launch live on
 * the current device, every rank's launch must be enqueued for any to finish, and the blocks
 * of all ranks must be resident at once. Here `count` is the chunk (collectives/coll_data.h)
 * and in[r], out[r] address rank r's send and receive buffers as coll_data.h lays them out (in
 * place, one points into the other); scratch is unused. */
#ifndef TB_COLLECTIVES_H
#define TB_COLLECTIVES_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "allreduce.h"
#include "collectives/coll_data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The blocks per rank of a launch (the same on every rank of a group). */
int tb_coll_allgather_blocks(const tb_ar_args *a, int local_ranks);
int tb_coll_reducescatter_blocks(const tb_ar_args *a, int local_ranks);
int tb_coll_alltoall_blocks(const tb_ar_args *a, int local_ranks);

/* As tb_ar_oneshot_resident: whether every block of a launch can be resident at once. */
cudaError_t tb_coll_allgather_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                       int *needed);
cudaError_t tb_coll_reducescatter_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                           int *needed);
cudaError_t tb_coll_alltoall_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                      int *needed);

/* all-gather: every rank reads every other rank's chunk over P2P into its own output. */
cudaError_t tb_coll_allgather(const tb_ar_args *a, int local_ranks, cudaStream_t stream);
/* reduce-scatter: rank r reads block r of every rank's input and reduces it. */
cudaError_t tb_coll_reducescatter(const tb_ar_args *a, int local_ranks, cudaStream_t stream);
/* all-to-all: rank r reads block r of every rank's input into block s of its output. */
cudaError_t tb_coll_alltoall(const tb_ar_args *a, int local_ranks, cudaStream_t stream);

/* buf[i] = tb_ar_input(seed, rank, first + i) for i < count, in dtype. */
cudaError_t tb_coll_fill(void *buf, int dtype, long long count, long long first, uint64_t seed,
                         int rank, int sm_count, cudaStream_t stream);

/* Compares rank `rank`'s output (out_count elements) with tb_coll_expected; res zeroed first. */
cudaError_t tb_coll_check(int coll, const void *out, int dtype, long long out_count,
                          long long chunk, uint64_t seed, int nranks, int rank, int op, int root,
                          tb_ar_check_result *res, int sm_count, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
