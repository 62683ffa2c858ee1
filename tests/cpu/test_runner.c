/* The runner's per-case pipeline on the host pseudo-device, with a fake benchmark whose
 * implementations skip, fail verification or fail like a device: what is recorded, what is
 * timed, what stops, and that results already written stay written. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "runner.h"

typedef struct {
    int behaviour; /* 0 good, 1 wrong, 2 skip in setup, 3 device failure in run, 4 wrong
                    * from the second execution on */
    int runs;
    float out;
} fake_state;

/* the cases set up, in order (axis values), for the rounds' schedule */
static int setups[256], n_setups;

static tb_status fake_setup(const tb_case *c, const tb_env *e, void **s, tb_err *err)
{
    (void)e;
    int b = (int)c->axis[0];
    if (n_setups < 256)
        setups[n_setups++] = b;
    if (b == 2)
        return tb_err_set(err, TB_SKIP, "needs 9.00 GiB of device memory, 1.00 GiB free");
    fake_state *st = calloc(1, sizeof *st);
    st->behaviour = b;
    *s = st;
    return TB_OK;
}

static tb_status fake_run(void *s, tb_err *err)
{
    fake_state *st = s;
    st->runs++;
    if (st->behaviour == 3)
        return tb_err_set(err, TB_DEVFAIL, "fake kernel: an illegal memory access");
    if (st->behaviour == 4 && st->runs > 1)
        return TB_OK; /* leaves the output as it was */
    st->out = st->behaviour == 1 ? 41.0f : 42.0f;
    return TB_OK;
}

static tb_status fake_reinit(const tb_case *c, void *s, tb_err *err)
{
    (void)c, (void)err;
    ((fake_state *)s)->out = 0.0f; /* poisoned */
    return TB_OK;
}

static void fake_teardown(void *s)
{
    free(s);
}

static tb_status fake_verify(const tb_case *c, void *s, tb_verify *v, tb_err *err)
{
    (void)c, (void)err;
    fake_state *st = s;
    memset(v, 0, sizeof *v);
    v->n_checked = 1;
    v->max_abs_err = st->out - 42.0f;
    v->max_abs_err = v->max_abs_err < 0 ? -v->max_abs_err : v->max_abs_err;
    v->n_wrong = v->max_abs_err > 0;
    v->ok = !v->n_wrong;
    return TB_OK;
}

static double fake_bytes(const tb_case *c)
{
    (void)c;
    return 1e6;
}

static const tb_axis fake_axes[] = {
    {"behaviour", TB_AXIS_INT, "0", "0", NULL, NULL, NULL, "what the fake does"},
};
static const tb_impl fake_impls[] = {
    {"fake", TB_KIND_HOST, "a fake", 0, 0, TB_DT(TB_FP32), NULL, 0, fake_setup, fake_run,
     fake_teardown, NULL},
};
static const tb_bench fake = {"fake", "a fake benchmark", fake_axes, 1, fake_impls, 1, 0, NULL,
                              fake_bytes, NULL, fake_verify, NULL, 0, NULL, NULL, NULL, NULL,
                              NULL, fake_reinit, NULL, NULL};

static tb_status run_cases_rounds(const int *behaviours, int n, const char *path, int rounds,
                                  uint64_t seed)
{
    n_setups = 0;
    tb_case cases[8];
    for (int i = 0; i < n; i++) {
        memset(&cases[i], 0, sizeof cases[i]);
        cases[i].bench = &fake;
        cases[i].impl = &fake_impls[0];
        cases[i].dtype = TB_FP32;
        cases[i].axis[0] = behaviours[i];
    }
    tb_device host;
    tb_device_host(&host);
    cJSON *ctx = cJSON_CreateObject();
    cJSON_AddStringToObject(ctx, "type", "context");
    tb_writer *w;
    tb_err err;
    cr_assert_eq(tb_writer_open(&w, path, NULL, NULL, ctx, &err), TB_OK, "%s", err.msg);
    cJSON_Delete(ctx);
    tb_run_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.rule = (tb_stop_rule){3, 0.0, 0.5, 2.0};
    opts.rounds = rounds;
    opts.seed = seed;
    tb_status st = tb_runner_run(cases, (size_t)n, &host, 1, &opts, NULL, w, &err);
    tb_writer_close(w);
    return st;
}

static tb_status run_cases(const int *behaviours, int n, const char *path)
{
    return run_cases_rounds(behaviours, n, path, 1, 0);
}

/* The statuses recorded in a result file, in order. */
static int statuses(const char *path, char out[][16], int max)
{
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    int n = -1;
    while (fgets(line, sizeof line, f)) {
        if (n >= 0 && n < max) {
            cJSON *o = cJSON_Parse(line);
            snprintf(out[n], 16, "%s", cJSON_GetObjectItem(o, "status")->valuestring);
            cJSON_Delete(o);
        }
        n++;
    }
    fclose(f);
    return n;
}

static char path[512];

static void tmp(void)
{
    snprintf(path, sizeof path, "%s/runner_%d.jsonl", TB_TEST_TMP, (int)getpid());
}

Test(runner, good_wrong_and_skipped_cases, .init = tmp)
{
    const int b[] = {0, 1, 2, 0};
    cr_assert_eq(run_cases(b, 4, path), TB_WRONG, "a wrong result makes the run exit 1");
    char s[8][16];
    cr_assert_eq(statuses(path, s, 8), 4);
    cr_assert_str_eq(s[0], "ok");
    cr_assert_str_eq(s[1], "wrong");
    cr_assert_str_eq(s[2], "skipped");
    cr_assert_str_eq(s[3], "ok", "a wrong case does not stop the others");
    /* the wrong case was not timed; the skipped one says why */
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    for (int i = 0; i < 3 && fgets(line, sizeof line, f); i++)
        ;
    cJSON *wrong = cJSON_Parse(line);
    cr_assert_float_eq(cJSON_GetObjectItem(wrong, "samples")->valuedouble, 0, 0);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(wrong, "verify"), "ok")));
    cJSON_Delete(wrong);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cJSON *skip = cJSON_Parse(line);
    cr_assert_str_eq(cJSON_GetObjectItem(skip, "reason")->valuestring,
                     "needs 9.00 GiB of device memory, 1.00 GiB free");
    cJSON_Delete(skip);
    fclose(f);
    remove(path);
}

Test(runner, a_device_failure_stops_the_device_and_keeps_earlier_results, .init = tmp)
{
    const int b[] = {0, 0, 3, 0, 0};
    cr_assert_eq(run_cases(b, 5, path), TB_DEVFAIL, "exit 4");
    char s[8][16];
    cr_assert_eq(statuses(path, s, 8), 3, "two results, the failure, nothing after it");
    cr_assert_str_eq(s[0], "ok");
    cr_assert_str_eq(s[1], "ok");
    cr_assert_str_eq(s[2], "error");
    remove(path);
}

Test(runner, ok_cases_are_measured_with_the_stopping_rule, .init = tmp)
{
    const int b[] = {0};
    cr_assert_eq(run_cases(b, 1, path), TB_OK);
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cJSON *o = cJSON_Parse(line);
    cr_assert_geq(cJSON_GetObjectItem(o, "samples")->valuedouble, 3, "min-samples 3");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "timing")->valuestring, "host");
    cr_assert_gt(cJSON_GetObjectItem(o, "gbps")->valuedouble, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "verify"), "ok")));
    cJSON_Delete(o);
    remove(path);
}

/* The result lines of a file, parsed (the caller deletes them). */
static int result_lines(const char *p, cJSON **out, int max)
{
    FILE *f = fopen(p, "r");
    static char line[1 << 16];
    int n = -1;
    while (fgets(line, sizeof line, f)) {
        if (n >= 0 && n < max)
            out[n] = cJSON_Parse(line);
        n++;
    }
    fclose(f);
    return n;
}

Test(runner, a_case_is_checked_again_after_timing_on_refilled_inputs, .init = tmp)
{
    const int b[] = {0, 4};
    cr_assert_eq(run_cases(b, 2, path), TB_WRONG, "a failure after timing makes the run exit 1");
    cJSON *o[2];
    cr_assert_eq(result_lines(path, o, 2), 2);
    cJSON *v = cJSON_GetObjectItem(o[0], "verify"), *after = cJSON_GetObjectItem(v, "after");
    cr_assert_str_eq(cJSON_GetObjectItem(o[0], "status")->valuestring, "ok");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(after, "ok")), "the good case is checked after");
    cr_assert_eq(cJSON_GetObjectItem(after, "n_checked")->valuedouble, 1);
    /* the late fault: right before timing, timed, wrong after it (its output still held the
     * earlier result: only the poison of reinit shows it) */
    v = cJSON_GetObjectItem(o[1], "verify");
    after = cJSON_GetObjectItem(v, "after");
    cr_assert_str_eq(cJSON_GetObjectItem(o[1], "status")->valuestring, "wrong");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(after, "ok")));
    cr_assert_eq(cJSON_GetObjectItem(after, "n_wrong")->valuedouble, 1);
    cr_assert_geq(cJSON_GetObjectItem(o[1], "samples")->valuedouble, 3, "timed first");
    cr_assert_str_eq(cJSON_GetObjectItem(o[1], "reason")->valuestring,
                     "after timing: 1 of 1 values outside tolerance 0 (max abs err 42)");
    cJSON_Delete(o[0]);
    cJSON_Delete(o[1]);
    remove(path);
}

/* ---- a collective benchmark: one group, its figures, the check after the timed loop ---- */

typedef struct {
    int behaviour; /* 0 good, 1 wrong after the timed loop, 2 the library refuses the case */
    int reinits;
    float out;
} coll_state;

static tb_status coll_setup(const tb_case *c, const tb_env *e, void **s, tb_err *err)
{
    cr_assert_not_null(e->group, "a collective case is given its group");
    cr_assert_eq(e->group->n_devices, 1);
    cr_assert_not_null(e->group->keep);
    if (c->axis[0] == 2)
        return tb_err_set(err, TB_CASEFAIL, "fakeCommInit failed: unhandled system error");
    coll_state *st = calloc(1, sizeof *st);
    st->behaviour = (int)c->axis[0];
    *s = st;
    return TB_OK;
}

static tb_status coll_run(void *s, tb_err *err)
{
    (void)err;
    coll_state *st = s;
    st->out = st->behaviour == 1 && st->reinits ? 41.0f : 42.0f;
    return TB_OK;
}

static tb_status coll_verify(const tb_case *c, void *s, tb_verify *v, tb_err *err)
{
    (void)c, (void)err;
    coll_state *st = s;
    memset(v, 0, sizeof *v);
    v->n_checked = 8;
    v->n_wrong = st->out != 42.0f ? 3 : 0;
    v->ok = !v->n_wrong;
    return TB_OK;
}

static tb_status coll_reinit(const tb_case *c, void *s, tb_err *err)
{
    (void)c, (void)err;
    ((coll_state *)s)->reinits++;
    return TB_OK;
}

static tb_status coll_group(const tb_case *c, int n_devices, tb_collective *out, tb_err *err)
{
    (void)c, (void)err;
    out->ranks = 4 * n_devices;
    out->bus_factor = 1.5;
    out->shared_device = 0;
    return TB_OK;
}

static const tb_impl coll_impls[] = {
    {"coll", TB_KIND_HOST, "a fake collective", 0, 0, TB_DT(TB_FP32), NULL, 0, coll_setup,
     coll_run, fake_teardown, NULL},
};
static const tb_bench coll = {"coll", "a fake collective", fake_axes, 1, coll_impls, 1, 0, NULL,
                              fake_bytes, NULL, coll_verify, NULL, 0, NULL, NULL, NULL, NULL,
                              coll_group, coll_reinit, NULL, NULL};

Test(runner, a_collective_case_is_checked_again_after_timing_and_records_its_group, .init = tmp)
{
    tb_case cases[3];
    const int b[] = {0, 2, 1};
    for (int i = 0; i < 3; i++) {
        memset(&cases[i], 0, sizeof cases[i]);
        cases[i].bench = &coll;
        cases[i].impl = &coll_impls[0];
        cases[i].dtype = TB_FP32;
        cases[i].axis[0] = b[i];
    }
    tb_device host;
    tb_device_host(&host);
    cJSON *ctx = cJSON_CreateObject();
    tb_writer *w;
    tb_err err;
    cr_assert_eq(tb_writer_open(&w, path, NULL, NULL, ctx, &err), TB_OK, "%s", err.msg);
    cJSON_Delete(ctx);
    tb_run_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.rule = (tb_stop_rule){3, 0.0, 0.5, 2.0};
    cr_assert_eq(tb_runner_run(cases, 3, &host, 1, &opts, NULL, w, &err), TB_DEVFAIL,
                 "a refused case makes the run exit 4");
    tb_writer_close(w);
    char s[8][16];
    cr_assert_eq(statuses(path, s, 8), 3, "the refused case does not stop the others");
    cr_assert_str_eq(s[0], "ok");
    cr_assert_str_eq(s[1], "error");
    cr_assert_str_eq(s[2], "wrong", "wrong in the check after the timed loop");
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_not_null(fgets(line, sizeof line, f));
    cJSON *o = cJSON_Parse(line);
    cr_assert_eq(cJSON_GetObjectItem(o, "ranks")->valuedouble, 4);
    double gbps = cJSON_GetObjectItem(o, "gbps")->valuedouble;
    cr_assert_float_eq(cJSON_GetObjectItem(o, "busbw_gbps")->valuedouble, 1.5 * gbps, 1e-9 * gbps);
    cr_assert_float_eq(cJSON_GetObjectItem(o, "algbw_gbps")->valuedouble, gbps, 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "gpus")), 0, "the host group");
    cJSON_Delete(o);
    cr_assert_not_null(fgets(line, sizeof line, f));
    o = cJSON_Parse(line);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "reason")->valuestring,
                     "fakeCommInit failed: unhandled system error");
    cJSON_Delete(o);
    cr_assert_not_null(fgets(line, sizeof line, f));
    o = cJSON_Parse(line);
    cr_assert_gt(cJSON_GetObjectItem(o, "samples")->valuedouble, 0, "it was timed first");
    cr_assert_eq(cJSON_GetObjectItem(o, "n_wrong")->valuedouble, 3, "#wrong: the last check");
    cJSON *v = cJSON_GetObjectItem(o, "verify");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")), "the check before timing is kept");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "after"), "ok")));
    cr_assert(strstr(cJSON_GetObjectItem(o, "reason")->valuestring, "after timing: ") ==
              cJSON_GetObjectItem(o, "reason")->valuestring);
    cJSON_Delete(o);
    fclose(f);
    remove(path);
}

/* ---- rounds ---- */

static cJSON *result_line(const char *p, int k)
{
    FILE *f = fopen(p, "r");
    static char line[1 << 16];
    cJSON *o = NULL;
    for (int i = 0; i <= k && fgets(line, sizeof line, f); i++)
        if (i == k)
            o = cJSON_Parse(line);
    fclose(f);
    return o;
}

Test(runner, rounds_set_every_case_up_afresh_in_a_seeded_order_and_keep_the_round_medians,
     .init = tmp)
{
    const int b[] = {10, 11, 12, 13, 14, 15};
    cr_assert_eq(run_cases_rounds(b, 6, path, 4, 7), TB_OK);
    cr_assert_eq(n_setups, 24, "6 cases x 4 rounds, each set up afresh: %d", n_setups);
    int first[24];
    memcpy(first, setups, sizeof first);
    int same_as_given = 1, rounds_alike = 1;
    for (int r = 0; r < 4; r++) {
        int seen = 0;
        for (int i = 0; i < 6; i++) {
            seen |= 1 << (setups[6 * r + i] - 10);
            if (r == 0 && setups[i] != b[i])
                same_as_given = 0;
            if (r > 0 && setups[6 * r + i] != setups[i])
                rounds_alike = 0;
        }
        cr_assert_eq(seen, 63, "round %d runs every case once", r);
    }
    cr_assert_not(same_as_given && rounds_alike, "the rounds' orders vary");
    for (int k = 1; k <= 6; k++) {
        cJSON *o = result_line(path, k);
        cr_assert_not_null(o);
        cJSON *rd = cJSON_GetObjectItem(o, "rounds");
        cr_assert_not_null(rd, "a multi-round row keeps its rounds");
        cr_assert_float_eq(cJSON_GetObjectItem(rd, "n")->valuedouble, 4, 0);
        cJSON *m = cJSON_GetObjectItem(rd, "median_s");
        cr_assert_eq(cJSON_GetArraySize(m), 4);
        double v[4];
        for (int i = 0; i < 4; i++)
            v[i] = cJSON_GetArrayItem(m, i)->valuedouble;
        /* the headline is the median of the rounds (the mean of the middle two of four) */
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++)
                if (v[j] < v[i]) {
                    double t = v[i];
                    v[i] = v[j];
                    v[j] = t;
                }
        double med = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "time_s"), "median")->valuedouble;
        cr_assert_float_eq(med, (v[1] + v[2]) / 2, 1e-15);
        cr_assert_float_eq(cJSON_GetObjectItem(o, "gbps")->valuedouble, 1e6 / med / 1e9, 1e-9);
        cr_assert_geq(cJSON_GetObjectItem(o, "samples")->valuedouble, 12,
                      "samples count every round (min-samples 3 x 4)");
        cJSON_Delete(o);
    }
    /* the same seed gives the same schedule */
    cr_assert_eq(run_cases_rounds(b, 6, path, 4, 7), TB_OK);
    cr_assert_arr_eq(setups, first, sizeof first);
    remove(path);
}

Test(runner, with_rounds_a_wrong_or_skipped_case_is_written_once_and_not_run_again, .init = tmp)
{
    const int b[] = {0, 1, 2};
    cr_assert_eq(run_cases_rounds(b, 3, path, 3, 1), TB_WRONG);
    int wrong_setups = 0, skip_setups = 0;
    for (int i = 0; i < n_setups; i++) {
        wrong_setups += setups[i] == 1;
        skip_setups += setups[i] == 2;
    }
    cr_assert_eq(wrong_setups, 1);
    cr_assert_eq(skip_setups, 1);
    char st[8][16];
    cr_assert_eq(statuses(path, st, 8), 3, "one row per case");
    remove(path);
}
