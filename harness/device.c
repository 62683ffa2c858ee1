#include "device.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tb_device_cc(const tb_device *d)
{
    return d->cc_major * 10 + d->cc_minor;
}

char *tb_device_format_cuda_version(int v, char *buf, size_t buflen)
{
    if (v <= 0)
        snprintf(buf, buflen, "none");
    else
        snprintf(buf, buflen, "%d.%d", v / 1000, (v % 1000) / 10);
    return buf;
}

void tb_device_explain_init_error(int cuda_error, int driver_version, int runtime_version,
                                  char *buf, size_t buflen)
{
    char dv[16], rv[16];
    tb_device_format_cuda_version(driver_version, dv, sizeof dv);
    tb_device_format_cuda_version(runtime_version, rv, sizeof rv);
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    switch (cuda_error) {
    case cudaErrorInsufficientDriver:
        if (driver_version <= 0)
            snprintf(buf, buflen,
                     "no CUDA device: no NVIDIA driver is installed or loaded (libcuda.so.1 not "
                     "found; this build needs a driver for CUDA %s or newer)",
                     rv);
        else
            snprintf(buf, buflen,
                     "no CUDA device: the NVIDIA driver supports CUDA %s, older than this "
                     "build's CUDA runtime %s; update the driver",
                     dv, rv);
        break;
    case cudaErrorNoDevice:
        if (visible)
            snprintf(buf, buflen, "no CUDA device: none is visible (CUDA_VISIBLE_DEVICES='%s')",
                     visible);
        else
            snprintf(buf, buflen, "no CUDA device: the driver (CUDA %s) sees no GPU", dv);
        break;
    case cudaSuccess:
        snprintf(buf, buflen, "no CUDA device: the runtime reports 0 devices");
        break;
    default:
        snprintf(buf, buflen, "no CUDA device: cudaGetDeviceCount failed: %s (%s)",
                 cudaGetErrorName((cudaError_t)cuda_error),
                 cudaGetErrorString((cudaError_t)cuda_error));
        break;
    }
}

static int attr(int dev, enum cudaDeviceAttr a)
{
    int v = 0;
    if (cudaDeviceGetAttribute(&v, a, dev) != cudaSuccess)
        return 0;
    return v;
}

static void format_uuid(const unsigned char *b, char *buf, size_t buflen)
{
    snprintf(buf, buflen,
             "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

tb_status tb_device_discover(tb_device **devs, int *count, tb_err *err)
{
    *devs = NULL;
    *count = 0;
    int n = 0, dv = 0, rv = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        cudaGetLastError(); /* clear the non-sticky error */
        cudaDriverGetVersion(&dv);
        cudaRuntimeGetVersion(&rv);
        char why[512];
        tb_device_explain_init_error(e, dv, rv, why, sizeof why);
        return tb_err_set(err, TB_NODEV, "%s", why);
    }
    tb_device *d = calloc((size_t)n, sizeof *d);
    if (!d)
        return tb_err_set(err, TB_NODEV, "out of host memory listing %d devices", n);
    for (int i = 0; i < n; i++) {
        struct cudaDeviceProp p;
        e = cudaGetDeviceProperties(&p, i);
        if (e != cudaSuccess) {
            free(d);
            return tb_err_set(err, TB_NODEV, "cudaGetDeviceProperties(%d) failed: %s", i,
                              cudaGetErrorString(e));
        }
        tb_device *x = &d[i];
        x->ordinal = i;
        snprintf(x->name, sizeof x->name, "%s", p.name);
        format_uuid((const unsigned char *)p.uuid.bytes, x->uuid, sizeof x->uuid);
        if (cudaDeviceGetPCIBusId(x->pci_bus_id, (int)sizeof x->pci_bus_id, i) != cudaSuccess)
            x->pci_bus_id[0] = '\0';
        x->cc_major = attr(i, cudaDevAttrComputeCapabilityMajor);
        x->cc_minor = attr(i, cudaDevAttrComputeCapabilityMinor);
        x->sm_count = attr(i, cudaDevAttrMultiProcessorCount);
        x->max_sm_clock_khz = attr(i, cudaDevAttrClockRate);
        x->max_mem_clock_khz = attr(i, cudaDevAttrMemoryClockRate);
        x->bus_width_bits = attr(i, cudaDevAttrGlobalMemoryBusWidth);
        x->l2_bytes = attr(i, cudaDevAttrL2CacheSize);
        x->ecc_enabled = attr(i, cudaDevAttrEccEnabled);
        x->mem_bytes = (int64_t)p.totalGlobalMem;
    }
    *devs = d;
    *count = n;
    return TB_OK;
}

void tb_device_cpu_model(char *buf, size_t buflen)
{
    snprintf(buf, buflen, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                snprintf(buf, buflen, "%s", c);
                buf[strcspn(buf, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

int64_t tb_device_host_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t kb = -1;
    while (fgets(line, sizeof line, f)) {
        long long v;
        if (sscanf(line, "MemAvailable: %lld kB", &v) == 1) {
            kb = v;
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

void tb_device_host(tb_device *d)
{
    memset(d, 0, sizeof *d);
    d->is_host = 1;
    d->ordinal = -1;
    char model[200];
    tb_device_cpu_model(model, sizeof model);
    snprintf(d->name, sizeof d->name, "host (%s)", model);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    d->sm_count = cpus > 0 ? (int)cpus : 1;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    d->mem_bytes = (pages > 0 && psize > 0) ? (int64_t)pages * psize : -1;
    d->ecc_enabled = -1;
}

tb_status tb_device_need_memory(double device_bytes, double host_bytes, tb_err *err)
{
    const double gib = 1024.0 * 1024.0 * 1024.0;
    if (device_bytes > 0) {
        size_t free_b = 0, total_b = 0;
        cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
        if (e != cudaSuccess)
            return tb_err_set(err, TB_DEVFAIL, "cudaMemGetInfo failed: %s", cudaGetErrorString(e));
        if (device_bytes + 256.0 * 1024 * 1024 > (double)free_b)
            return tb_err_set(err, TB_SKIP, "needs %.2f GiB of device memory, %.2f GiB free",
                              device_bytes / gib, (double)free_b / gib);
    }
    if (host_bytes > 0) {
        int64_t avail = tb_device_host_mem_available();
        if (avail > 0 && host_bytes > 0.8 * (double)avail)
            return tb_err_set(err, TB_SKIP, "needs %.2f GiB of host memory, %.2f GiB available",
                              host_bytes / gib, (double)avail / gib);
    }
    return TB_OK;
}
