/* stats.h - summary statistics of a case's samples. */
#ifndef TB_STATS_H
#define TB_STATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t count;
    double median, min, max, mean;
    double stdev;     /* sample standard deviation (n - 1); 0 for one sample */
    double q1, q3;    /* quartiles, linear interpolation between order statistics */
    double p99;       /* 99th percentile, the same interpolation */
    double rel_stdev; /* stdev / mean; 0 when mean is 0 */
} tb_stats;

/* Summarizes n samples (n >= 1; the input is not modified). Returns 0, or -1 when n is 0 or
 * host memory runs out, leaving *out zeroed. */
int tb_stats_compute(const double *samples, size_t n, tb_stats *out);

/* The p-quantile (0 <= p <= 1) of n sorted values, linear interpolation. */
double tb_stats_quantile_sorted(const double *sorted, size_t n, double p);

#ifdef __cplusplus
}
#endif
#endif
