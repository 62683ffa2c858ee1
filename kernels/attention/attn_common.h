/* attn_common.h - what the attention kernels, the host implementation and the tests agree on,
 * shared by host and device: the tensor layout, the flash kernels' tile sizes, which tiles a
 * causal mask skips or masks, and the online-softmax update.
 *
 * Layout: Q, O, dO, dQ are [B][H][S][D], K, V, dK, dV are [B][KVH][S][D], log-sum-exp and
 * D = rowsum(dO o O) are [B][H][S], all contiguous. With grouped-query attention the G = H/KVH
 * query heads h = kvh*G .. kvh*G+G-1 share KV head kvh, so the G*S query rows of one (b, kvh)
 * "group" are one contiguous (G*S) x D matrix: group z = b*KVH + kvh.
 *
 * Scores s_ij = scale * q_i . k_j, scale = 1/sqrt(D); causal masks j > i. The kernels work in
 * base 2 with the scale folded in: x_ij = q_i . k_j * (scale * log2 e), p_ij = exp2(x_ij - m_i);
 * the log-sum-exp they write is natural: lse_i = ln sum_j exp(s_ij). */
#ifndef TB_ATTN_COMMON_H
#define TB_ATTN_COMMON_H

#include <math.h>
#include <stdint.h>

#include "../tb_random.h"

/* forward: one CTA of 4 warps per query tile, each warp TB_ATTN_FWD_MT(D, arch) m16 row tiles:
 * two (128 rows) at head dim 64 everywhere and at 128 on sm_90, one (64 rows) at head dim 128
 * elsewhere, where two spill registers. arch: the architecture the kernel was compiled for,
 * major * 10 + minor (__CUDA_ARCH__ / 10 on the device, the kernel's PTX version on the host).
 * K/V streamed in 64-row tiles. TB_ATTN_FWD_BR is the largest query tile (and the host
 * implementation's). */
#define TB_ATTN_FWD_MT(D, arch) ((D) > 64 && (arch) != 90 ? 1 : 2)
#define TB_ATTN_FWD_BR 128
#define TB_ATTN_FWD_BC 64
/* backward: one CTA of 4 warps per 64 key rows (16 per warp), Q/dO streamed in 32-row tiles */
#define TB_ATTN_BWD_BR 32
#define TB_ATTN_BWD_BC 64

#define TB_ATTN_LOG2E 1.4426950408889634f
#define TB_ATTN_LN2 0.6931471805599453f

/* Element (row, d) of head `head` in a [.][heads][S][D] tensor, batch b. */
TB_HD int64_t tb_attn_index(int b, int head, int heads, int64_t row, int d, int S, int D)
{
    return (((int64_t)b * heads + head) * S + row) * D + d;
}

/* The launch order of the flash kernels' thread blocks (a 1-D grid of tiles x heads): block
 * `block` runs tile `tile` of head `head`. The tile is the slow axis and tile 0 is the longest
 * (the forward's last query tile, the backward's first key tile under a causal mask), the head
 * the fast one, so every head's longest tiles start first and the short ones fill the tail. */
typedef struct {
    int tile, head;
} tb_attn_cta;

/* The forward's rows per query tile (one CTA) for head dim D on arch: the launch's grid, the
 * verification's tiles and the launch order all take it from here. */
TB_HD int tb_attn_fwd_br(int D, int arch)
{
    return 4 * 16 * TB_ATTN_FWD_MT(D, arch);
}

TB_HD tb_attn_cta tb_attn_cta_at(int64_t block, int heads)
{
    tb_attn_cta c = {(int)(block / heads), (int)(block % heads)};
    return c;
}

/* The first query row of the forward's tile `tile` of br rows (tile 0: the last query tile,
 * the longest under a causal mask) and the first key of the backward's (tile 0: the first key
 * tile). */
TB_HD int tb_attn_fwd_tile_q0(int tile, int S, int br)
{
    return ((S + br - 1) / br - 1 - tile) * br;
}

TB_HD int tb_attn_bwd_tile_k0(int tile)
{
    return tile * TB_ATTN_BWD_BC;
}

/* 2^x: on the device one ex2.approx.ftz.f32 (relative error 2^-22, subnormal results flushed
 * to 0: a term below 2^-126 of the row's maximum adds nothing a bf16/fp16 output can hold), on
 * the host exp2f. */
TB_HD float tb_attn_exp2(float x)
{
#ifdef __CUDA_ARCH__
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
#else
    return exp2f(x);
#endif
}

/* Whether key j is hidden from query i. */
TB_HD int tb_attn_masked(int64_t i, int64_t j, int S, int causal)
{
    return j >= S || (causal && j > i);
}

/* The number of key tiles (of bc rows) a query tile starting at q0 (br rows) visits: all of
 * them, or with a causal mask those up to the tile's last row; fully masked tiles are never
 * loaded. */
TB_HD int tb_attn_kv_tiles(int q0, int br, int bc, int S, int causal)
{
    int end = causal ? (q0 + br < S ? q0 + br : S) : S;
    return (end + bc - 1) / bc;
}

/* The first query tile (of br rows) a key tile starting at k0 meets: with a causal mask the
 * tiles that end before k0 see none of its keys. */
TB_HD int tb_attn_first_q_tile(int k0, int br, int causal)
{
    return causal ? k0 / br : 0;
}

/* Whether the (q0, k0) tile needs per-element masking: it holds keys past the sequence, or
 * it reaches above the causal diagonal. Other visited tiles run unmasked. */
TB_HD int tb_attn_tile_needs_mask(int q0, int br, int k0, int bc, int S, int causal)
{
    (void)br;
    return k0 + bc > S || (causal && k0 + bc - 1 > q0);
}

/* The running state of one query row: m the largest x seen (base-2 units), l the sum of
 * exp2(x - m) so far. Start: m = -inf, l = 0. */
typedef struct {
    float m, l;
} tb_attn_row;

/* The base the row's exponentials are taken against: m, or 0 while every key seen so far was
 * masked (m = -inf), so exp2(x - base) never evaluates -inf - -inf. */
TB_HD float tb_attn_row_base(float m)
{
    return m == -INFINITY ? 0.0f : m;
}

/* Takes a tile's row maximum (-inf when the row is masked throughout the tile) and returns
 * the factor by which the row's earlier sum and output must be multiplied: exp2(m_old -
 * m_new), 1 when nothing changes, 0 while nothing had been seen. The caller then adds the
 * tile's exp2(x - base) terms to l. */
TB_HD float tb_attn_row_update(tb_attn_row *r, float tile_max)
{
    float m_new = tile_max > r->m ? tile_max : r->m;
    /* not exp2(base(m_old) - m_new): with nothing seen yet that is exp2(-m_new), which
     * overflows to inf for a very negative first maximum, and 0 * inf is NaN */
    float alpha = r->m == -INFINITY ? 0.0f : tb_attn_exp2(r->m - m_new);
    r->m = m_new;
    r->l *= alpha;
    return alpha;
}

/* The row's natural log-sum-exp of the scores s = x / (scale log2 e); -inf for a row with no
 * visible key. */
TB_HD float tb_attn_row_lse(tb_attn_row r)
{
    return r.l > 0.0f ? (r.m + log2f(r.l)) * TB_ATTN_LN2 : -INFINITY;
}

/* 1 / l, the factor applied once to the row's output at the end; 0 for an empty row. */
TB_HD float tb_attn_row_inv(tb_attn_row r)
{
    return r.l > 0.0f ? 1.0f / r.l : 0.0f;
}

#endif
