#include "specs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* REFERENCE.md, "Dense peaks per GPU" (NVIDIA datasheets). */
static const tb_spec specs[] = {
    {"A100 SXM 80GB", 80, 108, 19.5, 156, 312, 0, 2.0, 300, 400},
    {"H100 SXM", 90, 132, 67, 494.5, 989, 1979, 3.35, 450, 700},
    {"H200 SXM", 90, 132, 67, 494.5, 989, 1979, 4.8, 450, 700},
    {"B200 SXM", 100, 148, 80, 1125, 2250, 4500, 8.0, 900, 1000},
    {"B300 SXM", 103, 0, 80, 1125, 2250, 4500, 8.0, 900, 1000},
    {"GB200", 100, 0, 80, 1250, 2500, 5000, 8.0, 900, 1200},
};

/* Driver names → table rows. Most specific first; a name matches when it contains `has` and
 * does not contain `not`. */
static const struct {
    const char *has, *not_, *model;
} names[] = {
    {"A100-SXM4-80GB", NULL, "A100 SXM 80GB"},
    {"A100-SXM-80GB", NULL, "A100 SXM 80GB"},
    {"H100 80GB HBM3", NULL, "H100 SXM"},
    {"H100 SXM", NULL, "H100 SXM"},
    {"GH200", NULL, NULL}, /* Grace Hopper: not in the table, must not match H200/H100 */
    {"H200 NVL", NULL, NULL},
    {"H200", NULL, "H200 SXM"},
    {"GB200", NULL, "GB200"},
    {"B200", NULL, "B200 SXM"},
    {"GB300", NULL, NULL},
    {"B300", NULL, "B300 SXM"},
};

const tb_spec *tb_specs_lookup(const char *device_name)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strstr(device_name, names[i].has))
            continue;
        if (names[i].not_ && strstr(device_name, names[i].not_))
            continue;
        if (!names[i].model)
            return NULL;
        for (size_t j = 0; j < sizeof specs / sizeof specs[0]; j++)
            if (strcmp(specs[j].model, names[i].model) == 0)
                return &specs[j];
    }
    return NULL;
}

double tb_specs_flop_per_sm_clock(int cc, tb_peak_kind kind, tb_dtype dtype)
{
    int arch = cc / 10;
    if (kind == TB_PEAK_SIMT) {
        if (dtype != TB_FP32)
            return 0;
        if (cc == 80)
            return 128;
        return (arch == 9 || arch == 10) ? 256 : 0;
    }
    if (kind != TB_PEAK_TENSOR)
        return 0;
    double bf16;
    if (cc == 80)
        bf16 = 2048;
    else if (arch == 9)
        bf16 = 4096;
    else if (arch == 10)
        bf16 = 8192;
    else
        return 0;
    switch (dtype) {
    case TB_BF16:
    case TB_FP16: return bf16;
    case TB_TF32: return bf16 / 2;
    case TB_FP8E4M3: return cc == 80 ? 0 : bf16 * 2;
    default: return 0;
    }
}

static double datasheet_value(const tb_spec *s, tb_peak_kind kind, tb_dtype dtype)
{
    switch (kind) {
    case TB_PEAK_MEMORY: return s->hbm_tbps * 1000.0;
    case TB_PEAK_SIMT: return dtype == TB_FP32 ? s->fp32_tflops : 0;
    case TB_PEAK_TENSOR:
        switch (dtype) {
        case TB_BF16:
        case TB_FP16: return s->bf16_tflops;
        case TB_TF32: return s->tf32_tflops;
        case TB_FP8E4M3: return s->fp8_tflops;
        default: return 0;
        }
    case TB_PEAK_NONE: return 0;
    }
    return 0;
}

void tb_specs_peak(const tb_device *dev, tb_peak_kind kind, tb_dtype dtype, tb_peak *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->unit = kind == TB_PEAK_MEMORY ? "GB/s" : "TFLOP/s";
    if (kind == TB_PEAK_NONE) {
        snprintf(out->note, sizeof out->note, "no peak for this measurement");
        return;
    }
    if (dev->is_host) {
        snprintf(out->note, sizeof out->note, "no peak known for the host");
        return;
    }
    if (kind == TB_PEAK_MEMORY) {
        /* double data rate: two transfers per memory clock */
        out->derived = 2.0 * dev->max_mem_clock_khz * 1e3 * (dev->bus_width_bits / 8.0) / 1e9;
    } else {
        double rate = tb_specs_flop_per_sm_clock(tb_device_cc(dev), kind, dtype);
        out->derived = dev->sm_count * (dev->max_sm_clock_khz * 1e3) * rate / 1e12;
    }
    const tb_spec *s = tb_specs_lookup(dev->name);
    if (!s) {
        snprintf(out->note, sizeof out->note, "'%s' is not in the spec table", dev->name);
        return;
    }
    out->datasheet = datasheet_value(s, kind, dtype);
    if (out->derived <= 0 || out->datasheet <= 0) {
        snprintf(out->note, sizeof out->note, "no %s peak for %s on %s",
                 kind == TB_PEAK_MEMORY ? "memory" : tb_dtype_name(dtype), s->model, dev->name);
        return;
    }
    double gap = fabs(out->derived - out->datasheet) / out->datasheet;
    if (gap > TB_SPECS_AGREEMENT) {
        snprintf(out->note, sizeof out->note,
                 "derived peak %.4g %s is %.0f%% away from the %s datasheet's %.4g", out->derived,
                 out->unit, gap * 100, s->model, out->datasheet);
        return;
    }
    out->usable = 1;
}
