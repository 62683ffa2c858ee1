/* fill.h - device-side input generation shared by every benchmark. */
#ifndef TB_FILL_H
#define TB_FILL_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* x[i] = tb_rand_normal(seed, i) for i < n. Returns the launch status. */
cudaError_t tb_fill_normal_f32(float *x, int64_t n, uint64_t seed, int sm_count,
                               cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
