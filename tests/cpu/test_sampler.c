#include <criterion/criterion.h>
#include <string.h>

#include "sampler.h"

static long sum(const long *v, long n)
{
    long s = 0;
    for (long i = 0; i < n; i++)
        s += v[i];
    return s;
}

Test(sampler, chunk_plan_never_exceeds_the_chunk_and_covers_the_batch)
{
    long sizes[200];
    for (long batch = 1; batch <= TB_MAX_BATCH; batch++) {
        long n = tb_chunk_plan(batch, TB_CHUNK_MAX, sizes, 200);
        cr_assert_eq(n, (batch + TB_CHUNK_MAX - 1) / TB_CHUNK_MAX, "batch %ld", batch);
        cr_assert_leq(n, 200);
        cr_assert_eq(sum(sizes, n), batch, "batch %ld", batch);
        for (long i = 0; i < n; i++) {
            cr_assert_leq(sizes[i], TB_CHUNK_MAX, "batch %ld chunk %ld", batch, i);
            cr_assert_geq(sizes[i], 1);
            cr_assert_leq(sizes[0] - sizes[i], 1, "even chunks, batch %ld", batch);
        }
    }
}

Test(sampler, chunk_plan_examples)
{
    long sizes[8] = {0};
    cr_assert_eq(tb_chunk_plan(64, 64, sizes, 8), 1);
    cr_assert_eq(sizes[0], 64);
    cr_assert_eq(tb_chunk_plan(65, 64, sizes, 8), 2);
    cr_assert_eq(sizes[0], 33);
    cr_assert_eq(sizes[1], 32);
    cr_assert_eq(tb_chunk_plan(200, 64, sizes, 8), 4);
    long want[] = {50, 50, 50, 50};
    cr_assert_arr_eq(sizes, want, sizeof want);
    /* the count is returned in full even where cap cuts the sizes short */
    memset(sizes, 0, sizeof sizes);
    cr_assert_eq(tb_chunk_plan(10000, 64, sizes, 2), 157);
    cr_assert_eq(sizes[2], 0, "nothing past cap");
    cr_assert_eq(tb_chunk_plan(0, 64, sizes, 8), 0);
    cr_assert_eq(tb_chunk_plan(5, 0, sizes, 8), 0);
}

Test(sampler, method_names_what_ran)
{
    cr_assert_str_eq(tb_timing_method_name(tb_timing_method_for(1, 0, 0, 100)), "host");
    cr_assert_str_eq(tb_timing_method_name(tb_timing_method_for(0, 1, 0, 1)), "cold");
    cr_assert_str_eq(tb_timing_method_name(tb_timing_method_for(0, 0, 1, 5000)), "graph");
    cr_assert_str_eq(tb_timing_method_name(tb_timing_method_for(0, 0, 0, 20)), "batch");
    cr_assert_str_eq(tb_timing_method_name(tb_timing_method_for(0, 0, 0, TB_CHUNK_MAX)),
                     "batch");
    /* a batch larger than one chunk, without a graph (capture failed) */
    cr_assert_str_eq(tb_timing_method_name(tb_timing_method_for(0, 0, 0, TB_CHUNK_MAX + 1)),
                     "chunked");
    cr_assert_str_eq(tb_timing_method_name(tb_timing_method_for(0, 0, 0, TB_MAX_BATCH)),
                     "chunked");
}
