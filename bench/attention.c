/* attention - scaled dot-product attention, forward and backward: the hand-written flash
 * kernels against the unfused cuBLAS path frameworks fall back to, with a naive materialized
 * implementation as the anchor, on the same random-normal Q, K, V, dO.
 *
 * Shapes: batch B, heads H, KV heads KVH (grouped-query attention when KVH < H), sequence S,
 * head dim D, causal or not; pass fwd (O and lse), bwd (dQ, dK, dV from the implementation's
 * own forward, run once before timing) or fwdbwd (both, timed together). FLOPs counted
 * (REFERENCE.md): forward 4 B H S^2 D (the two GEMMs; softmax not counted), halved when
 * causal; backward 2.5 x forward; fwdbwd 3.5 x forward.
 *
 * Verification: every case against the naive kernels run in fp32 on the device (on the host:
 * the double-precision reference of attention_host.c, computed once per case and kept for
 * every later check), on all KV-head groups or, past 2^36 multiply-adds, on the first and the
 * last (and for a forward on the first and last rows of each of their heads). Each output is
 * held element-wise to 2u |ref| + 8u bound + 2^-20 (bound: the output's sum with every term
 * made absolute, P |V| for O, P (|dP| + sum|dO o O|) against |K| (dQ) and |Q| (dK), P |dO|
 * for dV), and norm-wise per head and per CTA tile to ||out - ref|| / ||ref|| <= u sqrt(3k)
 * for k rounding stages, because the element bound does not shrink with the signal and passes
 * a lost tile at long sequences; the log-sum-exp per row to 8u (unfused: rounded scores) or to
 * the fp32 bound of fp32 scores (flash, naive, host). The derivations are in
 * attention_verify.c, shared by the GPU and the host paths. The host implementation runs in
 * fp32, bf16 or fp16, rounding as flash does, and commits the attention bugs of
 * TRAINBENCH_TEST_FAULT (harness/fault.h) on purpose. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/bench.h"
#include "../harness/cudacheck.h"
#include "../kernels/attention.h"
#include "../kernels/matmul.h"
#include "attention_verify.h"
#include "benches.h"

enum { IMPL_UNFUSED, IMPL_NAIVE, IMPL_FLASH, IMPL_HOST };
enum { AX_BATCH, AX_HEADS, AX_KV, AX_SEQ, AX_HD, AX_CAUSAL, AX_PASS, N_AX };
enum { PASS_FWD, PASS_BWD, PASS_FWDBWD };

/* the naive anchor is timed only up to this many FLOPs (it is O(S^2) memory and slow) */
#define NAIVE_MAX_FLOP 1.1e12
/* the host implementation refuses cases beyond this many multiply-adds */
#define HOST_MAX_MACS (1LL << 31)
/* past this many multiply-adds, only the first and last KV-head groups are verified */
#define VERIFY_ALL_MACS (1LL << 36)
/* the fp32 workspaces of the verification's naive reference, all three together */
#define REF_WORKSPACE (768ull << 20)
#define CUBLAS_WORKSPACE (32u << 20)

static const char *const causal_names[] = {"no", "yes", NULL};
static const char *const pass_names[] = {"fwd", "bwd", "fwdbwd", NULL};

#define TB_CUBLAS_CALL(call, err)                                                              \
    do {                                                                                       \
        cublasStatus_t tb_s_ = (call);                                                         \
        if (tb_s_ != CUBLAS_STATUS_SUCCESS)                                                    \
            return tb_err_set((err), TB_DEVFAIL, "%s failed: %s at %s:%d", #call,              \
                              cublasGetStatusString(tb_s_), __FILE__, __LINE__);               \
    } while (0)

/* ---- case arithmetic ---- */

static int impl_id(const tb_impl *impl)
{
    static const char *const names[] = {"unfused", "naive", "flash", "host"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(impl->name, names[i]))
            return i;
    return -1;
}

static tb_attn_shape case_shape(const tb_case *c)
{
    tb_attn_shape sh;
    sh.B = (int)c->axis[AX_BATCH];
    sh.H = (int)c->axis[AX_HEADS];
    sh.KVH = (int)c->axis[AX_KV];
    sh.S = (int)c->axis[AX_SEQ];
    sh.D = (int)c->axis[AX_HD];
    sh.causal = (int)c->axis[AX_CAUSAL];
    sh.storage = c->dtype == TB_BF16 ? TB_MM_BF16 : (c->dtype == TB_FP16 ? TB_MM_F16 : TB_MM_F32);
    return sh;
}

static double fwd_flops(const tb_case *c)
{
    double f = 4.0 * (double)c->axis[AX_BATCH] * (double)c->axis[AX_HEADS] *
               (double)c->axis[AX_SEQ] * (double)c->axis[AX_SEQ] * (double)c->axis[AX_HD];
    return c->axis[AX_CAUSAL] ? f / 2 : f;
}

static double at_flops(const tb_case *c)
{
    static const double mult[] = {1.0, 2.5, 3.5};
    return fwd_flops(c) * mult[c->axis[AX_PASS]];
}

static tb_peak_kind at_peak_kind(const tb_case *c)
{
    return c->dtype == TB_FP32 ? TB_PEAK_SIMT : TB_PEAK_TENSOR;
}

typedef struct {
    double tensors; /* Q K V O lse, and for a backward dO dQ dK dV Drow */
    double extra;   /* the implementation's own: S/P (unfused), scores (naive), dQ fp32 (flash) */
} at_memory;

static at_memory memory_of(const tb_case *c)
{
    const tb_attn_shape sh = case_shape(c);
    const int id = impl_id(c->impl);
    const double es = id == IMPL_HOST ? 4.0 : 2.0;
    const double nq = (double)sh.B * sh.H * sh.S * sh.D, nkv = (double)sh.B * sh.KVH * sh.S * sh.D;
    const double rows = (double)sh.B * sh.H * sh.S, s2 = rows * sh.S;
    const int bwd = c->axis[AX_PASS] != PASS_FWD;
    at_memory m;
    m.tensors = (2 * nq + 2 * nkv) * es + 4 * rows;
    if (bwd)
        m.tensors += (2 * nq + 2 * nkv) * es + 4 * rows;
    m.extra = 0;
    if (id == IMPL_UNFUSED)
        m.extra = s2 * es * (bwd ? 2 : 1) + CUBLAS_WORKSPACE;
    else if (id == IMPL_NAIVE)
        m.extra = s2 * 4.0 * (bwd ? 2 : 1);
    else if (id == IMPL_FLASH && bwd)
        m.extra = nq * 4.0;
    return m;
}

static double at_alloc_bytes(const tb_case *c)
{
    at_memory m = memory_of(c);
    return m.tensors + m.extra;
}

/* The fp32 arrays the verification's reference needs on the device. */
static double reference_bytes(const tb_attn_shape *sh, int bwd)
{
    const double nq = (double)sh->B * sh->H * sh->S * sh->D;
    const double nkv = (double)sh->B * sh->KVH * sh->S * sh->D, rows = (double)sh->B * sh->H * sh->S;
    return 4.0 * (2 * nq + rows) + (bwd ? 4.0 * (2 * nq + 4 * nkv + 2 * rows) : 0) +
           REF_WORKSPACE;
}

/* ---- state ---- */

typedef struct {
    int impl, host, pass;
    tb_attn_shape sh;
    int sm_count;
    cudaStream_t stream;
    uint64_t seed[4]; /* Q K V dO */
    void *Q, *K, *V, *dO, *O, *dQ, *dK, *dV;
    float *lse, *Drow, *dQacc, *W, *W2;
    void *P, *dP;
    cublasHandle_t cublas;
    void *cublas_ws;
    tb_mm_check_result *check; /* device: one per compared output */
    const tb_fault *fault;     /* host: the bug to commit, read at every execution */
    long executions;           /* host: executions so far (late-corruption) */
    /* host: the reference of the inputs (which never change: a refill writes the same
     * values), computed at the first verification: O, its bound, lse, and for a backward
     * dQ, dK, dV with their bounds */
    float *ref;
} at_state;

static int64_t n_q(const tb_attn_shape *sh)
{
    return (int64_t)sh->B * sh->H * sh->S * sh->D;
}
static int64_t n_kv(const tb_attn_shape *sh)
{
    return (int64_t)sh->B * sh->KVH * sh->S * sh->D;
}
static int64_t n_rows(const tb_attn_shape *sh)
{
    return (int64_t)sh->B * sh->H * sh->S;
}

static void at_teardown(void *p)
{
    at_state *st = p;
    if (!st)
        return;
    void *bufs[] = {st->Q, st->K, st->V, st->dO, st->O, st->dQ, st->dK, st->dV, st->lse,
                    st->Drow, st->dQacc, st->W, st->W2, st->P, st->dP, st->cublas_ws, st->check,
                    st->ref};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        if (st->host)
            free(bufs[i]);
        else
            cudaFree(bufs[i]);
    }
    if (st->cublas)
        cublasDestroy(st->cublas);
    free(st);
}

/* An input as the device holds it: the random-normal values rounded to the storage type. */
static void host_fill(float *x, int64_t n, uint64_t seed, int storage)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = tb_mm_round(storage, tb_rand_normal(seed, (uint64_t)i));
}

static tb_status setup_host(at_state *st, const tb_case *c, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    /* the implementation's tensors, and verify's reference: outputs and bounds */
    tb_status s = tb_device_need_memory(0, 3.0 * at_alloc_bytes(c), err);
    if (s)
        return s;
    const int64_t nq = n_q(sh), nkv = n_kv(sh), rows = n_rows(sh);
    const int bwd = st->pass != PASS_FWD;
    st->Q = malloc((size_t)nq * 4);
    st->K = malloc((size_t)nkv * 4);
    st->V = malloc((size_t)nkv * 4);
    st->O = malloc((size_t)nq * 4);
    st->lse = malloc((size_t)rows * 4);
    if (bwd) {
        st->dO = malloc((size_t)nq * 4);
        st->dQ = malloc((size_t)nq * 4);
        st->dK = malloc((size_t)nkv * 4);
        st->dV = malloc((size_t)nkv * 4);
    }
    if (!st->Q || !st->K || !st->V || !st->O || !st->lse ||
        (bwd && (!st->dO || !st->dQ || !st->dK || !st->dV)))
        return tb_err_set(err, TB_SKIP, "cannot allocate host memory");
    host_fill(st->Q, nq, st->seed[0], sh->storage);
    host_fill(st->K, nkv, st->seed[1], sh->storage);
    host_fill(st->V, nkv, st->seed[2], sh->storage);
    memset(st->O, 0xff, (size_t)nq * 4);
    memset(st->lse, 0xff, (size_t)rows * 4);
    if (bwd) {
        host_fill(st->dO, nq, st->seed[3], sh->storage);
        memset(st->dQ, 0xff, (size_t)nq * 4);
        memset(st->dK, 0xff, (size_t)nkv * 4);
        memset(st->dV, 0xff, (size_t)nkv * 4);
        /* the backward's inputs: this implementation's own forward, without the bug */
        if (tb_attn_host_flash_fwd(sh, st->Q, st->K, st->V, st->O, st->lse, TB_ATTN_BUG_NONE))
            return tb_err_set(err, TB_SKIP, "cannot allocate host memory");
    }
    return TB_OK;
}

/* ---- the implementations' passes (device) ---- */

/* C (row-major, per group: rows x cols) = alpha op(A) op(B) as the column-major cuBLAS call
 * with the operands swapped; strides per group (b, kvh). */
static tb_status gemm(at_state *st, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                      int k, float alpha, const void *A, int lda, long long sa, const void *B,
                      int ldb, long long sb, void *C, int ldc, long long sc, tb_err *err)
{
    const float beta = 0.0f;
    const cudaDataType_t t = st->sh.storage == TB_MM_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    TB_CUBLAS_CALL(cublasGemmStridedBatchedEx(st->cublas, ta, tb, m, n, k, &alpha, A, t, lda, sa,
                                              B, t, ldb, sb, &beta, C, t, ldc, sc,
                                              st->sh.B * st->sh.KVH, CUBLAS_COMPUTE_32F,
                                              CUBLAS_GEMM_DEFAULT),
                   err);
    return TB_OK;
}

/* The unfused forward: per group (b, kvh) the G*S query rows are one matrix (attn_common.h).
 * S = scale Q K^T (as S^T = K Q^T column-major), softmax in place, O = P V. */
static tb_status unfused_fwd(at_state *st, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    const int G = sh->H / sh->KVH, GS = G * sh->S, S = sh->S, D = sh->D;
    const long long sq = (long long)GS * D, skv = (long long)S * D, sp = (long long)GS * S;
    tb_status s = gemm(st, CUBLAS_OP_T, CUBLAS_OP_N, S, GS, D, 1.0f / sqrtf((float)D), st->K, D,
                       skv, st->Q, D, sq, st->P, S, sp, err);
    if (s)
        return s;
    TB_CUDA_TRY(tb_attn_softmax_rows(sh, st->P, st->lse, st->stream), err);
    return gemm(st, CUBLAS_OP_N, CUBLAS_OP_N, D, GS, S, 1.0f, st->V, D, skv, st->P, S, sp, st->O,
                D, sq, err);
}

/* The unfused backward: dP = dO V^T, dS = P o (dP - D) in place, dQ = scale dS K,
 * dK = scale dS^T Q, dV = P^T dO (the group's query heads summed by the GEMMs' k). */
static tb_status unfused_bwd(at_state *st, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    const int G = sh->H / sh->KVH, GS = G * sh->S, S = sh->S, D = sh->D;
    const long long sq = (long long)GS * D, skv = (long long)S * D, sp = (long long)GS * S;
    const float scale = 1.0f / sqrtf((float)D);
    TB_CUDA_TRY(tb_attn_rowdot(sh, st->dO, st->O, sh->storage, st->Drow, NULL, st->stream), err);
    tb_status s = gemm(st, CUBLAS_OP_T, CUBLAS_OP_N, S, GS, D, 1.0f, st->V, D, skv, st->dO, D, sq,
                       st->dP, S, sp, err);
    if (s)
        return s;
    TB_CUDA_TRY(tb_attn_dsoftmax(sh, st->P, st->dP, st->Drow, st->stream), err);
    if ((s = gemm(st, CUBLAS_OP_N, CUBLAS_OP_N, D, GS, S, scale, st->K, D, skv, st->dP, S, sp,
                  st->dQ, D, sq, err)))
        return s;
    if ((s = gemm(st, CUBLAS_OP_N, CUBLAS_OP_T, D, S, GS, scale, st->Q, D, sq, st->dP, S, sp,
                  st->dK, D, skv, err)))
        return s;
    return gemm(st, CUBLAS_OP_N, CUBLAS_OP_T, D, S, GS, 1.0f, st->dO, D, sq, st->P, S, sp, st->dV,
                D, skv, err);
}

static tb_status run_fwd(at_state *st, tb_attn_bug bug, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    switch (st->impl) {
    case IMPL_UNFUSED: return unfused_fwd(st, err);
    case IMPL_NAIVE:
        TB_CUDA_TRY(tb_attn_naive_fwd(sh, st->Q, st->K, st->V, st->O, sh->storage, st->lse, NULL,
                                      st->W, 0, sh->B * sh->KVH, 0, sh->S, st->stream),
                    err);
        return TB_OK;
    case IMPL_FLASH:
        TB_CUDA_TRY(tb_attn_flash_fwd(sh, st->Q, st->K, st->V, st->O, st->lse, st->stream), err);
        return TB_OK;
    default:
        if (tb_attn_host_flash_fwd(sh, st->Q, st->K, st->V, st->O, st->lse, bug))
            return tb_err_set(err, TB_DEVFAIL, "out of host memory");
        return TB_OK;
    }
}

static tb_status run_bwd(at_state *st, tb_attn_bug bug, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    switch (st->impl) {
    case IMPL_UNFUSED: return unfused_bwd(st, err);
    case IMPL_NAIVE:
        TB_CUDA_TRY(tb_attn_rowdot(sh, st->dO, st->O, sh->storage, st->Drow, NULL, st->stream),
                    err);
        TB_CUDA_TRY(tb_attn_naive_bwd(sh, st->Q, st->K, st->V, st->dO, st->Drow, NULL, st->dQ,
                                      st->dK, st->dV, sh->storage, 0, NULL, NULL, NULL, st->W,
                                      st->W2, NULL, 0, sh->B * sh->KVH, 0, sh->S, st->stream),
                    err);
        return TB_OK;
    case IMPL_FLASH:
        TB_CUDA_TRY(tb_attn_flash_bwd(sh, st->Q, st->K, st->V, st->O, st->lse, st->dO, st->Drow,
                                      st->dQacc, st->dQ, st->dK, st->dV, st->stream),
                    err);
        return TB_OK;
    default:
        if (tb_attn_host_flash_bwd(sh, st->Q, st->K, st->V, st->O, st->lse, st->dO, st->dQ,
                                   st->dK, st->dV, bug))
            return tb_err_set(err, TB_DEVFAIL, "out of host memory");
        return TB_OK;
    }
}

/* The bug a host execution commits for TRAINBENCH_TEST_FAULT: the attention faults as
 * named; late-corruption the stale-V bug (a pipeline stage reused before it was refilled)
 * in every execution after the first late_after. */
static tb_attn_bug host_bug(const at_state *st)
{
    const tb_fault *f = st->fault;
    if (tb_fault_is(f, TB_FAULT_ATTN_DROP_TILE))
        return TB_ATTN_BUG_DROP_TILE;
    if (tb_fault_is(f, TB_FAULT_ATTN_STALE_V))
        return TB_ATTN_BUG_STALE_V;
    if (tb_fault_is(f, TB_FAULT_ATTN_SCALE))
        return TB_ATTN_BUG_SCALE;
    if (tb_fault_is(f, TB_FAULT_LATE_CORRUPTION) && st->executions > f->late_after)
        return TB_ATTN_BUG_STALE_V;
    return TB_ATTN_BUG_NONE;
}

static tb_status at_run(void *p, tb_err *err)
{
    at_state *st = p;
    tb_status s = TB_OK;
    tb_attn_bug bug = TB_ATTN_BUG_NONE;
    if (st->host) {
        st->executions++;
        bug = host_bug(st);
    }
    if (st->pass != PASS_BWD)
        s = run_fwd(st, bug, err);
    if (!s && st->pass != PASS_FWD)
        s = run_bwd(st, bug, err);
    return s;
}

static tb_status setup_gpu(at_state *st, const tb_case *c, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    const int bwd = st->pass != PASS_FWD;
    const double need = at_alloc_bytes(c) + reference_bytes(sh, bwd);
    tb_status s = tb_device_need_memory(need, 0, err);
    if (s)
        return s;
    const int64_t nq = n_q(sh), nkv = n_kv(sh), rows = n_rows(sh);
    const size_t s2 = (size_t)rows * sh->S;
    cudaError_t e = cudaMalloc(&st->Q, (size_t)nq * 2);
    if (!e)
        e = cudaMalloc(&st->K, (size_t)nkv * 2);
    if (!e)
        e = cudaMalloc(&st->V, (size_t)nkv * 2);
    if (!e)
        e = cudaMalloc(&st->O, (size_t)nq * 2);
    if (!e)
        e = cudaMalloc((void **)&st->lse, (size_t)rows * 4);
    if (!e)
        e = cudaMalloc((void **)&st->check, 5 * sizeof *st->check);
    if (!e && bwd) {
        e = cudaMalloc(&st->dO, (size_t)nq * 2);
        if (!e)
            e = cudaMalloc(&st->dQ, (size_t)nq * 2);
        if (!e)
            e = cudaMalloc(&st->dK, (size_t)nkv * 2);
        if (!e)
            e = cudaMalloc(&st->dV, (size_t)nkv * 2);
        if (!e)
            e = cudaMalloc((void **)&st->Drow, (size_t)rows * 4);
        if (!e && st->impl == IMPL_FLASH)
            e = cudaMalloc((void **)&st->dQacc, (size_t)nq * 4);
        if (!e && st->impl == IMPL_UNFUSED)
            e = cudaMalloc(&st->dP, s2 * 2);
        if (!e && st->impl == IMPL_NAIVE)
            e = cudaMalloc((void **)&st->W2, s2 * 4);
    }
    if (!e && st->impl == IMPL_UNFUSED)
        e = cudaMalloc(&st->P, s2 * 2);
    if (!e && st->impl == IMPL_UNFUSED)
        e = cudaMalloc(&st->cublas_ws, CUBLAS_WORKSPACE);
    if (!e && st->impl == IMPL_NAIVE)
        e = cudaMalloc((void **)&st->W, s2 * 4);
    if (e) {
        cudaGetLastError();
        return tb_err_set(err, TB_SKIP, "needs %.2f GiB: %s", at_alloc_bytes(c) / (1 << 30),
                          cudaGetErrorString(e));
    }
    void *ins[4] = {st->Q, st->K, st->V, st->dO};
    const int64_t ns[4] = {nq, nkv, nkv, nq};
    for (int k = 0; k < (bwd ? 4 : 3); k++)
        TB_CUDA_TRY(tb_mm_fill(sh->storage, ins[k], NULL, ns[k], st->seed[k], st->sm_count,
                               st->stream),
                    err);
    /* outputs poisoned: 0xffff is a NaN in bf16 and fp16, 0xffffffff in fp32 */
    TB_CUDA_TRY(cudaMemsetAsync(st->O, 0xff, (size_t)nq * 2, st->stream), err);
    TB_CUDA_TRY(cudaMemsetAsync(st->lse, 0xff, (size_t)rows * 4, st->stream), err);
    if (bwd) {
        TB_CUDA_TRY(cudaMemsetAsync(st->dQ, 0xff, (size_t)nq * 2, st->stream), err);
        TB_CUDA_TRY(cudaMemsetAsync(st->dK, 0xff, (size_t)nkv * 2, st->stream), err);
        TB_CUDA_TRY(cudaMemsetAsync(st->dV, 0xff, (size_t)nkv * 2, st->stream), err);
    }
    if (st->impl == IMPL_FLASH)
        TB_CUDA_TRY(tb_attn_flash_prepare(), err);
    if (st->impl == IMPL_UNFUSED) {
        TB_CUBLAS_CALL(cublasCreate(&st->cublas), err);
        TB_CUBLAS_CALL(cublasSetStream(st->cublas, st->stream), err);
        /* a workspace of its own, so the GEMMs allocate nothing while a graph is captured */
        TB_CUBLAS_CALL(cublasSetWorkspace(st->cublas, st->cublas_ws, CUBLAS_WORKSPACE), err);
    }
    if (bwd && st->pass == PASS_BWD) {
        /* the backward's inputs: this implementation's own forward, untimed */
        if ((s = run_fwd(st, TB_ATTN_BUG_NONE, err)))
            return s;
    }
    TB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    return TB_OK;
}

static tb_status at_setup(const tb_case *c, const tb_env *env, void **state, tb_err *err)
{
    *state = NULL;
    at_state *st = calloc(1, sizeof *st);
    if (!st)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    st->impl = impl_id(c->impl);
    st->host = env->device->is_host;
    st->pass = (int)c->axis[AX_PASS];
    st->sh = case_shape(c);
    st->sm_count = env->device->sm_count;
    st->stream = (cudaStream_t)env->stream;
    st->fault = env->fault;
    for (int k = 0; k < 4; k++)
        st->seed[k] = tb_rand_stream(env->seed, (uint64_t)k);
    tb_status s = st->host ? setup_host(st, c, err) : setup_gpu(st, c, err);
    if (s) {
        at_teardown(st);
        return s;
    }
    *state = st;
    return TB_OK;
}

/* ---- verification ---- */

/* Whose roundings the implementation's outputs carry (attention_verify.c). */
static tb_attn_rounding rounding_of(const at_state *st)
{
    return st->impl == IMPL_UNFUSED ? TB_ATTN_ROUND_UNFUSED
                                    : (st->impl == IMPL_NAIVE ? TB_ATTN_ROUND_NAIVE
                                                              : TB_ATTN_ROUND_FLASH);
}

/* The host reference, once per case: O, Oabs, lse, then (backward) dQ, dQabs, dK, dKabs, dV,
 * dVabs. */
static tb_status host_reference(at_state *st, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    const int64_t nq = n_q(sh), nkv = n_kv(sh), rows = n_rows(sh);
    const int bwd = st->pass != PASS_FWD;
    if (st->ref)
        return TB_OK;
    float *r = malloc((size_t)(2 * nq + rows + (bwd ? 2 * nq + 4 * nkv : 0)) * 4);
    if (!r || tb_attn_host_naive_fwd(sh, st->Q, st->K, st->V, r, r + 2 * nq, r + nq)) {
        free(r);
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    }
    float *g = r + 2 * nq + rows;
    if (bwd && tb_attn_host_naive_bwd(sh, st->Q, st->K, st->V, r, st->dO, g, g + 2 * nq,
                                      g + 2 * nq + 2 * nkv, g + nq, g + 2 * nq + nkv,
                                      g + 2 * nq + 3 * nkv)) {
        free(r);
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    }
    st->ref = r;
    return TB_OK;
}

/* The norm-wise measure of one host output: heads of S rows each. */
static void host_norms(tb_attn_norms *m, const float *out, const float *ref, int64_t heads,
                       int S, int D)
{
    for (int64_t h = 0; h < heads; h++) {
        const int64_t at = h * S * D;
        tb_attn_norms_rows(m, out + at, ref + at, 0, S, D);
        tb_attn_norms_end_head(m);
    }
}

static tb_status verify_host(at_state *st, tb_verify *v, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    const int64_t nq = n_q(sh), nkv = n_kv(sh), rows = n_rows(sh);
    const int bwd = st->pass != PASS_FWD, S = sh->S, D = sh->D;
    tb_status s = host_reference(st, err);
    if (s)
        return s;
    tb_attn_bounds b;
    tb_attn_bounds_of(rounding_of(st), sh->storage, S, D, &b);
    const float *ref = st->ref, *g = st->ref + 2 * nq + rows;
    /* per output: implementation, reference, bound, heads */
    const float *outs[TB_ATTN_OUTPUTS] = {st->O, st->dQ, st->dK, st->dV};
    const float *refs[TB_ATTN_OUTPUTS] = {ref, g, g + 2 * nq, g + 2 * nq + 2 * nkv};
    const float *abs_[TB_ATTN_OUTPUTS] = {ref + nq, g + nq, g + 2 * nq + nkv,
                                          g + 2 * nq + 3 * nkv};
    const int64_t heads[TB_ATTN_OUTPUTS] = {(int64_t)sh->B * sh->H, (int64_t)sh->B * sh->H,
                                            (int64_t)sh->B * sh->KVH, (int64_t)sh->B * sh->KVH};
    tb_attn_norms m[TB_ATTN_OUTPUTS];
    const tb_attn_norms *present[TB_ATTN_OUTPUTS] = {NULL, NULL, NULL, NULL};
    v->ok = 1;
    for (int k = 0; k < (bwd ? TB_ATTN_OUTPUTS : 1); k++) {
        tb_attn_elements(outs[k], refs[k], abs_[k], heads[k] * S * D, &b, v);
        tb_attn_norms_init(&m[k], b.norm[k], tb_attn_tile_rows(k, TB_ATTN_FWD_BR));
        host_norms(&m[k], outs[k], refs[k], heads[k], S, D);
        present[k] = &m[k];
    }
    tb_attn_lse_check lse = {b.lse, 0, 0, 0};
    tb_attn_lse_rows(&lse, st->lse, ref + 2 * nq, rows);
    v->tolerance = b.bound_scale;
    v->ok = v->n_wrong == 0;
    tb_attn_record(v, present, &lse);
    return TB_OK;
}

typedef struct {
    float *O, *Oabs, *lse, *Drow, *Dabs, *dQ, *dQabs, *dK, *dKabs, *dV, *dVabs, *W, *W2, *W3;
} ref_bufs;

static void ref_free(ref_bufs *r)
{
    float **all = (float **)r;
    for (size_t i = 0; i < sizeof *r / sizeof(float *); i++)
        cudaFree(all[i]);
}

/* One group z's reference (fp32, with bounds) by the naive kernels in row chunks of R: all
 * rows, or (sampled, forward only, 2R < S) rows 0 .. R-1 and S-R .. S-1 of each head. */
static cudaError_t reference_group(at_state *st, ref_bufs *r, int z, int R, int bwd,
                                   int sampled)
{
    const tb_attn_shape *sh = &st->sh;
    const int G = sh->H / sh->KVH, S = sh->S;
    cudaError_t e = cudaSuccess;
    if (sampled) {
        e = tb_attn_naive_fwd(sh, st->Q, st->K, st->V, r->O, TB_MM_F32, r->lse, r->Oabs, r->W, z,
                              1, 0, R, st->stream);
        if (!e)
            e = tb_attn_naive_fwd(sh, st->Q, st->K, st->V, r->O, TB_MM_F32, r->lse, r->Oabs,
                                  r->W, z, 1, S - R, R, st->stream);
        return e;
    }
    for (int r0 = 0; r0 < S && !e; r0 += R) {
        const int n = r0 + R < S ? R : S - r0;
        e = tb_attn_naive_fwd(sh, st->Q, st->K, st->V, r->O, TB_MM_F32, r->lse, r->Oabs, r->W, z,
                              1, r0, n, st->stream);
    }
    if (!bwd || e)
        return e;
    /* D = rowsum(dO o O_ref) over the group's G*S rows */
    tb_attn_shape g = *sh;
    g.B = 1;
    g.H = G;
    const int64_t row0 = (int64_t)z * G * S;
    e = tb_attn_rowdot(&g, (const char *)st->dO + row0 * sh->D * 2, r->O + row0 * sh->D,
                       TB_MM_F32, r->Drow + row0, r->Dabs + row0, st->stream);
    for (int r0 = 0; r0 < S && !e; r0 += R) {
        const int n = r0 + R < S ? R : S - r0;
        e = tb_attn_naive_bwd(sh, st->Q, st->K, st->V, st->dO, r->Drow, r->Dabs, r->dQ, r->dK,
                              r->dV, TB_MM_F32, r0 > 0, r->dQabs, r->dKabs, r->dVabs, r->W, r->W2,
                              r->W3, z, 1, r0, n, st->stream);
    }
    return e;
}

/* Compares an output array (storage) with its reference from element `at` on, n elements,
 * into check slot k. */
static cudaError_t compare(at_state *st, int k, int storage, const void *out, const float *ref,
                           const float *bound, int64_t at, int64_t n, float abs_tol,
                           float rel_tol, float bscale, int64_t *checked)
{
    const size_t es = storage == TB_MM_F32 ? 4 : 2;
    *checked += n;
    return tb_mm_check(storage, (const char *)out + at * es, ref + at, bound ? bound + at : NULL,
                       bscale, n, abs_tol, rel_tol, &st->check[k], st->sm_count, st->stream);
}

/* Host copies of up to one head of an output and its reference, for the norm-wise measures
 * (which share attention_verify.c's code with the host path). */
typedef struct {
    float *out, *ref;
    void *raw;
} stage_bufs;

/* Rows row0 .. row0+n-1 of head `head` of a device output (storage; head-major [.][S][D],
 * fp32 when storage is TB_MM_F32) and its device reference into m. */
static cudaError_t measure_rows(at_state *st, stage_bufs *sg, tb_attn_norms *m, int storage,
                                const void *out, const float *ref, int64_t head, int64_t row0,
                                int64_t n)
{
    const int S = st->sh.S, D = st->sh.D;
    const size_t es = storage == TB_MM_F32 ? 4 : 2;
    const int64_t at = (head * S + row0) * D;
    cudaError_t e = cudaMemcpyAsync(sg->raw, (const char *)out + at * es, (size_t)(n * D) * es,
                                    cudaMemcpyDeviceToHost, st->stream);
    if (!e)
        e = cudaMemcpyAsync(sg->ref, ref + at, (size_t)(n * D) * 4, cudaMemcpyDeviceToHost,
                            st->stream);
    if (!e)
        e = cudaStreamSynchronize(st->stream);
    if (e)
        return e;
    for (int64_t i = 0; i < n * D; i++)
        sg->out[i] = tb_mm_load(storage, sg->raw, i);
    tb_attn_norms_rows(m, sg->out, sg->ref, row0, n, D);
    return cudaSuccess;
}

/* Rows row0 .. row0+n-1 of the lse of head `head` (global head index b*H + h) into m. */
static cudaError_t measure_lse(at_state *st, stage_bufs *sg, tb_attn_lse_check *m,
                               const float *ref, int64_t head, int64_t row0, int64_t n)
{
    const int64_t at = head * st->sh.S + row0;
    cudaError_t e = cudaMemcpyAsync(sg->out, st->lse + at, (size_t)n * 4, cudaMemcpyDeviceToHost,
                                    st->stream);
    if (!e)
        e = cudaMemcpyAsync(sg->ref, ref + at, (size_t)n * 4, cudaMemcpyDeviceToHost, st->stream);
    if (!e)
        e = cudaStreamSynchronize(st->stream);
    if (!e)
        tb_attn_lse_rows(m, sg->out, sg->ref, n);
    return e;
}

static tb_status verify_gpu(at_state *st, tb_verify *v, tb_err *err)
{
    const tb_attn_shape *sh = &st->sh;
    const int bwd = st->pass != PASS_FWD;
    const int G = sh->H / sh->KVH, S = sh->S, D = sh->D, nz = sh->B * sh->KVH;
    const int64_t nq = n_q(sh), nkv = n_kv(sh), rows = n_rows(sh);
    ref_bufs r;
    memset(&r, 0, sizeof r);
    int64_t R = (int64_t)(REF_WORKSPACE / 3 / 4) / ((int64_t)G * S);
    R = R < 1 ? 1 : (R > S ? S : R);
    /* past VERIFY_ALL_MACS: the first and the last group; a forward, only the first and the
     * last R rows of their heads (rows are independent in the forward, and the last ones see
     * every key) */
    const double macs = (double)rows * S * D;
    const int all = macs <= (double)VERIFY_ALL_MACS;
    const int sampled = !all && !bwd && 2 * R < S;
    const int nzv = all || nz <= 2 ? nz : 2;
    const int zs[2] = {0, nz - 1};
    const size_t ws = (size_t)G * R * S * 4;
    stage_bufs sg;
    sg.out = malloc((size_t)S * D * 4);
    sg.ref = malloc((size_t)S * D * 4);
    sg.raw = malloc((size_t)S * D * 4);
    if (!sg.out || !sg.ref || !sg.raw) {
        free(sg.out);
        free(sg.ref);
        free(sg.raw);
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    }
    cudaError_t e = cudaMalloc((void **)&r.O, (size_t)nq * 4);
    if (!e)
        e = cudaMalloc((void **)&r.Oabs, (size_t)nq * 4);
    if (!e)
        e = cudaMalloc((void **)&r.lse, (size_t)rows * 4);
    if (!e)
        e = cudaMalloc((void **)&r.W, ws);
    if (!e && bwd) {
        float **more[] = {&r.Drow, &r.Dabs, &r.dQ, &r.dQabs, &r.dK, &r.dKabs, &r.dV, &r.dVabs,
                          &r.W2, &r.W3};
        const size_t sizes[] = {(size_t)rows, (size_t)rows, (size_t)nq, (size_t)nq,
                                (size_t)nkv,  (size_t)nkv,  (size_t)nkv, (size_t)nkv,
                                ws / 4,       ws / 4};
        for (int k = 0; k < 10 && !e; k++)
            e = cudaMalloc((void **)more[k], sizes[k] * 4);
    }
    tb_attn_bounds b;
    tb_attn_bounds_of(rounding_of(st), sh->storage, S, D, &b);
    const float abs_tol = (float)b.abs_tol, rel_tol = (float)b.rel_tol;
    const float bscale = (float)b.bound_scale;
    tb_attn_norms m[TB_ATTN_OUTPUTS];
    const tb_attn_norms *present[TB_ATTN_OUTPUTS] = {NULL, NULL, NULL, NULL};
    /* the flash forward's query tiles are as tall as the device's kernels make them */
    const int fwd_rows = st->impl == IMPL_FLASH ? tb_attn_flash_fwd_rows(D) : TB_ATTN_FWD_BR;
    for (int k = 0; k < (bwd ? TB_ATTN_OUTPUTS : 1); k++) {
        tb_attn_norms_init(&m[k], b.norm[k], tb_attn_tile_rows(k, fwd_rows));
        present[k] = &m[k];
    }
    tb_attn_lse_check lse = {b.lse, 0, 0, 0};
    if (!e)
        e = cudaMemsetAsync(st->check, 0, 5 * sizeof *st->check, st->stream);
    int64_t checked = 0;
    for (int k = 0; k < nzv && !e; k++) {
        const int z = nzv == nz ? k : zs[k];
        e = reference_group(st, &r, z, (int)R, bwd, sampled);
        /* O and lse: every row of the group's heads, or the sampled chunks of each head */
        for (int h = z * G; h < z * G + G && !e; h++) {
            for (int c = 0; c < (sampled ? 2 : 1) && !e; c++) {
                const int64_t r0 = sampled && c ? S - R : 0, n = sampled ? R : S;
                const int64_t row = (int64_t)h * S + r0;
                e = compare(st, 0, sh->storage, st->O, r.O, r.Oabs, row * D, n * D, abs_tol,
                            rel_tol, bscale, &checked);
                if (!e)
                    e = measure_rows(st, &sg, &m[TB_ATTN_OUT_O], sh->storage, st->O, r.O, h, r0,
                                     n);
                if (!e)
                    e = measure_lse(st, &sg, &lse, r.lse, h, r0, n);
            }
            tb_attn_norms_end_head(&m[TB_ATTN_OUT_O]);
            if (!e && bwd) {
                e = measure_rows(st, &sg, &m[TB_ATTN_OUT_DQ], sh->storage, st->dQ, r.dQ, h, 0, S);
                tb_attn_norms_end_head(&m[TB_ATTN_OUT_DQ]);
            }
        }
        const int64_t q0 = (int64_t)z * G * S * D, k0 = (int64_t)z * S * D;
        if (!e && bwd)
            e = compare(st, 2, sh->storage, st->dQ, r.dQ, r.dQabs, q0, (int64_t)G * S * D,
                        abs_tol, rel_tol, bscale, &checked);
        if (!e && bwd)
            e = compare(st, 3, sh->storage, st->dK, r.dK, r.dKabs, k0, (int64_t)S * D, abs_tol,
                        rel_tol, bscale, &checked);
        if (!e && bwd)
            e = compare(st, 4, sh->storage, st->dV, r.dV, r.dVabs, k0, (int64_t)S * D, abs_tol,
                        rel_tol, bscale, &checked);
        for (int k2 = TB_ATTN_OUT_DK; k2 <= TB_ATTN_OUT_DV && !e && bwd; k2++) {
            e = measure_rows(st, &sg, &m[k2], sh->storage, k2 == TB_ATTN_OUT_DK ? st->dK : st->dV,
                             k2 == TB_ATTN_OUT_DK ? r.dK : r.dV, z, 0, S);
            tb_attn_norms_end_head(&m[k2]);
        }
    }
    tb_mm_check_result h[5];
    if (!e)
        e = cudaMemcpyAsync(h, st->check, sizeof h, cudaMemcpyDeviceToHost, st->stream);
    if (!e)
        e = cudaStreamSynchronize(st->stream);
    ref_free(&r);
    free(sg.out);
    free(sg.ref);
    free(sg.raw);
    if (e) {
        cudaGetLastError();
        return tb_err_set(err, TB_DEVFAIL, "attention verification failed: %s",
                          cudaGetErrorString(e));
    }
    /* slot 1 (the lse) is measured on the host, as a measure of its own */
    for (int k = 0; k < (bwd ? 5 : 1); k++) {
        if (k == 1)
            continue;
        float fa, fr;
        memcpy(&fa, &h[k].max_abs_err_bits, sizeof fa);
        memcpy(&fr, &h[k].max_rel_err_bits, sizeof fr);
        v->n_wrong += (int64_t)h[k].n_wrong;
        v->max_abs_err = fa > v->max_abs_err ? fa : v->max_abs_err;
        v->max_rel_err = fr > v->max_rel_err ? fr : v->max_rel_err;
    }
    v->n_checked = checked;
    v->tolerance = bscale;
    v->ok = v->n_wrong == 0;
    tb_attn_record(v, present, &lse);
    return TB_OK;
}

static tb_status at_verify(const tb_case *c, void *p, tb_verify *v, tb_err *err)
{
    (void)c;
    at_state *st = p;
    memset(v, 0, sizeof *v);
    return st->host ? verify_host(st, v, err) : verify_gpu(st, v, err);
}

/* Refills the inputs and poisons the outputs for the check after the timed loop, as setup
 * left them; a backward-only case's inputs O and lse come from its own forward again. */
static tb_status at_reinit(const tb_case *c, void *p, tb_err *err)
{
    (void)c;
    at_state *st = p;
    const tb_attn_shape *sh = &st->sh;
    const int64_t nq = n_q(sh), nkv = n_kv(sh), rows = n_rows(sh);
    const int bwd = st->pass != PASS_FWD;
    void *ins[4] = {st->Q, st->K, st->V, st->dO}, *outs[4] = {st->O, st->dQ, st->dK, st->dV};
    const int64_t ns[4] = {nq, nkv, nkv, nq}, nouts[4] = {nq, nq, nkv, nkv};
    if (st->host) {
        /* the same values as setup (the cached reference holds for them); the execution
         * count late-corruption keeps is left alone */
        for (int k = 0; k < (bwd ? 4 : 3); k++)
            host_fill(ins[k], ns[k], st->seed[k], sh->storage);
        for (int k = 0; k < (bwd ? 4 : 1); k++)
            memset(outs[k], 0xff, (size_t)nouts[k] * 4);
        memset(st->lse, 0xff, (size_t)rows * 4);
        if (bwd && tb_attn_host_flash_fwd(sh, st->Q, st->K, st->V, st->O, st->lse,
                                          TB_ATTN_BUG_NONE))
            return tb_err_set(err, TB_DEVFAIL, "cannot allocate host memory");
        return TB_OK;
    }
    for (int k = 0; k < (bwd ? 4 : 3); k++)
        TB_CUDA_TRY(tb_mm_fill(sh->storage, ins[k], NULL, ns[k], st->seed[k], st->sm_count,
                               st->stream),
                    err);
    for (int k = 0; k < (bwd ? 4 : 1); k++)
        TB_CUDA_TRY(cudaMemsetAsync(outs[k], 0xff, (size_t)nouts[k] * 2, st->stream), err);
    TB_CUDA_TRY(cudaMemsetAsync(st->lse, 0xff, (size_t)rows * 4, st->stream), err);
    if (st->pass == PASS_BWD) {
        tb_status s = run_fwd(st, TB_ATTN_BUG_NONE, err);
        if (s)
            return s;
    }
    TB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    return TB_OK;
}

/* ---- what each implementation runs ---- */

static tb_status at_supports(const tb_case *c, const tb_device *dev, tb_err *err)
{
    (void)dev;
    const tb_attn_shape sh = case_shape(c);
    const double macs = (double)sh.B * sh.H * sh.S * (double)sh.S * sh.D;
    switch (impl_id(c->impl)) {
    case IMPL_FLASH: {
        const char *why = tb_attn_flash_unsupported(&sh);
        if (why)
            return tb_err_set(err, TB_SKIP, "flash %s", why);
        break;
    }
    case IMPL_NAIVE:
        if (sh.D > 256)
            return tb_err_set(err, TB_SKIP, "naive supports head dims up to 256");
        if ((int64_t)sh.B * sh.KVH > 65535)
            return tb_err_set(err, TB_SKIP, "naive needs batch x kv-heads <= 65535");
        if (at_flops(c) > NAIVE_MAX_FLOP)
            return tb_err_set(err, TB_SKIP,
                              "above 1.1e12 FLOP the naive anchor takes too long to time; its "
                              "smaller cases anchor the table");
        break;
    case IMPL_HOST:
        if (macs > (double)HOST_MAX_MACS)
            return tb_err_set(err, TB_SKIP, "the host implementation takes minutes above 2^31 "
                                            "multiply-adds");
        break;
    default: break;
    }
    if (impl_id(c->impl) != IMPL_HOST && sh.D > 256)
        return tb_err_set(err, TB_SKIP, "head dims above 256 are not verified (the reference "
                                        "supports up to 256)");
    return TB_OK;
}

/* ---- shapes ---- */

typedef struct {
    const char *name;
    int heads, kv_heads, head_dim;
} model_attn;

/* REFERENCE.md, "Real model shapes" */
static const model_attn models[] = {
    {"llama3-8b", 32, 8, 128},
    {"llama3-70b", 64, 8, 128},
    {"llama3-405b", 128, 8, 128},
};
#define N_MODELS ((int)(sizeof models / sizeof models[0]))

/* The FlashAttention sweep: 16k tokens per batch, heads x head dim = 2048. */
#define FA2_TOKENS 16384
#define FA2_WIDTH 2048

enum { OPT_SHAPES };

static tb_status add_point(tb_points *out, int64_t b, int64_t h, int64_t kv, int64_t s, int64_t d,
                           const tb_sweep *causal, const tb_sweep *pass, tb_err *err)
{
    if (h % kv)
        return tb_err_set(err, TB_USAGE,
                          "--kv-heads: %lld does not divide --heads %lld (each KV head serves "
                          "heads / kv-heads query heads)",
                          (long long)kv, (long long)h);
    if (b * h > 0x7fffffff || s > 0x7fffffff || d > 0x7fffffff)
        return tb_err_set(err, TB_USAGE, "--batch x --heads, --seq and --head-dim must stay "
                                         "below 2^31");
    tb_status st = TB_OK;
    for (size_t i = 0; i < causal->count && !st; i++)
        for (size_t k = 0; k < pass->count && !st; k++) {
            int64_t p[N_AX] = {b, h, kv, s, d, causal->values[i], pass->values[k]};
            st = tb_points_add(out, p, N_AX, err);
        }
    return st;
}

static const tb_axis at_axes[] = {
    {"batch", TB_AXIS_INT, "1", "1", "1", "1", NULL, "batch size (sweep)"},
    {"heads", TB_AXIS_INT, "16", "16", "4", "4", NULL, "query heads (sweep)"},
    {"kv-heads", TB_AXIS_INT, "(--heads)", "(--heads)", "2", "2", NULL,
     "KV heads, dividing --heads; fewer than --heads is grouped-query attention (sweep)"},
    {"seq", TB_AXIS_SIZE, "4096", "4096", "64,100,256", "100", NULL,
     "sequence length (sweep; K suffix accepted)"},
    {"head-dim", TB_AXIS_INT, "128", "128", "64", "64", NULL,
     "head dim (sweep; flash: 64 and 128)"},
    {"causal", TB_AXIS_ENUM, "no,yes", "no,yes", NULL, NULL, causal_names,
     "causal mask (list; llama sets: yes)"},
    {"pass", TB_AXIS_ENUM, "fwd,bwd", "fwd,bwd", NULL, NULL, pass_names,
     "fwd, bwd (from the implementation's own forward) or fwdbwd (list)"},
};

static tb_status at_points(const tb_bench *bn, const char *const *axis_values,
                           const char *const *option_values, int quick, int host, tb_points *out,
                           tb_err *err)
{
    (void)bn;
    const char *shapes = option_values[OPT_SHAPES];
    const int explicit_shape = axis_values[AX_BATCH] || axis_values[AX_HEADS] ||
                               axis_values[AX_KV] || axis_values[AX_HD];
    if (shapes && (explicit_shape || (axis_values[AX_SEQ] && !strncmp(shapes, "fa2", 3))))
        return tb_err_set(err, TB_USAGE, "--shapes: cannot be combined with --batch, --heads, "
                                         "--kv-heads or --head-dim (nor --seq with fa2)");
    int llama = 0;
    const model_attn *model = NULL;
    if (shapes && strcmp(shapes, "fa2") != 0) {
        for (int i = 0; i < N_MODELS; i++)
            if (!strcmp(models[i].name, shapes))
                model = &models[i];
        if (!model)
            return tb_err_set(err, TB_USAGE,
                              "--shapes: '%s' is not a shape set (accepted: fa2, llama3-8b, "
                              "llama3-70b, llama3-405b; one at a time)",
                              shapes);
        llama = 1;
    }
    tb_sweep causal = {NULL, 0}, pass = {NULL, 0}, sw[5];
    memset(sw, 0, sizeof sw);
    const char *causal_spec = axis_values[AX_CAUSAL] ? axis_values[AX_CAUSAL]
                                                     : (llama ? "yes" : "no,yes");
    tb_status st = tb_axis_parse(&at_axes[AX_CAUSAL], causal_spec, &causal, err);
    if (!st)
        st = tb_axis_parse(&at_axes[AX_PASS], axis_values[AX_PASS] ? axis_values[AX_PASS]
                                                                   : "fwd,bwd",
                           &pass, err);
    if (!st && llama) {
        const char *seq = axis_values[AX_SEQ] ? axis_values[AX_SEQ] : "4096,8192";
        if (!(st = tb_axis_parse(&at_axes[AX_SEQ], seq, &sw[AX_SEQ], err)))
            for (size_t i = 0; i < sw[AX_SEQ].count && !st; i++)
                st = add_point(out, 1, model->heads, model->kv_heads, sw[AX_SEQ].values[i],
                               model->head_dim, &causal, &pass, err);
    } else if (!st && !explicit_shape && !axis_values[AX_SEQ] && !host) {
        /* the FlashAttention sweep (--quick: two lengths at head dim 128) */
        for (int d = 64; d <= 128 && !st; d *= 2)
            for (int64_t s = 512; s <= 16384 && !st; s *= 2) {
                if (quick && (d != 128 || (s != 1024 && s != 4096)))
                    continue;
                st = add_point(out, FA2_TOKENS / s, FA2_WIDTH / d, FA2_WIDTH / d, s, d, &causal,
                               &pass, err);
            }
    } else if (!st) {
        /* the product of the axes' sweeps (their defaults where not given) */
        for (int a = 0; a < 5 && !st; a++) {
            const tb_axis *ax = &at_axes[a];
            const char *spec = axis_values[a];
            if (!spec && a == AX_KV && !(host && !axis_values[AX_HEADS]))
                continue; /* default: as many as --heads (the host's default: 4 and 2) */
            if (!spec)
                spec = host ? (quick ? ax->host_quick : ax->host_defaults)
                            : (quick ? ax->quick : ax->defaults);
            st = tb_axis_parse(ax, spec, &sw[a], err);
        }
        for (size_t ib = 0; ib < sw[AX_BATCH].count && !st; ib++)
            for (size_t ih = 0; ih < sw[AX_HEADS].count && !st; ih++) {
                const int64_t h = sw[AX_HEADS].values[ih];
                const size_t nkv = sw[AX_KV].count ? sw[AX_KV].count : 1;
                for (size_t ik = 0; ik < nkv && !st; ik++) {
                    const int64_t kv = sw[AX_KV].count ? sw[AX_KV].values[ik] : h;
                    for (size_t is = 0; is < sw[AX_SEQ].count && !st; is++)
                        for (size_t id = 0; id < sw[AX_HD].count && !st; id++)
                            st = add_point(out, sw[AX_BATCH].values[ib], h, kv,
                                           sw[AX_SEQ].values[is], sw[AX_HD].values[id], &causal,
                                           &pass, err);
                }
            }
    }
    for (int a = 0; a < 5; a++)
        tb_sweep_free(&sw[a]);
    tb_sweep_free(&causal);
    tb_sweep_free(&pass);
    return st;
}

static void at_details(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
#define PUT(...) tb_appendf(buf, len, &used, __VA_ARGS__)
    PUT("  shape sets (--shapes); without --shapes or shape axes the GPU default is fa2:\n");
    PUT("    fa2: %d tokens per batch, heads x head dim = %d: seq 512 .. 16384 with batch 32 .. "
        "1, head dim 64 (32 heads) and 128 (16 heads), causal no and yes (--quick: seq 1024, "
        "4096 at head dim 128)\n",
        FA2_TOKENS, FA2_WIDTH);
    for (int i = 0; i < N_MODELS; i++)
        PUT("    %s: batch 1, %d heads, %d KV heads, head dim %d, seq 4096 and 8192 (--seq "
            "overrides), causal\n",
            models[i].name, models[i].heads, models[i].kv_heads, models[i].head_dim);
    PUT("  FLOPs: forward 4 B H S^2 D (softmax not counted), halved when causal; backward 2.5 x "
        "forward; fwdbwd 3.5 x forward\n");
#undef PUT
}

/* ---- the table ---- */

static const tb_option at_options[] = {
    {"shapes", "fa2 (without shape axes, on a GPU)",
     "named sets: fa2 (the FlashAttention sweep), llama3-8b, llama3-70b, llama3-405b"},
};

#define HALF (TB_DT(TB_BF16) | TB_DT(TB_FP16))
static const tb_impl at_impls[] = {
    {"unfused", TB_KIND_VENDOR,
     "cuBLAS strided-batched GEMMs (QK^T, PV and the backward's) around a softmax kernel; S "
     "materialized in bf16/fp16",
     0, 0, HALF, NULL, 0, at_setup, at_run, at_teardown, at_supports},
    {"naive", TB_KIND_HANDWRITTEN,
     "materialized fp32 scores, a block per row, no tensor cores: the anchor", 0, 0, HALF,
     "unfused", 0, at_setup, at_run, at_teardown, at_supports},
    {"flash", TB_KIND_HANDWRITTEN,
     "FlashAttention-2 style: mma.sync + ldmatrix, cp.async K/V ring, online softmax in "
     "registers; backward per K/V tile with atomic dQ",
     80, 0, HALF, "unfused", 0, at_setup, at_run, at_teardown, at_supports},
    {"host", TB_KIND_HOST,
     "the flash tiling and online softmax in C (fp32 arithmetic; bf16/fp16: inputs, P, dS and "
     "outputs rounded where the kernels round), verified against a double reference",
     0, 0, TB_DT(TB_FP32) | HALF, NULL, 0, at_setup, at_run, at_teardown, at_supports},
};

const tb_bench tb_bench_attention = {
    "attention",
    "attention forward and backward: flash (FA2 style) and naive against the unfused cuBLAS "
    "path",
    at_axes,
    N_AX,
    at_impls,
    (int)(sizeof at_impls / sizeof at_impls[0]),
    1,
    at_flops,
    NULL,
    at_peak_kind,
    at_verify,
    at_options,
    (int)(sizeof at_options / sizeof at_options[0]),
    at_points,
    at_details,
    "forward 4 B H S^2 D (softmax not counted), halved when causal; backward 2.5 x forward; "
    "fwdbwd 3.5 x forward",
    at_alloc_bytes,
    NULL,
    at_reinit,
    NULL,
    NULL,
};
