/* benches.h - the registry of benchmarks (a const table). */
#ifndef TB_BENCHES_H
#define TB_BENCHES_H

#include "../harness/bench.h"
#include "../harness/report.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const tb_bench tb_bench_membw;

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
