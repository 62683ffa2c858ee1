// flash_fwd.cu - FlashAttention-2 style forward on tensor cores (sm_80+), bf16 or fp16 in,
// fp32 accumulate, head dim 64 or 128.
//
// Technique: one CTA of 4 warps per 64 query rows of one head (16 rows per warp); the Q tile
// stays in shared memory, K and V stream through a 2-stage cp.async ring of 64-row tiles,
// stored as XOR-swizzled 16-byte chunks so ldmatrix (and ldmatrix.trans for V) reads them
// without bank conflicts. S = Q K^T and O += P V are mma.sync m16n8k16; the online softmax
// (attn_common.h) runs in registers in base 2 with the scale folded into one multiply; P
// never leaves registers (the S accumulators are repacked as the A operand of P V); 1/l is
// applied once at the end and the log-sum-exp is written for the backward. A causal mask
// skips the tiles above the diagonal and masks only the diagonal tiles; rows and keys past
// the sequence are predicated (zero-filled loads, masked keys, unstored rows). Grouped-query
// heads read their shared K/V head. CTAs start with the longest (last) causal query tiles.
#include "../attention.h"
#include "flash_common.cuh"

template <int D, bool BF16>
__global__ void __launch_bounds__(TB_FL_THREADS)
    flash_fwd_kernel(const uint16_t *__restrict__ Q, const uint16_t *__restrict__ K,
                     const uint16_t *__restrict__ V, uint16_t *__restrict__ O,
                     float *__restrict__ lse, int H, int KVH, int S, int causal, float scale_log2)
{
    constexpr int BR = TB_ATTN_FWD_BR, BC = TB_ATTN_FWD_BC;
    constexpr int NT = BC / 8; // n8 tiles of S per warp
    constexpr int DT = D / 8;  // n8 tiles of O per warp
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t s0 = tb_ptx_smem_addr(smem);
    const uint32_t sQ = s0 + TB_FL_FWD_Q_OFF(D);

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = tb_fl_lane_g(lane), t4 = tb_fl_lane_t4(lane);
    const int nq = (S + BR - 1) / BR;
    const int q0 = (nq - 1 - (int)blockIdx.x) * BR;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int kvh = h / (H / KVH);
    const uint16_t *Qh = Q + (int64_t)bh * S * D;
    const uint16_t *Kh = K + ((int64_t)b * KVH + kvh) * S * D;
    const uint16_t *Vh = V + ((int64_t)b * KVH + kvh) * S * D;

    const int T = tb_attn_kv_tiles(q0, BR, BC, S, causal);
    fl_load_tile<D, BR>(sQ, Qh, q0, S);
    fl_load_tile<D, BC>(s0 + TB_FL_FWD_K_OFF(D, tb_fl_stage(0)), Kh, 0, S);
    fl_load_tile<D, BC>(s0 + TB_FL_FWD_V_OFF(D, tb_fl_stage(0)), Vh, 0, S);
    tb_ptx_cp_async_commit();

    float o[DT][4];
#pragma unroll
    for (int i = 0; i < DT; i++)
        o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    tb_attn_row row[2] = {{-INFINITY, 0.0f}, {-INFINITY, 0.0f}}; // accumulator rows v = 0, 2
    const int r_lo = q0 + warp * 16 + g; // the lane's first row

    for (int t = 0; t < T; t++) {
        if (t + 1 < T) {
            const int st = tb_fl_stage(t + 1);
            fl_load_tile<D, BC>(s0 + TB_FL_FWD_K_OFF(D, st), Kh, (t + 1) * BC, S);
            fl_load_tile<D, BC>(s0 + TB_FL_FWD_V_OFF(D, st), Vh, (t + 1) * BC, S);
        }
        tb_ptx_cp_async_commit();
        TB_PTX_CP_ASYNC_WAIT(TB_FL_WAIT_PENDING); // tile t (and Q) have landed
        __syncthreads();
        const uint32_t kt = s0 + TB_FL_FWD_K_OFF(D, tb_fl_stage(t));
        const uint32_t vt = s0 + TB_FL_FWD_V_OFF(D, tb_fl_stage(t));
        const int k0 = t * BC;

        // S = Q K^T for the warp's 16 rows x 64 keys
        float s[NT][4];
#pragma unroll
        for (int i = 0; i < NT; i++)
            s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t a[4];
            fl_ldsm_a<D>(a, sQ, warp * 16, kk);
#pragma unroll
            for (int np = 0; np < NT / 2; np++) {
                uint32_t b0[2], b1[2];
                fl_ldsm_bt<D>(b0, b1, kt, np * 16, kk);
                fl_mma<BF16>(s[2 * np], a, b0);
                fl_mma<BF16>(s[2 * np + 1], a, b1);
            }
        }

        // online softmax, base 2, scale folded in; masked elements are -inf
        const bool masked = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, causal);
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int i = 0; i < NT; i++)
#pragma unroll
            for (int v = 0; v < 4; v++) {
                float x = s[i][v] * scale_log2;
                if (masked) {
                    const int qi = r_lo + tb_fl_c_vrow(v);
                    const int kj = k0 + i * 8 + tb_fl_t4_col(t4) + tb_fl_c_vcol(v);
                    if (tb_attn_masked(qi, kj, S, causal))
                        x = -INFINITY;
                }
                s[i][v] = x;
                mx[v >> 1] = fmaxf(mx[v >> 1], x);
            }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], tb_fl_quad_xor(0)));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], tb_fl_quad_xor(1)));
            const float alpha = tb_attn_row_update(&row[r], mx[r]);
#pragma unroll
            for (int i = 0; i < DT; i++) {
                o[i][2 * r] *= alpha;
                o[i][2 * r + 1] *= alpha;
            }
        }
        const float base[2] = {tb_attn_row_base(row[0].m), tb_attn_row_base(row[1].m)};
#pragma unroll
        for (int i = 0; i < NT; i++)
#pragma unroll
            for (int v = 0; v < 4; v++) {
                const float p = exp2f(s[i][v] - base[v >> 1]);
                s[i][v] = p;
                row[v >> 1].l += p; // this thread's share; the quad's shares are summed at the end
            }

        // O += P V: P from registers, V through ldmatrix.trans
#pragma unroll
        for (int kk = 0; kk < BC / 16; kk++) {
            uint32_t a[4];
            fl_c_to_a<BF16>(a, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
            for (int np = 0; np < DT / 2; np++) {
                uint32_t b0[2], b1[2];
                fl_ldsm_b<D>(b0, b1, vt, kk * 16, np * 16);
                fl_mma<BF16>(o[2 * np], a, b0);
                fl_mma<BF16>(o[2 * np + 1], a, b1);
            }
        }
        __syncthreads(); // this stage is refilled by a later iteration's loads
    }
    TB_PTX_CP_ASYNC_WAIT(0);

#pragma unroll
    for (int r = 0; r < 2; r++) {
        row[r].l += __shfl_xor_sync(0xffffffffu, row[r].l, tb_fl_quad_xor(0));
        row[r].l += __shfl_xor_sync(0xffffffffu, row[r].l, tb_fl_quad_xor(1));
        const int qi = r_lo + tb_fl_c_vrow(2 * r);
        if (qi >= S)
            continue;
        const float inv = tb_attn_row_inv(row[r]);
        uint16_t *orow = O + ((int64_t)bh * S + qi) * D;
#pragma unroll
        for (int i = 0; i < DT; i++)
            *(uint32_t *)(orow + i * 8 + tb_fl_t4_col(t4)) =
                fl_pack<BF16>(o[i][2 * r] * inv, o[i][2 * r + 1] * inv);
        if (t4 == 0) // one lane of the row's quad
            lse[(int64_t)bh * S + qi] = tb_attn_row_lse(row[r]);
    }
}

static_assert(TB_ATTN_FWD_BR == TB_ATTN_FWD_BC, "TB_FL_FWD_* size the Q tile as a K tile");

template <int D, bool BF16>
static cudaError_t fwd_prepare(void)
{
    return cudaFuncSetAttribute((const void *)flash_fwd_kernel<D, BF16>,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, TB_FL_FWD_SMEM(D));
}

template <int D, bool BF16>
static cudaError_t fwd_launch(const tb_attn_shape *sh, const void *Q, const void *K,
                              const void *V, void *O, float *lse, cudaStream_t stream)
{
    const dim3 grid((unsigned)((sh->S + TB_ATTN_FWD_BR - 1) / TB_ATTN_FWD_BR),
                    (unsigned)(sh->B * sh->H));
    const float scale_log2 = TB_ATTN_LOG2E / sqrtf((float)D);
    flash_fwd_kernel<D, BF16><<<grid, TB_FL_THREADS, TB_FL_FWD_SMEM(D), stream>>>(
        (const uint16_t *)Q, (const uint16_t *)K, (const uint16_t *)V, (uint16_t *)O, lse,
        sh->H, sh->KVH, sh->S, sh->causal, scale_log2);
    return cudaGetLastError();
}

extern "C" const char *tb_attn_flash_unsupported(const tb_attn_shape *sh)
{
    if (sh->storage != TB_MM_BF16 && sh->storage != TB_MM_F16)
        return "runs bf16 and fp16 only";
    if (sh->D != 64 && sh->D != 128)
        return "supports head dims 64 and 128";
    if (sh->B < 1 || sh->H < 1 || sh->KVH < 1 || sh->H % sh->KVH || sh->S < 1)
        return "needs positive sizes and KV heads dividing heads";
    if ((int64_t)sh->B * sh->H > 65535)
        return "needs batch x heads <= 65535";
    return NULL;
}

cudaError_t tb_attn_flash_bwd_prepare(void);

extern "C" cudaError_t tb_attn_flash_prepare(void)
{
    cudaError_t e = fwd_prepare<64, true>();
    if (!e)
        e = fwd_prepare<64, false>();
    if (!e)
        e = fwd_prepare<128, true>();
    if (!e)
        e = fwd_prepare<128, false>();
    if (!e)
        e = tb_attn_flash_bwd_prepare();
    return e;
}

extern "C" cudaError_t tb_attn_flash_fwd(const tb_attn_shape *sh, const void *Q, const void *K,
                                         const void *V, void *O, float *lse,
                                         cudaStream_t stream)
{
    if (tb_attn_flash_unsupported(sh))
        return cudaErrorInvalidValue;
    const bool bf16 = sh->storage == TB_MM_BF16;
    if (sh->D == 64)
        return bf16 ? fwd_launch<64, true>(sh, Q, K, V, O, lse, stream)
                    : fwd_launch<64, false>(sh, Q, K, V, O, lse, stream);
    return bf16 ? fwd_launch<128, true>(sh, Q, K, V, O, lse, stream)
                : fwd_launch<128, false>(sh, Q, K, V, O, lse, stream);
}
