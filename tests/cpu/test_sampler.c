#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

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

/* slow:PCT: a host sample is PCT % longer than the work measured in it, whatever the work */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static tb_status spin_2ms(void *state, tb_err *err)
{
    (void)state;
    (void)err;
    double until = cpu_s() + 2e-3;
    while (cpu_s() < until)
        ;
    return TB_OK;
}

static double host_per_op(const tb_fault *fault)
{
    tb_impl impl = {.name = "spin", .kind = TB_KIND_HOST, .run = spin_2ms};
    tb_device dev = {.is_host = 1};
    tb_sampler s = {.impl = &impl, .device = &dev, .fault = fault};
    cr_assert_eq(tb_sampler_init(&s, NULL), TB_OK);
    double per_op = 0, spent = 0;
    cr_assert_eq(tb_sampler_sample(&s, &per_op, &spent, NULL), TB_OK);
    tb_sampler_destroy(&s);
    return per_op;
}

Test(sampler, slow_fault_stretches_every_host_sample_by_its_percentage)
{
    tb_fault none = {0}, slow100, slow300;
    cr_assert_eq(tb_fault_parse("slow:100", &slow100, NULL), TB_OK);
    cr_assert_eq(tb_fault_parse("slow:300", &slow300, NULL), TB_OK);
    double base = host_per_op(&none), x2 = host_per_op(&slow100), x4 = host_per_op(&slow300);
    /* CPU time: another job on the machine does not stretch a spin */
    cr_assert(base >= 2e-3 && base < 2.4e-3, "no fault: %g s per execution", base);
    cr_assert(x2 / base > 1.9 && x2 / base < 2.2, "slow:100: %g s vs %g s", x2, base);
    cr_assert(x4 / base > 3.8 && x4 / base < 4.4, "slow:300: %g s vs %g s", x4, base);
}
