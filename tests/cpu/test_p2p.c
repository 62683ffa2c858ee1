#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "p2p.h"

Test(p2p, the_pattern_is_per_sender_and_never_the_poison)
{
    int differ = 0;
    for (uint64_t i = 0; i < 4096; i++) {
        uint32_t a = tb_p2p_word(1, 0, i), b = tb_p2p_word(1, 1, i);
        cr_assert_neq(a, 0u);
        cr_assert_neq(a, 0xffffffffu);
        differ += a != b;
    }
    cr_assert_gt(differ, 4000, "a copy from the wrong peer must not pass");
}

Test(p2p, check_counts_every_wrong_word)
{
    enum { N = 1000 };
    uint32_t w[N];
    for (int i = 0; i < N; i++)
        w[i] = tb_p2p_word(7, 2, (uint64_t)i);
    int64_t first;
    cr_assert_eq(tb_p2p_check(w, N, 7, 2, &first), 0);
    cr_assert_eq(first, -1);
    w[500] ^= 1;
    w[999] = 0xffffffffu; /* the tail never written */
    cr_assert_eq(tb_p2p_check(w, N, 7, 2, &first), 2);
    cr_assert_eq(first, 500);
    cr_assert_eq(tb_p2p_check(w, N, 7, 3, &first), N, "from another sender: all wrong");
}

Test(p2p, figures_from_samples_use_gb_1e9_and_the_median)
{
    tb_p2p_cell c;
    memset(&c, 0, sizeof c);
    c.op = TB_P2P_CE;
    c.bytes = 2e9;
    double s[5] = {0.5, 0.4, 1.0, 0.45, 0.42}; /* median 0.45 s */
    cr_assert_eq(tb_p2p_figures(&c, s, 5, 0), 0);
    cr_assert_float_eq(c.stats.median, 0.45, 1e-12);
    cr_assert_float_eq(c.gbps, 2e9 / 0.45 / 1e9, 1e-9);
    cr_assert(isnan(c.latency_us));
    memset(&c, 0, sizeof c);
    c.op = TB_P2P_LATENCY;
    double l[3] = {2e-3, 2e-3, 4e-3}; /* 1000 round trips in 2 ms: 1 us one way */
    cr_assert_eq(tb_p2p_figures(&c, l, 3, 1000), 0);
    cr_assert_float_eq(c.latency_us, 1.0, 1e-9);
    cr_assert(isnan(c.gbps));
    cr_assert_eq(tb_p2p_figures(&c, l, 0, 1000), -1);
}

static void host_devices(tb_device *d, int n)
{
    for (int i = 0; i < n; i++) {
        tb_device_host(&d[i]);
        d[i].ordinal = i;
    }
}

static tb_p2p_opts small_opts(const tb_fault *f)
{
    tb_p2p_opts o;
    memset(&o, 0, sizeof o);
    o.bytes = 1 << 20;
    o.rule = (tb_stop_rule){5, 0.02, INFINITY, 5.0};
    o.seed = 3;
    o.fault = f;
    return o;
}

Test(p2p, host_matrix_measures_and_verifies_every_ordered_pair)
{
    tb_device d[3];
    host_devices(d, 3);
    tb_p2p_opts o = small_opts(NULL);
    tb_p2p_cell *cells;
    size_t n;
    tb_err err;
    cr_assert_eq(tb_p2p_host_matrix(d, 3, &o, &cells, &n, &err), TB_OK, "%s", err.msg);
    cr_assert_eq(n, 6 + 3, "6 ordered pairs one way, 3 pairs both ways");
    int seen[3][3] = {{0}};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(cells[i].status, TB_OK, "%d->%d: %s", cells[i].src, cells[i].dst,
                     cells[i].reason);
        cr_assert_eq(cells[i].n_wrong, 0);
        cr_assert_eq(cells[i].n_checked, (int64_t)(1 << 18) * (cells[i].bidir ? 2 : 1));
        cr_assert_float_eq(cells[i].bytes, (double)(1 << 20) * (cells[i].bidir ? 2 : 1), 0);
        cr_assert_gt(cells[i].gbps, 0);
        cr_assert_geq(cells[i].stats.count, 5);
        if (!cells[i].bidir)
            seen[cells[i].src][cells[i].dst]++;
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            cr_assert_eq(seen[a][b], a != b, "%d->%d", a, b);
    free(cells);
}

Test(p2p, slow_device_slows_its_links_through_the_sampler)
{
    tb_device d[3];
    host_devices(d, 3);
    tb_fault f;
    tb_err err;
    cr_assert_eq(tb_fault_parse("slow-device:1", &f, &err), TB_OK);
    tb_p2p_opts o = small_opts(&f);
    tb_p2p_cell *cells;
    size_t n;
    cr_assert_eq(tb_p2p_host_matrix(d, 3, &o, &cells, &n, &err), TB_OK, "%s", err.msg);
    double from1 = 0, others = 0;
    for (size_t i = 0; i < n; i++) {
        if (cells[i].bidir)
            continue;
        if (cells[i].src == 1)
            from1 = fmax(from1, cells[i].stats.median);
        else if (others == 0 || cells[i].stats.median < others)
            others = cells[i].stats.median;
    }
    /* exactly 2x of the measured work, in CPU time: at least 1.5x allowing for noise */
    cr_assert_gt(from1, 1.5 * others, "device 1's copies %g s, others %g s", from1, others);
    free(cells);
}
