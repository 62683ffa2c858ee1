// wgmma_host.cu - the host side of the Hopper wgmma kernels: shape requirements, tensor maps
// encoded through the driver's cuTensorMapEncodeTiled (reached through the runtime's driver
// entry point, so nothing links libcuda), the check that this build holds sm_90a code, and
// dispatch to the variants' launchers.
#include <stdio.h>

#include "wgmma_common.cuh"

// Writes 1 where this build's code for the running device has the sm_90a kernel bodies.
__global__ void mm_wgmma_probe(int *has_sm90a)
{
#if defined(WG_HAVE_SM90A)
    *has_sm90a = 1;
#else
    *has_sm90a = 0;
#endif
}

extern "C" const char *tb_mm_wg_unsupported(int variant, int layout, int M, int N, int K)
{
    if (M < 1 || N < 1 || K < 1)
        return "needs M, N, K >= 1";
    if (layout < TB_MM_FWD || layout > TB_MM_WGRAD)
        return "knows the fwd, dgrad and wgrad layouts only";
    if (layout != TB_MM_FWD && variant != TB_MM_WG_CLUSTER)
        return "runs the fwd layout only (A and B K-major); wgmma_cluster runs dgrad and wgrad";
    if ((tb_mm_a_kmajor(layout) || tb_mm_b_kmajor(layout)) && K % 8 != 0)
        return "needs K a multiple of 8 (TMA row strides are multiples of 16 bytes)";
    if (!tb_mm_a_kmajor(layout) && M % 8 != 0)
        return "needs M a multiple of 8 in this layout (A is M-contiguous: 16-byte TMA rows)";
    if ((variant == TB_MM_WG_PERSISTENT || variant == TB_MM_WG_CLUSTER) && N % 8 != 0)
        return "needs N a multiple of 8 (C is written by TMA stores: 16-byte row strides)";
    return NULL;
}

typedef CUresult (*encode_tiled_fn)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *,
                                    const cuuint64_t *, const cuuint64_t *, const cuuint32_t *,
                                    const cuuint32_t *, CUtensorMapInterleave, CUtensorMapSwizzle,
                                    CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// Encodes the map of a row-major bf16 matrix (rows x cols) read or written in boxes of
// box_rows x box_cols with 128-byte swizzle; out-of-bounds reads give zeros.
static int encode(encode_tiled_fn fn, uint64_t out[16], const void *base, int64_t rows,
                  int64_t cols, int box_rows, int box_cols, char *why, size_t whylen)
{
    uint64_t dims[2], stride;
    uint32_t box[2];
    if (!tb_wg_tma_geometry(rows, cols, box_rows, box_cols, 1, dims, &stride, box)) {
        snprintf(why, whylen, "TMA cannot describe a %lld x %lld matrix in %d x %d boxes",
                 (long long)rows, (long long)cols, box_rows, box_cols);
        return 1;
    }
    CUtensorMap map;
    const cuuint64_t gdim[2] = {dims[0], dims[1]}, gstride[1] = {stride};
    const cuuint32_t bdim[2] = {box[0], box[1]}, estride[2] = {1, 1};
    CUresult r = fn(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)base, gdim, gstride, bdim,
                    estride, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
        // a shape the driver refuses to describe: this case is skipped, the run goes on (the
        // GPU tests treat such a skip on sm_90 as a failure)
        snprintf(why, whylen,
                 "cuTensorMapEncodeTiled refused a %lld x %lld matrix at %p in %d x %d boxes "
                 "(CUresult %d)",
                 (long long)rows, (long long)cols, base, box_rows, box_cols, (int)r);
        return 1;
    }
    memcpy(out, &map, sizeof map);
    return 0;
}

// Whether the current device runs this build's sm_90a bodies (not, e.g., a build for sm_80
// whose PTX the driver compiled for this GPU): 1 yes, 0 no, -1 when the probe failed.
static int has_sm90a_code(void)
{
    int *d = NULL, h = 0;
    if (cudaMalloc((void **)&d, sizeof *d) != cudaSuccess)
        return -1;
    mm_wgmma_probe<<<1, 1>>>(d);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction) {
        cudaGetLastError();
        return 0;
    }
    return e == cudaSuccess ? h : -1;
}

extern "C" int tb_mm_wg_plan_make(int variant, int layout, const void *A, const void *B,
                                  void *C, int M, int N, int K, int sm_count,
                                  tb_mm_wg_plan *plan, char *why, size_t whylen)
{
    memset(plan, 0, sizeof *plan);
    const char *no = tb_mm_wg_unsupported(variant, layout, M, N, K);
    if (no || variant < TB_MM_WG_PLAIN || variant > TB_MM_WG_CLUSTER) {
        snprintf(why, whylen, "%s", no ? no : "unknown wgmma variant");
        return 1;
    }
    int ok = has_sm90a_code();
    if (ok <= 0) {
        snprintf(why, whylen, "%s",
                 ok == 0 ? "needs sm_90a: this build has no sm_90a code for the device (build "
                           "with CMAKE_CUDA_ARCHITECTURES including 90a)"
                         : "the sm_90a probe kernel failed to run");
        return ok == 0 ? 1 : 2;
    }
    cudaError_t e;
    switch (variant) {
    case TB_MM_WG_PLAIN: e = tb_mm_wgmma_plain_prepare(); break;
    case TB_MM_WG_WS: e = tb_mm_wgmma_ws_prepare(); break;
    case TB_MM_WG_PERSISTENT: e = tb_mm_wgmma_persistent_prepare(); break;
    default: e = tb_mm_wgmma_cluster_prepare(layout); break;
    }
    if (e != cudaSuccess) {
        snprintf(why, whylen, "cannot allow the kernel its shared memory: %s",
                 cudaGetErrorString(e));
        cudaGetLastError();
        return 2;
    }
    void *fn = NULL;
    cudaDriverEntryPointQueryResult q;
    e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault,
                                         &q);
    if (e != cudaSuccess || q != cudaDriverEntryPointSuccess || !fn) {
        snprintf(why, whylen, "the driver offers no cuTensorMapEncodeTiled (%s)",
                 e != cudaSuccess ? cudaGetErrorString(e) : "symbol not found");
        cudaGetLastError();
        return 1;
    }
    encode_tiled_fn enc = (encode_tiled_fn)fn;
    // K-major operands: boxes of 128 rows x 64 k; M/N-major ones ([K][M] or [K][N]): boxes of
    // 64 k rows x 64 m (n), two per 128 rows of the tile
    int r = tb_mm_a_kmajor(layout)
                ? encode(enc, plan->tmap[0], A, M, K, WG_BOX_ROWS, TB_WG_BK, why, whylen)
                : encode(enc, plan->tmap[0], A, K, M, TB_WG_BK, TB_WG_MN_BLOCK, why, whylen);
    if (!r)
        r = tb_mm_b_kmajor(layout)
                ? encode(enc, plan->tmap[1], B, N, K, WG_BOX_ROWS, TB_WG_BK, why, whylen)
                : encode(enc, plan->tmap[1], B, K, N, TB_WG_BK, TB_WG_MN_BLOCK, why, whylen);
    if (!r && (variant == TB_MM_WG_PERSISTENT || variant == TB_MM_WG_CLUSTER))
        r = encode(enc, plan->tmap[2], C, M, N, WG_C_BOX, WG_C_BOX, why, whylen);
    if (r)
        return r;

    const int64_t m_tiles = ((int64_t)M + WG_BM - 1) / WG_BM;
    const int64_t n_tiles = ((int64_t)N + WG_WS_BN - 1) / WG_WS_BN;
    int64_t ctas;
    switch (variant) {
    case TB_MM_WG_PLAIN: ctas = m_tiles * (((int64_t)N + WG_PLAIN_BN - 1) / WG_PLAIN_BN); break;
    case TB_MM_WG_WS: ctas = m_tiles * n_tiles; break;
    case TB_MM_WG_PERSISTENT: ctas = tb_wg_sched_ctas(sm_count, 1, m_tiles, n_tiles); break;
    default: {
        // one cluster per pair of SMs, as many as are resident at once
        const int resident = tb_mm_wgmma_cluster_resident();
        const int sms = resident > 0 && 2 * resident < sm_count ? 2 * resident : sm_count;
        ctas = tb_wg_sched_ctas(sms, 2, m_tiles, n_tiles);
        break;
    }
    }
    if (ctas > 0x7fffffff) {
        snprintf(why, whylen, "%lld tiles do not fit one grid", (long long)ctas);
        return 1;
    }
    plan->variant = variant;
    plan->layout = layout;
    plan->M = M;
    plan->N = N;
    plan->K = K;
    plan->ctas = (int)ctas;
    plan->C = C;
    return 0;
}

extern "C" cudaError_t tb_mm_wg_run(const tb_mm_wg_plan *plan, cudaStream_t stream)
{
    switch (plan->variant) {
    case TB_MM_WG_PLAIN: return tb_mm_wgmma_plain_launch(plan, stream);
    case TB_MM_WG_WS: return tb_mm_wgmma_ws_launch(plan, stream);
    case TB_MM_WG_PERSISTENT: return tb_mm_wgmma_persistent_launch(plan, stream);
    case TB_MM_WG_CLUSTER: return tb_mm_wgmma_cluster_launch(plan, stream);
    }
    return cudaErrorInvalidValue;
}
