/* nvml.h - GPU telemetry through NVML, loaded at run time with dlopen so one binary runs on
 * any driver and on machines with none. Read-only: nothing here changes a device setting.
 *
 * The library name is libnvidia-ml.so.1; the environment variable TRAINBENCH_NVML_LIB
 * replaces it (a path that does not exist gives the NVML-absent path on any machine). */
#ifndef TB_NVML_H
#define TB_NVML_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_nvml tb_nvml;

/* Loads and initializes NVML. Returns NULL when it cannot, with the reason in why. */
tb_nvml *tb_nvml_open(char *why, size_t whylen);

/* The NVML library itself (TRAINBENCH_NVML_LIB, else libnvidia-ml.so.1), for readers of other
 * NVML calls; NULL with the reason in why. */
void *tb_nvml_dlopen(char *why, size_t whylen);
/* The library's name as tb_nvml_dlopen loads it. */
const char *tb_nvml_lib_name(void);
/* The symbol a, else b (NULL: none), of a library from tb_nvml_dlopen. */
void *tb_nvml_sym(void *lib, const char *a, const char *b);
void tb_nvml_close(tb_nvml *n);

/* The driver version string ("570.86.15"), or "" when unknown. */
void tb_nvml_driver_version(tb_nvml *n, char *buf, size_t buflen);

/* An opaque NVML device handle found by PCI bus id; NULL when not found or n is NULL. */
void *tb_nvml_device(tb_nvml *n, const char *pci_bus_id);

/* Static facts for the context record; each field is -1 when unknown. */
typedef struct {
    double power_limit_w;
    int ecc;           /* current ECC mode: 1 on, 0 off */
    int persistence;   /* 1 on, 0 off */
    int mig;           /* 1 on, 0 off */
    int max_sm_mhz, max_mem_mhz;
} tb_nvml_info;
void tb_nvml_device_info(tb_nvml *n, void *dev, tb_nvml_info *out);

/* Telemetry over one case's timed samples. begin and end read only the total-energy
 * counter, before the first sample and after the last; the sampler calls sample while its
 * work runs on the GPU (never while the GPU idles between samples or on the blocking
 * kernel), so clocks, power readings, temperature and reasons describe the timed work, and
 * add_busy with each sample's GPU time. Every figure is NAN (JSON null) when NVML or the
 * counter is unavailable, never 0. */
typedef struct {
    int have_clock, have_power, have_energy, have_temp, have_reasons;
    double clock_sum_mhz;
    int clock_n;
    double power_sum_w;
    int power_n;
    unsigned long long energy_start_mj, energy_end_mj;
    double busy_s;              /* GPU time of the timed samples, seconds */
    unsigned temp_max_c;
    unsigned long long reasons; /* OR of every sample's clock-event (throttle) reasons */
    double last_sample_time;
} tb_telemetry;

void tb_telemetry_begin(tb_nvml *n, void *dev, tb_telemetry *t);
/* Samples clock, power, temperature and reasons; cheap to call often (it reads at most
 * once per 10 ms of wall time). Call it only while the timed work runs on the GPU. */
void tb_telemetry_sample(tb_nvml *n, void *dev, tb_telemetry *t);
/* Adds one timed sample's GPU time (seconds). */
void tb_telemetry_add_busy(tb_telemetry *t, double gpu_s);
void tb_telemetry_end(tb_nvml *n, void *dev, tb_telemetry *t);

double tb_telemetry_clock_mhz(const tb_telemetry *t);
/* Mean board power over the timed work: the energy counter's delta over the samples
 * divided by their GPU time ("energy"). Where the counter is missing or did not advance
 * (it updates every 20-100 ms), the mean of nvmlDeviceGetPowerUsage read during the samples
 * ("power_usage"). NAN when neither exists. */
double tb_telemetry_power_w(const tb_telemetry *t);
/* Where power_w came from: "energy", "power_usage", or NULL when it is NAN. */
const char *tb_telemetry_power_source(const tb_telemetry *t);
double tb_telemetry_energy_j(const tb_telemetry *t);
double tb_telemetry_temp_c(const tb_telemetry *t);

/* The names of the reasons set in a clock-event mask ("sw_power_cap", "hw_thermal_slowdown"),
 * at most max of them; returns how many were written. */
int tb_nvml_reason_names(unsigned long long mask, const char **names, int max);

#ifdef __cplusplus
}
#endif
#endif
