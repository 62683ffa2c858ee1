#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "cli_helper.h"
#include "compare.h"
#include "runner.h"

/* ---- Mann-Whitney U against tabled values ---- */

static double mwu_p(const double *x, size_t nx, const double *y, size_t ny, double *u)
{
    tb_mwu t = tb_mwu_test(x, nx, y, ny);
    if (u)
        *u = t.u;
    return t.p;
}

Test(compare, mann_whitney_u_matches_tabled_values)
{
    double u;
    /* 3 against 3, fully apart: U = 0, exact two-sided p = 2/20 */
    const double a3[] = {1, 2, 3}, b3[] = {4, 5, 6};
    cr_assert_float_eq(mwu_p(a3, 3, b3, 3, &u), 0.1, 1e-12);
    cr_assert_float_eq(u, 0, 0);
    cr_assert_float_eq(mwu_p(b3, 3, a3, 3, &u), 0.1, 1e-12, "symmetric");
    cr_assert_float_eq(u, 9, 0);
    /* 5 against 5: the table's two-sided 5 % critical value is U = 2.
     * U = 2: P(U <= 2) = 4/252; U = 3: 7/252 */
    const double x5[] = {1, 2, 3, 4, 5};
    const double u2[] = {3.5, 6, 7, 8, 9}; /* 3.5 below 4 and 5: U = 2 */
    const double u3[] = {2.5, 6, 7, 8, 9}; /* 2.5 below 3, 4 and 5: U = 3 */
    tb_mwu t = tb_mwu_test(u2, 5, x5, 5);
    cr_assert(t.exact);
    cr_assert_float_eq(fmin(t.u, 25 - t.u), 2, 0);
    cr_assert_float_eq(t.p, 8.0 / 252, 1e-12);
    cr_assert_lt(t.p, 0.05);
    t = tb_mwu_test(u3, 5, x5, 5);
    cr_assert_float_eq(fmin(t.u, 25 - t.u), 3, 0);
    cr_assert_float_eq(t.p, 14.0 / 252, 1e-12);
    cr_assert_gt(t.p, 0.05);
    /* 10 against 10: critical U = 23 (two-sided 5 %), 8 against 8: 13 */
    const int sizes[2] = {10, 8}, crit[2] = {23, 13};
    for (int s = 0; s < 2; s++) {
        int n = sizes[s];
        for (int target = crit[s]; target <= crit[s] + 1; target++) {
            /* y = 0.5, 1.5, ...; x placed so that exactly target pairs have x < y */
            double x[10], y[10];
            for (int i = 0; i < n; i++)
                y[i] = i + 0.5;
            int left = target;
            for (int i = 0; i < n; i++) {
                int below = left > n ? n : left; /* y values above this x */
                x[i] = n - below + 0.25 + 0.001 * i; /* distinct: no ties */
                left -= below;
            }
            t = tb_mwu_test(x, (size_t)n, y, (size_t)n);
            cr_assert(t.exact);
            cr_assert_float_eq(fmin(t.u, n * n - t.u), target, 0, "n %d U %g", n, t.u);
            if (target == crit[s])
                cr_assert_leq(t.p, 0.05, "n %d: U %d is significant (p %g)", n, target, t.p);
            else
                cr_assert_gt(t.p, 0.05, "n %d: U %d is not (p %g)", n, target, t.p);
        }
    }
    /* the smallest p a size allows */
    cr_assert_float_eq(tb_mwu_min_p(3, 3), 0.1, 1e-12);
    cr_assert_float_eq(tb_mwu_min_p(4, 4), 2.0 / 70, 1e-12);
    cr_assert_float_eq(tb_mwu_min_p(5, 5), 2.0 / 252, 1e-12);
    cr_assert_float_eq(tb_mwu_min_p(1, 1), 1, 0);
    /* ties and large samples: the normal approximation; all equal gives p = 1 */
    const double same[] = {2, 2, 2, 2};
    t = tb_mwu_test(same, 4, same, 4);
    cr_assert_not(t.exact);
    cr_assert_float_eq(t.p, 1, 0);
    double big_x[40], big_y[40];
    for (int i = 0; i < 40; i++) {
        big_x[i] = i;
        big_y[i] = i + 40; /* apart: U = 0, z = (800 - 0.5) / sqrt(40*40*81/12) */
    }
    t = tb_mwu_test(big_x, 40, big_y, 40);
    cr_assert_not(t.exact);
    cr_assert_float_eq(t.p, erfc((800 - 0.5) / sqrt(40.0 * 40 * 81 / 12) / sqrt(2.0)), 1e-15);
}

Test(compare, bootstrap_interval_is_seeded_and_covers_the_change)
{
    const double base[] = {1.00, 1.02, 0.99, 1.01, 1.03};
    double neu[5];
    for (int i = 0; i < 5; i++)
        neu[i] = base[(i + 2) % 5] * 1.25; /* 25 % more time: change 1/1.25 - 1 = -20 % */
    double lo, hi, lo2, hi2;
    cr_assert_eq(tb_bootstrap_change(base, 5, neu, 5, 2000, 0.95, 42, &lo, &hi), 0);
    cr_assert_eq(tb_bootstrap_change(base, 5, neu, 5, 2000, 0.95, 42, &lo2, &hi2), 0);
    cr_assert_float_eq(lo, lo2, 0, "the same seed, the same interval");
    cr_assert_float_eq(hi, hi2, 0);
    cr_assert_lt(lo, -0.2);
    cr_assert_gt(hi, -0.2);
    cr_assert_gt(lo, -0.25, "the interval spans the rounds' spread, not more: %g", lo);
    cr_assert_lt(hi, -0.15, "%g", hi);
    double wlo, whi;
    tb_bootstrap_change(base, 5, neu, 5, 2000, 0.99, 42, &wlo, &whi);
    cr_assert_leq(wlo, lo, "a higher level is no narrower");
    cr_assert_geq(whi, hi);
    /* with many rounds the interval's ends depend on the draws: the seed fixes them */
    double many_b[40], many_n[40];
    for (int i = 0; i < 40; i++) {
        many_b[i] = 1.0 + 0.013 * ((i * 17) % 40);
        many_n[i] = 1.1 + 0.011 * ((i * 23) % 40);
    }
    double a1, a2, b1, b2, c1, c2;
    tb_bootstrap_change(many_b, 40, many_n, 40, 2000, 0.95, 7, &a1, &a2);
    tb_bootstrap_change(many_b, 40, many_n, 40, 2000, 0.95, 7, &b1, &b2);
    tb_bootstrap_change(many_b, 40, many_n, 40, 2000, 0.95, 8, &c1, &c2);
    cr_assert(a1 == b1 && a2 == b2, "the same seed: [%g, %g] then [%g, %g]", a1, a2, b1, b2);
    cr_assert(a1 != c1 || a2 != c2, "another seed, other draws");
    /* the values, not their order, decide the interval (pooled rounds come in any order) */
    double rev_b[40], rev_n[40];
    for (int i = 0; i < 40; i++) {
        rev_b[i] = many_b[39 - i];
        rev_n[i] = many_n[(i * 7) % 40];
    }
    tb_bootstrap_change(rev_b, 40, rev_n, 40, 2000, 0.95, 7, &b1, &b2);
    cr_assert(a1 == b1 && a2 == b2, "reordered: [%g, %g], in order [%g, %g]", b1, b2, a1, a2);
    /* constant sides: the interval is the point */
    const double two[] = {2, 2, 2}, one[] = {1, 1, 1};
    tb_bootstrap_change(two, 3, one, 3, 500, 0.95, 1, &lo, &hi);
    cr_assert_float_eq(lo, 1, 1e-15);
    cr_assert_float_eq(hi, 1, 1e-15);
    /* refused: an empty side, a time that is not positive */
    cr_assert_eq(tb_bootstrap_change(two, 0, one, 3, 500, 0.95, 1, &lo, &hi), -1);
    const double bad[] = {1, 0, 1};
    cr_assert_eq(tb_bootstrap_change(two, 3, bad, 3, 500, 0.95, 1, &lo, &hi), -1);
}

/* The interval's ends from two sides' median distributions, each given as values with
 * probabilities: the smallest changes whose cumulative probability reaches the tails. */
static void interval_of(const double *vb, const double *pb, int nb, const double *vn,
                        const double *pn, int nn, double level, double *lo, double *hi)
{
    double ch[625], pr[625];
    int n = 0;
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < nn; j++) {
            ch[n] = vb[i] / vn[j] - 1;
            pr[n++] = pb[i] * pn[j];
        }
    for (int i = 1; i < n; i++) /* insertion sort by change */
        for (int k = i; k > 0 && ch[k - 1] > ch[k]; k--) {
            double t = ch[k];
            ch[k] = ch[k - 1];
            ch[k - 1] = t;
            t = pr[k];
            pr[k] = pr[k - 1];
            pr[k - 1] = t;
        }
    double tail = (1 - level) / 2, cum = 0;
    int have = 0;
    for (int i = 0; i < n; i++) {
        cum += pr[i];
        if (!have && cum >= tail - 1e-12) {
            *lo = ch[i];
            have = 1;
        }
        if (cum >= 1 - tail - 1e-12) {
            *hi = ch[i];
            return;
        }
    }
}

/* A side's median distribution by brute force: every one of the 5^5 resamples of 5 values. */
static void enumerate_medians(const double *v, double *vals, double *prob)
{
    for (int i = 0; i < 5; i++) {
        vals[i] = v[i];
        prob[i] = 0;
    }
    for (int t = 0; t < 3125; t++) {
        double d[5];
        for (int j = 0, x = t; j < 5; j++, x /= 5)
            d[j] = v[x % 5];
        for (int i = 1; i < 5; i++)
            for (int k = i; k > 0 && d[k - 1] > d[k]; k--) {
                double tmp = d[k];
                d[k] = d[k - 1];
                d[k - 1] = tmp;
            }
        for (int i = 0; i < 5; i++)
            if (vals[i] == d[2]) {
                prob[i] += 1.0 / 3125;
                break;
            }
    }
}

/* Odd sides take the exact bootstrap distribution of the median: it equals the distribution
 * over every possible resample (enumerated for five a side), and agrees with resampling many
 * times (even sides, which resample: the same data with each value twice). */
Test(compare, exact_bootstrap_is_the_limit_of_resampling)
{
    const double b5[] = {1.00, 1.31, 0.97, 1.04, 1.08}, n5[] = {1.22, 1.61, 1.19, 1.26, 1.24};
    double vb[5], pb[5], vn[5], pn[5], elo = 0, ehi = 0, xlo, xhi;
    enumerate_medians(b5, vb, pb);
    enumerate_medians(n5, vn, pn);
    for (int level = 0; level < 3; level++) {
        double lv = level == 0 ? 0.95 : level == 1 ? 0.99 : 0.80;
        interval_of(vb, pb, 5, vn, pn, 5, lv, &elo, &ehi);
        cr_assert_eq(tb_bootstrap_change(b5, 5, n5, 5, 2000, lv, 1, &xlo, &xhi), 0);
        cr_assert(xlo == elo && xhi == ehi, "level %g: exact [%g, %g], enumerated [%g, %g]", lv,
                  xlo, xhi, elo, ehi);
    }

    const double base[] = {1.00, 1.31, 0.97, 1.02, 1.08, 0.99, 1.04};
    const double neu[] = {1.22, 1.26, 1.19, 1.61, 1.24, 1.20, 1.23};
    double lo, hi;
    cr_assert_eq(tb_bootstrap_change(base, 7, neu, 7, 2000, 0.95, 1, &lo, &hi), 0);
    /* the same distribution by brute force: every resample of 7 from 7 weighted by its
     * multinomial count is too many; 400,000 seeded resamples of the even-sized twin (each
     * value twice: the same empirical distribution, medians of 14 draws) stand in for it, with
     * a looser tolerance since a median of 14 differs from a median of 7 */
    double b2[14], n2[14];
    for (int i = 0; i < 14; i++) {
        b2[i] = base[i % 7];
        n2[i] = neu[i % 7];
    }
    double rlo, rhi;
    cr_assert_eq(tb_bootstrap_change(b2, 14, n2, 14, 400000, 0.95, 3, &rlo, &rhi), 0);
    cr_assert(lo < -0.1 && hi > lo, "[%g, %g]", lo, hi);
    cr_assert(fabs(lo - rlo) < 0.06 && fabs(hi - rhi) < 0.06, "exact [%g, %g], resampled [%g, %g]",
              lo, hi, rlo, rhi);
    /* one outlying round (1.31 in BASE, 1.61 in NEW) does not reach the 95 % interval's ends:
     * with seven a side a resample's median is an extreme round 1.0 % of the time */
    cr_assert_lt(hi, 1.31 / 1.19 - 1, "%g", hi);
    cr_assert_gt(lo, 0.97 / 1.61 - 1, "%g", lo);
    double w1, w2;
    tb_bootstrap_change(base, 7, neu, 7, 2000, 0.99, 1, &w1, &w2);
    cr_assert(w1 <= lo && w2 >= hi, "a higher level is no narrower");
}

/* ---- the verdict rule ---- */

static tb_verdict gate(const double *b, size_t nb, const double *n, size_t nn,
                       tb_gate_figures *f, char *reason)
{
    tb_gate_opts o = TB_GATE_OPTS_DEFAULT;
    return tb_gate_verdict(b, nb, n, nn, &o, 0, f, reason, 256);
}

Test(compare, verdict_rule)
{
    tb_gate_figures f;
    char why[256];
    const double base[] = {1.000, 1.004, 0.998, 1.002, 1.001};
    double slow[5], fast[5], same[5], noisy[5], near[5];
    const double spread[] = {0.7, 1.3, 1.0, 0.8, 1.25};
    for (int i = 0; i < 5; i++) {
        slow[i] = base[i] * 2.0;
        fast[i] = base[i] / 1.1;
        same[i] = base[(i + 1) % 5] * 1.0005;
        noisy[i] = spread[i] * 1.05;
        near[i] = base[i] * 1.01; /* 1 % slower: significant, but within the threshold */
    }
    cr_assert_eq(gate(base, 5, slow, 5, &f, why), TB_V_SLOWER, "%s", why);
    cr_assert_float_eq(f.p, 2.0 / 252, 1e-12);
    cr_assert_lt(f.hi, -0.02);
    cr_assert_float_eq(f.change, 1.0 / 2.0 - 1, 1e-12);
    cr_assert_eq(gate(base, 5, fast, 5, &f, why), TB_V_FASTER, "%s", why);
    cr_assert_gt(f.lo, 0.02);
    cr_assert_eq(gate(base, 5, same, 5, &f, why), TB_V_SAME, "%s", why);
    cr_assert(f.lo >= -0.02 && f.hi <= 0.02);
    cr_assert_eq(gate(base, 5, near, 5, &f, why), TB_V_SAME, "%s", why);
    cr_assert_lt(f.p, 0.05, "a real 1 %% change below a 2 %% threshold is SAME");
    cr_assert_eq(gate(base, 5, noisy, 5, &f, why), TB_V_AMBIGUOUS, "%s", why);
    cr_assert(strstr(why, "straddles"), "%s", why);
    /* too few rounds: never SLOWER, whatever the change */
    cr_assert_eq(gate(base, 3, slow, 3, &f, why), TB_V_AMBIGUOUS);
    cr_assert(strstr(why, "too few rounds (3 and 3)"), "%s", why);
    cr_assert_eq(gate(base, 1, slow, 1, &f, why), TB_V_AMBIGUOUS);
    cr_assert(isnan(f.lo) && isnan(f.p));
    cr_assert_float_eq(f.change, -0.5, 1e-12, "the change is still shown");
    /* the interval beyond the threshold is not enough: the test must agree. One BASE round
     * above one NEW round (U = 1, p = 4/252): SLOWER at alpha 0.05, not at alpha 0.01 */
    const double b5[] = {1.0, 1.01, 1.02, 1.03, 1.51}, n5[] = {1.5, 1.52, 1.53, 1.54, 1.55};
    tb_gate_opts o = TB_GATE_OPTS_DEFAULT;
    o.threshold = 0.005;
    cr_assert_eq(tb_gate_verdict(b5, 5, n5, 5, &o, 0, &f, why, sizeof why), TB_V_SLOWER, "%s",
                 why);
    cr_assert_float_eq(f.p, 4.0 / 252, 1e-12);
    o.alpha = 0.01;
    cr_assert_eq(tb_gate_verdict(b5, 5, n5, 5, &o, 0, &f, why, sizeof why), TB_V_AMBIGUOUS,
                 "%s", why);
    cr_assert_lt(f.hi, -0.005, "the interval alone would say SLOWER: [%g, %g]", f.lo, f.hi);
    cr_assert(strstr(why, "p >= 0.01"), "%s", why);
    /* the former rule, kept to measure the gate against */
    cr_assert_eq(tb_gate_quartiles(1.0, 0.99, 1.01, 1.1, 1.09, 1.11, 0.02, &f, why, 256),
                 TB_V_SLOWER);
    cr_assert_eq(tb_gate_quartiles(1.0, 0.9, 1.2, 1.1, 1.0, 1.3, 0.02, &f, why, 256),
                 TB_V_AMBIGUOUS);
    cr_assert_eq(tb_gate_quartiles(1.01, 1.0, 1.02, 1.0, 0.99, 1.01, 0.02, &f, why, 256),
                 TB_V_SAME);
}

Test(compare, which_verdicts_fail)
{
    cr_assert(tb_verdict_fails(TB_V_SLOWER));
    cr_assert(tb_verdict_fails(TB_V_WRONG));
    cr_assert(tb_verdict_fails(TB_V_ERROR));
    cr_assert(tb_verdict_fails(TB_V_MISSING));
    cr_assert_not(tb_verdict_fails(TB_V_SAME));
    cr_assert_not(tb_verdict_fails(TB_V_FASTER));
    cr_assert_not(tb_verdict_fails(TB_V_AMBIGUOUS));
    cr_assert_not(tb_verdict_fails(TB_V_UNMEASURED));
}

Test(compare, context_differences)
{
    cJSON *a = cJSON_Parse("{\"driver\":\"570.86\",\"cublas\":\"13.1.0\",\"gpus\":[{\"name\":"
                           "\"NVIDIA H200\",\"power_limit_w\":700}],\"options\":{\"cold\":false}}");
    cJSON *b = cJSON_Parse("{\"driver\":\"575.51\",\"cublas\":\"13.1.0\",\"gpus\":[{\"name\":"
                           "\"NVIDIA H200\",\"power_limit_w\":600}],\"options\":{\"cold\":true}}");
    tb_ctx_diff d[16];
    int n = tb_compare_contexts(a, b, d, 16);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(d[0].what, "driver");
    cr_assert_str_eq(d[0].base, "570.86");
    cr_assert_str_eq(d[0].neu, "575.51");
    cr_assert_str_eq(d[1].what, "GPU 0 power_limit_w");
    cr_assert_str_eq(d[1].neu, "600");
    cr_assert_str_eq(d[2].what, "option cold");
    cr_assert_eq(tb_compare_contexts(a, a, d, 16), 0);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* ---- end to end: one run --host, then an altered copy ---- */

static char base_path[512], new_path[512];

/* Rewrites the run's file (the default rounds) as BASE and NEW. In both, every case gets rounds
 * within 0.4 % of its median and [q1, q3] equal to it (host timings are noisy; the verdict
 * logic is what is tested); in NEW host-copy 4M's times are 1.5x, host-add 1M is wrong,
 * host-add 4M is missing and the driver differs. host-copy 1M is the same on both sides. */
static void make_files(void)
{
    char run_path[512];
    tmp_path(run_path, sizeof run_path, "cmp_run.jsonl");
    tmp_path(base_path, sizeof base_path, "cmp_base.jsonl");
    tmp_path(new_path, sizeof new_path, "cmp_new.jsonl");
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--impl", "host-copy,host-add",
                            "--bytes", "1M,4M", "--min-time", "0.02", "--timeout", "0.5", "-q",
                            "-o", run_path, NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    for (int pass = 0; pass < 2; pass++) {
        FILE *in = fopen(run_path, "r"), *out = fopen(pass ? new_path : base_path, "w");
        static char line[1 << 16];
        int n = 0;
        while (fgets(line, sizeof line, in)) {
            cJSON *o = cJSON_Parse(line);
            if (n++ == 0) {
                if (pass)
                    cJSON_ReplaceItemInObject(o, "driver", cJSON_CreateString("999.1"));
            } else {
                const char *impl = cJSON_GetObjectItem(o, "impl")->valuestring;
                double bytes =
                    cJSON_GetObjectItem(cJSON_GetObjectItem(o, "axes"), "bytes")->valuedouble;
                /* tight rounds, the same on both sides but for host-copy 4M in NEW */
                int slower = pass && !strcmp(impl, "host-copy") && bytes == 4194304;
                cJSON *t = cJSON_GetObjectItem(o, "time_s");
                double med = cJSON_GetObjectItem(t, "median")->valuedouble * (slower ? 1.5 : 1);
                const char *k[] = {"median", "min", "max", "mean", "q1", "q3"};
                for (int i = 0; i < 6; i++)
                    cJSON_SetNumberValue(cJSON_GetObjectItem(t, k[i]), med);
                cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "rounds"), "median_s");
                cr_assert_eq(cJSON_GetArraySize(m), TB_DEFAULT_ROUNDS, "the default rounds");
                for (int i = 0; i < TB_DEFAULT_ROUNDS; i++)
                    cJSON_SetNumberValue(cJSON_GetArrayItem(m, i), med * (1 + 0.001 * i));
                if (pass && !strcmp(impl, "host-add") && bytes == 1048576) {
                    cJSON_ReplaceItemInObject(o, "status", cJSON_CreateString("wrong"));
                    cJSON_ReplaceItemInObject(o, "reason",
                                              cJSON_CreateString("7 of 262144 wrong"));
                } else if (pass && !strcmp(impl, "host-add") && bytes == 4194304) {
                    cJSON_Delete(o);
                    continue;
                }
            }
            char *s = cJSON_PrintUnformatted(o);
            fprintf(out, "%s\n", s);
            free(s);
            cJSON_Delete(o);
        }
        fclose(in);
        fclose(out);
    }
    remove(run_path);
}

/* The text table's line of a case (its impl and size), or NULL. */
static const char *line_of(const char *out, const char *impl, const char *size)
{
    static char line[1024];
    for (const char *p = out; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)(n < 1023 ? n : 1023), p);
        if (strstr(line, impl) && strstr(line, size))
            return line;
        p += n + (e ? 1 : 0);
    }
    return NULL;
}

Test(compare, altered_run_gives_slower_wrong_missing_and_the_driver, .init = make_files)
{
    cli_result *r = run_cli(NULL, "compare", base_path, new_path, NULL);
    cr_assert_eq(r->code, 1, "SLOWER, WRONG and MISSING fail: %s %s", r->out, r->err);
    cr_assert(strstr(r->out, "differs: driver: null -> 999.1"), "%s", r->out);
    cr_assert(strstr(r->out, "test: per-round medians; two-sided Mann-Whitney U"), "%s", r->out);
    const char *l = line_of(r->out, "host-copy", "bytes=4M");
    cr_assert_not_null(l, "%s", r->out);
    /* 1.5x the time: -33.3 %, an interval around it, the smallest p of 7 against 7 (2 / 3432) */
    cr_assert(strstr(l, "-33.3 %  [-33.5, -33.") && strstr(l, "  <0.001  ") &&
                  strstr(l, "  7/7  ") && strstr(l, "SLOWER"),
              "%s", l);
    l = line_of(r->out, "host-add", "bytes=1M");
    cr_assert(l && strstr(l, "WRONG") && strstr(l, "wrong in NEW: 7 of 262144 wrong"), "%s",
              r->out);
    l = line_of(r->out, "host-add", "bytes=4M");
    cr_assert(l && strstr(l, "MISSING") && strstr(l, "measured ok in BASE, absent from NEW"),
              "%s", r->out);
    l = line_of(r->out, "host-copy", "bytes=1M");
    cr_assert(l && strstr(l, "+0.0 %") && strstr(l, "[-0.3, +0.3] %") && strstr(l, "SAME"), "%s",
              r->out);
    cr_assert(strstr(r->out, "only in BASE (not measured ok there): 0"), "%s", r->out);
    cr_assert(strstr(r->out, "only in NEW: 0"), "%s", r->out);
    cr_assert(strstr(r->out, "summary: 1 SAME, 0 FASTER, 1 SLOWER, 0 AMBIGUOUS, 1 WRONG, 0 "
                             "ERROR, 1 MISSING, 0 UNMEASURED; geomean change: membw -18.35 %"),
              "%s", r->out);
    cr_assert(strstr(r->out, "verdict: FAIL (1 SLOWER, 1 WRONG, 1 MISSING in NEW)"), "%s",
              r->out);

    r = run_cli(NULL, "compare", base_path, new_path, "--format", "json", NULL);
    cr_assert_eq(r->code, 1);
    cJSON *o = cJSON_Parse(r->out);
    cr_assert_not_null(o, "%s", r->out);
    cJSON *sum = cJSON_GetObjectItem(o, "summary");
    cr_assert_float_eq(cJSON_GetObjectItem(sum, "SLOWER")->valuedouble, 1, 0);
    cr_assert_float_eq(cJSON_GetObjectItem(sum, "WRONG")->valuedouble, 1, 0);
    cr_assert_float_eq(cJSON_GetObjectItem(sum, "SAME")->valuedouble, 1, 0);
    cr_assert_float_eq(cJSON_GetObjectItem(sum, "MISSING")->valuedouble, 1, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(sum, "failed")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "only_in_base")), 0);
    cJSON *cases = cJSON_GetObjectItem(o, "cases");
    cr_assert_eq(cJSON_GetArraySize(cases), 4);
    cJSON *c;
    int seen_slower = 0;
    cJSON_ArrayForEach(c, cases)
    {
        if (strcmp(cJSON_GetObjectItem(c, "verdict")->valuestring, "SLOWER"))
            continue;
        seen_slower = 1;
        cr_assert_float_eq(cJSON_GetObjectItem(c, "p")->valuedouble, 2.0 / 3432, 1e-12);
        cr_assert_float_eq(cJSON_GetObjectItem(c, "base_rounds")->valuedouble, TB_DEFAULT_ROUNDS,
                           0);
        cJSON *iv = cJSON_GetObjectItem(c, "interval_pct");
        cr_assert(cJSON_GetArrayItem(iv, 1)->valuedouble < -30);
    }
    cr_assert(seen_slower);
    cJSON_Delete(o);

    r = run_cli(NULL, "compare", base_path, new_path, "--format", "csv", NULL);
    int lines = 0;
    for (const char *p = r->out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 5, "header and 4 cases: %s", r->out);
    cr_assert(strstr(r->out, ",MISSING,"), "%s", r->out);

    /* a threshold above the slowdown turns it into SAME; WRONG and MISSING still fail */
    r = run_cli(NULL, "compare", base_path, new_path, "--threshold", "50", NULL);
    cr_assert_eq(r->code, 1);
    cr_assert(strstr(r->out, "2 SAME, 0 FASTER, 0 SLOWER"), "%s", r->out);

    /* the former rule on the same files: the q1 = q3 = median case is SLOWER too */
    r = run_cli(NULL, "compare", base_path, new_path, "--method", "quartiles", NULL);
    cr_assert_eq(r->code, 1);
    cr_assert(strstr(r->out, "test: the former rule"), "%s", r->out);
    l = line_of(r->out, "host-copy", "bytes=4M");
    cr_assert(l && strstr(l, "SLOWER") && strstr(l, "[q1, q3] apart"), "%s", r->out);
}

Test(compare, a_file_against_itself_passes, .init = make_files)
{
    cli_result *r = run_cli(NULL, "compare", base_path, base_path, "--format", "md", NULL);
    cr_assert_eq(r->code, 0, "%s", r->err);
    cr_assert(strstr(r->out, "contexts: same driver"), "%s", r->out);
    cr_assert(strstr(r->out, "| membw host-copy fp32 bytes=1M | host |"), "%s", r->out);
    /* every change is 0 and p is 1; whether each case is SAME or AMBIGUOUS depends on how
     * far apart its host rounds fell, never SLOWER or FASTER */
    cr_assert(strstr(r->out, " 0 FASTER, 0 SLOWER,"), "%s", r->out);
    cr_assert(strstr(r->out, "geomean change: membw +0.00 %"), "%s", r->out);
    int p_one = 0;
    for (const char *q = r->out; (q = strstr(q, "| 1.000 |")); q++)
        p_one++;
    cr_assert_eq(p_one, 4, "p is 1 on every row: %s", r->out);
    cr_assert(strstr(r->out, "verdict: PASS"), "%s", r->out);
}

Test(compare, bad_input_exits_2)
{
    cli_result *r = run_cli(NULL, "compare", "only-one.jsonl", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "two result files"), "%s", r->err);
    r = run_cli(NULL, "compare", "a.jsonl", "b.jsonl", "c.jsonl", NULL);
    cr_assert_eq(r->code, 2, "three files need '--'");
    r = run_cli(NULL, "compare", "a.jsonl", "--", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "needs a file on each side of '--' (got 1 before, 0 after)"), "%s",
              r->err);
    r = run_cli(NULL, "compare", "a", "--", "b", "--", "c", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'--' is given twice"), "%s", r->err);
    r = run_cli(NULL, "compare", "a", "b", "--method", "ttest", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'ttest' is not one of rounds, quartiles"), "%s", r->err);
    r = run_cli(NULL, "compare", "/nonexistent/a.jsonl", "/nonexistent/b.jsonl", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "/nonexistent/a.jsonl"), "%s", r->err);
    r = run_cli(NULL, "compare", "a", "b", "--threshold", "x", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'x'"), "%s", r->err);
    r = run_cli(NULL, "compare", "a", "b", "--format", "xml", NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "'xml'"), "%s", r->err);

    char path[512];
    tmp_path(path, sizeof path, "schema2.jsonl");
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"type\":\"context\",\"schema\":\"trainbench/2\"}\n");
    fclose(f);
    r = run_cli(NULL, "compare", path, path, NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "schema 'trainbench/2' is not supported"), "%s", r->err);
    remove(path);
}

/* ---- the gate's failures and the several-files form, on written files ---- */

#define CTX "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"host\":\"h\"}\n"

/* A result line: size in MiB, status, time per round (t x (1 + 0.001 i), rounds of them; 0
 * rounds: a single-round row without the field). */
static void row_line(char *buf, size_t n, int mib, const char *status, double t, int rounds)
{
    char r[512] = "";
    if (rounds > 0) {
        size_t used = (size_t)snprintf(r, sizeof r, ",\"rounds\":{\"n\":%d,\"median_s\":[", rounds);
        for (int i = 0; i < rounds; i++)
            used += (size_t)snprintf(r + used, sizeof r - used, "%s%.9g", i ? "," : "",
                                     t * (1 + 0.001 * i));
        snprintf(r + used, sizeof r - used, "]}");
    }
    char times[160] = "\"time_s\":null,\"gbps\":null";
    if (t > 0)
        snprintf(times, sizeof times,
                 "\"time_s\":{\"median\":%.9g,\"q1\":%.9g,\"q3\":%.9g},\"gbps\":%.9g", t, t, t,
                 (double)(mib << 20) / t / 1e9);
    snprintf(buf, n,
             "{\"type\":\"result\",\"bench\":\"membw\",\"impl\":\"host-copy\",\"dtype\":\"fp32\","
             "\"axes\":{\"bytes\":%d},\"gpus\":[],\"device\":\"host\",\"status\":\"%s\","
             "\"reason\":%s,\"samples\":50,%s%s}\n",
             mib << 20, status, strcmp(status, "ok") ? "\"12 of 262144 wrong\"" : "null", times, r);
}

static char fa[512], fb[512], fc[512];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void gate_paths(void)
{
    tmp_path(fa, sizeof fa, "gate_a.jsonl");
    tmp_path(fb, sizeof fb, "gate_b.jsonl");
    tmp_path(fc, sizeof fc, "gate_c.jsonl");
}

static void gate_clean(void)
{
    remove(fa);
    remove(fb);
    remove(fc);
}

Test(compare, new_that_lost_every_case_fails_naming_them, .init = gate_paths, .fini = gate_clean)
{
    char text[4096] = CTX, l[1024];
    row_line(l, sizeof l, 1, "ok", 1e-3, 5);
    strcat(text, l);
    row_line(l, sizeof l, 4, "ok", 4e-3, 5);
    strcat(text, l);
    row_line(l, sizeof l, 16, "skipped", 0, 0);
    strcat(text, l);
    write_text(fa, text);
    write_text(fb, CTX);
    cli_result *r = run_cli(NULL, "compare", fa, fb, NULL);
    cr_assert_eq(r->code, 1, "%s %s", r->out, r->err);
    cr_assert(line_of(r->out, "bytes=1M", "MISSING"), "%s", r->out);
    cr_assert(line_of(r->out, "bytes=4M", "MISSING"), "%s", r->out);
    cr_assert(strstr(r->out, "only in BASE (not measured ok there): 1\n  membw host-copy fp32 "
                             "bytes=16M gpu host"),
              "a case BASE did not measure ok is listed, not failed: %s", r->out);
    cr_assert(strstr(r->out, "verdict: FAIL (2 MISSING in NEW)"), "%s", r->out);
}

Test(compare, a_wrong_row_of_new_fails_with_or_without_base, .init = gate_paths,
     .fini = gate_clean)
{
    char text[4096] = CTX, l[1024];
    row_line(l, sizeof l, 1, "wrong", 0, 0);
    strcat(text, l);
    write_text(fb, text);
    write_text(fa, CTX);
    cli_result *r = run_cli(NULL, "compare", fa, fb, NULL);
    cr_assert_eq(r->code, 1, "a NEW of only wrong rows fails: %s", r->out);
    cr_assert(line_of(r->out, "bytes=1M", "wrong in NEW: 12 of 262144 wrong"), "%s", r->out);
    cr_assert(strstr(r->out, "only in NEW: 0"), "%s", r->out);
    cr_assert(strstr(r->out, "verdict: FAIL (1 WRONG in NEW)"), "%s", r->out);
}

Test(compare, duplicates_the_worst_status_counts_and_ok_rounds_pool, .init = gate_paths,
     .fini = gate_clean)
{
    char base[4096] = CTX, neu[4096] = CTX, l[1024];
    row_line(l, sizeof l, 1, "ok", 1e-3, 5);
    strcat(base, l);
    row_line(l, sizeof l, 4, "ok", 4e-3, 5);
    strcat(base, l);
    row_line(l, sizeof l, 1, "ok", 1e-3, 5); /* 1M: ok, then wrong */
    strcat(neu, l);
    row_line(l, sizeof l, 1, "wrong", 0, 0);
    strcat(neu, l);
    row_line(l, sizeof l, 4, "ok", 4e-3, 5); /* 4M: twice ok */
    strcat(neu, l);
    strcat(neu, l);
    write_text(fa, base);
    write_text(fb, neu);
    cli_result *r = run_cli(NULL, "compare", fa, fb, NULL);
    cr_assert_eq(r->code, 1, "%s", r->out);
    cr_assert(line_of(r->out, "bytes=1M", "wrong in NEW (1 of 2 rows): 12 of 262144 wrong"),
              "%s", r->out);
    const char *x = line_of(r->out, "bytes=4M", "SAME");
    cr_assert(x && strstr(x, "5/10"), "both ok copies' rounds count: %s", r->out);
}

Test(compare, several_files_a_side_pool_their_rounds, .init = gate_paths, .fini = gate_clean)
{
    char text[4096] = CTX, l[1024];
    row_line(l, sizeof l, 1, "ok", 1e-3, 3);
    strcat(text, l);
    write_text(fa, text);
    write_text(fb, text);
    strcpy(text, CTX);
    row_line(l, sizeof l, 1, "ok", 2e-3, 3); /* twice the time */
    strcat(text, l);
    write_text(fc, text);
    /* one file a side: 3 rounds against 3 cannot reach p < 0.05 */
    cli_result *r = run_cli(NULL, "compare", fa, fc, NULL);
    cr_assert_eq(r->code, 0, "too few rounds is never SLOWER: %s", r->out);
    cr_assert(line_of(r->out, "AMBIGUOUS", "too few rounds (3 and 3): the test cannot reach p "
                                           "< 0.05"),
              "%s", r->out);
    /* two BASE files: 6 rounds against 3 can */
    r = run_cli(NULL, "compare", fa, fb, "--", fc, NULL);
    cr_assert_eq(r->code, 1, "%s", r->out);
    const char *x = line_of(r->out, "bytes=1M", "SLOWER");
    cr_assert(x && strstr(x, "6/3") && strstr(x, "-50.0 %"), "%s", r->out);
    cr_assert(strstr(r->out, "BASE ") && strstr(r->out, "gate_b.jsonl"), "%s", r->out);
}

Test(compare, old_single_round_files_are_one_round_each, .init = gate_paths, .fini = gate_clean)
{
    char text[4096] = CTX, l[1024];
    row_line(l, sizeof l, 1, "ok", 1e-3, 0);
    strcat(text, l);
    write_text(fa, text);
    strcpy(text, CTX);
    row_line(l, sizeof l, 1, "ok", 3e-3, 0);
    strcat(text, l);
    write_text(fb, text);
    cli_result *r = run_cli(NULL, "compare", fa, fb, NULL);
    cr_assert_eq(r->code, 0, "%s", r->out);
    const char *x = line_of(r->out, "bytes=1M", "AMBIGUOUS");
    cr_assert(x && strstr(x, "1/1") && strstr(x, "-66.7 %") && strstr(x, "too few rounds (1 and 1)"),
              "%s", r->out);
}

Test(compare, a_malformed_rounds_field_is_an_error_naming_the_line, .init = gate_paths,
     .fini = gate_clean)
{
    char text[4096] = CTX, l[1024];
    row_line(l, sizeof l, 1, "ok", 1e-3, 2);
    char *p = strstr(l, "[0.001,");
    cr_assert_not_null(p);
    memcpy(p + 1, "-1.00", 5); /* a negative time */
    strcat(text, l);
    write_text(fa, text);
    cli_result *r = run_cli(NULL, "compare", fa, fa, NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "gate_a.jsonl") && strstr(r->err, ":2: 'rounds.median_s' holds a "
                                                                "value that is not a positive time"),
              "%s", r->err);
    cr_assert_str_eq(r->out, "", "nothing written");
}

/* ---- run --rounds, as compare's input ---- */

Test(compare, run_rounds_are_recorded_and_a_bad_count_is_refused, .init = gate_paths,
     .fini = gate_clean)
{
    cli_result *r = run_cli(NULL, "run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M",
                            "--rounds", "0", "-q", "-o", fa, NULL);
    cr_assert_eq(r->code, 2);
    cr_assert(strstr(r->err, "--rounds: '0' is not an integer from 1 to 1000"), "%s", r->err);
    cr_assert_not(exists(fa), "nothing written");
    for (int rounds = 1; rounds <= 2; rounds++) {
        r = run_cli(NULL, "run", "membw", "--host", "--impl", "host-copy", "--bytes", "1M",
                    "--min-samples", "1", "--min-time", "0", "--timeout", "0.05", "--rounds",
                    rounds == 1 ? "1" : "2", "-q", "-o", fa, NULL);
        cr_assert_eq(r->code, 0, "%s", r->err);
        FILE *f = fopen(fa, "r");
        static char line[1 << 16];
        cr_assert_not_null(fgets(line, sizeof line, f));
        cJSON *ctx = cJSON_Parse(line);
        cr_assert_float_eq(
            cJSON_GetObjectItem(cJSON_GetObjectItem(ctx, "options"), "rounds")->valuedouble,
            rounds, 0);
        cJSON_Delete(ctx);
        cr_assert_not_null(fgets(line, sizeof line, f));
        fclose(f);
        cJSON *o = cJSON_Parse(line);
        cJSON *rd = cJSON_GetObjectItem(o, "rounds");
        if (rounds == 1) {
            cr_assert_null(rd, "a single-round row is as before");
        } else {
            cr_assert_float_eq(cJSON_GetObjectItem(rd, "n")->valuedouble, 2, 0);
            cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(rd, "median_s")), 2);
        }
        cJSON_Delete(o);
        remove(fa);
    }
}

/* The default threshold: 2 % for GPU runs, 10 % when every file is a host run (their runs
 * drift by more); --threshold overrides both. A 5 % change with separated rounds is SLOWER
 * against GPU files, not against host files. */
Test(compare, host_runs_default_to_their_own_threshold, .init = gate_paths, .fini = gate_clean)
{
    const char *ctx[2] = {CTX, "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"host\":\"h\","
                               "\"options\":{\"host\":true}}\n"};
    const char *want[2] = {"beyond +-2 %", "beyond +-15 %"};
    for (int host = 0; host < 2; host++) {
        char a[4096], b[4096], l[1024];
        snprintf(a, sizeof a, "%s", ctx[host]);
        snprintf(b, sizeof b, "%s", ctx[host]);
        row_line(l, sizeof l, 1, "ok", 1e-3, 7);
        strcat(a, l);
        row_line(l, sizeof l, 1, "ok", 1.05e-3, 7);
        strcat(b, l);
        write_text(fa, a);
        write_text(fb, b);
        cli_result *r = run_cli(NULL, "compare", fa, fb, NULL);
        cr_assert(strstr(r->out, want[host]), "%s", r->out);
        if (host) {
            cr_assert_eq(r->code, 0, "%s", r->out);
            cr_assert(line_of(r->out, "bytes=1M", "SAME"), "%s", r->out);
            r = run_cli(NULL, "compare", fa, fb, "--threshold", "2", NULL);
            cr_assert(strstr(r->out, "beyond +-2 %"), "--threshold wins: %s", r->out);
        }
        cr_assert_eq(r->code, 1, "%s", r->out);
        cr_assert(line_of(r->out, "bytes=1M", "SLOWER"), "%s", r->out);
    }
}

/* Rows match by host and GPU when both sides ran on the same hosts, by GPU alone across
 * hosts (node A against node B); the header says which. Several hosts a side: one case per
 * host and GPU, named host/gpu. */
Test(compare, rows_match_by_host_on_the_same_hosts, .init = gate_paths, .fini = gate_clean)
{
    char a[4096] = CTX, b[4096], l[1024];
    snprintf(b, sizeof b, "%s", "{\"type\":\"context\",\"schema\":\"trainbench/1\",\"host\":\"h2\"}\n");
    row_line(l, sizeof l, 1, "ok", 1e-3, 7);
    strcat(a, l);
    strcat(b, l);
    write_text(fa, a);
    write_text(fb, b);
    cli_result *r = run_cli(NULL, "compare", fa, fa, NULL);
    cr_assert(strstr(r->out, "matched by: host and GPU"), "%s", r->out);
    r = run_cli(NULL, "compare", fa, fb, NULL);
    cr_assert_eq(r->code, 0, "%s", r->out);
    cr_assert(strstr(r->out, "matched by: GPU alone"), "%s", r->out);
    cr_assert(line_of(r->out, "bytes=1M", "SAME"), "across hosts the GPU matches: %s", r->out);
    /* two hosts a side, each its own row: the same host's row is its match */
    char c2[8192] = CTX, row[1024];
    const char *hosts[2] = {"n1", "n2"};
    for (int h = 0; h < 2; h++) {
        row_line(l, sizeof l, 1, "ok", h ? 2e-3 : 1e-3, 7);
        size_t n = strlen(l);
        snprintf(row, sizeof row, "%.*s,\"host\":\"%s\"}\n", (int)(n - 2), l, hosts[h]);
        strcat(c2, row);
    }
    write_text(fc, c2);
    r = run_cli(NULL, "compare", fc, fc, NULL);
    cr_assert_eq(r->code, 0, "%s", r->out);
    cr_assert(strstr(r->out, "matched by: host and GPU"), "%s", r->out);
    cr_assert(line_of(r->out, "n1/", "SAME") && line_of(r->out, "n2/", "SAME"),
              "one case per host, each SAME against itself: %s", r->out);
}

/* A row of row_line on a host of its own, its reason (when not ok) replaced by why. */
static void host_row(char *text, size_t cap, const char *host, int mib, const char *status,
                     double t, int rounds, const char *why)
{
    char l[1024], row[1200];
    row_line(l, sizeof l, mib, status, t, rounds);
    char *r = strstr(l, "\"12 of 262144 wrong\"");
    if (r && why) {
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", r + strlen("\"12 of 262144 wrong\""));
        snprintf(r, sizeof l - (size_t)(r - l), "\"%s\"%s", why, rest);
    }
    size_t n = strlen(l);
    snprintf(row, sizeof row, "%.*s,\"host\":\"%s\"}\n", (int)(n - 2), l, host);
    cr_assert_lt(strlen(text) + strlen(row), cap);
    strcat(text, row);
}

/* Across hosts, several a side: a case's rows on every host are one case, as if read under
 * one key. Its ok rounds pool; the first row at the worst status in file order gives the
 * reason, and the first ok row the former rule's times, whichever host came first. */
Test(compare, across_hosts_the_rows_of_a_case_on_every_host_are_one, .init = gate_paths,
     .fini = gate_clean)
{
    char a[8192] = CTX, b[8192] = CTX;
    host_row(a, sizeof a, "n1", 1, "ok", 1e-3, 7, NULL);
    host_row(a, sizeof a, "n2", 1, "ok", 1e-3, 7, NULL);
    host_row(a, sizeof a, "n1", 4, "ok", 1e-3, 7, NULL);
    host_row(a, sizeof a, "n2", 4, "ok", 1e-3, 7, NULL);
    host_row(a, sizeof a, "n2", 16, "ok", 1e-3, 7, NULL);
    host_row(a, sizeof a, "n1", 16, "ok", 1e-3, 7, NULL);
    host_row(b, sizeof b, "n3", 1, "ok", 1e-3, 7, NULL); /* 1M: n3's case comes first */
    host_row(b, sizeof b, "n4", 1, "wrong", 0, 0, "first wrong");
    host_row(b, sizeof b, "n3", 1, "wrong", 0, 0, "second wrong");
    host_row(b, sizeof b, "n3", 4, "skipped", 0, 0, NULL); /* 4M: n3's case, no ok row yet */
    host_row(b, sizeof b, "n4", 4, "ok", 2e-3, 7, NULL);   /* the first ok row */
    host_row(b, sizeof b, "n3", 4, "ok", 1e-3, 7, NULL);
    host_row(b, sizeof b, "n4", 16, "ok", 1e-3, 7, NULL);
    host_row(b, sizeof b, "n3", 16, "ok", 1e-3, 7, NULL);
    write_text(fa, a);
    write_text(fb, b);
    cli_result *r = run_cli(NULL, "compare", fa, fb, NULL);
    cr_assert_eq(r->code, 1, "%s %s", r->out, r->err);
    cr_assert(strstr(r->out, "matched by: GPU alone"), "%s", r->out);
    cr_assert(line_of(r->out, "bytes=1M", "wrong in NEW (2 of 3 rows): first wrong"),
              "the earliest wrong row's reason, on the host seen second: %s", r->out);
    const char *x = line_of(r->out, "bytes=16M", "SAME");
    cr_assert(x && strstr(x, "14/14") && !strstr(x, "n1/") && !strstr(x, "n4/"),
              "every host's rounds pool, the GPU not named by host: %s", r->out);
    cr_assert(line_of(r->out, "bytes=4M", "14/14"), "%s", r->out);
    cr_assert(strstr(r->out, "only in NEW: 0") && strstr(r->out, "only in BASE (not measured ok "
                                                                 "there): 0"),
              "%s", r->out);
    r = run_cli(NULL, "compare", fa, fb, "--method", "quartiles", NULL);
    x = line_of(r->out, "bytes=4M", "SLOWER");
    cr_assert(x && strstr(x, "-50.0 %"), "the former rule takes the first ok row (n4's, twice "
                                         "the time): %s",
              r->out);
}
