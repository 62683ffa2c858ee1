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

/* Per-iteration statistics of a collective (nccl-tests' -I): operations timed one at a time,
 * and, where the ranks' own times are known, which rank was slowest most often. */
typedef struct {
    int n;                    /* operations timed */
    double min, max, p99;     /* seconds per operation */
    double cv;                /* coefficient of variation: stdev / mean */
    int ranks;                /* ranks with times of their own (0: unknown) */
    int straggler;            /* the rank slowest in most operations (ties: the lowest); -1 */
    int straggler_count;      /* in how many of the n operations it was the slowest */
    double rank_min, rank_mean, rank_max; /* each rank's mean time, then min/mean/max over
                                           * ranks (NAN when unknown) */
} tb_iter_stats;

/* Fills out from n operation times op_s[i] and, when ranks > 0, every rank's time of each
 * operation rank_s[i * ranks + q]. Returns 0, or -1 when n is 0 or memory runs out. */
int tb_iter_stats_compute(const double *op_s, const double *rank_s, int n, int ranks,
                          tb_iter_stats *out);

/* The p-quantile (0 <= p <= 1) of n sorted values, linear interpolation. */
double tb_stats_quantile_sorted(const double *sorted, size_t n, double p);

#ifdef __cplusplus
}
#endif
#endif
