/* allreduce_host.c - the hand-written all-reduce kernels' schedules on host threads. Each
 * function mirrors the kernel of the same name in kernels/allreduce/: same ranges, same step
 * order, same flags and epochs; only the element loops are scalar. */
#include "allreduce_host.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "../kernels/allreduce/ar_data.h"

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int host_wait(tb_ar_host *h, int rank, const unsigned *flag, unsigned v)
{
    if ((int)(__atomic_load_n(flag, __ATOMIC_ACQUIRE) - v) >= 0)
        return 1;
    double c0 = thread_cpu_s();
    int ok = 1;
    while (ok && (int)(__atomic_load_n(flag, __ATOMIC_ACQUIRE) - v) < 0) {
        if (__atomic_load_n(&h->abort, __ATOMIC_RELAXED))
            ok = 0;
        else
            sched_yield();
    }
    h->wait_s[rank] += thread_cpu_s() - c0;
    return ok;
}

static int host_barrier(tb_ar_host *h, int rank, int slot, int b, unsigned v)
{
    for (int t = 0; t < h->nranks; t++)
        if (t != rank)
            __atomic_store_n(&h->flags[t][tb_ar_flag_index(slot, rank, b)], v, __ATOMIC_RELEASE);
    for (int t = 0; t < h->nranks; t++)
        if (t != rank && !host_wait(h, rank, &h->flags[rank][tb_ar_flag_index(slot, t, b)], v))
            return 0;
    return 1;
}

static void host_send(tb_ar_host *h, int to, int slot, int b, unsigned v)
{
    __atomic_store_n(&h->flags[to][tb_ar_flag_index(slot, 0, b)], v, __ATOMIC_RELEASE);
}

static int host_recv(tb_ar_host *h, int rank, int slot, int b, unsigned v)
{
    return host_wait(h, rank, &h->flags[rank][tb_ar_flag_index(slot, 0, b)], v);
}

/* Whether rank q's contribution to element i is left out (ar-skip-peer). */
static int skipped(const tb_ar_host *h, int q, long long i)
{
    return q >= 0 && q == h->skip_peer && i >= h->skip_lo && i < h->skip_hi;
}

static void host_reduce_all(tb_ar_host *h, int rank, long long lo, long long hi, void *dst)
{
    for (long long i = lo; i < hi; i++) {
        float acc = 0.0f;
        int first = 1;
        for (int p = 0; p < h->nranks; p++) {
            int q = (rank + p) % h->nranks;
            if (skipped(h, q, i))
                continue;
            float x = tb_ar_get(h->in[q], h->dtype, i);
            acc = first ? x : tb_ar_combine(h->op, acc, x);
            first = 0;
        }
        tb_ar_set(dst, h->dtype, i, acc);
    }
}

/* dst (and dst2) = src combined with add (when not NULL); where src is rank src_rank's input
 * and its contribution is skipped, add alone. */
static void host_combine(tb_ar_host *h, const void *src, int src_rank, const void *add,
                         void *dst, void *dst2, long long lo, long long hi)
{
    for (long long i = lo; i < hi; i++) {
        float x;
        if (skipped(h, src_rank, i))
            x = add ? tb_ar_get(add, h->dtype, i)
                    : (h->op == TB_AR_MAX ? -INFINITY : (h->op == TB_AR_MIN ? INFINITY : 0.0f));
        else if (add)
            x = tb_ar_combine(h->op, tb_ar_get(src, h->dtype, i), tb_ar_get(add, h->dtype, i));
        else
            x = tb_ar_get(src, h->dtype, i);
        tb_ar_set(dst, h->dtype, i, x);
        if (dst2)
            tb_ar_set(dst2, h->dtype, i, x);
    }
}

static int oneshot_block(tb_ar_host *h, int rank, int b, int vec)
{
    unsigned v = h->epochs[rank][b] + 1;
    long long lo, hi;
    tb_ar_oneshot_range(h->count, vec, h->blocks, b, &lo, &hi);
    if (!host_barrier(h, rank, 0, b, v))
        return 0;
    host_reduce_all(h, rank, lo, hi, h->inplace ? h->scratch[rank] : h->out[rank]);
    if (!host_barrier(h, rank, 1, b, v))
        return 0;
    if (h->inplace)
        host_combine(h, h->scratch[rank], -1, NULL, h->out[rank], NULL, lo, hi);
    h->epochs[rank][b] = v;
    return 1;
}

static int twoshot_block(tb_ar_host *h, int rank, int b, int vec)
{
    int n = h->nranks;
    unsigned v = h->epochs[rank][b] + 1;
    long long lo, hi;
    if (!host_barrier(h, rank, 0, b, v))
        return 0;
    tb_ar_twoshot_range(h->count, n, vec, h->blocks, rank, b, &lo, &hi);
    host_reduce_all(h, rank, lo, hi, h->out[rank]);
    if (!host_barrier(h, rank, 1, b, v))
        return 0;
    for (int p = 1; p < n; p++) {
        int s = (rank + p) % n;
        tb_ar_twoshot_range(h->count, n, vec, h->blocks, s, b, &lo, &hi);
        host_combine(h, h->out[s], -1, NULL, h->out[rank], NULL, lo, hi);
    }
    if (!host_barrier(h, rank, 2, b, v))
        return 0;
    h->epochs[rank][b] = v;
    return 1;
}

static int ring_block(tb_ar_host *h, int rank, int b, int vec)
{
    int n = h->nranks, next = (rank + 1) % n;
    unsigned v = h->epochs[rank][b] + 1;
    int pieces = tb_ar_ring_pieces_for(h->count, n, vec, h->piece, h->blocks,
                                       TB_AR_RING_MAX_MULT);
    int rounds = tb_ar_ring_rounds(pieces, h->blocks);
    if (!host_barrier(h, rank, 0, b, v))
        return 0;
    for (int q = 0; q < rounds && q * h->blocks + b < pieces; q++) {
        int p = q * h->blocks + b;
        unsigned rv = v + (unsigned)q;
        long long lo, hi;
        for (int k = 0; k < n - 1; k++) {
            tb_ar_ring_piece(h->count, n, vec, pieces, tb_ar_ring_rs_chunk(rank, k, n), p, &lo, &hi);
            if (k > 0 && !host_recv(h, rank, k, b, rv))
                return 0;
            host_combine(h, h->in[rank], rank, k > 0 ? h->scratch[rank] : NULL, h->scratch[next],
                         NULL, lo, hi);
            host_send(h, next, 1 + k, b, rv);
        }
        tb_ar_ring_piece(h->count, n, vec, pieces, tb_ar_ring_owned(rank, n), p, &lo, &hi);
        if (!host_recv(h, rank, n - 1, b, rv))
            return 0;
        host_combine(h, h->in[rank], rank, h->scratch[rank], h->out[rank], h->out[next], lo, hi);
        host_send(h, next, n, b, rv);
        for (int j = 1; j < n - 1; j++) {
            tb_ar_ring_piece(h->count, n, vec, pieces, tb_ar_ring_ag_chunk(rank, j, n), p, &lo, &hi);
            if (!host_recv(h, rank, n + j - 1, b, rv))
                return 0;
            host_combine(h, h->out[rank], -1, NULL, h->out[next], NULL, lo, hi);
            host_send(h, next, n + j, b, rv);
        }
        if (!host_recv(h, rank, 2 * n - 2, b, rv))
            return 0;
    }
    h->epochs[rank][b] = v + (unsigned)(rounds > 0 ? rounds - 1 : 0);
    return 1;
}

int tb_ar_host_rank(tb_ar_host *h, int rank)
{
    if (rank == h->stall_rank)
        return 1; /* never arrives: the others wait until the watchdog aborts them */
    double c0 = thread_cpu_s();
    h->wait_s[rank] = 0;
    int vec = tb_ar_vec_elems(h->dtype);
    for (int b = 0; b < h->blocks; b++) {
        int ok = h->algo == TB_AR_ONESHOT   ? oneshot_block(h, rank, b, vec)
                 : h->algo == TB_AR_TWOSHOT ? twoshot_block(h, rank, b, vec)
                                            : ring_block(h, rank, b, vec);
        if (!ok)
            return 0;
    }
    h->rank_busy_s[rank] = thread_cpu_s() - c0 - h->wait_s[rank];
    return 1;
}

typedef struct {
    tb_ar_host *h;
    int rank;
} rank_arg;

static void *rank_main(void *p)
{
    rank_arg *a = p;
    tb_ar_host_rank(a->h, a->rank);
    return NULL;
}

static void deadline_in(struct timespec *deadline, double timeout_s)
{
    clock_gettime(CLOCK_REALTIME, deadline);
    double whole = (double)(long long)timeout_s;
    deadline->tv_sec += (time_t)whole;
    deadline->tv_nsec += (long)((timeout_s - whole) * 1e9);
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

tb_status tb_ar_host_run_rank(tb_ar_host *h, int rank, double timeout_s, tb_err *err)
{
    pthread_t th;
    rank_arg arg = {h, rank};
    __atomic_store_n(&h->abort, 0, __ATOMIC_RELAXED);
    if (pthread_create(&th, NULL, rank_main, &arg))
        return tb_err_set(err, TB_DEVFAIL, "cannot start the thread of host rank %d", rank);
    struct timespec deadline;
    deadline_in(&deadline, timeout_s);
    if (pthread_timedjoin_np(th, NULL, &deadline) == ETIMEDOUT) {
        __atomic_store_n(&h->abort, 1, __ATOMIC_RELAXED);
        pthread_join(th, NULL);
        return tb_err_set(err, TB_DEVFAIL,
                          "timed out after %g s: rank %d waited for its peers (%d ranks)",
                          timeout_s, rank, h->nranks);
    }
    return TB_OK;
}

tb_status tb_ar_host_run(tb_ar_host *h, double timeout_s, tb_err *err)
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
