#include <criterion/criterion.h>
#include <math.h>

#include "stats.h"

Test(stats, five_known_samples)
{
    const double x[] = {5, 1, 4, 2, 3};
    tb_stats s;
    cr_assert_eq(tb_stats_compute(x, 5, &s), 0);
    cr_assert_eq(s.count, 5);
    cr_assert_float_eq(s.median, 3.0, 1e-12);
    cr_assert_float_eq(s.min, 1.0, 1e-12);
    cr_assert_float_eq(s.max, 5.0, 1e-12);
    cr_assert_float_eq(s.mean, 3.0, 1e-12);
    cr_assert_float_eq(s.stdev, sqrt(2.5), 1e-12); /* sample stdev, n - 1 */
    cr_assert_float_eq(s.q1, 2.0, 1e-12);
    cr_assert_float_eq(s.q3, 4.0, 1e-12);
    cr_assert_float_eq(s.p99, 4.96, 1e-12); /* position 0.99 * 4 = 3.96 between 4 and 5 */
    cr_assert_float_eq(s.rel_stdev, sqrt(2.5) / 3.0, 1e-12);
    cr_assert_float_eq(x[0], 5.0, 0, "the input is not reordered");
}

Test(stats, even_count_interpolates)
{
    const double x[] = {4, 1, 3, 2};
    tb_stats s;
    cr_assert_eq(tb_stats_compute(x, 4, &s), 0);
    cr_assert_float_eq(s.median, 2.5, 1e-12);
    cr_assert_float_eq(s.q1, 1.75, 1e-12);
    cr_assert_float_eq(s.q3, 3.25, 1e-12);
}

Test(stats, one_sample_has_no_spread)
{
    const double x[] = {7e-6};
    tb_stats s;
    cr_assert_eq(tb_stats_compute(x, 1, &s), 0);
    cr_assert_float_eq(s.median, 7e-6, 1e-18);
    cr_assert_float_eq(s.q1, 7e-6, 1e-18);
    cr_assert_float_eq(s.stdev, 0.0, 0);
    cr_assert_float_eq(s.rel_stdev, 0.0, 0);
}

Test(stats, no_samples_is_an_error)
{
    tb_stats s;
    cr_assert_eq(tb_stats_compute(NULL, 0, &s), -1);
    cr_assert_eq(s.count, 0);
}

Test(stats, rel_stdev_of_known_samples)
{
    const double x[] = {1.0, 1.01, 0.99, 1.02, 0.98};
    tb_stats s;
    tb_stats_compute(x, 5, &s);
    cr_assert_float_eq(s.rel_stdev, sqrt(0.001 / 4) / 1.0, 1e-9);
}
