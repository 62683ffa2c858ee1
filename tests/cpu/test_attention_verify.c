/* attention_verify.c: the bounds' values, the per-head and per-tile norms on constructed
 * outputs (which tile a bug lands in, chunks, NaN, an exact zero), the log-sum-exp check, and
 * how the measures of several outputs are recorded. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_verify.h"
#include "matmul/mm_storage.h"

Test(attention_verify, bounds_follow_the_rounding_stages)
{
    tb_attn_bounds b;
    const double u = ldexp(1, -8);
    tb_attn_bounds_of(TB_ATTN_ROUND_FLASH, TB_MM_BF16, 8192, 128, &b);
    for (int k = 0; k < TB_ATTN_OUTPUTS; k++)
        cr_assert_float_eq(b.norm[k], u * sqrt(6.0), 1e-12);
    cr_assert_float_eq(b.bound_scale, 8 * u, 1e-12);
    cr_assert_float_eq(b.rel_tol, 2 * u, 1e-12);
    /* 2 u32 (6 sqrt(1.016 S/3) + D) + 2^-16: 6.8e-5 at S = 8192, D = 128, far under the 64/S
     * a lost key tile moves lse by, and under the unfused path's 8u */
    const double lse = 2 * ldexp(1, -24) * (6 * sqrt((8192 + 128) / 3.0) + 128) + ldexp(1, -16);
    cr_assert_float_eq(b.lse, lse, 1e-12);
    cr_assert(b.lse > 6.7e-5 && b.lse < 6.9e-5, "%g", b.lse);
    cr_assert_lt(b.lse * 50, 64.0 / 8192);

    tb_attn_bounds_of(TB_ATTN_ROUND_UNFUSED, TB_MM_BF16, 8192, 128, &b);
    cr_assert_float_eq(b.norm[TB_ATTN_OUT_O], u * sqrt(21.0), 1e-12);
    cr_assert_float_eq(b.norm[TB_ATTN_OUT_DQ], u * sqrt(27.0), 1e-12);
    cr_assert_float_eq(b.norm[TB_ATTN_OUT_DK], u * sqrt(27.0), 1e-12);
    cr_assert_float_eq(b.norm[TB_ATTN_OUT_DV], u * sqrt(21.0), 1e-12);
    cr_assert_float_eq(b.lse, 8 * u, 1e-12);

    tb_attn_bounds_of(TB_ATTN_ROUND_NAIVE, TB_MM_F16, 100, 64, &b);
    cr_assert_float_eq(b.norm[TB_ATTN_OUT_DV], ldexp(1, -11) * sqrt(3.0), 1e-12);

    cr_assert_eq(tb_attn_tile_rows(TB_ATTN_OUT_O, 128), 128);
    cr_assert_eq(tb_attn_tile_rows(TB_ATTN_OUT_O, 64), 64);
    cr_assert_eq(tb_attn_tile_rows(TB_ATTN_OUT_DQ, 64), 32);
    cr_assert_eq(tb_attn_tile_rows(TB_ATTN_OUT_DK, 64), 64);
    cr_assert_eq(tb_attn_tile_rows(TB_ATTN_OUT_DV, 128), 64);
}

/* A head of S rows x D: ref all ones, out = ref + err on rows [e0, e1). */
static void head_rows(int S, int D, int e0, int e1, float err, float **out, float **ref)
{
    *out = malloc((size_t)S * D * sizeof **out);
    *ref = malloc((size_t)S * D * sizeof **ref);
    cr_assert(*out && *ref);
    for (int i = 0; i < S * D; i++) {
        (*ref)[i] = 1.0f;
        (*out)[i] = i / D >= e0 && i / D < e1 ? 1.0f + err : 1.0f;
    }
}

Test(attention_verify, a_tile_error_fails_its_tile_before_its_head)
{
    float *out, *ref;
    head_rows(130, 4, 64, 128, 0.1f, &out, &ref);
    tb_attn_norms m;
    tb_attn_norms_init(&m, 0.08, 64);
    tb_attn_norms_rows(&m, out, ref, 0, 130, 4);
    tb_attn_norms_end_head(&m);
    /* tiles: rows 0-63, 64-127 (all off by 0.1), 128-129 */
    cr_assert_eq(m.n_tiles, 3);
    cr_assert_eq(m.tiles_failed, 1);
    cr_assert_float_eq(m.tile_worst, 0.1, 1e-6);
    /* the head: 0.1 sqrt(64 / 130) = 0.070, under 0.08 */
    cr_assert_eq(m.n_heads, 1);
    cr_assert_eq(m.heads_failed, 0);
    cr_assert_float_eq(m.norm_worst, 0.1 * sqrt(64.0 / 130), 1e-6);

    /* the same rows fed in two chunks: the tile they cut is two units */
    tb_attn_norms_init(&m, 0.08, 64);
    tb_attn_norms_rows(&m, out, ref, 0, 100, 4);
    tb_attn_norms_rows(&m, out + 100 * 4, ref + 100 * 4, 100, 30, 4);
    tb_attn_norms_end_head(&m);
    cr_assert_eq(m.n_tiles, 4);
    cr_assert_eq(m.tiles_failed, 2);
    cr_assert_float_eq(m.norm_worst, 0.1 * sqrt(64.0 / 130), 1e-6);
    free(out);
    free(ref);
}

Test(attention_verify, nan_and_zero_references)
{
    float *out, *ref;
    head_rows(64, 4, 0, 0, 0.0f, &out, &ref);
    tb_attn_norms m;
    /* an unwritten (NaN) element fails its tile and head */
    out[17] = NAN;
    tb_attn_norms_init(&m, 0.01, 64);
    tb_attn_norms_rows(&m, out, ref, 0, 64, 4);
    tb_attn_norms_end_head(&m);
    cr_assert_eq(m.tiles_failed, 1);
    cr_assert_eq(m.heads_failed, 1);
    cr_assert(isinf(m.tile_worst));

    /* an exactly zero output: noise within 2^-20 RMS passes, more fails */
    for (int i = 0; i < 64 * 4; i++) {
        ref[i] = 0.0f;
        out[i] = (i & 1 ? 1 : -1) * 0.9f * ldexpf(1, -20);
    }
    tb_attn_norms_init(&m, 0.01, 64);
    tb_attn_norms_rows(&m, out, ref, 0, 64, 4);
    tb_attn_norms_end_head(&m);
    cr_assert_eq(m.tiles_failed, 0, "worst %g", m.tile_worst);
    out[3] = 1e-3f;
    tb_attn_norms_init(&m, 0.01, 64);
    tb_attn_norms_rows(&m, out, ref, 0, 64, 4);
    tb_attn_norms_end_head(&m);
    cr_assert_eq(m.tiles_failed, 1);
    free(out);
    free(ref);
}

Test(attention_verify, lse_rows)
{
    const float ref[4] = {-INFINITY, 1.0f, 2.0f, 3.0f};
    float out[4] = {-INFINITY, 1.0f, 2.00005f, 3.0f};
    tb_attn_lse_check m = {1e-4, 0, 0, 0};
    tb_attn_lse_rows(&m, out, ref, 4);
    cr_assert_eq(m.failed, 0);
    cr_assert_eq(m.n, 4);
    cr_assert(m.worst > 4e-5 && m.worst < 6e-5, "%g", m.worst);
    out[3] = NAN;
    out[1] = 1.01f;
    tb_attn_lse_rows(&m, out, ref, 4);
    cr_assert_eq(m.failed, 2);
    cr_assert(isinf(m.worst));
}

Test(attention_verify, record_reports_the_worst_output_by_its_bound)
{
    tb_attn_norms o, dk;
    tb_attn_norms_init(&o, 0.1, 64);
    tb_attn_norms_init(&dk, 0.2, 64);
    o.norm_worst = o.tile_worst = 0.01;
    o.n_heads = 2;
    o.n_tiles = 8;
    dk.norm_worst = 0.05;
    dk.tile_worst = 0.3;
    dk.n_heads = 1;
    dk.n_tiles = 4;
    dk.tiles_failed = 1;
    const tb_attn_norms *present[TB_ATTN_OUTPUTS] = {&o, NULL, &dk, NULL};
    tb_attn_lse_check lse = {1e-4, 2e-5, 100, 0};
    tb_verify v;
    memset(&v, 0, sizeof v);
    v.ok = 1;
    tb_attn_record(&v, present, &lse);
    cr_assert_not(v.ok);
    const tb_verify_measure *n = tb_verify_measure_find(&v, "norm");
    const tb_verify_measure *t = tb_verify_measure_find(&v, "tile");
    const tb_verify_measure *l = tb_verify_measure_find(&v, "lse");
    cr_assert(n && t && l);
    cr_assert_float_eq(n->worst, 0.05, 1e-12);
    cr_assert_float_eq(n->bound, 0.2, 1e-12);
    cr_assert_eq(n->n_units, 3);
    cr_assert_eq(n->n_failed, 0);
    cr_assert_float_eq(t->worst, 0.3, 1e-12);
    cr_assert_eq(t->n_units, 12);
    cr_assert_eq(t->n_failed, 1);
    cr_assert_str_eq(t->unit, "CTA tile");
    cr_assert_eq(l->n_units, 100);
    cr_assert_str_eq(l->unit, "row");
}
