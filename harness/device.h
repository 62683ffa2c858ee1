/* device.h - the devices a run can use: CUDA GPUs, found through the runtime, and the host
 * pseudo-device that runs the CPU references through the same pipeline. */
#ifndef TB_DEVICE_H
#define TB_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int is_host;
    int ordinal;            /* CUDA device index; -1 for the host */
    char name[256];
    char uuid[64];          /* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; "" for the host */
    char pci_bus_id[32];    /* "0000:18:00.0"; "" for the host */
    int cc_major, cc_minor; /* 0 for the host */
    int sm_count;           /* SMs; logical CPUs for the host */
    int max_sm_clock_khz;   /* cudaDevAttrClockRate */
    int max_mem_clock_khz;  /* cudaDevAttrMemoryClockRate */
    int bus_width_bits;     /* cudaDevAttrGlobalMemoryBusWidth */
    int64_t mem_bytes;      /* device memory; host: physical memory */
    int l2_bytes;
    int ecc_enabled;        /* 1, 0, or -1 unknown */
} tb_device;

/* Compute capability as 10*major + minor (90 for 9.0). */
int tb_device_cc(const tb_device *d);

/* Finds every visible CUDA device. On success *devs (free with free()) holds *count >= 1
 * devices. With none, returns TB_NODEV and a message saying why (no driver, driver too old,
 * no device visible) and what to do. */
tb_status tb_device_discover(tb_device **devs, int *count, tb_err *err);

/* Explains a CUDA error from device discovery, in words a person can act on. */
void tb_device_explain_init_error(int cuda_error, int driver_version, int runtime_version,
                                  char *buf, size_t buflen);

/* Fills d with the host pseudo-device (CPU model, logical CPUs, memory). */
void tb_device_host(tb_device *d);

/* Reads the CPU model name from /proc/cpuinfo (or "unknown"). */
void tb_device_cpu_model(char *buf, size_t buflen);

/* Bytes of host memory available now (MemAvailable), or -1 if unknown. */
int64_t tb_device_host_mem_available(void);

/* TB_SKIP ("needs 12.00 GiB of device memory, 10.31 GiB free") when the current device has
 * less than device_bytes (+256 MiB) free, or the host less than host_bytes / 0.8 available;
 * TB_OK otherwise (or TB_DEVFAIL when the runtime cannot say). */
tb_status tb_device_need_memory(double device_bytes, double host_bytes, tb_err *err);

/* Formats a CUDA version integer (12040) as "12.4". */
char *tb_device_format_cuda_version(int v, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
