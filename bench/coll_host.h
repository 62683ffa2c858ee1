/* coll_host.h - the schedules of the all-gather, reduce-scatter and all-to-all kernels
 * (kernels/collectives/) and a pull broadcast and send/recv, run by one host thread per rank
 * over host buffers: the same chunk parts, blocks, barriers and flag protocol as the kernels
 * (C11 release/acquire atomics in place of the GPUs' system-scope ones). Each rank's part is
 * a function of its own (tb_coll_host_rank), so ranks may be threads or processes sharing the
 * buffers and flags. */
#ifndef TB_COLL_HOST_H
#define TB_COLL_HOST_H

#include <stdint.h>

#include "../harness/error.h"
#include "../kernels/collectives/coll_data.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int coll;            /* TB_COLL_ALLGATHER ... (coll_data.h) */
    int nranks;
    int dtype, op;       /* TB_AR_F32 ..., TB_AR_SUM ... (op: reducescatter only) */
    int root;            /* broadcast: the rank that sends */
    int blocks;          /* blocks per rank, as a GPU launch would have */
    long long chunk;     /* elements (coll_data.h) */
    void *in[TB_AR_MAX_RANKS], *out[TB_AR_MAX_RANKS]; /* laid out as coll_data.h says */
    unsigned *flags[TB_AR_MAX_RANKS];  /* TB_AR_FLAG_WORDS each, zeroed */
    unsigned *epochs[TB_AR_MAX_RANKS]; /* TB_AR_MAX_BLOCKS each, zeroed */
    int abort;           /* set (atomically) to make every wait give up */
    int stall_rank;      /* a rank that never takes part (fault injection), or -1 */
    int skip_peer;       /* rank 0 never takes what rank skip_peer sends it (fault injection:
                          * ar-skip-peer; broadcast: rank skip_peer never receives), or -1 */
    int slow_rank;       /* a rank that spins slow_pct % of its busy time more after its part
                          * (fault injection: slow-rank:R), or -1 */
    double slow_pct;
    double rank_busy_s[TB_AR_MAX_RANKS]; /* each rank's CPU time in its last part, its
                                          * waits for peers left out: what the rank itself
                                          * took, whatever the OS ran meanwhile */
    double wait_s[TB_AR_MAX_RANKS];      /* scratch: CPU time in waits of the part */
} tb_coll_host;

/* Runs one collective: a thread per rank. Returns TB_OK, or TB_DEVFAIL "timed out after S s"
 * when the ranks have not finished within timeout_s (the waits are then aborted and the
 * threads joined), or when a thread cannot start. */
tb_status tb_coll_host_run(tb_coll_host *h, double timeout_s, tb_err *err);

/* One rank's part, on the calling thread; returns 0 when aborted. */
int tb_coll_host_rank(tb_coll_host *h, int rank);

#ifdef __cplusplus
}
#endif
#endif
