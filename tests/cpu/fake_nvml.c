/* A stand-in for libnvidia-ml.so.1 with fixed answers, so the NVML-present path is tested on
 * machines without a driver. One device, at PCI bus id 0000:01:00.0. With FAKE_NVML_NO_ENERGY
 * set, the total-energy counter is not supported (as on GPUs before Volta). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long energy_mj = 5000;
static int the_device;

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
    if (strcmp(bus, "0000:01:00.0") != 0)
        return 6; /* NVML_ERROR_NOT_FOUND */
    *dev = &the_device;
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
    (void)dev;
    *r = 0x4; /* sw_power_cap */
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
    (void)dev;
    *cur = *pending = 1;
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
