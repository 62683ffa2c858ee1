// wgmma.cu - bf16 matmul on Hopper tensor cores through wgmma (sm_90a only), fp32 accumulate,
// bf16 out, layout fwd (C = A B^T, both operands K-major): the first step of the wgmma ladder.
//
// Technique: one TMA copy per operand and stage (tensor maps from cuTensorMapEncodeTiled,
// 128-byte swizzle, zeros beyond the matrix edges) completing on a full mbarrier; a 3-stage
// shared-memory ring of 128 x 64 A and 128 x 64 B tiles (96 KiB: two CTAs per SM, so one's
// epilogue overlaps the other's mainloop); two warpgroups, each issuing wgmma.mma_async
// m64n128k16 on its 64 rows of the 128 x 128 output tile straight from shared memory through
// matrix descriptors. Every thread both waits for loads and computes; a warpgroup keeps one
// k-tile of wgmma in flight (wgmma.wait_group 1), so the tensor cores never drain inside the
// loop: once k-tile kt - 1 has retired it frees that stage on its empty mbarrier, and thread 0,
// when both warpgroups have, refills it with k-tile kt - 1 + 3. Edges: predicated 32-bit
// stores. Not yet measured.
#include "wgmma_common.cuh"

#define PLAIN_BN WG_PLAIN_BN
#define PLAIN_STAGES TB_WG_PLAIN_STAGES
#define PLAIN_THREADS (128 * TB_WG_PLAIN_WARPGROUPS)
#define PLAIN_STAGE_BYTES TB_WG_PLAIN_STAGE_BYTES // A 16 KiB + B 16 KiB
#define PLAIN_SMEM_BYTES (PLAIN_STAGES * PLAIN_STAGE_BYTES + 16 * PLAIN_STAGES + WG_SMEM_SLACK)

__global__ void __launch_bounds__(PLAIN_THREADS, 2)
    mm_wgmma_plain(const __grid_constant__ CUtensorMap tm_a,
                   const __grid_constant__ CUtensorMap tm_b, uint16_t *__restrict__ C, int M,
                   int N, int K)
{
#if defined(WG_HAVE_SM90A)
    extern __shared__ unsigned char smem_raw[];
    unsigned char *smem = wg_smem_aligned(smem_raw);
    const uint32_t s0 = tb_ptx_smem_addr(smem);
    // stage s: A at s0 + s * STAGE_BYTES, B 16 KiB after; then full[stages], empty[stages]
    const uint32_t full0 = s0 + PLAIN_STAGES * PLAIN_STAGE_BYTES;
    const uint32_t empty0 = full0 + 8 * PLAIN_STAGES;
    const int tid = threadIdx.x, wg = tid >> 7;

    if (tid == 0) {
        for (int s = 0; s < PLAIN_STAGES; s++) {
            tb_ptx_mbarrier_init(full0 + 8 * s, tb_wg_full_count());
            tb_ptx_mbarrier_init(empty0 + 8 * s, tb_wg_plain_empty_count());
        }
        tb_ptx_fence_mbarrier_init();
    }
    __syncthreads();

    int64_t tile_m, tile_n;
    const int64_t m_tiles = ((int64_t)M + WG_BM - 1) / WG_BM;
    const int64_t n_tiles = ((int64_t)N + PLAIN_BN - 1) / PLAIN_BN;
    tb_mm_tile_of(blockIdx.x, m_tiles, n_tiles, WG_GROUP_M, &tile_m, &tile_n);
    const int m0 = (int)tile_m * WG_BM, n0 = (int)tile_n * PLAIN_BN;
    const int KT = (int)(((int64_t)K + TB_WG_BK - 1) / TB_WG_BK);

    if (tid == 0)
        for (int s = 0; s < PLAIN_STAGES && s < KT; s++) {
            tb_ptx_mbarrier_arrive_expect_tx(full0 + 8 * s, tb_wg_plain_expect_tx());
            tb_ptx_tma_load_2d(tb_wg_plain_stage_a(s0, s), &tm_a, s * TB_WG_BK, m0, full0 + 8 * s);
            tb_ptx_tma_load_2d(tb_wg_plain_stage_b(s0, s), &tm_b, s * TB_WG_BK, n0, full0 + 8 * s);
        }

    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; i++)
        acc[i] = 0.0f;

    for (int kt = 0; kt < KT; kt++) {
        const uint32_t s = tb_wg_stage((uint32_t)kt, PLAIN_STAGES);
        const uint32_t sa = tb_wg_plain_stage_a(s0, s), sb = tb_wg_plain_stage_b(s0, s);
        tb_ptx_mbarrier_wait_parity(full0 + 8 * s, tb_wg_full_parity((uint32_t)kt, PLAIN_STAGES));
        tb_ptx_wgmma_fence();
        wg_ktile_n128(acc, tb_wg_warpgroup_a(sa, wg), sb);
        tb_ptx_wgmma_commit_group();
        TB_PTX_WGMMA_WAIT_GROUP(TB_WG_PLAIN_MMA_IN_FLIGHT); // k-tile kt - 1 has retired
        if (kt < TB_WG_PLAIN_MMA_IN_FLIGHT)
            continue;
        const uint32_t done = tb_wg_plain_retired((uint32_t)kt);
        const uint32_t sd = tb_wg_stage(done, PLAIN_STAGES);
        if ((tid & 127) == 0) // this warpgroup is done with stage sd
            tb_ptx_mbarrier_arrive(empty0 + 8 * sd);
        const uint32_t next = done + PLAIN_STAGES;
        if (tid == 0 && next < (uint32_t)KT) { // ... and, once the other is too, it is refilled
            tb_ptx_mbarrier_wait_parity(empty0 + 8 * sd, tb_wg_empty_parity(next, PLAIN_STAGES));
            tb_ptx_mbarrier_arrive_expect_tx(full0 + 8 * sd, tb_wg_plain_expect_tx());
            tb_ptx_tma_load_2d(tb_wg_plain_stage_a(s0, sd), &tm_a, (int)next * TB_WG_BK, m0,
                               full0 + 8 * sd);
            tb_ptx_tma_load_2d(tb_wg_plain_stage_b(s0, sd), &tm_b, (int)next * TB_WG_BK, n0,
                               full0 + 8 * sd);
        }
    }
    TB_PTX_WGMMA_WAIT_GROUP(0);
#pragma unroll
    for (int i = 0; i < 64; i++)
        tb_ptx_fence_operand(&acc[i]);
    wg_store_global(C, M, N, m0 + wg * 64, n0, acc, PLAIN_BN);
#else
    (void)tm_a, (void)tm_b, (void)C, (void)M, (void)N, (void)K;
    __trap(); // built without sm_90a: tb_mm_wg_plan_make reports the case skipped first
#endif
}

extern "C" cudaError_t tb_mm_wgmma_plain_prepare(void)
{
    return cudaFuncSetAttribute((const void *)mm_wgmma_plain,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, PLAIN_SMEM_BYTES);
}

extern "C" cudaError_t tb_mm_wgmma_plain_launch(const tb_mm_wg_plan *p, cudaStream_t stream)
{
    mm_wgmma_plain<<<(unsigned)p->ctas, PLAIN_THREADS, PLAIN_SMEM_BYTES, stream>>>(
        wg_tmap(p, 0), wg_tmap(p, 1), (uint16_t *)p->C, p->M, p->N, p->K);
    return cudaGetLastError();
}
