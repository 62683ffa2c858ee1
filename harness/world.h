/* world.h - the processes of a run: one process (the default) or the ranks of an MPI job
 * (mpirun, srun --mpi=pmix). Everything outside this module speaks only this interface; a
 * build without MPI (or a process started without a launcher) is a world of one rank whose
 * calls do nothing and succeed.
 *
 * Rows travel to rank 0 on a channel of their own (tb_world_send_line / tb_world_recv_line),
 * so rank 0 writes one result file while every rank measures. The shared-memory window gives
 * the ranks of one node a region of each rank's memory that every other rank of the node
 * addresses directly: host collectives run their schedules over it. */
#ifndef TB_WORLD_H
#define TB_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_WORLD_MAX_HOST 256

/* Starts MPI when this process was started by an MPI launcher (Open MPI's mpirun, a PMI or
 * PMIx launcher such as srun --mpi=pmix); otherwise, or in a build without MPI, a world of one.
 * Returns TB_OK, or TB_DEVFAIL naming what failed. Call once, before any other tb_world_*. */
tb_status tb_world_init(tb_err *err);

/* Whether this build has MPI (1) or not (0). */
int tb_world_built_with_mpi(void);

/* 1 when this process is one of several ranks (size > 1). */
int tb_world_multi(void);

int tb_world_rank(void);
int tb_world_size(void);
/* The rank among the ranks of this node, and how many share it (MPI's shared-memory split). */
int tb_world_local_rank(void);
int tb_world_local_size(void);
/* How many nodes (distinct shared-memory domains) the job spans. */
int tb_world_nodes(void);
/* This process's host name. */
const char *tb_world_host(void);
/* The library behind the world: "Open MPI v4.1.4, ..." or "none". */
const char *tb_world_library(void);

void tb_world_barrier(void);

/* A barrier waited for at most timeout_s: TB_OK, or TB_DEVFAIL "timed out ..." (the other
 * ranks did not all arrive; the job can only be aborted then). */
tb_status tb_world_barrier_within(double timeout_s, tb_err *err);

/* Copies root's n bytes at buf to every rank's buf. */
void tb_world_bcast(void *buf, size_t n, int root);

/* The largest of every rank's *v, into *v on every rank, waited for at most timeout_s:
 * TB_OK, or TB_DEVFAIL "timed out ..." (a rank did not arrive). */
tb_status tb_world_max_within(double *v, double timeout_s, tb_err *err);

/* Every rank's 64-bit value, in rank order, into all[size] on every rank. */
void tb_world_allgather_u64(uint64_t v, uint64_t *all);

/* Gathers every rank's string at rank 0: returns (rank 0 only) an array of size malloc'ed
 * strings, in rank order (free each and the array); NULL on the other ranks or when host
 * memory runs out. */
char **tb_world_gather_strings(const char *s);

/* Ends every rank of the job with exit code `code` (MPI_Abort); in a world of one, exit. */
void tb_world_abort(int code) __attribute__((noreturn));

/* Ends MPI; the process then only exits. */
void tb_world_finalize(void);

/* ---- rows to rank 0 ---- */

/* Sends one line (n bytes, no terminator needed) to rank 0; thread-safe. TB_DEVFAIL on a
 * transport error. On rank 0 it is an error to call. */
tb_status tb_world_send_line(const char *line, size_t n, tb_err *err);

/* This rank's last message: it has sent every row (status 0) or it stops the job after a
 * failure (status != 0: its exit code, e.g. 4); thread-safe. */
void tb_world_send_done(int status);

/* Rank 0: waits at most timeout_s for the next message of any rank. Returns 1 with *line
 * (malloc'ed, NUL-terminated; free it) and *from set for a row; 2 with *from and *status
 * set for a rank's done message; 0 when nothing came in time. */
int tb_world_recv(double timeout_s, char **line, int *from, int *status);

/* ---- the shared-memory window of one node ---- */

/* 1 when every rank of the job runs on one node (then tb_world_shm_alloc can span them). */
int tb_world_one_node(void);

typedef struct tb_world_shm tb_world_shm;

/* Collective over every rank: allocates bytes (rounded up to 64) in each rank's part of one
 * shared window; base[r] (size entries) is set to rank r's part, addressable by this rank.
 * Zeroed. TB_SKIP when the ranks do not share one node or MPI is absent, TB_DEVFAIL when the
 * window cannot be made. */
tb_status tb_world_shm_alloc(size_t bytes, tb_world_shm **out, void **base, tb_err *err);
/* Collective: frees the window. */
void tb_world_shm_free(tb_world_shm *w);

/* ---- the vendor's collective on host buffers ---- */

/* MPI_Iallreduce of count floats (op 0 sum, 1 max, 2 min), waited for at most timeout_s:
 * TB_OK, TB_DEVFAIL "timed out" (*timed_out set) or naming MPI's error; TB_SKIP without MPI. */
tb_status tb_world_allreduce_f32(const float *in, float *out, long long count, int op,
                                 double timeout_s, int *timed_out, tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
