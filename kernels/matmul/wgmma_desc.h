/* wgmma_desc.h - the encodings the Hopper wgmma kernels hand to the hardware, as pure
 * functions shared by host and device so the CPU tests check the same code the kernels run:
 * the shared-memory matrix descriptor of wgmma.mma_async, the 128-byte swizzled layout TMA
 * writes, the accumulator fragment of m64nNk16, and the tensor-map geometry of an operand.
 * PTX ISA references: "Matrix Descriptor Format" (wgmma), "Tensor-map" swizzle modes, and the
 * m64nNk16 register fragment figures for .f32 accumulators. */
#ifndef TB_WGMMA_DESC_H
#define TB_WGMMA_DESC_H

#include <stdint.h>

#include "../tb_random.h"

/* Swizzle modes as the descriptor's bits 62-63 encode them. */
enum {
    TB_WG_SWIZZLE_NONE = 0,
    TB_WG_SWIZZLE_128B = 1,
    TB_WG_SWIZZLE_64B = 2,
    TB_WG_SWIZZLE_32B = 3
};

/* The 64-bit matrix descriptor: bits 0-13 start address >> 4, 16-29 leading-dimension byte
 * offset >> 4, 32-45 stride-dimension byte offset >> 4, 49-51 base offset, 62-63 swizzle
 * mode; every other bit 0. Addresses and offsets keep their bits 4..17 (shared memory is
 * below 256 KiB and 16-byte aligned). */
TB_HD uint64_t tb_wg_desc(uint32_t smem_addr, uint32_t lbo_bytes, uint32_t sbo_bytes,
                          uint32_t base_offset, uint32_t swizzle)
{
    return (uint64_t)((smem_addr & 0x3FFFFu) >> 4) |
           ((uint64_t)((lbo_bytes & 0x3FFFFu) >> 4) << 16) |
           ((uint64_t)((sbo_bytes & 0x3FFFFu) >> 4) << 32) | ((uint64_t)(base_offset & 7u) << 49) |
           ((uint64_t)(swizzle & 3u) << 62);
}

/* The rows of a K-major bf16 operand tile as TMA writes it with 128-byte swizzle: 64 elements
 * (128 bytes) per row, 8-row groups of 1024 bytes one after another. */
#define TB_WG_SW128_ROW_BYTES 128
#define TB_WG_SW128_ATOM_BYTES 1024
#define TB_WG_BK 64 /* k elements of one 128-byte row: the k extent of one pipeline stage */

/* The descriptor of the k16 slice starting at element k (a multiple of 16, < 64) of such a
 * tile at tile_addr (1024-byte aligned): the start address moves 2 k bytes along the row (the
 * hardware applies the swizzle to the address it forms, so the tile's own XOR pattern is
 * kept); stride offset 1024 (next 8-row group); leading offset 16 bytes, unused by a swizzled
 * K-major operand whose k16 slice lies within one 128-byte row; base offset 0 since the
 * address stays within the first 128 bytes of a 1024-byte-aligned atom. */
TB_HD uint64_t tb_wg_desc_kmajor_sw128(uint32_t tile_addr, int k)
{
    return tb_wg_desc(tile_addr + (uint32_t)k * 2u, 16, TB_WG_SW128_ATOM_BYTES, 0,
                      TB_WG_SWIZZLE_128B);
}

/* An M/N-major (M- or N-contiguous) bf16 operand tile as TMA writes it with 128-byte swizzle:
 * blocks of 64 m (or n) x 64 k, 8 KiB each, one after another along m (n); in a block, k row
 * r holds 64 contiguous m (n), swizzled as a K-major row would be. */
#define TB_WG_MN_BLOCK 64
#define TB_WG_MN_BLOCK_BYTES (TB_WG_MN_BLOCK * TB_WG_BK * 2)

/* The descriptor of the k16 slice starting at k (a multiple of 16, < 64) of such a tile at
 * tile_addr (1024-byte aligned), read by wgmma with the operand's transpose bit set: the start
 * moves k rows of 128 bytes (2048 bytes per k16: whole 1024-byte atoms, so base offset 0);
 * leading offset 8 KiB (the next 64 m or n), stride offset 1024 (the next 8 k). */
TB_HD uint64_t tb_wg_desc_mnmajor_sw128(uint32_t tile_addr, int k)
{
    return tb_wg_desc(tile_addr + (uint32_t)k * TB_WG_SW128_ROW_BYTES, TB_WG_MN_BLOCK_BYTES,
                      TB_WG_SW128_ATOM_BYTES, 0, TB_WG_SWIZZLE_128B);
}

/* Byte offset of bf16 element (row, k), k < 64, in a 128-byte-swizzled tile whose base is
 * 1024-byte aligned: 16-byte chunk k / 8 of row `row` is stored at chunk (k / 8) ^ (row % 8). */
TB_HD uint32_t tb_wg_sw128_offset(int row, int k)
{
    return (uint32_t)row * TB_WG_SW128_ROW_BYTES + ((uint32_t)((k >> 3) ^ (row & 7)) << 4) +
           (uint32_t)(k & 7) * 2u;
}

/* Byte offset of bf16 element (mn, k), k < 64, in an M/N-major tile (above). */
TB_HD uint32_t tb_wg_mn_offset(int mn, int k)
{
    return (uint32_t)(mn / TB_WG_MN_BLOCK) * TB_WG_MN_BLOCK_BYTES +
           tb_wg_sw128_offset(k, mn % TB_WG_MN_BLOCK);
}

/* Where accumulator register i (0 .. N/2 - 1) of thread t (0 .. 127 of the warpgroup) of an
 * m64nNk16 fp32 result lies in the 64 x N tile: warp t / 32 owns rows 16 (t / 32) .. + 15;
 * registers 4j .. 4j + 3 belong to n8 block j; with lane l = t % 32, registers 4j and 4j + 1
 * are row l / 4, columns 8j + 2 (l % 4) and + 1, registers 4j + 2 and 4j + 3 the row 8
 * below. */
TB_HD void tb_wg_acc_pos(int t, int i, int *row, int *col)
{
    const int lane = t & 31;
    *row = (t >> 5) * 16 + (lane >> 2) + ((i >> 1) & 1) * 8;
    *col = (i >> 2) * 8 + (lane & 3) * 2 + (i & 1);
}

/* Whether m64nNk16 exists for bf16 inputs: N a multiple of 8 from 8 to 256. */
TB_HD int tb_wg_n_valid(int n)
{
    return n >= 8 && n <= 256 && n % 8 == 0;
}

/* The tensor-map geometry of a row-major bf16 matrix of `rows` rows of `cols` contiguous
 * elements, read or written in boxes of box_rows x box_cols: dims (innermost first) {cols,
 * rows}, the row stride in bytes, box {box_cols, box_rows}. Returns 0 when TMA cannot
 * describe it: the row stride must be a multiple of 16 bytes (cols % 8 == 0), dims and
 * stride below 2^32 and 2^40, boxes at most 256 per side, and with 128-byte swizzle the
 * box's inner extent at most 128 bytes. */
TB_HD int tb_wg_tma_geometry(int64_t rows, int64_t cols, int box_rows, int box_cols,
                             int swizzle_128b, uint64_t dims[2], uint64_t *row_stride_bytes,
                             uint32_t box[2])
{
    if (rows < 1 || cols < 1 || cols % 8 != 0 || rows >= (1LL << 32) || cols >= (1LL << 32))
        return 0;
    if (box_rows < 1 || box_rows > 256 || box_cols < 1 || box_cols > 256 ||
        (box_cols * 2) % 16 != 0)
        return 0;
    if (swizzle_128b && box_cols * 2 > TB_WG_SW128_ROW_BYTES)
        return 0;
    if ((uint64_t)cols * 2 >= (1ull << 40))
        return 0;
    dims[0] = (uint64_t)cols;
    dims[1] = (uint64_t)rows;
    *row_stride_bytes = (uint64_t)cols * 2;
    box[0] = (uint32_t)box_cols;
    box[1] = (uint32_t)box_rows;
    return 1;
}

#endif
