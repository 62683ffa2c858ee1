/* attention_verify.h - attention's verification arithmetic, shared by the GPU and the host
 * paths of bench/attention.c so that both hold every output to the same bounds: the
 * element-wise tolerance, the norm-wise bound per head and per CTA tile, and the log-sum-exp
 * tolerance. The derivations are in attention_verify.c. */
#ifndef TB_ATTENTION_VERIFY_H
#define TB_ATTENTION_VERIFY_H

#include <stdint.h>

#include "../harness/bench.h"

/* The outputs checked, in the order the measures report them. */
enum { TB_ATTN_OUT_O, TB_ATTN_OUT_DQ, TB_ATTN_OUT_DK, TB_ATTN_OUT_DV, TB_ATTN_OUTPUTS };

/* Whose roundings an output carries (the host implementation rounds as flash does). */
typedef enum { TB_ATTN_ROUND_UNFUSED, TB_ATTN_ROUND_NAIVE, TB_ATTN_ROUND_FLASH } tb_attn_rounding;

typedef struct {
    double abs_tol, rel_tol, bound_scale; /* element-wise: abs + rel |ref| + scale bound_i */
    double norm[TB_ATTN_OUTPUTS];         /* ||out - ref|| / ||ref|| per head and per tile */
    double lse;                           /* |lse - ref| per row */
} tb_attn_bounds;

/* The bounds for outputs of `storage` (TB_MM_F32 for the host's fp32 path) rounded as `r`
 * does, at sequence S and head dim D. */
void tb_attn_bounds_of(tb_attn_rounding r, int storage, int S, int D, tb_attn_bounds *b);

/* The rows of one output a tile unit spans: the rows one CTA owns (O: a forward CTA's query
 * tile of fwd_rows rows; dK, dV: a backward CTA's key tile) or adds to at a time (dQ: one query
 * tile of a backward CTA). */
int tb_attn_tile_rows(int output, int fwd_rows);

/* Norm-wise errors of one output over its heads and tiles, fed a head's rows in order (all
 * of them, or chunks of them: a tile cut by a chunk's edge becomes two units). A unit passes
 * when ||out - ref|| <= max(bound ||ref||, 2^-20 sqrt(n)) over its n elements; its value is
 * ||out - ref|| over the larger of ||ref|| and 2^-20 sqrt(n) / bound. */
typedef struct {
    double bound;
    int tile_rows;
    double head_err2, head_ref2, tile_err2, tile_ref2;
    int64_t head_n, tile_n; /* elements in the head and the tile in progress */
    int64_t tile;      /* the tile in progress, -1: none */
    int head_open;
    double norm_worst, tile_worst;
    int64_t n_heads, heads_failed, n_tiles, tiles_failed;
} tb_attn_norms;

void tb_attn_norms_init(tb_attn_norms *m, double bound, int tile_rows);
/* Rows row0 .. row0+n-1 (head-relative) of the current head: out and ref hold n x D values. */
void tb_attn_norms_rows(tb_attn_norms *m, const float *out, const float *ref, int64_t row0,
                        int64_t n, int D);
/* Closes the current head (and its last tile). */
void tb_attn_norms_end_head(tb_attn_norms *m);

/* The log-sum-exp rows against their reference. */
typedef struct {
    double bound, worst;
    int64_t n, failed;
} tb_attn_lse_check;

void tb_attn_lse_rows(tb_attn_lse_check *m, const float *out, const float *ref, int64_t n);

/* The element-wise check of n values into v (n_wrong, max errors, n_checked); bound (the
 * absolute-term sum per element) may be NULL. */
void tb_attn_elements(const float *out, const float *ref, const float *bound, int64_t n,
                      const tb_attn_bounds *b, tb_verify *v);

/* Records the measures "norm" (per head), "tile" (per CTA tile) and "lse" (per row) in v from
 * the outputs present (norms[k] NULL: not checked); the worst unit of all outputs is the one
 * whose error is the largest fraction of its bound. */
void tb_attn_record(tb_verify *v, const tb_attn_norms *const norms[TB_ATTN_OUTPUTS],
                    const tb_attn_lse_check *lse);

#endif
