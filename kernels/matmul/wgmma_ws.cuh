// wgmma_ws.cuh - the warp-specialized body the wgmma_ws, wgmma_persistent and wgmma_cluster
// kernels instantiate (sm_90a): a producer warpgroup streams TMA loads through a ring of
// stages guarded by full/empty mbarriers, two consumer warpgroups run wgmma on them. Which
// steps of the ladder are on is fixed per kernel by compile-time arguments.
#ifndef TB_WGMMA_WS_CUH
#define TB_WGMMA_WS_CUH

#include "wgmma_common.cuh"

#define WS_BN WG_WS_BN
#define WS_THREADS (128 * (1 + TB_WG_WS_CONSUMERS)) // producer warpgroup + consumer warpgroups
#define WS_A_BYTES TB_WG_WS_A_BYTES         // 128 x 64 bf16
#define WS_B_BYTES TB_WG_WS_B_BYTES         // 256 x 64 bf16
#define WS_STAGE_BYTES TB_WG_WS_STAGE_BYTES // 48 KiB
#define WS_C_BYTES (WG_BM * WG_C_SUB_COLS * 2) // C staged for TMA stores: 16 KiB per consumer
// setmaxnreg: the producer gives registers up, the consumers (128 fp32 accumulators each
// thread) take them: 128 x 40 + 256 x 232 = 64512 of the SM's 65536.
#define WS_PRODUCER_REGS 40
#define WS_CONSUMER_REGS 232
#define WS_SMEM_BYTES(stages, tma_store)                                                       \
    ((stages) * WS_STAGE_BYTES + ((tma_store) ? WS_C_BYTES : 0) + 16 * (stages) + WG_SMEM_SLACK)

#if defined(WG_HAVE_SM90A)
// Frees stage `stage` for the producer(s): one arrival per consumer warpgroup on the empty
// barrier of every CTA of the cluster (each CTA's producer multicasts into all of them).
__device__ __forceinline__ void ws_release(uint32_t empty0, uint32_t stage, const int cluster)
{
    if ((threadIdx.x & 127) != 0)
        return;
    if (cluster > 1) {
        for (int r = 0; r < cluster; r++)
            tb_ptx_mbarrier_arrive_cluster(tb_ptx_mapa(empty0 + 8 * stage, (uint32_t)r));
    } else {
        tb_ptx_mbarrier_arrive(empty0 + 8 * stage);
    }
}

// Stages columns 128 h .. 128 h + 127 of a consumer's 64 x 256 result (h a constant, so the
// accumulators stay in registers) in its staging buffer s_cw once the previous TMA store has
// read it, and stores them with TMA (clipped at the matrix edges).
__device__ __forceinline__ void ws_store_c_half(const CUtensorMap *tm_c, unsigned char *s_cw,
                                                const float acc[128], const int h, int row0,
                                                int n0, int M, int N)
{
    const int t = threadIdx.x & 127, cw = (threadIdx.x >> 7) - 1;
    if (t == 0)
        TB_PTX_BULK_WAIT_GROUP_READ(0);
    tb_ptx_named_barrier_sync(1 + cw, 128);
    wg_stage_c128(s_cw, acc, h);
    tb_ptx_fence_proxy_async_shared(); // the writes, before the async proxy reads them
    tb_ptx_named_barrier_sync(1 + cw, 128);
    if (t == 0 && row0 < M) {
        for (int b = 0; b < WG_C_SUB_COLS / WG_C_BOX; b++) {
            const int col = n0 + h * WG_C_SUB_COLS + b * WG_C_BOX;
            if (col < N)
                tb_ptx_tma_store_2d(tm_c, col, row0,
                                    tb_ptx_smem_addr(s_cw) + b * (WG_C_BOX * WG_C_BOX * 2));
        }
        tb_ptx_bulk_commit_group();
    }
}

// stages: the ring's depth. a_kmajor, b_kmajor: the layout's operands, K-major or M/N-major
// (mm_common.h; 1, 1 for fwd). tma_store: the epilogue stages C in shared memory and writes it
// with TMA stores (else predicated global stores). cluster: CTAs per cluster (1 or 2; with 2
// the pair shares the B tile, each loading half and multicasting it). The grid is one CTA per
// tile, or fewer that loop over tiles (persistent): tb_wg_sched_tile deals them.
__device__ __forceinline__ void ws_body(const int stages, const int tma_store, const int cluster,
                                        const int a_kmajor, const int b_kmajor,
                                        const CUtensorMap *tm_a, const CUtensorMap *tm_b,
                                        const CUtensorMap *tm_c, uint16_t *__restrict__ C, int M,
                                        int N, int K)
{
    extern __shared__ unsigned char smem_raw[];
    unsigned char *smem = wg_smem_aligned(smem_raw);
    const uint32_t s0 = tb_ptx_smem_addr(smem);
    // stages x [A 16 KiB | B 32 KiB], the C staging (tma_store), full[stages], empty[stages]
    unsigned char *s_c = smem + stages * WS_STAGE_BYTES;
    const uint32_t full0 = s0 + stages * WS_STAGE_BYTES + (tma_store ? WS_C_BYTES : 0);
    const uint32_t empty0 = full0 + 8 * stages;
    const int tid = threadIdx.x, wg = tid >> 7, t = tid & 127;
    const uint32_t rank = cluster > 1 ? tb_ptx_cluster_ctarank() : 0;

    if (tid == 0) {
        for (int s = 0; s < stages; s++) {
            tb_ptx_mbarrier_init(full0 + 8 * s, tb_wg_full_count());
            tb_ptx_mbarrier_init(empty0 + 8 * s, tb_wg_empty_count(cluster));
        }
        tb_ptx_fence_mbarrier_init();
    }
    // the peer's barriers must exist before this CTA's multicasts and arrivals reach them
    if (cluster > 1)
        tb_ptx_cluster_sync();
    else
        __syncthreads();

    const int64_t m_tiles = ((int64_t)M + WG_BM - 1) / WG_BM;
    const int64_t n_tiles = ((int64_t)N + WS_BN - 1) / WS_BN;
    const int64_t group = WG_GROUP_M / cluster;
    const int KT = (int)(((int64_t)K + TB_WG_BK - 1) / TB_WG_BK);
    const int cta = blockIdx.x, ctas = gridDim.x;
    int64_t tm, tn;

    if (wg == 0) {
        TB_PTX_SETMAXNREG_DEC(WS_PRODUCER_REGS);
        if (t == 0) {
            uint32_t it = 0; // k-tiles loaded so far, across tiles: the ring never restarts
            for (int64_t step = 0;
                 tb_wg_sched_tile(step, cta, ctas, cluster, m_tiles, n_tiles, group, &tm, &tn);
                 step++) {
                const int m0 = (int)tm * WG_BM, n0 = (int)tn * WS_BN;
                for (int kt = 0; kt < KT; kt++, it++) {
                    const uint32_t s = tb_wg_stage(it, stages);
                    const uint32_t sa = tb_wg_ws_stage_a(s0, s), sb = tb_wg_ws_stage_b(s0, s);
                    const uint32_t full = full0 + 8 * s;
                    if (tb_wg_waits_empty(it, stages)) // the consumers' release of its last use
                        tb_ptx_mbarrier_wait_parity(empty0 + 8 * s, tb_wg_empty_parity(it, stages));
                    tb_ptx_mbarrier_arrive_expect_tx(full, tb_wg_ws_expect_tx(cluster));
                    wg_load_operand(sa, tm_a, a_kmajor, WG_BM, m0, kt * TB_WG_BK, full, 0);
                    for (int j = 0; j < tb_wg_ws_b_boxes(cluster); j++) {
                        // box: 128 rows of B (K-major) or 128 columns (N-major: two blocks)
                        const int box = tb_wg_ws_b_box(cluster, (int)rank, j);
                        wg_load_operand(sb + (uint32_t)box * WG_BOX_BYTES, tm_b, b_kmajor,
                                        WG_BOX_ROWS, n0 + box * WG_BOX_ROWS, kt * TB_WG_BK, full,
                                        cluster > 1 ? (uint16_t)((1u << cluster) - 1) : 0);
                    }
                }
            }
        }
    } else {
        TB_PTX_SETMAXNREG_INC(WS_CONSUMER_REGS);
        const int cw = wg - 1; // rows 64 cw .. 64 cw + 63 of the tile
        unsigned char *s_cw = s_c + cw * (WS_C_BYTES / 2);
        uint32_t it = 0;
        float acc[128];
        for (int64_t step = 0;
             tb_wg_sched_tile(step, cta, ctas, cluster, m_tiles, n_tiles, group, &tm, &tn);
             step++) {
            const int m0 = (int)tm * WG_BM, n0 = (int)tn * WS_BN;
#pragma unroll
            for (int i = 0; i < 128; i++)
                acc[i] = 0.0f;
            for (int kt = 0; kt < KT; kt++, it++) {
                const uint32_t s = tb_wg_stage(it, stages);
                tb_ptx_mbarrier_wait_parity(full0 + 8 * s, tb_wg_full_parity(it, stages));
                tb_ptx_wgmma_fence();
                wg_ktile_n256(acc, tb_wg_warpgroup_a(tb_wg_ws_stage_a(s0, s), cw),
                              tb_wg_ws_stage_b(s0, s), a_kmajor, b_kmajor);
                tb_ptx_wgmma_commit_group();
                // TB_WG_WS_MMA_IN_FLIGHT k-tiles of MMAs stay in flight; the newest one the wait
                // retired is done: free its stage
                TB_PTX_WGMMA_WAIT_GROUP(TB_WG_WS_MMA_IN_FLIGHT);
                if (kt >= TB_WG_WS_MMA_IN_FLIGHT)
                    ws_release(empty0, tb_wg_stage(tb_wg_ws_retired(it), stages), cluster);
            }
            TB_PTX_WGMMA_WAIT_GROUP(0);
            // the tile's last k-tiles, still held: all retired now
            for (int d = KT < TB_WG_WS_MMA_IN_FLIGHT ? KT : TB_WG_WS_MMA_IN_FLIGHT; d > 0; d--)
                ws_release(empty0, tb_wg_stage(it - (uint32_t)d, stages), cluster);
#pragma unroll
            for (int i = 0; i < 128; i++)
                tb_ptx_fence_operand(&acc[i]);

            const int row0 = m0 + cw * 64;
            if (!tma_store) {
                wg_store_global(C, M, N, row0, n0, acc, WS_BN);
                continue;
            }
            // C leaves in two 64 x 128 halves through the consumer's 16 KiB staging buffer:
            // before each half is written there, the previous TMA store has read it
            ws_store_c_half(tm_c, s_cw, acc, 0, row0, n0, M, N);
            ws_store_c_half(tm_c, s_cw, acc, 1, row0, n0, M, N);
        }
        if (tma_store && t == 0)
            TB_PTX_BULK_WAIT_GROUP(0);
    }
    // no CTA leaves while its peer may still arrive on its barriers
    if (cluster > 1)
        tb_ptx_cluster_sync();
}
#endif

#endif
