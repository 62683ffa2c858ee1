/* allreduce_host.h - the all-reduce schedules of kernels/allreduce/ run by one host thread per
 * rank over host buffers: the same slices, chunks, pieces, steps and flag protocol (C11
 * release/acquire atomics in place of the GPUs' system-scope ones), block by block. */
#ifndef TB_ALLREDUCE_HOST_H
#define TB_ALLREDUCE_HOST_H

#include <stdint.h>

#include "../harness/error.h"
#include "../kernels/allreduce/ar_schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { TB_AR_ONESHOT = 0, TB_AR_TWOSHOT = 1, TB_AR_RING = 2 };

typedef struct {
    int algo;            /* TB_AR_ONESHOT, TB_AR_TWOSHOT, TB_AR_RING */
    int nranks;
    int dtype, op;       /* TB_AR_F32 ..., TB_AR_SUM ... (ar_data.h) */
    int inplace;
    int blocks;          /* blocks per rank, as a GPU launch would have */
    long long piece;     /* ring: elements per piece at its base size (tb_ar_ring_pieces_for) */
    long long count;
    void *in[TB_AR_MAX_RANKS], *out[TB_AR_MAX_RANKS], *scratch[TB_AR_MAX_RANKS];
    unsigned *flags[TB_AR_MAX_RANKS];  /* TB_AR_FLAG_WORDS each, zeroed */
    unsigned *epochs[TB_AR_MAX_RANKS]; /* TB_AR_MAX_BLOCKS each, zeroed */
    int abort;           /* set (atomically) to make every wait give up */
    int stall_rank;      /* a rank that never takes part (fault injection), or -1 */
    int skip_peer;       /* a rank whose contribution to [skip_lo, skip_hi) is left out of
                          * the result (fault injection: ar-skip-peer), or -1 */
    long long skip_lo, skip_hi;
    double rank_busy_s[TB_AR_MAX_RANKS]; /* each rank's CPU time in its last part, its waits
                                          * for peers left out */
    double wait_s[TB_AR_MAX_RANKS];      /* scratch: CPU time in waits of the part */
} tb_ar_host;

/* Runs one all-reduce: a thread per rank, each running every block of its rank in order.
 * Returns TB_OK, or TB_DEVFAIL "timed out after S s" when the ranks have not finished within
 * timeout_s (the waits are then aborted and the threads joined), or when a thread cannot
 * start. */
tb_status tb_ar_host_run(tb_ar_host *h, double timeout_s, tb_err *err);

/* One rank's part, on the calling thread; returns 0 when aborted. */
int tb_ar_host_rank(tb_ar_host *h, int rank);

/* One rank's part alone, as one process of an MPI job runs it over a shared-memory window
 * (in, out, scratch, flags and epochs of every rank addressable): on a thread of its own,
 * aborted after timeout_s. TB_OK, or TB_DEVFAIL "timed out ..." naming the rank. */
tb_status tb_ar_host_run_rank(tb_ar_host *h, int rank, double timeout_s, tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
