#include "health.h"
#include "nvml.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The NVML entry points used, declared here (nvml.h is not part of the CUDA toolkit). */
typedef int nvml_ret;
typedef void *nvml_dev;
enum { ECC_CORRECTED = 0, ECC_UNCORRECTED = 1, ECC_VOLATILE = 0 };

struct tb_health_lib {
    void *lib;
    nvml_ret (*shutdown)(void);
    nvml_ret (*count)(unsigned *);
    nvml_ret (*by_index)(unsigned, nvml_dev *);
    nvml_ret (*by_pci)(const char *, nvml_dev *);
    nvml_ret (*ecc_mode)(nvml_dev, int *, int *);
    nvml_ret (*ecc_total)(nvml_dev, int, int, unsigned long long *);
    nvml_ret (*remapped)(nvml_dev, unsigned *, unsigned *, unsigned *, unsigned *);
    nvml_ret (*retired_pending)(nvml_dev, int *);
    nvml_ret (*gen)(nvml_dev, unsigned *);
    nvml_ret (*gen_max)(nvml_dev, unsigned *);
    nvml_ret (*width)(nvml_dev, unsigned *);
    nvml_ret (*width_max)(nvml_dev, unsigned *);
    nvml_ret (*reasons)(nvml_dev, unsigned long long *);
};

tb_health_lib *tb_health_open(char *why, size_t whylen)
{
    void *lib = tb_nvml_dlopen(why, whylen);
    if (!lib)
        return NULL;
    tb_health_lib *h = calloc(1, sizeof *h);
    if (!h) {
        dlclose(lib);
        snprintf(why, whylen, "out of host memory");
        return NULL;
    }
    h->lib = lib;
    nvml_ret (*init)(void);
    *(void **)&init = tb_nvml_sym(lib, "nvmlInit_v2", "nvmlInit");
    *(void **)&h->shutdown = tb_nvml_sym(lib, "nvmlShutdown", NULL);
    *(void **)&h->count = tb_nvml_sym(lib, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    *(void **)&h->by_index = tb_nvml_sym(lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    *(void **)&h->by_pci = tb_nvml_sym(lib, "nvmlDeviceGetHandleByPciBusId_v2",
                               "nvmlDeviceGetHandleByPciBusId");
    *(void **)&h->ecc_mode = tb_nvml_sym(lib, "nvmlDeviceGetEccMode", NULL);
    *(void **)&h->ecc_total = tb_nvml_sym(lib, "nvmlDeviceGetTotalEccErrors", NULL);
    *(void **)&h->remapped = tb_nvml_sym(lib, "nvmlDeviceGetRemappedRows", NULL);
    *(void **)&h->retired_pending = tb_nvml_sym(lib, "nvmlDeviceGetRetiredPagesPendingStatus", NULL);
    *(void **)&h->gen = tb_nvml_sym(lib, "nvmlDeviceGetCurrPcieLinkGeneration", NULL);
    *(void **)&h->gen_max = tb_nvml_sym(lib, "nvmlDeviceGetMaxPcieLinkGeneration", NULL);
    *(void **)&h->width = tb_nvml_sym(lib, "nvmlDeviceGetCurrPcieLinkWidth", NULL);
    *(void **)&h->width_max = tb_nvml_sym(lib, "nvmlDeviceGetMaxPcieLinkWidth", NULL);
    *(void **)&h->reasons = tb_nvml_sym(lib, "nvmlDeviceGetCurrentClocksEventReasons",
                                "nvmlDeviceGetCurrentClocksThrottleReasons");
    if (!init || !h->shutdown) {
        snprintf(why, whylen, "%s lacks nvmlInit/nvmlShutdown", tb_nvml_lib_name());
        dlclose(lib);
        free(h);
        return NULL;
    }
    nvml_ret r = init();
    if (r != 0) {
        snprintf(why, whylen, "nvmlInit failed (NVML error %d)", r);
        dlclose(lib);
        free(h);
        return NULL;
    }
    return h;
}

void tb_health_close(tb_health_lib *h)
{
    if (!h)
        return;
    h->shutdown();
    dlclose(h->lib);
    free(h);
}

int tb_health_count(tb_health_lib *h)
{
    unsigned n = 0;
    if (!h || !h->count || h->count(&n) != 0)
        return 0;
    return (int)n;
}

void *tb_health_device(tb_health_lib *h, const char *pci, int index)
{
    nvml_dev d = NULL;
    if (!h)
        return NULL;
    if (pci && *pci) {
        if (h->by_pci && h->by_pci(pci, &d) == 0)
            return d;
        return NULL;
    }
    if (index >= 0 && h->by_index && h->by_index((unsigned)index, &d) == 0)
        return d;
    return NULL;
}

void tb_health_init(tb_health *out)
{
    memset(out, 0, sizeof *out);
    out->ecc_mode = -1;
    out->ecc_uncorrected = out->ecc_corrected = out->rows_remapped_unc = -1;
    out->remap_pending = out->remap_failed = out->retired_pending = -1;
    out->pcie_gen = out->pcie_gen_max = out->pcie_width = out->pcie_width_max = -1;
}

static int read_u(nvml_ret (*f)(nvml_dev, unsigned *), nvml_dev d)
{
    unsigned v;
    return f && f(d, &v) == 0 ? (int)v : -1;
}

void tb_health_sample_load(tb_health_lib *h, void *dev, tb_health *out)
{
    if (!h || !dev)
        return;
    unsigned long long r;
    if (h->reasons && h->reasons(dev, &r) == 0) {
        out->reasons |= r;
        out->have_reasons = 1;
    }
    int g = read_u(h->gen, dev), w = read_u(h->width, dev);
    /* the best the link reached under load: an idle link drops, a loaded one does not */
    if (g > out->pcie_gen)
        out->pcie_gen = g;
    if (w > out->pcie_width)
        out->pcie_width = w;
}

void tb_health_read(tb_health_lib *h, void *dev, tb_health *out)
{
    int had = out->have_reasons;
    unsigned long long reasons = out->reasons;
    int gen = out->pcie_gen, width = out->pcie_width;
    tb_health_init(out);
    if (!h || !dev)
        return;
    out->known = 1;
    int cur, pending;
    if (h->ecc_mode && h->ecc_mode(dev, &cur, &pending) == 0)
        out->ecc_mode = cur ? 1 : 0;
    unsigned long long n;
    if (h->ecc_total && h->ecc_total(dev, ECC_UNCORRECTED, ECC_VOLATILE, &n) == 0)
        out->ecc_uncorrected = (long long)n;
    if (h->ecc_total && h->ecc_total(dev, ECC_CORRECTED, ECC_VOLATILE, &n) == 0)
        out->ecc_corrected = (long long)n;
    unsigned cor, unc, pend, fail;
    if (h->remapped && h->remapped(dev, &cor, &unc, &pend, &fail) == 0) {
        out->rows_remapped_unc = unc;
        out->remap_pending = pend ? 1 : 0;
        out->remap_failed = fail ? 1 : 0;
    }
    int rp;
    if (h->retired_pending && h->retired_pending(dev, &rp) == 0)
        out->retired_pending = rp ? 1 : 0;
    out->pcie_gen_max = read_u(h->gen_max, dev);
    out->pcie_width_max = read_u(h->width_max, dev);
    out->pcie_gen = gen;
    out->pcie_width = width;
    out->reasons = had ? reasons : 0;
    out->have_reasons = had;
    tb_health_sample_load(h, dev, out);
}
