/* flash_layout.h - where the flash kernels put and find every element, shared by the kernels
 * and the CPU emulation that checks them lane by lane (tests/cpu/test_flash_emu.c): the
 * swizzled shared-memory tiles and their offsets, the cp.async ring's constants, the address
 * each lane hands ldmatrix, the accumulator element coordinates, the accumulator -> A operand
 * repack and the dS^T tile of the backward. The kernels compute every such index through
 * these functions, so the emulation cannot drift from them.
 *
 * Fragment vocabulary (mma.m16n8k16): lane = 4 g + t4; an accumulator (m16 x n8) holds four
 * fp32 per lane, element v; an A operand (m16 x k16) four 32-bit registers of two elements. */
#ifndef TB_FLASH_LAYOUT_H
#define TB_FLASH_LAYOUT_H

#include <stdint.h>

#include "attn_common.h"

#define TB_FL_THREADS 128
#define TB_FL_WARPS (TB_FL_THREADS / 32)

/* Both cp.async rings (the forward's K/V tiles, the backward's Q/dO/lse/D tiles) hold this
 * many stages; tile t lives in stage tb_fl_stage(t) and tile t+1 is loaded while t is read. */
#define TB_FL_STAGES 2
/* cp.async.wait_group argument at the top of each loop iteration: every group but the newest
 * (the next tile's, committed just before) has landed, so tile t and all before it have. */
#define TB_FL_WAIT_PENDING 1

#if TB_FL_STAGES & (TB_FL_STAGES - 1)
#error "TB_FL_STAGES must be a power of two"
#endif

TB_HD int tb_fl_stage(int t)
{
    return t & (TB_FL_STAGES - 1);
}

/* A tile row holds D elements = D/8 chunks of 16 bytes (8 or 16); chunk c of row r sits at
 * c ^ (r & 7), so the 8 rows one ldmatrix reads (same logical chunk) hit 8 distinct bank
 * groups, transposed or not. Byte offset within the tile: */
TB_HD uint32_t tb_fl_off(int D, int row, int chunk)
{
    return (uint32_t)(row * (D * 2) + ((chunk ^ (row & 7)) << 4));
}

/* Whether each ldmatrix reads its 8x8 matrices transposed (.trans): the K-contiguous A and B^T
 * tiles plainly, the N-contiguous B tiles (V, dO, Q, K as the second operand) and dS^T
 * transposed. */
#define TB_FL_LDSM_A_TRANS 0
#define TB_FL_LDSM_BT_TRANS 0
#define TB_FL_LDSM_B_TRANS 1
#define TB_FL_LDSM_DST_TRANS 1

/* A row and a 16-byte chunk of a tile. */
typedef struct {
    int row, chunk;
} tb_fl_rc;

/* Tile loads: thread tid copies chunk tid % (D/8) of rows tid / (D/8) + j TB_FL_LOAD_STEP(D),
 * j = 0 .. rows / TB_FL_LOAD_STEP(D) - 1 (a compile-time count). The step is a multiple of 8
 * rows, so a thread's swizzled chunk is the same in every row it copies: its shared and global
 * offsets are computed once, and copy j adds j times a constant to each. */
#define TB_FL_LOAD_STEP(D) (TB_FL_THREADS / ((D) / 8))
#define TB_FL_LOAD_COPIES(D, rows) ((rows) / TB_FL_LOAD_STEP(D))

/* The row and chunk thread tid fills in its first copy of a tile load. */
TB_HD tb_fl_rc tb_fl_load_at(int D, int tid)
{
    tb_fl_rc at = {tid / (D / 8), tid % (D / 8)};
    return at;
}

/* Byte offset of copy j from copy 0 in shared memory (elements in global: half of it). */
TB_HD uint32_t tb_fl_load_step_off(int D, int j)
{
    return (uint32_t)(j * TB_FL_LOAD_STEP(D) * D * 2);
}

/* ldmatrix.x4 addresses (lane: the row it points at). A fragment of rows m0..m0+15, k-slice
 * kk of a K-contiguous tile: lanes 0-15 rows 0-15 of k 0-7, lanes 16-31 the same rows of k
 * 8-15 (registers a0..a3 as mma wants them). */
TB_HD tb_fl_rc tb_fl_ldsm_a_at(int lane, int m0, int kk)
{
    tb_fl_rc at = {m0 + (lane & 15), kk * 2 + (lane >> 4)};
    return at;
}

/* B fragments of two n8 tiles (rows n0..n0+15 of a K-contiguous tile holding B^T), k-slice
 * kk: matrix i = lane / 8 holds n + (i >> 1) 8, k + (i & 1) 8. */
TB_HD tb_fl_rc tb_fl_ldsm_bt_at(int lane, int n0, int kk)
{
    const int i8 = lane >> 3, r8 = lane & 7;
    tb_fl_rc at = {n0 + r8 + (i8 >> 1) * 8, kk * 2 + (i8 & 1)};
    return at;
}

/* B fragments of two n8 tiles (columns n0..n0+15) of a tile holding B itself (rows are k),
 * k rows k0..k0+15, for ldmatrix.trans: matrix i holds k + (i & 1) 8, n + (i >> 1) 8. */
TB_HD tb_fl_rc tb_fl_ldsm_b_at(int lane, int k0, int n0)
{
    const int i8 = lane >> 3, r8 = lane & 7;
    tb_fl_rc at = {k0 + r8 + (i8 & 1) * 8, (n0 >> 3) + (i8 >> 1)};
    return at;
}

/* Of the four registers an x4 ldmatrix of B returns, the one that is register `half` of the B
 * fragment of n8 tile `tile` (0: n0.., 1: n0+8..). */
TB_HD int tb_fl_x4_b_reg(int tile, int half)
{
    return tile * 2 + half;
}

/* lane = 4 g + t4. Accumulator element v (0..3) of lane (g, t4) sits at row
 * g + tb_fl_c_vrow(v) (0..15) and column tb_fl_t4_col(t4) + tb_fl_c_vcol(v) (0..7) of the
 * m16 x n8 tile; elements v and v+1 (v even) are adjacent columns of one row. */
TB_HD int tb_fl_lane_g(int lane)
{
    return lane >> 2;
}

TB_HD int tb_fl_lane_t4(int lane)
{
    return lane & 3;
}

TB_HD int tb_fl_c_vrow(int v)
{
    return (v >> 1) * 8;
}

TB_HD int tb_fl_t4_col(int t4)
{
    return t4 * 2;
}

TB_HD int tb_fl_c_vcol(int v)
{
    return v & 1;
}

TB_HD int tb_fl_c_row(int lane, int v)
{
    return tb_fl_lane_g(lane) + tb_fl_c_vrow(v);
}

TB_HD int tb_fl_c_col(int lane, int v)
{
    return tb_fl_t4_col(tb_fl_lane_t4(lane)) + tb_fl_c_vcol(v);
}

/* The accumulator -> A repack: register reg of the A fragment of k-slice kk is the pair of
 * accumulator elements v, v+1 (v = tb_fl_repack_v(reg)) of n8 tile 2 kk + tb_fl_repack_tile(reg):
 * tiles 2kk and 2kk+1 hold, in the same lanes, exactly what the A fragment wants. */
TB_HD int tb_fl_repack_tile(int reg)
{
    return reg >> 1;
}

TB_HD int tb_fl_repack_v(int reg)
{
    return (reg & 1) * 2;
}

/* The lanes a row's partial max and sum are exchanged with: lane ^ tb_fl_quad_xor(step),
 * step 0 and 1 (the four lanes of a quad share the row). */
TB_HD int tb_fl_quad_xor(int step)
{
    return 1 << step;
}

/* The forward's warps: each owns MT m16 row tiles of the Q tile (TB_ATTN_FWD_MT), so every K
 * and V fragment it reads feeds MT MMAs. Row tile mt of warp w starts at row: */
TB_HD int tb_fl_fwd_m0(int warp, int mt, int MT)
{
    return warp * (16 * MT) + mt * 16;
}

/* Whether the forward (MT row tiles per warp) keeps its Q fragments in registers for the whole
 * loop (loaded once) or reads them from the Q tile every key tile: at D = 64, MT = 2 they take
 * 32 registers beside O's 64 and S's 64, at D = 128, MT = 1 32 beside O's 64 and S's 32; at
 * D = 128, MT = 2 O alone takes 128 and Q's 64 more would spill. */
#define TB_FL_FWD_Q_IN_REGS(D, MT) ((D) * (MT) <= 128)

/* Forward shared memory: the Q tile (BR rows), then TB_FL_STAGES K tiles, then TB_FL_STAGES V
 * tiles (TB_ATTN_FWD_BC rows each). Byte offsets: */
#define TB_FL_FWD_QTILE(D, BR) ((BR) * (D) * 2)
#define TB_FL_FWD_TILE(D) (TB_ATTN_FWD_BC * (D) * 2)
#define TB_FL_FWD_Q_OFF(D, BR) 0
#define TB_FL_FWD_K_OFF(D, BR, st) (TB_FL_FWD_QTILE(D, BR) + (st) * TB_FL_FWD_TILE(D))
#define TB_FL_FWD_V_OFF(D, BR, st)                                                             \
    (TB_FL_FWD_QTILE(D, BR) + (TB_FL_STAGES + (st)) * TB_FL_FWD_TILE(D))
#define TB_FL_FWD_SMEM(D, BR) (TB_FL_FWD_QTILE(D, BR) + 2 * TB_FL_STAGES * TB_FL_FWD_TILE(D))

/* Backward shared memory: K and V (TB_ATTN_BWD_BC rows each), TB_FL_STAGES Q then dO tiles
 * (TB_ATTN_BWD_BR rows), the dS^T tile, then TB_FL_STAGES rows of lse and of D (fp32). */
/* dS^T row pitch in elements: 80 bytes keeps the rows one ldmatrix reads in distinct banks */
#define TB_FL_DS_STRIDE (TB_ATTN_BWD_BR + 8)
#define TB_FL_BWD_KV(D) (TB_ATTN_BWD_BC * (D) * 2)
#define TB_FL_BWD_QT(D) (TB_ATTN_BWD_BR * (D) * 2)
#define TB_FL_BWD_K_OFF(D) 0
#define TB_FL_BWD_V_OFF(D) TB_FL_BWD_KV(D)
#define TB_FL_BWD_Q_OFF(D, st) (2 * TB_FL_BWD_KV(D) + (st) * TB_FL_BWD_QT(D))
#define TB_FL_BWD_DO_OFF(D, st) (TB_FL_BWD_Q_OFF(D, TB_FL_STAGES) + (st) * TB_FL_BWD_QT(D))
#define TB_FL_BWD_DS_OFF(D) TB_FL_BWD_DO_OFF(D, TB_FL_STAGES)
#define TB_FL_BWD_LSE_OFF(D) (TB_FL_BWD_DS_OFF(D) + TB_ATTN_BWD_BC * TB_FL_DS_STRIDE * 2)
#define TB_FL_BWD_DR_OFF(D) (TB_FL_BWD_LSE_OFF(D) + TB_FL_STAGES * TB_ATTN_BWD_BR * 4)
#define TB_FL_BWD_SMEM(D) (TB_FL_BWD_DR_OFF(D) + TB_FL_STAGES * TB_ATTN_BWD_BR * 4)

/* The backward's items: the query tiles first .. nq-1 of query head kvh G, then those of the
 * next head of the group, and so on. An item is named by its tile's first row q0 and that row's
 * index in the [B][H][S] rows; this steps to the next item: one tile on, or from a head's last
 * tile to the next head's first (no division). */
TB_HD void tb_fl_bwd_next_item(int *q0, int64_t *row, int first, int nq, int S)
{
    *q0 += TB_ATTN_BWD_BR;
    *row += TB_ATTN_BWD_BR;
    if (*q0 >= nq * TB_ATTN_BWD_BR) {
        *q0 = first * TB_ATTN_BWD_BR;
        *row += S - (nq - first) * TB_ATTN_BWD_BR;
    }
}

/* The first of stage st's TB_ATTN_BWD_BR fp32 rows in the lse and D blocks (elements). */
TB_HD int tb_fl_bwd_row_slot(int st)
{
    return st * TB_ATTN_BWD_BR;
}

/* dS^T ([key][query], pitch TB_FL_DS_STRIDE elements): the element offset where warp `warp`
 * stores the pair (2r, 2r+1) of its accumulator tile i (keys 16 warp .., queries 8 i ..). */
TB_HD int tb_fl_dst_store_at(int warp, int lane, int i, int r)
{
    return (warp * 16 + tb_fl_lane_g(lane) + tb_fl_c_vrow(2 * r)) * TB_FL_DS_STRIDE + i * 8 +
           tb_fl_t4_col(tb_fl_lane_t4(lane));
}

/* The dQ step: warp w computes all TB_ATTN_BWD_BR queries of the tile (two m16 row tiles, so
 * each K fragment feeds two MMAs) for columns tb_fl_dq_c0(w, D) .. + D/4. */
TB_HD int tb_fl_dq_m0(int mt)
{
    return mt * 16;
}

TB_HD int tb_fl_dq_c0(int warp, int D)
{
    return warp * (D / TB_FL_WARPS);
}

/* Whether the backward keeps the A fragments of its warp's K and V rows in registers for the
 * whole loop (loaded once) or reads them every tile: at D = 64 they take 32 registers beside
 * dK's and dV's 64; at D = 128 dK and dV alone take 128 and 64 more would spill. */
#define TB_FL_BWD_KV_IN_REGS(D) ((D) <= 64)

/* The A fragment of dS (queries m0..m0+15 x keys kk 16..) read from dS^T through
 * ldmatrix.trans: matrix i holds queries m0 + (i & 1) 8, keys kk 16 + (i >> 1) 8. Byte offset
 * of lane's row: */
TB_HD uint32_t tb_fl_dst_ldsm_at(int lane, int m0, int kk)
{
    const int i8 = lane >> 3, r8 = lane & 7;
    const int key = kk * 16 + r8 + (i8 >> 1) * 8, q = m0 + (i8 & 1) * 8;
    return (uint32_t)((key * TB_FL_DS_STRIDE + q) * 2);
}

#endif
