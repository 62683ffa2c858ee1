/* coll_host.c - the collectives' schedules on host threads. Each block function mirrors the
 * kernel of the same name in kernels/collectives/: same chunk parts, same step order, same
 * barriers and epochs; only the element loops are scalar. */
#include "coll_host.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int host_wait(tb_coll_host *h, int rank, const unsigned *flag, unsigned v)
{
    if (tb_ar_flag_reached(__atomic_load_n(flag, __ATOMIC_ACQUIRE), v))
        return 1;
    double c0 = thread_cpu_s();
    int ok = 1;
    while (ok && !tb_ar_flag_reached(__atomic_load_n(flag, __ATOMIC_ACQUIRE), v)) {
        if (__atomic_load_n(&h->abort, __ATOMIC_RELAXED))
            ok = 0;
        else
            sched_yield();
    }
    h->wait_s[rank] += thread_cpu_s() - c0;
    return ok;
}

static int host_barrier(tb_coll_host *h, int rank, int slot, int b, unsigned v)
{
    for (int t = 0; t < h->nranks; t++)
        if (t != rank)
            __atomic_store_n(&h->flags[t][tb_ar_flag_index(slot, rank, b)], v, __ATOMIC_RELEASE);
    for (int t = 0; t < h->nranks; t++)
        if (t != rank && !host_wait(h, rank, &h->flags[rank][tb_ar_flag_index(slot, t, b)], v))
            return 0;
    return 1;
}

static size_t elem(const tb_coll_host *h)
{
    return (size_t)tb_ar_elem_bytes(h->dtype);
}

static void copy_part(const tb_coll_host *h, const void *src, void *dst, long long lo,
                      long long hi)
{
    for (long long i = lo; i < hi; i++)
        tb_ar_set(dst, h->dtype, i, tb_ar_get(src, h->dtype, i));
}

/* Whether rank `rank` leaves out what rank q sends it (ar-skip-peer). */
static int skipped(const tb_coll_host *h, int rank, int q)
{
    return h->skip_peer >= 0 && q == h->skip_peer && rank == 0 && q != rank;
}

static void allgather_part(tb_coll_host *h, int rank, long long lo, long long hi)
{
    for (int p = 0; p < h->nranks; p++) {
        int s = tb_coll_peer(rank, p, h->nranks);
        char *dst = (char *)h->out[rank] + (size_t)s * (size_t)h->chunk * elem(h);
        if (dst != h->in[s] && !skipped(h, rank, s))
            copy_part(h, h->in[s], dst, lo, hi);
    }
}

static void reducescatter_part(tb_coll_host *h, int rank, long long lo, long long hi)
{
    size_t off = (size_t)rank * (size_t)h->chunk * elem(h);
    for (long long i = lo; i < hi; i++) {
        float acc = tb_ar_get((const char *)h->in[rank] + off, h->dtype, i);
        for (int p = 1; p < h->nranks; p++) {
            int q = tb_coll_peer(rank, p, h->nranks);
            if (!skipped(h, rank, q))
                acc = tb_ar_combine(h->op, acc,
                                    tb_ar_get((const char *)h->in[q] + off, h->dtype, i));
        }
        tb_ar_set(h->out[rank], h->dtype, i, acc);
    }
}

static void alltoall_part(tb_coll_host *h, int rank, long long lo, long long hi)
{
    size_t blk = (size_t)h->chunk * elem(h);
    for (int p = 0; p < h->nranks; p++) {
        int s = tb_coll_peer(rank, p, h->nranks);
        if (!skipped(h, rank, s))
            copy_part(h, (const char *)h->in[s] + (size_t)rank * blk,
                      (char *)h->out[rank] + (size_t)s * blk, lo, hi);
    }
}

/* broadcast: every rank pulls the root's chunk (the root copies its own when out of place) */
static void broadcast_part(tb_coll_host *h, int rank, long long lo, long long hi)
{
    int never = h->skip_peer >= 0 && rank == h->skip_peer && rank != h->root;
    if (h->out[rank] != h->in[h->root] && !never)
        copy_part(h, h->in[h->root], h->out[rank], lo, hi);
}

/* send/recv: rank r pulls rank r - 1's chunk (the receive of rank r - 1's send to r) */
static void sendrecv_part(tb_coll_host *h, int rank, long long lo, long long hi)
{
    int from = rank == 0 ? h->nranks - 1 : rank - 1;
    if (!skipped(h, rank, from))
        copy_part(h, h->in[from], h->out[rank], lo, hi);
}

static int coll_block(tb_coll_host *h, int rank, int b, int vec)
{
    unsigned v = tb_ar_epoch_begin(h->epochs[rank][b]);
    long long lo, hi;
    tb_coll_part(h->chunk, vec, h->blocks, b, &lo, &hi);
    if (!host_barrier(h, rank, 0, b, v)) /* every input is ready */
        return 0;
    switch (h->coll) {
    case TB_COLL_ALLGATHER:
        allgather_part(h, rank, lo, hi);
        break;
    case TB_COLL_REDUCESCATTER:
        reducescatter_part(h, rank, lo, hi);
        break;
    case TB_COLL_ALLTOALL:
        alltoall_part(h, rank, lo, hi);
        break;
    case TB_COLL_BROADCAST:
        broadcast_part(h, rank, lo, hi);
        break;
    default:
        sendrecv_part(h, rank, lo, hi);
        break;
    }
    if (!host_barrier(h, rank, 1, b, v)) /* every peer has read this rank's input */
        return 0;
    h->epochs[rank][b] = tb_ar_epoch_end(v, 1);
    return 1;
}

int tb_coll_host_rank(tb_coll_host *h, int rank)
{
    if (rank == h->stall_rank)
        return 1; /* never arrives: the others wait until the watchdog aborts them */
    double c0 = thread_cpu_s();
    h->wait_s[rank] = 0;
    int vec = tb_ar_vec_elems(h->dtype);
    for (int b = 0; b < h->blocks; b++)
        if (!coll_block(h, rank, b, vec))
            return 0;
    double busy = thread_cpu_s() - c0 - h->wait_s[rank];
    if (rank == h->slow_rank) /* a spin in CPU time, as slow:PCT stretches host samples */
        for (double until = thread_cpu_s() + busy * h->slow_pct / 100.0; thread_cpu_s() < until;)
            ;
    h->rank_busy_s[rank] = thread_cpu_s() - c0 - h->wait_s[rank];
    return 1;
}

typedef struct {
    tb_coll_host *h;
    int rank;
} rank_arg;

static void *rank_main(void *p)
{
    rank_arg *a = p;
    tb_coll_host_rank(a->h, a->rank);
    return NULL;
}

tb_status tb_coll_host_run(tb_coll_host *h, double timeout_s, tb_err *err)
{
    pthread_t th[TB_AR_MAX_RANKS];
    rank_arg args[TB_AR_MAX_RANKS];
    int started = 0;
    __atomic_store_n(&h->abort, 0, __ATOMIC_RELAXED);
    for (; started < h->nranks; started++) {
        args[started] = (rank_arg){h, started};
        if (pthread_create(&th[started], NULL, rank_main, &args[started]))
            break;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    double whole = (double)(long long)timeout_s;
    deadline.tv_sec += (time_t)whole;
    deadline.tv_nsec += (long)((timeout_s - whole) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int late = -1;
    if (started < h->nranks)
        __atomic_store_n(&h->abort, 1, __ATOMIC_RELAXED);
    for (int r = 0; r < started; r++) {
        if (late < 0 && pthread_timedjoin_np(th[r], NULL, &deadline) == ETIMEDOUT) {
            late = r;
            __atomic_store_n(&h->abort, 1, __ATOMIC_RELAXED);
        }
        if (late >= 0)
            pthread_join(th[r], NULL);
    }
    if (started < h->nranks)
        return tb_err_set(err, TB_DEVFAIL, "cannot start the thread of host rank %d", started);
    if (late >= 0)
        return tb_err_set(err, TB_DEVFAIL,
                          "timed out after %g s waiting for host rank %d (%d ranks)", timeout_s,
                          late, h->nranks);
    return TB_OK;
}
