/* matmul - the GEMM ladder: hand-written kernels from the simplest correct one to tensor
 * cores, timed in the same run as cuBLAS on the same data and layouts.
 *
 * C (M x N, row-major) = op(A) op(B) in the three layouts of a linear layer's training step
 * (kernels/matmul/mm_common.h): fwd C = A B^T (nn.Linear forward), dgrad C = A B, wgrad
 * C = A^T B. FLOPs counted: 2 M N K. Named shape sets give the fwd, dgrad and wgrad GEMMs of
 * every linear layer of real models (REFERENCE.md) at a token count and tensor-parallel degree.
 *
 * Verification: every case against an fp32 cuBLASLt GEMM (CUBLAS_COMPUTE_32F_PEDANTIC) of the
 * same rounded inputs, on the device; small cases also against the host reference. Element i
 * passes when |C_i - ref_i| <= c(dtype) sqrt(K) + 2 u(out) |ref_i|: the second term is the
 * rounding of the output (u its unit roundoff), the first the accumulation: ref entries are
 * ~N(0, K), so differences in summation order grow like sqrt(K) (c: fp32, bf16, fp16 2^-10,
 * by estimate ~20 sigma of the tensor cores' truncating accumulation at K = 53248; tf32 and fp8 2^-6, for
 * their reduced-precision products and accumulation). A wrong fragment or a lost k slice moves
 * elements by O(1) to O(sqrt(K)): far outside either.
 *
 * Beside it, norm-wise per output matrix: ||C - ref||_F / ||ref||_F <= u(out) + c(dtype). Output
 * rounding (to nearest) moves every element by at most u(out) |ref_i|, so the whole matrix by
 * at most u(out) ||ref||_F; the accumulation allowance c sqrt(K) per element is c times the rms
 * of ref (entries ~N(0, K) for the unit-normal inputs), so at most c ||ref||_F in all. A correct
 * kernel's output rounding alone gives about u(out) / 2.5 (uniform errors), while one k-slice of
 * 16 lost from a whole matrix moves it by sqrt(16 / K) (1/16 at K = 4096).
 *
 * The host implementation takes the GPU dtypes (bf16, fp16; fp8 e4m3 in the fwd layout, as
 * cuBLASLt): inputs rounded to the dtype, fp32 accumulation, the output rounded to the type the
 * kernels write (fp8: bf16), so the tolerances above run end to end on the CPU. Under
 * TRAINBENCH_TEST_FAULT it commits mm-drop-kslice (the first output tile of 128 x 128, one
 * CTA's, skips the k-slice of 16 in the middle of K) or late-corruption (after the Nth
 * execution the last row of C is never written). */
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/bench.h"
#include "../harness/cudacheck.h"
#include "../harness/sweep.h"
#include "../kernels/matmul.h"
#include "../kernels/matmul/mm_common.h"
#include "../kernels/tb_dtype.h"
#include "benches.h"

enum {
    IMPL_CUBLAS,
    IMPL_NAIVE,
    IMPL_SMEM,
    IMPL_SIMT,
    IMPL_MMA,
    IMPL_HOST,
    IMPL_WGMMA, /* the Hopper rungs, in the order of TB_MM_WG_PLAIN .. TB_MM_WG_CLUSTER */
    IMPL_WGMMA_WS,
    IMPL_WGMMA_PERSISTENT,
    IMPL_WGMMA_CLUSTER,
    IMPL_COUNT
};

/* The wgmma variant of an implementation, or -1. */
static int wg_variant(int impl)
{
    return impl >= IMPL_WGMMA && impl <= IMPL_WGMMA_CLUSTER ? impl - IMPL_WGMMA : -1;
}

/* cases up to this many multiply-adds are also checked against the host reference */
#define HOST_CHECK_MAX_MACS (1LL << 27)
/* the host implementation refuses cases beyond this many multiply-adds (minutes each) */
#define HOST_IMPL_MAX_MACS (1LL << 33)
/* naive and smem are the anchors of the ladder, not contenders: skipped beyond 2^40 FLOP */
#define SLOW_IMPL_MAX_FLOP 1.1e12
#define LT_WORKSPACE (32u << 20)

#define TB_CUBLAS_TRY(call, err)                                                                \
    do {                                                                                        \
        cublasStatus_t tb_s_ = (call);                                                          \
        if (tb_s_ != CUBLAS_STATUS_SUCCESS)                                                     \
            return tb_err_set((err), TB_DEVFAIL, "%s failed: %s (%s) at %s:%d", #call,          \
                              cublasLtGetStatusName(tb_s_), cublasLtGetStatusString(tb_s_),     \
                              __FILE__, __LINE__);                                              \
    } while (0)

static const char *const layout_names[] = {"fwd", "dgrad", "wgrad", NULL};

/* axes: m, n, k, layout */
#define AX_M 0
#define AX_N 1
#define AX_K 2
#define AX_LAYOUT 3

/* ---- dtypes ---- */

static int storage_in(tb_dtype d)
{
    switch (d) {
    case TB_BF16: return TB_MM_BF16;
    case TB_FP16: return TB_MM_F16;
    case TB_FP8E4M3: return TB_MM_E4M3;
    default: return TB_MM_F32;
    }
}

/* fp8 writes bf16; the others write their own type */
static int storage_out(tb_dtype d)
{
    switch (d) {
    case TB_BF16:
    case TB_FP8E4M3: return TB_MM_BF16;
    case TB_FP16: return TB_MM_F16;
    default: return TB_MM_F32;
    }
}

static size_t storage_size(int s)
{
    return s == TB_MM_F32 ? 4 : (s == TB_MM_E4M3 ? 1 : 2);
}

/* The tolerance of the header comment: abs_tol = c sqrt(K), rel_tol = 2 u(out). */
static void tolerance(tb_dtype d, int K, float *abs_tol, float *rel_tol)
{
    double c = (d == TB_TF32 || d == TB_FP8E4M3) ? ldexp(1, -6) : ldexp(1, -10);
    double u;
    switch (storage_out(d)) {
    case TB_MM_BF16: u = ldexp(1, -8); break;
    case TB_MM_F16: u = ldexp(1, -11); break;
    default: u = ldexp(1, -24); break;
    }
    *abs_tol = (float)(c * sqrt((double)K));
    *rel_tol = (float)(2 * u);
}

/* The norm-wise bound of the header comment: u(out) + c(dtype). */
static double norm_bound(tb_dtype d)
{
    float abs_tol, rel_tol;
    tolerance(d, 1, &abs_tol, &rel_tol); /* abs_tol at K = 1 is c, rel_tol is 2 u(out) */
    return (double)rel_tol / 2 + (double)abs_tol;
}

/* Sums of one comparison: squared error and squared reference, for the norm-wise measure. */
typedef struct {
    double err2, ref2;
} norm_sums;

/* Adds the norm-wise measure of one output matrix to v. */
static void add_norm(tb_verify *v, tb_dtype d, norm_sums ns)
{
    double rel = ns.ref2 > 0 ? sqrt(ns.err2 / ns.ref2) : (ns.err2 > 0 ? INFINITY : 0.0);
    if (isnan(rel))
        rel = INFINITY;
    double bound = norm_bound(d);
    tb_verify_add_measure(v, "norm", "matrix", rel, bound, 1, rel <= bound ? 0 : 1);
}

/* ---- the host reference ---- */

/* C = op(A) op(B) for fp32 A, B in a layout, fp32 accumulation in k order (so it equals the
 * plain triple loop bit for bit), packed K-contiguous and blocked for the cache, rows of C in
 * parallel (OpenMP). */
void tb_matmul_host_reference(int layout, const float *A, const float *B, float *C, int M, int N,
                              int K)
{
    float *Ap = malloc((size_t)M * K * sizeof *Ap), *Bp = malloc((size_t)N * K * sizeof *Bp);
    if (!Ap || !Bp) {
        free(Ap);
        free(Bp);
        /* out of memory: the triple loop, same result, slower */
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                float acc = 0.0f;
                for (int k = 0; k < K; k++)
                    acc += A[tb_mm_a_index(layout, m, k, M, K)] * B[tb_mm_b_index(layout, k, n, N, K)];
                C[(int64_t)m * N + n] = acc;
            }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++)
            Ap[(int64_t)m * K + k] = A[tb_mm_a_index(layout, m, k, M, K)];
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            Bp[(int64_t)n * K + k] = B[tb_mm_b_index(layout, k, n, N, K)];
    const int MB = 16, NB = 64, KB = 256;
#pragma omp parallel for schedule(dynamic)
    for (int m0 = 0; m0 < M; m0 += MB) {
        int m1 = m0 + MB < M ? m0 + MB : M;
        for (int m = m0; m < m1; m++)
            for (int n = 0; n < N; n++)
                C[(int64_t)m * N + n] = 0.0f;
        for (int k0 = 0; k0 < K; k0 += KB) {
            int k1 = k0 + KB < K ? k0 + KB : K;
            for (int n0 = 0; n0 < N; n0 += NB) {
                int n1 = n0 + NB < N ? n0 + NB : N;
                for (int m = m0; m < m1; m++) {
                    const float *a = Ap + (int64_t)m * K;
                    for (int n = n0; n < n1; n++) {
                        const float *b = Bp + (int64_t)n * K;
                        float acc = C[(int64_t)m * N + n];
                        for (int k = k0; k < k1; k++)
                            acc += a[k] * b[k];
                        C[(int64_t)m * N + n] = acc;
                    }
                }
            }
        }
    }
    free(Ap);
    free(Bp);
}

/* ---- cuBLASLt ---- */

typedef struct {
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    void *ws;
    float *scales; /* device: A and B scale factors (fp8) */
    const void *A_lt, *B_lt;
    void *C;
} lt_plan;

/* Destroys the descriptors of a plan; the handle, workspace and scales stay. */
static void lt_destroy(lt_plan *p)
{
    if (p->la)
        cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb)
        cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc)
        cublasLtMatrixLayoutDestroy(p->lc);
    if (p->desc)
        cublasLtMatmulDescDestroy(p->desc);
    p->la = p->lb = p->lc = NULL;
    p->desc = NULL;
}

/* Plans C = op(A) op(B) (row-major, layout) as the column-major product C^T = op(B)^T op(A)^T
 * that cuBLASLt computes. Returns TB_SKIP when cuBLASLt offers no algorithm. */
static tb_status lt_plan_make(lt_plan *p, int layout, cudaDataType_t ab, cudaDataType_t cd,
                              cublasComputeType_t compute, int M, int N, int K, const void *A,
                              const void *B, void *C, int fp8, tb_err *err)
{
    cublasOperation_t ta, tb;
    uint64_t a_rows, a_cols, a_ld, b_rows, b_cols, b_ld;
    switch (layout) {
    case TB_MM_FWD: /* B [N][K] = col-major K x N, transposed; A [M][K] = col-major K x M */
        ta = CUBLAS_OP_T, a_rows = K, a_cols = N, a_ld = K;
        tb = CUBLAS_OP_N, b_rows = K, b_cols = M, b_ld = K;
        break;
    case TB_MM_DGRAD: /* B [K][N] = col-major N x K; A [M][K] = col-major K x M */
        ta = CUBLAS_OP_N, a_rows = N, a_cols = K, a_ld = N;
        tb = CUBLAS_OP_N, b_rows = K, b_cols = M, b_ld = K;
        break;
    default: /* WGRAD: B [K][N] = col-major N x K; A [K][M] = col-major M x K, transposed */
        ta = CUBLAS_OP_N, a_rows = N, a_cols = K, a_ld = N;
        tb = CUBLAS_OP_T, b_rows = M, b_cols = K, b_ld = M;
        break;
    }
    p->A_lt = B;
    p->B_lt = A;
    p->C = C;
    TB_CUBLAS_TRY(cublasLtMatmulDescCreate(&p->desc, compute, CUDA_R_32F), err);
    TB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta,
                                                 sizeof ta),
                  err);
    TB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb,
                                                 sizeof tb),
                  err);
    if (fp8) {
        const float *sa = p->scales, *sb = p->scales + 1;
        TB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                                                     &sa, sizeof sa),
                      err);
        TB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                                                     &sb, sizeof sb),
                      err);
    }
    TB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->la, ab, a_rows, a_cols, (int64_t)a_ld), err);
    TB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->lb, ab, b_rows, b_cols, (int64_t)b_ld), err);
    TB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->lc, cd, (uint64_t)N, (uint64_t)M, N), err);
    cublasLtMatmulPreference_t pref;
    TB_CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref), err);
    size_t ws = LT_WORKSPACE;
    cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t h;
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(p->lt, p->desc, p->la, p->lb, p->lc, p->lc, pref, 1,
                                           &h, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED || (s == CUBLAS_STATUS_SUCCESS && found == 0))
        return tb_err_set(err, TB_SKIP, "cuBLASLt has no algorithm for this case");
    TB_CUBLAS_TRY(s, err);
    p->algo = h.algo;
    return TB_OK;
}

static tb_status lt_run(lt_plan *p, cudaStream_t stream, tb_err *err)
{
    const float alpha = 1.0f, beta = 0.0f;
    TB_CUBLAS_TRY(cublasLtMatmul(p->lt, p->desc, &alpha, p->A_lt, p->la, p->B_lt, p->lb, &beta,
                                 p->C, p->lc, p->C, p->lc, &p->algo, p->ws, LT_WORKSPACE, stream),
                  err);
    return TB_OK;
}

static cudaDataType_t cuda_type(int storage)
{
    switch (storage) {
    case TB_MM_BF16: return CUDA_R_16BF;
    case TB_MM_F16: return CUDA_R_16F;
    case TB_MM_E4M3: return CUDA_R_8F_E4M3;
    default: return CUDA_R_32F;
    }
}

/* ---- cases ---- */

typedef struct {
    int impl;
    int host;
    tb_dtype dtype;
    int layout, M, N, K;
    int s_in, s_out;
    uint64_t seed_a, seed_b;
    int sm_count;
    cudaStream_t stream;
    void *A, *B, *C;   /* the implementation's operands (host memory for the host impl:
                        * A and B fp32 holding values of the dtype, C in the output type) */
    float *Cacc;       /* host impl: the fp32 accumulators before the output rounding */
    const tb_fault *fault; /* host impl: the bug it commits (fault.h), or NULL */
    long runs;         /* host impl: executions so far (late-corruption counts them) */
    float *Cref;       /* device fp32 reference */
    double *norm;      /* device: the norm-wise sums (squared error, squared reference) */
    tb_mm_check_result *check;
    lt_plan lt;        /* the cublas implementation's plan */
    tb_mm_wg_plan wg;  /* the wgmma implementations' plan */
} mm_state;

static int impl_id(const tb_impl *impl)
{
    static const char *const names[IMPL_COUNT] = {"cublas", "naive",    "smem",
                                                  "simt",   "mma",      "host",
                                                  "wgmma",  "wgmma_ws", "wgmma_persistent",
                                                  "wgmma_cluster"};
    for (int i = 0; i < IMPL_COUNT; i++)
        if (!strcmp(impl->name, names[i]))
            return i;
    return -1;
}

static double mm_flops(const tb_case *c)
{
    return 2.0 * (double)c->axis[AX_M] * (double)c->axis[AX_N] * (double)c->axis[AX_K];
}

static tb_peak_kind mm_peak_kind(const tb_case *c)
{
    return c->dtype == TB_FP32 ? TB_PEAK_SIMT : TB_PEAK_TENSOR;
}

static void mm_teardown(void *p)
{
    mm_state *st = p;
    if (!st)
        return;
    if (st->host) {
        free(st->A);
        free(st->B);
        free(st->C);
        free(st->Cacc);
    } else {
        lt_destroy(&st->lt);
        if (st->lt.lt)
            cublasLtDestroy(st->lt.lt);
        cudaFree(st->lt.ws);
        cudaFree(st->lt.scales);
        cudaFree(st->A);
        cudaFree(st->B);
        cudaFree(st->C);
        cudaFree(st->Cref);
        cudaFree(st->check);
        cudaFree(st->norm);
    }
    free(st);
}

/* The case's inputs, rounded to its dtype, as fp32 in host memory: the same values the
 * device fill writes. */
static void host_inputs(const mm_state *st, float *A, float *B)
{
    int64_t na = (int64_t)st->M * st->K, nb = (int64_t)st->N * st->K;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < na; i++)
        A[i] = tb_mm_round(st->s_in, tb_rand_normal(st->seed_a, (uint64_t)i));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; i++)
        B[i] = tb_mm_round(st->s_in, tb_rand_normal(st->seed_b, (uint64_t)i));
}

static tb_status setup_host(mm_state *st, tb_err *err)
{
    int64_t M = st->M, N = st->N, K = st->K;
    if ((double)M * (double)N * (double)K > (double)HOST_IMPL_MAX_MACS)
        return tb_err_set(err, TB_SKIP, "the host reference takes minutes above 2^33 "
                                        "multiply-adds");
    /* A, B, C and its accumulators, the reference's packed copies of A and B, and verify's
     * inputs and reference */
    tb_status s = tb_device_need_memory(0, 8.0 * (double)(M * K + N * K) + 12.0 * (double)(M * N),
                                        err);
    if (s)
        return s;
    st->A = malloc((size_t)(M * K) * 4);
    st->B = malloc((size_t)(N * K) * 4);
    st->C = malloc((size_t)(M * N) * storage_size(st->s_out));
    st->Cacc = malloc((size_t)(M * N) * 4);
    if (!st->A || !st->B || !st->C || !st->Cacc)
        return tb_err_set(err, TB_SKIP, "cannot allocate host memory");
    return TB_OK;
}

/* Writes the inputs (rounded to the dtype) and poisons (NaN) the output: at setup, and again
 * for the check after the timed loop. */
static tb_status fill_and_poison(mm_state *st, tb_err *err)
{
    int64_t M = st->M, N = st->N, K = st->K;
    size_t out = storage_size(st->s_out);
    if (st->host) {
        host_inputs(st, st->A, st->B);
        memset(st->C, 0xff, (size_t)(M * N) * out);
        return TB_OK;
    }
    TB_CUDA_TRY(tb_mm_fill(st->s_in, st->A, NULL, M * K, st->seed_a, st->sm_count, st->stream),
                err);
    TB_CUDA_TRY(tb_mm_fill(st->s_in, st->B, NULL, N * K, st->seed_b, st->sm_count, st->stream),
                err);
    TB_CUDA_TRY(cudaMemsetAsync(st->C, 0xff, (size_t)(M * N) * out, st->stream), err);
    TB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    return TB_OK;
}

static tb_status mm_reinit(const tb_case *c, void *p, tb_err *err)
{
    (void)c;
    return fill_and_poison(p, err);
}

/* mm-drop-kslice: the output tile one CTA owns (the first, 128 x 128) and the k-slice of 16 it
 * skips (the one in the middle of K). */
#define DROP_TILE 128
#define DROP_SLICE 16

static int drop_slice_k0(int K)
{
    return (K / DROP_SLICE / 2) * DROP_SLICE;
}

/* The host implementation: the reference's fp32 GEMM of the rounded inputs, then the output
 * rounded to the type the kernels write; and the fault it is asked to commit. */
static void host_matmul(mm_state *st)
{
    const int M = st->M, N = st->N, K = st->K, layout = st->layout;
    const float *A = st->A, *B = st->B;
    tb_matmul_host_reference(layout, A, B, st->Cacc, M, N, K);
    if (tb_fault_is(st->fault, TB_FAULT_MM_DROP_KSLICE)) {
        /* the tile's elements again, in the same k order, without the slice */
        int k0 = drop_slice_k0(K), k1 = k0 + DROP_SLICE < K ? k0 + DROP_SLICE : K;
        int tm = M < DROP_TILE ? M : DROP_TILE, tn = N < DROP_TILE ? N : DROP_TILE;
#pragma omp parallel for schedule(static)
        for (int m = 0; m < tm; m++)
            for (int n = 0; n < tn; n++) {
                float acc = 0.0f;
                for (int k = 0; k < K; k++)
                    if (k < k0 || k >= k1)
                        acc += A[tb_mm_a_index(layout, m, k, M, K)] *
                               B[tb_mm_b_index(layout, k, n, N, K)];
                st->Cacc[(int64_t)m * N + n] = acc;
            }
    }
    int64_t rows = M;
    if (tb_fault_is(st->fault, TB_FAULT_LATE_CORRUPTION) && ++st->runs > st->fault->late_after)
        rows = M - 1; /* the last row's tile exits early: that row keeps what was there */
    int64_t n_out = rows * N;
    if (st->s_out == TB_MM_F32) {
        memcpy(st->C, st->Cacc, (size_t)n_out * 4);
        return;
    }
    uint16_t *C16 = st->C;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_out; i++)
        C16[i] = st->s_out == TB_MM_BF16 ? tb_f32_to_bf16(st->Cacc[i]) : tb_f32_to_f16(st->Cacc[i]);
}

/* Device operands, inputs, poisoned output, the fp32 reference, and cublas's plan. */
static tb_status setup_gpu(mm_state *st, tb_err *err)
{
    int64_t M = st->M, N = st->N, K = st->K;
    size_t in = storage_size(st->s_in), out = storage_size(st->s_out);
    int f32_in = st->s_in == TB_MM_F32;
    double need = (double)(M * K + N * K) * (double)in + (double)(M * N) * (double)out +
                  4.0 * (double)(M * N) + (f32_in ? 0 : 4.0 * (double)(M * K + N * K)) +
                  LT_WORKSPACE;
    tb_status s = tb_device_need_memory(need, 0, err);
    if (s)
        return s;
    float *A32 = NULL, *B32 = NULL;
    cudaError_t e = cudaMalloc(&st->A, (size_t)(M * K) * in);
    if (!e)
        e = cudaMalloc(&st->B, (size_t)(N * K) * in);
    if (!e)
        e = cudaMalloc(&st->C, (size_t)(M * N) * out);
    if (!e)
        e = cudaMalloc((void **)&st->Cref, (size_t)(M * N) * 4);
    if (!e)
        e = cudaMalloc((void **)&st->check, sizeof *st->check);
    if (!e)
        e = cudaMalloc((void **)&st->norm, 2 * sizeof *st->norm);
    if (!e)
        e = cudaMalloc(&st->lt.ws, LT_WORKSPACE);
    if (!e)
        e = cudaMalloc((void **)&st->lt.scales, 2 * sizeof(float));
    if (!e && !f32_in)
        e = cudaMalloc((void **)&A32, (size_t)(M * K) * 4);
    if (!e && !f32_in)
        e = cudaMalloc((void **)&B32, (size_t)(N * K) * 4);
    if (e) {
        cudaGetLastError();
        cudaFree(A32);
        cudaFree(B32);
        return tb_err_set(err, TB_SKIP, "cannot allocate %.2f GiB: %s", need / (1 << 30),
                          cudaGetErrorString(e));
    }
    tb_status r = TB_OK;
    const float ones[2] = {1.0f, 1.0f};
    e = cudaMemcpyAsync(st->lt.scales, ones, sizeof ones, cudaMemcpyHostToDevice, st->stream);
    if (!e)
        e = tb_mm_fill(st->s_in, st->A, f32_in ? NULL : A32, M * K, st->seed_a, st->sm_count,
                       st->stream);
    if (!e)
        e = tb_mm_fill(st->s_in, st->B, f32_in ? NULL : B32, N * K, st->seed_b, st->sm_count,
                       st->stream);
    if (!e)
        e = cudaMemsetAsync(st->C, 0xff, (size_t)(M * N) * out, st->stream); /* NaN */
    if (e)
        r = tb_err_set(err, TB_DEVFAIL, "matmul setup failed: %s", cudaGetErrorString(e));
    if (!r) {
        cublasStatus_t cs = cublasLtCreate(&st->lt.lt);
        if (cs != CUBLAS_STATUS_SUCCESS)
            r = tb_err_set(err, TB_DEVFAIL, "cublasLtCreate failed: %s",
                           cublasLtGetStatusName(cs));
    }
    /* the reference: fp32 GEMM of the same rounded values, no reduced precision */
    if (!r) {
        const void *Ar = f32_in ? st->A : A32, *Br = f32_in ? st->B : B32;
        r = lt_plan_make(&st->lt, st->layout, CUDA_R_32F, CUDA_R_32F,
                         CUBLAS_COMPUTE_32F_PEDANTIC, st->M, st->N, st->K, Ar, Br, st->Cref, 0,
                         err);
        if (r) {
            /* no pedantic algorithm: plain fp32, unless the environment turns it into TF32 */
            lt_destroy(&st->lt);
            const char *tf32 = getenv("NVIDIA_TF32_OVERRIDE");
            if (tf32 && strcmp(tf32, "0") != 0)
                r = tb_err_set(err, TB_SKIP,
                               "NVIDIA_TF32_OVERRIDE=%s would make the fp32 reference TF32; "
                               "unset it",
                               tf32);
            else
                r = lt_plan_make(&st->lt, st->layout, CUDA_R_32F, CUDA_R_32F,
                                 CUBLAS_COMPUTE_32F, st->M, st->N, st->K, Ar, Br, st->Cref, 0,
                                 err);
        }
        if (!r)
            r = lt_run(&st->lt, st->stream, err);
        lt_destroy(&st->lt);
    }
    if (!r) {
        e = cudaStreamSynchronize(st->stream);
        if (e)
            r = tb_err_set(err, TB_DEVFAIL, "matmul reference failed: %s", cudaGetErrorString(e));
    }
    cudaFree(A32);
    cudaFree(B32);
    if (!r && st->impl == IMPL_MMA) {
        e = tb_mm_mma_prepare();
        if (e)
            r = tb_err_set(err, TB_DEVFAIL, "tb_mm_mma_prepare failed: %s",
                           cudaGetErrorString(e));
    }
    if (!r && wg_variant(st->impl) >= 0) {
        char why[256];
        int w = tb_mm_wg_plan_make(wg_variant(st->impl), st->layout, st->A, st->B, st->C, st->M,
                                   st->N, st->K, st->sm_count, &st->wg, why, sizeof why);
        if (w)
            r = tb_err_set(err, w == 1 ? TB_SKIP : TB_DEVFAIL, "%s", why);
    }
    if (!r && st->impl == IMPL_CUBLAS) {
        cublasComputeType_t ct =
            st->dtype == TB_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        r = lt_plan_make(&st->lt, st->layout, cuda_type(st->s_in), cuda_type(st->s_out), ct,
                         st->M, st->N, st->K, st->A, st->B, st->C, st->dtype == TB_FP8E4M3, err);
    }
    return r;
}

static tb_status mm_setup(const tb_case *c, const tb_env *env, void **state, tb_err *err)
{
    *state = NULL;
    mm_state *st = calloc(1, sizeof *st);
    if (!st)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    st->impl = impl_id(c->impl);
    st->host = env->device->is_host;
    st->dtype = c->dtype;
    st->layout = (int)c->axis[AX_LAYOUT];
    st->M = (int)c->axis[AX_M];
    st->N = (int)c->axis[AX_N];
    st->K = (int)c->axis[AX_K];
    st->s_in = storage_in(c->dtype);
    st->s_out = storage_out(c->dtype);
    st->seed_a = tb_rand_stream(env->seed, 0);
    st->seed_b = tb_rand_stream(env->seed, 1);
    st->sm_count = env->device->sm_count;
    st->stream = (cudaStream_t)env->stream;
    st->fault = st->host ? env->fault : NULL;
    tb_status s = st->host ? setup_host(st, err) : setup_gpu(st, err);
    if (!s && st->host)
        s = fill_and_poison(st, err);
    if (s) {
        mm_teardown(st);
        return s;
    }
    *state = st;
    return TB_OK;
}

static tb_status mm_run(void *p, tb_err *err)
{
    mm_state *st = p;
    switch (st->impl) {
    case IMPL_CUBLAS: return lt_run(&st->lt, st->stream, err);
    case IMPL_NAIVE:
        TB_CUDA_TRY(tb_mm_naive(st->layout, st->A, st->B, st->C, st->M, st->N, st->K, st->stream),
                    err);
        return TB_OK;
    case IMPL_SMEM:
        TB_CUDA_TRY(tb_mm_smem(st->layout, st->A, st->B, st->C, st->M, st->N, st->K, st->stream),
                    err);
        return TB_OK;
    case IMPL_SIMT:
        TB_CUDA_TRY(tb_mm_simt(st->A, st->B, st->C, st->M, st->N, st->K, st->stream), err);
        return TB_OK;
    case IMPL_MMA:
        TB_CUDA_TRY(tb_mm_mma(st->layout, st->dtype == TB_BF16, st->A, st->B, st->C, st->M,
                              st->N, st->K, st->stream),
                    err);
        return TB_OK;
    case IMPL_HOST: host_matmul(st); return TB_OK;
    case IMPL_WGMMA:
    case IMPL_WGMMA_WS:
    case IMPL_WGMMA_PERSISTENT:
    case IMPL_WGMMA_CLUSTER: TB_CUDA_TRY(tb_mm_wg_run(&st->wg, st->stream), err); return TB_OK;
    }
    return tb_err_set(err, TB_DEVFAIL, "unknown matmul implementation");
}

/* Compares host copies: out (storage) against ref (fp32); returns the norm-wise sums. */
static norm_sums host_compare(int storage, const void *out, const float *ref, int64_t n,
                              float abs_tol, float rel_tol, tb_verify *v)
{
    int64_t wrong = 0;
    double max_abs = 0, max_rel = 0, err2 = 0, ref2 = 0;
#pragma omp parallel for schedule(static) reduction(+ : wrong, err2, ref2) \
    reduction(max : max_abs, max_rel)
    for (int64_t i = 0; i < n; i++) {
        double want = ref[i], got = tb_mm_load(storage, out, i);
        double e = fabs(got - want);
        if (isnan(e))
            e = INFINITY;
        if (e > abs_tol + rel_tol * fabs(want))
            wrong++;
        max_abs = e > max_abs ? e : max_abs;
        if (fabs(want) >= abs_tol && e / fabs(want) > max_rel)
            max_rel = e / fabs(want);
        err2 += e * e;
        ref2 += want * want;
    }
    v->n_wrong += wrong;
    v->n_checked = n;
    v->max_abs_err = max_abs > v->max_abs_err ? max_abs : v->max_abs_err;
    v->max_rel_err = max_rel > v->max_rel_err ? max_rel : v->max_rel_err;
    return (norm_sums){err2, ref2};
}

/* The host reference of a case, from regenerated inputs; caller frees. NULL if out of memory. */
static float *host_expected(const mm_state *st)
{
    int64_t M = st->M, N = st->N, K = st->K;
    float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(N * K) * 4);
    float *C = malloc((size_t)(M * N) * 4);
    if (A && B && C) {
        host_inputs(st, A, B);
        tb_matmul_host_reference(st->layout, A, B, C, st->M, st->N, st->K);
    } else {
        free(C);
        C = NULL;
    }
    free(A);
    free(B);
    return C;
}

static tb_status mm_verify(const tb_case *c, void *p, tb_verify *v, tb_err *err)
{
    (void)c;
    mm_state *st = p;
    memset(v, 0, sizeof *v);
    float abs_tol, rel_tol;
    tolerance(st->dtype, st->K, &abs_tol, &rel_tol);
    v->tolerance = abs_tol + rel_tol * sqrt((double)st->K);
    int64_t n = (int64_t)st->M * st->N;
    double macs = (double)n * (double)st->K;
    if (st->host) {
        /* the reference of regenerated inputs, not the implementation's own copies */
        float *ref = host_expected(st);
        if (!ref)
            return tb_err_set(err, TB_DEVFAIL, "out of host memory");
        norm_sums ns = host_compare(st->s_out, st->C, ref, n, abs_tol, rel_tol, v);
        free(ref);
        v->ok = v->n_wrong == 0;
        add_norm(v, st->dtype, ns);
        return TB_OK;
    }
    tb_mm_check_result h;
    TB_CUDA_TRY(cudaMemsetAsync(st->check, 0, sizeof *st->check, st->stream), err);
    TB_CUDA_TRY(tb_mm_check(st->s_out, st->C, st->Cref, NULL, 0.0f, n, abs_tol, rel_tol, st->check,
                            st->sm_count, st->stream),
                err);
    TB_CUDA_TRY(cudaMemcpyAsync(&h, st->check, sizeof h, cudaMemcpyDeviceToHost, st->stream), err);
    double dnorm[2];
    TB_CUDA_TRY(cudaMemsetAsync(st->norm, 0, sizeof dnorm, st->stream), err);
    TB_CUDA_TRY(tb_mm_norm(st->s_out, st->C, st->Cref, n, st->norm, st->sm_count, st->stream),
                err);
    TB_CUDA_TRY(cudaMemcpyAsync(dnorm, st->norm, sizeof dnorm, cudaMemcpyDeviceToHost, st->stream),
                err);
    TB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    norm_sums ns = {dnorm[0], dnorm[1]};
    float fa, fr;
    memcpy(&fa, &h.max_abs_err_bits, sizeof fa);
    memcpy(&fr, &h.max_rel_err_bits, sizeof fr);
    v->n_checked = n;
    v->n_wrong = (int64_t)h.n_wrong;
    v->max_abs_err = fa;
    v->max_rel_err = fr;
    if (macs <= (double)HOST_CHECK_MAX_MACS) {
        /* small: also against the host reference, independent of cuBLAS */
        void *out = malloc((size_t)n * storage_size(st->s_out));
        float *ref = out ? host_expected(st) : NULL;
        if (!out || !ref) {
            free(out);
            free(ref);
            return tb_err_set(err, TB_DEVFAIL, "out of host memory");
        }
        cudaError_t e = cudaMemcpy(out, st->C, (size_t)n * storage_size(st->s_out),
                                   cudaMemcpyDeviceToHost);
        if (e == cudaSuccess) {
            /* the worse of the two references' norm-wise errors */
            norm_sums hs = host_compare(st->s_out, out, ref, n, abs_tol, rel_tol, v);
            if (!(hs.err2 * ns.ref2 <= ns.err2 * hs.ref2))
                ns = hs;
        }
        free(out);
        free(ref);
        TB_CUDA_TRY(e, err);
    }
    v->ok = v->n_wrong == 0;
    add_norm(v, st->dtype, ns);
    return TB_OK;
}

/* ---- what each implementation can run ---- */

static tb_status mm_supports(const tb_case *c, const tb_device *dev, tb_err *err)
{
    int layout = (int)c->axis[AX_LAYOUT];
    int64_t M = c->axis[AX_M], N = c->axis[AX_N], K = c->axis[AX_K];
    if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff)
        return tb_err_set(err, TB_SKIP, "dimensions above 2^31 - 1 are not supported");
    switch (impl_id(c->impl)) {
    case IMPL_NAIVE:
    case IMPL_SMEM:
        if (mm_flops(c) > SLOW_IMPL_MAX_FLOP)
            return tb_err_set(err, TB_SKIP,
                              "above 1.1e12 FLOP the %s anchor takes too long to time; its "
                              "smaller sizes anchor the ladder",
                              c->impl->name);
        break;
    case IMPL_SIMT:
        if (layout != TB_MM_FWD)
            return tb_err_set(err, TB_SKIP, "simt runs the fwd layout only");
        if (K % 4)
            return tb_err_set(err, TB_SKIP, "simt needs K a multiple of 4 (float4 loads)");
        break;
    case IMPL_MMA: {
        const char *why = tb_mm_mma_unsupported(layout, (int)M, (int)N, (int)K);
        if (why)
            return tb_err_set(err, TB_SKIP, "mma %s", why);
        break;
    }
    case IMPL_WGMMA:
    case IMPL_WGMMA_WS:
    case IMPL_WGMMA_PERSISTENT:
    case IMPL_WGMMA_CLUSTER: {
        const char *why = tb_mm_wg_unsupported(wg_variant(impl_id(c->impl)), layout, (int)M,
                                               (int)N, (int)K);
        if (why)
            return tb_err_set(err, TB_SKIP, "%s %s", c->impl->name, why);
        break;
    }
    case IMPL_HOST:
        if (c->dtype == TB_FP8E4M3 && layout != TB_MM_FWD)
            return tb_err_set(err, TB_SKIP,
                              "host fp8 takes the fwd layout only, as the GPU path (cuBLASLt)");
        break;
    case IMPL_CUBLAS:
        if (c->dtype == TB_FP8E4M3) {
            if (dev->is_host || tb_device_cc(dev) < 89)
                return tb_err_set(err, TB_SKIP, "fp8 needs compute capability 8.9 or newer");
            if (layout != TB_MM_FWD)
                return tb_err_set(err, TB_SKIP, "cuBLASLt fp8 takes the fwd (TN) layout only");
            if (M % 16 || N % 16 || K % 16)
                return tb_err_set(err, TB_SKIP, "cuBLASLt fp8 needs M, N, K multiples of 16");
        }
        break;
    default: break;
    }
    return TB_OK;
}

/* ---- shapes ---- */

typedef struct {
    const char *name;
    int hidden, ffn, heads, kv_heads, head_dim, swiglu;
} model_spec;

/* REFERENCE.md, "Real model shapes" */
static const model_spec models[] = {
    {"llama3-8b", 4096, 14336, 32, 8, 128, 1},
    {"llama3-70b", 8192, 28672, 64, 8, 128, 1},
    {"llama3-405b", 16384, 53248, 128, 8, 128, 1},
    {"gpt3-175b", 12288, 49152, 96, 96, 128, 0},
};
#define N_MODELS ((int)(sizeof models / sizeof models[0]))

typedef struct {
    const char *name;
    int64_t in, out;
    int column_parallel; /* tensor parallelism splits out (column) or in (row) */
} linear_spec;

/* The linear layers of one transformer block of a model. */
static int model_linears(const model_spec *m, linear_spec out[4])
{
    int64_t q = (int64_t)m->heads * m->head_dim;
    int64_t qkv = (int64_t)(m->heads + 2 * m->kv_heads) * m->head_dim;
    out[0] = (linear_spec){"qkv", m->hidden, qkv, 1};
    out[1] = (linear_spec){"proj", q, m->hidden, 0};
    out[2] = (linear_spec){m->swiglu ? "gate_up" : "up", m->hidden,
                           (int64_t)m->ffn * (m->swiglu ? 2 : 1), 1};
    out[3] = (linear_spec){"down", m->ffn, m->hidden, 0};
    return 4;
}

/* The (M, N, K, layout) of one linear layer's three GEMMs at T tokens, tensor-parallel tp. */
void tb_matmul_linear_gemms(int64_t in, int64_t out, int column_parallel, int64_t tokens,
                            int64_t tp, int64_t gemms[3][4])
{
    if (column_parallel)
        out /= tp;
    else
        in /= tp;
    int64_t fwd[4] = {tokens, out, in, TB_MM_FWD};
    int64_t dgrad[4] = {tokens, in, out, TB_MM_DGRAD};
    int64_t wgrad[4] = {out, in, tokens, TB_MM_WGRAD};
    memcpy(gemms[0], fwd, sizeof fwd);
    memcpy(gemms[1], dgrad, sizeof dgrad);
    memcpy(gemms[2], wgrad, sizeof wgrad);
}

static const model_spec *find_model(const char *name, size_t len)
{
    for (int i = 0; i < N_MODELS; i++)
        if (strlen(models[i].name) == len && !strncmp(models[i].name, name, len))
            return &models[i];
    return NULL;
}

static tb_status parse_layouts(const char *spec, int want[3], tb_err *err)
{
    want[0] = want[1] = want[2] = 0;
    if (!spec) {
        want[TB_MM_FWD] = 1;
        return TB_OK;
    }
    for (const char *p = spec;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        int k = 0;
        while (layout_names[k] && !(strlen(layout_names[k]) == len && !strncmp(layout_names[k], p, len)))
            k++;
        if (!layout_names[k])
            return tb_err_set(err, TB_USAGE, "--layout: '%.*s' is not one of fwd, dgrad, wgrad",
                              (int)len, p);
        want[k] = 1;
        if (!c)
            break;
        p = c + 1;
    }
    return TB_OK;
}

enum { OPT_SIZE, OPT_SHAPES, OPT_TOKENS, OPT_TP };

static tb_status mm_points(const tb_bench *b, const char *const *axis_values,
                           const char *const *option_values, int quick, int host, tb_points *out,
                           tb_err *err)
{
    (void)b;
    int layouts[3];
    tb_status st = parse_layouts(axis_values[AX_LAYOUT], layouts, err);
    if (st)
        return st;
    const char *shapes = option_values[OPT_SHAPES];
    if (!shapes && (option_values[OPT_TP] || option_values[OPT_TOKENS]))
        return tb_err_set(err, TB_USAGE, "--%s: applies to --shapes only (give --shapes too)",
                          option_values[OPT_TP] ? "tp" : "tokens");
    if (shapes) {
        if (axis_values[AX_M] || axis_values[AX_N] || axis_values[AX_K] || option_values[OPT_SIZE])
            return tb_err_set(err, TB_USAGE,
                              "--shapes: cannot be combined with --m, --n, --k or --size");
        if (!axis_values[AX_LAYOUT])
            layouts[0] = layouts[1] = layouts[2] = 1;
        tb_sweep tokens, tp;
        if ((st = tb_sweep_parse(option_values[OPT_TOKENS] ? option_values[OPT_TOKENS] : "8192",
                                 "--tokens", 1, &tokens, err)))
            return st;
        if ((st = tb_sweep_parse(option_values[OPT_TP] ? option_values[OPT_TP] : "1", "--tp", 0,
                                 &tp, err))) {
            tb_sweep_free(&tokens);
            return st;
        }
        for (const char *p = shapes; !st;) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            const model_spec *m = find_model(p, len);
            if (!m) {
                st = tb_err_set(err, TB_USAGE,
                                "--shapes: '%.*s' is not a shape set (accepted: llama3-8b, "
                                "llama3-70b, llama3-405b, gpt3-175b)",
                                (int)len, p);
                break;
            }
            for (size_t t = 0; t < tp.count && !st; t++) {
                int64_t d = tp.values[t];
                if (m->heads % d || m->kv_heads % d || m->ffn % d)
                    st = tb_err_set(err, TB_USAGE,
                                    "--tp: %lld does not divide %s's %d heads, %d KV heads and "
                                    "FFN of %d",
                                    (long long)d, m->name, m->heads, m->kv_heads, m->ffn);
                linear_spec lin[4];
                int nl = model_linears(m, lin);
                for (size_t tk = 0; tk < tokens.count && !st; tk++)
                    for (int l = 0; l < nl && !st; l++) {
                        int64_t g[3][4];
                        tb_matmul_linear_gemms(lin[l].in, lin[l].out, lin[l].column_parallel,
                                               tokens.values[tk], d, g);
                        for (int k = 0; k < 3 && !st; k++)
                            if (layouts[g[k][3]])
                                st = tb_points_add(out, g[k], 4, err);
                    }
            }
            if (!c)
                break;
            p = c + 1;
        }
        tb_sweep_free(&tokens);
        tb_sweep_free(&tp);
        return st;
    }
    const char *size = option_values[OPT_SIZE];
    if (!size)
        size = host ? (quick ? "64,128" : "64:512:x2") : (quick ? "256,1024,4096" : "256:16384:x2");
    tb_sweep sw[3], sizes;
    memset(sw, 0, sizeof sw);
    if ((st = tb_sweep_parse(size, "--size", 0, &sizes, err)))
        return st;
    int square = !axis_values[AX_M] && !axis_values[AX_N] && !axis_values[AX_K];
    static const char *const what[3] = {"--m", "--n", "--k"};
    for (int i = 0; i < 3 && !st; i++)
        if (axis_values[i])
            st = tb_sweep_parse(axis_values[i], what[i], 0, &sw[i], err);
    for (int l = 0; l < 3 && !st; l++) {
        if (!layouts[l])
            continue;
        if (square) {
            for (size_t i = 0; i < sizes.count && !st; i++) {
                int64_t p[4] = {sizes.values[i], sizes.values[i], sizes.values[i], l};
                st = tb_points_add(out, p, 4, err);
            }
            continue;
        }
        const tb_sweep *ms = axis_values[0] ? &sw[0] : &sizes;
        const tb_sweep *ns = axis_values[1] ? &sw[1] : &sizes;
        const tb_sweep *ks = axis_values[2] ? &sw[2] : &sizes;
        for (size_t i = 0; i < ms->count && !st; i++)
            for (size_t j = 0; j < ns->count && !st; j++)
                for (size_t k = 0; k < ks->count && !st; k++) {
                    int64_t p[4] = {ms->values[i], ns->values[j], ks->values[k], l};
                    st = tb_points_add(out, p, 4, err);
                }
    }
    for (int i = 0; i < 3; i++)
        tb_sweep_free(&sw[i]);
    tb_sweep_free(&sizes);
    return st;
}

/* The named sets, for `trainbench list matmul`: each model's linear layers and their GEMMs at
 * the default 8192 tokens and tp 1. */
static void mm_details(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
#define PUT(...) tb_appendf(buf, len, &used, __VA_ARGS__)
    PUT("  shape sets (--shapes), M x N x K at --tokens 8192 --tp 1:\n");
    for (int i = 0; i < N_MODELS; i++) {
        const model_spec *m = &models[i];
        PUT("    %s: hidden %d, FFN %d, %d heads, %d KV heads, head dim %d%s\n", m->name,
            m->hidden, m->ffn, m->heads, m->kv_heads, m->head_dim, m->swiglu ? ", SwiGLU" : "");
        linear_spec lin[4];
        int nl = model_linears(m, lin);
        for (int l = 0; l < nl; l++) {
            int64_t g[3][4];
            tb_matmul_linear_gemms(lin[l].in, lin[l].out, lin[l].column_parallel, 8192, 1, g);
            PUT("      %-8s %6lld -> %-6lld fwd %lldx%lldx%lld  dgrad %lldx%lldx%lld  wgrad "
                "%lldx%lldx%lld\n",
                lin[l].name, (long long)lin[l].in, (long long)lin[l].out, (long long)g[0][0],
                (long long)g[0][1], (long long)g[0][2], (long long)g[1][0], (long long)g[1][1],
                (long long)g[1][2], (long long)g[2][0], (long long)g[2][1], (long long)g[2][2]);
        }
    }
#undef PUT
}

/* ---- the table ---- */

static const tb_axis mm_axes[] = {
    {"m", TB_AXIS_INT, "(--size)", "(--size)", NULL, NULL, NULL, "rows of C (sweep)"},
    {"n", TB_AXIS_INT, "(--size)", "(--size)", NULL, NULL, NULL, "columns of C (sweep)"},
    {"k", TB_AXIS_INT, "(--size)", "(--size)", NULL, NULL, NULL, "the reduced dimension (sweep)"},
    {"layout", TB_AXIS_ENUM, "fwd", "fwd", NULL, NULL, layout_names,
     "fwd C=AB^T, dgrad C=AB, wgrad C=A^TB (list)"},
};

static const tb_option mm_options[] = {
    {"size", "256:16384:x2 (--quick 256,1024,4096; --host 64:512:x2; --host --quick 64,128)",
     "square sizes M=N=K; also the default of --m, --n, --k"},
    {"shapes", NULL,
     "named sets: llama3-8b, llama3-70b, llama3-405b, gpt3-175b: fwd, dgrad and wgrad GEMMs of "
     "qkv, proj, gate_up (up), down"},
    {"tokens", "8192", "tokens per step for --shapes (M of fwd and dgrad, K of wgrad)"},
    {"tp", "1", "tensor-parallel degree for --shapes: splits the column-parallel out (qkv, "
                "gate_up) and the row-parallel in (proj, down)"},
};

#define F32 TB_DT(TB_FP32)
#define ALL_CUBLAS (TB_DT(TB_FP32) | TB_DT(TB_TF32) | TB_DT(TB_BF16) | TB_DT(TB_FP16) | TB_DT(TB_FP8E4M3))
static const tb_impl mm_impls[] = {
    {"cublas", TB_KIND_VENDOR,
     "cuBLASLt, fp32 accumulate; tf32 via COMPUTE_32F_FAST_TF32; fp8 e4m3 in, bf16 out, with "
     "scales",
     0, 0, ALL_CUBLAS, NULL, 0, mm_setup, mm_run, mm_teardown, mm_supports},
    {"naive", TB_KIND_HANDWRITTEN, "one thread per output, every layout", 0, 0, F32, "cublas", 0,
     mm_setup, mm_run, mm_teardown, mm_supports},
    {"smem", TB_KIND_HANDWRITTEN, "32x32 shared-memory tiles, every layout", 0, 0, F32,
     "cublas", 0, mm_setup, mm_run, mm_teardown, mm_supports},
    {"simt", TB_KIND_HANDWRITTEN,
     "128x128 tiles, 64x32 warp tiles, 8x8 per thread, float4, double-buffered; fwd", 0, 0, F32,
     "cublas", 0, mm_setup, mm_run, mm_teardown, mm_supports},
    {"mma", TB_KIND_HANDWRITTEN,
     "mma.sync m16n8k16 + ldmatrix, 4-stage cp.async, swizzled smem, grouped tiles", 80, 0,
     TB_DT(TB_BF16) | TB_DT(TB_FP16), "cublas", 0, mm_setup, mm_run, mm_teardown, mm_supports},
    {"host", TB_KIND_HOST,
     "blocked OpenMP C, fp32 accumulate: the reference; bf16, fp16, fp8 rounded as the GPU "
     "path rounds",
     0, 0, TB_DT(TB_FP32) | TB_DT(TB_BF16) | TB_DT(TB_FP16) | TB_DT(TB_FP8E4M3), NULL, 0,
     mm_setup, mm_run, mm_teardown, mm_supports},
    /* Hopper: sm_90a only (wgmma, TMA, setmaxnreg exist there alone) */
    {"wgmma", TB_KIND_HANDWRITTEN,
     "TMA (128B swizzle) + mbarrier 3-stage ring, wgmma m64n128k16 one group in flight, "
     "128x128 tiles, 2 CTAs/SM; fwd", 90,
     90, TB_DT(TB_BF16), "cublas", 0, mm_setup, mm_run, mm_teardown, mm_supports},
    {"wgmma_ws", TB_KIND_HANDWRITTEN,
     "+ warp specialization: TMA producer, 2 wgmma consumers, setmaxnreg, 128x256; fwd", 90, 90,
     TB_DT(TB_BF16), "cublas", 0, mm_setup, mm_run, mm_teardown, mm_supports},
    {"wgmma_persistent", TB_KIND_HANDWRITTEN,
     "+ persistent CTAs, L2-ordered schedule, epilogue overlapped, TMA stores; fwd", 90, 90,
     TB_DT(TB_BF16), "cublas", 0, mm_setup, mm_run, mm_teardown, mm_supports},
    {"wgmma_cluster", TB_KIND_HANDWRITTEN,
     "+ clusters of 2 sharing B through TMA multicast; fwd, dgrad, wgrad (MN-major operands "
     "through wgmma's transpose bits)", 90, 90, TB_DT(TB_BF16), "cublas",
     0, mm_setup, mm_run, mm_teardown, mm_supports},
};

const tb_bench tb_bench_matmul = {
    "matmul",
    "GEMM: the hand-written ladder (naive, smem, simt, mma, wgmma*) against cuBLASLt, training "
    "layouts",
    mm_axes,
    (int)(sizeof mm_axes / sizeof mm_axes[0]),
    mm_impls,
    (int)(sizeof mm_impls / sizeof mm_impls[0]),
    1,
    mm_flops,
    NULL,
    mm_peak_kind,
    mm_verify,
    mm_options,
    (int)(sizeof mm_options / sizeof mm_options[0]),
    mm_points,
    mm_details,
    NULL,
    NULL,
    NULL,
    mm_reinit,
    NULL,
    NULL,
};
