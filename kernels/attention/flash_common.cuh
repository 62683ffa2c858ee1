// flash_common.cuh - the pieces the flash forward and backward kernels share: shared-memory
// tiles of rows of D bf16/fp16 elements stored as XOR-swizzled 16-byte chunks, their
// cp.async loads, ldmatrix into fragments, mma.sync on either type, and packing fp32 pairs
// for a fragment or a store. Every index comes from flash_layout.h.
#ifndef TB_FLASH_COMMON_CUH
#define TB_FLASH_COMMON_CUH

#include "../ptx.cuh"
#include "flash_layout.h"

// A thread's share of every tile load (flash_layout.h: tb_fl_load_at), computed once: the
// byte offset of its first chunk in a shared tile, the element offset of that chunk from a
// tile's row 0 in global memory, and the row it is in.
typedef struct {
    uint32_t s_off, g_off, row;
} fl_loader;

template <int D>
__device__ __forceinline__ fl_loader fl_loader_make(void)
{
    const tb_fl_rc at = tb_fl_load_at(D, (int)threadIdx.x);
    const fl_loader l = {tb_fl_off(D, at.row, at.chunk), (uint32_t)(at.row * D + at.chunk * 8),
                         (uint32_t)at.row};
    return l;
}

// cp.async of ROWS rows into a swizzled tile. src: the tile's row 0 in global memory plus the
// thread's g_off; rows at or past rows_left are zero-filled (their copies name `fallback`, a
// valid address such as a kernel argument, and read nothing). Every offset is a compile-time constant from the first.
template <int D, int ROWS>
__device__ __forceinline__ void fl_load_tile(uint32_t s_tile, const uint16_t *src,
                                             const uint16_t *fallback, fl_loader l,
                                             int rows_left)
{
    constexpr int STEP = TB_FL_LOAD_STEP(D);
    static_assert(ROWS % STEP == 0 && STEP % 8 == 0, "a thread's copies keep its swizzled chunk");
#pragma unroll
    for (int j = 0; j < TB_FL_LOAD_COPIES(D, ROWS); j++) {
        const bool ok = l.row + (uint32_t)(j * STEP) < (uint32_t)rows_left;
        tb_ptx_cp_async16(s_tile + l.s_off + tb_fl_load_step_off(D, j),
                          ok ? src + j * STEP * D : fallback, ok ? 16 : 0);
    }
}

template <bool BF16>
__device__ __forceinline__ void fl_mma(float d[4], const uint32_t a[4], const uint32_t b[2])
{
    if (BF16)
        tb_ptx_mma_bf16_16816(d, a, b);
    else
        tb_ptx_mma_f16_16816(d, a, b);
}

// One cvt for the pair (the same round-to-nearest-even as tb_dtype.h's conversions).
template <bool BF16>
__device__ __forceinline__ uint32_t fl_pack(float lo, float hi)
{
    return BF16 ? tb_ptx_pack_bf16x2(lo, hi) : tb_ptx_pack_f16x2(lo, hi);
}

// The A fragment (m16 x k16) of a k-slice from the accumulator tiles c0, c1 of its two n8
// halves (flash_layout.h: tb_fl_repack_*). Spelled out, not a loop: the kernels' code is the
// same as with literal indices.
template <bool BF16>
__device__ __forceinline__ void fl_c_to_a(uint32_t a[4], const float c0[4], const float c1[4])
{
#define FL_REPACK(reg)                                                                         \
    fl_pack<BF16>((tb_fl_repack_tile(reg) ? c1 : c0)[tb_fl_repack_v(reg)],                    \
                  (tb_fl_repack_tile(reg) ? c1 : c0)[tb_fl_repack_v(reg) + 1])
    a[0] = FL_REPACK(0);
    a[1] = FL_REPACK(1);
    a[2] = FL_REPACK(2);
    a[3] = FL_REPACK(3);
#undef FL_REPACK
}

// ldmatrix.x4, transposed or not as flash_layout.h says for the operand.
template <bool TRANS>
__device__ __forceinline__ void fl_ldmatrix_x4(uint32_t r[4], uint32_t smem_addr)
{
    if (TRANS)
        tb_ptx_ldmatrix_x4_trans(r, smem_addr);
    else
        tb_ptx_ldmatrix_x4(r, smem_addr);
}

// A fragment of rows m0..m0+15, k-slice kk, from a row-major (K-contiguous) swizzled tile.
template <int D>
__device__ __forceinline__ void fl_ldsm_a(uint32_t a[4], uint32_t s_tile, int m0, int kk)
{
    const tb_fl_rc at = tb_fl_ldsm_a_at(threadIdx.x & 31, m0, kk);
    fl_ldmatrix_x4<TB_FL_LDSM_A_TRANS>(a, s_tile + tb_fl_off(D, at.row, at.chunk));
}

// Splits the four registers of an x4 ldmatrix into the B fragments of two n8 tiles (spelled
// out like fl_c_to_a).
__device__ __forceinline__ void fl_split_b(uint32_t b0[2], uint32_t b1[2], const uint32_t t[4])
{
    b0[0] = t[tb_fl_x4_b_reg(0, 0)];
    b0[1] = t[tb_fl_x4_b_reg(0, 1)];
    b1[0] = t[tb_fl_x4_b_reg(1, 0)];
    b1[1] = t[tb_fl_x4_b_reg(1, 1)];
}

// B fragments of two n8 tiles (rows n0..n0+15 of a row-major tile holding B^T, i.e. the
// K-contiguous operand), k-slice kk: b0 for n0..n0+7, b1 for n0+8..n0+15.
template <int D>
__device__ __forceinline__ void fl_ldsm_bt(uint32_t b0[2], uint32_t b1[2], uint32_t s_tile,
                                           int n0, int kk)
{
    const tb_fl_rc at = tb_fl_ldsm_bt_at(threadIdx.x & 31, n0, kk);
    uint32_t t[4];
    fl_ldmatrix_x4<TB_FL_LDSM_BT_TRANS>(t, s_tile + tb_fl_off(D, at.row, at.chunk));
    fl_split_b(b0, b1, t);
}

// B fragments of two n8 tiles (columns n0..n0+15) from a row-major tile holding B itself
// (rows are k: the N-contiguous operand), k rows k0..k0+15, through ldmatrix.trans.
template <int D>
__device__ __forceinline__ void fl_ldsm_b(uint32_t b0[2], uint32_t b1[2], uint32_t s_tile,
                                          int k0, int n0)
{
    const tb_fl_rc at = tb_fl_ldsm_b_at(threadIdx.x & 31, k0, n0);
    uint32_t t[4];
    fl_ldmatrix_x4<TB_FL_LDSM_B_TRANS>(t, s_tile + tb_fl_off(D, at.row, at.chunk));
    fl_split_b(b0, b1, t);
}

#endif
