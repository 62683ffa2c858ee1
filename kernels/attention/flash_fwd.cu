// flash_fwd.cu - FlashAttention-2 style forward on tensor cores (sm_80+), bf16 or fp16 in,
// fp32 accumulate, head dim 64 or 128.
//
// Technique: one CTA of 4 warps per query tile of one head, each warp MT m16 row tiles, so every K
// and V fragment read from shared memory feeds MT MMAs: MT = 2 (128 rows) at head dim 64, and at
// 128 on sm_90; MT = 1 (64 rows) at head dim 128 on sm_80 and sm_100, where two row tiles need more
// than 255 registers (attn_common.h: TB_ATTN_FWD_MT). The kernel is instantiated per MT; an
// instantiation that is not its architecture's is a trap, and the host launches the one matching
// the PTX version the kernels were compiled for. Q's fragments stay in registers at head dim 64 and
// at 128 with one row tile, and are read from the Q tile in shared memory at 128 with two (there O
// and S already hold 192 registers). K and V stream through a 2-stage cp.async ring of 64-row
// tiles, stored as XOR-swizzled 16-byte chunks so ldmatrix (and ldmatrix.trans for V) reads them
// without bank conflicts; each thread's copy offsets are computed once and one offset advances per
// tile. S = Q K^T and O += P V are mma.sync m16n8k16; the online softmax (attn_common.h) runs in
// registers in base 2: the row maximum is taken on the raw scores and each probability is one FFMA
// (scale log2 e folded in) and one ex2.approx.ftz; P never leaves registers (the S accumulators are
// repacked as the A operand of P V); 1/l is applied once at the end and the log-sum-exp is written
// for the backward. A causal mask skips the tiles above the diagonal and masks only the diagonal
// tiles; rows and keys past the sequence are predicated (zero-filled loads, masked keys, unstored
// rows). Grouped-query heads read their shared K/V head. CTAs run the query tiles longest first
// (the last, under a causal mask), all heads of a tile before the next (tb_attn_cta_at).
#include "../attention.h"
#include "flash_common.cuh"

#ifdef __CUDA_ARCH__
#define FL_ARCH (__CUDA_ARCH__ / 10)
#else
#define FL_ARCH 0
#endif

template <int D, bool BF16, int MT>
__device__ __forceinline__ void flash_fwd_tile(const uint16_t *__restrict__ Q,
                                               const uint16_t *__restrict__ K,
                                               const uint16_t *__restrict__ V,
                                               uint16_t *__restrict__ O, float *__restrict__ lse,
                                               int H, int KVH, int S, int causal,
                                               float scale_log2, int heads)
{
    constexpr int BR = 4 * 16 * MT, BC = TB_ATTN_FWD_BC;
    static_assert(TB_FL_WARPS == 4, "a query tile is 4 warps x MT row tiles");
    constexpr int NT = BC / 8;       // n8 tiles of S per row tile
    constexpr int DT = D / 8;        // n8 tiles of O per row tile
    constexpr int KK = D / 16;       // k16 slices of Q K^T
    constexpr bool Q_REGS = TB_FL_FWD_Q_IN_REGS(D, MT);
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t s0 = tb_ptx_smem_addr(smem);
    const uint32_t sQ = s0 + TB_FL_FWD_Q_OFF(D, BR);

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = tb_fl_lane_g(lane), t4 = tb_fl_lane_t4(lane);
    const tb_attn_cta cta = tb_attn_cta_at(blockIdx.x, heads);
    const int q0 = tb_attn_fwd_tile_q0(cta.tile, S, BR);
    const int bh = cta.head, b = bh / H, h = bh % H;
    const int kvh = h / (H / KVH);
    const uint16_t *Qh = Q + (int64_t)bh * S * D;
    const uint16_t *Kh = K + ((int64_t)b * KVH + kvh) * S * D;
    const uint16_t *Vh = V + ((int64_t)b * KVH + kvh) * S * D;
    const fl_loader ld = fl_loader_make<D>();

    const int T = tb_attn_kv_tiles(q0, BR, BC, S, causal);
    fl_load_tile<D, BR>(sQ, Qh + (int64_t)q0 * D + ld.g_off, Q, ld, S - q0);
    tb_ptx_cp_async_commit();
    uint32_t kv = ld.g_off; // the thread's first element of key tile t, advanced per tile
    fl_load_tile<D, BC>(s0 + TB_FL_FWD_K_OFF(D, BR, tb_fl_stage(0)), Kh + kv, K, ld, S);
    fl_load_tile<D, BC>(s0 + TB_FL_FWD_V_OFF(D, BR, tb_fl_stage(0)), Vh + kv, V, ld, S);
    tb_ptx_cp_async_commit();

    // Q's A fragments, loaded once where they stay in registers
    uint32_t qf[Q_REGS ? MT : 1][Q_REGS ? KK : 1][4];
    if (Q_REGS) {
        TB_PTX_CP_ASYNC_WAIT(TB_FL_WAIT_PENDING); // the Q group has landed
        __syncthreads();
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int kk = 0; kk < KK; kk++)
                fl_ldsm_a<D>(qf[mt][kk], sQ, tb_fl_fwd_m0(warp, mt, MT), kk);
    }

    float o[MT][DT][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int i = 0; i < DT; i++)
            o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
    // the lane's rows: accumulator rows v = 0, 2 of each row tile
    tb_attn_row row[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
        row[mt][0] = row[mt][1] = tb_attn_row{-INFINITY, 0.0f};

    for (int t = 0; t < T; t++) {
        if (t + 1 < T) {
            const int st = tb_fl_stage(t + 1);
            const fl_loader ld = fl_loader_make<D>(); // a few integer ops: cheaper than registers
            kv += BC * D;
            fl_load_tile<D, BC>(s0 + TB_FL_FWD_K_OFF(D, BR, st), Kh + kv, K, ld, S - (t + 1) * BC);
            fl_load_tile<D, BC>(s0 + TB_FL_FWD_V_OFF(D, BR, st), Vh + kv, V, ld, S - (t + 1) * BC);
        }
        tb_ptx_cp_async_commit();
        TB_PTX_CP_ASYNC_WAIT(TB_FL_WAIT_PENDING); // tile t (and Q) have landed
        __syncthreads();
        const uint32_t kt = s0 + TB_FL_FWD_K_OFF(D, BR, tb_fl_stage(t));
        const uint32_t vt = s0 + TB_FL_FWD_V_OFF(D, BR, tb_fl_stage(t));
        const int k0 = t * BC;

        // S = Q K^T for the warp's 16 MT rows x 64 keys: each K fragment feeds every row tile
        float s[MT][NT][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int i = 0; i < NT; i++)
                s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KK; kk++) {
            uint32_t a[MT][4];
            if (!Q_REGS)
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
                    fl_ldsm_a<D>(a[mt], sQ, tb_fl_fwd_m0(warp, mt, MT), kk);
#pragma unroll
            for (int np = 0; np < NT / 2; np++) {
                uint32_t b0[2], b1[2];
                fl_ldsm_bt<D>(b0, b1, kt, np * 16, kk);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    const uint32_t *am = Q_REGS ? qf[Q_REGS ? mt : 0][Q_REGS ? kk : 0] : a[mt];
                    fl_mma<BF16>(s[mt][2 * np], am, b0);
                    fl_mma<BF16>(s[mt][2 * np + 1], am, b1);
                }
            }
        }

        // online softmax, base 2: the maximum of the raw scores (masked ones -inf), then
        // p = 2^(s scale log2e - m) as one FFMA and one ex2
        const bool masked = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, causal);
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            const int r_lo = q0 + tb_fl_fwd_m0(warp, mt, MT) + g; // the lane's first row here
            float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int i = 0; i < NT; i++)
#pragma unroll
                for (int v = 0; v < 4; v++) {
                    if (masked) {
                        const int qi = r_lo + tb_fl_c_vrow(v);
                        const int kj = k0 + i * 8 + tb_fl_t4_col(t4) + tb_fl_c_vcol(v);
                        if (tb_attn_masked(qi, kj, S, causal))
                            s[mt][i][v] = -INFINITY;
                    }
                    mx[v >> 1] = fmaxf(mx[v >> 1], s[mt][i][v]);
                }
            float nbase[2]; // -(the row's base), in base-2 units
#pragma unroll
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], tb_fl_quad_xor(0)));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], tb_fl_quad_xor(1)));
                const float alpha = tb_attn_row_update(&row[mt][r], mx[r] * scale_log2);
                nbase[r] = -tb_attn_row_base(row[mt][r].m);
#pragma unroll
                for (int i = 0; i < DT; i++) {
                    o[mt][i][2 * r] *= alpha;
                    o[mt][i][2 * r + 1] *= alpha;
                }
            }
#pragma unroll
            for (int i = 0; i < NT; i++)
#pragma unroll
                for (int v = 0; v < 4; v++) {
                    const float p = tb_attn_exp2(fmaf(s[mt][i][v], scale_log2, nbase[v >> 1]));
                    s[mt][i][v] = p;
                    row[mt][v >> 1].l += p; // this thread's share; the quad's are summed at the end
                }
        }

        // O += P V: P from registers, V through ldmatrix.trans, each V fragment for every row tile
#pragma unroll
        for (int kk = 0; kk < BC / 16; kk++) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
                fl_c_to_a<BF16>(a[mt], s[mt][2 * kk], s[mt][2 * kk + 1]);
#pragma unroll
            for (int np = 0; np < DT / 2; np++) {
                uint32_t b0[2], b1[2];
                fl_ldsm_b<D>(b0, b1, vt, kk * 16, np * 16);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    fl_mma<BF16>(o[mt][2 * np], a[mt], b0);
                    fl_mma<BF16>(o[mt][2 * np + 1], a[mt], b1);
                }
            }
        }
        __syncthreads(); // this stage is refilled by a later iteration's loads
    }
    TB_PTX_CP_ASYNC_WAIT(0);

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            row[mt][r].l += __shfl_xor_sync(0xffffffffu, row[mt][r].l, tb_fl_quad_xor(0));
            row[mt][r].l += __shfl_xor_sync(0xffffffffu, row[mt][r].l, tb_fl_quad_xor(1));
            const int qi = q0 + tb_fl_fwd_m0(warp, mt, MT) + g + tb_fl_c_vrow(2 * r);
            if (qi >= S)
                continue;
            const float inv = tb_attn_row_inv(row[mt][r]);
            uint16_t *orow = O + ((int64_t)bh * S + qi) * D;
#pragma unroll
            for (int i = 0; i < DT; i++)
                *(uint32_t *)(orow + i * 8 + tb_fl_t4_col(t4)) =
                    fl_pack<BF16>(o[mt][i][2 * r] * inv, o[mt][i][2 * r + 1] * inv);
            if (t4 == 0) // one lane of the row's quad
                lse[(int64_t)bh * S + qi] = tb_attn_row_lse(row[mt][r]);
        }
}

template <int D, bool BF16, int MT>
__global__ void __launch_bounds__(TB_FL_THREADS, 2)
    flash_fwd_kernel(const uint16_t *__restrict__ Q, const uint16_t *__restrict__ K,
                     const uint16_t *__restrict__ V, uint16_t *__restrict__ O,
                     float *__restrict__ lse, int H, int KVH, int S, int causal, float scale_log2,
                     int heads)
{
    if constexpr (MT == TB_ATTN_FWD_MT(D, FL_ARCH))
        flash_fwd_tile<D, BF16, MT>(Q, K, V, O, lse, H, KVH, S, causal, scale_log2, heads);
    else
        __trap(); // not this architecture's row-tile count: the host never launches it
}

// The architecture the forward kernels run as on the prepared device (their PTX version,
// __CUDA_ARCH__ / 10 in their code); 0 before tb_attn_flash_prepare.
static int fwd_arch;

// Row tiles per warp for head dim D on the prepared device: D's instantiations are MT = 2 and
// (at D = 128) MT = 1.
template <int D>
static int fwd_mt(void)
{
    return tb_attn_fwd_br(D, fwd_arch) / 64;
}

template <int D, bool BF16, int MT>
static cudaError_t fwd_prepare_mt(void)
{
    return cudaFuncSetAttribute((const void *)flash_fwd_kernel<D, BF16, MT>,
                                cudaFuncAttributeMaxDynamicSharedMemorySize,
                                TB_FL_FWD_SMEM(D, 64 * MT));
}

template <int D, bool BF16>
static cudaError_t fwd_prepare(void)
{
    return fwd_mt<D>() == 2 ? fwd_prepare_mt<D, BF16, 2>()
                            : fwd_prepare_mt<D, BF16, TB_ATTN_FWD_MT(D, 0)>();
}

template <int D, bool BF16, int MT>
static cudaError_t fwd_launch_mt(const tb_attn_shape *sh, const void *Q, const void *K,
                                 const void *V, void *O, float *lse, cudaStream_t stream)
{
    // tiles x heads, in tb_attn_cta_at's order
    constexpr int BR = 64 * MT;
    const int heads = sh->B * sh->H;
    const unsigned grid = (unsigned)((sh->S + BR - 1) / BR) * heads;
    const float scale_log2 = TB_ATTN_LOG2E / sqrtf((float)D);
    flash_fwd_kernel<D, BF16, MT><<<grid, TB_FL_THREADS, TB_FL_FWD_SMEM(D, BR), stream>>>(
        (const uint16_t *)Q, (const uint16_t *)K, (const uint16_t *)V, (uint16_t *)O, lse,
        sh->H, sh->KVH, sh->S, sh->causal, scale_log2, heads);
    return cudaGetLastError();
}

template <int D, bool BF16>
static cudaError_t fwd_launch(const tb_attn_shape *sh, const void *Q, const void *K,
                              const void *V, void *O, float *lse, cudaStream_t stream)
{
    return fwd_mt<D>() == 2
               ? fwd_launch_mt<D, BF16, 2>(sh, Q, K, V, O, lse, stream)
               : fwd_launch_mt<D, BF16, TB_ATTN_FWD_MT(D, 0)>(sh, Q, K, V, O, lse, stream);
}

extern "C" int tb_attn_flash_fwd_rows(int D)
{
    return tb_attn_fwd_br(D, fwd_arch);
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
    if ((int64_t)sh->S * sh->D >= ((int64_t)1 << 31))
        return "needs sequence x head dim < 2^31";
    return NULL;
}

cudaError_t tb_attn_flash_bwd_prepare(void);

extern "C" cudaError_t tb_attn_flash_prepare(void)
{
    cudaFuncAttributes fa;
    cudaError_t e = cudaFuncGetAttributes(&fa, (const void *)flash_fwd_kernel<64, true, 2>);
    fwd_arch = e ? 0 : fa.ptxVersion;
    if (!e)
        e = fwd_prepare<64, true>();
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
