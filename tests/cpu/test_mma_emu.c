/* The mma.sync matmul kernel (kernels/matmul/mma.cu) emulated lane by lane on the CPU, in
 * fp64, for its three layouts: every thread block's cp.async ring into the swizzled K- and
 * M/N-contiguous tiles, each warp's ldmatrix (plain, and .trans for the gradient layouts) and
 * mma.m16n8k16, and the epilogue's stores, with every index taken from mma_layout.h as the
 * kernel takes it and the instructions' semantics from emu_warp.h (the PTX ISA). Checked
 * against an fp64 reference with M, N, K off the tile sizes; the cp.async ring by the same
 * model (nothing read before its group was waited for and a barrier passed, nothing
 * overwritten while read). Knobs plant the bugs a layout or protocol edit would make. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu_warp.h"
#include "matmul/mm_common.h"
#include "matmul/mma_layout.h"

/* Planted bugs; all zero: the kernel as it is. */
typedef struct {
    int swz_drop_k;   /* ldmatrix reads of K-contiguous tiles swizzle without this XOR bit */
    int swz_drop_mn;  /* ldmatrix reads of M/N-contiguous tiles swizzle without this XOR bit */
    int a_plain;      /* the M-contiguous A operand read without .trans */
    int b_plain;      /* the N-contiguous B operand read without .trans */
    int a_rows8;      /* the K-contiguous A address uses lane & 7 for lane & 15 */
    int b_swap;       /* the two n8 tiles of an x4 B load exchanged */
    int wait_pending; /* cp.async.wait_group argument (0: the header's) */
    int no_barrier;   /* the loop's barrier after the wait dropped */
    int frag_same_buf; /* the next k-tile's first fragments read into the buffer still in use */
} mm_knobs;

typedef struct {
    int layout, M, N, K;
} mm_shape;

static const char *mm_layout_name(int layout)
{
    return layout == TB_MM_FWD ? "fwd" : layout == TB_MM_DGRAD ? "dgrad" : "wgrad";
}

typedef struct {
    emu_smem *m;
    const mm_knobs *kn;
} mm_ctx;

static uint32_t mm_kmaj_read(const mm_ctx *x, int row, int chunk)
{
    if (!x->kn->swz_drop_k)
        return tb_mma_kmaj_off(row, chunk);
    return (uint32_t)(row * 64 + ((chunk ^ (((row >> 1) & 3) & ~x->kn->swz_drop_k)) << 4));
}

static uint32_t mm_mnmaj_read(const mm_ctx *x, int k, int chunk, int width)
{
    if (!x->kn->swz_drop_mn)
        return tb_mma_mnmaj_off(k, chunk, width);
    return (uint32_t)(k * width * 2 + ((chunk ^ ((k & 7) & ~x->kn->swz_drop_mn)) << 4));
}

/* load_tile: every thread's copies q = tid, tid + 256, ... together are all of them. */
static void mm_load_tile(const mm_ctx *x, uint32_t s_tile, const double *G, int kmajor, int R,
                         int K, int r0, int k0, int rows)
{
    for (int q = 0; q < rows * TB_MMA_BK * 2 / 16; q++) {
        if (kmajor) {
            const tb_mma_rc at = tb_mma_load_kmaj_at(q);
            const int gr = r0 + at.row, gk = k0 + at.chunk * 8;
            const int ok = gr < R && gk < K;
            emu_cp_async(x->m, s_tile + tb_mma_kmaj_off(at.row, at.chunk), 16,
                         ok ? G + (int64_t)gr * K + gk : NULL);
        } else {
            const tb_mma_rc at = tb_mma_load_mnmaj_at(q, rows);
            const int gk = k0 + at.row, gc = r0 + at.chunk * 8;
            const int ok = gk < K && gc < R;
            emu_cp_async(x->m, s_tile + tb_mma_mnmaj_off(at.row, at.chunk, rows), 16,
                         ok ? G + (int64_t)gk * R + gc : NULL);
        }
    }
}

typedef struct {
    double *C;
    int *writes;
} mm_out;

/* load_stage: k-tile kt's A and B into its stage. */
static void mm_load_stage(const mm_ctx *x, const mm_shape *sh, const double *A, const double *B,
                          int m0, int n0, int kt)
{
    const uint32_t sa = (uint32_t)(tb_mma_stage(kt) * TB_MMA_STAGE_BYTES);
    mm_load_tile(x, sa, A, tb_mm_a_kmajor(sh->layout), sh->M, sh->K, m0, kt * TB_MMA_BK,
                 TB_MMA_BM);
    mm_load_tile(x, sa + TB_MMA_A_BYTES, B, tb_mm_b_kmajor(sh->layout), sh->N, sh->K, n0,
                 kt * TB_MMA_BK, TB_MMA_BN);
}

/* One warp's fragments of a k16 step (load_frags). */
typedef struct {
    emu_reg a[TB_MMA_MI][32][4];
    emu_reg b[TB_MMA_NI][32][2];
} mm_frags;

static void mm_load_frags(const mm_ctx *x, const mm_shape *sh, mm_frags *f, uint32_t sa, int kk,
                          int warp)
{
    const int a_kmajor = tb_mm_a_kmajor(sh->layout), b_kmajor = tb_mm_b_kmajor(sh->layout);
    const int wm = tb_mma_warp_row(warp), wn = tb_mma_warp_col(warp);
    const uint32_t sb = sa + TB_MMA_A_BYTES;
    for (int np = 0; np < TB_MMA_NI / 2; np++) {
        const int nb = wn * TB_MMA_WARP_N + np * 16;
        uint32_t addr[32];
        emu_reg t[32][4];
        for (int lane = 0; lane < 32; lane++) {
            if (b_kmajor) {
                const tb_mma_rc at = tb_mma_ldsm_b_kmaj_at(lane, nb, kk);
                addr[lane] = sb + mm_kmaj_read(x, at.row, at.chunk);
            } else {
                const tb_mma_rc at = tb_mma_ldsm_b_mnmaj_at(lane, nb, kk);
                addr[lane] = sb + mm_mnmaj_read(x, at.row, at.chunk, TB_MMA_BN);
            }
        }
        emu_ldmatrix_x4(x->m, addr,
                        b_kmajor ? TB_MMA_LDSM_KMAJ_TRANS
                                 : TB_MMA_LDSM_MNMAJ_TRANS && !x->kn->b_plain,
                        t);
        for (int lane = 0; lane < 32; lane++)
            for (int reg = 0; reg < 4; reg++) {
                const int tile = tb_mma_x4_b_tile(reg) ^ x->kn->b_swap;
                f->b[np * 2 + tile][lane][tb_mma_x4_b_half(reg)][0] = t[lane][reg][0];
                f->b[np * 2 + tile][lane][tb_mma_x4_b_half(reg)][1] = t[lane][reg][1];
            }
    }
    for (int mi = 0; mi < TB_MMA_MI; mi++) {
        const int rb = wm * TB_MMA_WARP_M + mi * 16;
        uint32_t addr[32];
        for (int lane = 0; lane < 32; lane++) {
            if (a_kmajor) {
                const int l = x->kn->a_rows8 ? (lane & ~15) | (lane & 7) : lane;
                const tb_mma_rc at = tb_mma_ldsm_a_kmaj_at(l, rb, kk);
                addr[lane] = sa + mm_kmaj_read(x, at.row, at.chunk);
            } else {
                const tb_mma_rc at = tb_mma_ldsm_a_mnmaj_at(lane, rb, kk);
                addr[lane] = sa + mm_mnmaj_read(x, at.row, at.chunk, TB_MMA_BM);
            }
        }
        emu_ldmatrix_x4(x->m, addr,
                        a_kmajor ? TB_MMA_LDSM_KMAJ_TRANS
                                 : TB_MMA_LDSM_MNMAJ_TRANS && !x->kn->a_plain,
                        f->a[mi]);
    }
}

#define MM_WARPS (TB_MMA_THREADS / 32)

/* mma_step: the warp tile's mma of one k16 step. */
static void mm_mma_step(double acc[TB_MMA_MI][TB_MMA_NI][32][4], const mm_frags *f)
{
    for (int mi = 0; mi < TB_MMA_MI; mi++)
        for (int ni = 0; ni < TB_MMA_NI; ni++)
            emu_mma_16816(acc[mi][ni], f->a[mi], f->b[ni]);
}

/* One thread block as mma_body runs it. Between two barriers the warps run one after another
 * (any order is a legal interleaving for the protocol model: shared memory changes only
 * through the cp.async groups, which land at the waits). */
static void mm_block(const mm_ctx *x, const mm_shape *sh, const double *A, const double *B,
                     int64_t pid, mm_out *out)
{
    const int M = sh->M, N = sh->N, K = sh->K;
    emu_smem *m = x->m;
    emu_smem_reset(m);
    const int wait = x->kn->wait_pending ? x->kn->wait_pending : TB_MMA_WAIT_PENDING;

    int64_t tile_m, tile_n;
    const int64_t m_tiles = (M + TB_MMA_BM - 1) / TB_MMA_BM;
    const int64_t n_tiles = (N + TB_MMA_BN - 1) / TB_MMA_BN;
    tb_mm_tile_of(pid, m_tiles, n_tiles, TB_MMA_GROUP_M, &tile_m, &tile_n);
    const int m0 = (int)tile_m * TB_MMA_BM, n0 = (int)tile_n * TB_MMA_BN;

    static double acc[MM_WARPS][TB_MMA_MI][TB_MMA_NI][32][4];
    static mm_frags frags[MM_WARPS][2];
    memset(acc, 0, sizeof acc);

    const int KT = (K + TB_MMA_BK - 1) / TB_MMA_BK;
    for (int s = 0; s < TB_MMA_STAGES - 1; s++) {
        if (s < KT)
            mm_load_stage(x, sh, A, B, m0, n0, s);
        emu_commit(m);
    }
    emu_wait(m, wait);
    emu_barrier(m);
    for (int warp = 0; warp < MM_WARPS; warp++)
        mm_load_frags(x, sh, &frags[warp][0], 0, 0, warp);

    for (int kt = 0; kt < KT; kt++) {
        const uint32_t sa = (uint32_t)(tb_mma_stage(kt) * TB_MMA_STAGE_BYTES);
        const int last = TB_MMA_KSTEPS - 1;
        for (int warp = 0; warp < MM_WARPS; warp++)
            for (int kk = 0; kk < last; kk++) {
                mm_load_frags(x, sh, &frags[warp][tb_mma_frag_buf(kk + 1)], sa, kk + 1, warp);
                mm_mma_step(acc[warp], &frags[warp][tb_mma_frag_buf(kk)]);
            }
        const int pf = kt + TB_MMA_STAGES - 1;
        if (pf < KT)
            mm_load_stage(x, sh, A, B, m0, n0, pf);
        emu_commit(m);
        emu_wait(m, wait);
        if (!x->kn->no_barrier)
            emu_barrier(m);
        for (int warp = 0; warp < MM_WARPS; warp++) {
            const int nxt = tb_mma_frag_buf(last + 1) ^ x->kn->frag_same_buf;
            if (kt + 1 < KT)
                mm_load_frags(x, sh, &frags[warp][nxt],
                              (uint32_t)(tb_mma_stage(kt + 1) * TB_MMA_STAGE_BYTES), 0, warp);
            mm_mma_step(acc[warp], &frags[warp][tb_mma_frag_buf(last)]);
        }
    }
    emu_wait(m, 0);

    /* store_pair: row < M, and each of the pair's columns < N */
    for (int warp = 0; warp < MM_WARPS; warp++) {
        const int wm = tb_mma_warp_row(warp), wn = tb_mma_warp_col(warp);
        for (int lane = 0; lane < 32; lane++) {
            const int g = tb_mma_lane_g(lane), t4 = tb_mma_lane_t4(lane);
            for (int mi = 0; mi < TB_MMA_MI; mi++)
                for (int ni = 0; ni < TB_MMA_NI; ni++)
                    for (int v = 0; v < 4; v++) {
                        const int row = m0 + wm * TB_MMA_WARP_M + mi * 16 + g + tb_mma_c_vrow(v);
                        const int col =
                            n0 + wn * TB_MMA_WARP_N + ni * 8 + tb_mma_t4_col(t4) + tb_mma_c_vcol(v);
                        if (row >= M || col >= N)
                            continue;
                        out->C[(int64_t)row * N + col] = acc[warp][mi][ni][lane][v];
                        out->writes[(int64_t)row * N + col]++;
                    }
        }
    }
}

typedef struct {
    double err;
    long miswritten, hazards, conflicts;
    char first[200];
} mm_result;

static mm_result mm_run(const mm_shape *sh, const mm_knobs *kn)
{
    const int M = sh->M, N = sh->N, K = sh->K;
    double *A = malloc(sizeof(double) * (size_t)M * K), *B = malloc(sizeof(double) * (size_t)K * N);
    double *ref = malloc(sizeof(double) * (size_t)M * N);
    mm_out out = {malloc(sizeof(double) * (size_t)M * N), calloc((size_t)M * N, sizeof(int))};
    cr_assert(A && B && ref && out.C && out.writes);
    for (int64_t i = 0; i < (int64_t)M * K; i++)
        A[i] = tb_rand_normal(21, (uint64_t)i);
    for (int64_t i = 0; i < (int64_t)K * N; i++)
        B[i] = tb_rand_normal(22, (uint64_t)i);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++)
                s += A[tb_mm_a_index(sh->layout, i, k, M, K)] *
                     B[tb_mm_b_index(sh->layout, k, j, N, K)];
            ref[(int64_t)i * N + j] = s;
            out.C[(int64_t)i * N + j] = NAN;
        }

    emu_smem m;
    emu_smem_init(&m, TB_MMA_SMEM_BYTES);
    const mm_ctx x = {&m, kn};
    const int64_t tiles =
        (int64_t)((M + TB_MMA_BM - 1) / TB_MMA_BM) * ((N + TB_MMA_BN - 1) / TB_MMA_BN);
    for (int64_t pid = 0; pid < tiles; pid++)
        mm_block(&x, sh, A, B, pid, &out);

    mm_result r = {emu_rel_err(out.C, ref, (int64_t)M * N), 0, m.hazards, m.conflicts, ""};
    for (int64_t i = 0; i < (int64_t)M * N; i++)
        r.miswritten += out.writes[i] != 1;
    memcpy(r.first, m.first, sizeof r.first);
    emu_smem_free(&m);
    free(A);
    free(B);
    free(ref);
    free(out.C);
    free(out.writes);
    return r;
}

/* M, N, K off the 128 x 256 x 32 tile wherever the layout allows (K-contiguous operands need
 * K % 8 == 0, M/N-contiguous ones M or N % 8 == 0), several tiles each way, the ring wrapping
 * (K > 4 x 32), a single k-tile, and an odd N for the forward's single-element stores. */
static const mm_shape mm_shapes[] = {
    {TB_MM_FWD, 200, 296, 200},   {TB_MM_FWD, 50, 37, 72},      {TB_MM_DGRAD, 136, 328, 168},
    {TB_MM_DGRAD, 72, 40, 24},    {TB_MM_WGRAD, 200, 280, 100}, {TB_MM_WGRAD, 264, 24, 161},
    {TB_MM_FWD, 16, 520, 16},
};
#define MM_NSHAPES (int)(sizeof mm_shapes / sizeof mm_shapes[0])

#define MM_EXACT 1e-12
#define MM_WRONG 1e-2

Test(mma_emu, every_layout_matches_the_reference)
{
    const mm_knobs none = {0};
    for (int i = 0; i < MM_NSHAPES; i++) {
        const mm_shape *s = &mm_shapes[i];
        const mm_result r = mm_run(s, &none);
        cr_log_info("%s M=%d N=%d K=%d: err %.2e", mm_layout_name(s->layout), s->M, s->N, s->K,
                    r.err);
        cr_expect(r.hazards == 0 && r.conflicts == 0, "%s M=%d N=%d K=%d: %ld hazards, %ld "
                  "conflicts: %s", mm_layout_name(s->layout), s->M, s->N, s->K, r.hazards,
                  r.conflicts, r.first);
        cr_expect(r.miswritten == 0, "%s M=%d N=%d K=%d: %ld elements not written once",
                  mm_layout_name(s->layout), s->M, s->N, s->K, r.miswritten);
        cr_expect(r.err < MM_EXACT, "%s M=%d N=%d K=%d: err %.3e", mm_layout_name(s->layout),
                  s->M, s->N, s->K, r.err);
    }
}

enum { MM_NUMERIC = 1, MM_PROTOCOL = 2, MM_CONFLICT = 4 };

/* Runs the knob on the first shape of each layout in `layouts` (bit per layout). */
static void mm_expect_caught(const char *name, const mm_knobs *kn, int how, int layouts)
{
    const int first_of[3] = {0, 2, 4};
    for (int layout = 0; layout < 3; layout++) {
        if (!(layouts & (1 << layout)))
            continue;
        const mm_shape *s = &mm_shapes[first_of[layout]];
        const mm_result r = mm_run(s, kn);
        cr_log_info("%s, %s M=%d N=%d K=%d: err %.2e, hazards %ld, conflicts %ld%s%s", name,
                    mm_layout_name(s->layout), s->M, s->N, s->K, r.err, r.hazards, r.conflicts,
                    r.first[0] ? ": " : "", r.first);
        if (how & MM_NUMERIC)
            cr_expect(r.err > MM_WRONG, "%s not caught in %s: err %.3e", name,
                      mm_layout_name(s->layout), r.err);
        if (how & MM_PROTOCOL)
            cr_expect(r.hazards > 0, "%s: no hazard in %s", name, mm_layout_name(s->layout));
        if (how & MM_CONFLICT)
            cr_expect(r.conflicts > 0, "%s: no bank conflict in %s", name,
                      mm_layout_name(s->layout));
    }
}

#define MM_ALL 7
#define MM_LAYOUT(l) (1 << (l))

Test(mma_emu, a_read_swizzle_with_one_bit_dropped_is_caught)
{
    for (int bit = 1; bit <= 2; bit <<= 1) {
        mm_knobs kn = {0};
        kn.swz_drop_k = bit;
        mm_expect_caught("K-contiguous swizzle bit dropped on the read side", &kn, MM_NUMERIC,
                         MM_LAYOUT(TB_MM_FWD) | MM_LAYOUT(TB_MM_DGRAD));
    }
    for (int bit = 1; bit <= 4; bit <<= 1) {
        mm_knobs kn = {0};
        kn.swz_drop_mn = bit;
        mm_expect_caught("M/N-contiguous swizzle bit dropped on the read side", &kn, MM_NUMERIC,
                         MM_LAYOUT(TB_MM_DGRAD) | MM_LAYOUT(TB_MM_WGRAD));
    }
}

Test(mma_emu, ldmatrix_trans_replaced_by_plain_is_caught)
{
    mm_knobs kb = {0};
    kb.b_plain = 1;
    mm_expect_caught("B without .trans", &kb, MM_NUMERIC,
                     MM_LAYOUT(TB_MM_DGRAD) | MM_LAYOUT(TB_MM_WGRAD));
    mm_knobs ka = {0};
    ka.a_plain = 1;
    mm_expect_caught("A without .trans", &ka, MM_NUMERIC, MM_LAYOUT(TB_MM_WGRAD));
}

Test(mma_emu, wrong_fragment_addresses_are_caught)
{
    mm_knobs ka = {0};
    ka.a_rows8 = 1;
    mm_expect_caught("A rows lane & 7", &ka, MM_NUMERIC,
                     MM_LAYOUT(TB_MM_FWD) | MM_LAYOUT(TB_MM_DGRAD));
    mm_knobs kb = {0};
    kb.b_swap = 1;
    mm_expect_caught("B n8 tiles swapped", &kb, MM_NUMERIC, MM_ALL);
}

Test(mma_emu, waiting_for_too_few_cp_async_groups_is_caught)
{
    mm_knobs kn = {0};
    kn.wait_pending = TB_MMA_WAIT_PENDING + 1;
    mm_expect_caught("wait_group pending + 1", &kn, MM_PROTOCOL | MM_NUMERIC, MM_ALL);
}

Test(mma_emu, a_missing_barrier_is_caught)
{
    mm_knobs kn = {0};
    kn.no_barrier = 1;
    mm_expect_caught("no barrier after the wait", &kn, MM_PROTOCOL, MM_ALL);
}

/* Reading the next k-tile's first fragments into the buffer the last step still uses. */
Test(mma_emu, fragments_not_double_buffered_are_caught)
{
    mm_knobs kn = {0};
    kn.frag_same_buf = 1;
    mm_expect_caught("next k-tile's fragments over the current ones", &kn, MM_NUMERIC, MM_ALL);
}

/* The ring as the kernel drives it: STAGES - 1 tiles in flight ahead of the one read; the
 * copies cover each tile once; 64 x 64 warp tiles cover the block tile; consecutive k16 steps
 * alternate fragment buffers across k-tiles. */
Test(mma_emu, ring_and_tile_constants)
{
    cr_assert_eq(TB_MMA_STAGES, 4);
    cr_assert_eq(TB_MMA_WAIT_PENDING, TB_MMA_STAGES - 2);
    cr_assert_eq(TB_MMA_A_LOADS * TB_MMA_THREADS * 16, TB_MMA_A_BYTES);
    cr_assert_eq(TB_MMA_B_LOADS * TB_MMA_THREADS * 16, TB_MMA_B_BYTES);
    cr_assert_eq(TB_MMA_SMEM_BYTES, 96 * 1024);
    for (int kt = 0; kt < 9; kt++)
        cr_assert_eq(tb_mma_stage(kt), kt % TB_MMA_STAGES);
    cr_assert_eq(TB_MMA_WARP_M * (tb_mma_warp_row(MM_WARPS - 1) + 1), TB_MMA_BM);
    cr_assert_eq(TB_MMA_WARP_N * (tb_mma_warp_col(MM_WARPS - 1) + 1), TB_MMA_BN);
    cr_assert_eq(TB_MMA_KSTEPS % 2, 0); /* step 0 of k-tile kt + 1 takes the other buffer */
    for (int kk = 0; kk < TB_MMA_KSTEPS; kk++)
        cr_assert_neq(tb_mma_frag_buf(kk), tb_mma_frag_buf(kk + 1));
    /* per k16 step: x4 loads of A (one per m16) and of B (one per two n8) per mma */
    cr_assert_leq((double)(TB_MMA_MI + TB_MMA_NI / 2) / (TB_MMA_MI * TB_MMA_NI), 0.28);
}
