#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tb_stats_quantile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

static void mean_stdev(const double *x, size_t n, double *mean, double *stdev)
{
    double m = 0, m2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - m;
        m += d / (double)(i + 1);
        m2 += d * (x[i] - m);
    }
    *mean = m;
    *stdev = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
}

int tb_stats_compute(const double *samples, size_t n, tb_stats *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -1;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return -1;
    memcpy(s, samples, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    out->count = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = tb_stats_quantile_sorted(s, n, 0.5);
    out->q1 = tb_stats_quantile_sorted(s, n, 0.25);
    out->q3 = tb_stats_quantile_sorted(s, n, 0.75);
    out->p99 = tb_stats_quantile_sorted(s, n, 0.99);
    mean_stdev(samples, n, &out->mean, &out->stdev);
    out->rel_stdev = out->mean != 0.0 ? out->stdev / fabs(out->mean) : 0.0;
    free(s);
    return 0;
}

int tb_iter_stats_compute(const double *op_s, const double *rank_s, int n, int ranks,
                          tb_iter_stats *out)
{
    memset(out, 0, sizeof *out);
    out->straggler = -1;
    out->rank_min = out->rank_mean = out->rank_max = NAN;
    tb_stats st;
    if (n < 1 || tb_stats_compute(op_s, (size_t)n, &st))
        return -1;
    out->n = n;
    out->min = st.min;
    out->max = st.max;
    out->p99 = st.p99;
    out->cv = st.rel_stdev;
    if (ranks < 1 || !rank_s)
        return 0;
    int *slowest = calloc((size_t)ranks, sizeof *slowest);
    double *sum = calloc((size_t)ranks, sizeof *sum);
    if (!slowest || !sum) {
        free(slowest);
        free(sum);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const double *t = rank_s + (size_t)i * (size_t)ranks;
        int worst = 0;
        for (int q = 0; q < ranks; q++) {
            sum[q] += t[q];
            if (t[q] > t[worst])
                worst = q;
        }
        slowest[worst]++;
    }
    out->ranks = ranks;
    out->straggler = 0;
    double total = 0;
    out->rank_min = INFINITY;
    out->rank_max = -INFINITY;
    for (int q = 0; q < ranks; q++) {
        if (slowest[q] > slowest[out->straggler])
            out->straggler = q;
        double mean = sum[q] / n;
        total += mean;
        out->rank_min = mean < out->rank_min ? mean : out->rank_min;
        out->rank_max = mean > out->rank_max ? mean : out->rank_max;
    }
    out->straggler_count = slowest[out->straggler];
    out->rank_mean = total / ranks;
    free(slowest);
    free(sum);
    return 0;
}
