/* world_mpi.c - the world over MPI (built when CMake finds MPI). Process-wide state by
 * nature: MPI itself is one per process. */
#include "world.h"

#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_ROW = 1, TAG_DONE = 2 };

static struct {
    int on;                 /* MPI started */
    int rank, size, local_rank, local_size, nodes;
    char host[TB_WORLD_MAX_HOST];
    char library[MPI_MAX_LIBRARY_VERSION_STRING];
    MPI_Comm rows;          /* rows to rank 0, apart from the collectives */
    MPI_Comm coll;          /* the run's own collectives */
    MPI_Comm node;          /* the ranks of this node */
} w = {0, 0, 1, 0, 1, 1, "", "none", MPI_COMM_NULL, MPI_COMM_NULL, MPI_COMM_NULL};

struct tb_world_shm {
    MPI_Win win;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void pause_briefly(void)
{
    struct timespec d = {0, 1000000}; /* 1 ms: a poll that leaves the cores to the ranks */
    nanosleep(&d, NULL);
}

static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static void mpi_why(int code, char *buf, size_t n)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, s, &len) != MPI_SUCCESS)
        snprintf(s, sizeof s, "MPI error %d", code);
    snprintf(buf, n, "%s", s);
}

tb_status tb_world_init(tb_err *err)
{
    if (gethostname(w.host, sizeof w.host - 1) != 0)
        snprintf(w.host, sizeof w.host, "unknown");
    if (!launched())
        return TB_OK;
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
    if (rc != MPI_SUCCESS)
        return tb_err_set(err, TB_DEVFAIL, "MPI_Init_thread failed (error %d)", rc);
    w.on = 1;
    if (provided < MPI_THREAD_MULTIPLE)
        return tb_err_set(err, TB_DEVFAIL,
                          "the MPI library gives thread level %d, not MPI_THREAD_MULTIPLE "
                          "(rank 0 receives rows on a thread of its own while it measures)",
                          provided);
    int len = 0;
    MPI_Get_library_version(w.library, &len);
    char *nl = strchr(w.library, '\n');
    if (nl)
        *nl = 0;
    char *comma = strchr(w.library, ','); /* "Open MPI v4.1.4, package: ...": the name */
    if (comma)
        *comma = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w.size);
    MPI_Comm_dup(MPI_COMM_WORLD, &w.rows);
    MPI_Comm_dup(MPI_COMM_WORLD, &w.coll);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &w.node);
    MPI_Comm_rank(w.node, &w.local_rank);
    MPI_Comm_size(w.node, &w.local_size);
    int leader = w.local_rank == 0;
    MPI_Allreduce(&leader, &w.nodes, 1, MPI_INT, MPI_SUM, w.coll);
    return TB_OK;
}

int tb_world_built_with_mpi(void) { return 1; }
int tb_world_multi(void) { return w.size > 1; }
int tb_world_rank(void) { return w.rank; }
int tb_world_size(void) { return w.size; }
int tb_world_local_rank(void) { return w.local_rank; }
int tb_world_local_size(void) { return w.local_size; }
int tb_world_nodes(void) { return w.nodes; }
const char *tb_world_host(void) { return w.host; }
const char *tb_world_library(void) { return w.on ? w.library : "none"; }
int tb_world_one_node(void) { return w.nodes == 1; }

void tb_world_barrier(void)
{
    if (w.on)
        MPI_Barrier(w.coll);
}

void tb_world_bcast(void *buf, size_t n, int root)
{
    if (w.on)
        MPI_Bcast(buf, (int)n, MPI_BYTE, root, w.coll);
}

void tb_world_allgather_u64(uint64_t v, uint64_t *all)
{
    if (!w.on) {
        all[0] = v;
        return;
    }
    MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, w.coll);
}

char **tb_world_gather_strings(const char *s)
{
    int len = (int)strlen(s) + 1;
    int *lens = NULL, *displs = NULL;
    char *all = NULL;
    char **out = NULL;
    if (w.rank == 0) {
        lens = calloc((size_t)w.size, sizeof *lens);
        displs = calloc((size_t)w.size, sizeof *displs);
    }
    if (w.on)
        MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, w.coll);
    else if (lens)
        lens[0] = len;
    size_t total = 0;
    if (w.rank == 0 && lens && displs) {
        for (int r = 0; r < w.size; r++) {
            displs[r] = (int)total;
            total += (size_t)lens[r];
        }
        all = malloc(total ? total : 1);
    }
    if (w.on)
        MPI_Gatherv(s, len, MPI_CHAR, all, lens, displs, MPI_CHAR, 0, w.coll);
    else if (all)
        memcpy(all, s, (size_t)len);
    if (w.rank == 0 && all) {
        out = calloc((size_t)w.size, sizeof *out);
        for (int r = 0; out && r < w.size; r++)
            out[r] = strdup(all + displs[r]);
    }
    free(all);
    free(lens);
    free(displs);
    return out;
}

void tb_world_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    if (w.on)
        MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

void tb_world_finalize(void)
{
    if (!w.on)
        return;
    w.on = 0;
    MPI_Comm_free(&w.node);
    MPI_Comm_free(&w.coll);
    MPI_Comm_free(&w.rows);
    MPI_Finalize();
}

tb_status tb_world_send_line(const char *line, size_t n, tb_err *err)
{
    if (!w.on || w.rank == 0)
        return tb_err_set(err, TB_DEVFAIL, "no rank 0 to send a row to");
    int rc = MPI_Send(line, (int)n, MPI_CHAR, 0, TAG_ROW, w.rows);
    if (rc != MPI_SUCCESS) {
        char why[256];
        mpi_why(rc, why, sizeof why);
        return tb_err_set(err, TB_DEVFAIL, "rank %d: cannot send a row to rank 0: %s", w.rank,
                          why);
    }
    return TB_OK;
}

void tb_world_send_done(int status)
{
    if (w.on && w.rank != 0)
        MPI_Send(&status, 1, MPI_INT, 0, TAG_DONE, w.rows);
}

int tb_world_recv(double timeout_s, char **line, int *from, int *status)
{
    *line = NULL;
    if (!w.on)
        return 0;
    double until = now_s() + timeout_s;
    for (;;) {
        int flag = 0;
        MPI_Status ms;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, w.rows, &flag, &ms);
        if (flag) {
            *from = ms.MPI_SOURCE;
            if (ms.MPI_TAG == TAG_DONE) {
                MPI_Recv(status, 1, MPI_INT, ms.MPI_SOURCE, TAG_DONE, w.rows, MPI_STATUS_IGNORE);
                return 2;
            }
            int n = 0;
            MPI_Get_count(&ms, MPI_CHAR, &n);
            char *buf = malloc((size_t)n + 1);
            MPI_Recv(buf, n, MPI_CHAR, ms.MPI_SOURCE, ms.MPI_TAG, w.rows, MPI_STATUS_IGNORE);
            if (!buf)
                continue; /* out of host memory: the row is lost, the file stays valid */
            buf[n] = 0;
            *line = buf;
            return 1;
        }
        if (now_s() >= until)
            return 0;
        pause_briefly();
    }
}

tb_status tb_world_shm_alloc(size_t bytes, tb_world_shm **out, void **base, tb_err *err)
{
    *out = NULL;
    if (!w.on || w.size < 2)
        return tb_err_set(err, TB_SKIP, "needs mpirun: the MPI processes are its ranks");
    if (w.nodes != 1)
        return tb_err_set(err, TB_SKIP, "ranks on different nodes");
    tb_world_shm *s = calloc(1, sizeof *s);
    bytes = (bytes + 63) & ~(size_t)63;
    void *mine = NULL;
    int rc = s ? MPI_Win_allocate_shared((MPI_Aint)bytes, 1, MPI_INFO_NULL, w.coll, &mine,
                                         &s->win)
               : MPI_ERR_NO_MEM;
    int ok = rc == MPI_SUCCESS, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, w.coll);
    if (!all_ok) {
        if (ok)
            MPI_Win_free(&s->win);
        free(s);
        return tb_err_set(err, TB_DEVFAIL,
                          "MPI_Win_allocate_shared of %zu bytes per rank failed on some rank",
                          bytes);
    }
    memset(mine, 0, bytes);
    for (int r = 0; r < w.size; r++) {
        MPI_Aint size = 0;
        int disp = 0;
        MPI_Win_shared_query(s->win, r, &size, &disp, &base[r]);
    }
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    MPI_Win_sync(s->win);
    MPI_Barrier(w.coll);
    *out = s;
    return TB_OK;
}

void tb_world_shm_free(tb_world_shm *s)
{
    if (!s)
        return;
    MPI_Win_unlock_all(s->win);
    MPI_Win_free(&s->win);
    free(s);
}

tb_status tb_world_allreduce_f32(const float *in, float *out, long long count, int op,
                                 double timeout_s, int *timed_out, tb_err *err)
{
    if (timed_out)
        *timed_out = 0;
    if (!w.on)
        return tb_err_set(err, TB_SKIP, "needs MPI");
    static const MPI_Op ops[3] = {MPI_SUM, MPI_MAX, MPI_MIN};
    MPI_Request req;
    int rc = MPI_Iallreduce(in == out ? MPI_IN_PLACE : in, out, (int)count, MPI_FLOAT,
                            ops[op], w.coll, &req);
    double until = now_s() + timeout_s;
    for (int done = 0; rc == MPI_SUCCESS && !done;) {
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done && now_s() > until) {
            if (timed_out)
                *timed_out = 1;
            return tb_err_set(err, TB_DEVFAIL,
                              "MPI_Allreduce timed out after %g s on rank %d (%d ranks)",
                              timeout_s, w.rank, w.size);
        }
        if (!done)
            sched_yield();
    }
    if (rc != MPI_SUCCESS) {
        char why[256];
        mpi_why(rc, why, sizeof why);
        return tb_err_set(err, TB_DEVFAIL, "MPI_Allreduce on rank %d: %s", w.rank, why);
    }
    return TB_OK;
}

/* Waits for req at most timeout_s, yielding the core between tests. */
static tb_status wait_within(MPI_Request *req, double timeout_s, const char *what, tb_err *err)
{
    double until = now_s() + timeout_s;
    for (int done = 0;;) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done)
            return TB_OK;
        if (now_s() > until)
            return tb_err_set(err, TB_DEVFAIL,
                              "timed out after %g s in %s: rank %d of %d waited for the others",
                              timeout_s, what, w.rank, w.size);
        sched_yield();
    }
}

tb_status tb_world_max_within(double *v, double timeout_s, tb_err *err)
{
    if (!w.on)
        return TB_OK;
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, v, 1, MPI_DOUBLE, MPI_MAX, w.coll, &req);
    return wait_within(&req, timeout_s, "the ranks' time", err);
}

tb_status tb_world_barrier_within(double timeout_s, tb_err *err)
{
    if (!w.on)
        return TB_OK;
    MPI_Request req;
    MPI_Ibarrier(w.coll, &req);
    return wait_within(&req, timeout_s, "a barrier", err);
}
