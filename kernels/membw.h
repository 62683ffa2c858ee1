/* membw.h - launchers of the memory-bandwidth kernels (kernels/membw/). Each enqueues on the
 * given stream and returns the launch status. Pointers must be 16-byte aligned (cudaMalloc's
 * are); any element count is accepted. */
#ifndef TB_MEMBW_H
#define TB_MEMBW_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* z = op(x, y, s) elementwise, op one of TB_MEMBW_COPY/SCALE/ADD/TRIAD (membw/membw_ref.h);
 * y is read only by add and triad. */
cudaError_t tb_membw_stream(int op, const float *x, const float *y, float *z, int64_t n, float s,
                            int sm_count, cudaStream_t stream);

/* Doubles of scratch tb_membw_sum needs for its per-block partial sums. */
int tb_membw_sum_partials(int sm_count);

/* *out = sum of x[0..n) accumulated in fp64 (two kernels: per-block partials, then one block). */
cudaError_t tb_membw_sum(const float *x, int64_t n, double *partials, double *out, int sm_count,
                         cudaStream_t stream);

/* Device-side check of an elementwise output against values regenerated from the seeds. */
typedef struct {
    unsigned long long n_wrong;     /* elements whose bits differ from the expected value */
    unsigned int max_abs_err_bits;  /* float bits of the largest |z - expected| (inf for NaN) */
    unsigned int max_rel_err_bits;  /* float bits of the largest |z - expected| / |expected| */
} tb_membw_check_result;

/* Compares z[0..n) with tb_membw_expected(op, x_i, y_i, s) where x_i, y_i are
 * tb_rand_normal(seed_x / seed_y, i). res must be zeroed first. */
cudaError_t tb_membw_check(int op, const float *z, int64_t n, uint64_t seed_x, uint64_t seed_y,
                           float s, tb_membw_check_result *res, int sm_count,
                           cudaStream_t stream);

/* The exact-as-fp64 reference for sum: adds sum(x) and sum(|x|) of the regenerated inputs
 * into out[0] and out[1] (which must be zeroed first). */
cudaError_t tb_membw_sum_reference(int64_t n, uint64_t seed_x, double *out, int sm_count,
                                   cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
