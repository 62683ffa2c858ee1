/* The flash kernels' launch order (attn_common.h: tb_attn_cta_at, tb_attn_fwd_tile_q0,
 * tb_attn_bwd_tile_k0) scheduled on an H100's 132 SMs x 2 resident CTAs: the hardware starts
 * CTAs in block-index order, each on the first slot that frees. A CTA's time is counted in the
 * tiles it visits (the forward's key tiles, the backward's query tiles of every head of its
 * group). The makespan of that list schedule must stay within 5 % of the ideal (the larger of
 * the work per slot and the longest CTA) on the Llama 3 and FlashAttention-sweep shapes. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/attn_common.h"

#define SLOTS (132 * 2)
#define BOUND 1.05

typedef struct {
    int B, H, KVH, S, causal;
} order_shape;

/* The work of the CTA block `block` runs, as the kernels name it (heads_fast: the kernels'
 * order; otherwise each head's tiles one after another, the order the test must reject); the
 * forward's query tiles are br rows (tb_attn_fwd_br: 128 or 64). */
static int64_t fwd_cost(const order_shape *s, int64_t block, int heads_fast, int br)
{
    const int nq = (s->S + br - 1) / br;
    tb_attn_cta c = tb_attn_cta_at(block, s->B * s->H);
    if (!heads_fast) {
        c.tile = (int)(block % nq);
        c.head = (int)(block / nq);
    }
    const int q0 = tb_attn_fwd_tile_q0(c.tile, s->S, br);
    return tb_attn_kv_tiles(q0, br, TB_ATTN_FWD_BC, s->S, s->causal);
}

static int64_t bwd_cost(const order_shape *s, int64_t block, int heads_fast)
{
    const int nk = (s->S + TB_ATTN_BWD_BC - 1) / TB_ATTN_BWD_BC;
    const int nq = (s->S + TB_ATTN_BWD_BR - 1) / TB_ATTN_BWD_BR;
    tb_attn_cta c = tb_attn_cta_at(block, s->B * s->KVH);
    if (!heads_fast) {
        c.tile = (int)(block % nk);
        c.head = (int)(block / nk);
    }
    const int k0 = tb_attn_bwd_tile_k0(c.tile);
    return (int64_t)(s->H / s->KVH) * (nq - tb_attn_first_q_tile(k0, TB_ATTN_BWD_BR, s->causal));
}

/* Makespan / ideal of the list schedule of blocks 0 .. n-1 on SLOTS slots. */
static double schedule_ratio(const order_shape *s, int bwd, int heads_fast, int br)
{
    const int tiles =
        bwd ? (s->S + TB_ATTN_BWD_BC - 1) / TB_ATTN_BWD_BC : (s->S + br - 1) / br;
    const int64_t n = (int64_t)tiles * s->B * (bwd ? s->KVH : s->H);
    int64_t slot[SLOTS] = {0}, total = 0, longest = 0, end = 0;
    for (int64_t blk = 0; blk < n; blk++) {
        const int64_t cost = bwd ? bwd_cost(s, blk, heads_fast) : fwd_cost(s, blk, heads_fast, br);
        int first = 0;
        for (int i = 1; i < SLOTS; i++)
            if (slot[i] < slot[first])
                first = i;
        slot[first] += cost;
        end = slot[first] > end ? slot[first] : end;
        total += cost;
        longest = cost > longest ? cost : longest;
    }
    const double ideal = (double)total / SLOTS > (double)longest ? (double)total / SLOTS
                                                                 : (double)longest;
    return (double)end / ideal;
}

/* Llama 3 8B / 70B / 405B attention (REFERENCE.md), one sequence, causal, 4K and 8K; the
 * FlashAttention sweep: 16K tokens per batch, heads x head dim 2048, both masks. */
static int make_shapes(order_shape *out)
{
    int n = 0;
    const int llama_heads[] = {32, 64, 128};
    for (int m = 0; m < 3; m++)
        for (int S = 4096; S <= 8192; S *= 2)
            out[n++] = (order_shape){1, llama_heads[m], 8, S, 1};
    for (int d = 64; d <= 128; d *= 2)
        for (int S = 512; S <= 16384; S *= 2)
            for (int causal = 0; causal < 2; causal++)
                out[n++] = (order_shape){16384 / S, 2048 / d, 2048 / d, S, causal};
    return n;
}

Test(attention_order, the_launch_order_is_within_5_percent_of_ideal_on_every_shape)
{
    order_shape sh[64];
    const int n = make_shapes(sh);
    cr_assert_eq(n, 6 + 24);
    /* the forward at both query-tile heights (tb_attn_fwd_br), the backward once */
    const int pass_br[3] = {128, 64, 0};
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 3; p++) {
            const int bwd = pass_br[p] == 0, br = pass_br[p];
            const double r = schedule_ratio(&sh[i], bwd, 1, br);
            cr_log_info("%s(%d) B=%d H=%d KVH=%d S=%d causal=%d: makespan %.3f x ideal",
                        bwd ? "bwd" : "fwd", br, sh[i].B, sh[i].H, sh[i].KVH, sh[i].S,
                        sh[i].causal, r);
            cr_expect_leq(r, BOUND,
                          "%s(%d) B=%d H=%d KVH=%d S=%d causal=%d: makespan %.3f x ideal",
                          bwd ? "bwd" : "fwd", br, sh[i].B, sh[i].H, sh[i].KVH, sh[i].S,
                          sh[i].causal, r);
        }
}

/* The order the check exists for: a head's key tiles one after another, heads slow. */
Test(attention_order, heads_slow_order_is_caught_on_llama3_causal_gqa)
{
    const order_shape s = {1, 32, 8, 4096, 1};
    const double r = schedule_ratio(&s, 1, 0, 0);
    cr_log_info("bwd, heads slow, Llama 3 8B causal S=4096: makespan %.3f x ideal", r);
    cr_expect_gt(r, BOUND);
}

Test(attention_order, block_index_maps_to_every_tile_and_head_once)
{
    const int tiles = 5, heads = 3;
    int seen[5][3] = {{0}};
    for (int64_t b = 0; b < tiles * heads; b++) {
        const tb_attn_cta c = tb_attn_cta_at(b, heads);
        cr_assert(c.tile >= 0 && c.tile < tiles && c.head >= 0 && c.head < heads);
        seen[c.tile][c.head]++;
        /* the head is the fast axis */
        cr_expect_eq(c.head, (int)(b % heads));
    }
    for (int t = 0; t < tiles; t++)
        for (int h = 0; h < heads; h++)
            cr_expect_eq(seen[t][h], 1);
    /* tile 0 is the longest: the forward's last query tile, the backward's first key tile */
    cr_expect_eq(tb_attn_fwd_tile_q0(0, 1000, 128), 896);
    cr_expect_eq(tb_attn_fwd_tile_q0(0, 1000, 64), 960);
    cr_expect_eq(tb_attn_fwd_tile_q0(15, 1000, 64), 0);
    /* the rows per CTA: 128 (two row tiles per warp) at head dim 64 everywhere and at 128 on
     * sm_90, 64 at head dim 128 on sm_80 and sm_100 */
    cr_expect_eq(tb_attn_fwd_br(64, 80), 128);
    cr_expect_eq(tb_attn_fwd_br(64, 100), 128);
    cr_expect_eq(tb_attn_fwd_br(128, 90), 128);
    cr_expect_eq(tb_attn_fwd_br(128, 80), 64);
    cr_expect_eq(tb_attn_fwd_br(128, 100), 64);
    cr_expect_eq(tb_attn_bwd_tile_k0(0), 0);
}
