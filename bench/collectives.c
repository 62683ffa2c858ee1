/* collectives - all-gather, reduce-scatter, all-to-all, broadcast and send/recv across the GPUs
 * of one node, in one process, against NCCL, with nccl-tests' names, sizes, columns and bus
 * factors: one engine (sizes, buffers, exact verification, tables) and a descriptor per
 * collective. time is per operation, the slowest rank's (the group is timed from before the
 * first launch to after the last stream finishes); algbw = size / time; busbw = algbw x
 * (n - 1) / n, or x 1 for broadcast and sendrecv; GB is 1e9 bytes. The size names the whole
 * buffer for allgather, reducescatter and alltoall, one rank's for broadcast and sendrecv
 * (kernels/collectives/coll_data.h), as nccl-tests counts them.
 *
 * Implementations: nccl (the NCCL call on allreduce's communicators, coll_nccl.h), the
 * hand-written p2p kernels for allgather, reducescatter and alltoall (kernels/collectives/),
 * and their schedules on host threads (--host; broadcast and sendrecv: host-pull, each rank
 * pulls what it receives). Verification is allreduce's: small-integer inputs, every element of
 * every rank's output compared bit for bit with the value regenerated from the seed, outputs
 * poisoned before each checked run (#wrong is the check after the timed loop). Under
 * TRAINBENCH_TEST_FAULT the host rows commit ar-skip-peer (rank 0 never takes what the last
 * rank sends it; broadcast: the last rank never receives) or late-corruption (the same, after
 * the Nth execution). */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/bench.h"
#include "../harness/cudacheck.h"
#include "../harness/keyindex.h"
#include "../harness/record.h"
#include "../harness/sampler.h"
#include "../harness/sweep.h"
#include "../harness/timer.h"
#include "../harness/world.h"
#include "../kernels/collectives.h"
#include "benches.h"
#include "coll_host.h"
#include "coll_nccl.h"

enum { AX_BYTES, AX_OP, AX_INPLACE, AX_RPG, AX_RANKS, AX_COUNT };

#define HOST_BLOCKS 3
#define BCAST_ROOT 0

static const char *const op_names[] = {"sum", "max", "min", NULL};
static const char *const no_op[] = {"none", NULL};

typedef struct {
    const char *name;
    int coll;
    int reduces;  /* has an op axis */
    int inplace;  /* can run in place */
} coll_desc;

static const coll_desc descs[TB_COLL_COUNT] = {
    {"allgather", TB_COLL_ALLGATHER, 0, 1},   {"reducescatter", TB_COLL_REDUCESCATTER, 1, 1},
    {"alltoall", TB_COLL_ALLTOALL, 0, 0},     {"broadcast", TB_COLL_BROADCAST, 0, 1},
    {"sendrecv", TB_COLL_SENDRECV, 0, 0},
};

static const coll_desc *desc_of(const tb_bench *b)
{
    for (int i = 0; i < TB_COLL_COUNT; i++)
        if (!strcmp(descs[i].name, b->name))
            return &descs[i];
    return &descs[0];
}

static int ar_dtype(tb_dtype d)
{
    return d == TB_BF16 ? TB_AR_BF16 : (d == TB_FP16 ? TB_AR_F16 : TB_AR_F32);
}

static int is_nccl(const tb_impl *impl)
{
    return !strcmp(impl->name, "nccl");
}

/* without a group size: the size in whole elements (the group's count is in coll.bytes) */
static double coll_bytes(const tb_case *c)
{
    int es = tb_ar_elem_bytes(ar_dtype(c->dtype));
    return (double)(c->axis[AX_BYTES] / es * es);
}

static tb_peak_kind coll_peak_kind(const tb_case *c)
{
    (void)c;
    return TB_PEAK_NONE; /* link speeds are not a peak of the device */
}

static tb_status coll_collective(const tb_case *c, int n_devices, tb_collective *out, tb_err *err)
{
    const coll_desc *d = desc_of(c->bench);
    int host = c->impl->kind == TB_KIND_HOST;
    int k = (int)c->axis[AX_RPG];
    int n = host ? (int)c->axis[AX_RANKS] : n_devices * k;
    memset(out, 0, sizeof *out);
    /* every rank of mpirun decides alike: these collectives do not yet span processes */
    if (tb_world_multi())
        return tb_err_set(err, TB_SKIP, "%s does not run across the processes of mpirun yet "
                          "(allreduce does)", d->name);
    if (n < 2) {
        if (host)
            return tb_err_set(err, TB_SKIP, "%s needs at least 2 ranks (--ranks %d)", d->name, n);
        return tb_err_set(err, TB_SKIP,
                          "%s needs at least 2 ranks: %d GPU%s x %d rank%s per GPU (use more "
                          "GPUs, or --ranks-per-gpu 2 for a correctness run on one GPU)",
                          d->name, n_devices, n_devices == 1 ? "" : "s", k, k == 1 ? "" : "s");
    }
    if (n > TB_AR_MAX_RANKS)
        return tb_err_set(err, TB_SKIP, "%s runs at most %d ranks, not %d", d->name,
                          TB_AR_MAX_RANKS, n);
    int es = tb_ar_elem_bytes(ar_dtype(c->dtype));
    long long chunk = tb_coll_chunk(d->coll, c->axis[AX_BYTES], es, n);
    if (chunk < 1)
        return tb_err_set(err, TB_SKIP, "bytes=%lld holds no %s element%s", 
                          (long long)c->axis[AX_BYTES], tb_dtype_name(c->dtype),
                          tb_coll_size_is_whole(d->coll) ? " per rank" : "");
    out->ranks = n;
    out->bus_factor = tb_coll_bus_factor(d->coll, n);
    out->shared_device = !host && k > 1;
    out->bytes = (double)tb_coll_counted_bytes(d->coll, chunk, es, n);
    return TB_OK;
}

/* ---- the state of a case ---- */

typedef struct {
    int coll, host, nccl;
    int n, k, ndev;
    int dt, op, inplace;
    long long chunk, in_count, out_count;
    uint64_t seed;
    const tb_group *g;
    void *inbuf[TB_AR_MAX_RANKS], *outbuf[TB_AR_MAX_RANKS]; /* the allocations (out: NULL
                                                             * in place) */
    tb_ar_args args[TB_AR_MAX_RANKS]; /* per device; in/out as coll_data.h lays them out */
    int *abort_flag;
    tb_ar_check_result *check[TB_AR_MAX_RANKS];
    tb_coll_host hr;
    const tb_fault *fault;
    long runs;
    tb_rank_stamp stamps[TB_AR_MAX_RANKS];
#ifdef TB_HAVE_NCCL
    tb_nccl_keep *ncclk;
#endif
} coll_state;

static int dev_of(const coll_state *st, int rank)
{
    return rank / st->k;
}

static size_t elem(const coll_state *st)
{
    return (size_t)tb_ar_elem_bytes(st->dt);
}

static void coll_teardown(void *p)
{
    coll_state *st = p;
    if (!st)
        return;
    for (int r = 0; r < st->n; r++) {
        if (st->host) {
            free(st->inbuf[r]);
            free(st->outbuf[r]);
            free(st->hr.flags[r]);
            free(st->hr.epochs[r]);
            continue;
        }
        cudaSetDevice(st->g->devices[dev_of(st, r)].ordinal);
        cudaFree(st->inbuf[r]);
        cudaFree(st->outbuf[r]);
        cudaFree(st->args[0].flags[r]);
        cudaFree(st->args[0].epochs[r]);
        cudaFree(st->check[r]);
    }
    if (st->abort_flag)
        cudaFreeHost(st->abort_flag);
    free(st);
}

/* The pointers the collective takes, from the allocations: in place, the send chunk of
 * allgather is block r of the output, the output of reducescatter block r of the input, and
 * broadcast's is the one buffer. */
static void place(const coll_state *st, int r, void **in, void **out)
{
    size_t blk = (size_t)st->chunk * elem(st) * (size_t)r;
    *in = st->inbuf[r];
    *out = st->outbuf[r];
    if (!st->inplace)
        return;
    if (st->coll == TB_COLL_ALLGATHER) {
        *out = st->inbuf[r];
        *in = (char *)st->inbuf[r] + blk;
    } else if (st->coll == TB_COLL_REDUCESCATTER) {
        *out = (char *)st->inbuf[r] + blk;
    } else {
        *out = st->inbuf[r];
    }
}

/* Elements of the allocations of rank r: the one buffer in place, else in and out. */
static long long alloc_in(const coll_state *st)
{
    if (st->inplace && st->coll == TB_COLL_ALLGATHER)
        return st->out_count;
    return st->in_count;
}

/* Poisons every buffer, then writes each rank's input (in place, a non-root rank of broadcast
 * has none: its buffer stays poisoned until the root's arrives). */
static tb_status fill_inputs(coll_state *st, tb_err *err)
{
    size_t in_bytes = (size_t)alloc_in(st) * elem(st);
    size_t out_bytes = (size_t)st->out_count * elem(st);
    for (int r = 0; r < st->n; r++) {
        void *in, *out;
        place(st, r, &in, &out);
        int has_input = !(st->inplace && st->coll == TB_COLL_BROADCAST && r != BCAST_ROOT);
        if (st->host) {
            memset(st->inbuf[r], 0xff, in_bytes);
            if (st->outbuf[r])
                memset(st->outbuf[r], 0xff, out_bytes);
            for (long long i = 0; has_input && i < st->in_count; i++)
                tb_ar_set(in, st->dt, i, (float)tb_ar_input(st->seed, r, i));
            continue;
        }
        int d = dev_of(st, r);
        cudaStream_t s = (cudaStream_t)st->g->streams[d];
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        TB_CUDA_TRY(cudaMemsetAsync(st->inbuf[r], 0xff, in_bytes, s), err);
        if (st->outbuf[r])
            TB_CUDA_TRY(cudaMemsetAsync(st->outbuf[r], 0xff, out_bytes, s), err);
        if (has_input)
            TB_CUDA_TRY(tb_coll_fill(in, st->dt, st->in_count, 0, st->seed, r,
                                     st->g->devices[d].sm_count, s),
                        err);
    }
    for (int d = 0; !st->host && d < st->ndev; d++) {
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        TB_CUDA_TRY(cudaStreamSynchronize((cudaStream_t)st->g->streams[d]), err);
    }
    return TB_OK;
}

static tb_status setup_host(coll_state *st, tb_err *err)
{
    size_t in_bytes = (size_t)alloc_in(st) * elem(st);
    size_t out_bytes = st->inplace ? 0 : (size_t)st->out_count * elem(st);
    tb_status s = tb_device_need_memory(0, (double)(in_bytes + out_bytes) * st->n, err);
    if (s)
        return s;
    tb_coll_host *h = &st->hr;
    h->coll = st->coll;
    h->nranks = st->n;
    h->dtype = st->dt;
    h->op = st->op;
    h->root = BCAST_ROOT;
    h->blocks = HOST_BLOCKS;
    h->chunk = st->chunk;
    h->stall_rank = -1;
    h->skip_peer = -1;
    h->slow_rank = -1;
    if (tb_fault_is(st->fault, TB_FAULT_SLOW_RANK) && st->fault->target < st->n) {
        h->slow_rank = st->fault->target; /* host threads are the ranks here */
        h->slow_pct = st->fault->slow_pct;
    }
    for (int r = 0; r < st->n; r++) {
        st->inbuf[r] = malloc(in_bytes);
        st->outbuf[r] = out_bytes ? malloc(out_bytes) : NULL;
        h->flags[r] = calloc((size_t)TB_AR_FLAG_WORDS, sizeof(unsigned));
        h->epochs[r] = calloc(TB_AR_MAX_BLOCKS, sizeof(unsigned));
        if (!st->inbuf[r] || (out_bytes && !st->outbuf[r]) || !h->flags[r] || !h->epochs[r])
            return tb_err_set(err, TB_SKIP, "cannot allocate %zu bytes of host memory per rank",
                              in_bytes + out_bytes);
        place(st, r, &h->in[r], &h->out[r]);
    }
    return TB_OK;
}

static tb_status enable_peers(const tb_group *g, tb_err *err)
{
    for (int i = 0; i < g->n_devices; i++) {
        TB_CUDA_TRY(cudaSetDevice(g->devices[i].ordinal), err);
        for (int j = 0; j < g->n_devices; j++) {
            int a = g->devices[i].ordinal, b = g->devices[j].ordinal, can = 0;
            if (a == b)
                continue;
            TB_CUDA_TRY(cudaDeviceCanAccessPeer(&can, a, b), err);
            if (!can)
                return tb_err_set(err, TB_SKIP, "no P2P between GPU %d and %d", a, b);
            cudaError_t e = cudaDeviceEnablePeerAccess(b, 0);
            if (e == cudaErrorPeerAccessAlreadyEnabled || e == cudaErrorTooManyPeers)
                cudaGetLastError();
            if (e == cudaErrorTooManyPeers)
                return tb_err_set(err, TB_SKIP, "no P2P between GPU %d and %d: %s", a, b,
                                  cudaGetErrorString(e));
            if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled)
                return tb_err_set(err, TB_DEVFAIL, "cudaDeviceEnablePeerAccess(%d) on GPU %d: %s",
                                  b, a, cudaGetErrorString(e));
        }
    }
    return TB_OK;
}

/* Skips a case whose kernel blocks cannot all be resident at once on some GPU: its ranks
 * would wait for blocks that never start. */
static tb_status check_resident(coll_state *st, tb_err *err)
{
    for (int d = 0; d < st->ndev; d++) {
        int resident = 0, needed = 0;
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        const tb_ar_args *a = &st->args[d];
        cudaError_t e =
            st->coll == TB_COLL_ALLGATHER       ? tb_coll_allgather_resident(a, st->k, &resident,
                                                                             &needed)
            : st->coll == TB_COLL_REDUCESCATTER ? tb_coll_reducescatter_resident(a, st->k,
                                                                                 &resident, &needed)
                                                : tb_coll_alltoall_resident(a, st->k, &resident,
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

static tb_status setup_gpu(coll_state *st, tb_err *err)
{
    const tb_group *g = st->g;
    size_t in_bytes = (size_t)alloc_in(st) * elem(st);
    size_t out_bytes = st->inplace ? 0 : (size_t)st->out_count * elem(st);
    tb_status s;
    if (st->nccl) {
#ifdef TB_HAVE_NCCL
        if ((s = tb_nccl_group(g, st->k, &st->ncclk, err)))
            return s;
#else
        return tb_err_set(err, TB_SKIP, "this build has no NCCL (set NCCL_ROOT and rebuild)");
#endif
    } else if ((s = enable_peers(g, err))) {
        return s;
    }
    int sm_min = g->devices[0].sm_count;
    for (int d = 0; d < st->ndev; d++) {
        if (g->devices[d].sm_count < sm_min)
            sm_min = g->devices[d].sm_count;
        TB_CUDA_TRY(cudaSetDevice(g->devices[d].ordinal), err);
        double need = (double)st->k * ((double)(in_bytes + out_bytes) +
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
    tb_ar_args *a = &st->args[0];
    memset(a, 0, sizeof *a);
    a->nranks = st->n;
    a->dtype = st->dt;
    a->op = st->op;
    a->inplace = st->inplace;
    a->sm_count = sm_min;
    a->count = st->chunk;
    a->abort = abort_dev;
    for (int r = 0; r < st->n; r++) {
        int d = dev_of(st, r);
        TB_CUDA_TRY(cudaSetDevice(g->devices[d].ordinal), err);
        cudaStream_t sd = (cudaStream_t)g->streams[d];
        TB_CUDA_TRY(cudaMalloc(&st->inbuf[r], in_bytes), err);
        if (out_bytes)
            TB_CUDA_TRY(cudaMalloc(&st->outbuf[r], out_bytes), err);
        TB_CUDA_TRY(cudaMalloc((void **)&a->flags[r], (size_t)TB_AR_FLAG_WORDS * sizeof(unsigned)),
                    err);
        TB_CUDA_TRY(cudaMalloc((void **)&a->epochs[r], TB_AR_MAX_BLOCKS * sizeof(unsigned)), err);
        TB_CUDA_TRY(cudaMalloc((void **)&st->check[r], sizeof(tb_ar_check_result)), err);
        TB_CUDA_TRY(cudaMemsetAsync(a->flags[r], 0, (size_t)TB_AR_FLAG_WORDS * sizeof(unsigned), sd),
                    err);
        TB_CUDA_TRY(cudaMemsetAsync(a->epochs[r], 0, TB_AR_MAX_BLOCKS * sizeof(unsigned), sd), err);
        place(st, r, &a->in[r], &a->out[r]);
    }
    for (int d = st->ndev - 1; d >= 0; d--) {
        st->args[d] = *a;
        st->args[d].first_rank = d * st->k;
    }
    return st->nccl ? TB_OK : check_resident(st, err);
}

static tb_status coll_setup(const tb_case *c, const tb_env *env, void **state, tb_err *err)
{
    *state = NULL;
    tb_collective cl;
    const tb_group *g = env->group;
    tb_status s = coll_collective(c, g->n_devices, &cl, err);
    if (s)
        return s;
    coll_state *st = calloc(1, sizeof *st);
    if (!st)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    const coll_desc *d = desc_of(c->bench);
    st->coll = d->coll;
    st->host = c->impl->kind == TB_KIND_HOST;
    st->nccl = is_nccl(c->impl);
    st->n = cl.ranks;
    st->k = st->host ? st->n : (int)c->axis[AX_RPG];
    st->ndev = g->n_devices;
    st->dt = ar_dtype(c->dtype);
    st->op = d->reduces ? (int)c->axis[AX_OP] : TB_AR_SUM;
    st->inplace = (int)c->axis[AX_INPLACE];
    st->chunk = tb_coll_chunk(st->coll, c->axis[AX_BYTES], (int)elem(st), st->n);
    st->in_count = tb_coll_in_count(st->coll, st->chunk, st->n);
    st->out_count = tb_coll_out_count(st->coll, st->chunk, st->n);
    st->seed = env->seed;
    st->g = g;
    st->fault = st->host ? env->fault : NULL;
    s = st->host ? setup_host(st, err) : setup_gpu(st, err);
    if (!s)
        s = fill_inputs(st, err);
    if (s) {
        coll_teardown(st);
        return s;
    }
    if (st->host) {
        /* fault injection for the watchdog's test: one host rank never arrives */
        const char *stall = getenv("TRAINBENCH_TEST_STALL_BYTES");
        if (stall && atoll(stall) == (long long)c->axis[AX_BYTES])
            st->hr.stall_rank = st->n - 1;
    }
    *state = st;
    return TB_OK;
}

#ifdef TB_HAVE_NCCL
static tb_status run_nccl(coll_state *st, tb_err *err)
{
    static const ncclDataType_t types[] = {ncclFloat32, ncclBfloat16, ncclFloat16};
    static const ncclRedOp_t ops[] = {ncclSum, ncclMax, ncclMin};
    const tb_ar_args *a = &st->args[0];
    ncclDataType_t t = types[st->dt];
    size_t cnt = (size_t)st->chunk, blk = (size_t)st->chunk * elem(st);
    int n = st->n;
    ncclResult_t res = ncclGroupStart();
    for (int r = 0; r < n && (res == ncclSuccess || res == ncclInProgress); r++) {
        ncclComm_t cm = st->ncclk->comms[r];
        cudaStream_t s = (cudaStream_t)st->g->streams[r];
        switch (st->coll) {
        case TB_COLL_ALLGATHER:
            res = ncclAllGather(a->in[r], a->out[r], cnt, t, cm, s);
            break;
        case TB_COLL_REDUCESCATTER:
            res = ncclReduceScatter(a->in[r], a->out[r], cnt, t, ops[st->op], cm, s);
            break;
        case TB_COLL_ALLTOALL:
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 28, 0)
            res = ncclAlltoAll(a->in[r], a->out[r], cnt, t, cm, s);
#else
            for (int p = 0; p < n && (res == ncclSuccess || res == ncclInProgress); p++) {
                res = ncclSend((const char *)a->in[r] + p * blk, cnt, t, p, cm, s);
                if (res == ncclSuccess || res == ncclInProgress)
                    res = ncclRecv((char *)a->out[r] + p * blk, cnt, t, p, cm, s);
            }
#endif
            break;
        case TB_COLL_BROADCAST:
            res = ncclBroadcast(a->in[r], a->out[r], cnt, t, BCAST_ROOT, cm, s);
            break;
        default:
            res = ncclSend(a->in[r], cnt, t, (r + 1) % n, cm, s);
            if (res == ncclSuccess || res == ncclInProgress)
                res = ncclRecv(a->out[r], cnt, t, (r + n - 1) % n, cm, s);
            break;
        }
    }
    (void)blk;
    ncclResult_t end = ncclGroupEnd();
    if (res == ncclSuccess || res == ncclInProgress)
        res = end;
    if (res == ncclInProgress) /* connecting on first use: bounded like any wait */
        return tb_nccl_group_wait(st->ncclk, "ncclGroupEnd (NCCL connecting)", st->g->timeout_s,
                                  err);
    if (res != ncclSuccess)
        return tb_err_set(err, TB_DEVFAIL, "NCCL %s failed: %s", descs[st->coll].name,
                          ncclGetErrorString(res));
    return TB_OK;
}
#endif

static tb_status stamp_ranks(coll_state *st, tb_err *err)
{
    return tb_group_stamp_ranks(st->g, st->k, st->stamps, err);
}

static tb_status coll_run(void *p, tb_err *err)
{
    coll_state *st = p;
    if (st->host) {
        st->runs++;
        int skip = tb_fault_is(st->fault, TB_FAULT_AR_SKIP_PEER) ||
                   (tb_fault_is(st->fault, TB_FAULT_LATE_CORRUPTION) &&
                    st->runs > st->fault->late_after);
        st->hr.skip_peer = skip ? st->n - 1 : -1;
        tb_status s = tb_coll_host_run(&st->hr, st->g->timeout_s, err);
        tb_rank_times *rt = st->g->rank_times;
        if (!s && rt && rt->armed) {
            memcpy(rt->t, st->hr.rank_busy_s, (size_t)st->n * sizeof rt->t[0]);
            rt->ranks = st->n;
        }
        return s;
    }
    tb_status s = TB_OK;
    if (st->nccl) {
#ifdef TB_HAVE_NCCL
        s = run_nccl(st, err);
#else
        s = tb_err_set(err, TB_DEVFAIL, "this build has no NCCL");
#endif
        return s ? s : stamp_ranks(st, err);
    }
    for (int d = 0; d < st->ndev; d++) {
        TB_CUDA_TRY(cudaSetDevice(st->g->devices[d].ordinal), err);
        cudaStream_t s = (cudaStream_t)st->g->streams[d];
        if (st->coll == TB_COLL_ALLGATHER)
            TB_CUDA_TRY(tb_coll_allgather(&st->args[d], st->k, s), err);
        else if (st->coll == TB_COLL_REDUCESCATTER)
            TB_CUDA_TRY(tb_coll_reducescatter(&st->args[d], st->k, s), err);
        else
            TB_CUDA_TRY(tb_coll_alltoall(&st->args[d], st->k, s), err);
    }
    return stamp_ranks(st, err);
}

static double rank_norm(double err2, double ref2)
{
    double rel = ref2 > 0 ? sqrt(err2 / ref2) : (err2 > 0 ? INFINITY : 0.0);
    return isnan(rel) ? INFINITY : rel;
}

static tb_status coll_verify(const tb_case *c, void *p, tb_verify *v, tb_err *err)
{
    (void)c;
    coll_state *st = p;
    memset(v, 0, sizeof *v);
    v->n_checked = st->out_count * st->n;
    double max_abs = 0, worst_norm = 0;
    int64_t ranks_off = 0;
    for (int r = 0; r < st->n; r++) {
        double err2 = 0, ref2 = 0;
        if (st->host) {
            for (long long i = 0; i < st->out_count; i++) {
                float want = (float)tb_coll_expected(st->coll, st->seed, st->n, r, st->op,
                                                     BCAST_ROOT, st->chunk, i);
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
            TB_CUDA_TRY(tb_coll_check(st->coll, st->args[0].out[r], st->dt, st->out_count,
                                      st->chunk, st->seed, st->n, r, st->op, BCAST_ROOT,
                                      st->check[r], st->g->devices[d].sm_count, s),
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
    tb_verify_add_measure(v, "norm", "rank buffer", worst_norm, 0.0, st->n, ranks_off);
    return TB_OK;
}

static tb_status coll_reinit(const tb_case *c, void *p, tb_err *err)
{
    (void)c;
    return fill_inputs(p, err);
}

static void coll_abort(const tb_case *c, void *p)
{
    (void)c;
    coll_state *st = p;
    if (st->host)
        return; /* the host ranks' own watchdog has already aborted them */
    if (st->abort_flag)
        __atomic_store_n(st->abort_flag, 1, __ATOMIC_SEQ_CST);
#ifdef TB_HAVE_NCCL
    tb_nccl_group_abort(st->ncclk);
#endif
}

/* ---- the axis points ---- */

static const char *pick(const tb_axis *a, const char *given, int quick, int host)
{
    if (given)
        return given;
    if (host)
        return quick ? (a->host_quick ? a->host_quick : a->quick)
                     : (a->host_defaults ? a->host_defaults : a->defaults);
    return quick ? a->quick : a->defaults;
}

/* A comma-separated list of integers (ranges are checked by in_range). */
static tb_status parse_ints(const char *spec, const char *what, tb_sweep *out, tb_err *err)
{
    out->count = 0;
    out->values = calloc(strlen(spec) + 1, sizeof *out->values);
    if (!out->values)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    for (const char *p = spec;;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 0 || v > 1000000) {
            size_t len = strcspn(p, ",");
            tb_sweep_free(out);
            return tb_err_set(err, TB_USAGE, "%s: '%.*s' is not a comma-separated list of "
                              "integers", what, (int)len, p);
        }
        out->values[out->count++] = v;
        if (!*end)
            return TB_OK;
        p = end + 1;
    }
}

/* Values of sw outside [lo, hi] are bad input: names the first and what is accepted. */
static tb_status in_range(const tb_sweep *sw, const char *what, int64_t lo, int64_t hi,
                          const char *why, tb_err *err)
{
    for (size_t i = 0; i < sw->count; i++)
        if (sw->values[i] < lo || sw->values[i] > hi)
            return tb_err_set(err, TB_USAGE, "--%s: '%lld' is not accepted: %s", what,
                              (long long)sw->values[i], why);
    return TB_OK;
}

static tb_status coll_points(const tb_bench *b, const char *const *axis_values,
                             const char *const *option_values, int quick, int host,
                             tb_points *out, tb_err *err)
{
    (void)option_values;
    const coll_desc *d = desc_of(b);
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
    tb_status st = TB_OK;
    for (int i = 0; i < AX_COUNT && !st; i++) {
        const char *spec = i == AX_RANKS && !host ? "0" : pick(&b->axes[i], axis_values[i],
                                                               quick, host);
        char what[32];
        snprintf(what, sizeof what, "--%s", b->axes[i].name);
        st = i <= AX_OP ? tb_axis_parse(&b->axes[i], spec, &sw[i], err)
                        : parse_ints(spec, what, &sw[i], err);
    }
    char why[160];
    snprintf(why, sizeof why, "%s", d->inplace ? "0 out-of-place or 1 in-place"
                                               : "this collective runs out-of-place only (0)");
    if (!st)
        st = in_range(&sw[AX_INPLACE], "inplace", 0, d->inplace, why, err);
    snprintf(why, sizeof why, "an integer from 1 to %d", TB_AR_MAX_RANKS);
    if (!st)
        st = in_range(&sw[AX_RPG], "ranks-per-gpu", 1, TB_AR_MAX_RANKS, why, err);
    snprintf(why, sizeof why, "%s needs from 2 to %d ranks", d->name, TB_AR_MAX_RANKS);
    if (!st && host)
        st = in_range(&sw[AX_RANKS], "ranks", 2, TB_AR_MAX_RANKS, why, err);
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

/* ---- the end-of-run tables: nccl-tests' columns ---- */

typedef struct {
    const tb_impl *impl;
    int64_t op, rpg, ranks_axis, ranks; /* 64 bits: no padding in the key's bytes */
} coll_table_key;

static int by_dtype_bytes(const void *a, const void *b)
{
    const tb_result *x = *(const tb_result *const *)a, *y = *(const tb_result *const *)b;
    if (x->c.dtype != y->c.dtype)
        return (x->c.dtype > y->c.dtype) - (x->c.dtype < y->c.dtype);
    return (x->c.axis[AX_BYTES] > y->c.axis[AX_BYTES]) - (x->c.axis[AX_BYTES] < y->c.axis[AX_BYTES]);
}

static void cell(char *buf, size_t n, double v, const char *fmt)
{
    if (isfinite(v))
        snprintf(buf, n, fmt, v);
    else
        snprintf(buf, n, "-");
}

/* One placement's columns: time, algbw, busbw, #wrong. */
static void place_cells(FILE *f, const tb_result *r)
{
    char t[32], alg[32], bus[32], wrong[32];
    if (!r) {
        fprintf(f, " %9s %8s %8s %7s", "", "", "", "");
        return;
    }
    int ok = r->status == TB_OK && r->have_stats;
    if (ok)
        cell(t, sizeof t, r->stats.median * 1e6, "%.2f");
    else
        snprintf(t, sizeof t, "%s", r->status == TB_SKIP    ? "skipped"
                                    : r->status == TB_WRONG ? "wrong"
                                                            : "error");
    cell(alg, sizeof alg, ok ? r->gbps : NAN, "%.2f");
    cell(bus, sizeof bus, ok ? r->busbw_gbps : NAN, "%.2f");
    if (r->have_verify_after)
        snprintf(wrong, sizeof wrong, "%lld", (long long)r->verify_after.n_wrong);
    else if (r->have_verify)
        snprintf(wrong, sizeof wrong, "%lld", (long long)r->verify.n_wrong);
    else
        snprintf(wrong, sizeof wrong, "-");
    fprintf(f, " %9s %8s %8s %7s", t, alg, bus, wrong);
}

static void coll_end_tables(const tb_result *const *rs, size_t n, FILE *f)
{
    if (!n)
        return;
    const coll_desc *d = desc_of(rs[0]->c.bench);
    /* tables in order of their first result, numbered through an index and placed by a
     * counting sort, linear in the results */
    const tb_result **rows = malloc(n * sizeof *rows);
    coll_table_key *keys = calloc(n, sizeof *keys);
    size_t *table = malloc(n * sizeof *table), *start = calloc(n + 1, sizeof *start);
    size_t *order = malloc(n * sizeof *order);
    tb_keyindex tables;
    tb_keyindex_init(&tables);
    size_t nt = 0;
    int failed = !rows || !keys || !table || !start || !order;
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
    for (size_t t = 0; t < nt && !failed; t++)
        start[t + 1] += start[t];
    for (size_t i = 0; i < n && !failed; i++)
        if (table[i] != (size_t)-1)
            order[start[table[i]]++] = i;
    for (size_t t = nt; t > 0 && !failed; t--)
        start[t] = start[t - 1];
    if (!failed)
        start[0] = 0;
    const char *const *opn = d->reduces ? op_names : no_op;
    for (size_t t = 0; t < nt && !failed; t++) {
        size_t nr = start[t + 1] - start[t];
        for (size_t k = 0; k < nr; k++)
            rows[k] = rs[order[start[t] + k]];
        const tb_result *head = rows[0];
        qsort(rows, nr, sizeof *rows, by_dtype_bytes);
        char where[128] = "host threads";
        if (!head->device->is_host) {
            size_t used = (size_t)snprintf(where, sizeof where, "GPUs ");
            for (int g = 0; g < head->n_group && used < sizeof where; g++) {
                int k = snprintf(where + used, sizeof where - used, "%s%d", g ? "," : "",
                                 head->group[g].ordinal);
                if (k < 0)
                    break;
                used += (size_t)k;
            }
        }
        fprintf(f, "\n%s %s, %s, %d ranks on %s; busbw = algbw x %s = x%.3f%s\n", d->name,
                head->c.impl->name, opn[head->c.axis[AX_OP]], head->coll.ranks, where,
                tb_coll_size_is_whole(d->coll) ? "(n-1)/n" : "1", head->coll.bus_factor,
                head->coll.shared_device
                    ? "\n  (ranks share a GPU: a correctness run, not a bandwidth measurement)"
                    : "");
        fprintf(f, "%38s  %-36s%-36s\n", "", "out-of-place", "in-place");
        fprintf(f, "%12s %12s %5s %5s  %9s %8s %8s %7s %9s %8s %8s %7s  %-11s %s\n",
                "size(B)", "count", "type", "redop", "time(us)", "algbw", "busbw", "#wrong",
                "time(us)", "algbw", "busbw", "#wrong", "timing", "slowest rank");
        for (size_t k = 0; k < nr; k++) {
            const tb_result *r = rows[k];
            if (k > 0 && rows[k - 1]->c.axis[AX_BYTES] == r->c.axis[AX_BYTES] &&
                rows[k - 1]->c.dtype == r->c.dtype)
                continue; /* printed with the row of the same size */
            const tb_result *pl[2] = {NULL, NULL};
            for (size_t j = k; j < nr && rows[j]->c.axis[AX_BYTES] == r->c.axis[AX_BYTES] &&
                               rows[j]->c.dtype == r->c.dtype;
                 j++)
                pl[rows[j]->c.axis[AX_INPLACE] ? 1 : 0] = rows[j];
            int es = tb_ar_elem_bytes(ar_dtype(r->c.dtype));
            long long size = (long long)r->bytes;
            fprintf(f, "%12lld %12lld %5s %5s ", size, size / es, tb_dtype_name(r->c.dtype),
                    opn[r->c.axis[AX_OP]]);
            place_cells(f, pl[0]);
            place_cells(f, pl[1]);
            char timing[32], slow[2][24];
            snprintf(timing, sizeof timing, "%s/%s",
                     pl[0] && pl[0]->have_stats ? pl[0]->timing : "-",
                     pl[1] && pl[1]->have_stats ? pl[1]->timing : "-");
            for (int k2 = 0; k2 < 2; k2++) {
                const tb_result *q = pl[k2];
                if (q && q->have_iters && q->iters.straggler >= 0)
                    snprintf(slow[k2], sizeof slow[k2], "%d (%d/%d)", q->iters.straggler,
                             q->iters.straggler_count, q->iters.n);
                else
                    snprintf(slow[k2], sizeof slow[k2], "-");
            }
            fprintf(f, "  %-11s %s / %s\n", timing, slow[0], slow[1]);
        }
    }
    fprintf(f, "\n%s: time is per operation, the slowest rank's (median over samples); size %s; "
               "algbw = size / time, GB = 1e9 bytes; slowest rank: the one slowest in most of "
               "the operations timed one at a time (out-of-place / in-place)\n",
            d->name, tb_coll_size_is_whole(d->coll)
                         ? "is the whole buffer (n chunks, as nccl-tests counts it)"
                         : "is one rank's buffer");
    free(rows);
    free(keys);
    free(table);
    free(start);
    free(order);
    tb_keyindex_free(&tables);
}

/* ---- the tables ---- */

#define SIZE_HELP_WHOLE                                                                        \
    "bytes of the whole buffer, n chunks (nccl-tests' -b/-e/-f); rounded down to whole "      \
    "elements per rank"
#define SIZE_HELP_ONE "bytes per rank (nccl-tests' -b/-e/-f); rounded down to whole elements"
#define RPG_AXIS                                                                               \
    {"ranks-per-gpu", TB_AXIS_INT, "1", "1", "1", "1", NULL,                                   \
     "ranks on each GPU: more than 1 runs virtual ranks (a correctness run, not bandwidth)"}
#define RANKS_AXIS                                                                             \
    {"ranks", TB_AXIS_INT, "0", "0", "2,3,4,8", "2,3,4,8", NULL,                               \
     "host ranks (--host); 0 on GPUs: one rank per GPU of --gpus (times --ranks-per-gpu)"}

static const tb_axis ag_axes[] = {
    {"bytes", TB_AXIS_SIZE, "64:8G:x2", "64,4K,256K,16M,256M", "64:256K:x8", "64,4100,65540",
     NULL, SIZE_HELP_WHOLE},
    {"op", TB_AXIS_ENUM, "none", "none", NULL, NULL, no_op, "none (all-gather reduces nothing)"},
    {"inplace", TB_AXIS_INT, "0,1", "0,1", NULL, NULL, NULL,
     "0 out-of-place, 1 in-place (both by default)"},
    RPG_AXIS,
    RANKS_AXIS,
};

static const tb_axis rs_axes[] = {
    {"bytes", TB_AXIS_SIZE, "64:8G:x2", "64,4K,256K,16M,256M", "64:256K:x8", "64,4100,65540",
     NULL, SIZE_HELP_WHOLE},
    {"op", TB_AXIS_ENUM, "sum", "sum", NULL, NULL, op_names, "the reduction: sum, max, min"},
    {"inplace", TB_AXIS_INT, "0,1", "0,1", NULL, NULL, NULL,
     "0 out-of-place, 1 in-place (both by default)"},
    RPG_AXIS,
    RANKS_AXIS,
};

static const tb_axis a2a_axes[] = {
    {"bytes", TB_AXIS_SIZE, "64:8G:x2", "64,4K,256K,16M,256M", "64:256K:x8", "64,4100,65540",
     NULL, SIZE_HELP_WHOLE},
    {"op", TB_AXIS_ENUM, "none", "none", NULL, NULL, no_op, "none (all-to-all reduces nothing)"},
    {"inplace", TB_AXIS_INT, "0", "0", NULL, NULL, NULL, "0 out-of-place (the only placement)"},
    RPG_AXIS,
    RANKS_AXIS,
};

static const tb_axis bc_axes[] = {
    {"bytes", TB_AXIS_SIZE, "8:8G:x2", "8,4K,256K,16M,256M", "8:256K:x8", "8,4100,65540", NULL,
     SIZE_HELP_ONE},
    {"op", TB_AXIS_ENUM, "none", "none", NULL, NULL, no_op, "none (broadcast reduces nothing)"},
    {"inplace", TB_AXIS_INT, "0,1", "0,1", NULL, NULL, NULL,
     "0 out-of-place, 1 in-place (both by default)"},
    RPG_AXIS,
    RANKS_AXIS,
};

static const tb_axis sr_axes[] = {
    {"bytes", TB_AXIS_SIZE, "8:8G:x2", "8,4K,256K,16M,256M", "8:256K:x8", "8,4100,65540", NULL,
     SIZE_HELP_ONE},
    {"op", TB_AXIS_ENUM, "none", "none", NULL, NULL, no_op, "none (send/recv reduces nothing)"},
    {"inplace", TB_AXIS_INT, "0", "0", NULL, NULL, NULL, "0 out-of-place (the only placement)"},
    RPG_AXIS,
    RANKS_AXIS,
};

#define DTYPES (TB_DT(TB_FP32) | TB_DT(TB_BF16) | TB_DT(TB_FP16))
#define IMPL(name, kind, summary, min_cc, cmp)                                                     \
    {name, kind, summary, min_cc, 0, DTYPES, cmp, 0, coll_setup, coll_run, coll_teardown, NULL}

static const tb_impl ag_impls[] = {
    IMPL("nccl", TB_KIND_VENDOR, "ncclAllGather, non-blocking communicators, one per GPU",
         0, NULL),
    IMPL("p2p", TB_KIND_HANDWRITTEN, "every rank reads every peer's chunk over P2P", 80,
         "nccl"),
    IMPL("host-p2p", TB_KIND_HOST, "p2p's schedule, a host thread per rank", 0, NULL),
};

static const tb_impl rs_impls[] = {
    IMPL("nccl", TB_KIND_VENDOR, "ncclReduceScatter, non-blocking communicators, one per GPU",
         0, NULL),
    IMPL("p2p", TB_KIND_HANDWRITTEN, "rank r reads and reduces block r of every input over P2P",
         80, "nccl"),
    IMPL("host-p2p", TB_KIND_HOST, "p2p's schedule, a host thread per rank", 0, NULL),
};

static const tb_impl a2a_impls[] = {
#if defined(TB_HAVE_NCCL) && NCCL_VERSION_CODE < NCCL_VERSION(2, 28, 0)
    IMPL("nccl", TB_KIND_VENDOR, "grouped ncclSend/ncclRecv to every peer, one rank per GPU",
         0, NULL),
#else
    IMPL("nccl", TB_KIND_VENDOR, "ncclAlltoAll, non-blocking communicators, one per GPU",
         0, NULL),
#endif
    IMPL("p2p", TB_KIND_HANDWRITTEN, "rank r reads block r of every input over P2P", 80,
         "nccl"),
    IMPL("host-p2p", TB_KIND_HOST, "p2p's schedule, a host thread per rank", 0, NULL),
};

static const tb_impl bc_impls[] = {
    IMPL("nccl", TB_KIND_VENDOR, "ncclBroadcast from rank 0, one rank per GPU", 0, NULL),
    IMPL("host-pull", TB_KIND_HOST, "every rank copies rank 0's buffer, a host thread per rank",
         0, NULL),
};

static const tb_impl sr_impls[] = {
    IMPL("nccl", TB_KIND_VENDOR, "ncclSend to rank r+1 and ncclRecv from rank r-1 in a group",
         0, NULL),
    IMPL("host-pull", TB_KIND_HOST, "rank r copies rank r-1's buffer, a host thread per rank",
         0, NULL),
};

#define N(a) (int)(sizeof a / sizeof a[0])
#define COLL_BENCH(var, name, summary, axes, impls)                                            \
    const tb_bench var = {name,        summary,         axes,         N(axes),                 \
                          impls,       N(impls),        0,            NULL,                    \
                          coll_bytes,  coll_peak_kind,  coll_verify,  NULL,                    \
                          0,           coll_points,     NULL,         NULL,                    \
                          NULL,        coll_collective, coll_reinit,  coll_abort,              \
                          coll_end_tables}

COLL_BENCH(tb_bench_allgather, "allgather",
           "all-gather across the node's GPUs: a P2P kernel against NCCL (nccl-tests' columns)",
           ag_axes, ag_impls);
COLL_BENCH(tb_bench_reducescatter, "reducescatter",
           "reduce-scatter across the node's GPUs: a P2P kernel against NCCL (nccl-tests' "
           "columns)",
           rs_axes, rs_impls);
COLL_BENCH(tb_bench_alltoall, "alltoall",
           "all-to-all across the node's GPUs: a P2P kernel against NCCL (nccl-tests' columns)",
           a2a_axes, a2a_impls);
COLL_BENCH(tb_bench_broadcast, "broadcast",
           "broadcast from rank 0 across the node's GPUs with NCCL (nccl-tests' columns)",
           bc_axes, bc_impls);
COLL_BENCH(tb_bench_sendrecv, "sendrecv",
           "send to rank r+1 and receive from rank r-1 across the node's GPUs with NCCL "
           "(nccl-tests' columns)",
           sr_axes, sr_impls);
