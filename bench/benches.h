/* benches.h - the registry of benchmarks (a const table). */
#ifndef TB_BENCHES_H
#define TB_BENCHES_H

#include "../harness/bench.h"
#include "../harness/report.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const tb_bench tb_bench_membw;
extern const tb_bench tb_bench_matmul;
extern const tb_bench tb_bench_allreduce;

/* matmul's host reference: C = op(A) op(B) in a layout (kernels/matmul/mm_common.h), fp32,
 * accumulated in k order so it equals the plain triple loop bit for bit. */
void tb_matmul_host_reference(int layout, const float *A, const float *B, float *C, int M, int N,
                              int K);

/* The (M, N, K, layout) of a linear layer's fwd, dgrad and wgrad GEMMs at `tokens` tokens,
 * its in or out dimension divided by tp (column_parallel: out). */
void tb_matmul_linear_gemms(int64_t in, int64_t out, int column_parallel, int64_t tokens,
                            int64_t tp, int64_t gemms[3][4]);

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
