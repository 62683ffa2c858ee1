/* allreduce.h - launchers of the hand-written all-reduce kernels (kernels/allreduce/) and of
 * their input fill and output check. Each enqueues on the given stream and returns the
 * launch status.
 *
 * A launch runs `local_ranks` ranks that live on the current device (first_rank ...
 * first_rank + local_ranks - 1): one rank per GPU, or several virtual ranks sharing one GPU
 * for correctness runs. The ranks of a group synchronize through flags in each other's
 * memory, so every rank's launch must be enqueued (on every device) for any to finish, and
 * the blocks of all ranks must be resident at once: the launchers keep the grid within
 * sm_count (the smallest of the group) divided by local_ranks. */
#ifndef TB_ALLREDUCE_H
#define TB_ALLREDUCE_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "allreduce/ar_schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int nranks;
    int first_rank;      /* the rank of blockIdx.y == 0 in this launch */
    int dtype;           /* TB_AR_F32, TB_AR_BF16, TB_AR_F16 (allreduce/ar_data.h) */
    int op;              /* TB_AR_SUM, TB_AR_MAX, TB_AR_MIN */
    int inplace;         /* out[r] == in[r] */
    int sm_count;        /* the smallest SM count of the group */
    long long count;     /* elements per rank */
    void *in[TB_AR_MAX_RANKS];      /* every rank's buffers, as this device addresses them */
    void *out[TB_AR_MAX_RANKS];
    void *scratch[TB_AR_MAX_RANKS]; /* count elements: ring staging, oneshot in-place */
    unsigned *flags[TB_AR_MAX_RANKS];  /* TB_AR_FLAG_WORDS, zeroed once per case */
    unsigned *epochs[TB_AR_MAX_RANKS]; /* TB_AR_MAX_BLOCKS per rank, zeroed once per case */
    const int *abort;    /* host-mapped; non-zero makes every wait give up */
} tb_ar_args;

/* The blocks per rank a launch of each kernel uses (the same on every rank of a group). */
int tb_ar_oneshot_blocks(const tb_ar_args *a, int local_ranks);
int tb_ar_twoshot_blocks(const tb_ar_args *a, int local_ranks);
int tb_ar_ring_blocks(const tb_ar_args *a, int local_ranks);
/* Elements of one ring piece at its base size (a block's share of a chunk in one round; past
 * one piece per block the pieces grow: tb_ar_ring_pieces_for). */
long long tb_ar_ring_piece_elems(int dtype);

/* Whether a launch's blocks can all be resident at once on the current device:
 * *resident = the kernel's blocks per SM (occupancy API) x the device's SMs, *needed = the
 * launch's blocks. A launch with needed > resident would wait on flags forever. */
cudaError_t tb_ar_oneshot_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                   int *needed);
cudaError_t tb_ar_twoshot_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                   int *needed);
cudaError_t tb_ar_ring_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                int *needed);

/* oneshot: every rank reads every rank's input and reduces its own output. */
cudaError_t tb_ar_oneshot(const tb_ar_args *a, int local_ranks, cudaStream_t stream);
/* twoshot: reduce-scatter by reads, then all-gather by reads. */
cudaError_t tb_ar_twoshot(const tb_ar_args *a, int local_ranks, cudaStream_t stream);
/* ring: pipelined ring, writes into the next rank's staging buffer and output. */
cudaError_t tb_ar_ring(const tb_ar_args *a, int local_ranks, cudaStream_t stream);

/* Writes rank `rank`'s input (tb_ar_input) into buf, count elements of dtype. */
cudaError_t tb_ar_fill(void *buf, int dtype, long long count, uint64_t seed, int rank,
                       int sm_count, cudaStream_t stream);

typedef struct {
    unsigned long long n_wrong;
    unsigned int max_abs_err_bits; /* float bits of the largest |out - expected| (inf for NaN) */
    double err2;                   /* sum of |out - expected|^2 (inf for NaN): norm-wise */
    double ref2;                   /* sum of expected^2 */
} tb_ar_check_result;

/* Compares out with tb_ar_expected over nranks ranks; res must be zeroed first. */
cudaError_t tb_ar_check(const void *out, int dtype, long long count, uint64_t seed, int nranks,
                        int op, tb_ar_check_result *res, int sm_count, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
