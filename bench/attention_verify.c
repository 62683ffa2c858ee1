/* attention_verify.c - the bounds every attention output is held to, and the norm-wise,
 * tile-wise and log-sum-exp measures, computed the same way for the GPU and the host paths.
 *
 * u is the unit roundoff of the outputs' type: bf16 2^-8, fp16 2^-11; the host's fp32 path
 * (against a double reference) uses 2^-16. Every implementation and the reference see the same
 * rounded inputs, so only the implementation's own roundings separate them.
 *
 * Element-wise: |out - ref| <= 2u |ref| + 8u bound_i + 2^-20, bound_i the output's sum with
 * every term made absolute: P |V| for O, P (|dP| + sum|dO o O|) against |K| (dQ) and |Q| (dK),
 * P |dO| for dV. The error of a sum of rounded terms is at most u times that sum per rounding:
 * the implementations round P (and dS) before the P V (dS K, dS^T Q) products, O before
 * D = rowsum(dO o O), and the unfused path the scores before the softmax (u |s|, which moves P
 * by up to u |s| relative, |s| < 6 for all but a vanishing fraction of N(0,1) scores); 8u
 * covers their sum, 2u |ref| the output's own rounding. It holds whatever the data, so it is
 * as large as the worst case, and at long sequences that is as large as the signal: |O|
 * shrinks like sqrt(e/S) while P|V| stays near E|v| = 0.8.
 *
 * Norm-wise, per head and per CTA tile: ||out - ref|| / ||ref|| <= u sqrt(3k). A rounding to
 * nearest has an absolute error uniform within half an ulp, so its relative error has an RMS
 * of at most u/sqrt(3). An output element is a sum of terms t_j = w_j m_j (P V, dS K, ...);
 * rounding w_j before the product adds sum_j e_j w_j m_j with independent e_j, whose mean
 * square is at most (u^2/3) sum_j w_j^2 m_j^2. For the benchmark's inputs (m_j independent,
 * zero-mean) that sum has the same expectation as the square of the output itself, so each
 * rounding stage adds at most u^2/3 to the mean-square relative error of a head or tile, and
 * k stages give an RMS of u sqrt(k/3); the bound allows three times that (a tile holds
 * thousands of elements, so its RMS sits close to its expectation). The stages k:
 *   naive: the output's rounding (1);
 *   flash and host: P (dS for dQ and dK) before its product, and the output (2);
 *   unfused: the scores rounded before the softmax move p_j by e_j s_j: with the weights p^2
 *     of N(0,1) scores that is 5 stages' worth (E[s^2] under e^(2s) is 5); then P and the
 *     output: 7 for O and dV; dP and dS add two for dQ and dK: 9.
 * fp32 accumulation adds ~sqrt(n) 2^-24, negligible beside u. A correct kernel measures about
 * u/sqrt(3) sqrt(k/3) (0.6u for flash); a query tile missing one key tile of 128 at S = 8192
 * is off by ~0.2 (50u for bf16), a 2 % softmax-scale error ~8u over a whole head.
 *
 * Tiles: O by the 64 query rows of one forward CTA; dK and dV by the 64 key rows of one
 * backward CTA (it owns them); dQ by the 32 query rows one backward CTA adds per step (every
 * CTA of the KV head adds to them, so a bug in one CTA lands in that tile). Heads: a query
 * head for O and dQ, a KV head for dK and dV.
 *
 * Log-sum-exp, per row: the unfused path rounds the scores, which moves lse by the p-weighted
 * mean of u |s|: 8u covers |s| < 6 with room. Flash, naive and host keep fp32 scores (exact
 * products of rounded inputs, fp32 sums), so their lse differs from an fp32 or double
 * reference only by fp32 roundings (u32 = 2^-24): the row sum l of S terms and S/64 rescalings
 * (RMS <= u32 sqrt((S + S/64)/3) relative, held to 6 sigma), the scores' D-term sums (the
 * tensor cores' truncating accumulation: D/16 steps of at most 2 u32 |s|, |s| < 8: D u32 as a
 * worst case), and the final exp2/log2, add and multiply (|lse| < 32: 2^-17). The
 * implementation and an fp32 reference each contribute, so
 *     lse_tol = 2 u32 (6 sqrt(1.016 S / 3) + D) + 2^-16,
 * 6.8e-5 at S = 8192, D = 128, where a lost key tile moves lse by 64/S = 7.8e-3 (8u = 0.031
 * would pass it). */
#include "attention_verify.h"

#include <math.h>
#include <string.h>

#include "../kernels/attention/attn_common.h"
#include "../kernels/matmul/mm_storage.h"

#define ELEMENT_BOUND_FACTOR 8.0
#define ABS_FLOOR 9.5367431640625e-07 /* 2^-20 */
#define U32 5.9604644775390625e-08    /* 2^-24 */

static double unit_roundoff(int storage)
{
    return storage == TB_MM_BF16 ? ldexp(1, -8)
                                 : (storage == TB_MM_F16 ? ldexp(1, -11) : ldexp(1, -16));
}

void tb_attn_bounds_of(tb_attn_rounding r, int storage, int S, int D, tb_attn_bounds *b)
{
    static const int stages[3][TB_ATTN_OUTPUTS] = {
        {7, 9, 9, 7}, /* unfused: O dQ dK dV */
        {1, 1, 1, 1}, /* naive */
        {2, 2, 2, 2}, /* flash, host */
    };
    const double u = unit_roundoff(storage);
    b->abs_tol = ABS_FLOOR;
    b->rel_tol = 2 * u;
    b->bound_scale = ELEMENT_BOUND_FACTOR * u;
    for (int k = 0; k < TB_ATTN_OUTPUTS; k++)
        b->norm[k] = u * sqrt(3.0 * stages[r][k]);
    b->lse = r == TB_ATTN_ROUND_UNFUSED
                 ? ELEMENT_BOUND_FACTOR * u
                 : 2 * U32 * (6 * sqrt((S + S / 64.0) / 3) + D) + ldexp(1, -16);
}

int tb_attn_tile_rows(int output, int fwd_rows)
{
    return output == TB_ATTN_OUT_O    ? fwd_rows
           : output == TB_ATTN_OUT_DQ ? TB_ATTN_BWD_BR
                                      : TB_ATTN_BWD_BC;
}

void tb_attn_norms_init(tb_attn_norms *m, double bound, int tile_rows)
{
    memset(m, 0, sizeof *m);
    m->bound = bound;
    m->tile_rows = tile_rows;
    m->tile = -1;
}

/* ||err|| / ||ref|| over n elements from the sums of squares, the reference's norm floored
 * where the bound would fall under the element-wise floor: a unit whose exact value is zero
 * (the gradients of a one-key sequence) holds only rounding noise, which may reach 2^-20 RMS.
 * A NaN is infinitely wrong. */
static double relative(double err2, double ref2, int64_t n, double bound)
{
    if (isnan(err2) || isnan(ref2))
        return INFINITY;
    const double floor2 = (double)n * (ABS_FLOOR / bound) * (ABS_FLOOR / bound);
    ref2 = ref2 > floor2 ? ref2 : floor2;
    if (ref2 == 0)
        return err2 == 0 ? 0 : INFINITY;
    return sqrt(err2 / ref2);
}

static void close_tile(tb_attn_norms *m)
{
    if (m->tile < 0)
        return;
    const double r = relative(m->tile_err2, m->tile_ref2, m->tile_n, m->bound);
    m->tile_worst = r > m->tile_worst ? r : m->tile_worst;
    m->n_tiles++;
    m->tiles_failed += !(r <= m->bound);
    m->tile = -1;
    m->tile_err2 = m->tile_ref2 = 0;
    m->tile_n = 0;
}

void tb_attn_norms_rows(tb_attn_norms *m, const float *out, const float *ref, int64_t row0,
                        int64_t n, int D)
{
    m->head_open = 1;
    for (int64_t r = 0; r < n; r++) {
        const int64_t tile = (row0 + r) / m->tile_rows;
        /* a chunk that does not continue the previous one starts a new unit */
        if (tile != m->tile || r == 0)
            close_tile(m);
        m->tile = tile;
        double e2 = 0, r2 = 0;
        for (int d = 0; d < D; d++) {
            const double want = ref[r * D + d], e = (double)out[r * D + d] - want;
            e2 += e * e;
            r2 += want * want;
        }
        m->tile_err2 += e2;
        m->tile_ref2 += r2;
        m->tile_n += D;
        m->head_err2 += e2;
        m->head_ref2 += r2;
        m->head_n += D;
    }
}

void tb_attn_norms_end_head(tb_attn_norms *m)
{
    close_tile(m);
    if (!m->head_open)
        return;
    const double r = relative(m->head_err2, m->head_ref2, m->head_n, m->bound);
    m->norm_worst = r > m->norm_worst ? r : m->norm_worst;
    m->n_heads++;
    m->heads_failed += !(r <= m->bound);
    m->head_err2 = m->head_ref2 = 0;
    m->head_n = 0;
    m->head_open = 0;
}

void tb_attn_lse_rows(tb_attn_lse_check *m, const float *out, const float *ref, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        /* a row with no visible key is -inf in both */
        const double e0 = out[i] == ref[i] ? 0 : fabs((double)out[i] - ref[i]);
        const double e = isnan(e0) ? INFINITY : e0;
        m->worst = e > m->worst ? e : m->worst;
        m->failed += !(e <= m->bound);
    }
    m->n += n;
}

void tb_attn_elements(const float *out, const float *ref, const float *bound, int64_t n,
                      const tb_attn_bounds *b, tb_verify *v)
{
    for (int64_t i = 0; i < n; i++) {
        const double want = ref[i], e0 = fabs((double)out[i] - want);
        const double e = isnan(e0) ? INFINITY : e0;
        const double tol =
            b->abs_tol + b->rel_tol * fabs(want) + (bound ? b->bound_scale * bound[i] : 0);
        if (!(e <= tol))
            v->n_wrong++;
        v->max_abs_err = e > v->max_abs_err ? e : v->max_abs_err;
        if (fabs(want) >= 1e-3 && e / fabs(want) > v->max_rel_err)
            v->max_rel_err = e / fabs(want);
    }
    v->n_checked += n;
}

void tb_attn_record(tb_verify *v, const tb_attn_norms *const norms[TB_ATTN_OUTPUTS],
                    const tb_attn_lse_check *lse)
{
    double nw = 0, nb = 0, tw = 0, tb = 0;
    int64_t heads = 0, heads_failed = 0, tiles = 0, tiles_failed = 0;
    int bwd = 0;
    for (int k = 0; k < TB_ATTN_OUTPUTS; k++) {
        const tb_attn_norms *m = norms[k];
        if (!m)
            continue;
        bwd |= k != TB_ATTN_OUT_O;
        if (heads == 0 || m->norm_worst / m->bound > nw / nb) {
            nw = m->norm_worst;
            nb = m->bound;
        }
        if (tiles == 0 || m->tile_worst / m->bound > tw / tb) {
            tw = m->tile_worst;
            tb = m->bound;
        }
        heads += m->n_heads;
        heads_failed += m->heads_failed;
        tiles += m->n_tiles;
        tiles_failed += m->tiles_failed;
    }
    tb_verify_add_measure(v, "norm", "head", nw, nb, heads, heads_failed);
    tb_verify_add_measure(v, "tile", bwd ? "CTA tile" : "query tile", tw, tb, tiles,
                          tiles_failed);
    if (lse)
        tb_verify_add_measure(v, "lse", "row", lse->worst, lse->bound, lse->n, lse->failed);
}
