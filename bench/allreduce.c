/* allreduce - all-reduce across the GPUs of one node, in one process, against NCCL, with
 * figures under nccl-tests' names: time per operation, algbw = size / time, busbw = algbw x
 * 2 (n - 1) / n (the bytes each rank's link must carry in a bandwidth-optimal algorithm, so
 * figures of different rank counts compare). Sizes are per rank (nccl-tests' -b/-e); GB is
 * 1e9 bytes.
 *
 * Implementations: nccl (ncclAllReduce on non-blocking communicators, one per GPU from
 * ncclGetUniqueId and ncclCommInitRankConfig, every wait on them bounded), the
 * hand-written oneshot, twoshot and ring kernels (kernels/allreduce/), and the same three
 * schedules on host threads (--host). Every case spans the whole group: every GPU of the run
 * times --ranks-per-gpu ranks (several ranks on one GPU check the kernels' correctness where
 * one GPU is all there is; their figures are not bandwidth), or --ranks host ranks.
 *
 * Verification (nccl-tests' #wrong): rank r's input element i is a small integer drawn from
 * (seed, r, i), so the result is exact in every dtype and is compared bit for bit, on every
 * element of every rank, with the integer reduction regenerated independently. Outputs are
 * poisoned (NaN) before each checked run: the first, and one after the timed loop on
 * refilled inputs (verify.after; its count is nccl-tests' #wrong). Beside it, for the uniform
 * result format, the norm-wise error per rank buffer (||out - expected|| / ||expected||),
 * held to 0: the check stays exact.
 *
 * Under TRAINBENCH_TEST_FAULT the host schedules commit ar-skip-peer (the last rank's
 * contribution is missing from slice 0, the first of n: twoshot's reduce-scatter slice of rank
 * 0, ring's chunk 0, the same elements in oneshot) or late-corruption (the same bug, in every
 * execution after the Nth).
 *
 * Nothing waits without a bound: the kernels' ranks wait on each other's flags, so a case
 * whose blocks cannot all be resident at once (occupancy x SMs) is skipped before launch;
 * NCCL's initialization, its lazy connection inside ncclGroupEnd and its teardown are polled
 * (ncclCommGetAsyncError) under a timeout, and a hang there aborts the communicators and
 * ends the run as a device failure, results so far kept. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef TB_HAVE_NCCL
#include <nccl.h>
#endif

#include "../harness/bench.h"
#include "../harness/cudacheck.h"
#include "../harness/keyindex.h"
#include "../harness/record.h"
#include "../harness/sampler.h"
#include "../harness/sweep.h"
#include "../harness/timer.h"
#include "../harness/world.h"
#include "../kernels/allreduce.h"
#include "../kernels/allreduce/ar_data.h"
#include "allreduce_host.h"
#include "benches.h"
#include "coll_nccl.h"

enum { AX_BYTES, AX_OP, AX_INPLACE, AX_RPG, AX_RANKS, AX_COUNT };
enum { IMPL_NCCL, IMPL_ONESHOT, IMPL_TWOSHOT, IMPL_RING, IMPL_MPI };

static const char *const op_names[] = {"sum", "max", "min", NULL};

/* host implementations: blocks per rank and ring piece, small so that the host sizes still
 * cut into several blocks, pieces and rounds */
#define HOST_BLOCKS 3
#define HOST_PIECE_ELEMS 96

static int ar_dtype(tb_dtype d)
{
    return d == TB_BF16 ? TB_AR_BF16 : (d == TB_FP16 ? TB_AR_F16 : TB_AR_F32);
}

static int impl_algo(const tb_impl *impl)
{
    const char *n = impl->name;
    if (!strncmp(n, "host-", 5))
        n += 5;
    if (!strcmp(n, "oneshot"))
        return IMPL_ONESHOT;
    if (!strcmp(n, "twoshot"))
        return IMPL_TWOSHOT;
    if (!strcmp(n, "ring"))
        return IMPL_RING;
    if (!strcmp(n, "mpi"))
        return IMPL_MPI;
    return IMPL_NCCL;
}

/* elements per rank: the size rounded down to whole elements, as nccl-tests does */
static long long ar_count(const tb_case *c)
{
    return (long long)(c->axis[AX_BYTES] / tb_ar_elem_bytes(ar_dtype(c->dtype)));
}

static double ar_bytes(const tb_case *c)
{
    return (double)ar_count(c) * tb_ar_elem_bytes(ar_dtype(c->dtype));
}

static tb_peak_kind ar_peak_kind(const tb_case *c)
{
    (void)c;
    return TB_PEAK_NONE; /* link speeds are not a peak of the device */
}

static tb_status ar_collective(const tb_case *c, int n_devices, tb_collective *out, tb_err *err)
{
    int host = c->impl->kind == TB_KIND_HOST;
    int k = (int)c->axis[AX_RPG];
    /* under MPI the processes are the ranks (times each one's GPUs on GPUs) */
    int n = host ? (tb_world_multi() ? tb_world_size() : (int)c->axis[AX_RANKS])
                 : tb_world_size() * n_devices * k;
    memset(out, 0, sizeof *out);
    if (impl_algo(c->impl) == IMPL_MPI && !tb_world_multi())
        return tb_err_set(err, TB_SKIP, "needs mpirun: the MPI processes are its ranks");
    if (n < 2) {
        if (host)
            return tb_err_set(err, TB_SKIP, "allreduce needs at least 2 ranks (--ranks %d)", n);
        return tb_err_set(err, TB_SKIP,
                          "allreduce needs at least 2 ranks: %d GPU%s x %d rank%s per GPU (use "
                          "more GPUs, or --ranks-per-gpu 2 for a correctness run on one GPU)",
                          n_devices, n_devices == 1 ? "" : "s", k, k == 1 ? "" : "s");
    }
    if (n > TB_AR_MAX_RANKS)
        return tb_err_set(err, TB_SKIP, "allreduce runs at most %d ranks, not %d", TB_AR_MAX_RANKS,
                          n);
    out->ranks = n;
    out->bus_factor = 2.0 * (n - 1) / n;
    out->shared_device = !host && k > 1;
    return TB_OK;
}

/* ---- the state of a case ---- */

#ifdef TB_HAVE_NCCL
/* NCCL's initialization on a node takes seconds (topology, connection setup); this bounds it
 * apart from --timeout, which bounds one case's waits */
#define AR_NCCL_INIT_TIMEOUT_S 60.0
/* ncclCommFinalize flushes work already finished by then; a teardown longer than this hangs */
#define AR_NCCL_FINALIZE_TIMEOUT_S 10.0

typedef tb_nccl_keep nccl_keep;

typedef struct {
    ncclComm_t *comms;
    int n;
} nccl_comms;

/* A tb_poll_fn over communicators: done when none is in progress, failed when one reports
 * an error (with NCCL's string and its last error). */
static tb_poll_state nccl_poll(void *ctx, char *why, size_t whylen)
{
    nccl_comms *c = ctx;
    int pending = 0;
    for (int r = 0; r < c->n; r++) {
        if (!c->comms[r])
            continue;
        ncclResult_t state = ncclSuccess;
        ncclResult_t res = ncclCommGetAsyncError(c->comms[r], &state);
        if (res != ncclSuccess)
            state = res;
        if (state == ncclInProgress) {
            pending = 1;
        } else if (state != ncclSuccess) {
            const char *last = ncclGetLastError(c->comms[r]);
            snprintf(why, whylen, "rank %d: %s%s%s", r, ncclGetErrorString(state),
                     last && *last ? ": " : "", last ? last : "");
            return TB_POLL_FAILED;
        }
    }
    return pending ? TB_POLL_PENDING : TB_POLL_DONE;
}

/* Waits, at most timeout_s, until no communicator is in progress. */
static tb_status nccl_wait(ncclComm_t *comms, int n, const char *what, double timeout_s,
                           int *timed_out, tb_err *err)
{
    nccl_comms c = {comms, n};
    return tb_poll_wait(nccl_poll, &c, what, timeout_s, NULL, NULL, timed_out, err);
}

/* Starts rank `rank` of nranks on CUDA device `device` as a non-blocking communicator of
 * the clique `id`: one communicator, as each process of a multi-process run starts its own.
 * Returns once the call is issued (*comm may still be in progress: nccl_wait). */
static tb_status nccl_comm_start(ncclComm_t *comm, ncclUniqueId id, int nranks, int rank,
                                 int device, tb_err *err)
{
    TB_CUDA_TRY(cudaSetDevice(device), err);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t res = ncclCommInitRankConfig(comm, nranks, id, rank, &config);
    if (res != ncclSuccess && res != ncclInProgress) {
        const char *last = ncclGetLastError(NULL);
        return tb_err_set(err, TB_CASEFAIL, "ncclCommInitRankConfig (rank %d of %d, GPU %d) "
                          "failed: %s%s%s", rank, nranks, device, ncclGetErrorString(res),
                          last && *last ? ": " : "", last ? last : "");
    }
    return TB_OK;
}

static void nccl_abort_all(nccl_keep *nk)
{
    for (int d = 0; d < nk->ndev; d++)
        if (nk->comms[d]) {
            ncclCommAbort(nk->comms[d]);
            nk->comms[d] = NULL;
        }
}

static void nccl_release(void *p)
{
    nccl_keep *nk = p;
    if (!nk->failed) {
        /* finalize (non-blocking), wait for it within a bound, then destroy; a teardown
         * that fails or hangs aborts instead */
        int ok = 1;
        for (int d = 0; d < nk->ndev && ok; d++) {
            ncclResult_t res = ncclCommFinalize(nk->comms[d]);
            ok = res == ncclSuccess || res == ncclInProgress;
        }
        tb_err ignored;
        if (ok && nccl_wait(nk->comms, nk->ndev, "ncclCommFinalize", AR_NCCL_FINALIZE_TIMEOUT_S,
                            NULL, &ignored) == TB_OK) {
            for (int d = 0; d < nk->ndev; d++)
                ncclCommDestroy(nk->comms[d]);
        } else {
            nccl_abort_all(nk);
        }
    }
    free(nk);
}
#endif

typedef struct {
    int algo, host;
    int n, k, ndev;          /* ranks, ranks per device, devices */
    int dt, op, inplace;
    long long count;
    uint64_t seed;
    const tb_group *g;
    tb_ar_args args[TB_AR_MAX_RANKS]; /* per device */
    int *abort_flag;                   /* host-mapped: releases the kernels' waits */
    tb_ar_check_result *check[TB_AR_MAX_RANKS]; /* per rank, on its device */
    tb_ar_host hr;                     /* host implementations */
    const tb_fault *fault;             /* host: the bug the schedules commit, or NULL */
    long runs;                         /* host: executions so far */
    tb_rank_stamp stamps[TB_AR_MAX_RANKS]; /* per-iteration statistics: the ranks' times */
    int mpi;                           /* host under MPI: this process is rank `me` alone */
    int me;
    tb_world_shm *shm;                 /* host under MPI: every rank's buffers and flags */
    int aborted;                       /* host under MPI: a peer may never come back */
#ifdef TB_HAVE_NCCL
    nccl_keep *nccl;
#endif
} ar_state;

static int dev_of(const ar_state *st, int rank)
{
    return rank / st->k;
}

static void ar_teardown(void *p)
{
    ar_state *st = p;
    if (!st)
        return;
    if (st->mpi) {
        if (st->shm) {
            if (!st->aborted) /* freeing is collective: not with a hung peer */
                tb_world_shm_free(st->shm);
        } else if (st->hr.in[st->me]) { /* host-mpi: this rank's own buffers */
            if (!st->inplace)
                free(st->hr.out[st->me]);
            free(st->hr.in[st->me]);
        }
        free(st);
        return;
    }
    for (int r = 0; r < st->n; r++) {
        if (st->host) {
            free(st->hr.in[r]);
            if (!st->inplace)
                free(st->hr.out[r]);
            free(st->hr.scratch[r]);
            free(st->hr.flags[r]);
            free(st->hr.epochs[r]);
            continue;
        }
        const tb_ar_args *a = &st->args[0];
        cudaSetDevice(st->g->devices[dev_of(st, r)].ordinal);
        cudaFree(a->in[r]);
        if (!st->inplace)
            cudaFree(a->out[r]);
        cudaFree(a->scratch[r]);
        cudaFree(a->flags[r]);
        cudaFree(a->epochs[r]);
        cudaFree(st->check[r]);
    }
    if (st->abort_flag)
        cudaFreeHost(st->abort_flag);
    free(st);
}

/* Fills every rank's input and poisons (NaN) every output and scratch buffer. */
static tb_status fill_inputs(ar_state *st, tb_err *err)
{
    size_t bytes = (size_t)st->count * (size_t)tb_ar_elem_bytes(st->dt);
    if (st->host) {
        for (int r = 0; r < st->n; r++) {
            if (st->mpi && r != st->me)
                continue; /* each process fills its own rank */
            if (!st->inplace)
                memset(st->hr.out[r], 0xff, bytes);
            if (st->hr.scratch[r])
                memset(st->hr.scratch[r], 0xff, bytes);
            for (long long i = 0; i < st->count; i++)
                tb_ar_set(st->hr.in[r], st->dt, i, (float)tb_ar_input(st->seed, r, i));
        }
        /* no rank starts on inputs a peer is still refilling */
        return st->mpi ? tb_world_barrier_within(st->g->timeout_s, err) : TB_OK;
    }
    const tb_ar_args *a = &st->args[0];
    for (int r = 0; r < st->n; r++) {
        int d = dev_of(st, r);
        cudaStream_t s = (cudaStream_t)st->g->streams[d];
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        if (!st->inplace)
            TB_CUDA_TRY(cudaMemsetAsync(a->out[r], 0xff, bytes, s), err);
        if (a->scratch[r])
            TB_CUDA_TRY(cudaMemsetAsync(a->scratch[r], 0xff, bytes, s), err);
        TB_CUDA_TRY(tb_ar_fill(a->in[r], st->dt, st->count, st->seed, r,
                               st->g->devices[d].sm_count, s),
                    err);
    }
    for (int d = 0; d < st->ndev; d++) {
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        TB_CUDA_TRY(cudaStreamSynchronize((cudaStream_t)st->g->streams[d]), err);
    }
    return TB_OK;
}

static void host_params(ar_state *st)
{
    tb_ar_host *h = &st->hr;
    h->algo = st->algo == IMPL_ONESHOT ? TB_AR_ONESHOT
              : st->algo == IMPL_TWOSHOT ? TB_AR_TWOSHOT
                                         : TB_AR_RING;
    h->nranks = st->n;
    h->dtype = st->dt;
    h->op = st->op;
    h->inplace = st->inplace;
    h->blocks = HOST_BLOCKS;
    h->piece = HOST_PIECE_ELEMS;
    h->count = st->count;
    h->stall_rank = -1;
    h->skip_peer = -1;
    tb_ar_split(st->count, st->n, tb_ar_vec_elems(st->dt), 0, &h->skip_lo, &h->skip_hi);
}

static size_t round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Under MPI: the vendor row (host-mpi) keeps its buffers to itself; the schedules get one
 * shared-memory window, each rank's part laid out as flags | epochs | in | out | scratch,
 * and address every rank's part as the host threads address each other's buffers. */
static tb_status setup_host_mpi(ar_state *st, size_t bytes, int scratch, tb_err *err)
{
    tb_ar_host *h = &st->hr;
    host_params(st);
    int me = st->me;
    if (st->algo == IMPL_MPI) {
        if (st->dt != TB_AR_F32)
            return tb_err_set(err, TB_SKIP, "MPI has no %s type", st->dt == TB_AR_BF16 ? "bf16"
                                                                                    : "fp16");
        h->in[me] = malloc(bytes);
        h->out[me] = st->inplace ? h->in[me] : malloc(bytes);
        if (!h->in[me] || !h->out[me])
            return tb_err_set(err, TB_SKIP, "cannot allocate %zu bytes of host memory",
                              2 * bytes);
        return TB_OK;
    }
    size_t flags = round64((size_t)TB_AR_FLAG_WORDS * sizeof(unsigned));
    size_t epochs = round64(TB_AR_MAX_BLOCKS * sizeof(unsigned));
    size_t buf = round64(bytes);
    size_t part = flags + epochs + buf * (size_t)(1 + !st->inplace + scratch);
    void *base[TB_AR_MAX_RANKS];
    tb_status s = tb_world_shm_alloc(part, &st->shm, base, err);
    if (s)
        return s;
    for (int r = 0; r < st->n; r++) {
        char *p = base[r];
        h->flags[r] = (unsigned *)p;
        h->epochs[r] = (unsigned *)(p + flags);
        h->in[r] = p + flags + epochs;
        h->out[r] = st->inplace ? h->in[r] : p + flags + epochs + buf;
        h->scratch[r] = scratch ? p + flags + epochs + buf * (size_t)(1 + !st->inplace) : NULL;
    }
    return TB_OK;
}

static tb_status setup_host(ar_state *st, tb_err *err)
{
    size_t bytes = (size_t)st->count * (size_t)tb_ar_elem_bytes(st->dt);
    int scratch = st->algo == IMPL_RING || (st->algo == IMPL_ONESHOT && st->inplace);
    int bufs = 1 + !st->inplace + scratch;
    tb_status s = tb_device_need_memory(0, (double)bytes * bufs * (st->mpi ? 1 : st->n), err);
    if (s)
        return s;
    if (st->mpi)
        return setup_host_mpi(st, bytes, scratch, err);
    tb_ar_host *h = &st->hr;
    h->algo = st->algo == IMPL_ONESHOT ? TB_AR_ONESHOT
              : st->algo == IMPL_TWOSHOT ? TB_AR_TWOSHOT
                                         : TB_AR_RING;
    h->nranks = st->n;
    h->dtype = st->dt;
    h->op = st->op;
    h->inplace = st->inplace;
    h->blocks = HOST_BLOCKS;
    h->piece = HOST_PIECE_ELEMS;
    h->count = st->count;
    h->stall_rank = -1;
    h->skip_peer = -1;
    tb_ar_split(st->count, st->n, tb_ar_vec_elems(st->dt), 0, &h->skip_lo, &h->skip_hi);
    for (int r = 0; r < st->n; r++) {
        h->in[r] = malloc(bytes);
        h->out[r] = st->inplace ? h->in[r] : malloc(bytes);
        h->scratch[r] = scratch ? malloc(bytes) : NULL;
        h->flags[r] = calloc((size_t)TB_AR_FLAG_WORDS, sizeof(unsigned));
        h->epochs[r] = calloc(TB_AR_MAX_BLOCKS, sizeof(unsigned));
        if (!h->in[r] || !h->out[r] || !h->flags[r] || !h->epochs[r] ||
            (scratch && !h->scratch[r]))
            return tb_err_set(err, TB_SKIP, "cannot allocate %zu bytes of host memory per rank",
                              bytes * (size_t)bufs);
    }
    return TB_OK;
}

static tb_status enable_peers(const tb_group *g, tb_err *err)
{
    for (int i = 0; i < g->n_devices; i++)
        for (int j = 0; j < g->n_devices; j++) {
            int a = g->devices[i].ordinal, b = g->devices[j].ordinal, can = 0;
            if (a == b)
                continue;
            TB_CUDA_TRY(cudaDeviceCanAccessPeer(&can, a, b), err);
            if (!can)
                return tb_err_set(err, TB_SKIP, "no P2P between GPU %d and %d", a, b);
        }
    for (int i = 0; i < g->n_devices; i++) {
        TB_CUDA_TRY(cudaSetDevice(g->devices[i].ordinal), err);
        for (int j = 0; j < g->n_devices; j++) {
            if (g->devices[j].ordinal == g->devices[i].ordinal)
                continue;
            cudaError_t e = cudaDeviceEnablePeerAccess(g->devices[j].ordinal, 0);
            if (e == cudaErrorPeerAccessAlreadyEnabled) {
                cudaGetLastError();
            } else if (e == cudaErrorTooManyPeers) {
                /* a limit of the platform (e.g. 8 peers over PCIe), not a failure */
                cudaGetLastError();
                return tb_err_set(err, TB_SKIP, "no P2P between GPU %d and %d: %s",
                                  g->devices[i].ordinal, g->devices[j].ordinal,
                                  cudaGetErrorString(e));
            } else if (e != cudaSuccess) {
                return tb_err_set(err, TB_DEVFAIL, "cudaDeviceEnablePeerAccess(%d) on GPU %d: %s",
                                  g->devices[j].ordinal, g->devices[i].ordinal,
                                  cudaGetErrorString(e));
            }
        }
    }
    return TB_OK;
}

#ifdef TB_HAVE_NCCL
/* The group's communicators, started once per run and kept across its cases: one unique
 * id, one non-blocking communicator per GPU inside one group call, the initialization
 * polled under its own timeout. A timeout aborts them and is a device failure (exit 4). */
static tb_status nccl_start(ar_state *st, tb_err *err)
{
    tb_keep *keep = st->g->keep;
    if (st->k > 1)
        return tb_err_set(err, TB_SKIP, "NCCL runs one rank per GPU (--ranks-per-gpu 1)");
    if (keep->obj) {
        st->nccl = keep->obj;
        if (st->nccl->failed)
            return tb_err_set(err, TB_SKIP, "NCCL could not start earlier in this run: %s",
                              st->nccl->why);
        return TB_OK;
    }
    nccl_keep *nk = calloc(1, sizeof *nk);
    if (!nk)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    nk->ndev = st->ndev;
    keep->obj = nk;
    keep->release = nccl_release;
    st->nccl = nk;
    /* one clique over every process: rank 0's id, broadcast; rank = process x GPUs + GPU */
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    ncclResult_t res = tb_world_rank() == 0 ? ncclGetUniqueId(&id) : ncclSuccess;
    int ok = res == ncclSuccess;
    tb_world_bcast(&ok, sizeof ok, 0);
    tb_world_bcast(&id, sizeof id, 0);
    if (res == ncclSuccess && !ok)
        res = ncclInternalError; /* rank 0 could not make the id */
    int nranks = tb_world_size() * st->ndev, first = tb_world_rank() * st->ndev;
    tb_status s = TB_OK;
    if (res != ncclSuccess) {
        s = tb_err_set(err, TB_CASEFAIL, "ncclGetUniqueId failed: %s", ncclGetErrorString(res));
    } else if ((res = ncclGroupStart()) != ncclSuccess) {
        s = tb_err_set(err, TB_CASEFAIL, "ncclGroupStart failed: %s", ncclGetErrorString(res));
    } else {
        for (int d = 0; d < st->ndev && !s; d++)
            s = nccl_comm_start(&nk->comms[d], id, nranks, first + d,
                                st->g->devices[d].ordinal, err);
        res = ncclGroupEnd();
        if (!s && res != ncclSuccess && res != ncclInProgress)
            s = tb_err_set(err, TB_CASEFAIL, "ncclGroupEnd (communicator init) failed: %s",
                           ncclGetErrorString(res));
    }
    if (!s) {
        int timed_out = 0;
        s = nccl_wait(nk->comms, nk->ndev, "NCCL communicator init", AR_NCCL_INIT_TIMEOUT_S,
                      &timed_out, err);
        if (s && !timed_out)
            s = TB_CASEFAIL; /* NCCL refused: the other implementations still run */
    }
    if (s) {
        nk->failed = 1;
        snprintf(nk->why, sizeof nk->why, "%s", err->msg);
        nccl_abort_all(nk);
        if (s == TB_DEVFAIL)
            return tb_err_set(err, TB_DEVFAIL, "%s; communicators aborted", nk->why);
    }
    return s;
}

tb_status tb_nccl_group(const tb_group *g, int ranks_per_gpu, tb_nccl_keep **out, tb_err *err)
{
    ar_state *st = calloc(1, sizeof *st);
    if (!st)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    st->g = g;
    st->k = ranks_per_gpu;
    st->ndev = g->n_devices;
    tb_status s = nccl_start(st, err);
    *out = st->nccl;
    free(st);
    return s;
}

tb_status tb_nccl_group_wait(tb_nccl_keep *nk, const char *what, double timeout_s, tb_err *err)
{
    return nccl_wait(nk->comms, nk->ndev, what, timeout_s, NULL, err);
}

void tb_nccl_group_abort(tb_nccl_keep *nk)
{
    if (nk && !nk->failed) {
        nccl_abort_all(nk);
        nk->failed = 1;
        snprintf(nk->why, sizeof nk->why, "its communicators were aborted");
    }
}
#endif

/* Skips a case whose kernel blocks cannot all be resident at once on some GPU (a co-tenant
 * under MPS with fewer SMs, a kernel that takes more registers than its launch bounds
 * promise): its ranks would wait for blocks that never start. */
static tb_status check_resident(ar_state *st, tb_err *err)
{
    for (int d = 0; d < st->ndev; d++) {
        int resident = 0, needed = 0;
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        const tb_ar_args *a = &st->args[d];
        cudaError_t e = st->algo == IMPL_ONESHOT   ? tb_ar_oneshot_resident(a, st->k, &resident,
                                                                            &needed)
                        : st->algo == IMPL_TWOSHOT ? tb_ar_twoshot_resident(a, st->k, &resident,
                                                                            &needed)
                                                   : tb_ar_ring_resident(a, st->k, &resident,
                                                                         &needed);
        if (e != cudaSuccess)
            return tb_err_set(err, TB_DEVFAIL, "cudaOccupancyMaxActiveBlocksPerMultiprocessor "
                              "on GPU %d: %s", st->g->devices[d].ordinal, cudaGetErrorString(e));
        if (needed > resident)
            return tb_err_set(err, TB_SKIP, "its %d blocks (%d rank%s) cannot all be resident "
                              "at once on GPU %d, which holds %d of them (blocks per SM x SMs): "
                              "its ranks would wait on each other forever", needed, st->k,
                              st->k == 1 ? "" : "s", st->g->devices[d].ordinal, resident);
    }
    return TB_OK;
}

static tb_status setup_gpu(ar_state *st, tb_err *err)
{
    const tb_group *g = st->g;
    size_t bytes = (size_t)st->count * (size_t)tb_ar_elem_bytes(st->dt);
    int scratch = st->algo == IMPL_RING || (st->algo == IMPL_ONESHOT && st->inplace);
    tb_status s;
    if (st->algo == IMPL_NCCL) {
#ifdef TB_HAVE_NCCL
        if ((s = nccl_start(st, err)))
            return s;
#else
        return tb_err_set(err, TB_SKIP, "this build has no NCCL (set NCCL_ROOT and rebuild)");
#endif
    } else if (tb_world_multi()) {
        return tb_err_set(err, TB_SKIP, "the hand-written kernels reach only the GPUs of one "
                          "process (no CUDA IPC path across processes)");
    } else if ((s = enable_peers(g, err))) {
        return s;
    }
    int sm_min = g->devices[0].sm_count;
    for (int d = 0; d < st->ndev; d++) {
        if (g->devices[d].sm_count < sm_min)
            sm_min = g->devices[d].sm_count;
        TB_CUDA_TRY(cudaSetDevice(g->devices[d].ordinal), err);
        double need = (double)st->k * ((double)bytes * (1 + !st->inplace + scratch) +
                                       (double)TB_AR_FLAG_WORDS * 4);
        if ((s = tb_device_need_memory(need, 0, err)))
            return s;
    }
    TB_CUDA_TRY(cudaHostAlloc((void **)&st->abort_flag, sizeof(int),
                              cudaHostAllocMapped | cudaHostAllocPortable),
                err);
    *st->abort_flag = 0;
    int *abort_dev = NULL;
    TB_CUDA_TRY(cudaHostGetDevicePointer((void **)&abort_dev, st->abort_flag, 0), err);
    tb_ar_args a;
    memset(&a, 0, sizeof a);
    a.nranks = st->n;
    a.dtype = st->dt;
    a.op = st->op;
    a.inplace = st->inplace;
    a.sm_count = sm_min;
    a.count = st->count;
    a.abort = abort_dev;
    for (int r = 0; r < st->n; r++) {
        int d = dev_of(st, r);
        TB_CUDA_TRY(cudaSetDevice(g->devices[d].ordinal), err);
        cudaStream_t sd = (cudaStream_t)g->streams[d];
        TB_CUDA_TRY(cudaMalloc(&a.in[r], bytes), err);
        st->args[0].in[r] = a.in[r]; /* teardown frees what setup got this far */
        if (st->inplace) {
            a.out[r] = a.in[r];
        } else {
            TB_CUDA_TRY(cudaMalloc(&a.out[r], bytes), err);
            st->args[0].out[r] = a.out[r];
        }
        if (scratch) {
            TB_CUDA_TRY(cudaMalloc(&a.scratch[r], bytes), err);
            st->args[0].scratch[r] = a.scratch[r];
        }
        TB_CUDA_TRY(cudaMalloc((void **)&a.flags[r], (size_t)TB_AR_FLAG_WORDS * sizeof(unsigned)),
                    err);
        st->args[0].flags[r] = a.flags[r];
        TB_CUDA_TRY(cudaMalloc((void **)&a.epochs[r], TB_AR_MAX_BLOCKS * sizeof(unsigned)), err);
        st->args[0].epochs[r] = a.epochs[r];
        TB_CUDA_TRY(cudaMalloc((void **)&st->check[r], sizeof(tb_ar_check_result)), err);
        TB_CUDA_TRY(cudaMemsetAsync(a.flags[r], 0, (size_t)TB_AR_FLAG_WORDS * sizeof(unsigned), sd),
                    err);
        TB_CUDA_TRY(cudaMemsetAsync(a.epochs[r], 0, TB_AR_MAX_BLOCKS * sizeof(unsigned), sd), err);
    }
    /* the buffers are registered once: every device's launch arguments address every rank */
    for (int d = 0; d < st->ndev; d++) {
        st->args[d] = a;
        st->args[d].first_rank = d * st->k;
    }
    return st->algo == IMPL_NCCL ? TB_OK : check_resident(st, err);
}

static tb_status ar_setup(const tb_case *c, const tb_env *env, void **state, tb_err *err)
{
    *state = NULL;
    tb_collective coll;
    const tb_group *g = env->group;
    tb_status s = ar_collective(c, g->n_devices, &coll, err);
    if (s)
        return s;
    ar_state *st = calloc(1, sizeof *st);
    if (!st)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    st->algo = impl_algo(c->impl);
    st->host = c->impl->kind == TB_KIND_HOST;
    st->n = coll.ranks;
    st->k = st->host ? st->n : (int)c->axis[AX_RPG];
    st->ndev = g->n_devices;
    st->dt = ar_dtype(c->dtype);
    st->op = (int)c->axis[AX_OP];
    st->inplace = (int)c->axis[AX_INPLACE];
    st->count = ar_count(c);
    st->seed = env->seed;
    st->g = g;
    st->fault = st->host ? env->fault : NULL;
    st->mpi = st->host && tb_world_multi();
    st->me = st->mpi ? tb_world_rank() : 0;
    if (st->count < 1) {
        free(st);
        return tb_err_set(err, TB_SKIP, "bytes=%lld holds no %s element",
                          (long long)c->axis[AX_BYTES], tb_dtype_name(c->dtype));
    }
    s = st->host ? setup_host(st, err) : setup_gpu(st, err);
    if (!s)
        s = fill_inputs(st, err);
    if (s) {
        ar_teardown(st);
        return s;
    }
    if (st->host) {
        /* fault injection for the watchdog's test: one host rank never arrives (under MPI,
         * its process stops answering) */
        const char *stall = getenv("TRAINBENCH_TEST_STALL_BYTES");
        if (stall && atoll(stall) == (long long)c->axis[AX_BYTES])
            st->hr.stall_rank = st->n - 1;
    }
    *state = st;
    return TB_OK;
}

static tb_status ar_run(void *p, tb_err *err)
{
    ar_state *st = p;
    if (st->host) {
        st->runs++;
        int skip = tb_fault_is(st->fault, TB_FAULT_AR_SKIP_PEER) ||
                   (tb_fault_is(st->fault, TB_FAULT_LATE_CORRUPTION) &&
                    st->runs > st->fault->late_after);
        st->hr.skip_peer = skip ? st->n - 1 : -1;
        if (!st->mpi) {
            tb_status s = tb_ar_host_run(&st->hr, st->g->timeout_s, err);
            tb_rank_times *rt = st->g->rank_times;
            if (!s && rt && rt->armed) { /* per-iteration statistics: each rank's own time */
                memcpy(rt->t, st->hr.rank_busy_s, (size_t)st->n * sizeof rt->t[0]);
                rt->ranks = st->n;
            }
            return s;
        }
        if (st->hr.stall_rank == st->me)
            for (;;)
                pause(); /* a hung process: the others' watchdogs end the job */
        if (st->algo == IMPL_MPI)
            return tb_world_allreduce_f32(st->hr.in[st->me], st->hr.out[st->me], st->count,
                                          st->op, st->g->timeout_s, NULL, err);
        tb_status s = tb_ar_host_run_rank(&st->hr, st->me, st->g->timeout_s, err);
        /* every rank is done reading the others' buffers before any refills its own */
        return s ? s : tb_world_barrier_within(st->g->timeout_s, err);
    }
    if (st->algo == IMPL_NCCL) {
#ifdef TB_HAVE_NCCL
        static const ncclDataType_t types[] = {ncclFloat32, ncclBfloat16, ncclFloat16};
        static const ncclRedOp_t ops[] = {ncclSum, ncclMax, ncclMin};
        ncclResult_t res = ncclGroupStart();
        for (int d = 0; d < st->ndev && (res == ncclSuccess || res == ncclInProgress); d++)
            res = ncclAllReduce(st->args[0].in[d], st->args[0].out[d], (size_t)st->count,
                                types[st->dt], ops[st->op], st->nccl->comms[d],
                                (cudaStream_t)st->g->streams[d]);
        ncclResult_t end = ncclGroupEnd();
        if (res == ncclSuccess || res == ncclInProgress)
            res = end;
        if (res == ncclInProgress) /* connecting on first use: bounded like any wait */
            return nccl_wait(st->nccl->comms, st->ndev, "ncclGroupEnd (NCCL connecting)",
                             st->g->timeout_s, NULL, err);
        if (res != ncclSuccess)
            return tb_err_set(err, TB_DEVFAIL, "ncclAllReduce failed: %s",
                              ncclGetErrorString(res));
        return tb_group_stamp_ranks(st->g, 1, st->stamps, err);
#else
        return tb_err_set(err, TB_DEVFAIL, "this build has no NCCL");
#endif
    }
    for (int d = 0; d < st->ndev; d++) {
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        cudaStream_t s = (cudaStream_t)st->g->streams[d];
        if (st->algo == IMPL_ONESHOT)
            TB_CUDA_TRY(tb_ar_oneshot(&st->args[d], st->k, s), err);
        else if (st->algo == IMPL_TWOSHOT)
            TB_CUDA_TRY(tb_ar_twoshot(&st->args[d], st->k, s), err);
        else
            TB_CUDA_TRY(tb_ar_ring(&st->args[d], st->k, s), err);
    }
    return tb_group_stamp_ranks(st->g, st->k, st->stamps, err);
}

/* The norm-wise error of one rank's buffer from its sums; a NaN counts as infinite. */
static double rank_norm(double err2, double ref2)
{
    double rel = ref2 > 0 ? sqrt(err2 / ref2) : (err2 > 0 ? INFINITY : 0.0);
    return isnan(rel) ? INFINITY : rel;
}

static tb_status ar_verify(const tb_case *c, void *p, tb_verify *v, tb_err *err)
{
    (void)c;
    ar_state *st = p;
    memset(v, 0, sizeof *v);
    v->n_checked = st->count * (st->mpi ? 1 : st->n);
    double max_abs = 0, worst_norm = 0;
    int64_t ranks_off = 0;
    for (int r = 0; r < st->n; r++) {
        if (st->mpi && r != st->me)
            continue; /* each process checks its own rank's result */
        double err2 = 0, ref2 = 0;
        if (st->host) {
            for (long long i = 0; i < st->count; i++) {
                float want = (float)tb_ar_expected(st->seed, st->n, st->op, i);
                float got = tb_ar_get(st->hr.out[r], st->dt, i);
                ref2 += (double)want * want;
                if (got != want) {
                    v->n_wrong++;
                    double e = fabs((double)got - (double)want);
                    e = isnan(e) ? INFINITY : e;
                    max_abs = e > max_abs ? e : max_abs;
                    err2 += e * e;
                }
            }
        } else {
            int d = dev_of(st, r);
            cudaStream_t s = (cudaStream_t)st->g->streams[d];
            tb_ar_check_result h;
            TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
            TB_CUDA_TRY(cudaMemsetAsync(st->check[r], 0, sizeof h, s), err);
            TB_CUDA_TRY(tb_ar_check(st->args[0].out[r], st->dt, st->count, st->seed, st->n,
                                    st->op, st->check[r], st->g->devices[d].sm_count, s),
                        err);
            TB_CUDA_TRY(cudaMemcpyAsync(&h, st->check[r], sizeof h, cudaMemcpyDeviceToHost, s),
                        err);
            TB_CUDA_TRY(cudaStreamSynchronize(s), err);
            float e;
            memcpy(&e, &h.max_abs_err_bits, sizeof e);
            v->n_wrong += (int64_t)h.n_wrong;
            if (e > max_abs)
                max_abs = e;
            err2 = h.err2;
            ref2 = h.ref2;
        }
        double rel = rank_norm(err2, ref2);
        worst_norm = rel > worst_norm ? rel : worst_norm;
        ranks_off += rel > 0;
    }
    v->max_abs_err = max_abs;
    v->max_rel_err = max_abs;
    v->tolerance = 0.0;
    v->ok = v->n_wrong == 0;
    /* exact: any error in a rank's buffer fails it */
    tb_verify_add_measure(v, "norm", "rank buffer", worst_norm, 0.0, st->mpi ? 1 : st->n,
                          ranks_off);
    return TB_OK;
}

static tb_status ar_reinit(const tb_case *c, void *p, tb_err *err)
{
    (void)c;
    return fill_inputs(p, err);
}

static void ar_abort(const tb_case *c, void *p)
{
    (void)c;
    ar_state *st = p;
    if (st->host) {
        st->aborted = st->mpi;
        return; /* the host ranks' own watchdog has already aborted them */
    }
    if (st->abort_flag)
        __atomic_store_n(st->abort_flag, 1, __ATOMIC_SEQ_CST);
#ifdef TB_HAVE_NCCL
    if (st->nccl && !st->nccl->failed) {
        nccl_abort_all(st->nccl);
        /* the communicators are gone: a later case would start new ones */
        st->nccl->failed = 1;
        snprintf(st->nccl->why, sizeof st->nccl->why, "its communicators were aborted");
    }
#endif
}

/* ---- the axis points ---- */

/* A comma-separated list of integers from lo to hi. */
static tb_status parse_ints(const char *spec, const char *what, int64_t lo, int64_t hi,
                            tb_sweep *out, tb_err *err)
{
    out->count = 0;
    out->values = calloc(strlen(spec) + 1, sizeof *out->values);
    if (!out->values)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    for (const char *p = spec;;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < lo || v > hi) {
            size_t len = strcspn(p, ",");
            tb_sweep_free(out);
            return tb_err_set(err, TB_USAGE, "%s: '%.*s' is not an integer from %lld to %lld",
                              what, (int)len, p, (long long)lo, (long long)hi);
        }
        out->values[out->count++] = v;
        if (!*end)
            return TB_OK;
        p = end + 1;
    }
}

static tb_status parse_ops(const char *spec, tb_sweep *out, tb_err *err)
{
    out->values = calloc(16, sizeof *out->values);
    out->count = 0;
    if (!out->values)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    for (const char *p = spec; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        int k = 0;
        while (op_names[k] && !(strlen(op_names[k]) == len && !strncmp(op_names[k], p, len)))
            k++;
        if (!op_names[k] || out->count >= 16) {
            tb_sweep_free(out);
            return tb_err_set(err, TB_USAGE, "--op: '%.*s' is not one of sum, max, min", (int)len,
                              p);
        }
        out->values[out->count++] = k;
        p = c ? c + 1 : NULL;
    }
    if (!out->count) {
        tb_sweep_free(out);
        return tb_err_set(err, TB_USAGE, "--op: empty value");
    }
    return TB_OK;
}

static const char *pick(const tb_axis *a, const char *given, int quick, int host)
{
    if (given)
        return given;
    if (host)
        return quick ? (a->host_quick ? a->host_quick : a->quick)
                     : (a->host_defaults ? a->host_defaults : a->defaults);
    return quick ? a->quick : a->defaults;
}

static tb_status ar_points(const tb_bench *b, const char *const *axis_values,
                           const char *const *option_values, int quick, int host, tb_points *out,
                           tb_err *err)
{
    (void)option_values;
    if (host && axis_values[AX_RPG])
        return tb_err_set(err, TB_USAGE,
                          "--ranks-per-gpu: places virtual ranks on a GPU; with --host the ranks "
                          "are --ranks");
    if (!host && axis_values[AX_RANKS])
        return tb_err_set(err, TB_USAGE,
                          "--ranks: sets the host ranks (with --host); on GPUs the ranks are the "
                          "GPUs of --gpus times --ranks-per-gpu");
    tb_sweep sw[AX_COUNT];
    memset(sw, 0, sizeof sw);
    tb_status st = tb_sweep_parse(pick(&b->axes[AX_BYTES], axis_values[AX_BYTES], quick, host),
                                  "--bytes", 1, &sw[AX_BYTES], err);
    if (!st)
        st = parse_ops(pick(&b->axes[AX_OP], axis_values[AX_OP], quick, host), &sw[AX_OP], err);
    if (!st)
        st = parse_ints(pick(&b->axes[AX_INPLACE], axis_values[AX_INPLACE], quick, host),
                        "--inplace", 0, 1, &sw[AX_INPLACE], err);
    if (!st)
        st = parse_ints(pick(&b->axes[AX_RPG], axis_values[AX_RPG], quick, host),
                        "--ranks-per-gpu", 1, TB_AR_MAX_RANKS, &sw[AX_RPG], err);
    if (!st && host && tb_world_multi()) {
        char procs[16];
        snprintf(procs, sizeof procs, "%d", tb_world_size());
        if (axis_values[AX_RANKS])
            st = tb_err_set(err, TB_USAGE, "--ranks: not used under MPI (the %d processes are "
                            "the ranks)", tb_world_size());
        else
            st = parse_ints(procs, "--ranks", 0, 1 << 30, &sw[AX_RANKS], err);
    } else if (!st && host) {
        st = parse_ints(pick(&b->axes[AX_RANKS], axis_values[AX_RANKS], quick, host), "--ranks",
                        0, TB_AR_MAX_RANKS, &sw[AX_RANKS], err);
        for (size_t i = 0; !st && i < sw[AX_RANKS].count; i++)
            if (sw[AX_RANKS].values[i] < 2)
                st = tb_err_set(err, TB_USAGE,
                                "--ranks: allreduce needs at least 2 ranks for a measurement, "
                                "not %lld",
                                (long long)sw[AX_RANKS].values[i]);
    } else if (!st) {
        st = parse_ints("0", "--ranks", 0, 0, &sw[AX_RANKS], err);
    }
    size_t idx[AX_COUNT] = {0};
    while (!st) {
        int64_t point[AX_COUNT];
        for (int i = 0; i < AX_COUNT; i++)
            point[i] = sw[i].values[idx[i]];
        if ((st = tb_points_add(out, point, AX_COUNT, err)))
            break;
        int i = AX_COUNT - 1;
        while (i >= 0 && ++idx[i] == sw[i].count)
            idx[i--] = 0;
        if (i < 0)
            break;
    }
    for (int i = 0; i < AX_COUNT; i++)
        tb_sweep_free(&sw[i]);
    return st;
}

/* ---- the end-of-run tables: nccl-tests' columns, % of NCCL, crossovers ---- */

/* Do two results belong to one table (same implementation, op, ranks, group)? The dtypes
 * share it, a block of rows each, as nccl-tests' "-d all" prints them. */
/* NCCL's results of a run, found by dtype and axes: the first ok one of each point. */
typedef struct {
    int64_t axis[TB_MAX_AXES];
    int64_t dtype; /* 64 bits: no padding in the key's bytes */
} ar_point;

typedef struct {
    const tb_result *const *rs;
    ar_point *points; /* one per result: the keys the index points at */
    tb_keyindex index;
} ar_nccl_index;

static ar_point point_of(const tb_result *r)
{
    ar_point p;
    memset(&p, 0, sizeof p);
    memcpy(p.axis, r->c.axis, sizeof p.axis);
    p.dtype = (int64_t)r->c.dtype;
    return p;
}

/* Indexes NCCL's ok results among rs; -1 when memory runs out. */
static int nccl_index(ar_nccl_index *x, const tb_result *const *rs, size_t n)
{
    x->rs = rs;
    tb_keyindex_init(&x->index);
    x->points = malloc((n ? n : 1) * sizeof *x->points);
    if (!x->points)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const tb_result *r = rs[i];
        if (r->status != TB_OK || impl_algo(r->c.impl) != IMPL_NCCL ||
            r->c.impl->kind != TB_KIND_VENDOR)
            continue;
        x->points[i] = point_of(r);
        if (tb_keyindex_put(&x->index, (const char *)&x->points[i], sizeof x->points[i], i) ==
            TB_KEYINDEX_NONE)
            return -1;
    }
    return 0;
}

static void nccl_index_free(ar_nccl_index *x)
{
    tb_keyindex_free(&x->index);
    free(x->points);
}

/* NCCL's result for the same point, or NULL. */
static const tb_result *nccl_of(ar_nccl_index *x, const tb_result *r)
{
    ar_point p = point_of(r);
    size_t i = tb_keyindex_get(&x->index, (const char *)&p, sizeof p);
    return i == TB_KEYINDEX_NONE ? NULL : x->rs[i];
}

static void cell(char *buf, size_t n, double v, const char *fmt)
{
    if (isfinite(v))
        snprintf(buf, n, fmt, v);
    else
        snprintf(buf, n, "-");
}

/* One placement's columns of a row: time, p99, algbw, busbw, #wrong, % of NCCL. */
static void place_cells(FILE *f, const tb_result *r, const tb_result *nccl)
{
    char t[32], p99[32], alg[32], bus[32], wrong[32], pct[32];
    if (!r) {
        fprintf(f, " %9s %8s %8s %8s %7s %6s", "", "", "", "", "", "");
        return;
    }
    int ok = r->status == TB_OK && r->have_stats;
    if (ok) {
        cell(t, sizeof t, r->stats.median * 1e6, "%.2f");
        if (r->timing && !strcmp(r->timing, "graph"))
            cell(p99, sizeof p99, r->stats.p99 * 1e6, "%.2f");
        else
            snprintf(p99, sizeof p99, "-");
    } else {
        snprintf(t, sizeof t, "%s", r->status == TB_SKIP ? "skipped"
                                    : r->status == TB_WRONG ? "wrong"
                                                            : "error");
        snprintf(p99, sizeof p99, "-");
    }
    cell(alg, sizeof alg, ok ? r->gbps : NAN, "%.2f");
    cell(bus, sizeof bus, ok ? r->busbw_gbps : NAN, "%.2f");
    if (r->have_verify_after)
        snprintf(wrong, sizeof wrong, "%lld", (long long)r->verify_after.n_wrong);
    else if (r->have_verify)
        snprintf(wrong, sizeof wrong, "%lld", (long long)r->verify.n_wrong);
    else
        snprintf(wrong, sizeof wrong, "-");
    double ratio = ok && nccl && nccl != r && nccl->have_stats
                       ? 100.0 * nccl->stats.median / r->stats.median
                       : NAN;
    cell(pct, sizeof pct, ratio, "%.0f%%");
    fprintf(f, " %9s %8s %8s %8s %7s %6s", t, p99, alg, bus, wrong, pct);
}

/* The sizes where a hand-written implementation is faster or slower than NCCL, as runs. */
static void crossovers(FILE *f, const tb_result *const *rows, size_t nrows,
                       ar_nccl_index *nccl, int inplace, const char *dtype)
{
    char line[1024];
    size_t used = 0;
    int last = -1, segments = 0;
    char from[32] = "", to[32] = "";
    line[0] = '\0';
    for (size_t i = 0; i <= nrows; i++) {
        int faster = -1;
        char sz[32] = "";
        if (i < nrows) {
            const tb_result *r = rows[i];
            if (r->c.axis[AX_INPLACE] != inplace || r->status != TB_OK || !r->have_stats)
                continue;
            const tb_result *nc = nccl_of(nccl, r);
            if (!nc || !nc->have_stats)
                continue;
            faster = r->stats.median < nc->stats.median;
            tb_sweep_format_size(r->c.axis[AX_BYTES], sz, sizeof sz);
        }
        if (faster != last && last >= 0 && used < sizeof line) {
            int k = snprintf(line + used, sizeof line - used, "%s%s than nccl %s%s%s",
                             segments ? "; " : "", last ? "faster" : "slower", from,
                             strcmp(from, to) ? ".." : "", strcmp(from, to) ? to : "");
            if (k > 0)
                used += (size_t)k;
            segments++;
        }
        if (faster != last)
            snprintf(from, sizeof from, "%s", sz);
        snprintf(to, sizeof to, "%s", sz);
        last = faster;
    }
    if (segments)
        fprintf(f, "  %s%scrossover, %s: %s\n", dtype ? dtype : "", dtype ? " " : "",
                inplace ? "in-place" : "out-of-place", line);
}

static int by_dtype_bytes(const void *a, const void *b)
{
    const tb_result *x = *(const tb_result *const *)a, *y = *(const tb_result *const *)b;
    if (x->c.dtype != y->c.dtype)
        return (x->c.dtype > y->c.dtype) - (x->c.dtype < y->c.dtype);
    return (x->c.axis[AX_BYTES] > y->c.axis[AX_BYTES]) - (x->c.axis[AX_BYTES] < y->c.axis[AX_BYTES]);
}

/* What puts results in one table. */
typedef struct {
    const tb_impl *impl;
    int64_t op, rpg, ranks_axis, ranks; /* 64 bits: no padding in the key's bytes */
} ar_table_key;

static void ar_end_tables(const tb_result *const *rs, size_t n, FILE *f)
{
    /* tables in order of their first result, each with its results in run order: numbered
     * through an index and placed by a counting sort, linear in the results */
    size_t m = n ? n : 1;
    const tb_result **rows = malloc(m * sizeof *rows);
    ar_table_key *keys = calloc(m, sizeof *keys);
    size_t *table = malloc(m * sizeof *table), *start = calloc(m + 1, sizeof *start);
    size_t *order = malloc(m * sizeof *order);
    ar_nccl_index nccl;
    tb_keyindex tables;
    tb_keyindex_init(&tables);
    size_t nt = 0;
    int failed = nccl_index(&nccl, rs, n) || !rows || !keys || !table || !start || !order;
    for (size_t i = 0; i < n && !failed; i++) {
        table[i] = (size_t)-1;
        if (!rs[i]->coll.ranks)
            continue;
        keys[i].impl = rs[i]->c.impl;
        keys[i].op = rs[i]->c.axis[AX_OP];
        keys[i].rpg = rs[i]->c.axis[AX_RPG];
        keys[i].ranks_axis = rs[i]->c.axis[AX_RANKS];
        keys[i].ranks = rs[i]->coll.ranks;
        table[i] = tb_keyindex_put(&tables, (const char *)&keys[i], sizeof keys[i], nt);
        failed = table[i] == TB_KEYINDEX_NONE;
        if (table[i] == nt)
            nt++;
    }
    for (size_t i = 0; i < n && !failed; i++)
        if (table[i] != (size_t)-1)
            start[table[i] + 1]++;
    for (size_t t = 0; t < nt; t++)
        start[t + 1] += start[t];
    for (size_t i = 0; i < n && !failed; i++)
        if (table[i] != (size_t)-1)
            order[start[table[i]]++] = i;
    for (size_t t = nt; t > 0; t--)
        start[t] = start[t - 1];
    start[0] = 0;
    for (size_t t = 0; t < nt && !failed; t++) {
        size_t nr = start[t + 1] - start[t];
        for (size_t k = 0; k < nr; k++)
            rows[k] = rs[order[start[t] + k]];
        const tb_result *head = rows[0];
        qsort(rows, nr, sizeof *rows, by_dtype_bytes);
        char dtypes[64] = "";
        for (size_t k = 0; k < nr; k++)
            if (k == 0 || rows[k]->c.dtype != rows[k - 1]->c.dtype) {
                size_t used = strlen(dtypes);
                snprintf(dtypes + used, sizeof dtypes - used, "%s%s", used ? "/" : "",
                         tb_dtype_name(rows[k]->c.dtype));
            }
        char where[128] = "host threads";
        if (tb_world_multi())
            snprintf(where, sizeof where, "MPI processes");
        if (!head->device->is_host) {
            size_t used = (size_t)snprintf(where, sizeof where, "GPUs ");
            for (int d = 0; d < head->n_group && used < sizeof where; d++) {
                int k = snprintf(where + used, sizeof where - used, "%s%d", d ? "," : "",
                                 head->group[d].ordinal);
                if (k < 0)
                    break;
                used += (size_t)k;
            }
        }
        fprintf(f, "\nallreduce %s, %s %s, %d ranks on %s; busbw = algbw x 2(n-1)/n = x%.3f%s\n",
                head->c.impl->name, dtypes, op_names[head->c.axis[AX_OP]],
                head->coll.ranks, where, head->coll.bus_factor,
                head->coll.shared_device
                    ? "\n  (ranks share a GPU: a correctness run, not a bandwidth measurement)"
                    : "");
        fprintf(f, "%38s  %-52s%-52s\n", "", "out-of-place", "in-place");
        fprintf(f, "%12s %12s %5s %5s  %9s %8s %8s %8s %7s %6s %9s %8s %8s %8s %7s %6s  %s\n",
                "size(B)", "count", "type", "redop", "time(us)", "p99(us)", "algbw", "busbw",
                "#wrong", "%NCCL", "time(us)", "p99(us)", "algbw", "busbw", "#wrong", "%NCCL",
                "timing");
        char rounded_types[128] = "";
        for (size_t k = 0; k < nr; k++) {
            const tb_result *r = rows[k];
            if (k > 0 && rows[k - 1]->c.axis[AX_BYTES] == r->c.axis[AX_BYTES] &&
                rows[k - 1]->c.dtype == r->c.dtype)
                continue; /* printed with the row of the same size */
            const tb_result *place[2] = {NULL, NULL};
            for (size_t j = k; j < nr && rows[j]->c.axis[AX_BYTES] == r->c.axis[AX_BYTES] &&
                               rows[j]->c.dtype == r->c.dtype;
                 j++)
                place[rows[j]->c.axis[AX_INPLACE] ? 1 : 0] = rows[j];
            long long count = ar_count(&r->c);
            long long size = count * tb_ar_elem_bytes(ar_dtype(r->c.dtype));
            if (size != r->c.axis[AX_BYTES] && !strstr(rounded_types, tb_dtype_name(r->c.dtype))) {
                size_t used = strlen(rounded_types);
                snprintf(rounded_types + used, sizeof rounded_types - used, "%s%s (%d bytes)",
                         used ? ", " : "", tb_dtype_name(r->c.dtype),
                         tb_ar_elem_bytes(ar_dtype(r->c.dtype)));
            }
            fprintf(f, "%12lld %12lld %5s %5s ", size, count, tb_dtype_name(r->c.dtype),
                    op_names[r->c.axis[AX_OP]]);
            for (int pl = 0; pl < 2; pl++)
                place_cells(f, place[pl], place[pl] ? nccl_of(&nccl, place[pl]) : NULL);
            fprintf(f, "  %s/%s\n",
                    place[0] && place[0]->have_stats ? place[0]->timing : "-",
                    place[1] && place[1]->have_stats ? place[1]->timing : "-");
        }
        if (rounded_types[0])
            fprintf(f, "  (sizes that are not a multiple of the element are rounded down, as "
                       "nccl-tests does: %s)\n",
                    rounded_types);
        if (head->c.impl->kind == TB_KIND_HANDWRITTEN && !head->coll.shared_device)
            for (size_t k0 = 0; k0 < nr;) {
                size_t k1 = k0; /* one dtype's block */
                while (k1 < nr && rows[k1]->c.dtype == rows[k0]->c.dtype)
                    k1++;
                for (int pl = 0; pl < 2; pl++)
                    crossovers(f, rows + k0, k1 - k0, &nccl, pl,
                               strchr(dtypes, '/') ? tb_dtype_name(rows[k0]->c.dtype) : NULL);
                k0 = k1;
            }
    }
    fprintf(f, "\nallreduce: time is per operation (median over samples; p99 where a CUDA graph "
               "of many operations was timed), algbw = size / time, GB = 1e9 bytes; timing: graph "
               "(graph replay), batch (back-to-back launches) or host\n");
    free(rows);
    free(keys);
    free(table);
    free(start);
    free(order);
    nccl_index_free(&nccl);
    tb_keyindex_free(&tables);
}

/* ---- the table ---- */

static const tb_axis ar_axes[] = {
    {"bytes", TB_AXIS_SIZE, "8:8G:x2", "8,4K,256K,16M,256M", "8:256K:x8", "8,4100,65540", NULL,
     "bytes per rank (nccl-tests' -b/-e/-f); rounded down to whole elements of the dtype"},
    {"op", TB_AXIS_ENUM, "sum", "sum", NULL, NULL, op_names, "the reduction: sum, max, min"},
    {"inplace", TB_AXIS_INT, "0,1", "0,1", NULL, NULL, NULL,
     "0 out-of-place, 1 in-place (both by default)"},
    {"ranks-per-gpu", TB_AXIS_INT, "1", "1", "1", "1", NULL,
     "ranks on each GPU: more than 1 runs virtual ranks (a correctness run, not bandwidth)"},
    {"ranks", TB_AXIS_INT, "0", "0", "2,3,4,8", "2,3,4,8", NULL,
     "host ranks (--host); 0 on GPUs: one rank per GPU of --gpus (times --ranks-per-gpu)"},
};

#define ALL_CC 0, 0
#define AR_DTYPES (TB_DT(TB_FP32) | TB_DT(TB_BF16) | TB_DT(TB_FP16))
static const tb_impl ar_impls[] = {
    {"nccl", TB_KIND_VENDOR, "ncclAllReduce, non-blocking communicators, one per GPU", ALL_CC,
     AR_DTYPES, NULL, 0, ar_setup, ar_run, ar_teardown, NULL},
    {"oneshot", TB_KIND_HANDWRITTEN, "every rank reads all inputs over P2P, one step", 80, 0,
     AR_DTYPES, "nccl", 0, ar_setup, ar_run, ar_teardown, NULL},
    {"twoshot", TB_KIND_HANDWRITTEN, "reduce-scatter then all-gather, both by P2P reads", 80, 0,
     AR_DTYPES, "nccl", 0, ar_setup, ar_run, ar_teardown, NULL},
    {"ring", TB_KIND_HANDWRITTEN, "pipelined ring, P2P writes to the next rank, flag hand-off",
     80, 0, AR_DTYPES, "nccl", 0, ar_setup, ar_run, ar_teardown, NULL},
    {"host-oneshot", TB_KIND_HOST, "oneshot's schedule, a host thread per rank", ALL_CC,
     AR_DTYPES, NULL, 0, ar_setup, ar_run, ar_teardown, NULL},
    {"host-twoshot", TB_KIND_HOST, "twoshot's schedule, a host thread per rank", ALL_CC,
     AR_DTYPES, NULL, 0, ar_setup, ar_run, ar_teardown, NULL},
    {"host-ring", TB_KIND_HOST, "ring's schedule, a host thread per rank", ALL_CC, AR_DTYPES,
     NULL, 0, ar_setup, ar_run, ar_teardown, NULL},
    {"host-mpi", TB_KIND_HOST, "MPI_Allreduce across the processes of mpirun (vendor; fp32)",
     ALL_CC, TB_DT(TB_FP32), NULL, 0, ar_setup, ar_run, ar_teardown, NULL},
};

const tb_bench tb_bench_allreduce = {
    "allreduce",
    "all-reduce across the node's GPUs: oneshot, twoshot, ring kernels against NCCL "
    "(nccl-tests' columns)",
    ar_axes,
    (int)(sizeof ar_axes / sizeof ar_axes[0]),
    ar_impls,
    (int)(sizeof ar_impls / sizeof ar_impls[0]),
    1,
    NULL,
    ar_bytes,
    ar_peak_kind,
    ar_verify,
    NULL,
    0,
    ar_points,
    NULL,
    NULL,
    NULL,
    ar_collective,
    ar_reinit,
    ar_abort,
    ar_end_tables,
};
