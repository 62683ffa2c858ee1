/* benches.h - the registry of benchmarks (a const table). */
#ifndef TB_BENCHES_H
#define TB_BENCHES_H

#include "../harness/bench.h"
#include "../harness/report.h"
#include "../kernels/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const tb_bench tb_bench_membw;
extern const tb_bench tb_bench_matmul;
extern const tb_bench tb_bench_attention;
extern const tb_bench tb_bench_allreduce;
extern const tb_bench tb_bench_allgather;
extern const tb_bench tb_bench_reducescatter;
extern const tb_bench tb_bench_alltoall;
extern const tb_bench tb_bench_broadcast;
extern const tb_bench tb_bench_sendrecv;

/* matmul's host reference: C = op(A) op(B) in a layout (kernels/matmul/mm_common.h), fp32,
 * accumulated in k order so it equals the plain triple loop bit for bit. */
void tb_matmul_host_reference(int layout, const float *A, const float *B, float *C, int M, int N,
                              int K);

/* The (M, N, K, layout) of a linear layer's fwd, dgrad and wgrad GEMMs at `tokens` tokens,
 * its in or out dimension divided by tp (column_parallel: out). */
void tb_matmul_linear_gemms(int64_t in, int64_t out, int column_parallel, int64_t tokens,
                            int64_t tp, int64_t gemms[3][4]);

/* attention on the host (attention_host.c), fp32 arrays in the layouts of
 * kernels/attention/attn_common.h. The naive functions are the reference (sh->storage is
 * ignored): materialized rows, double accumulation, and the bounds verification scales its
 * tolerances by (P |V|; for the backward A = P (|dP| + sum |dO o O|) against |K|, |Q|, and
 * P |dO|); any bound pointer may be NULL. The flash functions run the kernels' tiles and
 * online softmax in fp32 and round where the kernels round to sh->storage (TB_MM_F32: not at
 * all; the inputs must already hold values of that type), committing `bug` on purpose. Each
 * returns -1 when out of memory, else 0. */
typedef enum {
    TB_ATTN_BUG_NONE,
    TB_ATTN_BUG_DROP_TILE, /* one CTA skips one of its tiles */
    TB_ATTN_BUG_STALE_V,   /* one CTA reads the previous key tile's V for one of its tiles */
    TB_ATTN_BUG_SCALE      /* the softmax scale is 2 % off everywhere */
} tb_attn_bug;
int tb_attn_host_naive_fwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, float *O, float *lse, float *Oabs);
int tb_attn_host_naive_bwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, const float *O, const float *dO, float *dQ, float *dK,
                           float *dV, float *dQabs, float *dKabs, float *dVabs);
void tb_attn_host_rowdot(const tb_attn_shape *sh, const float *dO, const float *O, float *Drow,
                         float *Dabs);
int tb_attn_host_flash_fwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, float *O, float *lse, tb_attn_bug bug);
int tb_attn_host_flash_bwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, const float *O, const float *lse, const float *dO,
                           float *dQ, float *dK, float *dV, tb_attn_bug bug);

/* Every benchmark, in the order `list` shows and the default suite runs them; NULL-ended. */
extern const tb_bench *const tb_benches[];

/* The columns of report's headline table (headline.c). */
extern const tb_headline_col tb_headline_cols[];
extern const int tb_headline_ncols;

/* The benchmark named name, or NULL. */
const tb_bench *tb_bench_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
