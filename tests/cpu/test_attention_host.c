/* attention on the CPU: the flash tiling and online softmax (the kernels' tile sizes and the
 * shared attn_common.h logic) against the materialized reference, forward and backward,
 * causal or not, sequences that are and are not tile multiples, grouped-query heads and
 * extreme logits; the reference's backward against finite differences of its forward; the
 * tile-visiting rules against brute force; and the benchmark's skip rules and memory counts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "benches.h"
#include "attention/attn_common.h"

static tb_attn_shape shape(int B, int H, int KVH, int S, int D, int causal)
{
    tb_attn_shape sh = {B, H, KVH, S, D, causal, TB_MM_F32};
    return sh;
}

static float *random_tensor(int64_t n, uint64_t seed, float scale)
{
    float *x = malloc((size_t)n * sizeof *x);
    cr_assert(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * tb_rand_normal(seed, (uint64_t)i);
    return x;
}

/* max |a - b| / (tol_abs + tol_rel |b|) over n elements: <= 1 passes */
static double worst(const float *a, const float *b, int64_t n, double tol_abs, double tol_rel)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(isfinite(a[i]), "element %lld is %f", (long long)i, a[i]);
        double e = fabs((double)a[i] - b[i]) / (tol_abs + tol_rel * fabs((double)b[i]));
        w = e > w ? e : w;
    }
    return w;
}

typedef struct {
    tb_attn_shape sh;
    int64_t nq, nkv, rows;
    float *Q, *K, *V, *dO;
} inputs;

static inputs make_inputs(tb_attn_shape sh, float q_scale)
{
    inputs in;
    in.sh = sh;
    in.nq = (int64_t)sh.B * sh.H * sh.S * sh.D;
    in.nkv = (int64_t)sh.B * sh.KVH * sh.S * sh.D;
    in.rows = (int64_t)sh.B * sh.H * sh.S;
    in.Q = random_tensor(in.nq, 1, q_scale);
    in.K = random_tensor(in.nkv, 2, 1.0f);
    in.V = random_tensor(in.nkv, 3, 1.0f);
    in.dO = random_tensor(in.nq, 4, 1.0f);
    return in;
}

static void free_inputs(inputs *in)
{
    free(in->Q);
    free(in->K);
    free(in->V);
    free(in->dO);
}

/* The flash mirror's forward and backward against the reference for one shape. */
static void check_flash(tb_attn_shape sh, float q_scale)
{
    inputs in = make_inputs(sh, q_scale);
    float *O = malloc((size_t)in.nq * 4), *lse = malloc((size_t)in.rows * 4);
    float *Or = malloc((size_t)in.nq * 4), *lser = malloc((size_t)in.rows * 4);
    float *g = malloc((size_t)(in.nq + 2 * in.nkv) * 4), *gr = malloc((size_t)(in.nq + 2 * in.nkv) * 4);
    cr_assert(O && lse && Or && lser && g && gr);
    memset(O, 0xff, (size_t)in.nq * 4);
    memset(g, 0xff, (size_t)(in.nq + 2 * in.nkv) * 4);
    cr_assert_eq(tb_attn_host_flash_fwd(&sh, in.Q, in.K, in.V, O, lse, TB_ATTN_BUG_NONE), 0);
    cr_assert_eq(tb_attn_host_naive_fwd(&sh, in.Q, in.K, in.V, Or, lser, NULL), 0);
    /* fp32 against double; the logits scale the error of the scores they come from */
    const double tol = 2e-5 * q_scale;
    double w = worst(O, Or, in.nq, tol, tol);
    cr_assert_leq(w, 1.0, "O: S=%d causal=%d scale=%g: worst %.3g", sh.S, sh.causal, q_scale, w);
    w = worst(lse, lser, in.rows, tol, tol);
    cr_assert_leq(w, 1.0, "lse: S=%d causal=%d scale=%g: worst %.3g", sh.S, sh.causal, q_scale, w);

    cr_assert_eq(tb_attn_host_flash_bwd(&sh, in.Q, in.K, in.V, O, lse, in.dO, g, g + in.nq,
                                        g + in.nq + in.nkv, TB_ATTN_BUG_NONE),
                 0);
    cr_assert_eq(tb_attn_host_naive_bwd(&sh, in.Q, in.K, in.V, Or, in.dO, gr, gr + in.nq,
                                        gr + in.nq + in.nkv, NULL, NULL, NULL),
                 0);
    double gscale = 0; /* gradients are compared relative to their largest magnitude */
    for (int64_t i = 0; i < in.nq + 2 * in.nkv; i++)
        gscale = fabs(gr[i]) > gscale ? fabs(gr[i]) : gscale;
    w = worst(g, gr, in.nq + 2 * in.nkv, 1e-4 * gscale * q_scale, 1e-4);
    cr_assert_leq(w, 1.0, "dQ/dK/dV: S=%d causal=%d scale=%g: worst %.3g", sh.S, sh.causal,
                  q_scale, w);
    free(O);
    free(lse);
    free(Or);
    free(lser);
    free(g);
    free(gr);
    free_inputs(&in);
}

Test(attention_host, flash_tiling_matches_reference)
{
    /* around the forward's 64-row tiles and the backward's 32-row query tiles */
    static const int seqs[] = {1, 7, 31, 32, 33, 63, 64, 65, 100, 128, 130, 200};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
        for (int causal = 0; causal <= 1; causal++)
            check_flash(shape(1, 2, 1, seqs[i], 16, causal), 1.0f);
}

Test(attention_host, grouped_query_heads_and_head_dims)
{
    check_flash(shape(2, 4, 2, 70, 64, 1), 1.0f);
    check_flash(shape(1, 6, 3, 90, 128, 0), 1.0f);
    check_flash(shape(1, 4, 1, 65, 32, 1), 1.0f);
}

Test(attention_host, extreme_logits_stay_finite)
{
    /* scores of thousands, positive and negative: the online softmax must rescale rather than
     * overflow, and rows whose later tiles hold the maximum must be corrected */
    check_flash(shape(1, 2, 2, 130, 16, 0), 300.0f);
    check_flash(shape(1, 2, 2, 130, 16, 1), 300.0f);
    check_flash(shape(1, 2, 2, 77, 16, 1), -300.0f);
}

Test(attention_host, online_update_handles_masked_segments)
{
    tb_attn_row r = {-INFINITY, 0.0f};
    /* a tile where the row is masked throughout: nothing seen, nothing is NaN */
    float alpha = tb_attn_row_update(&r, -INFINITY);
    cr_assert(alpha == 0.0f && r.m == -INFINITY && r.l == 0.0f);
    cr_assert_eq(tb_attn_row_base(r.m), 0.0f);
    cr_assert(tb_attn_row_lse(r) == -INFINITY);
    cr_assert_eq(tb_attn_row_inv(r), 0.0f);
    /* then real keys, very negative ones: the earlier (empty) sum and output are dropped,
     * not multiplied by exp2(1000) */
    alpha = tb_attn_row_update(&r, -1000.0f);
    cr_assert(alpha == 0.0f && r.m == -1000.0f && r.l == 0.0f);
    r = (tb_attn_row){-INFINITY, 0.0f}; /* start again */
    alpha = tb_attn_row_update(&r, 3.0f);
    cr_assert_eq(alpha, 0.0f);
    r.l += 1.0f;               /* exp2(3 - 3) */
    /* a masked segment after real keys leaves the state alone */
    alpha = tb_attn_row_update(&r, -INFINITY);
    cr_assert(alpha == 1.0f && r.m == 3.0f && r.l == 1.0f);
    /* a larger maximum rescales the sum */
    alpha = tb_attn_row_update(&r, 5.0f);
    cr_assert_float_eq(alpha, 0.25f, 1e-7);
    cr_assert_float_eq(r.l, 0.25f, 1e-7);
    r.l += 1.0f;
    /* lse = ln(2^3 + 2^5) in base-2 units: (5 + log2 1.25) ln 2 */
    cr_assert_float_eq(tb_attn_row_lse(r), (5.0f + log2f(1.25f)) * TB_ATTN_LN2, 1e-6);
}

Test(attention_host, tile_rules_match_brute_force)
{
    static const int tiles[][2] = {{64, 64}, {32, 64}, {64, 32}, {16, 16}};
    for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
        const int br = tiles[t][0], bc = tiles[t][1];
        for (int S = 1; S <= 200; S += 3)
            for (int causal = 0; causal <= 1; causal++)
                for (int q0 = 0; q0 < S; q0 += br)
                    for (int k0 = 0; k0 < S; k0 += bc) {
                        int any_visible = 0, any_masked = 0;
                        for (int i = q0; i < q0 + br && i < S; i++)
                            for (int j = k0; j < k0 + bc; j++) {
                                if (tb_attn_masked(i, j, S, causal))
                                    any_masked = 1;
                                else
                                    any_visible = 1;
                            }
                        const int fwd_visits = k0 / bc < tb_attn_kv_tiles(q0, br, bc, S, causal);
                        const int bwd_visits = q0 / br >= tb_attn_first_q_tile(k0, br, causal);
                        /* a tile with a visible pair is visited by both passes */
                        if (any_visible) {
                            cr_assert(fwd_visits, "S=%d q0=%d k0=%d", S, q0, k0);
                            cr_assert(bwd_visits, "S=%d q0=%d k0=%d", S, q0, k0);
                        }
                        /* a tile run unmasked has no masked pair among its real rows */
                        if (any_masked)
                            cr_assert(tb_attn_tile_needs_mask(q0, br, k0, bc, S, causal),
                                      "S=%d q0=%d k0=%d causal=%d", S, q0, k0, causal);
                        /* causal: the forward skips the tiles wholly above the diagonal */
                        if (causal && !any_visible)
                            cr_assert(!fwd_visits, "S=%d q0=%d k0=%d", S, q0, k0);
                    }
    }
}

/* L = sum O o dO from the reference forward (double). */
static double loss(const tb_attn_shape *sh, const inputs *in, float *O, float *lse)
{
    cr_assert_eq(tb_attn_host_naive_fwd(sh, in->Q, in->K, in->V, O, lse, NULL), 0);
    double l = 0;
    for (int64_t i = 0; i < in->nq; i++)
        l += (double)O[i] * in->dO[i];
    return l;
}

Test(attention_host, backward_matches_finite_differences)
{
    for (int causal = 0; causal <= 1; causal++) {
        tb_attn_shape sh = shape(1, 2, 1, 9, 8, causal);
        inputs in = make_inputs(sh, 1.0f);
        float *O = malloc((size_t)in.nq * 4), *lse = malloc((size_t)in.rows * 4);
        float *dQ = malloc((size_t)in.nq * 4), *dK = malloc((size_t)in.nkv * 4),
              *dV = malloc((size_t)in.nkv * 4);
        cr_assert(O && lse && dQ && dK && dV);
        loss(&sh, &in, O, lse);
        cr_assert_eq(tb_attn_host_naive_bwd(&sh, in.Q, in.K, in.V, O, in.dO, dQ, dK, dV, NULL,
                                            NULL, NULL),
                     0);
        float *tensors[3] = {in.Q, in.K, in.V};
        const float *grads[3] = {dQ, dK, dV};
        const int64_t sizes[3] = {in.nq, in.nkv, in.nkv};
        const float h = 1e-2f;
        for (int t = 0; t < 3; t++)
            for (int64_t i = 0; i < sizes[t]; i += 5) {
                const float keep = tensors[t][i];
                tensors[t][i] = keep + h;
                const double up = loss(&sh, &in, O, lse);
                tensors[t][i] = keep - h;
                const double down = loss(&sh, &in, O, lse);
                tensors[t][i] = keep;
                const double fd = (up - down) / (2.0 * ((double)(keep + h) - (double)keep));
                /* central differences: O(h^2) truncation, fp32 outputs ~1e-7 / h rounding */
                cr_assert(fabs(fd - grads[t][i]) <= 2e-3 + 2e-3 * fabs(fd),
                          "causal=%d tensor %d element %lld: finite difference %.6g, "
                          "backward %.6g",
                          causal, t, (long long)i, fd, grads[t][i]);
            }
        free(O);
        free(lse);
        free(dQ);
        free(dK);
        free(dV);
        free_inputs(&in);
    }
}

/* ---- the benchmark table ---- */

static tb_case att_case(const char *impl, tb_dtype dt, int B, int H, int KVH, int S, int D,
                        int causal, int pass)
{
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_attention;
    c.impl = tb_bench_impl(&tb_bench_attention, impl);
    cr_assert(c.impl, "%s", impl);
    c.dtype = dt;
    int64_t ax[7] = {B, H, KVH, S, D, causal, pass};
    memcpy(c.axis, ax, sizeof ax);
    return c;
}

Test(attention_host, skip_rules_name_the_reason)
{
    tb_device host;
    memset(&host, 0, sizeof host);
    host.is_host = 1;
    tb_err err;
    tb_case c = att_case("flash", TB_BF16, 1, 8, 8, 1024, 96, 0, 0);
    cr_assert_eq(c.impl->supports(&c, &host, &err), TB_SKIP);
    cr_assert(strstr(err.msg, "64 and 128"), "%s", err.msg);
    c = att_case("flash", TB_FP16, 1, 8, 8, 1000, 128, 1, 1);
    cr_assert_eq(c.impl->supports(&c, &host, &err), TB_OK, "%s", err.msg);
    c = att_case("naive", TB_BF16, 1, 16, 16, 16384, 128, 0, 0);
    cr_assert_eq(c.impl->supports(&c, &host, &err), TB_SKIP);
    cr_assert(strstr(err.msg, "anchor"), "%s", err.msg);
    c = att_case("host", TB_FP32, 1, 16, 16, 4096, 128, 0, 0);
    cr_assert_eq(c.impl->supports(&c, &host, &err), TB_SKIP);
    cr_assert(strstr(err.msg, "2^31"), "%s", err.msg);
}

Test(attention_host, flops_and_memory_follow_the_conventions)
{
    tb_case c = att_case("flash", TB_BF16, 2, 16, 16, 4096, 128, 0, 0);
    const double fwd = 4.0 * 2 * 16 * 4096.0 * 4096 * 128;
    cr_assert_float_eq(tb_bench_attention.flops(&c), fwd, 1);
    c.axis[5] = 1; /* causal */
    cr_assert_float_eq(tb_bench_attention.flops(&c), fwd / 2, 1);
    c.axis[6] = 1; /* bwd */
    cr_assert_float_eq(tb_bench_attention.flops(&c), 2.5 * fwd / 2, 1);
    c.axis[6] = 2; /* fwdbwd */
    cr_assert_float_eq(tb_bench_attention.flops(&c), 3.5 * fwd / 2, 1);
    cr_assert(tb_bench_attention.flops_convention &&
              strstr(tb_bench_attention.flops_convention, "2.5"));

    /* a 128k-token sequence: flash's memory grows with S, the unfused path's with S^2 */
    tb_case f = att_case("flash", TB_BF16, 1, 16, 16, 131072, 128, 1, 0);
    tb_case u = att_case("unfused", TB_BF16, 1, 16, 16, 131072, 128, 1, 0);
    const double gib = 1024.0 * 1024 * 1024;
    const double tensors = 4.0 * 16 * 131072 * 128 * 2 + 4.0 * 16 * 131072;
    cr_assert_float_eq(tb_bench_attention.alloc_bytes(&f), tensors, 1);
    cr_assert_float_eq(tb_bench_attention.alloc_bytes(&u) - tensors,
                       16.0 * 131072 * 131072 * 2 + (32 << 20), 1);
    cr_assert_gt(tb_bench_attention.alloc_bytes(&u), 500 * gib);
}
