// flash_bwd.cu - FlashAttention-2 style backward on tensor cores (sm_80+), bf16 or fp16 in,
// fp32 accumulate, head dim 64 or 128.
//
// Technique: a pre-pass D = rowsum(dO o O) (rows.cu); then one CTA of 4 warps per 64 keys of
// one KV head (16 keys per warp), K and V held in shared memory, looping over the Q / dO tiles
// (32 rows, 2-stage cp.async ring, swizzled chunks) of every query head that shares the KV
// head. Per tile, each warp recomputes its slice of P^T = exp2(K Q^T scale log2e - lse log2e)
// from the saved log-sum-exp, adds P^T dO to dV and dS^T Q to dK (dS^T = P^T o (V dO^T - D))
// with both accumulators kept in registers for the whole loop, the score tiles repacked from
// accumulators into A operands; dS^T goes through shared memory so that the four warps then
// compute dQ = dS K for the tile (each a 16-row x D/2 slice) and add it to an fp32 dQ buffer
// with atomics (pairs as one vector atomic on sm_90+), converted to bf16/fp16 by a last
// pass. A causal mask skips the query tiles that end before the key tile and masks only the
// tiles on the diagonal. The log-sum-exp and D rows of each tile come in with the tile's
// cp.async group; each thread's copy offsets are computed once and one row offset advances per
// tile. Each probability is one FFMA (scale log2 e folded in) and one ex2.approx.ftz. CTAs run
// the key tiles longest first (the first, under a causal mask), all KV heads of a tile before
// the next (tb_attn_cta_at).
#include "../attention.h"
#include "flash_common.cuh"

template <int D, bool BF16>
__global__ void __launch_bounds__(TB_FL_THREADS)
    flash_bwd_kernel(const uint16_t *__restrict__ Q, const uint16_t *__restrict__ K,
                     const uint16_t *__restrict__ V, const uint16_t *__restrict__ dO,
                     const float *__restrict__ lse, const float *__restrict__ Drow,
                     float *__restrict__ dQacc, uint16_t *__restrict__ dK,
                     uint16_t *__restrict__ dV, int H, int KVH, int S, int causal, float scale,
                     int heads)
{
    constexpr int BR = TB_ATTN_BWD_BR, BC = TB_ATTN_BWD_BC;
    static_assert(BR == 32, "the dQ step covers the tile as two m16 row tiles");
    constexpr int DT = D / 8; // n8 tiles of dK / dV per warp
    constexpr int QN = BR / 8; // n8 tiles of S^T per warp (queries)
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t s0 = tb_ptx_smem_addr(smem);
    const uint32_t sK = s0 + TB_FL_BWD_K_OFF(D), sV = s0 + TB_FL_BWD_V_OFF(D);
    uint16_t *dsT = (uint16_t *)(smem + TB_FL_BWD_DS_OFF(D));
    const uint32_t sDS = s0 + TB_FL_BWD_DS_OFF(D);
    const float *s_lse = (const float *)(smem + TB_FL_BWD_LSE_OFF(D));
    const float *s_dr = (const float *)(smem + TB_FL_BWD_DR_OFF(D));

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = tb_fl_lane_g(lane), t4 = tb_fl_lane_t4(lane);
    const tb_attn_cta cta = tb_attn_cta_at(blockIdx.x, heads);
    const int k0 = tb_attn_bwd_tile_k0(cta.tile);
    const int bk = cta.head, b = bk / KVH, kvh = bk % KVH;
    const int G = H / KVH;
    const float scale_log2 = scale * TB_ATTN_LOG2E;

    const int first = tb_attn_first_q_tile(k0, BR, causal);
    const int nq = (S + BR - 1) / BR;
    const int per_head = nq - first, items = G * per_head;

    // items: query tiles first .. nq-1 of each query head of the group (tb_fl_bwd_next_item)
    auto load_item = [&](int q0, int64_t row, int st) {
        const fl_loader ld = fl_loader_make<D>(); // a few integer ops: cheaper than 3 registers
        const int64_t e = row * D + ld.g_off;
        fl_load_tile<D, BR>(s0 + TB_FL_BWD_Q_OFF(D, st), Q + e, Q, ld, S - q0);
        fl_load_tile<D, BR>(s0 + TB_FL_BWD_DO_OFF(D, st), dO + e, dO, ld, S - q0);
        if (threadIdx.x < BR) {
            // a row past the sequence gets lse = D = 0 (zero-filled, like its Q and dO rows):
            // its p is not 0, but dS = p (dO.V - D) = 0 and p dO = 0, so it adds nothing
            const bool ok = threadIdx.x < (unsigned)(S - q0);
            const uint32_t at = (uint32_t)(tb_fl_bwd_row_slot(st) + threadIdx.x) * 4;
            tb_ptx_cp_async4(s0 + TB_FL_BWD_LSE_OFF(D) + at, ok ? lse + row + threadIdx.x : lse,
                             ok ? 4 : 0);
            tb_ptx_cp_async4(s0 + TB_FL_BWD_DR_OFF(D) + at, ok ? Drow + row + threadIdx.x : Drow,
                             ok ? 4 : 0);
        }
    };

    const fl_loader ld = fl_loader_make<D>();
    const int64_t kv = ((int64_t)bk * S + k0) * D + ld.g_off;
    fl_load_tile<D, BC>(sK, K + kv, K, ld, S - k0);
    fl_load_tile<D, BC>(sV, V + kv, V, ld, S - k0);
    tb_ptx_cp_async_commit();
    int q0 = first * BR; // the item's query tile
    int64_t row = ((int64_t)b * H + kvh * G) * S + q0;
    if (items > 0)
        load_item(q0, row, tb_fl_stage(0));
    tb_ptx_cp_async_commit();

    // the A fragments of the warp's K and V rows, loaded once where they stay in registers
    constexpr bool KV_REGS = TB_FL_BWD_KV_IN_REGS(D);
    constexpr int KK = D / 16;
    uint32_t kf[KV_REGS ? KK : 1][4], vf[KV_REGS ? KK : 1][4];
    if (KV_REGS) {
        TB_PTX_CP_ASYNC_WAIT(TB_FL_WAIT_PENDING); // the K/V group has landed
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            fl_ldsm_a<D>(kf[KV_REGS ? kk : 0], sK, warp * 16, kk);
            fl_ldsm_a<D>(vf[KV_REGS ? kk : 0], sV, warp * 16, kk);
        }
    }

    float dk[DT][4], dv[DT][4];
#pragma unroll
    for (int i = 0; i < DT; i++)
#pragma unroll
        for (int v = 0; v < 4; v++)
            dk[i][v] = dv[i][v] = 0.0f;
    const int key_lo = k0 + warp * 16 + g; // the lane's first key

    for (int it = 0; it < items; it++) {
        const int st = tb_fl_stage(it);
        if (it + 1 < items) {
            int nxt_q0 = q0;
            int64_t nxt_row = row;
            tb_fl_bwd_next_item(&nxt_q0, &nxt_row, first, nq, S);
            load_item(nxt_q0, nxt_row, tb_fl_stage(it + 1));
        }
        tb_ptx_cp_async_commit();
        TB_PTX_CP_ASYNC_WAIT(TB_FL_WAIT_PENDING); // item it has landed
        __syncthreads();
        const uint32_t sQ = s0 + TB_FL_BWD_Q_OFF(D, st), sdO = s0 + TB_FL_BWD_DO_OFF(D, st);
        const float *lse_t = s_lse + tb_fl_bwd_row_slot(st), *dr_t = s_dr + tb_fl_bwd_row_slot(st);

        // S^T = K Q^T and dP^T = V dO^T: 16 keys x 32 queries per warp
        float sT[QN][4], dpT[QN][4];
#pragma unroll
        for (int i = 0; i < QN; i++)
#pragma unroll
            for (int v = 0; v < 4; v++)
                sT[i][v] = dpT[i][v] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            uint32_t ak_s[4], av_s[4];
            if (!KV_REGS) {
                fl_ldsm_a<D>(ak_s, sK, warp * 16, kk);
                fl_ldsm_a<D>(av_s, sV, warp * 16, kk);
            }
            const uint32_t *ak = KV_REGS ? kf[KV_REGS ? kk : 0] : ak_s;
            const uint32_t *av = KV_REGS ? vf[KV_REGS ? kk : 0] : av_s;
#pragma unroll
            for (int np = 0; np < QN / 2; np++) {
                uint32_t b0[2], b1[2];
                fl_ldsm_bt<D>(b0, b1, sQ, np * 16, kk);
                fl_mma<BF16>(sT[2 * np], ak, b0);
                fl_mma<BF16>(sT[2 * np + 1], ak, b1);
                fl_ldsm_bt<D>(b0, b1, sdO, np * 16, kk);
                fl_mma<BF16>(dpT[2 * np], av, b0);
                fl_mma<BF16>(dpT[2 * np + 1], av, b1);
            }
        }

        // P^T from the saved lse; dS^T = P^T o (dP^T - D)
        const bool masked = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, causal);
#pragma unroll
        for (int i = 0; i < QN; i++) {
            // the lse and D of the lane's two query columns, one 8-byte load each
            const float2 l2 = *(const float2 *)(lse_t + i * 8 + tb_fl_t4_col(t4));
            const float2 d2 = *(const float2 *)(dr_t + i * 8 + tb_fl_t4_col(t4));
            const float nl[2] = {-l2.x * TB_ATTN_LOG2E, -l2.y * TB_ATTN_LOG2E};
            const float dr[2] = {d2.x, d2.y};
#pragma unroll
            for (int v = 0; v < 4; v++) {
                const int ql = i * 8 + tb_fl_t4_col(t4) + tb_fl_c_vcol(v),
                          kj = key_lo + tb_fl_c_vrow(v);
                float p = tb_attn_exp2(fmaf(sT[i][v], scale_log2, nl[tb_fl_c_vcol(v)]));
                if (masked && tb_attn_masked(q0 + ql, kj, S, causal))
                    p = 0.0f;
                sT[i][v] = p;
                dpT[i][v] = p * (dpT[i][v] - dr[tb_fl_c_vcol(v)]);
            }
        }

        // dV += P^T dO, dK += dS^T Q (scaled at the end)
#pragma unroll
        for (int kq = 0; kq < BR / 16; kq++) {
            uint32_t ap[4], ads[4];
            fl_c_to_a<BF16>(ap, sT[2 * kq], sT[2 * kq + 1]);
            fl_c_to_a<BF16>(ads, dpT[2 * kq], dpT[2 * kq + 1]);
#pragma unroll
            for (int np = 0; np < DT / 2; np++) {
                uint32_t b0[2], b1[2];
                fl_ldsm_b<D>(b0, b1, sdO, kq * 16, np * 16);
                fl_mma<BF16>(dv[2 * np], ap, b0);
                fl_mma<BF16>(dv[2 * np + 1], ap, b1);
                fl_ldsm_b<D>(b0, b1, sQ, kq * 16, np * 16);
                fl_mma<BF16>(dk[2 * np], ads, b0);
                fl_mma<BF16>(dk[2 * np + 1], ads, b1);
            }
        }

        // dS^T to shared memory: [key][query], pairs of queries per 32-bit word
#pragma unroll
        for (int i = 0; i < QN; i++)
#pragma unroll
            for (int r = 0; r < 2; r++)
                *(uint32_t *)(dsT + tb_fl_dst_store_at(warp, lane, i, r)) =
                    fl_pack<BF16>(dpT[i][2 * r], dpT[i][2 * r + 1]);
        __syncthreads();

        // dQ (32 queries x D) += dS K: warp w takes all 32 queries (two m16 row tiles) of
        // columns w D/4 .., so each K fragment feeds two MMAs
        {
            constexpr int CT = D / TB_FL_WARPS / 8; // n8 tiles of the warp's columns
            float dq[2][CT][4];
#pragma unroll
            for (int mt = 0; mt < 2; mt++)
#pragma unroll
                for (int i = 0; i < CT; i++)
                    dq[mt][i][0] = dq[mt][i][1] = dq[mt][i][2] = dq[mt][i][3] = 0.0f;
            const int c0 = tb_fl_dq_c0(warp, D);
#pragma unroll
            for (int kk = 0; kk < BC / 16; kk++) {
                // A = dS (queries x keys) from dS^T, transposed
                uint32_t a[2][4];
#pragma unroll
                for (int mt = 0; mt < 2; mt++)
                    fl_ldmatrix_x4<TB_FL_LDSM_DST_TRANS>(
                        a[mt], sDS + tb_fl_dst_ldsm_at(lane, tb_fl_dq_m0(mt), kk));
#pragma unroll
                for (int np = 0; np < CT / 2; np++) {
                    uint32_t b0[2], b1[2];
                    fl_ldsm_b<D>(b0, b1, sK, kk * 16, c0 + np * 16);
#pragma unroll
                    for (int mt = 0; mt < 2; mt++) {
                        fl_mma<BF16>(dq[mt][2 * np], a[mt], b0);
                        fl_mma<BF16>(dq[mt][2 * np + 1], a[mt], b1);
                    }
                }
            }
#pragma unroll
            for (int mt = 0; mt < 2; mt++)
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    const int ql = tb_fl_dq_m0(mt) + g + tb_fl_c_vrow(2 * r);
                    if (q0 + ql >= S)
                        continue;
#pragma unroll
                    for (int i = 0; i < CT; i++) {
                        float *p = dQacc + (row + ql) * D + c0 + i * 8 + tb_fl_t4_col(t4);
#if __CUDA_ARCH__ >= 900
                        // one vector atomic for the pair (8-byte aligned: the column is even)
                        atomicAdd((float2 *)p, make_float2(dq[mt][i][2 * r] * scale,
                                                           dq[mt][i][2 * r + 1] * scale));
#else
                        atomicAdd(p, dq[mt][i][2 * r] * scale);
                        atomicAdd(p + 1, dq[mt][i][2 * r + 1] * scale);
#endif
                    }
                }
        }
        __syncthreads(); // the stage and dS^T are rewritten by the next item
        tb_fl_bwd_next_item(&q0, &row, first, nq, S);
    }
    TB_PTX_CP_ASYNC_WAIT(0);

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int kj = key_lo + tb_fl_c_vrow(2 * r);
        if (kj >= S)
            continue;
        uint16_t *dkr = dK + ((int64_t)bk * S + kj) * D, *dvr = dV + ((int64_t)bk * S + kj) * D;
#pragma unroll
        for (int i = 0; i < DT; i++) {
            *(uint32_t *)(dkr + i * 8 + tb_fl_t4_col(t4)) =
                fl_pack<BF16>(dk[i][2 * r] * scale, dk[i][2 * r + 1] * scale);
            *(uint32_t *)(dvr + i * 8 + tb_fl_t4_col(t4)) =
                fl_pack<BF16>(dv[i][2 * r], dv[i][2 * r + 1]);
        }
    }
}

// dQ = dQacc rounded to bf16 / fp16, pairs at a time (D is even).
template <bool BF16>
__global__ void flash_dq_convert(const float2 *__restrict__ acc, uint32_t *__restrict__ dq,
                                 int64_t pairs)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < pairs;
         i += (int64_t)gridDim.x * blockDim.x) {
        const float2 v = acc[i];
        dq[i] = fl_pack<BF16>(v.x, v.y);
    }
}

template <int D, bool BF16>
static cudaError_t bwd_prepare(void)
{
    return cudaFuncSetAttribute((const void *)flash_bwd_kernel<D, BF16>,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, TB_FL_BWD_SMEM(D));
}

cudaError_t tb_attn_flash_bwd_prepare(void)
{
    cudaError_t e = bwd_prepare<64, true>();
    if (!e)
        e = bwd_prepare<64, false>();
    if (!e)
        e = bwd_prepare<128, true>();
    if (!e)
        e = bwd_prepare<128, false>();
    return e;
}

template <int D, bool BF16>
static cudaError_t bwd_launch(const tb_attn_shape *sh, const void *Q, const void *K,
                              const void *V, const void *dO, const float *lse, const float *Drow,
                              float *dQacc, void *dQ, void *dK, void *dV, cudaStream_t stream)
{
    // tiles x heads, in tb_attn_cta_at's order
    const int heads = sh->B * sh->KVH;
    const unsigned grid = (unsigned)((sh->S + TB_ATTN_BWD_BC - 1) / TB_ATTN_BWD_BC) * heads;
    flash_bwd_kernel<D, BF16><<<grid, TB_FL_THREADS, TB_FL_BWD_SMEM(D), stream>>>(
        (const uint16_t *)Q, (const uint16_t *)K, (const uint16_t *)V, (const uint16_t *)dO, lse,
        Drow, dQacc, (uint16_t *)dK, (uint16_t *)dV, sh->H, sh->KVH, sh->S, sh->causal,
        1.0f / sqrtf((float)D), heads);
    const int64_t pairs = (int64_t)sh->B * sh->H * sh->S * D / 2;
    int64_t blocks = (pairs + 255) / 256;
    flash_dq_convert<BF16><<<(unsigned)(blocks > 65535 * 8 ? 65535 * 8 : blocks), 256, 0, stream>>>(
        (const float2 *)dQacc, (uint32_t *)dQ, pairs);
    return cudaGetLastError();
}

extern "C" cudaError_t tb_attn_flash_bwd(const tb_attn_shape *sh, const void *Q, const void *K,
                                         const void *V, const void *O, const float *lse,
                                         const void *dO, float *Drow, float *dQacc, void *dQ,
                                         void *dK, void *dV, cudaStream_t stream)
{
    if (tb_attn_flash_unsupported(sh))
        return cudaErrorInvalidValue;
    cudaError_t e = tb_attn_rowdot(sh, dO, O, sh->storage, Drow, NULL, stream);
    if (!e)
        e = cudaMemsetAsync(dQacc, 0, (size_t)sh->B * sh->H * sh->S * sh->D * sizeof(float),
                            stream);
    if (e)
        return e;
    const bool bf16 = sh->storage == TB_MM_BF16;
    if (sh->D == 64)
        return bf16 ? bwd_launch<64, true>(sh, Q, K, V, dO, lse, Drow, dQacc, dQ, dK, dV, stream)
                    : bwd_launch<64, false>(sh, Q, K, V, dO, lse, Drow, dQacc, dQ, dK, dV, stream);
    return bf16 ? bwd_launch<128, true>(sh, Q, K, V, dO, lse, Drow, dQacc, dQ, dK, dV, stream)
                : bwd_launch<128, false>(sh, Q, K, V, dO, lse, Drow, dQacc, dQ, dK, dV, stream);
}
