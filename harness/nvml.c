#include "nvml.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timer.h"

/* The few NVML entry points used, declared here: nvml.h is not part of the CUDA toolkit. */
typedef int nvml_ret;
typedef void *nvml_dev;
enum { NVML_OK = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2, NVML_TEMP_GPU = 0 };

struct tb_nvml {
    void *lib;
    nvml_ret (*init)(void);
    nvml_ret (*shutdown)(void);
    const char *(*error_string)(nvml_ret);
    nvml_ret (*driver_version)(char *, unsigned);
    nvml_ret (*by_pci)(const char *, nvml_dev *);
    nvml_ret (*clock)(nvml_dev, int, unsigned *);
    nvml_ret (*max_clock)(nvml_dev, int, unsigned *);
    nvml_ret (*power)(nvml_dev, unsigned *);
    nvml_ret (*energy)(nvml_dev, unsigned long long *);
    nvml_ret (*temp)(nvml_dev, int, unsigned *);
    nvml_ret (*reasons)(nvml_dev, unsigned long long *);
    nvml_ret (*power_limit)(nvml_dev, unsigned *);
    nvml_ret (*ecc)(nvml_dev, int *, int *);
    nvml_ret (*persistence)(nvml_dev, int *);
    nvml_ret (*mig)(nvml_dev, unsigned *, unsigned *);
};

void *tb_nvml_sym(void *lib, const char *a, const char *b)
{
    void *p = dlsym(lib, a);
    if (!p && b)
        p = dlsym(lib, b);
    return p;
}

const char *tb_nvml_lib_name(void)
{
    const char *name = getenv("TRAINBENCH_NVML_LIB");
    return name && *name ? name : "libnvidia-ml.so.1";
}

void *tb_nvml_dlopen(char *why, size_t whylen)
{
    const char *name = tb_nvml_lib_name();
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        snprintf(why, whylen, "cannot load %s (%s)", name, dlerror());
    return lib;
}

tb_nvml *tb_nvml_open(char *why, size_t whylen)
{
    void *lib = tb_nvml_dlopen(why, whylen);
    if (!lib)
        return NULL;
    tb_nvml *n = calloc(1, sizeof *n);
    if (!n) {
        dlclose(lib);
        snprintf(why, whylen, "out of host memory");
        return NULL;
    }
    n->lib = lib;
    *(void **)&n->init = tb_nvml_sym(lib, "nvmlInit_v2", "nvmlInit");
    *(void **)&n->shutdown = tb_nvml_sym(lib, "nvmlShutdown", NULL);
    *(void **)&n->error_string = tb_nvml_sym(lib, "nvmlErrorString", NULL);
    *(void **)&n->driver_version = tb_nvml_sym(lib, "nvmlSystemGetDriverVersion", NULL);
    *(void **)&n->by_pci = tb_nvml_sym(lib, "nvmlDeviceGetHandleByPciBusId_v2",
                               "nvmlDeviceGetHandleByPciBusId");
    *(void **)&n->clock = tb_nvml_sym(lib, "nvmlDeviceGetClockInfo", NULL);
    *(void **)&n->max_clock = tb_nvml_sym(lib, "nvmlDeviceGetMaxClockInfo", NULL);
    *(void **)&n->power = tb_nvml_sym(lib, "nvmlDeviceGetPowerUsage", NULL);
    *(void **)&n->energy = tb_nvml_sym(lib, "nvmlDeviceGetTotalEnergyConsumption", NULL);
    *(void **)&n->temp = tb_nvml_sym(lib, "nvmlDeviceGetTemperature", NULL);
    *(void **)&n->reasons = tb_nvml_sym(lib, "nvmlDeviceGetCurrentClocksEventReasons",
                                "nvmlDeviceGetCurrentClocksThrottleReasons");
    *(void **)&n->power_limit = tb_nvml_sym(lib, "nvmlDeviceGetEnforcedPowerLimit", NULL);
    *(void **)&n->ecc = tb_nvml_sym(lib, "nvmlDeviceGetEccMode", NULL);
    *(void **)&n->persistence = tb_nvml_sym(lib, "nvmlDeviceGetPersistenceMode", NULL);
    *(void **)&n->mig = tb_nvml_sym(lib, "nvmlDeviceGetMigMode", NULL);
    if (!n->init || !n->shutdown || !n->by_pci) {
        snprintf(why, whylen, "%s lacks nvmlInit/nvmlDeviceGetHandleByPciBusId",
                 tb_nvml_lib_name());
        dlclose(lib);
        free(n);
        return NULL;
    }
    nvml_ret r = n->init();
    if (r != NVML_OK) {
        snprintf(why, whylen, "nvmlInit failed: %s (%d)",
                 n->error_string ? n->error_string(r) : "error", r);
        dlclose(lib);
        free(n);
        return NULL;
    }
    return n;
}

void tb_nvml_close(tb_nvml *n)
{
    if (!n)
        return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
}

void tb_nvml_driver_version(tb_nvml *n, char *buf, size_t buflen)
{
    buf[0] = '\0';
    if (n && n->driver_version && n->driver_version(buf, (unsigned)buflen) != NVML_OK)
        buf[0] = '\0';
}

void *tb_nvml_device(tb_nvml *n, const char *pci_bus_id)
{
    if (!n || !pci_bus_id || !*pci_bus_id)
        return NULL;
    nvml_dev d = NULL;
    return n->by_pci(pci_bus_id, &d) == NVML_OK ? d : NULL;
}

void tb_nvml_device_info(tb_nvml *n, void *dev, tb_nvml_info *out)
{
    out->power_limit_w = -1;
    out->ecc = out->persistence = out->mig = -1;
    out->max_sm_mhz = out->max_mem_mhz = -1;
    if (!n || !dev)
        return;
    unsigned u, u2;
    int i, i2;
    if (n->power_limit && n->power_limit(dev, &u) == NVML_OK)
        out->power_limit_w = u / 1000.0;
    if (n->ecc && n->ecc(dev, &i, &i2) == NVML_OK)
        out->ecc = i;
    if (n->persistence && n->persistence(dev, &i) == NVML_OK)
        out->persistence = i;
    if (n->mig && n->mig(dev, &u, &u2) == NVML_OK)
        out->mig = (int)u;
    if (n->max_clock && n->max_clock(dev, NVML_CLOCK_SM, &u) == NVML_OK)
        out->max_sm_mhz = (int)u;
    if (n->max_clock && n->max_clock(dev, NVML_CLOCK_MEM, &u) == NVML_OK)
        out->max_mem_mhz = (int)u;
}

static void sample_now(tb_nvml *n, void *dev, tb_telemetry *t)
{
    unsigned u;
    unsigned long long r;
    if (n->clock && n->clock(dev, NVML_CLOCK_SM, &u) == NVML_OK) {
        t->have_clock = 1;
        t->clock_sum_mhz += u;
        t->clock_n++;
    }
    if (n->power && n->power(dev, &u) == NVML_OK) {
        t->have_power = 1;
        t->power_sum_w += u / 1000.0;
        t->power_n++;
    }
    if (n->temp && n->temp(dev, NVML_TEMP_GPU, &u) == NVML_OK) {
        t->have_temp = 1;
        if (u > t->temp_max_c)
            t->temp_max_c = u;
    }
    if (n->reasons && n->reasons(dev, &r) == NVML_OK) {
        t->have_reasons = 1;
        t->reasons |= r;
    }
    t->last_sample_time = tb_clock_monotonic(NULL);
}

void tb_telemetry_begin(tb_nvml *n, void *dev, tb_telemetry *t)
{
    memset(t, 0, sizeof *t);
    if (!n || !dev)
        return;
    if (n->energy && n->energy(dev, &t->energy_start_mj) == NVML_OK)
        t->have_energy = 1;
}

void tb_telemetry_sample(tb_nvml *n, void *dev, tb_telemetry *t)
{
    if (!n || !dev)
        return;
    if (t->last_sample_time > 0 && tb_clock_monotonic(NULL) - t->last_sample_time < 0.010)
        return;
    sample_now(n, dev, t);
}

void tb_telemetry_add_busy(tb_telemetry *t, double gpu_s)
{
    if (gpu_s > 0)
        t->busy_s += gpu_s;
}

void tb_telemetry_end(tb_nvml *n, void *dev, tb_telemetry *t)
{
    if (!n || !dev)
        return;
    if (t->have_energy && !(n->energy(dev, &t->energy_end_mj) == NVML_OK &&
                            t->energy_end_mj >= t->energy_start_mj))
        t->have_energy = 0;
}

double tb_telemetry_clock_mhz(const tb_telemetry *t)
{
    return t->have_clock && t->clock_n ? t->clock_sum_mhz / t->clock_n : NAN;
}

/* the counter gives the power only when it advanced over samples that took GPU time */
static int power_from_energy(const tb_telemetry *t)
{
    return t->have_energy && t->energy_end_mj > t->energy_start_mj && t->busy_s > 0;
}

double tb_telemetry_power_w(const tb_telemetry *t)
{
    if (power_from_energy(t))
        return (double)(t->energy_end_mj - t->energy_start_mj) / 1000.0 / t->busy_s;
    return t->have_power && t->power_n ? t->power_sum_w / t->power_n : NAN;
}

const char *tb_telemetry_power_source(const tb_telemetry *t)
{
    if (power_from_energy(t))
        return "energy";
    return t->have_power && t->power_n ? "power_usage" : NULL;
}

double tb_telemetry_energy_j(const tb_telemetry *t)
{
    return t->have_energy ? (double)(t->energy_end_mj - t->energy_start_mj) / 1000.0 : NAN;
}

double tb_telemetry_temp_c(const tb_telemetry *t)
{
    return t->have_temp ? (double)t->temp_max_c : NAN;
}

int tb_nvml_reason_names(unsigned long long mask, const char **names, int max)
{
    /* nvmlClocksEventReason* bits */
    static const struct {
        unsigned long long bit;
        const char *name;
    } table[] = {
        {0x1ULL, "gpu_idle"},
        {0x2ULL, "applications_clocks_setting"},
        {0x4ULL, "sw_power_cap"},
        {0x8ULL, "hw_slowdown"},
        {0x10ULL, "sync_boost"},
        {0x20ULL, "sw_thermal_slowdown"},
        {0x40ULL, "hw_thermal_slowdown"},
        {0x80ULL, "hw_power_brake_slowdown"},
        {0x100ULL, "display_clock_setting"},
    };
    int k = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0] && k < max; i++)
        if (mask & table[i].bit)
            names[k++] = table[i].name;
    return k;
}
