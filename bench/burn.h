/* burn.h - sustained load: a large GEMM on every device back to back for S seconds, every
 * output compared bit for bit with the first run's (the same inputs must give the same bits:
 * a difference is silent data corruption), while NVML records clocks, power, temperature and
 * throttle reasons. The throughput of the first window (a minute, or a third of shorter burns)
 * is compared with the last; the last window gives the steady-state clock and power. */
#ifndef TB_BURN_H
#define TB_BURN_H

#include <stddef.h>
#include <stdint.h>

#include "../harness/device.h"
#include "../harness/error.h"
#include "../harness/fault.h"
#include "../harness/health.h"
#include "../harness/nvml.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One execution of the burn: when it ended (seconds from the start) and how long it took. */
typedef struct {
    double end_s, dur_s;
} tb_burn_iter;

typedef struct {
    int device;
    tb_status status;       /* TB_OK, TB_WRONG (a bit differed), TB_SKIP, TB_DEVFAIL */
    char reason[256];
    char impl[32];          /* "cublas", "wgmma_persistent", "host" ... */
    long iters;
    long sdc_iters;         /* executions whose output differed from the first's */
    int64_t sdc_words;      /* words that differed, over every execution */
    double seconds;
    double window_s;        /* the first and last windows' length */
    double tflops_first, tflops_last; /* mean throughput in the first and last window */
    double decay;           /* 1 - last / first */
    double clock_mhz, power_w; /* steady state: means over the last window (NAN: unknown) */
    double temp_max_c;
    tb_health health;       /* throttle reasons ORed over the burn, ECC counts after it */
} tb_burn_result;

/* The window: a minute, or a third of a burn shorter than three minutes. */
double tb_burn_window(double seconds);

/* Fills tflops_first, tflops_last and decay from the executions (each of flops), over the
 * first and last window of the burn's length (r->seconds). An execution counts in a window
 * when it ended in it. Figures are NAN when a window has none. */
void tb_burn_throughput(const tb_burn_iter *it, long n, double flops, tb_burn_result *r);

/* Words of out[0..n) that differ from first[0..n) bit for bit. */
int64_t tb_burn_diff(const uint32_t *first, const uint32_t *out, size_t n);

typedef struct {
    double seconds;
    uint64_t seed;
    const tb_fault *fault;  /* slow-device:N slows device N's executions (host) */
    tb_health_lib *health;  /* may be NULL */
    tb_nvml *nvml;          /* may be NULL */
    int n;                  /* GEMM size (n x n x n) */
} tb_burn_opts;

/* Burns every host pseudo-device in turn (a GEMM of bf16-rounded inputs, fp32 accumulate, in a
 * fixed order), timed by the harness's sampler, health_devs[d] (may be NULL) read for device d
 * while it runs. TRAINBENCH_TEST_FAULT=late-corruption:N flips one bit of every execution after
 * the Nth (SDC). results: n_dev. */
tb_status tb_burn_host(const tb_device *devs, int n_dev, const tb_burn_opts *o,
                       void *const *health_devs, tb_burn_result *results, tb_err *err);

/* Burns every GPU at once with cuBLAS bf16 GEMM. */
tb_status tb_burn_gpu(const tb_device *devs, int n_dev, const tb_burn_opts *o,
                      void *const *health_devs, tb_burn_result *results, tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
