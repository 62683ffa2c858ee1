// wgmma_ws.cu - bf16 matmul on Hopper (sm_90a only), fp32 accumulate, bf16 out, layout fwd:
// the wgmma ladder's warp-specialization step.
//
// Technique (adds to wgmma): warp specialization. One producer warpgroup (one thread issuing
// every TMA load, registers lowered to 40 by setmaxnreg) and two consumer warpgroups (raised
// to 232) each running wgmma.mma_async m64n256k16 on its 64 rows of a 128 x 256 tile; a
// 4-stage ring of 48 KiB stages whose full and empty mbarriers are waited on by raw parity
// (try_wait.parity), so loads run ahead without any CTA-wide barrier. A consumer keeps one
// k-tile of MMAs in flight and frees the stage before it. Edges: TMA zero fill on loads,
// predicated stores. Not yet measured.
#include "wgmma_ws.cuh"

#define WS_PLAIN_STAGES TB_WG_WS_STAGES
#define WS_PLAIN_SMEM WS_SMEM_BYTES(WS_PLAIN_STAGES, 0)

__global__ void __launch_bounds__(WS_THREADS, 1)
    mm_wgmma_ws(const __grid_constant__ CUtensorMap tm_a, const __grid_constant__ CUtensorMap tm_b,
                const __grid_constant__ CUtensorMap tm_c, uint16_t *__restrict__ C, int M, int N,
                int K)
{
#if defined(WG_HAVE_SM90A)
    ws_body(WS_PLAIN_STAGES, 0, 1, 1, 1, &tm_a, &tm_b, &tm_c, C, M, N, K);
#else
    (void)tm_a, (void)tm_b, (void)tm_c, (void)C, (void)M, (void)N, (void)K;
    __trap(); // built without sm_90a: tb_mm_wg_plan_make reports the case skipped first
#endif
}

extern "C" cudaError_t tb_mm_wgmma_ws_prepare(void)
{
    return cudaFuncSetAttribute((const void *)mm_wgmma_ws,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, WS_PLAIN_SMEM);
}

extern "C" cudaError_t tb_mm_wgmma_ws_launch(const tb_mm_wg_plan *p, cudaStream_t stream)
{
    mm_wgmma_ws<<<(unsigned)p->ctas, WS_THREADS, WS_PLAIN_SMEM, stream>>>(
        wg_tmap(p, 0), wg_tmap(p, 1), wg_tmap(p, 2), (uint16_t *)p->C, p->M, p->N, p->K);
    return cudaGetLastError();
}
