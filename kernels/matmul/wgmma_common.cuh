// wgmma_common.cuh - what the four Hopper wgmma kernels share (sm_90a): their tile geometry,
// one k-tile of warpgroup MMAs, and the epilogues. Included only by kernels/matmul/wgmma*.cu;
// the device helpers are used only inside kernel bodies compiled for sm_90a.
#ifndef TB_WGMMA_COMMON_CUH
#define TB_WGMMA_COMMON_CUH

#include <cuda.h> // CUtensorMap (the type only: nothing links libcuda)
#include <string.h>

#include "../matmul.h"
#include "../ptx.cuh"
#include "mm_common.h"
#include "wgmma_desc.h"
#include "wgmma_protocol.h"
#include "wgmma_sched.h"

// Every variant: 128-row tiles of A; TMA boxes of 64 k (one 128-byte swizzled row) x 128 rows
// for A and B; C boxes (TMA stores) of 64 x 64.
#define WG_BM TB_WG_BM
#define WG_BOX_ROWS TB_WG_BOX_ROWS
#define WG_BOX_BYTES TB_WG_BOX_BYTES // 16 KiB
#define WG_C_BOX 64
#define WG_GROUP_M 8 // tile rows per group of the grouped tile order
#define WG_PLAIN_BN TB_WG_PLAIN_BN // tile columns of wgmma; the warp-specialized variants take 256
#define WG_WS_BN TB_WG_WS_BN

// Each variant's .cu: allows its dynamic shared memory on the current device, and enqueues one
// launch of a plan (wgmma_host.cu makes the plans and dispatches).
extern "C" cudaError_t tb_mm_wgmma_plain_prepare(void);
extern "C" cudaError_t tb_mm_wgmma_plain_launch(const tb_mm_wg_plan *p, cudaStream_t stream);
extern "C" cudaError_t tb_mm_wgmma_ws_prepare(void);
extern "C" cudaError_t tb_mm_wgmma_ws_launch(const tb_mm_wg_plan *p, cudaStream_t stream);
extern "C" cudaError_t tb_mm_wgmma_persistent_prepare(void);
extern "C" cudaError_t tb_mm_wgmma_persistent_launch(const tb_mm_wg_plan *p,
                                                     cudaStream_t stream);
extern "C" cudaError_t tb_mm_wgmma_cluster_prepare(int layout);
extern "C" cudaError_t tb_mm_wgmma_cluster_launch(const tb_mm_wg_plan *p, cudaStream_t stream);
extern "C" int tb_mm_wgmma_cluster_resident(void); // clusters held at once; 0: unknown

// The kernel bodies exist only where wgmma, TMA and setmaxnreg do.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define WG_HAVE_SM90A 1
#endif

// Dynamic shared memory rounded up to 1024 bytes (the 128-byte swizzle atom; TMA boxes and
// wgmma descriptors assume it). Launches ask for WG_SMEM_SLACK bytes more than they use.
#define WG_SMEM_SLACK 1024
__device__ __forceinline__ unsigned char *wg_smem_aligned(unsigned char *raw)
{
    const uint32_t a = tb_ptx_smem_addr(raw);
    return raw + (((a + 1023u) & ~1023u) - a);
}

// One 64-deep k-tile of a warpgroup's MMAs: D (64 x 128) += A (64 rows at sa) B (128 rows at
// sb)^T, four k16 steps along the swizzled rows.
__device__ __forceinline__ void wg_ktile_n128(float acc[64], uint32_t sa, uint32_t sb)
{
#pragma unroll
    for (int kk = 0; kk < TB_WG_BK; kk += 16) {
        uint64_t da, db;
        tb_wg_mma_descs(sa, sb, kk, &da, &db);
        tb_ptx_wgmma_m64n128k16_bf16(acc, da, db);
    }
}

// The same for 256 columns: D (64 x 256) += A (64 rows at sa) B (256 rows at sb)^T, each
// operand K-major or M/N-major (a constant: tb_wg_mma_descs_layout, the transpose bit).
__device__ __forceinline__ void wg_ktile_n256(float acc[128], uint32_t sa, uint32_t sb,
                                              const int a_kmajor, const int b_kmajor)
{
#pragma unroll
    for (int kk = 0; kk < TB_WG_BK; kk += 16) {
        uint64_t da, db;
        tb_wg_mma_descs_layout(sa, sb, kk, a_kmajor, b_kmajor, &da, &db);
        tb_ptx_wgmma_m64n256k16_bf16_trans(acc, da, db, !a_kmajor, !b_kmajor);
    }
}

// Loads TMA boxes of one operand's k-tile into dst: K-major, one box of 64 k x `rows` rows
// (r0..); M/N-major, rows / 64 boxes of 64 m (n) x 64 k, 8 KiB apart (tb_wg_mn_offset).
__device__ __forceinline__ void wg_load_operand(uint32_t dst, const CUtensorMap *tm,
                                                const int kmajor, const int rows, int r0, int k0,
                                                uint32_t full, const uint16_t multicast)
{
#if defined(WG_HAVE_SM90A)
    if (kmajor) {
        if (multicast)
            tb_ptx_tma_load_2d_multicast(dst, tm, k0, r0, full, multicast);
        else
            tb_ptx_tma_load_2d(dst, tm, k0, r0, full);
        return;
    }
    for (int j = 0; j < rows / TB_WG_MN_BLOCK; j++) {
        const uint32_t d = dst + (uint32_t)j * TB_WG_MN_BLOCK_BYTES;
        if (multicast)
            tb_ptx_tma_load_2d_multicast(d, tm, r0 + j * TB_WG_MN_BLOCK, k0, full, multicast);
        else
            tb_ptx_tma_load_2d(d, tm, r0 + j * TB_WG_MN_BLOCK, k0, full);
    }
#else
    (void)dst, (void)tm, (void)kmajor, (void)rows, (void)r0, (void)k0, (void)full,
        (void)multicast;
#endif
}

// Two adjacent outputs of row `row`, columns col and col + 1 (col even), rounded to bf16;
// what lies outside M x N is not written.
__device__ __forceinline__ void wg_store_pair(uint16_t *__restrict__ C, int M, int N, int row,
                                              int col, float v0, float v1)
{
    if (row >= M || col >= N)
        return;
    uint16_t *p = C + (int64_t)row * N + col;
    const uint32_t packed = tb_ptx_pack_bf16x2(v0, v1);
    if ((N & 1) == 0 && col + 1 < N) {
        *(uint32_t *)p = packed;
        return;
    }
    p[0] = (uint16_t)(packed & 0xffffu);
    if (col + 1 < N)
        p[1] = (uint16_t)(packed >> 16);
}

// Stores a warpgroup's 64 x n accumulator (n / 2 registers) at (row0, col0) of C, predicated
// at the edges.
__device__ __forceinline__ void wg_store_global(uint16_t *__restrict__ C, int M, int N, int row0,
                                                int col0, const float *acc, const int n)
{
    const int t = threadIdx.x & 127;
#pragma unroll
    for (int i = 0; i < n / 2; i += 4) {
        int r, c;
        tb_wg_acc_pos(t, i, &r, &c);
        wg_store_pair(C, M, N, row0 + r, col0 + c, acc[i], acc[i + 1]);
        wg_store_pair(C, M, N, row0 + r + 8, col0 + c, acc[i + 2], acc[i + 3]);
    }
}

// Writes columns 128 h .. 128 h + 127 of a warpgroup's 64 x 256 accumulator as bf16 into two
// 64 x 64 128-byte-swizzled boxes at s_c (8 KiB each, the layout the C tensor map's TMA store
// reads): the four lanes of a row fill one 16-byte chunk and the 8 rows of a warp's store land
// in 8 different chunks, so the 32-bit stores do not conflict. h is a constant at every call.
#define WG_C_SUB_COLS 128 // columns of C staged at once per consumer: 16 KiB
__device__ __forceinline__ void wg_stage_c128(unsigned char *s_c, const float acc[128],
                                              const int h)
{
    const int t = threadIdx.x & 127;
#pragma unroll
    for (int i = h * WG_C_SUB_COLS / 2; i < (h + 1) * WG_C_SUB_COLS / 2; i += 4) {
        int r, c;
        tb_wg_acc_pos(t, i, &r, &c);
        unsigned char *box = s_c + (c % WG_C_SUB_COLS / WG_C_BOX) * (WG_C_BOX * WG_C_BOX * 2);
        *(uint32_t *)(box + tb_wg_sw128_offset(r, c % WG_C_BOX)) =
            tb_ptx_pack_bf16x2(acc[i], acc[i + 1]);
        *(uint32_t *)(box + tb_wg_sw128_offset(r + 8, c % WG_C_BOX)) =
            tb_ptx_pack_bf16x2(acc[i + 2], acc[i + 3]);
    }
}

// Reads a plan's tensor map into the 64-byte aligned type a kernel parameter needs.
static inline CUtensorMap wg_tmap(const tb_mm_wg_plan *plan, int which)
{
    CUtensorMap m;
    memcpy(&m, plan->tmap[which], sizeof m);
    return m;
}

#endif
