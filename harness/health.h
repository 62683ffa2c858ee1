/* health.h - the health facts of a GPU that decide node acceptance, read through NVML (loaded
 * at run time like nvml.h, from the same library): ECC mode and error counts, remapped rows,
 * retired pages, PCIe link generation and width against their maximum, clock-event (throttle)
 * reasons. Read-only. Every fact NVML cannot give is -1 (unknown), never 0. */
#ifndef TB_HEALTH_H
#define TB_HEALTH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int known;                  /* 1 when NVML answered for this device */
    int ecc_mode;               /* current ECC mode: 1 on, 0 off, -1 unknown */
    long long ecc_uncorrected;  /* volatile (since driver load) uncorrectable errors */
    long long ecc_corrected;    /* volatile correctable errors */
    long long rows_remapped_unc; /* rows remapped for uncorrectable errors */
    int remap_pending;          /* a row remap waits for a GPU reset */
    int remap_failed;           /* a remap failed: the GPU has run out of spare rows */
    int retired_pending;        /* a page retirement waits for a reboot (pre-Ampere) */
    int pcie_gen, pcie_gen_max;
    int pcie_width, pcie_width_max;
    int have_reasons;
    unsigned long long reasons; /* clock-event reasons (nvml.h bits), OR of the reads */
} tb_health;

typedef struct tb_health_lib tb_health_lib;

/* Loads NVML (libnvidia-ml.so.1, or TRAINBENCH_NVML_LIB). NULL with the reason in why. */
tb_health_lib *tb_health_open(char *why, size_t whylen);
void tb_health_close(tb_health_lib *h);

/* Devices NVML sees (0 when h is NULL or it cannot say). */
int tb_health_count(tb_health_lib *h);

/* A device handle by PCI bus id (pci non-empty) or else by NVML index; NULL when not found. */
void *tb_health_device(tb_health_lib *h, const char *pci, int index);

/* Fills out with every fact NVML gives for dev (unknown: -1); out->known = 0 when dev or h is
 * NULL. Reasons read now are ORed into what out already holds when out->have_reasons. */
void tb_health_read(tb_health_lib *h, void *dev, tb_health *out);

/* ORs the clock-event reasons of now into out (call it while the GPU is loaded: an idle GPU
 * reports gpu_idle only). Also refreshes the PCIe generation and width, which an idle GPU
 * lowers to save power. */
void tb_health_sample_load(tb_health_lib *h, void *dev, tb_health *out);

/* An empty record: known 0, every fact -1. */
void tb_health_init(tb_health *out);

#ifdef __cplusplus
}
#endif
#endif
