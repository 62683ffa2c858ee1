// mma.cu - bf16 / fp16 matmul on tensor cores through mma.sync (sm_80+), fp32 accumulate, all
// three training layouts.
//
// Technique: a 128x256x32 block tile, eight warps each owning a 64x64 warp tile (4x8
// m16n8k16 tiles: 8 ldmatrix.x4 per 32 mma); operands stream global -> shared through a
// 4-stage cp.async pipeline (zero-filled at the edges), stored in XOR-swizzled 16-byte chunks
// so ldmatrix reads them without bank conflicts; ldmatrix.trans turns M- or N-contiguous
// operands (the gradient layouts) into the fragments mma.sync expects. Fragments are double
// buffered across k16 steps, k-tile boundaries included: each step's ldmatrix are issued
// before the previous step's mma, so shared-memory reads overlap the tensor cores. One CTA per
// SM (96 KiB, up to 255 registers). Thread blocks visit tiles in groups of 8 tile
// rows for L2 reuse; the epilogue converts pairs of fp32 to bf16/fp16 and stores them as one
// 32-bit word. Architecture: sm_80 and newer (on sm_90 cuBLAS uses wgmma, which this does not).
#include "../matmul.h"
#include "../ptx.cuh"
#include "../tb_dtype.h"
#include "mm_common.h"
#include "mma_layout.h" // every tile size, shared-memory offset and fragment index

// ldmatrix.x4, transposed or not as mma_layout.h says for the tile's layout (a constant:
// the branch folds away).
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], uint32_t smem_addr, const int trans)
{
    if (trans)
        tb_ptx_ldmatrix_x4_trans(r, smem_addr);
    else
        tb_ptx_ldmatrix_x4(r, smem_addr);
}

// Issues the cp.async copies of one operand's tile (rows r0.. of R, k0.. of K; `rows`, a
// constant, is TB_MMA_BM for A, TB_MMA_BN for B).
__device__ __forceinline__ void load_tile(uint32_t s_tile, const uint16_t *__restrict__ G,
                                          const int kmajor, const int rows, int R, int K, int r0,
                                          int k0)
{
    const int tid = threadIdx.x;
#pragma unroll
    for (int i = 0; i < rows * TB_MMA_BK * 2 / 16 / TB_MMA_THREADS; i++) {
        const int q = tid + i * TB_MMA_THREADS;
        if (kmajor) {
            const tb_mma_rc at = tb_mma_load_kmaj_at(q);
            const int gr = r0 + at.row, gk = k0 + at.chunk * 8;
            const bool ok = gr < R && gk < K;
            const uint16_t *src = ok ? G + (int64_t)gr * K + gk : G;
            tb_ptx_cp_async16(s_tile + tb_mma_kmaj_off(at.row, at.chunk), src, ok ? 16 : 0);
        } else {
            const tb_mma_rc at = tb_mma_load_mnmaj_at(q, rows);
            const int gk = k0 + at.row, gc = r0 + at.chunk * 8;
            const bool ok = gk < K && gc < R;
            const uint16_t *src = ok ? G + (int64_t)gk * R + gc : G;
            tb_ptx_cp_async16(s_tile + tb_mma_mnmaj_off(at.row, at.chunk, rows), src,
                              ok ? 16 : 0);
        }
    }
}

// Both operands of k-tile kt into its stage, as one cp.async group.
__device__ __forceinline__ void load_stage(uint32_t s0, const uint16_t *__restrict__ A,
                                           const uint16_t *__restrict__ B, const int a_kmajor,
                                           const int b_kmajor, int M, int N, int K, int m0,
                                           int n0, int kt)
{
    const uint32_t sa = s0 + tb_mma_stage(kt) * TB_MMA_STAGE_BYTES;
    load_tile(sa, A, a_kmajor, TB_MMA_BM, M, K, m0, kt * TB_MMA_BK);
    load_tile(sa + TB_MMA_A_BYTES, B, b_kmajor, TB_MMA_BN, N, K, n0, kt * TB_MMA_BK);
}

// One k16 step's fragments of a warp: A for its 4 m16 tiles, B for its 8 n8 tiles, read from
// the stage at sa (B at sa + TB_MMA_A_BYTES).
__device__ __forceinline__ void load_frags(uint32_t af[TB_MMA_MI][4], uint32_t bf[TB_MMA_NI][2],
                                           uint32_t sa, int kk, int wm, int wn, int lane,
                                           const int a_kmajor, const int b_kmajor)
{
    const uint32_t sb = sa + TB_MMA_A_BYTES;
#pragma unroll
    for (int np = 0; np < TB_MMA_NI / 2; np++) {
        const int nb = wn * TB_MMA_WARP_N + np * 16;
        uint32_t t[4];
        if (b_kmajor) {
            const tb_mma_rc at = tb_mma_ldsm_b_kmaj_at(lane, nb, kk);
            ldsm_x4(t, sb + tb_mma_kmaj_off(at.row, at.chunk), TB_MMA_LDSM_KMAJ_TRANS);
        } else {
            const tb_mma_rc at = tb_mma_ldsm_b_mnmaj_at(lane, nb, kk);
            ldsm_x4(t, sb + tb_mma_mnmaj_off(at.row, at.chunk, TB_MMA_BN),
                    TB_MMA_LDSM_MNMAJ_TRANS);
        }
#pragma unroll
        for (int reg = 0; reg < 4; reg++)
            bf[np * 2 + tb_mma_x4_b_tile(reg)][tb_mma_x4_b_half(reg)] = t[reg];
    }
#pragma unroll
    for (int mi = 0; mi < TB_MMA_MI; mi++) {
        const int rb = wm * TB_MMA_WARP_M + mi * 16;
        if (a_kmajor) {
            const tb_mma_rc at = tb_mma_ldsm_a_kmaj_at(lane, rb, kk);
            ldsm_x4(af[mi], sa + tb_mma_kmaj_off(at.row, at.chunk), TB_MMA_LDSM_KMAJ_TRANS);
        } else {
            const tb_mma_rc at = tb_mma_ldsm_a_mnmaj_at(lane, rb, kk);
            ldsm_x4(af[mi], sa + tb_mma_mnmaj_off(at.row, at.chunk, TB_MMA_BM),
                    TB_MMA_LDSM_MNMAJ_TRANS);
        }
    }
}

// The warp tile's 32 mma of one k16 step.
__device__ __forceinline__ void mma_step(float acc[TB_MMA_MI][TB_MMA_NI][4],
                                         const uint32_t af[TB_MMA_MI][4],
                                         const uint32_t bf[TB_MMA_NI][2], const int is_bf16)
{
#pragma unroll
    for (int mi = 0; mi < TB_MMA_MI; mi++)
#pragma unroll
        for (int ni = 0; ni < TB_MMA_NI; ni++) {
            if (is_bf16)
                tb_ptx_mma_bf16_16816(acc[mi][ni], af[mi], bf[ni]);
            else
                tb_ptx_mma_f16_16816(acc[mi][ni], af[mi], bf[ni]);
        }
}

__device__ __forceinline__ uint32_t pack2(float lo, float hi, const int is_bf16)
{
    uint32_t a = is_bf16 ? tb_f32_to_bf16(lo) : tb_f32_to_f16(lo);
    uint32_t b = is_bf16 ? tb_f32_to_bf16(hi) : tb_f32_to_f16(hi);
    return a | (b << 16);
}

__device__ __forceinline__ void store_pair(uint16_t *__restrict__ C, int M, int N, int row,
                                           int col, float v0, float v1, const int is_bf16)
{
    if (row >= M)
        return;
    uint16_t *p = C + (int64_t)row * N + col;
    if ((N & 1) == 0 && col + 1 < N) {
        *(uint32_t *)p = pack2(v0, v1, is_bf16);
        return;
    }
    if (col < N)
        p[0] = (uint16_t)(pack2(v0, 0.0f, is_bf16) & 0xffffu);
    if (col + 1 < N)
        p[1] = (uint16_t)(pack2(v1, 0.0f, is_bf16) & 0xffffu);
}

// The kernel body; a_kmajor, b_kmajor and is_bf16 are compile-time constants in each
// instantiation below, so the branches on them fold away.
__device__ __forceinline__ void mma_body(const int a_kmajor, const int b_kmajor,
                                         const int is_bf16, const uint16_t *__restrict__ A,
                                         const uint16_t *__restrict__ B, uint16_t *__restrict__ C,
                                         int M, int N, int K)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t s0 = tb_ptx_smem_addr(smem);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wm = tb_mma_warp_row(warp), wn = tb_mma_warp_col(warp);

    int64_t tile_m, tile_n;
    const int64_t m_tiles = (M + TB_MMA_BM - 1) / TB_MMA_BM;
    const int64_t n_tiles = (N + TB_MMA_BN - 1) / TB_MMA_BN;
    tb_mm_tile_of(blockIdx.x, m_tiles, n_tiles, TB_MMA_GROUP_M, &tile_m, &tile_n);
    const int m0 = (int)tile_m * TB_MMA_BM, n0 = (int)tile_n * TB_MMA_BN;

    float acc[TB_MMA_MI][TB_MMA_NI][4];
#pragma unroll
    for (int i = 0; i < TB_MMA_MI; i++)
#pragma unroll
        for (int j = 0; j < TB_MMA_NI; j++)
#pragma unroll
            for (int v = 0; v < 4; v++)
                acc[i][j][v] = 0.0f;

    const int KT = (K + TB_MMA_BK - 1) / TB_MMA_BK;
#pragma unroll
    for (int s = 0; s < TB_MMA_STAGES - 1; s++) {
        if (s < KT)
            load_stage(s0, A, B, a_kmajor, b_kmajor, M, N, K, m0, n0, s);
        tb_ptx_cp_async_commit();
    }
    TB_PTX_CP_ASYNC_WAIT(TB_MMA_WAIT_PENDING); // k-tile 0 has landed
    __syncthreads();

    uint32_t af[2][TB_MMA_MI][4], bf[2][TB_MMA_NI][2]; // two k16 steps' fragments
    load_frags(af[0], bf[0], s0, 0, wm, wn, lane, a_kmajor, b_kmajor);
    for (int kt = 0; kt < KT; kt++) {
        const uint32_t sa = s0 + tb_mma_stage(kt) * TB_MMA_STAGE_BYTES;
#pragma unroll
        for (int kk = 0; kk < TB_MMA_KSTEPS; kk++) {
            const int cur = tb_mma_frag_buf(kk), nxt = tb_mma_frag_buf(kk + 1);
            if (kk + 1 < TB_MMA_KSTEPS) {
                load_frags(af[nxt], bf[nxt], sa, kk + 1, wm, wn, lane, a_kmajor, b_kmajor);
            } else {
                // every fragment of k-tile kt is in registers: refill the stage of kt - 1
                // (read by all before the last barrier), wait for kt + 1, read its first step
                const int pf = kt + TB_MMA_STAGES - 1;
                if (pf < KT)
                    load_stage(s0, A, B, a_kmajor, b_kmajor, M, N, K, m0, n0, pf);
                tb_ptx_cp_async_commit();
                TB_PTX_CP_ASYNC_WAIT(TB_MMA_WAIT_PENDING); // k-tile kt + 1 has landed
                __syncthreads();
                if (kt + 1 < KT)
                    load_frags(af[nxt], bf[nxt], s0 + tb_mma_stage(kt + 1) * TB_MMA_STAGE_BYTES,
                               0, wm, wn, lane, a_kmajor, b_kmajor);
            }
            mma_step(acc, af[cur], bf[cur], is_bf16);
        }
    }
    TB_PTX_CP_ASYNC_WAIT(0);

    // accumulator (mi, ni): elements 0, 1 at row g, 2, 3 at row g + 8; pairs of columns
    const int g = tb_mma_lane_g(lane), t4 = tb_mma_lane_t4(lane);
#pragma unroll
    for (int mi = 0; mi < TB_MMA_MI; mi++)
#pragma unroll
        for (int ni = 0; ni < TB_MMA_NI; ni++) {
            const int row = m0 + wm * TB_MMA_WARP_M + mi * 16 + g;
            const int col = n0 + wn * TB_MMA_WARP_N + ni * 8 + tb_mma_t4_col(t4);
            store_pair(C, M, N, row + tb_mma_c_vrow(0), col + tb_mma_c_vcol(0), acc[mi][ni][0],
                       acc[mi][ni][1], is_bf16);
            store_pair(C, M, N, row + tb_mma_c_vrow(2), col + tb_mma_c_vcol(2), acc[mi][ni][2],
                       acc[mi][ni][3], is_bf16);
        }
}

#define MMA_KERNEL(NAME, A_KMAJOR, B_KMAJOR, IS_BF16)                                        \
    __global__ void __launch_bounds__(TB_MMA_THREADS, 1)                                        \
        NAME(const uint16_t *__restrict__ A, const uint16_t *__restrict__ B,                 \
             uint16_t *__restrict__ C, int M, int N, int K)                                  \
    {                                                                                        \
        mma_body(A_KMAJOR, B_KMAJOR, IS_BF16, A, B, C, M, N, K);                             \
    }

MMA_KERNEL(mm_mma_fwd_bf16, 1, 1, 1)
MMA_KERNEL(mm_mma_dgrad_bf16, 1, 0, 1)
MMA_KERNEL(mm_mma_wgrad_bf16, 0, 0, 1)
MMA_KERNEL(mm_mma_fwd_f16, 1, 1, 0)
MMA_KERNEL(mm_mma_dgrad_f16, 1, 0, 0)
MMA_KERNEL(mm_mma_wgrad_f16, 0, 0, 0)

extern "C" const char *tb_mm_mma_unsupported(int layout, int M, int N, int K)
{
    if (M < 1 || N < 1 || K < 1)
        return "needs M, N, K >= 1";
    if ((tb_mm_a_kmajor(layout) || tb_mm_b_kmajor(layout)) && K % 8 != 0)
        return "needs K a multiple of 8 (16-byte rows)";
    if (!tb_mm_a_kmajor(layout) && M % 8 != 0)
        return "needs M a multiple of 8 in this layout (A is M-contiguous)";
    if (!tb_mm_b_kmajor(layout) && N % 8 != 0)
        return "needs N a multiple of 8 in this layout (B is N-contiguous)";
    return NULL;
}

typedef void (*mma_kernel_fn)(const uint16_t *, const uint16_t *, uint16_t *, int, int, int);

extern "C" cudaError_t tb_mm_mma_prepare(void)
{
    const mma_kernel_fn all[] = {mm_mma_fwd_f16,  mm_mma_dgrad_f16,  mm_mma_wgrad_f16,
                                 mm_mma_fwd_bf16, mm_mma_dgrad_bf16, mm_mma_wgrad_bf16};
    for (int i = 0; i < 6; i++) {
        cudaError_t e = cudaFuncSetAttribute((const void *)all[i],
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             TB_MMA_SMEM_BYTES);
        if (e != cudaSuccess)
            return e;
    }
    return cudaSuccess;
}

extern "C" cudaError_t tb_mm_mma(int layout, int is_bf16, const void *A, const void *B, void *C,
                                 int M, int N, int K, cudaStream_t stream)
{
    if (tb_mm_mma_unsupported(layout, M, N, K))
        return cudaErrorInvalidValue;
    static const mma_kernel_fn kernels[2][3] = {
        {mm_mma_fwd_f16, mm_mma_dgrad_f16, mm_mma_wgrad_f16},
        {mm_mma_fwd_bf16, mm_mma_dgrad_bf16, mm_mma_wgrad_bf16}};
    if (layout < 0 || layout > 2)
        return cudaErrorInvalidValue;
    mma_kernel_fn fn = kernels[is_bf16 ? 1 : 0][layout];
    int64_t tiles = (int64_t)((M + TB_MMA_BM - 1) / TB_MMA_BM) * ((N + TB_MMA_BN - 1) / TB_MMA_BN);
    if (tiles > 0x7fffffff)
        return cudaErrorInvalidConfiguration;
    fn<<<(unsigned)tiles, TB_MMA_THREADS, TB_MMA_SMEM_BYTES, stream>>>(
        (const uint16_t *)A, (const uint16_t *)B, (uint16_t *)C, M, N, K);
    return cudaGetLastError();
}
