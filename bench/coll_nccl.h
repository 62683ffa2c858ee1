/* coll_nccl.h - the NCCL communicators of a group, shared by every collective benchmark:
 * started once per implementation and run (kept in the group's tb_keep), non-blocking, every
 * wait on them bounded. Defined in allreduce.c, which starts them. */
#ifndef TB_COLL_NCCL_H
#define TB_COLL_NCCL_H

#ifdef TB_HAVE_NCCL
#include <nccl.h>

#include "../harness/bench.h"
#include "../kernels/allreduce/ar_schedule.h"

typedef struct {
    int ndev;
    int failed;
    char why[sizeof(tb_err)];
    ncclComm_t comms[TB_AR_MAX_RANKS];
} tb_nccl_keep;

/* The communicators of group g (one rank per GPU; ranks_per_gpu > 1 is TB_SKIP), started on
 * the first call of a run and kept in g->keep. TB_CASEFAIL when NCCL refuses (the other
 * implementations still run), TB_DEVFAIL when its initialization hangs (aborted). */
tb_status tb_nccl_group(const tb_group *g, int ranks_per_gpu, tb_nccl_keep **out, tb_err *err);

/* Waits, at most timeout_s, until no communicator of nk is in progress. */
tb_status tb_nccl_group_wait(tb_nccl_keep *nk, const char *what, double timeout_s, tb_err *err);

/* Aborts nk's communicators (a hang); later cases are skipped with the reason. */
void tb_nccl_group_abort(tb_nccl_keep *nk);
#endif

#endif
