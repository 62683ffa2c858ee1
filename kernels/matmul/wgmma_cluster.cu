// wgmma_cluster.cu - bf16 matmul on Hopper (sm_90a only), fp32 accumulate, bf16 out, all three
// training layouts: the wgmma ladder's cluster step.
//
// Technique (adds to wgmma_persistent): thread-block clusters of 2, launched through
// cudaLaunchKernelEx. The two CTAs of a cluster take vertically adjacent 128 x 256 tiles (the
// same B tile): each loads its own A tile and half of the B tile, multicast by TMA into both
// CTAs' shared memory, so B crosses L2 once per pair. A stage is refilled only after the
// consumers of both CTAs released it (empty barriers count four arrivals, two of them from the
// peer through mapa); the CTAs meet at cluster barriers after initialization and before
// leaving. The grid is as many clusters as the device holds at once (at most one CTA per SM).
// 4 stages, C staged in 16 KiB per consumer as in wgmma_persistent.
// dgrad and wgrad: an M- or N-contiguous operand is loaded by TMA along M (N) in 64 x 64
// boxes and read by wgmma through its transpose bit (tb_wg_mma_descs_layout). Not yet
// measured.
#include "wgmma_ws.cuh"

#define CLUSTER_SIZE TB_WG_CLUSTER_SIZE
#define CLUSTER_STAGES TB_WG_CLUSTER_STAGES
#define CLUSTER_SMEM WS_SMEM_BYTES(CLUSTER_STAGES, 1)

#define CLUSTER_KERNEL(NAME, A_KMAJOR, B_KMAJOR)                                             \
    __global__ void __launch_bounds__(WS_THREADS, 1)                                            \
        NAME(const __grid_constant__ CUtensorMap tm_a, const __grid_constant__ CUtensorMap tm_b, \
             const __grid_constant__ CUtensorMap tm_c, uint16_t *__restrict__ C, int M, int N,   \
             int K)                                                                             \
    {                                                                                           \
        CLUSTER_BODY(A_KMAJOR, B_KMAJOR)                                                        \
    }

#if defined(WG_HAVE_SM90A)
#define CLUSTER_BODY(A_KMAJOR, B_KMAJOR)                                                        \
    ws_body(CLUSTER_STAGES, 1, CLUSTER_SIZE, A_KMAJOR, B_KMAJOR, &tm_a, &tm_b, &tm_c, C, M, N, K);
#else // built without sm_90a: tb_mm_wg_plan_make reports the case skipped first
#define CLUSTER_BODY(A_KMAJOR, B_KMAJOR)                                                        \
    (void)tm_a, (void)tm_b, (void)tm_c, (void)C, (void)M, (void)N, (void)K;                     \
    __trap();
#endif

CLUSTER_KERNEL(mm_wgmma_cluster, 1, 1)
CLUSTER_KERNEL(mm_wgmma_cluster_dgrad, 1, 0)
CLUSTER_KERNEL(mm_wgmma_cluster_wgrad, 0, 0)

typedef void (*cluster_kernel_fn)(CUtensorMap, CUtensorMap, CUtensorMap, uint16_t *, int, int,
                                  int);

// The kernel of a layout (TB_MM_FWD, DGRAD, WGRAD).
static cluster_kernel_fn cluster_kernel(int layout)
{
    return layout == TB_MM_DGRAD   ? mm_wgmma_cluster_dgrad
           : layout == TB_MM_WGRAD ? mm_wgmma_cluster_wgrad
                                   : mm_wgmma_cluster;
}

extern "C" cudaError_t tb_mm_wgmma_cluster_prepare(int layout)
{
    return cudaFuncSetAttribute((const void *)cluster_kernel(layout),
                                cudaFuncAttributeMaxDynamicSharedMemorySize, CLUSTER_SMEM);
}

// Clusters of this kernel the device holds at once (the GPCs' SM counts need not be even), or
// 0 when the runtime cannot say.
extern "C" int tb_mm_wgmma_cluster_resident(void)
{
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute attr[1] = {};
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = CLUSTER_SIZE;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.gridDim = dim3(CLUSTER_SIZE, 1, 1);
    cfg.blockDim = dim3(WS_THREADS, 1, 1);
    cfg.dynamicSmemBytes = CLUSTER_SMEM;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    int n = 0;
    if (cudaOccupancyMaxActiveClusters(&n, (const void *)mm_wgmma_cluster, &cfg) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" cudaError_t tb_mm_wgmma_cluster_launch(const tb_mm_wg_plan *p, cudaStream_t stream)
{
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute attr[1] = {};
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = CLUSTER_SIZE;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.gridDim = dim3((unsigned)p->ctas, 1, 1); // a multiple of CLUSTER_SIZE
    cfg.blockDim = dim3(WS_THREADS, 1, 1);
    cfg.dynamicSmemBytes = CLUSTER_SMEM;
    cfg.stream = stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, cluster_kernel(p->layout), wg_tmap(p, 0), wg_tmap(p, 1),
                              wg_tmap(p, 2), (uint16_t *)p->C, p->M, p->N, p->K);
}
