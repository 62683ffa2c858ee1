/* matmul.h - launchers of the matmul kernels (kernels/matmul/). C = op(A) op(B), row-major
 * M x N; layouts TB_MM_FWD / DGRAD / WGRAD of matmul/mm_common.h. Each enqueues on the stream
 * and returns the launch status. */
#ifndef TB_MATMUL_H
#define TB_MATMUL_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* fp32, one thread per output: the correctness anchor. Any layout and shape. */
cudaError_t tb_mm_naive(int layout, const float *A, const float *B, float *C, int M, int N, int K,
                        cudaStream_t stream);

/* fp32, 32x32 shared-memory tiles. Any layout and shape. */
cudaError_t tb_mm_smem(int layout, const float *A, const float *B, float *C, int M, int N, int K,
                       cudaStream_t stream);

/* fp32, 128x128x16 block tile, 64x32 warp tiles, 8x8 outputs per thread, float4 loads,
 * double-buffered shared memory. Layout FWD only; K a multiple of 4. */
cudaError_t tb_mm_simt(const float *A, const float *B, float *C, int M, int N, int K,
                       cudaStream_t stream);

/* bf16 (is_bf16) or fp16 in and out, fp32 accumulate: mma.sync m16n8k16 with ldmatrix and a
 * 4-stage cp.async pipeline. Needs K % 8 == 0 where A or B is K-contiguous, and M % 8 (N % 8)
 * where A (B) is M- (N-) contiguous: tb_mm_mma_unsupported says which. */
cudaError_t tb_mm_mma(int layout, int is_bf16, const void *A, const void *B, void *C, int M,
                      int N, int K, cudaStream_t stream);

/* Allows the mma kernels their 96 KiB of dynamic shared memory on the current device; call
 * once per device before tb_mm_mma (outside the timed launches). */
cudaError_t tb_mm_mma_prepare(void);

/* NULL when tb_mm_mma handles the shape, else the requirement it misses. */
const char *tb_mm_mma_unsupported(int layout, int M, int N, int K);

/* Hopper (sm_90a only): bf16 in, fp32 accumulate, bf16 out through wgmma fed by TMA. Every
 * rung runs layout FWD (C = A B^T; A [M][K] and B [N][K] both K-major); CLUSTER runs DGRAD and
 * WGRAD too (an M- or N-contiguous operand loaded along M or N, read through wgmma's transpose
 * bit). The rungs of the ladder, each adding a technique to the one before:
 *   PLAIN       TMA + mbarrier ring, wgmma m64n128k16, 128 x 128 tiles
 *   WS          warp-specialized producer/consumers, setmaxnreg, 128 x 256 tiles
 *   PERSISTENT  one CTA per SM over an L2-ordered schedule, TMA stores of C
 *   CLUSTER     clusters of 2 sharing the B tile through TMA multicast */
enum { TB_MM_WG_PLAIN = 0, TB_MM_WG_WS = 1, TB_MM_WG_PERSISTENT = 2, TB_MM_WG_CLUSTER = 3 };

/* One prepared GEMM: the encoded tensor maps (CUtensorMap bytes) of A, B and C, the shape and
 * the grid. */
typedef struct {
    uint64_t tmap[3][16];
    int variant, layout, M, N, K;
    int ctas;
    void *C;
} tb_mm_wg_plan;

/* NULL when the variant handles the case, else the requirement it misses. */
const char *tb_mm_wg_unsupported(int variant, int layout, int M, int N, int K);

/* Prepares the GEMM of `layout` (C = A B^T for fwd) for the variant on the current device (outside the timed launches):
 * checks that this build holds sm_90a code for it, allows its dynamic shared memory and
 * encodes the tensor maps through the driver's cuTensorMapEncodeTiled (reached through the
 * runtime's driver entry point; nothing links libcuda). Returns 0 and fills plan; 1 when the
 * case is to be skipped, 2 on a failure, each with the cause in why. */
int tb_mm_wg_plan_make(int variant, int layout, const void *A, const void *B, void *C, int M,
                       int N, int K, int sm_count, tb_mm_wg_plan *plan, char *why,
                       size_t whylen);

/* Enqueues one launch of a plan. */
cudaError_t tb_mm_wg_run(const tb_mm_wg_plan *plan, cudaStream_t stream);

/* Storage codes of the fill and check kernels: TB_MM_F32, BF16, F16, E4M3. */
#include "matmul/mm_storage.h"

/* dst[i] = tb_rand_normal(seed, i) rounded to the storage type (bits in dst); when dst32 is
 * not NULL it receives the same rounded values as fp32. */
cudaError_t tb_mm_fill(int storage, void *dst, float *dst32, int64_t n, uint64_t seed,
                       int sm_count, cudaStream_t stream);

typedef struct {
    unsigned long long n_wrong;
    unsigned int max_abs_err_bits; /* float bits; inf for NaN outputs */
    unsigned int max_rel_err_bits;
} tb_mm_check_result;

/* Compares C (storage type) with the fp32 reference: element i is wrong when
 * |C_i - ref_i| > abs_tol + rel_tol * |ref_i| + bound_scale * bound_i (bound may be NULL: no
 * such term), or C_i is NaN. res must be zeroed first. */
cudaError_t tb_mm_check(int storage, const void *C, const float *ref, const float *bound,
                        float bound_scale, int64_t n, float abs_tol, float rel_tol,
                        tb_mm_check_result *res, int sm_count, cudaStream_t stream);

/* Adds the norm-wise sums of C (storage type) against the fp32 reference: sums[0] the
 * squared error (infinite when an element is NaN), sums[1] the squared reference, both fp64
 * in device memory, zeroed first. */
cudaError_t tb_mm_norm(int storage, const void *C, const float *ref, int64_t n, double *sums,
                       int sm_count, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
