// flash_common.cuh - the pieces the flash forward and backward kernels share: shared-memory
// tiles of rows of D bf16/fp16 elements stored as XOR-swizzled 16-byte chunks, their
// cp.async loads, mma.sync on either type, and packing fp32 pairs for a fragment or a store.
#ifndef TB_FLASH_COMMON_CUH
#define TB_FLASH_COMMON_CUH

#include "../ptx.cuh"
#include "attn_common.h"

#define FL_THREADS 128

// A tile row holds D elements = D/8 chunks of 16 bytes (8 or 16); chunk c of row r sits at
// c ^ (r & 7), so the 8 rows one ldmatrix reads (same logical chunk) hit 8 distinct bank
// groups, transposed or not.
template <int D>
__device__ __forceinline__ uint32_t fl_off(int row, int chunk)
{
    return (uint32_t)(row * (D * 2) + ((chunk ^ (row & 7)) << 4));
}

// cp.async of rows row0 .. row0+ROWS-1 of one head (base: its row 0) into a swizzled tile;
// rows at or past S are zero-filled.
template <int D, int ROWS>
__device__ __forceinline__ void fl_load_tile(uint32_t s_tile, const uint16_t *__restrict__ base,
                                             int row0, int S)
{
    constexpr int CH = D / 8;
#pragma unroll
    for (int q = threadIdx.x; q < ROWS * CH; q += FL_THREADS) {
        const int r = q / CH, c = q % CH;
        const bool ok = row0 + r < S;
        const uint16_t *src = ok ? base + (int64_t)(row0 + r) * D + c * 8 : base;
        tb_ptx_cp_async16(s_tile + fl_off<D>(r, c), src, ok ? 16 : 0);
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

// The A fragment (m16 x k16) of the k-slice kk from accumulator tiles: the C fragments of
// n8 tiles 2kk and 2kk+1 hold exactly the elements, in the same lanes, that the A fragment
// wants (rows g and g+8, columns 2t and 2t+1, then the same 8 columns on).
template <bool BF16>
__device__ __forceinline__ void fl_c_to_a(uint32_t a[4], const float c0[4], const float c1[4])
{
    a[0] = fl_pack<BF16>(c0[0], c0[1]);
    a[1] = fl_pack<BF16>(c0[2], c0[3]);
    a[2] = fl_pack<BF16>(c1[0], c1[1]);
    a[3] = fl_pack<BF16>(c1[2], c1[3]);
}

// A fragment of rows m0..m0+15, k-slice kk, from a row-major (K-contiguous) swizzled tile.
template <int D>
__device__ __forceinline__ void fl_ldsm_a(uint32_t a[4], uint32_t s_tile, int m0, int kk)
{
    const int lane = threadIdx.x & 31;
    tb_ptx_ldmatrix_x4(a, s_tile + fl_off<D>(m0 + (lane & 15), kk * 2 + (lane >> 4)));
}

// B fragments of two n8 tiles (rows n0..n0+15 of a row-major tile holding B^T, i.e. the
// K-contiguous operand), k-slice kk: b0 for n0..n0+7, b1 for n0+8..n0+15.
template <int D>
__device__ __forceinline__ void fl_ldsm_bt(uint32_t b0[2], uint32_t b1[2], uint32_t s_tile,
                                           int n0, int kk)
{
    const int lane = threadIdx.x & 31, i8 = lane >> 3, r8 = lane & 7;
    uint32_t t[4];
    tb_ptx_ldmatrix_x4(t, s_tile + fl_off<D>(n0 + r8 + (i8 >> 1) * 8, kk * 2 + (i8 & 1)));
    b0[0] = t[0];
    b0[1] = t[1];
    b1[0] = t[2];
    b1[1] = t[3];
}

// B fragments of two n8 tiles (columns n0..n0+15) from a row-major tile holding B itself
// (rows are k: the N-contiguous operand), k rows k0..k0+15, through ldmatrix.trans.
template <int D>
__device__ __forceinline__ void fl_ldsm_b(uint32_t b0[2], uint32_t b1[2], uint32_t s_tile,
                                          int k0, int n0)
{
    const int lane = threadIdx.x & 31, i8 = lane >> 3, r8 = lane & 7;
    uint32_t t[4];
    tb_ptx_ldmatrix_x4_trans(t, s_tile + fl_off<D>(k0 + r8 + (i8 & 1) * 8, (n0 >> 3) + (i8 >> 1)));
    b0[0] = t[0];
    b0[1] = t[1];
    b1[0] = t[2];
    b1[1] = t[3];
}

#endif
