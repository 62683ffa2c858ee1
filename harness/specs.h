/* specs.h - peak figures: the device's own (SM count, clocks, bus width times per-architecture
 * rates) checked against the published datasheet table of REFERENCE.md.
 *
 * A % of peak is reported only when the device is in the table and the derived figure agrees
 * with the datasheet within TB_SPECS_AGREEMENT; otherwise no % at all rather than a wrong one. */
#ifndef TB_SPECS_H
#define TB_SPECS_H

#include "bench.h"
#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_SPECS_AGREEMENT 0.15

typedef struct {
    const char *model;      /* "H100 SXM" */
    int cc;                 /* 90 */
    int sms;                /* 0 when not published */
    double fp32_tflops, tf32_tflops, bf16_tflops, fp8_tflops; /* dense; 0: none */
    double hbm_tbps;
    double nvlink_gbps;     /* per GPU, one direction */
    double max_power_w;
} tb_spec;

/* The datasheet row for a device name as the driver reports it ("NVIDIA H100 80GB HBM3"),
 * or NULL when the model is not in the table. */
const tb_spec *tb_specs_lookup(const char *device_name);

/* Dense FLOP per SM per clock for a kind of peak and dtype on a compute capability (x10),
 * or 0 when the architecture or dtype has no known rate. */
double tb_specs_flop_per_sm_clock(int cc, tb_peak_kind kind, tb_dtype dtype);

typedef struct {
    tb_peak_kind kind;
    const char *unit;   /* "GB/s" or "TFLOP/s" */
    double derived;     /* from the device's own numbers; 0 when unknown */
    double datasheet;   /* from the table; 0 when the device or dtype is not in it */
    int usable;         /* both known and within TB_SPECS_AGREEMENT: % of peak may be shown */
    char note[400];     /* why not usable, when not */
} tb_peak;

/* The peak of a kind for a device and dtype. The host has none. */
void tb_specs_peak(const tb_device *dev, tb_peak_kind kind, tb_dtype dtype, tb_peak *out);

#ifdef __cplusplus
}
#endif
#endif
