#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "verdict.h"

/* The verdict of (device, what), or NULL. */
static const tb_node_verdict *find(const tb_node_verdicts *vs, int device, const char *what)
{
    for (size_t i = 0; i < vs->n; i++)
        if (vs->v[i].device == device && !strcmp(vs->v[i].what, what))
            return &vs->v[i];
    return NULL;
}

static void judge(tb_node_verdicts *vs, const double *meas, const double *expected, int n)
{
    int dev[16];
    const char *src[16], *why[16];
    for (int i = 0; i < n; i++) {
        dev[i] = i;
        src[i] = "table X: datasheet 100 x 0.75";
        why[i] = "not run";
    }
    tb_metric m = {"hbm", "GB/s", "HBM_LOW", "HBM_OUTLIER", n, dev, NULL, meas, why, expected,
                   src};
    cr_assert_eq(tb_verdict_metric(vs, &m, &tb_verdict_gpu_rules), 0);
}

Test(verdict, a_healthy_node_passes_against_table_and_median)
{
    tb_node_verdicts vs = {0};
    double meas[4] = {100, 101, 99, 100}, exp[4] = {75, 75, 75, 75};
    judge(&vs, meas, exp, 4);
    cr_assert_eq(vs.n, 4);
    for (int d = 0; d < 4; d++) {
        cr_assert_eq(vs.v[d].level, TB_VERDICT_PASS);
        cr_assert_str_eq(vs.v[d].reason, "OK");
        cr_assert_float_eq(vs.v[d].expected, 75, 1e-12);
        cr_assert_str_eq(vs.v[d].source, "table X: datasheet 100 x 0.75");
    }
    cr_assert_eq(tb_verdict_node(&vs, NULL, NULL), TB_VERDICT_PASS);
    tb_verdicts_free(&vs);
}

Test(verdict, below_the_absolute_threshold_is_the_low_code)
{
    tb_node_verdicts vs = {0};
    double meas[3] = {70, 70, 70}, exp[3] = {75, 75, 75};
    judge(&vs, meas, exp, 3);
    for (int d = 0; d < 3; d++) {
        cr_assert_eq(vs.v[d].level, TB_VERDICT_FAIL);
        cr_assert_str_eq(vs.v[d].reason, "HBM_LOW");
        cr_assert_float_eq(vs.v[d].measured, 70, 1e-12);
    }
    tb_verdicts_free(&vs);
}

Test(verdict, within_node_warn_past_5_and_fail_past_10_percent_below_the_median)
{
    tb_node_verdicts vs = {0};
    /* median 100: 94 is 6 % below (WARN), 89 is 11 % below (FAIL), 96 is 4 % below (PASS) */
    double meas[7] = {100, 94, 89, 100, 96, 100, 100};
    double exp[7] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    judge(&vs, meas, exp, 7);
    cr_assert_eq(find(&vs, 1, "hbm")->level, TB_VERDICT_WARN);
    cr_assert_str_eq(find(&vs, 1, "hbm")->reason, "HBM_OUTLIER");
    cr_assert_float_eq(find(&vs, 1, "hbm")->expected, 95, 1e-9);
    cr_assert_eq(find(&vs, 2, "hbm")->level, TB_VERDICT_FAIL);
    cr_assert_str_eq(find(&vs, 2, "hbm")->reason, "HBM_OUTLIER");
    cr_assert_float_eq(find(&vs, 2, "hbm")->expected, 90, 1e-9);
    cr_assert(strstr(find(&vs, 2, "hbm")->source, "node median 100"), "%s",
              find(&vs, 2, "hbm")->source);
    cr_assert_eq(find(&vs, 4, "hbm")->level, TB_VERDICT_PASS);
    int f, w;
    cr_assert_eq(tb_verdict_node(&vs, &f, &w), TB_VERDICT_FAIL);
    cr_assert_eq(f, 1);
    cr_assert_eq(w, 1);
    tb_verdicts_free(&vs);
}

Test(verdict, one_device_has_no_within_node_comparison_and_unmeasured_is_skip)
{
    tb_node_verdicts vs = {0};
    double meas[1] = {50}, exp[1] = {NAN};
    judge(&vs, meas, exp, 1);
    cr_assert_eq(vs.v[0].level, TB_VERDICT_PASS);
    cr_assert(strstr(vs.v[0].detail, "no within-node comparison"), "%s", vs.v[0].detail);
    tb_verdicts_free(&vs);

    double m2[3] = {100, NAN, 100}, e2[3] = {NAN, NAN, NAN};
    judge(&vs, m2, e2, 3);
    cr_assert_eq(find(&vs, 1, "hbm")->level, TB_VERDICT_SKIP);
    cr_assert_str_eq(find(&vs, 1, "hbm")->reason, "NOT_MEASURED");
    cr_assert_str_eq(find(&vs, 1, "hbm")->detail, "not run");
    cr_assert_eq(tb_verdict_node(&vs, NULL, NULL), TB_VERDICT_PASS, "SKIP counts as PASS");
    tb_verdicts_free(&vs);
}

Test(verdict, host_rules_are_wider_than_gpu_rules)
{
    cr_assert_gt(tb_verdict_host_rules.outlier_fail, tb_verdict_gpu_rules.outlier_fail);
    cr_assert_gt(tb_verdict_host_rules.outlier_warn, tb_verdict_gpu_rules.outlier_warn);
    /* an injected 2x slowdown (50 % below the median) still fails on the host */
    cr_assert_lt(tb_verdict_host_rules.outlier_fail, 0.5);
    cr_assert_float_eq(tb_verdict_gpu_rules.pass_frac, 0.90, 1e-12);
}

static tb_health healthy(void)
{
    tb_health h;
    tb_health_init(&h);
    h.known = 1;
    h.ecc_mode = 1;
    h.ecc_uncorrected = 0;
    h.ecc_corrected = 0;
    h.remap_pending = 0;
    h.remap_failed = 0;
    h.rows_remapped_unc = 0;
    h.retired_pending = 0;
    h.pcie_gen = h.pcie_gen_max = 5;
    h.pcie_width = h.pcie_width_max = 16;
    h.have_reasons = 1;
    h.reasons = 0x4; /* sw_power_cap: normal at full load */
    return h;
}

/* The one reason code the health facts give that is not OK, with its level. */
static void expect_code(const tb_health *h, const char *code, tb_level level)
{
    tb_node_verdicts vs = {0};
    cr_assert_eq(tb_verdict_health(&vs, 3, h), 0);
    int hits = 0;
    for (size_t i = 0; i < vs.n; i++) {
        cr_assert_eq(vs.v[i].device, 3);
        if (strcmp(vs.v[i].reason, "OK")) {
            cr_assert_str_eq(vs.v[i].reason, code);
            cr_assert_eq(vs.v[i].level, level, "%s", code);
            hits++;
        }
    }
    cr_assert_eq(hits, 1, "%s: %d codes", code, hits);
    tb_verdicts_free(&vs);
}

Test(verdict, each_health_fault_has_its_code)
{
    tb_health h = healthy();
    tb_node_verdicts vs = {0};
    tb_verdict_health(&vs, 0, &h);
    for (size_t i = 0; i < vs.n; i++)
        cr_assert_eq(vs.v[i].level, TB_VERDICT_PASS, "%s %s", vs.v[i].what, vs.v[i].reason);
    cr_assert_geq(vs.n, 4);
    tb_verdicts_free(&vs);

    h = healthy();
    h.ecc_uncorrected = 2;
    expect_code(&h, "ECC_UNCORRECTABLE", TB_VERDICT_FAIL);
    h = healthy();
    h.ecc_mode = 0;
    expect_code(&h, "ECC_DISABLED", TB_VERDICT_WARN);
    h = healthy();
    h.remap_pending = 1;
    expect_code(&h, "ROW_REMAP_PENDING", TB_VERDICT_FAIL);
    h = healthy();
    h.remap_failed = 1;
    expect_code(&h, "ROW_REMAP_FAILED", TB_VERDICT_FAIL);
    h = healthy();
    h.retired_pending = 1;
    expect_code(&h, "RETIRED_PAGES_PENDING", TB_VERDICT_FAIL);
    h = healthy();
    h.pcie_width = 8;
    expect_code(&h, "PCIE_DOWNGRADED", TB_VERDICT_FAIL);
    h = healthy();
    h.pcie_gen = 4;
    expect_code(&h, "PCIE_DOWNGRADED", TB_VERDICT_FAIL);
    h = healthy();
    h.reasons = 0x40 | 0x4; /* hw_thermal_slowdown */
    expect_code(&h, "THROTTLE_THERMAL", TB_VERDICT_FAIL);
    h = healthy();
    h.reasons = 0x20; /* sw_thermal_slowdown */
    expect_code(&h, "THROTTLE_THERMAL", TB_VERDICT_WARN);
    h = healthy();
    h.reasons = 0x80; /* hw_power_brake_slowdown */
    expect_code(&h, "THROTTLE_POWER", TB_VERDICT_FAIL);
}

Test(verdict, health_not_read_is_one_skip)
{
    tb_health h;
    tb_health_init(&h);
    tb_node_verdicts vs = {0};
    tb_verdict_health(&vs, 1, &h);
    cr_assert_eq(vs.n, 1);
    cr_assert_eq(vs.v[0].level, TB_VERDICT_SKIP);
    cr_assert_str_eq(vs.v[0].reason, "NO_NVML");
    tb_verdicts_free(&vs);
}

Test(verdict, json_line_says_scope_and_figures)
{
    tb_node_verdict v;
    memset(&v, 0, sizeof v);
    v.device = 2;
    v.peer = 5;
    snprintf(v.what, sizeof v.what, "p2p_ce");
    v.level = TB_VERDICT_FAIL;
    snprintf(v.reason, sizeof v.reason, "P2P_LOW");
    v.measured = 200;
    v.expected = NAN;
    cJSON *o = tb_verdict_json(&v);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, "verdict");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "scope")->valuestring, "link");
    cr_assert_eq(cJSON_GetObjectItem(o, "gpu")->valueint, 2);
    cr_assert_eq(cJSON_GetObjectItem(o, "peer")->valueint, 5);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "verdict")->valuestring, "FAIL");
    cr_assert_float_eq(cJSON_GetObjectItem(o, "measured")->valuedouble, 200, 1e-12);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "expected")), "NAN is null");
    cJSON_Delete(o);
}

Test(verdict, health_is_read_from_nvml)
{
    setenv("TRAINBENCH_NVML_LIB", TB_FAKE_NVML, 1);
    setenv("FAKE_NVML_DEVICES", "3", 1);
    setenv("FAKE_NVML_REASONS", "1:0x40", 1);
    setenv("FAKE_NVML_ECC_UNCORRECTED", "2:7", 1);
    setenv("FAKE_NVML_PCIE_WIDTH", "0:8", 1);
    setenv("FAKE_NVML_REMAP_PENDING", "2:1", 1);
    char why[256] = "";
    tb_health_lib *hl = tb_health_open(why, sizeof why);
    cr_assert_not_null(hl, "%s", why);
    cr_assert_eq(tb_health_count(hl), 3);
    tb_health h[3];
    for (int d = 0; d < 3; d++) {
        void *dev = tb_health_device(hl, "", d);
        cr_assert_not_null(dev);
        tb_health_init(&h[d]);
        tb_health_sample_load(hl, dev, &h[d]);
        tb_health_read(hl, dev, &h[d]);
        cr_assert_eq(h[d].known, 1);
        cr_assert_eq(h[d].ecc_mode, 1);
        cr_assert_eq(h[d].pcie_width_max, 16);
        cr_assert_eq(h[d].pcie_gen, 5);
    }
    cr_assert_not_null(tb_health_device(hl, "0000:02:00.0", -1), "by bus id");
    cr_assert_eq(h[0].pcie_width, 8);
    cr_assert_eq(h[1].pcie_width, 16);
    cr_assert_eq(h[1].reasons, 0x40);
    cr_assert_eq(h[0].reasons, 0x4);
    cr_assert_eq(h[2].ecc_uncorrected, 7);
    cr_assert_eq(h[0].ecc_uncorrected, 0);
    cr_assert_eq(h[2].remap_pending, 1);
    cr_assert_eq(h[1].remap_pending, 0);
    tb_health_close(hl);
}

Test(verdict, absent_nvml_reads_nothing)
{
    setenv("TRAINBENCH_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    char why[256] = "";
    cr_assert_null(tb_health_open(why, sizeof why));
    cr_assert(strstr(why, "/nonexistent"), "%s", why);
    tb_health h;
    tb_health_init(&h);
    tb_health_read(NULL, NULL, &h);
    cr_assert_eq(h.known, 0);
    cr_assert_eq(h.ecc_uncorrected, -1);
}
