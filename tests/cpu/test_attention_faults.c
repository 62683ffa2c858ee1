/* attention's verification against the bugs of TRAINBENCH_TEST_FAULT, through the benchmark's
 * own setup, run and verify on the host implementation in bf16: at realistic sizes (forward at
 * seq 8192, head dims 64 and 128, causal and not; backward at seq 2048) every fault is
 * reported wrong and the same case without it is ok, one reference per case serving every
 * check; a query tile missing one key tile passes the element-wise bound and fails only the
 * per-tile norm (and the fp32 log-sum-exp bound); late-corruption strikes after exactly N
 * executions; fp16 runs clean; and the command line reports a fault `wrong` with exit 1. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "benches.h"
#include "cli_helper.h"

#define SEED 42

static tb_device host_device(void)
{
    tb_device d;
    memset(&d, 0, sizeof d);
    d.is_host = 1;
    return d;
}

static tb_case host_case(tb_dtype dt, int S, int D, int causal, int pass)
{
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_attention;
    c.impl = tb_bench_impl(&tb_bench_attention, "host");
    cr_assert(c.impl);
    c.dtype = dt;
    const int64_t ax[7] = {1, 1, 1, S, D, causal, pass};
    memcpy(c.axis, ax, sizeof ax);
    return c;
}

/* The case's state, set up to read its bug from *fault at every execution. */
static void *setup(const tb_case *c, const tb_device *dev, const tb_fault *fault)
{
    tb_env env = {dev, NULL, SEED, NULL, fault};
    tb_err err;
    void *st = NULL;
    cr_assert_eq(c->impl->setup(c, &env, &st, &err), TB_OK, "%s", err.msg);
    return st;
}

static tb_verify run_and_verify(const tb_case *c, void *st)
{
    tb_err err;
    tb_verify v;
    cr_assert_eq(c->impl->run(st, &err), TB_OK, "%s", err.msg);
    cr_assert_eq(c->bench->verify(c, st, &v, &err), TB_OK, "%s", err.msg);
    return v;
}

static const tb_verify_measure *measure(const tb_verify *v, const char *name)
{
    const tb_verify_measure *m = tb_verify_measure_find(v, name);
    cr_assert(m, "no %s measure", name);
    return m;
}

static double ratio(const tb_verify *v, const char *name)
{
    const tb_verify_measure *m = measure(v, name);
    return m->worst / m->bound;
}

static void log_row(const char *what, const tb_case *c, const tb_verify *v)
{
    cr_log_info("%-16s S=%lld D=%lld causal=%lld pass=%lld: norm %.3f tile %.3f lse %.3f "
                "(bound ratios), %lld of %lld elements wrong, max abs err %.3g",
                what, (long long)c->axis[3], (long long)c->axis[4], (long long)c->axis[5],
                (long long)c->axis[6], ratio(v, "norm"), ratio(v, "tile"), ratio(v, "lse"),
                (long long)v->n_wrong, (long long)v->n_checked, v->max_abs_err);
}

/* The clean run, then each fault in turn, on one state (one reference); late-corruption:3
 * comes fifth, so it runs its fifth execution and is wrong. */
static void faults_caught(int S, int D, int causal, int pass)
{
    const tb_device dev = host_device();
    tb_fault fault = {TB_FAULT_NONE, 3, 0, 0};
    tb_case c = host_case(TB_BF16, S, D, causal, pass);
    void *st = setup(&c, &dev, &fault);

    tb_verify v = run_and_verify(&c, st);
    log_row("none", &c, &v);
    cr_assert(v.ok && v.n_wrong == 0, "S=%d D=%d causal=%d pass=%d without a fault: %lld wrong",
              S, D, causal, pass, (long long)v.n_wrong);
    /* a correct kernel sits well inside every bound */
    cr_assert_lt(ratio(&v, "norm"), 0.5);
    cr_assert_lt(ratio(&v, "tile"), 0.5);
    cr_assert_lt(ratio(&v, "lse"), 0.5);

    static const tb_fault_kind kinds[] = {TB_FAULT_ATTN_DROP_TILE, TB_FAULT_ATTN_STALE_V,
                                          TB_FAULT_ATTN_SCALE, TB_FAULT_LATE_CORRUPTION};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        fault.kind = kinds[k];
        v = run_and_verify(&c, st);
        log_row(tb_fault_name(kinds[k]), &c, &v);
        cr_assert_not(v.ok, "S=%d D=%d causal=%d pass=%d: %s passed verification", S, D,
                      causal, pass, tb_fault_name(kinds[k]));
        if (kinds[k] == TB_FAULT_ATTN_DROP_TILE && pass == 0) {
            /* the old checks pass it: every element within its bound, the lse within 8u */
            cr_assert_eq(v.n_wrong, 0, "S=%d D=%d causal=%d: %lld elements wrong", S, D, causal,
                         (long long)v.n_wrong);
            cr_assert_lt(measure(&v, "lse")->worst, 8 * ldexp(1, -8));
            /* the new ones do not: exactly the one query tile is over its bound, by far more
             * than the head norm is over its own (a 128-row tile of 8192 rows still moves the
             * head norm past its bound; the tile check is the one that keeps seeing a lost
             * tile as sequences grow), and the fp32 lse bound fails the tile's rows */
            cr_assert_eq(measure(&v, "tile")->n_failed, 1);
            cr_assert_gt(ratio(&v, "tile"), 4.0);
            cr_assert_gt(ratio(&v, "tile"), 4.0 * ratio(&v, "norm"));
            cr_assert_eq(measure(&v, "lse")->n_failed, TB_ATTN_FWD_BR);
        }
    }
    c.impl->teardown(st);
}

Test(attention_faults, forward_8192_head_dim_128, .timeout = 600)
{
    faults_caught(8192, 128, 0, 0);
    faults_caught(8192, 128, 1, 0);
}

Test(attention_faults, forward_8192_head_dim_64, .timeout = 600)
{
    faults_caught(8192, 64, 0, 0);
    faults_caught(8192, 64, 1, 0);
}

Test(attention_faults, backward_2048, .timeout = 600)
{
    faults_caught(2048, 128, 0, 1);
    faults_caught(2048, 64, 1, 1);
}

Test(attention_faults, late_corruption_strikes_after_n_executions)
{
    const tb_device dev = host_device();
    tb_fault fault = {TB_FAULT_LATE_CORRUPTION, 3, 0, 0};
    for (int pass = 0; pass <= 2; pass++) {
        tb_case c = host_case(TB_BF16, 256, 64, 1, pass);
        void *st = setup(&c, &dev, &fault);
        for (int n = 1; n <= 3; n++) {
            tb_verify v = run_and_verify(&c, st);
            cr_assert(v.ok, "pass %d execution %d of late-corruption:3 is wrong", pass, n);
        }
        tb_verify v = run_and_verify(&c, st);
        cr_assert_not(v.ok, "pass %d execution 4 of late-corruption:3 passed", pass);
        c.impl->teardown(st);
    }
}

Test(attention_faults, fp16_and_ragged_shapes_verify_clean)
{
    const tb_device dev = host_device();
    static const int shapes[][3] = {{1, 64, 0}, {100, 64, 1}, {300, 128, 1}, {130, 64, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int pass = 0; pass <= 2; pass++)
            for (int dt = TB_BF16; dt <= TB_FP16; dt++) {
                tb_case c = host_case((tb_dtype)dt, shapes[i][0], shapes[i][1], shapes[i][2],
                                      pass);
                void *st = setup(&c, &dev, NULL);
                tb_verify v = run_and_verify(&c, st);
                cr_assert(v.ok, "%s S=%d D=%d causal=%d pass=%d: %lld wrong, norm %.3g tile %.3g",
                          tb_dtype_name((tb_dtype)dt), shapes[i][0], shapes[i][1], shapes[i][2],
                          pass, (long long)v.n_wrong, ratio(&v, "norm"), ratio(&v, "tile"));
                cr_assert_lt(ratio(&v, "tile"), 0.6);
                c.impl->teardown(st);
            }
}

/* ---- the command line ---- */

static cJSON *only_result(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    static char line[1 << 16];
    cJSON *found = NULL;
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        cr_assert(o);
        if (!strcmp(cJSON_GetObjectItem(o, "type")->valuestring, "result")) {
            cr_assert_null(found, "more than one result");
            found = o;
        } else {
            cJSON_Delete(o);
        }
    }
    fclose(f);
    cr_assert(found);
    return found;
}

Test(attention_faults, command_line_reports_the_fault_wrong, .timeout = 600)
{
    char path[512];
    tmp_path(path, sizeof path, "fault.jsonl");
    /* the done-means command, one mask, and no more timing than one sample */
#define CASE "run", "attention", "--host", "--dtype", "bf16", "--seq", "4096", "--heads", "1", \
             "--head-dim", "128", "--pass", "fwd", "--causal", "yes", "--min-samples", "1",  \
             "--min-time", "0", "--timeout", "0.1", "-q", "-o", path
    static const char *const others[] = {"TRAINBENCH_TEST_FAULT=attn-stale-v",
                                         "TRAINBENCH_TEST_FAULT=attn-scale"};
    cli_result *r;
    for (int i = 0; i < 2; i++) {
        r = run_cli(others[i], CASE, NULL);
        cr_assert_eq(r->code, 1, "%s: exit %d: %s", others[i], r->code, r->err);
        cr_assert(strstr(r->out, "0 ok, 1 wrong"), "%s: %s", others[i], r->out);
    }
    r = run_cli("TRAINBENCH_TEST_FAULT=attn-drop-tile", CASE, NULL);
    cr_assert_eq(r->code, 1, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->out, "0 ok, 1 wrong"), "%s", r->out);
    cr_assert(strstr(r->out, "tile: 1 of 32 query tiles over"), "%s", r->out);
    cJSON *o = only_result(path);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "wrong");
    cJSON *v = cJSON_GetObjectItem(o, "verify");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(v, "ok")));
    cJSON *tile = cJSON_GetObjectItem(v, "tile");
    cr_assert(tile && cJSON_GetObjectItem(tile, "n_failed")->valuedouble == 1);
    cr_assert_eq(cJSON_GetObjectItem(v, "n_wrong")->valuedouble, 0);
    cJSON_Delete(o);

    r = run_cli(NULL, CASE, NULL);
    cr_assert_eq(r->code, 0, "exit %d: %s", r->code, r->err);
    cr_assert(strstr(r->out, "1 ok, 0 wrong"), "%s", r->out);
    o = only_result(path);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "ok");
    v = cJSON_GetObjectItem(o, "verify");
    for (int i = 0; i < 3; i++) {
        static const char *const names[] = {"norm", "tile", "lse"};
        cJSON *m = cJSON_GetObjectItem(v, names[i]);
        cr_assert(m, "verify lacks %s", names[i]);
        cr_assert_lt(cJSON_GetObjectItem(m, "ratio")->valuedouble, 0.5, "%s", names[i]);
        cr_assert_eq(cJSON_GetObjectItem(m, "n_failed")->valuedouble, 0, "%s", names[i]);
    }
    cJSON_Delete(o);
    remove(path);
#undef CASE
}
