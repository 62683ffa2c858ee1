/* A stand-in for libnvidia-ml.so.1 with fixed answers, so the NVML-present path is tested on
 * machines without a driver. One device, at PCI bus id 0000:01:00.0. With FAKE_NVML_NO_ENERGY
 * set, the total-energy counter is not supported (as on GPUs before Volta).
 *
 * Node-health faults, each "DEV:VALUE[,DEV:VALUE...]" (a device index):
 *   FAKE_NVML_DEVICES=N            N devices (default 1), device i at bus 0000:<i+1>:00.0
 *   FAKE_NVML_REASONS=D:MASK       clock-event reasons of device D (default 0x4, sw_power_cap)
 *   FAKE_NVML_ECC_UNCORRECTED=D:N  volatile uncorrectable ECC errors (default 0)
 *   FAKE_NVML_ECC_OFF=D:1          ECC mode off
 *   FAKE_NVML_REMAP_PENDING=D:1    a row remap pending
 *   FAKE_NVML_PCIE_WIDTH=D:W       the link trained at width W (maximum x16, gen 5 of 5) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long energy_mj = 5000;
static int devices[64];

static int n_devices(void)
{
    const char *v = getenv("FAKE_NVML_DEVICES");
    int n = v ? atoi(v) : 1;
    return n < 1 ? 1 : n > 64 ? 64 : n;
}

static int index_of(void *dev)
{
    return (int)((int *)dev - devices);
}

/* The value a "DEV:VALUE,..." variable gives device dev, or fallback. */
static unsigned long long knob(const char *name, void *dev, unsigned long long fallback)
{
    const char *v = getenv(name);
    int want = index_of(dev);
    while (v && *v) {
        char *end;
        long d = strtol(v, &end, 10);
        if (*end != ':')
            break;
        unsigned long long x = strtoull(end + 1, &end, 0);
        if (d == want)
            return x;
        v = *end == ',' ? end + 1 : NULL;
    }
    return fallback;
}

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int r) { return r ? "fake error" : "success"; }

int nvmlSystemGetDriverVersion(char *buf, unsigned len)
{
    snprintf(buf, len, "999.12.34");
    return 0;
}

int nvmlDeviceGetHandleByPciBusId_v2(const char *bus, void **dev)
{
    for (int i = 0; i < n_devices(); i++) {
        char id[32];
        snprintf(id, sizeof id, "0000:%02x:00.0", i + 1);
        if (strcmp(bus, id) == 0) {
            *dev = &devices[i];
            return 0;
        }
    }
    return 6; /* NVML_ERROR_NOT_FOUND */
}

int nvmlDeviceGetCount_v2(unsigned *count)
{
    *count = (unsigned)n_devices();
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, void **dev)
{
    if ((int)index >= n_devices())
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *dev = &devices[index];
    return 0;
}

/* type 0: corrected, 1: uncorrected; counter 0: volatile */
int nvmlDeviceGetTotalEccErrors(void *dev, int type, int counter, unsigned long long *n)
{
    (void)counter;
    *n = type == 1 ? knob("FAKE_NVML_ECC_UNCORRECTED", dev, 0) : 2;
    return 0;
}

int nvmlDeviceGetRemappedRows(void *dev, unsigned *corr, unsigned *unc, unsigned *pending,
                              unsigned *failed)
{
    *corr = 0;
    *unc = (unsigned)knob("FAKE_NVML_REMAP_PENDING", dev, 0);
    *pending = (unsigned)knob("FAKE_NVML_REMAP_PENDING", dev, 0);
    *failed = 0;
    return 0;
}

int nvmlDeviceGetCurrPcieLinkGeneration(void *dev, unsigned *g)
{
    (void)dev;
    *g = 5;
    return 0;
}

int nvmlDeviceGetMaxPcieLinkGeneration(void *dev, unsigned *g)
{
    (void)dev;
    *g = 5;
    return 0;
}

int nvmlDeviceGetCurrPcieLinkWidth(void *dev, unsigned *w)
{
    *w = (unsigned)knob("FAKE_NVML_PCIE_WIDTH", dev, 16);
    return 0;
}

int nvmlDeviceGetMaxPcieLinkWidth(void *dev, unsigned *w)
{
    (void)dev;
    *w = 16;
    return 0;
}

int nvmlDeviceGetClockInfo(void *dev, int type, unsigned *mhz)
{
    (void)dev;
    *mhz = type == 1 ? 1500 : 2619;
    return 0;
}

int nvmlDeviceGetMaxClockInfo(void *dev, int type, unsigned *mhz)
{
    (void)dev;
    *mhz = type == 1 ? 1980 : 2619;
    return 0;
}

int nvmlDeviceGetPowerUsage(void *dev, unsigned *mw)
{
    (void)dev;
    *mw = 350000;
    return 0;
}

/* each read advances the counter by 1000 mJ */
int nvmlDeviceGetTotalEnergyConsumption(void *dev, unsigned long long *mj)
{
    (void)dev;
    if (getenv("FAKE_NVML_NO_ENERGY"))
        return 3; /* NVML_ERROR_NOT_SUPPORTED */
    energy_mj += 1000;
    *mj = energy_mj;
    return 0;
}

int nvmlDeviceGetTemperature(void *dev, int sensor, unsigned *c)
{
    (void)dev, (void)sensor;
    *c = 61;
    return 0;
}

int nvmlDeviceGetCurrentClocksEventReasons(void *dev, unsigned long long *r)
{
    *r = knob("FAKE_NVML_REASONS", dev, 0x4); /* sw_power_cap */
    return 0;
}

int nvmlDeviceGetEnforcedPowerLimit(void *dev, unsigned *mw)
{
    (void)dev;
    *mw = 700000;
    return 0;
}

int nvmlDeviceGetEccMode(void *dev, int *cur, int *pending)
{
    *cur = *pending = knob("FAKE_NVML_ECC_OFF", dev, 0) ? 0 : 1;
    return 0;
}

int nvmlDeviceGetPersistenceMode(void *dev, int *mode)
{
    (void)dev;
    *mode = 1;
    return 0;
}

int nvmlDeviceGetMigMode(void *dev, unsigned *cur, unsigned *pending)
{
    (void)dev;
    *cur = *pending = 0;
    return 0;
}
