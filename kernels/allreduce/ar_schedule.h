/* ar_schedule.h - which elements each rank and block of the hand-written all-reduce kernels
 * touch at each step: shared by the kernels, the host implementation and the CPU tests.
 *
 * Everything is cut in units of one 16-byte vector (4 fp32 or 8 bf16/fp16 elements), so
 * every range starts on a vector boundary and only the range that ends at `count` can end
 * with a partial vector. Parts that get no vectors (small sizes) are empty (lo == hi), and
 * every rank computes the same ranges, so sender and receiver agree without talking.
 *
 *   oneshot  block b of every rank reduces its range of all n inputs
 *   twoshot  rank r reduces slice r (reduce-scatter by reads), then reads every other slice
 *            from its owner (all-gather); block b takes the same part of every slice
 *   ring     n chunks, each cut into `pieces`; block b handles pieces b, b + blocks, ...
 *            (one round each). Pieces hold a base size until there are more than blocks;
 *            past that they grow (up to TB_AR_RING_MAX_MULT x base) so each block runs as few
 *            rounds as it can: every round costs 2n - 2 flag hand-offs. Reduce-scatter step k (0 .. n-2): rank r sends chunk
 *            (r - k) mod n to rank r + 1, adding what it received at step k - 1; after it,
 *            rank r owns chunk (r + 1) mod n. All-gather step j (0 .. n-2): rank r sends
 *            chunk (r + 1 - j) mod n to rank r + 1. */
#ifndef TB_AR_SCHEDULE_H
#define TB_AR_SCHEDULE_H

#include "../tb_random.h"

#define TB_AR_MAX_RANKS 16
#define TB_AR_MAX_BLOCKS 128
/* flag slots: 0..2 the barriers; ring: 1 + k reduce-scatter step k, n + j all-gather step j */
#define TB_AR_SLOTS (2 * TB_AR_MAX_RANKS)

/* Part i of `parts` of n elements, in whole vectors of vec elements: [*lo, *hi). The first
 * (units % parts) parts get one vector more. */
TB_HD void tb_ar_split(long long n, int parts, int vec, int i, long long *lo, long long *hi)
{
    long long units = (n + vec - 1) / vec;
    long long base = units / parts, extra = units % parts;
    long long first = (long long)i * base + (i < extra ? i : extra);
    long long len = base + (i < extra ? 1 : 0);
    long long a = first * vec, b = (first + len) * vec;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

TB_HD int tb_ar_mod(int a, int n)
{
    return ((a % n) + n) % n;
}

/* oneshot: block b's range of the whole buffer. */
TB_HD void tb_ar_oneshot_range(long long count, int vec, int blocks, int b, long long *lo,
                               long long *hi)
{
    tb_ar_split(count, blocks, vec, b, lo, hi);
}

/* twoshot: block b's part of slice s (the slice rank s reduces). */
TB_HD void tb_ar_twoshot_range(long long count, int n, int vec, int blocks, int s, int b,
                               long long *lo, long long *hi)
{
    long long slo, shi, plo, phi;
    tb_ar_split(count, n, vec, s, &slo, &shi);
    tb_ar_split(shi - slo, blocks, vec, b, &plo, &phi);
    *lo = slo + plo;
    *hi = slo + phi;
}

/* ring: the chunk rank r sends at reduce-scatter step k. */
TB_HD int tb_ar_ring_rs_chunk(int r, int k, int n)
{
    return tb_ar_mod(r - k, n);
}

/* ring: the chunk rank r holds fully reduced after the reduce-scatter. */
TB_HD int tb_ar_ring_owned(int r, int n)
{
    return tb_ar_mod(r + 1, n);
}

/* ring: the chunk rank r sends at all-gather step j. */
TB_HD int tb_ar_ring_ag_chunk(int r, int j, int n)
{
    return tb_ar_mod(r + 1 - j, n);
}

/* ring: how many pieces each chunk is cut into so a piece holds about piece_elems. */
TB_HD int tb_ar_ring_pieces(long long count, int n, int vec, long long piece_elems)
{
    long long clo, chi;
    tb_ar_split(count, n, vec, 0, &clo, &chi); /* chunk 0 is the largest */
    long long p = (chi - clo + piece_elems - 1) / piece_elems;
    return p < 1 ? 1 : (p > 1000000 ? 1000000 : (int)p);
}

/* ring: how far pieces grow past their base size at large sizes */
#define TB_AR_RING_MAX_MULT 8

/* ring: the pieces each chunk is cut into for `blocks` blocks per rank. Up to `blocks`
 * pieces of at most base elements: those (small sizes). More: a multiple of blocks, the
 * fewest whose pieces hold at most max_mult x base elements, so every block runs the same
 * rounds and each round's hand-offs carry up to max_mult times more data. */
TB_HD int tb_ar_ring_pieces_for(long long count, int n, int vec, long long base, int blocks,
                                int max_mult)
{
    int p = tb_ar_ring_pieces(count, n, vec, base);
    if (blocks < 1 || p <= blocks)
        return p;
    long long per_round = (long long)blocks * (max_mult < 1 ? 1 : max_mult);
    long long rounds = (p + per_round - 1) / per_round;
    return (int)(rounds * blocks);
}

/* ring: the rounds a block runs: pieces b, b + blocks, ... */
TB_HD int tb_ar_ring_rounds(int pieces, int blocks)
{
    return (pieces + blocks - 1) / blocks;
}

/* ring: piece p of chunk c. */
TB_HD void tb_ar_ring_piece(long long count, int n, int vec, int pieces, int c, int p,
                            long long *lo, long long *hi)
{
    long long clo, chi, plo, phi;
    tb_ar_split(count, n, vec, c, &clo, &chi);
    tb_ar_split(chi - clo, pieces, vec, p, &plo, &phi);
    *lo = clo + plo;
    *hi = clo + phi;
}

/* The index of the flag of slot `slot`, written by rank `src`, for block `block`, in the
 * receiving rank's flag array (TB_AR_SLOTS x TB_AR_MAX_RANKS x TB_AR_MAX_BLOCKS words). */
TB_HD long long tb_ar_flag_index(int slot, int src, int block)
{
    return ((long long)slot * TB_AR_MAX_RANKS + src) * TB_AR_MAX_BLOCKS + block;
}

#define TB_AR_FLAG_WORDS ((long long)TB_AR_SLOTS * TB_AR_MAX_RANKS * TB_AR_MAX_BLOCKS)

/* The flag protocol's rules, shared by the kernels (ar_device.cuh and the bodies) and the CPU
 * model that runs them over random interleavings (tests/cpu/test_ar_protocol.c).
 *
 * Epochs: block b of a rank keeps a counter in its rank's memory; a launch computes its epoch
 * v from it, raises flags to v (ring: v + q in round q), waits for flags that have reached
 * its own value, and stores the counter back at the end, so the next launch (or graph
 * replay) waits for values no earlier launch wrote. */

/* The epoch of a launch, from the counter the previous launch left. */
TB_HD unsigned tb_ar_epoch_begin(unsigned stored)
{
    return stored + 1u;
}

/* The flag value of round q (ring; 0 for the one round of oneshot and twoshot). */
TB_HD unsigned tb_ar_round_epoch(unsigned v, int q)
{
    return v + (unsigned)q;
}

/* The counter a launch of epoch v leaves after `rounds` rounds (1 for oneshot, twoshot): the
 * last flag value it raised. */
TB_HD unsigned tb_ar_epoch_end(unsigned v, int rounds)
{
    return v + (unsigned)(rounds > 0 ? rounds - 1 : 0);
}

/* A flag holding `flag` has reached epoch v (wrap-safe). */
TB_HD int tb_ar_flag_reached(unsigned flag, unsigned v)
{
    return (int)(flag - v) >= 0;
}

/* Whether thread t of a block of rank `rank` takes part in a barrier among n ranks: one
 * thread per peer raises that peer's flag and waits for the peer's. */
TB_HD int tb_ar_barrier_peer(int t, int rank, int n)
{
    return t < n && t != rank;
}

/* ring: the 2n - 2 sends of a round, t = 0 .. 2n - 3 (reduce-scatter steps 0 .. n - 2, the
 * owned chunk at n - 1, all-gather steps 1 .. n - 2 after it) raise slot 1 + t of the next
 * rank; before send t > 0, and once more after the last, a rank waits for slot t of its own
 * flags (the previous rank's send t - 1). Slot 0 is the barrier at the start. */
TB_HD int tb_ar_ring_send_slot(int t)
{
    return 1 + t;
}

TB_HD int tb_ar_ring_recv_slot(int t)
{
    return t;
}

#endif
