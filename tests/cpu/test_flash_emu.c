/* The flash attention kernels (kernels/attention/flash_fwd.cu, flash_bwd.cu) emulated lane by
 * lane on the CPU, in fp64: every thread block's cp.async loads into the swizzled tiles, each
 * warp's ldmatrix (plain and .trans) and mma.m16n8k16 on fragments, the online softmax with its
 * quad shuffles, the accumulator -> A repack that keeps P in registers, dS^T through shared
 * memory and the dQ accumulation, with every index taken from flash_layout.h as the kernels
 * take it, and the instructions' own semantics from emu_warp.h (the PTX ISA). Checked against
 * an fp64 reference on ragged, causal and grouped-query shapes; the cp.async ring is checked by
 * the same model (nothing read before its group was waited for and a barrier passed, nothing
 * overwritten while read). Knobs plant the bugs a layout or protocol edit would make, and each
 * test shows the emulation catches them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attention/flash_layout.h"
#include "emu_warp.h"

/* Planted bugs; all zero: the kernels as they are. */
typedef struct {
    int swz_drop;       /* ldmatrix reads (not the cp.async writes) swizzle without this XOR bit */
    int repack_swap;    /* A registers 1 and 2 of the accumulator -> A repack exchanged */
    int b_plain;        /* the ldmatrix of row-major B tiles (V, dO, Q, K) without .trans */
    int bt_swap;        /* ldsm_bt's matrices 1 and 2 exchanged (n and k halves) */
    int dst_plain;      /* dS read from dS^T without .trans */
    int max_xor;        /* the row-max shuffle's second step exchanges with lane ^ this */
    int sum_xor;        /* the final row-sum shuffle's second step exchanges with lane ^ this */
    int wait_pending;   /* cp.async.wait_group argument in the loop (0: the header's) */
    int stages;         /* ring stages (0: the header's) */
    int no_end_barrier; /* the loop's closing __syncthreads dropped */
    int no_mid_barrier; /* the backward's barrier between the dS^T stores and the dQ step dropped */
    int mask_shift;     /* the mask's key column off by this many */
} fl_knobs;

typedef struct {
    int B, H, KVH, S, D, causal;
} fl_shape;

/* Inputs and the fp64 reference. Q, O, dO, dQ [B][H][S][D]; K, V, dK, dV [B][KVH][S][D]. */
typedef struct {
    fl_shape sh;
    int64_t nq, nk, nr;
    double *Q, *K, *V, *dO, *O, *lse, *Drow, *dQ, *dK, *dV;
} fl_case;

static double *fl_alloc(int64_t n)
{
    double *p = malloc(sizeof(double) * (size_t)n);
    cr_assert(p);
    return p;
}

static void fl_fill(double *x, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = tb_rand_normal(seed, (uint64_t)i);
}

static void fl_case_make(fl_case *c, fl_shape sh)
{
    const int D = sh.D, G = sh.H / sh.KVH;
    const double scale = 1.0 / sqrt((double)D);
    c->sh = sh;
    c->nq = (int64_t)sh.B * sh.H * sh.S * D;
    c->nk = (int64_t)sh.B * sh.KVH * sh.S * D;
    c->nr = (int64_t)sh.B * sh.H * sh.S;
    c->Q = fl_alloc(c->nq);
    c->K = fl_alloc(c->nk);
    c->V = fl_alloc(c->nk);
    c->dO = fl_alloc(c->nq);
    c->O = fl_alloc(c->nq);
    c->lse = fl_alloc(c->nr);
    c->Drow = fl_alloc(c->nr);
    c->dQ = fl_alloc(c->nq);
    c->dK = fl_alloc(c->nk);
    c->dV = fl_alloc(c->nk);
    fl_fill(c->Q, c->nq, 11);
    fl_fill(c->K, c->nk, 12);
    fl_fill(c->V, c->nk, 13);
    fl_fill(c->dO, c->nq, 14);
    memset(c->dK, 0, sizeof(double) * (size_t)c->nk);
    memset(c->dV, 0, sizeof(double) * (size_t)c->nk);
    double *p = fl_alloc(sh.S), *dp = fl_alloc(sh.S);
    for (int b = 0; b < sh.B; b++)
        for (int h = 0; h < sh.H; h++) {
            const int kvh = h / G;
            const double *Qh = c->Q + tb_attn_index(b, h, sh.H, 0, 0, sh.S, D);
            const double *dOh = c->dO + tb_attn_index(b, h, sh.H, 0, 0, sh.S, D);
            const double *Kh = c->K + tb_attn_index(b, kvh, sh.KVH, 0, 0, sh.S, D);
            const double *Vh = c->V + tb_attn_index(b, kvh, sh.KVH, 0, 0, sh.S, D);
            double *Oh = c->O + tb_attn_index(b, h, sh.H, 0, 0, sh.S, D);
            double *dQh = c->dQ + tb_attn_index(b, h, sh.H, 0, 0, sh.S, D);
            double *dKh = c->dK + tb_attn_index(b, kvh, sh.KVH, 0, 0, sh.S, D);
            double *dVh = c->dV + tb_attn_index(b, kvh, sh.KVH, 0, 0, sh.S, D);
            for (int i = 0; i < sh.S; i++) {
                double mx = -INFINITY, l = 0.0, Di = 0.0;
                for (int j = 0; j < sh.S; j++) {
                    p[j] = -INFINITY;
                    if (tb_attn_masked(i, j, sh.S, sh.causal))
                        continue;
                    double s = 0.0;
                    for (int d = 0; d < D; d++)
                        s += Qh[(int64_t)i * D + d] * Kh[(int64_t)j * D + d];
                    p[j] = s * scale;
                    mx = fmax(mx, p[j]);
                }
                for (int j = 0; j < sh.S; j++)
                    l += p[j] == -INFINITY ? 0.0 : exp(p[j] - mx);
                const double lse = mx + log(l);
                c->lse[((int64_t)b * sh.H + h) * sh.S + i] = lse;
                for (int d = 0; d < D; d++)
                    Oh[(int64_t)i * D + d] = 0.0;
                for (int j = 0; j < sh.S; j++) {
                    p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - lse);
                    for (int d = 0; d < D; d++)
                        Oh[(int64_t)i * D + d] += p[j] * Vh[(int64_t)j * D + d];
                }
                for (int d = 0; d < D; d++)
                    Di += dOh[(int64_t)i * D + d] * Oh[(int64_t)i * D + d];
                c->Drow[((int64_t)b * sh.H + h) * sh.S + i] = Di;
                for (int d = 0; d < D; d++)
                    dQh[(int64_t)i * D + d] = 0.0;
                for (int j = 0; j < sh.S; j++) {
                    double s = 0.0;
                    for (int d = 0; d < D; d++)
                        s += dOh[(int64_t)i * D + d] * Vh[(int64_t)j * D + d];
                    dp[j] = p[j] * (s - Di); /* dS */
                    for (int d = 0; d < D; d++) {
                        dQh[(int64_t)i * D + d] += scale * dp[j] * Kh[(int64_t)j * D + d];
                        dKh[(int64_t)j * D + d] += scale * dp[j] * Qh[(int64_t)i * D + d];
                        dVh[(int64_t)j * D + d] += p[j] * dOh[(int64_t)i * D + d];
                    }
                }
            }
        }
    free(p);
    free(dp);
}

static void fl_case_free(fl_case *c)
{
    double *all[] = {c->Q, c->K, c->V, c->dO, c->O, c->lse, c->Drow, c->dQ, c->dK, c->dV};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* ---- the kernels' shared pieces (flash_common.cuh), through the knobs ---- */

typedef struct {
    emu_smem *m;
    const fl_knobs *kn;
    int D;
    int mt; /* the forward's m16 row tiles per warp (TB_ATTN_FWD_MT: 1 or 2) */
} fl_ctx;

static int fl_stage(const fl_ctx *x, int t)
{
    return x->kn->stages ? t % x->kn->stages : tb_fl_stage(t);
}

static int fl_wait_pending(const fl_ctx *x)
{
    return x->kn->wait_pending ? x->kn->wait_pending : TB_FL_WAIT_PENDING;
}

/* The swizzle an ldmatrix reads through. */
static uint32_t fl_read_off(const fl_ctx *x, int row, int chunk)
{
    if (!x->kn->swz_drop)
        return tb_fl_off(x->D, row, chunk);
    return (uint32_t)(row * (x->D * 2) + ((chunk ^ (row & 7 & ~x->kn->swz_drop)) << 4));
}

/* fl_load_tile: thread tid's copies j = 0 .. TB_FL_LOAD_COPIES - 1, at its first offsets plus
 * j steps, as the kernel computes them; rows at or past S zero-filled. */
static void fl_load_tile(const fl_ctx *x, int rows, uint32_t s_tile, const double *base, int row0,
                         int S)
{
    const int D = x->D, step = TB_FL_LOAD_STEP(D);
    for (int tid = 0; tid < TB_FL_THREADS; tid++) {
        const tb_fl_rc at = tb_fl_load_at(D, tid);
        for (int j = 0; j < TB_FL_LOAD_COPIES(D, rows); j++) {
            const int row = at.row + j * step;
            const int ok = (uint32_t)row < (uint32_t)(S - row0);
            emu_cp_async(x->m, s_tile + tb_fl_off(D, at.row, at.chunk) + tb_fl_load_step_off(D, j),
                         16, ok ? base + (int64_t)(row0 + row) * D + at.chunk * 8 : NULL);
        }
    }
}

static void fl_ldsm_a(const fl_ctx *x, emu_reg a[32][4], uint32_t s_tile, int m0, int kk)
{
    uint32_t addr[32];
    for (int lane = 0; lane < 32; lane++) {
        const tb_fl_rc at = tb_fl_ldsm_a_at(lane, m0, kk);
        addr[lane] = s_tile + fl_read_off(x, at.row, at.chunk);
    }
    emu_ldmatrix_x4(x->m, addr, TB_FL_LDSM_A_TRANS, a);
}

static void fl_split_b(emu_reg b0[32][2], emu_reg b1[32][2], emu_reg t[32][4])
{
    for (int l = 0; l < 32; l++)
        for (int h = 0; h < 2; h++)
            for (int e = 0; e < 2; e++) {
                b0[l][h][e] = t[l][tb_fl_x4_b_reg(0, h)][e];
                b1[l][h][e] = t[l][tb_fl_x4_b_reg(1, h)][e];
            }
}

static void fl_ldsm_bt(const fl_ctx *x, emu_reg b0[32][2], emu_reg b1[32][2], uint32_t s_tile,
                       int n0, int kk)
{
    uint32_t addr[32];
    emu_reg t[32][4];
    for (int lane = 0; lane < 32; lane++) {
        int l = lane;
        if (x->kn->bt_swap && (lane >> 3) % 3) /* matrices 1 and 2 */
            l = lane ^ 24;
        const tb_fl_rc at = tb_fl_ldsm_bt_at(l, n0, kk);
        addr[lane] = s_tile + fl_read_off(x, at.row, at.chunk);
    }
    emu_ldmatrix_x4(x->m, addr, TB_FL_LDSM_BT_TRANS, t);
    fl_split_b(b0, b1, t);
}

static void fl_ldsm_b(const fl_ctx *x, emu_reg b0[32][2], emu_reg b1[32][2], uint32_t s_tile,
                      int k0, int n0)
{
    uint32_t addr[32];
    emu_reg t[32][4];
    for (int lane = 0; lane < 32; lane++) {
        const tb_fl_rc at = tb_fl_ldsm_b_at(lane, k0, n0);
        addr[lane] = s_tile + fl_read_off(x, at.row, at.chunk);
    }
    emu_ldmatrix_x4(x->m, addr, TB_FL_LDSM_B_TRANS && !x->kn->b_plain, t);
    fl_split_b(b0, b1, t);
}

static void fl_c_to_a(const fl_ctx *x, emu_reg a[32][4], double c0[32][4], double c1[32][4])
{
    for (int l = 0; l < 32; l++)
        for (int reg = 0; reg < 4; reg++) {
            int r = reg;
            if (x->kn->repack_swap && (reg == 1 || reg == 2))
                r = 3 - reg;
            double(*src)[4] = tb_fl_repack_tile(r) ? c1 : c0;
            a[l][reg][0] = src[l][tb_fl_repack_v(r)];
            a[l][reg][1] = src[l][tb_fl_repack_v(r) + 1];
        }
}

static void fl_zero(double (*c)[32][4], int n)
{
    memset(c, 0, sizeof(double) * 32 * 4 * (size_t)n);
}

/* ---- flash_fwd.cu ---- */

#define FL_MAX_DT 16 /* D / 8 for D = 128 */
#define FL_MAX_MT 2  /* the forward's row tiles per warp: 1 or 2 */
#define FL_LN2 0.6931471805599453

typedef struct {
    double *O, *lse; /* outputs, NaN until written */
    int *O_writes, *lse_writes;
    long bad_max; /* quad-reduced row maxima that are not the row's maximum */
} fl_fwd_out;

static void fl_fwd_block(const fl_ctx *x, const fl_case *c, int64_t block, fl_fwd_out *out)
{
    const fl_shape *sh = &c->sh;
    const int MT = x->mt, D = x->D, BR = TB_FL_WARPS * 16 * MT, BC = TB_ATTN_FWD_BC;
    const int NT = BC / 8, DT = D / 8, KK = D / 16;
    const int S = sh->S, H = sh->H, KVH = sh->KVH, causal = sh->causal;
    const double scale_log2 = 1.4426950408889634 / sqrt((double)D);
    emu_smem *m = x->m;
    emu_smem_reset(m);

    const tb_attn_cta cta = tb_attn_cta_at(block, sh->B * H);
    const int q0 = tb_attn_fwd_tile_q0(cta.tile, S, BR);
    const int bh = cta.head, b = bh / H, h = bh % H, kvh = h / (H / KVH);
    const double *Qh = c->Q + (int64_t)bh * S * D;
    const double *Kh = c->K + ((int64_t)b * KVH + kvh) * S * D;
    const double *Vh = c->V + ((int64_t)b * KVH + kvh) * S * D;
    const uint32_t sQ = TB_FL_FWD_Q_OFF(D, BR);

    const int T = tb_attn_kv_tiles(q0, BR, BC, S, causal);
    fl_load_tile(x, BR, sQ, Qh, q0, S);
    emu_commit(m);
    fl_load_tile(x, BC, TB_FL_FWD_K_OFF(D, BR, fl_stage(x, 0)), Kh, 0, S);
    fl_load_tile(x, BC, TB_FL_FWD_V_OFF(D, BR, fl_stage(x, 0)), Vh, 0, S);
    emu_commit(m);

    /* Q's A fragments held in registers (read once) where the kernel holds them */
    static emu_reg qf[TB_FL_WARPS][FL_MAX_MT][FL_MAX_DT / 2][32][4];
    const int q_regs = TB_FL_FWD_Q_IN_REGS(D, MT);
    if (q_regs) {
        emu_wait(m, fl_wait_pending(x));
        emu_barrier(m);
        for (int w = 0; w < TB_FL_WARPS; w++)
            for (int mt = 0; mt < MT; mt++)
                for (int kk = 0; kk < KK; kk++)
                    fl_ldsm_a(x, qf[w][mt][kk], sQ, tb_fl_fwd_m0(w, mt, MT), kk);
    }

    static double o[TB_FL_WARPS][FL_MAX_MT][FL_MAX_DT][32][4];
    static double s[FL_MAX_MT][TB_ATTN_FWD_BC / 8][32][4];
    double rm[TB_FL_WARPS][FL_MAX_MT][32][2], rl[TB_FL_WARPS][FL_MAX_MT][32][2];
    for (int w = 0; w < TB_FL_WARPS; w++)
        for (int mt = 0; mt < MT; mt++) {
            fl_zero(o[w][mt], DT);
            for (int l = 0; l < 32; l++)
                for (int r = 0; r < 2; r++) {
                    rm[w][mt][l][r] = -INFINITY;
                    rl[w][mt][l][r] = 0.0;
                }
        }

    for (int t = 0; t < T; t++) {
        if (t + 1 < T) {
            const int st = fl_stage(x, t + 1);
            fl_load_tile(x, BC, TB_FL_FWD_K_OFF(D, BR, st), Kh, (t + 1) * BC, S);
            fl_load_tile(x, BC, TB_FL_FWD_V_OFF(D, BR, st), Vh, (t + 1) * BC, S);
        }
        emu_commit(m);
        emu_wait(m, fl_wait_pending(x));
        emu_barrier(m);
        const uint32_t kt = TB_FL_FWD_K_OFF(D, BR, fl_stage(x, t));
        const uint32_t vt = TB_FL_FWD_V_OFF(D, BR, fl_stage(x, t));
        const int k0 = t * BC;

        for (int w = 0; w < TB_FL_WARPS; w++) {
            for (int mt = 0; mt < MT; mt++)
                fl_zero(s[mt], NT);
            for (int kk = 0; kk < KK; kk++) {
                emu_reg a[FL_MAX_MT][32][4], b0[32][2], b1[32][2];
                if (!q_regs)
                    for (int mt = 0; mt < MT; mt++)
                        fl_ldsm_a(x, a[mt], sQ, tb_fl_fwd_m0(w, mt, MT), kk);
                for (int np = 0; np < NT / 2; np++) {
                    fl_ldsm_bt(x, b0, b1, kt, np * 16, kk);
                    for (int mt = 0; mt < MT; mt++) {
                        emu_reg(*am)[4] = q_regs ? qf[w][mt][kk] : a[mt];
                        emu_mma_16816(s[mt][2 * np], am, b0);
                        emu_mma_16816(s[mt][2 * np + 1], am, b1);
                    }
                }
            }
            const int masked = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, causal);
            for (int mt = 0; mt < MT; mt++) {
                double mx[32][2];
                for (int l = 0; l < 32; l++) {
                    const int r_lo = q0 + tb_fl_fwd_m0(w, mt, MT) + tb_fl_lane_g(l);
                    mx[l][0] = mx[l][1] = -INFINITY;
                    for (int i = 0; i < NT; i++)
                        for (int v = 0; v < 4; v++) {
                            if (masked) {
                                const int qi = r_lo + tb_fl_c_vrow(v);
                                const int kj = k0 + i * 8 + tb_fl_c_col(l, 0) + tb_fl_c_vcol(v) +
                                               x->kn->mask_shift;
                                if (tb_attn_masked(qi, kj, S, causal))
                                    s[mt][i][l][v] = -INFINITY;
                            }
                            mx[l][v >> 1] = fmax(mx[l][v >> 1], s[mt][i][l][v]);
                        }
                }
                for (int r = 0; r < 2; r++) {
                    for (int step = 0; step < 2; step++) {
                        const int mask =
                            x->kn->max_xor && step ? x->kn->max_xor : tb_fl_quad_xor(step);
                        double tmp[32];
                        for (int l = 0; l < 32; l++)
                            tmp[l] = mx[l ^ mask][r];
                        for (int l = 0; l < 32; l++)
                            mx[l][r] = fmax(mx[l][r], tmp[l]);
                    }
                    /* the reduced maximum is the maximum of the whole row (hardware layout) */
                    for (int l = 0; l < 32; l++) {
                        double want = -INFINITY;
                        for (int l2 = 0; l2 < 32; l2++)
                            for (int i = 0; i < NT; i++)
                                for (int v = 0; v < 4; v++)
                                    if (emu_c_row(l2, v) == emu_c_row(l, 2 * r))
                                        want = fmax(want, s[mt][i][l2][v]);
                        if (!(mx[l][r] == want))
                            out->bad_max++;
                    }
                    /* the row state in base-2 units: the raw maximum times scale log2 e */
                    for (int l = 0; l < 32; l++) {
                        const double m_old = rm[w][mt][l][r];
                        const double m_new = fmax(mx[l][r] * scale_log2, m_old);
                        const double alpha = m_old == -INFINITY ? 0.0 : exp2(m_old - m_new);
                        rm[w][mt][l][r] = m_new;
                        rl[w][mt][l][r] *= alpha;
                        for (int i = 0; i < DT; i++) {
                            o[w][mt][i][l][2 * r] *= alpha;
                            o[w][mt][i][l][2 * r + 1] *= alpha;
                        }
                    }
                }
                /* p = 2^(s scale log2e - base), the kernel's one FFMA and ex2 */
                for (int l = 0; l < 32; l++)
                    for (int i = 0; i < NT; i++)
                        for (int v = 0; v < 4; v++) {
                            const double m_r = rm[w][mt][l][v >> 1];
                            const double p = exp2(fma(s[mt][i][l][v], scale_log2,
                                                      -(m_r == -INFINITY ? 0.0 : m_r)));
                            s[mt][i][l][v] = p;
                            rl[w][mt][l][v >> 1] += p;
                        }
            }
            for (int kk = 0; kk < BC / 16; kk++) {
                emu_reg a[FL_MAX_MT][32][4], b0[32][2], b1[32][2];
                for (int mt = 0; mt < MT; mt++)
                    fl_c_to_a(x, a[mt], s[mt][2 * kk], s[mt][2 * kk + 1]);
                for (int np = 0; np < DT / 2; np++) {
                    fl_ldsm_b(x, b0, b1, vt, kk * 16, np * 16);
                    for (int mt = 0; mt < MT; mt++) {
                        emu_mma_16816(o[w][mt][2 * np], a[mt], b0);
                        emu_mma_16816(o[w][mt][2 * np + 1], a[mt], b1);
                    }
                }
            }
        }
        if (!x->kn->no_end_barrier)
            emu_barrier(m);
    }
    emu_wait(m, 0);

    for (int w = 0; w < TB_FL_WARPS; w++)
        for (int mt = 0; mt < MT; mt++)
            for (int r = 0; r < 2; r++) {
                for (int step = 0; step < 2; step++) {
                    const int mask =
                        x->kn->sum_xor && step ? x->kn->sum_xor : tb_fl_quad_xor(step);
                    double tmp[32];
                    for (int l = 0; l < 32; l++)
                        tmp[l] = rl[w][mt][l ^ mask][r];
                    for (int l = 0; l < 32; l++)
                        rl[w][mt][l][r] += tmp[l];
                }
                for (int l = 0; l < 32; l++) {
                    const int qi =
                        q0 + tb_fl_fwd_m0(w, mt, MT) + tb_fl_lane_g(l) + tb_fl_c_vrow(2 * r);
                    if (qi >= S)
                        continue;
                    const double L = rl[w][mt][l][r], inv = L > 0.0 ? 1.0 / L : 0.0;
                    const int64_t orow = ((int64_t)bh * S + qi) * D;
                    for (int i = 0; i < DT; i++)
                        for (int e = 0; e < 2; e++) {
                            const int64_t at = orow + i * 8 + tb_fl_c_col(l, 0) + e;
                            out->O[at] = o[w][mt][i][l][2 * r + e] * inv;
                            out->O_writes[at]++;
                        }
                    if (tb_fl_c_col(l, 0) == 0) {
                        const int64_t at = (int64_t)bh * S + qi;
                        out->lse[at] =
                            L > 0.0 ? (rm[w][mt][l][r] + log2(L)) * FL_LN2 : -INFINITY;
                        out->lse_writes[at]++;
                    }
                }
            }
}

typedef struct {
    double err_O, err_lse; /* relative to the reference */
    long miswritten;       /* outputs written other than exactly once */
    long bad_max, hazards, conflicts;
    char first[200];
} fl_result;

/* The forward with mt row tiles per warp (query tiles of 64 mt rows). */
static fl_result fl_fwd_run(const fl_case *c, const fl_knobs *kn, int mt)
{
    const fl_shape *sh = &c->sh;
    const int br = TB_FL_WARPS * 16 * mt;
    emu_smem m;
    emu_smem_init(&m, TB_FL_FWD_SMEM(sh->D, br));
    fl_ctx x = {&m, kn, sh->D, mt};
    fl_fwd_out out = {fl_alloc(c->nq), fl_alloc(c->nr), calloc((size_t)c->nq, sizeof(int)),
                      calloc((size_t)c->nr, sizeof(int)), 0};
    for (int64_t i = 0; i < c->nq; i++)
        out.O[i] = NAN;
    for (int64_t i = 0; i < c->nr; i++)
        out.lse[i] = NAN;
    /* every block of the kernel's 1-D grid, in launch order */
    const int64_t blocks = (int64_t)(sh->S + br - 1) / br * sh->B * sh->H;
    for (int64_t blk = 0; blk < blocks; blk++)
        fl_fwd_block(&x, c, blk, &out);
    fl_result r = {emu_rel_err(out.O, c->O, c->nq), emu_rel_err(out.lse, c->lse, c->nr), 0,
                   out.bad_max, m.hazards, m.conflicts, ""};
    for (int64_t i = 0; i < c->nq; i++)
        r.miswritten += out.O_writes[i] != 1;
    for (int64_t i = 0; i < c->nr; i++)
        r.miswritten += out.lse_writes[i] != 1;
    memcpy(r.first, m.first, sizeof r.first);
    emu_smem_free(&m);
    free(out.O);
    free(out.lse);
    free(out.O_writes);
    free(out.lse_writes);
    return r;
}

/* ---- flash_bwd.cu ---- */

typedef struct {
    double *dQacc, *dK, *dV;
    int *dK_writes, *dV_writes;
} fl_bwd_out;

/* The thread block's fixed coordinates. */
typedef struct {
    int k0, b, kvh, G, first, per_head, items;
} fl_bwd_blk;

/* load_item: Q, dO, lse and D rows of item it into stage st. */
static void fl_bwd_load_item(const fl_ctx *x, const fl_case *c, int q0, int64_t row, int st)
{
    const int D = x->D, S = c->sh.S, BR = TB_ATTN_BWD_BR;
    /* the tile's rows as the kernel names them: row = its first row's index in [B][H][S] */
    fl_load_tile(x, BR, TB_FL_BWD_Q_OFF(D, st), c->Q + (row - q0) * D, q0, S);
    fl_load_tile(x, BR, TB_FL_BWD_DO_OFF(D, st), c->dO + (row - q0) * D, q0, S);
    for (int tid = 0; tid < BR; tid++) {
        const int ok = q0 + tid < S;
        const uint32_t at = (uint32_t)(tb_fl_bwd_row_slot(st) + tid) * 4;
        /* an fp32 word: its value in the first of its two element slots */
        const double lv[2] = {ok ? c->lse[row + tid] : 0.0, 0.0};
        const double dv[2] = {ok ? c->Drow[row + tid] : 0.0, 0.0};
        emu_cp_async(x->m, TB_FL_BWD_LSE_OFF(D) + at, 4, lv);
        emu_cp_async(x->m, TB_FL_BWD_DR_OFF(D) + at, 4, dv);
    }
}

static void fl_bwd_block(const fl_ctx *x, const fl_case *c, int64_t block, fl_bwd_out *out)
{
    const fl_shape *sh = &c->sh;
    const int D = x->D, BR = TB_ATTN_BWD_BR, BC = TB_ATTN_BWD_BC, DT = D / 8, QN = BR / 8;
    const int S = sh->S, H = sh->H, KVH = sh->KVH, causal = sh->causal;
    const double scale = 1.0 / sqrt((double)D), log2e = 1.4426950408889634;
    const double scale_log2 = scale * log2e;
    emu_smem *m = x->m;
    emu_smem_reset(m);

    const uint32_t sK = TB_FL_BWD_K_OFF(D), sV = TB_FL_BWD_V_OFF(D), sDS = TB_FL_BWD_DS_OFF(D);
    const tb_attn_cta cta = tb_attn_cta_at(block, sh->B * KVH);
    const int bk = cta.head;
    fl_bwd_blk k;
    k.k0 = tb_attn_bwd_tile_k0(cta.tile);
    k.b = bk / KVH;
    k.kvh = bk % KVH;
    k.G = H / KVH;
    k.first = tb_attn_first_q_tile(k.k0, BR, causal);
    k.per_head = (S + BR - 1) / BR - k.first;
    k.items = k.G * k.per_head;
    const double *Kh = c->K + (int64_t)bk * S * D, *Vh = c->V + (int64_t)bk * S * D;

    fl_load_tile(x, BC, sK, Kh, k.k0, S);
    fl_load_tile(x, BC, sV, Vh, k.k0, S);
    emu_commit(m);
    const int nq = (S + BR - 1) / BR;
    int q0 = k.first * BR;
    int64_t row = ((int64_t)k.b * H + k.kvh * k.G) * S + q0;
    if (k.items > 0)
        fl_bwd_load_item(x, c, q0, row, fl_stage(x, 0));
    emu_commit(m);

    /* the K and V A fragments held in registers (read once) where the kernel holds them */
    static emu_reg kf[TB_FL_WARPS][FL_MAX_DT / 2][32][4], vf[TB_FL_WARPS][FL_MAX_DT / 2][32][4];
    const int kv_regs = TB_FL_BWD_KV_IN_REGS(D);
    if (kv_regs) {
        emu_wait(m, fl_wait_pending(x));
        emu_barrier(m);
        for (int w = 0; w < TB_FL_WARPS; w++)
            for (int kk = 0; kk < D / 16; kk++) {
                fl_ldsm_a(x, kf[w][kk], sK, w * 16, kk);
                fl_ldsm_a(x, vf[w][kk], sV, w * 16, kk);
            }
    }

    static double dk[TB_FL_WARPS][FL_MAX_DT][32][4], dv[TB_FL_WARPS][FL_MAX_DT][32][4];
    for (int w = 0; w < TB_FL_WARPS; w++) {
        fl_zero(dk[w], DT);
        fl_zero(dv[w], DT);
    }

    for (int it = 0; it < k.items; it++) {
        const int st = fl_stage(x, it);
        if (it + 1 < k.items) {
            int nxt_q0 = q0;
            int64_t nxt_row = row;
            tb_fl_bwd_next_item(&nxt_q0, &nxt_row, k.first, nq, S);
            fl_bwd_load_item(x, c, nxt_q0, nxt_row, fl_stage(x, it + 1));
        }
        emu_commit(m);
        emu_wait(m, fl_wait_pending(x));
        emu_barrier(m);
        const uint32_t sQ = TB_FL_BWD_Q_OFF(D, st), sdO = TB_FL_BWD_DO_OFF(D, st);
        const uint32_t lse_t = TB_FL_BWD_LSE_OFF(D) + (uint32_t)tb_fl_bwd_row_slot(st) * 4;
        const uint32_t dr_t = TB_FL_BWD_DR_OFF(D) + (uint32_t)tb_fl_bwd_row_slot(st) * 4;
        const int masked = tb_attn_tile_needs_mask(q0, BR, k.k0, BC, S, causal);

        for (int w = 0; w < TB_FL_WARPS; w++) {
            static double sT[TB_ATTN_BWD_BR / 8][32][4], dpT[TB_ATTN_BWD_BR / 8][32][4];
            fl_zero(sT, QN);
            fl_zero(dpT, QN);
            for (int kk = 0; kk < D / 16; kk++) {
                emu_reg ak_s[32][4], av_s[32][4], b0[32][2], b1[32][2];
                if (!kv_regs) {
                    fl_ldsm_a(x, ak_s, sK, w * 16, kk);
                    fl_ldsm_a(x, av_s, sV, w * 16, kk);
                }
                emu_reg(*ak)[4] = kv_regs ? kf[w][kk] : ak_s;
                emu_reg(*av)[4] = kv_regs ? vf[w][kk] : av_s;
                for (int np = 0; np < QN / 2; np++) {
                    fl_ldsm_bt(x, b0, b1, sQ, np * 16, kk);
                    emu_mma_16816(sT[2 * np], ak, b0);
                    emu_mma_16816(sT[2 * np + 1], ak, b1);
                    fl_ldsm_bt(x, b0, b1, sdO, np * 16, kk);
                    emu_mma_16816(dpT[2 * np], av, b0);
                    emu_mma_16816(dpT[2 * np + 1], av, b1);
                }
            }
            for (int l = 0; l < 32; l++) {
                const int key_lo = k.k0 + w * 16 + tb_fl_lane_g(l);
                for (int i = 0; i < QN; i++)
                    for (int v = 0; v < 4; v++) {
                        const int ql = i * 8 + tb_fl_c_col(l, 0) + tb_fl_c_vcol(v);
                        const int kj = key_lo + tb_fl_c_vrow(v) + x->kn->mask_shift;
                        const double lse = emu_read(m, lse_t + (uint32_t)ql * 4, 4)[0];
                        const double dr = emu_read(m, dr_t + (uint32_t)ql * 4, 4)[0];
                        double p = exp2(sT[i][l][v] * scale_log2 - lse * log2e);
                        if (masked && tb_attn_masked(q0 + ql, kj, S, causal))
                            p = 0.0;
                        sT[i][l][v] = p;
                        dpT[i][l][v] = p * (dpT[i][l][v] - dr);
                    }
            }
            for (int kq = 0; kq < BR / 16; kq++) {
                emu_reg ap[32][4], ads[32][4], b0[32][2], b1[32][2];
                fl_c_to_a(x, ap, sT[2 * kq], sT[2 * kq + 1]);
                fl_c_to_a(x, ads, dpT[2 * kq], dpT[2 * kq + 1]);
                for (int np = 0; np < DT / 2; np++) {
                    fl_ldsm_b(x, b0, b1, sdO, kq * 16, np * 16);
                    emu_mma_16816(dv[w][2 * np], ap, b0);
                    emu_mma_16816(dv[w][2 * np + 1], ap, b1);
                    fl_ldsm_b(x, b0, b1, sQ, kq * 16, np * 16);
                    emu_mma_16816(dk[w][2 * np], ads, b0);
                    emu_mma_16816(dk[w][2 * np + 1], ads, b1);
                }
            }
            for (int i = 0; i < QN; i++)
                for (int r = 0; r < 2; r++)
                    for (int l = 0; l < 32; l++) {
                        const double pair[2] = {dpT[i][l][2 * r], dpT[i][l][2 * r + 1]};
                        emu_store(m, sDS + (uint32_t)tb_fl_dst_store_at(w, l, i, r) * 2, pair, 2);
                    }
        }
        if (!x->kn->no_mid_barrier)
            emu_barrier(m);

        for (int w = 0; w < TB_FL_WARPS; w++) {
            const int CT = D / TB_FL_WARPS / 8;
            static double dq[2][FL_MAX_DT / 4][32][4];
            fl_zero(dq[0], CT);
            fl_zero(dq[1], CT);
            const int c0 = tb_fl_dq_c0(w, D);
            for (int kk = 0; kk < BC / 16; kk++) {
                emu_reg a[2][32][4], b0[32][2], b1[32][2];
                for (int mt = 0; mt < 2; mt++) {
                    uint32_t addr[32];
                    for (int l = 0; l < 32; l++)
                        addr[l] = sDS + tb_fl_dst_ldsm_at(l, tb_fl_dq_m0(mt), kk);
                    emu_ldmatrix_x4(m, addr, TB_FL_LDSM_DST_TRANS && !x->kn->dst_plain, a[mt]);
                }
                for (int np = 0; np < CT / 2; np++) {
                    fl_ldsm_b(x, b0, b1, sK, kk * 16, c0 + np * 16);
                    for (int mt = 0; mt < 2; mt++) {
                        emu_mma_16816(dq[mt][2 * np], a[mt], b0);
                        emu_mma_16816(dq[mt][2 * np + 1], a[mt], b1);
                    }
                }
            }
            double *dqh = out->dQacc + (row - q0) * D;
            for (int mt = 0; mt < 2; mt++)
                for (int r = 0; r < 2; r++)
                    for (int l = 0; l < 32; l++) {
                        const int qi =
                            q0 + tb_fl_dq_m0(mt) + tb_fl_lane_g(l) + tb_fl_c_vrow(2 * r);
                        if (qi >= S)
                            continue;
                        for (int i = 0; i < CT; i++)
                            for (int e = 0; e < 2; e++)
                                dqh[(int64_t)qi * D + c0 + i * 8 + tb_fl_c_col(l, 0) + e] +=
                                    dq[mt][i][l][2 * r + e] * scale;
                    }
        }
        if (!x->kn->no_end_barrier)
            emu_barrier(m);
        tb_fl_bwd_next_item(&q0, &row, k.first, nq, S);
    }
    emu_wait(m, 0);

    for (int w = 0; w < TB_FL_WARPS; w++)
        for (int r = 0; r < 2; r++)
            for (int l = 0; l < 32; l++) {
                const int kj = k.k0 + w * 16 + tb_fl_lane_g(l) + tb_fl_c_vrow(2 * r);
                if (kj >= S)
                    continue;
                const int64_t krow = ((int64_t)bk * S + kj) * D;
                for (int i = 0; i < DT; i++)
                    for (int e = 0; e < 2; e++) {
                        const int64_t at = krow + i * 8 + tb_fl_c_col(l, 0) + e;
                        out->dK[at] = dk[w][i][l][2 * r + e] * scale;
                        out->dV[at] = dv[w][i][l][2 * r + e];
                        out->dK_writes[at]++;
                        out->dV_writes[at]++;
                    }
            }
}

typedef struct {
    double err_dQ, err_dK, err_dV;
    long miswritten, hazards, conflicts;
    char first[200];
} fl_bwd_result;

static fl_bwd_result fl_bwd_run(const fl_case *c, const fl_knobs *kn)
{
    const fl_shape *sh = &c->sh;
    emu_smem m;
    emu_smem_init(&m, TB_FL_BWD_SMEM(sh->D));
    fl_ctx x = {&m, kn, sh->D, 0};
    fl_bwd_out out = {calloc((size_t)c->nq, sizeof(double)), fl_alloc(c->nk), fl_alloc(c->nk),
                      calloc((size_t)c->nk, sizeof(int)), calloc((size_t)c->nk, sizeof(int))};
    for (int64_t i = 0; i < c->nk; i++)
        out.dK[i] = out.dV[i] = NAN;
    /* every block of the kernel's 1-D grid, in launch order */
    const int64_t blocks =
        (int64_t)(sh->S + TB_ATTN_BWD_BC - 1) / TB_ATTN_BWD_BC * sh->B * sh->KVH;
    for (int64_t blk = 0; blk < blocks; blk++)
        fl_bwd_block(&x, c, blk, &out);
    fl_bwd_result r = {emu_rel_err(out.dQacc, c->dQ, c->nq), emu_rel_err(out.dK, c->dK, c->nk),
                       emu_rel_err(out.dV, c->dV, c->nk), 0, m.hazards, m.conflicts, ""};
    for (int64_t i = 0; i < c->nk; i++)
        r.miswritten += (out.dK_writes[i] != 1) + (out.dV_writes[i] != 1);
    memcpy(r.first, m.first, sizeof r.first);
    emu_smem_free(&m);
    free(out.dQacc);
    free(out.dK);
    free(out.dV);
    free(out.dK_writes);
    free(out.dV_writes);
    return r;
}

/* ---- the shapes ---- */

/* ragged (S not a multiple of 64 or 32), causal and not, grouped-query, both head dims */
static const fl_shape fl_shapes[] = {
    {1, 4, 2, 100, 64, 1},  /* GQA 2:1, causal, ragged */
    {2, 2, 1, 77, 64, 0},   /* GQA 2:1 (MQA), two batches, ragged */
    {1, 2, 1, 130, 128, 1}, /* D 128, causal, ragged past two tiles */
    {1, 1, 1, 128, 128, 0}, /* D 128, whole tiles */
};
#define FL_NSHAPES (int)(sizeof fl_shapes / sizeof fl_shapes[0])

/* The bound a right emulation meets: fp64 sums of O(100) terms of O(1). */
#define FL_EXACT 1e-11
/* What a misplaced element costs at least (a fragment's worth of wrong values). */
#define FL_WRONG 1e-2

static void fl_describe(const fl_shape *s, char *buf, size_t n)
{
    snprintf(buf, n, "B=%d H=%d KVH=%d S=%d D=%d causal=%d", s->B, s->H, s->KVH, s->S, s->D,
             s->causal);
}

/* Both row-tile counts the forward is built with (TB_ATTN_FWD_MT), at both head dims. */
static const int fl_fwd_mts[] = {2, 1};
#define FL_NMTS (int)(sizeof fl_fwd_mts / sizeof fl_fwd_mts[0])

Test(flash_emu, forward_matches_the_reference_on_every_shape)
{
    const fl_knobs none = {0};
    for (int i = 0; i < FL_NSHAPES; i++)
        for (int j = 0; j < FL_NMTS; j++) {
            fl_case c;
            char what[96];
            fl_case_make(&c, fl_shapes[i]);
            fl_describe(&fl_shapes[i], what, sizeof what);
            const int mt = fl_fwd_mts[j];
            const fl_result r = fl_fwd_run(&c, &none, mt);
            cr_log_info("fwd MT=%d %s: O err %.2e, lse err %.2e", mt, what, r.err_O, r.err_lse);
            cr_expect(r.hazards == 0 && r.conflicts == 0,
                      "fwd MT=%d %s: %ld hazards, %ld conflicts: %s", mt, what, r.hazards,
                      r.conflicts, r.first);
            cr_expect(r.miswritten == 0 && r.bad_max == 0,
                      "fwd MT=%d %s: %ld outputs not written once, %ld wrong row maxima", mt,
                      what, r.miswritten, r.bad_max);
            cr_expect(r.err_O < FL_EXACT && r.err_lse < FL_EXACT,
                      "fwd MT=%d %s: O err %.3e, lse err %.3e", mt, what, r.err_O, r.err_lse);
            fl_case_free(&c);
        }
}

Test(flash_emu, backward_matches_the_reference_on_every_shape)
{
    const fl_knobs none = {0};
    for (int i = 0; i < FL_NSHAPES; i++) {
        fl_case c;
        char what[96];
        fl_case_make(&c, fl_shapes[i]);
        fl_describe(&fl_shapes[i], what, sizeof what);
        const fl_bwd_result r = fl_bwd_run(&c, &none);
        cr_log_info("bwd %s: dQ err %.2e, dK err %.2e, dV err %.2e", what, r.err_dQ, r.err_dK,
                    r.err_dV);
        cr_expect(r.hazards == 0 && r.conflicts == 0, "bwd %s: %ld hazards, %ld conflicts: %s",
                  what, r.hazards, r.conflicts, r.first);
        cr_expect(r.miswritten == 0, "bwd %s: %ld outputs not written once", what, r.miswritten);
        cr_expect(r.err_dQ < FL_EXACT && r.err_dK < FL_EXACT && r.err_dV < FL_EXACT,
                  "bwd %s: dQ err %.3e, dK err %.3e, dV err %.3e", what, r.err_dQ, r.err_dK,
                  r.err_dV);
        fl_case_free(&c);
    }
}

/* ---- planted bugs: each must be caught, by the numbers or by the protocol checks ---- */

/* Shapes small enough to run every knob: causal GQA D 64 and non-causal D 128, both ragged,
 * with at least three key tiles per query tile somewhere (a stage is reused). */
static const fl_shape fl_knob_shapes[] = {{1, 2, 1, 150, 64, 1}, {1, 1, 1, 200, 128, 0}};

static double fl_fwd_err(const fl_result *r)
{
    return fmax(r->err_O, r->err_lse);
}

static double fl_bwd_err(const fl_bwd_result *r)
{
    return fmax(r->err_dQ, fmax(r->err_dK, r->err_dV));
}

/* Runs both passes with the knob on every knob shape; expects a wrong result (numeric) or a
 * protocol report (protocol), as `how` says, in each pass. */
enum { FL_NUMERIC = 1, FL_PROTOCOL = 2, FL_CONFLICT = 4 };

static void fl_expect_caught(const char *name, const fl_knobs *kn, int how, int fwd, int bwd)
{
    for (size_t i = 0; i < sizeof fl_knob_shapes / sizeof fl_knob_shapes[0]; i++) {
        fl_case c;
        char what[96];
        fl_case_make(&c, fl_knob_shapes[i]);
        fl_describe(&fl_knob_shapes[i], what, sizeof what);
        for (int j = 0; fwd && j < FL_NMTS; j++) {
            const int mt = fl_fwd_mts[j];
            const fl_result r = fl_fwd_run(&c, kn, mt);
            cr_log_info("%s, fwd MT=%d %s: err %.2e, hazards %ld, conflicts %ld, bad max %ld%s%s",
                        name, mt, what, fl_fwd_err(&r), r.hazards, r.conflicts, r.bad_max,
                        r.first[0] ? ": " : "", r.first);
            if (how & FL_NUMERIC)
                cr_expect(fl_fwd_err(&r) > FL_WRONG || r.bad_max > 0,
                          "%s not caught by fwd MT=%d %s: err %.3e", name, mt, what,
                          fl_fwd_err(&r));
            if (how & FL_PROTOCOL)
                cr_expect(r.hazards > 0, "%s: no hazard in fwd MT=%d %s", name, mt, what);
            if (how & FL_CONFLICT)
                cr_expect(r.conflicts > 0, "%s: no bank conflict in fwd MT=%d %s", name, mt,
                          what);
        }
        if (bwd) {
            const fl_bwd_result r = fl_bwd_run(&c, kn);
            cr_log_info("%s, bwd %s: err %.2e, hazards %ld, conflicts %ld%s%s", name, what,
                        fl_bwd_err(&r), r.hazards, r.conflicts, r.first[0] ? ": " : "",
                        r.first);
            if (how & FL_NUMERIC)
                cr_expect(fl_bwd_err(&r) > FL_WRONG, "%s not caught by bwd %s: err %.3e", name,
                          what, fl_bwd_err(&r));
            if (how & FL_PROTOCOL)
                cr_expect(r.hazards > 0, "%s: no hazard in bwd %s", name, what);
            if (how & FL_CONFLICT)
                cr_expect(r.conflicts > 0, "%s: no bank conflict in bwd %s", name, what);
        }
        fl_case_free(&c);
    }
}

Test(flash_emu, a_read_swizzle_with_one_bit_dropped_is_caught)
{
    for (int bit = 1; bit <= 4; bit <<= 1) {
        fl_knobs kn = {0};
        kn.swz_drop = bit;
        fl_expect_caught("swizzle bit dropped on the ldmatrix side", &kn, FL_NUMERIC, 1, 1);
    }
}

Test(flash_emu, a_repack_with_two_registers_swapped_is_caught)
{
    fl_knobs kn = {0};
    kn.repack_swap = 1;
    fl_expect_caught("repack a1 <-> a2", &kn, FL_NUMERIC, 1, 1);
}

Test(flash_emu, ldmatrix_trans_replaced_by_plain_is_caught)
{
    fl_knobs kn = {0};
    kn.b_plain = 1;
    fl_expect_caught("B operand without .trans", &kn, FL_NUMERIC, 1, 1);
    fl_knobs kd = {0};
    kd.dst_plain = 1;
    fl_expect_caught("dS from dS^T without .trans", &kd, FL_NUMERIC, 0, 1);
}

Test(flash_emu, swapped_ldmatrix_matrices_are_caught)
{
    fl_knobs kn = {0};
    kn.bt_swap = 1;
    fl_expect_caught("ldsm_bt matrices 1 <-> 2", &kn, FL_NUMERIC, 1, 1);
}

/* Besides the results, each reduced maximum is checked against its row's own (hardware
 * layout): a base that is merely consistent would still give right results. */
Test(flash_emu, a_row_max_shuffle_across_rows_is_caught)
{
    fl_knobs kn = {0};
    kn.max_xor = 4;
    fl_expect_caught("row max shuffled with lane ^ 4", &kn, FL_NUMERIC, 1, 0);
}

Test(flash_emu, a_row_sum_shuffle_across_rows_is_caught)
{
    fl_knobs kn = {0};
    kn.sum_xor = 4; /* lane ^ 4 is the next row, not the quad */
    fl_expect_caught("row sum shuffled with lane ^ 4", &kn, FL_NUMERIC, 1, 0);
}

Test(flash_emu, a_mask_off_by_one_key_is_caught)
{
    fl_knobs kn = {0};
    kn.mask_shift = 1;
    fl_expect_caught("mask column + 1", &kn, FL_NUMERIC, 1, 1);
}

Test(flash_emu, waiting_for_too_few_cp_async_groups_is_caught)
{
    fl_knobs kn = {0};
    kn.wait_pending = TB_FL_WAIT_PENDING + 1;
    fl_expect_caught("wait_group pending + 1", &kn, FL_PROTOCOL | FL_NUMERIC, 1, 1);
}

Test(flash_emu, a_single_stage_ring_is_caught)
{
    fl_knobs kn = {0};
    kn.stages = 1;
    fl_expect_caught("one stage", &kn, FL_PROTOCOL, 1, 1);
}

/* The forward's closing barrier keeps the next iteration's loads off the stage still being
 * read; the backward's middle barrier orders the dS^T stores before the dQ step's reads. (The
 * backward's closing barrier is not needed: the middle one already separates the stage reads
 * from the next loads, and the next iteration's first barrier the dS^T reads from its stores.) */
Test(flash_emu, a_missing_barrier_is_caught)
{
    fl_knobs kn = {0};
    kn.no_end_barrier = 1;
    fl_expect_caught("no closing barrier", &kn, FL_PROTOCOL, 1, 0);
    fl_knobs km = {0};
    km.no_mid_barrier = 1;
    fl_expect_caught("no barrier before the dQ step", &km, FL_PROTOCOL, 0, 1);
}

/* The ring's constants as the kernels use them: two stages (a power of two), tile t+1 in flight
 * while t is read, so one group may stay pending. */
Test(flash_emu, ring_constants)
{
    cr_assert_eq(TB_FL_STAGES, 2);
    cr_assert_eq(TB_FL_WAIT_PENDING, TB_FL_STAGES - 1);
    for (int t = 0; t < 8; t++)
        cr_assert_eq(tb_fl_stage(t), t % TB_FL_STAGES);
}
