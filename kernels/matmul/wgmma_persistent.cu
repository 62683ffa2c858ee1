// wgmma_persistent.cu - bf16 matmul on Hopper (sm_90a only), fp32 accumulate, bf16 out, layout
// fwd: the wgmma ladder's persistent step.
//
// Technique (adds to wgmma_ws): a persistent grid, one CTA per SM, each looping over 128 x 256
// tiles dealt round-robin in grouped order (tb_wg_sched_tile: the tiles in flight at once
// share A and B tiles in L2). The ring's k-tile count runs on across tiles, so the producer
// loads the next tile while the consumers run this one's epilogue. The epilogue writes C
// through shared memory and TMA stores, which clip at the matrix edges: each consumer stages
// its 64 x 256 result in two halves of two 128-byte-swizzled 64 x 64 boxes through one 16 KiB
// buffer, waiting (cp.async.bulk.wait_group.read) only until the previous store has read it.
// The small staging buys a 4th stage: 4 x 48 KiB + 32 KiB. Not yet measured.
#include "wgmma_ws.cuh"

#define PERS_STAGES TB_WG_PERSISTENT_STAGES
#define PERS_SMEM WS_SMEM_BYTES(PERS_STAGES, 1)

__global__ void __launch_bounds__(WS_THREADS, 1)
    mm_wgmma_persistent(const __grid_constant__ CUtensorMap tm_a,
                        const __grid_constant__ CUtensorMap tm_b,
                        const __grid_constant__ CUtensorMap tm_c, uint16_t *__restrict__ C, int M,
                        int N, int K)
{
#if defined(WG_HAVE_SM90A)
    ws_body(PERS_STAGES, 1, 1, 1, 1, &tm_a, &tm_b, &tm_c, C, M, N, K);
#else
    (void)tm_a, (void)tm_b, (void)tm_c, (void)C, (void)M, (void)N, (void)K;
    __trap(); // built without sm_90a: tb_mm_wg_plan_make reports the case skipped first
#endif
}

extern "C" cudaError_t tb_mm_wgmma_persistent_prepare(void)
{
    return cudaFuncSetAttribute((const void *)mm_wgmma_persistent,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, PERS_SMEM);
}

extern "C" cudaError_t tb_mm_wgmma_persistent_launch(const tb_mm_wg_plan *p,
                                                     cudaStream_t stream)
{
    mm_wgmma_persistent<<<(unsigned)p->ctas, WS_THREADS, PERS_SMEM, stream>>>(
        wg_tmap(p, 0), wg_tmap(p, 1), wg_tmap(p, 2), (uint16_t *)p->C, p->M, p->N, p->K);
    return cudaGetLastError();
}
