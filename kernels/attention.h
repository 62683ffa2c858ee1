/* attention.h - launchers of the attention kernels (kernels/attention/). Layouts, masking and
 * the base-2 convention: attention/attn_common.h. Storage codes (TB_MM_F32, BF16, F16) are
 * those of matmul/mm_storage.h. Each enqueues on the stream and returns the launch status. */
#ifndef TB_ATTENTION_H
#define TB_ATTENTION_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "attention/attn_common.h"
#include "matmul/mm_storage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int B, H, KVH, S, D; /* batch, query heads, KV heads (dividing H), sequence, head dim */
    int causal;
    int storage;         /* of Q, K, V, dO: TB_MM_F32, TB_MM_BF16 or TB_MM_F16 */
} tb_attn_shape;

/* ---- naive: the correctness anchor, fp32 arithmetic throughout ----
 *
 * Both work on a slab: groups z0 .. z0+nz-1 (z = b*KVH + kvh, its G = H/KVH query heads) and
 * query rows r0 .. r0+R-1 of each head, with fp32 workspaces of nz*G*R*S floats (the
 * materialized scores). Any D up to 256, any S. */

/* Scores, softmax (lse written), O = P V in out_storage. Oabs (may be NULL) receives P |V|,
 * the bound verification scales its tolerance by. */
cudaError_t tb_attn_naive_fwd(const tb_attn_shape *sh, const void *Q, const void *K,
                              const void *V, void *O, int out_storage, float *lse, float *Oabs,
                              float *W, int z0, int nz, int r0, int R, cudaStream_t stream);

/* dQ, dK, dV from the inputs, dO and Drow (tb_attn_rowdot of dO and the forward's O); P is
 * recomputed in W. dK, dV of the slab's KV heads are written (accumulate 0) or added to
 * (accumulate 1, fp32 only): slabs that split the rows of one group accumulate. When Dabs is
 * not NULL the bounds dQabs, dKabs, dVabs are computed as well (W3 holds them per score). */
cudaError_t tb_attn_naive_bwd(const tb_attn_shape *sh, const void *Q, const void *K,
                              const void *V, const void *dO, const float *Drow,
                              const float *Dabs, void *dQ, void *dK, void *dV, int out_storage,
                              int accumulate, float *dQabs, float *dKabs, float *dVabs,
                              float *W, float *W2, float *W3, int z0, int nz, int r0, int R,
                              cudaStream_t stream);

/* ---- row kernels shared by the implementations ---- */

/* Drow[i] = sum_d dO[i][d] O[i][d] over the B*H*S rows (O in o_storage); Dabs (may be NULL)
 * the same sum of absolute values. The backward's pre-pass. */
cudaError_t tb_attn_rowdot(const tb_attn_shape *sh, const void *dO, const void *O,
                           int o_storage, float *Drow, float *Dabs, cudaStream_t stream);

/* unfused: P = softmax of the already scaled scores, in place, rows of S keys in storage
 * sh->storage ([B*H*S][S]), causal mask applied; lse written. */
cudaError_t tb_attn_softmax_rows(const tb_attn_shape *sh, void *P, float *lse,
                                 cudaStream_t stream);

/* unfused: dS = P o (dP - Drow), in place of dP (storage sh->storage). */
cudaError_t tb_attn_dsoftmax(const tb_attn_shape *sh, const void *P, void *dP,
                             const float *Drow, cudaStream_t stream);

/* ---- flash (sm_80+): bf16 or fp16, head dim 64 or 128, any S ---- */

/* NULL when the flash kernels run the shape, else the requirement it misses. */
const char *tb_attn_flash_unsupported(const tb_attn_shape *sh);

/* Allows the flash kernels their dynamic shared memory on the current device; call once per
 * device before the first launch (outside the timed launches). */
cudaError_t tb_attn_flash_prepare(void);

/* The forward's rows per query tile (one CTA) at head dim D on the prepared device
 * (attn_common.h: tb_attn_fwd_br of the architecture its kernels run as). */
int tb_attn_flash_fwd_rows(int D);

/* O and lse (natural log, fp32) from Q, K, V. */
cudaError_t tb_attn_flash_fwd(const tb_attn_shape *sh, const void *Q, const void *K,
                              const void *V, void *O, float *lse, cudaStream_t stream);

/* dQ, dK, dV from Q, K, V, the forward's O and lse, and dO: the pre-pass Drow = rowsum(dO o O)
 * (B*H*S fp32 workspace), then one CTA per 64 keys; dQacc (B*H*S*D fp32) is zeroed,
 * accumulated by atomics and converted into dQ. */
cudaError_t tb_attn_flash_bwd(const tb_attn_shape *sh, const void *Q, const void *K,
                              const void *V, const void *O, const float *lse, const void *dO,
                              float *Drow, float *dQacc, void *dQ, void *dK, void *dV,
                              cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
