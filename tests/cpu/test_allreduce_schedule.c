/* The all-reduce schedules of kernels/allreduce/ar_schedule.h, run step by step on the CPU
 * for every schedule, rank count 2..8 and sizes that do not divide (single elements, partial
 * vectors, fewer vectors than ranks or blocks), against the plain sum; then the host
 * implementation (a thread per rank, the real flag protocol) on the same sizes, several
 * operations in a row on one set of flags. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../bench/allreduce_host.h"
#include "../../kernels/allreduce/ar_data.h"
#include "../../kernels/allreduce/ar_schedule.h"

static const long long counts[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257,
                                   1000, 4099};
#define NCOUNTS (int)(sizeof counts / sizeof counts[0])
static const int blocks_list[] = {1, 2, 3, 5};
static const int vecs[] = {4, 8};

Test(ar_schedule, split_covers_every_element_once_on_vector_boundaries)
{
    for (int c = 0; c < NCOUNTS; c++)
        for (int parts = 1; parts <= 9; parts++)
            for (int vi = 0; vi < 2; vi++) {
                long long n = counts[c], next = 0;
                for (int i = 0; i < parts; i++) {
                    long long lo, hi;
                    tb_ar_split(n, parts, vecs[vi], i, &lo, &hi);
                    cr_assert_eq(lo, next, "n=%lld parts=%d part %d starts at %lld", n, parts, i,
                                 lo);
                    cr_assert_leq(lo, hi);
                    cr_assert(lo % vecs[vi] == 0 || lo == n, "part %d starts mid-vector", i);
                    cr_assert(hi % vecs[vi] == 0 || hi == n, "part %d ends mid-vector", i);
                    next = hi;
                }
                cr_assert_eq(next, n, "n=%lld parts=%d: the parts end at %lld", n, parts, next);
            }
}

Test(ar_schedule, split_is_balanced_to_one_vector)
{
    long long lo, hi;
    tb_ar_split(100, 3, 4, 0, &lo, &hi); /* 25 vectors: 9, 8, 8 */
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 36);
    tb_ar_split(100, 3, 4, 2, &lo, &hi);
    cr_assert_eq(lo, 68);
    cr_assert_eq(hi, 100);
    tb_ar_split(3, 4, 8, 1, &lo, &hi); /* one partial vector: parts 1.. are empty */
    cr_assert_eq(lo, 3);
    cr_assert_eq(hi, 3);
}

Test(ar_schedule, ring_steps_forward_what_was_received)
{
    for (int n = 2; n <= 8; n++)
        for (int r = 0; r < n; r++) {
            int prev = (r + n - 1) % n;
            for (int k = 1; k < n - 1; k++)
                cr_assert_eq(tb_ar_ring_rs_chunk(r, k, n), tb_ar_ring_rs_chunk(prev, k - 1, n),
                             "n=%d rank %d step %d sends a chunk it did not receive", n, r, k);
            /* the last reduce-scatter message received is the chunk this rank owns */
            cr_assert_eq(tb_ar_ring_rs_chunk(prev, n - 2, n), tb_ar_ring_owned(r, n));
            cr_assert_eq(tb_ar_ring_ag_chunk(r, 0, n), tb_ar_ring_owned(r, n));
            for (int j = 1; j < n - 1; j++)
                cr_assert_eq(tb_ar_ring_ag_chunk(r, j, n), tb_ar_ring_ag_chunk(prev, j - 1, n));
            /* owned + the n - 1 chunks received in the all-gather: every chunk once */
            int seen[16] = {0};
            seen[tb_ar_ring_owned(r, n)]++;
            for (int j = 0; j < n - 1; j++)
                seen[tb_ar_ring_ag_chunk(prev, j, n)]++;
            for (int c = 0; c < n; c++)
                cr_assert_eq(seen[c], 1, "n=%d rank %d gets chunk %d %d times", n, r, c, seen[c]);
        }
}

/* The ring's pieces at the kernel's sizes (32 KiB base pieces of bf16, 128 blocks, 8 ranks):
 * up to one per block they keep the base size; past that every block runs the same rounds,
 * pieces grow to at most TB_AR_RING_MAX_MULT x base, and no fewer rounds would do. */
Test(ar_schedule, ring_pieces_grow_at_large_sizes_to_the_fewest_rounds)
{
    const int n = 8, vec = 8, blocks = 128;
    const long long base = 16384; /* 32 KiB of bf16 */
    for (long long bytes = 1024; bytes <= (8ll << 30); bytes *= 2)
        for (int odd = 0; odd < 2; odd++) {
            long long count = bytes / 2 + odd * 3;
            int p0 = tb_ar_ring_pieces(count, n, vec, base);
            int p = tb_ar_ring_pieces_for(count, n, vec, base, blocks, TB_AR_RING_MAX_MULT);
            long long clo, chi, plo, phi;
            tb_ar_split(count, n, vec, 0, &clo, &chi);
            tb_ar_split(chi - clo, p, vec, 0, &plo, &phi); /* the largest piece */
            if (p0 <= blocks) {
                cr_assert_eq(p, p0, "%lld B: %d pieces, not the %d base ones", bytes, p, p0);
                continue;
            }
            int rounds = tb_ar_ring_rounds(p, blocks);
            cr_assert_eq(p % blocks, 0, "%lld B: %d pieces for %d blocks", bytes, p, blocks);
            cr_assert_leq(phi - plo, TB_AR_RING_MAX_MULT * base, "%lld B: pieces of %lld",
                          bytes, phi - plo);
            cr_assert_lt((rounds - 1) * (long long)blocks * TB_AR_RING_MAX_MULT * base,
                         chi - clo, "%lld B: %d rounds where %d would do", bytes, rounds,
                         rounds - 1);
            cr_assert_leq(rounds, tb_ar_ring_rounds(p0, blocks));
        }
    /* 256 MiB of bf16: 1024 base pieces (8 rounds) become 128 pieces of 256 KiB (1 round) */
    cr_assert_eq(tb_ar_ring_pieces((256ll << 20) / 2, n, vec, base), 1024);
    cr_assert_eq(tb_ar_ring_pieces_for((256ll << 20) / 2, n, vec, base, blocks,
                                       TB_AR_RING_MAX_MULT), 128);
    /* 4 GiB: 16384 base pieces, 16 rounds of 8x pieces */
    cr_assert_eq(tb_ar_ring_pieces_for((4ll << 30) / 2, n, vec, base, blocks,
                                       TB_AR_RING_MAX_MULT), 16 * 128);
    /* a few more pieces than blocks: one round of slightly larger pieces, not two */
    cr_assert_eq(tb_ar_ring_pieces_for(130 * base * n, n, vec, base, blocks,
                                       TB_AR_RING_MAX_MULT), 128);
}

/* ---- step-by-step simulation of the schedules over integer buffers ---- */

typedef struct {
    int n;
    long long count;
    long long *in[8], *out[8], *stage[8];
} sim;

static void sim_init(sim *s, int n, long long count, int inplace)
{
    s->n = n;
    s->count = count;
    for (int r = 0; r < n; r++) {
        s->in[r] = malloc((size_t)count * sizeof(long long));
        s->stage[r] = malloc((size_t)count * sizeof(long long));
        s->out[r] = inplace ? s->in[r] : malloc((size_t)count * sizeof(long long));
        for (long long i = 0; i < count; i++) {
            s->in[r][i] = tb_ar_input(7, r, i);
            s->stage[r][i] = 1000000; /* poison */
            if (!inplace)
                s->out[r][i] = 1000000;
        }
    }
}

static void sim_check_free(sim *s, int inplace, const char *what)
{
    for (int r = 0; r < s->n; r++) {
        for (long long i = 0; i < s->count; i++)
            cr_assert_eq(s->out[r][i], tb_ar_expected(7, s->n, TB_AR_SUM, i),
                         "%s n=%d count=%lld: rank %d element %lld is %lld", what, s->n, s->count,
                         r, i, s->out[r][i]);
        free(s->in[r]);
        free(s->stage[r]);
        if (!inplace)
            free(s->out[r]);
    }
}

/* ring, all ranks step by step: each step's sends read the state the previous step left */
static void sim_ring(sim *s, int blocks, int vec, long long piece, int max_mult,
                     long long *tmp[8])
{
    int n = s->n;
    int pieces = tb_ar_ring_pieces_for(s->count, n, vec, piece, blocks, max_mult);
    int rounds = tb_ar_ring_rounds(pieces, blocks);
    for (int b = 0; b < blocks; b++)
        for (int q = 0; q < rounds && q * blocks + b < pieces; q++) {
            int p = q * blocks + b;
            long long lo[8], hi[8];
            for (int k = 0; k < n - 1; k++) {
                for (int r = 0; r < n; r++) {
                    tb_ar_ring_piece(s->count, n, vec, pieces, tb_ar_ring_rs_chunk(r, k, n), p,
                                     &lo[r], &hi[r]);
                    for (long long i = lo[r]; i < hi[r]; i++)
                        tmp[r][i] = s->in[r][i] + (k > 0 ? s->stage[r][i] : 0);
                }
                for (int r = 0; r < n; r++)
                    for (long long i = lo[r]; i < hi[r]; i++)
                        s->stage[(r + 1) % n][i] = tmp[r][i];
            }
            for (int r = 0; r < n; r++) {
                tb_ar_ring_piece(s->count, n, vec, pieces, tb_ar_ring_owned(r, n), p, &lo[r],
                                 &hi[r]);
                for (long long i = lo[r]; i < hi[r]; i++) {
                    long long x = s->in[r][i] + s->stage[r][i];
                    s->out[r][i] = x;
                    s->out[(r + 1) % n][i] = x;
                }
            }
            for (int j = 1; j < n - 1; j++) {
                for (int r = 0; r < n; r++) {
                    tb_ar_ring_piece(s->count, n, vec, pieces, tb_ar_ring_ag_chunk(r, j, n), p,
                                     &lo[r], &hi[r]);
                    for (long long i = lo[r]; i < hi[r]; i++)
                        tmp[r][i] = s->out[r][i];
                }
                for (int r = 0; r < n; r++)
                    for (long long i = lo[r]; i < hi[r]; i++)
                        s->out[(r + 1) % n][i] = tmp[r][i];
            }
        }
}

/* twoshot: every rank reduces its slice, then copies the others' */
static void sim_twoshot(sim *s, int blocks, int vec)
{
    int n = s->n;
    for (int b = 0; b < blocks; b++) {
        for (int r = 0; r < n; r++) {
            long long lo, hi;
            tb_ar_twoshot_range(s->count, n, vec, blocks, r, b, &lo, &hi);
            for (long long i = lo; i < hi; i++) {
                long long acc = 0;
                for (int p = 0; p < n; p++)
                    acc += s->in[(r + p) % n][i];
                s->out[r][i] = acc;
            }
        }
        for (int r = 0; r < n; r++)
            for (int p = 1; p < n; p++) {
                int src = (r + p) % n;
                long long lo, hi;
                tb_ar_twoshot_range(s->count, n, vec, blocks, src, b, &lo, &hi);
                for (long long i = lo; i < hi; i++)
                    s->out[r][i] = s->out[src][i];
            }
    }
}

/* oneshot: every rank reduces its block's range of all inputs (into scratch when in place,
 * copied over after every rank has read) */
static void sim_oneshot(sim *s, int blocks, int vec, int inplace)
{
    int n = s->n;
    for (int b = 0; b < blocks; b++) {
        long long lo, hi;
        tb_ar_oneshot_range(s->count, vec, blocks, b, &lo, &hi);
        for (int r = 0; r < n; r++)
            for (long long i = lo; i < hi; i++) {
                long long acc = 0;
                for (int p = 0; p < n; p++)
                    acc += s->in[(r + p) % n][i];
                (inplace ? s->stage[r] : s->out[r])[i] = acc;
            }
        if (inplace)
            for (int r = 0; r < n; r++)
                for (long long i = lo; i < hi; i++)
                    s->out[r][i] = s->stage[r][i];
    }
}

Test(ar_schedule, every_schedule_every_rank_count_and_odd_size_equals_the_sum)
{
    long long *tmp[8];
    for (int r = 0; r < 8; r++)
        tmp[r] = malloc(4099 * sizeof(long long));
    for (int n = 2; n <= 8; n++)
        for (int c = 0; c < NCOUNTS; c++)
            for (int bi = 0; bi < 4; bi++)
                for (int vi = 0; vi < 2; vi++)
                    for (int inplace = 0; inplace < 2; inplace++) {
                        int blocks = blocks_list[bi], vec = vecs[vi];
                        sim s;
                        sim_init(&s, n, counts[c], inplace);
                        sim_oneshot(&s, blocks, vec, inplace);
                        sim_check_free(&s, inplace, "oneshot");
                        sim_init(&s, n, counts[c], inplace);
                        sim_twoshot(&s, blocks, vec);
                        sim_check_free(&s, inplace, "twoshot");
                        /* pieces of one vector, of three, and larger than most chunks;
                         * kept at that size, grown by 2, and as the kernel grows them */
                        const long long pieces[] = {vec, 3 * vec, 512};
                        const int mults[] = {1, 2, TB_AR_RING_MAX_MULT};
                        for (int pi = 0; pi < 3; pi++)
                            for (int mi = 0; mi < 3; mi++) {
                                sim_init(&s, n, counts[c], inplace);
                                sim_ring(&s, blocks, vec, pieces[pi], mults[mi], tmp);
                                sim_check_free(&s, inplace, "ring");
                            }
                    }
    for (int r = 0; r < 8; r++)
        free(tmp[r]);
}

/* ---- the host implementation: threads, flags, epochs ---- */

static void host_case(int algo, int n, long long count, int dt, int op, int inplace)
{
    tb_ar_host h;
    memset(&h, 0, sizeof h);
    h.algo = algo;
    h.nranks = n;
    h.dtype = dt;
    h.op = op;
    h.inplace = inplace;
    h.blocks = 3;
    h.piece = 2 * tb_ar_vec_elems(dt);
    h.count = count;
    h.stall_rank = -1;
    size_t bytes = (size_t)count * (size_t)tb_ar_elem_bytes(dt);
    for (int r = 0; r < n; r++) {
        h.in[r] = malloc(bytes);
        h.out[r] = inplace ? h.in[r] : malloc(bytes);
        h.scratch[r] = malloc(bytes);
        h.flags[r] = calloc((size_t)TB_AR_FLAG_WORDS, sizeof(unsigned));
        h.epochs[r] = calloc(TB_AR_MAX_BLOCKS, sizeof(unsigned));
    }
    /* three operations in a row on the same flags: the epochs must move them on */
    for (int rep = 0; rep < 3; rep++) {
        for (int r = 0; r < n; r++) {
            if (!inplace)
                memset(h.out[r], 0xff, bytes);
            for (long long i = 0; i < count; i++)
                tb_ar_set(h.in[r], dt, i, (float)tb_ar_input(11 + rep, r, i));
        }
        tb_err err;
        cr_assert_eq(tb_ar_host_run(&h, 30.0, &err), TB_OK, "%s", err.msg);
        for (int r = 0; r < n; r++)
            for (long long i = 0; i < count; i++)
                cr_assert_eq(tb_ar_get(h.out[r], dt, i),
                             (float)tb_ar_expected(11 + rep, n, op, i),
                             "algo %d n=%d count=%lld dt=%d op=%d inplace=%d rep %d: rank %d "
                             "element %lld",
                             algo, n, count, dt, op, inplace, rep, r, i);
    }
    for (int r = 0; r < n; r++) {
        free(h.in[r]);
        if (!inplace)
            free(h.out[r]);
        free(h.scratch[r]);
        free(h.flags[r]);
        free(h.epochs[r]);
    }
}

Test(ar_host, threads_run_the_schedules_exactly_in_every_dtype_and_op)
{
    static const long long sizes[] = {1, 5, 9, 33, 257};
    for (int algo = 0; algo < 3; algo++)
        for (int n = 2; n <= 8; n++)
            for (int c = 0; c < 5; c++)
                host_case(algo, n, sizes[c], TB_AR_BF16, TB_AR_SUM, c % 2);
    for (int algo = 0; algo < 3; algo++)
        for (int dt = 0; dt < 3; dt++)
            for (int op = 0; op < 3; op++)
                host_case(algo, 3, 1000, dt, op, (dt + op) % 2);
}

Test(ar_host, a_rank_that_never_arrives_times_out_and_releases_the_others)
{
    tb_ar_host h;
    memset(&h, 0, sizeof h);
    h.algo = TB_AR_RING;
    h.nranks = 3;
    h.dtype = TB_AR_F32;
    h.blocks = 2;
    h.piece = 4;
    h.count = 64;
    h.stall_rank = 2;
    for (int r = 0; r < 3; r++) {
        h.in[r] = calloc(64, 4);
        h.out[r] = calloc(64, 4);
        h.scratch[r] = calloc(64, 4);
        h.flags[r] = calloc((size_t)TB_AR_FLAG_WORDS, sizeof(unsigned));
        h.epochs[r] = calloc(TB_AR_MAX_BLOCKS, sizeof(unsigned));
    }
    tb_err err;
    cr_assert_eq(tb_ar_host_run(&h, 0.2, &err), TB_DEVFAIL);
    cr_assert(strstr(err.msg, "timed out after 0.2 s"), "%s", err.msg);
    for (int r = 0; r < 3; r++) {
        free(h.in[r]);
        free(h.out[r]);
        free(h.scratch[r]);
        free(h.flags[r]);
        free(h.epochs[r]);
    }
}

/* ar-skip-peer: the last rank's contribution to slice 0 (the first of n, in whole vectors) is
 * left out by every schedule, on every rank, and nothing else changes. */
Test(ar_host, a_skipped_peer_is_missing_from_slice_0_in_every_schedule)
{
    static const long long sizes[] = {3, 37, 1000, 4099};
    const int n = 4, skip = 3;
    for (int algo = 0; algo < 3; algo++)
        for (int c = 0; c < 4; c++)
            for (int op = 0; op < 3; op++)
                for (int inplace = 0; inplace < 2; inplace++) {
                    long long count = sizes[c];
                    tb_ar_host h;
                    memset(&h, 0, sizeof h);
                    h.algo = algo;
                    h.nranks = n;
                    h.dtype = TB_AR_F32;
                    h.op = op;
                    h.inplace = inplace;
                    h.blocks = 3;
                    h.piece = 8;
                    h.count = count;
                    h.stall_rank = -1;
                    h.skip_peer = skip;
                    tb_ar_split(count, n, 4, 0, &h.skip_lo, &h.skip_hi);
                    cr_assert_gt(h.skip_hi, h.skip_lo, "slice 0 is never empty");
                    for (int r = 0; r < n; r++) {
                        h.in[r] = malloc((size_t)count * 4);
                        h.out[r] = inplace ? h.in[r] : malloc((size_t)count * 4);
                        h.scratch[r] = malloc((size_t)count * 4);
                        h.flags[r] = calloc((size_t)TB_AR_FLAG_WORDS, sizeof(unsigned));
                        h.epochs[r] = calloc(TB_AR_MAX_BLOCKS, sizeof(unsigned));
                        for (long long i = 0; i < count; i++)
                            tb_ar_set(h.in[r], TB_AR_F32, i, (float)tb_ar_input(5, r, i));
                    }
                    tb_err err;
                    cr_assert_eq(tb_ar_host_run(&h, 30.0, &err), TB_OK, "%s", err.msg);
                    long long differ = 0;
                    for (long long i = 0; i < count; i++) {
                        int in_slice = i >= h.skip_lo && i < h.skip_hi;
                        int want = tb_ar_input(5, 0, i);
                        for (int q = 1; q < n; q++)
                            if (!(in_slice && q == skip))
                                want = tb_ar_combine_int(op, want, tb_ar_input(5, q, i));
                        differ += in_slice && want != tb_ar_expected(5, n, op, i);
                        for (int r = 0; r < n; r++)
                            cr_assert_eq(tb_ar_get(h.out[r], TB_AR_F32, i), (float)want,
                                         "algo %d count %lld op %d inplace %d: rank %d element "
                                         "%lld",
                                         algo, count, op, inplace, r, i);
                    }
                    if (op == TB_AR_SUM && count >= 37)
                        cr_assert_gt(differ, 0, "the sum is wrong somewhere in slice 0");
                    for (int r = 0; r < n; r++) {
                        free(h.in[r]);
                        if (!inplace)
                            free(h.out[r]);
                        free(h.scratch[r]);
                        free(h.flags[r]);
                        free(h.epochs[r]);
                    }
                }
}
