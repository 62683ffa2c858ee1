#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "tb_random.h"

Test(random, mix64_is_splitmix64)
{
    /* splitmix64's first output from state 0 */
    cr_assert_eq(tb_mix64(0), 0xE220A8397B1DCDAFull);
}

Test(random, deterministic_and_seed_dependent)
{
    cr_assert_eq(tb_rand_normal(7, 12345), tb_rand_normal(7, 12345));
    int same = 0;
    for (uint64_t i = 0; i < 1000; i++)
        same += tb_rand_normal(7, i) == tb_rand_normal(8, i);
    cr_assert_lt(same, 20, "%d of 1000 equal across seeds", same);
}

Test(random, values_are_an_even_integer_times_the_scale)
{
    /* (float)even_integer * scale, both steps correctly rounded: the host regenerates the
     * device's bits exactly. Recompute each value from its integer and compare the bits. */
    for (uint64_t i = 0; i < 10000; i++) {
        float x = tb_rand_normal(3, i);
        double k = nearbyint((double)x / (double)TB_RAND_NORMAL_SCALE);
        cr_assert_eq(fmod(k, 2.0), 0.0, "element %llu: %g is not even", (unsigned long long)i, k);
        cr_assert_leq(fabs(k), 524280.0);
        float again = (float)k * TB_RAND_NORMAL_SCALE;
        cr_assert_eq(memcmp(&again, &x, sizeof x), 0, "element %llu: %a vs %a",
                     (unsigned long long)i, (double)again, (double)x);
    }
}

Test(random, approximately_standard_normal)
{
    const int n = 1000000;
    double sum = 0, sum2 = 0, maxabs = 0;
    int within1 = 0;
    for (int i = 0; i < n; i++) {
        double x = tb_rand_normal(42, (uint64_t)i);
        sum += x;
        sum2 += x * x;
        within1 += fabs(x) < 1.0;
        maxabs = fabs(x) > maxabs ? fabs(x) : maxabs;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    cr_assert_lt(fabs(mean), 0.005, "mean %g", mean);
    cr_assert_lt(fabs(var - 1.0), 0.01, "variance %g", var);
    cr_assert_lt(fabs(within1 / (double)n - 0.6827), 0.01, "P(|x|<1) %g", within1 / (double)n);
    cr_assert_leq(maxabs, 4.9, "bounded at sqrt(24)");
    cr_assert_gt(maxabs, 3.5, "but has tails: %g", maxabs);
}

Test(random, streams_differ)
{
    cr_assert_neq(tb_rand_stream(1, 0), tb_rand_stream(1, 1));
    cr_assert_neq(tb_rand_stream(1, 0), tb_rand_stream(2, 0));
}
