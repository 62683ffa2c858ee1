/* mma_layout.h - where mma.cu's kernels put and find every element, shared by the kernels and
 * the CPU emulation that checks them lane by lane (tests/cpu/test_mma_emu.c): the tile sizes,
 * the cp.async ring's constants, the two swizzled shared-memory layouts and the copy that
 * fills each chunk, the address each lane hands ldmatrix (plain for K-contiguous operands,
 * .trans for M/N-contiguous ones), the warp tiles and the accumulator element coordinates.
 * The kernels compute every such index through these functions, so the emulation cannot
 * drift from them. Fragment vocabulary (mma.m16n8k16) as in flash_layout.h. */
#ifndef TB_MMA_LAYOUT_H
#define TB_MMA_LAYOUT_H

#include <stdint.h>

#include "../tb_random.h"

#define TB_MMA_BM 128
#define TB_MMA_BN 256
#define TB_MMA_BK 32
#define TB_MMA_KSTEPS (TB_MMA_BK / 16) /* k16 steps per k-tile */
#define TB_MMA_THREADS 256
#define TB_MMA_GROUP_M 8
#define TB_MMA_A_BYTES (TB_MMA_BM * TB_MMA_BK * 2) /* A's tile, one stage: 8 KiB */
#define TB_MMA_B_BYTES (TB_MMA_BN * TB_MMA_BK * 2) /* B's tile, one stage: 16 KiB */
#define TB_MMA_STAGE_BYTES (TB_MMA_A_BYTES + TB_MMA_B_BYTES)
/* 16-byte copies per thread of A's tile and of B's */
#define TB_MMA_A_LOADS (TB_MMA_A_BYTES / 16 / TB_MMA_THREADS)
#define TB_MMA_B_LOADS (TB_MMA_B_BYTES / 16 / TB_MMA_THREADS)

/* The cp.async ring: k-tile kt lives in stage tb_mma_stage(kt) (A, then B at TB_MMA_A_BYTES).
 * The prologue commits TB_MMA_STAGES - 1 groups (k-tiles 0 .. STAGES - 2) and waits until at
 * most TB_MMA_WAIT_PENDING are in flight: k-tile 0 has landed. Before its last k16 step, k-tile
 * kt's iteration commits k-tile kt + STAGES - 1 (into the stage of kt - 1, which every warp
 * finished reading before the previous barrier), waits the same way (k-tile kt + 1 has landed)
 * and meets the others at a barrier; then it reads k-tile kt + 1's first fragments while the
 * last k16 step's MMAs run. */
#define TB_MMA_STAGES 4
#define TB_MMA_WAIT_PENDING (TB_MMA_STAGES - 2)
#define TB_MMA_SMEM_BYTES (TB_MMA_STAGES * TB_MMA_STAGE_BYTES)

TB_HD int tb_mma_stage(int kt)
{
    return kt % TB_MMA_STAGES;
}

/* The fragment buffer (0, 1) k16 step kk of a k-tile is read into: consecutive steps, across
 * k-tiles too, alternate, so one step's ldmatrix overlap the previous step's mma. */
TB_HD int tb_mma_frag_buf(int kk)
{
    return kk & 1;
}

/* Whether ldmatrix reads a tile's 8x8 matrices transposed (.trans): K-contiguous tiles
 * plainly, M/N-contiguous ones (the gradient layouts' operands) transposed. */
#define TB_MMA_LDSM_KMAJ_TRANS 0
#define TB_MMA_LDSM_MNMAJ_TRANS 1

/* A row and a 16-byte chunk of a tile. */
typedef struct {
    int row, chunk;
} tb_mma_rc;

/* A K-contiguous tile: TB_MMA_BM (A) or TB_MMA_BN (B) rows of 32 elements = four 16-byte
 * chunks; chunk c of row r sits at c ^ ((r >> 1) & 3), so the 8 rows an ldmatrix reads hit
 * distinct banks. */
TB_HD uint32_t tb_mma_kmaj_off(int row, int chunk)
{
    return (uint32_t)(row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4));
}

/* An M/N-contiguous tile of `width` elements (TB_MMA_BM for A, TB_MMA_BN for B): 32 rows (k)
 * of width / 8 chunks; chunk c of row k sits at c ^ (k & 7). */
TB_HD uint32_t tb_mma_mnmaj_off(int k, int chunk, int width)
{
    return (uint32_t)(k * width * 2 + ((chunk ^ (k & 7)) << 4));
}

/* Copy q (0 .. LOADS * TB_MMA_THREADS - 1) of one operand tile: the row (m or n) and chunk
 * (8 k) it fills in a K-contiguous tile, the row (k) and chunk (8 m or n) of a `width`-wide
 * M/N-contiguous one. */
TB_HD tb_mma_rc tb_mma_load_kmaj_at(int q)
{
    tb_mma_rc at = {q >> 2, q & 3};
    return at;
}

TB_HD tb_mma_rc tb_mma_load_mnmaj_at(int q, int width)
{
    tb_mma_rc at = {q / (width / 8), q % (width / 8)};
    return at;
}

/* 2 x 4 warps, each a TB_MMA_WARP_M x TB_MMA_WARP_N warp tile (4 x 8 m16n8 tiles: per k16
 * step 4 ldmatrix.x4 of A and 4 of B feed 32 mma, 0.25 per mma): warp w owns warp-tile row
 * tb_mma_warp_row(w) and column tb_mma_warp_col(w). */
#define TB_MMA_WARP_M 64
#define TB_MMA_WARP_N 64
#define TB_MMA_MI (TB_MMA_WARP_M / 16) /* m16 tiles per warp */
#define TB_MMA_NI (TB_MMA_WARP_N / 8)  /* n8 tiles per warp */

TB_HD int tb_mma_warp_row(int warp)
{
    return warp >> 2;
}

TB_HD int tb_mma_warp_col(int warp)
{
    return warp & 3;
}

/* ldmatrix.x4 addresses (lane: the row it points at), k-slice kk of the stage.
 * A, K-contiguous, rows rb..rb+15: lanes 0-15 rows 0-15 of k 0-7, lanes 16-31 of k 8-15. */
TB_HD tb_mma_rc tb_mma_ldsm_a_kmaj_at(int lane, int rb, int kk)
{
    tb_mma_rc at = {rb + (lane & 15), kk * 2 + (lane >> 4)};
    return at;
}

/* A, M-contiguous, through .trans: matrix i = lane / 8 holds m + (i & 1) 8, k + (i >> 1) 8. */
TB_HD tb_mma_rc tb_mma_ldsm_a_mnmaj_at(int lane, int rb, int kk)
{
    const int i8 = lane >> 3, r8 = lane & 7;
    tb_mma_rc at = {kk * 16 + r8 + (i8 >> 1) * 8, (rb + (i8 & 1) * 8) >> 3};
    return at;
}

/* B of two n8 tiles nb..nb+15, K-contiguous: matrix i holds n + (i >> 1) 8, k + (i & 1) 8. */
TB_HD tb_mma_rc tb_mma_ldsm_b_kmaj_at(int lane, int nb, int kk)
{
    const int i8 = lane >> 3, r8 = lane & 7;
    tb_mma_rc at = {nb + r8 + (i8 >> 1) * 8, kk * 2 + (i8 & 1)};
    return at;
}

/* B, N-contiguous, through .trans: matrix i holds k + (i & 1) 8, n + (i >> 1) 8. */
TB_HD tb_mma_rc tb_mma_ldsm_b_mnmaj_at(int lane, int nb, int kk)
{
    const int i8 = lane >> 3, r8 = lane & 7;
    tb_mma_rc at = {kk * 16 + r8 + (i8 & 1) * 8, (nb + (i8 >> 1) * 8) >> 3};
    return at;
}

/* Of the four registers an x4 ldmatrix of B returns, register reg is half
 * tb_mma_x4_b_half(reg) of the B fragment of n8 tile tb_mma_x4_b_tile(reg) (0: nb.., 1: nb+8..). */
TB_HD int tb_mma_x4_b_tile(int reg)
{
    return reg >> 1;
}

TB_HD int tb_mma_x4_b_half(int reg)
{
    return reg & 1;
}

/* lane = 4 g + t4. Accumulator element v (0..3) of lane (g, t4) sits at row
 * g + tb_mma_c_vrow(v) (0..15) and column tb_mma_t4_col(t4) + tb_mma_c_vcol(v) (0..7) of the
 * m16 x n8 tile; elements v and v+1 (v even) are adjacent columns of one row. */
TB_HD int tb_mma_lane_g(int lane)
{
    return lane >> 2;
}

TB_HD int tb_mma_lane_t4(int lane)
{
    return lane & 3;
}

TB_HD int tb_mma_c_vrow(int v)
{
    return (v >> 1) * 8;
}

TB_HD int tb_mma_t4_col(int t4)
{
    return t4 * 2;
}

TB_HD int tb_mma_c_vcol(int v)
{
    return v & 1;
}

#endif
