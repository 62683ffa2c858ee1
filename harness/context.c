#include "context.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
#ifdef TB_HAVE_NCCL
#include <nccl.h>
#endif

#include "specs.h"

void tb_context_versions(char *driver_cuda, char *runtime, char *cublas, char *nccl, size_t n)
{
    int dv = 0, rv = 0;
    cudaDriverGetVersion(&dv);
    cudaRuntimeGetVersion(&rv);
    tb_device_format_cuda_version(dv, driver_cuda, n);
    tb_device_format_cuda_version(rv, runtime, n);
    size_t cv = cublasLtGetVersion(); /* e.g. 130100: major*10000 + minor*100 + patch */
    if (cv)
        snprintf(cublas, n, "%zu.%zu.%zu", cv / 10000, (cv / 100) % 100, cv % 100);
    else
        snprintf(cublas, n, "none");
    snprintf(nccl, n, "none");
#ifdef TB_HAVE_NCCL
    int nv = 0;
    if (ncclGetVersion(&nv) == ncclSuccess && nv > 0)
        snprintf(nccl, n, "%d.%d.%d", nv / 10000, (nv / 100) % 100, nv % 100);
#endif
}

static void add_int_or_null(cJSON *o, const char *k, double v)
{
    if (v >= 0)
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_bool_or_null(cJSON *o, const char *k, int v)
{
    if (v >= 0)
        cJSON_AddBoolToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *gpu_json(const tb_device *d, tb_nvml *nvml)
{
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "index", d->ordinal);
    cJSON_AddStringToObject(g, "name", d->name);
    cJSON_AddStringToObject(g, "uuid", d->uuid);
    cJSON_AddStringToObject(g, "pci_bus_id", d->pci_bus_id);
    char cc[16];
    snprintf(cc, sizeof cc, "%d.%d", d->cc_major, d->cc_minor);
    cJSON_AddStringToObject(g, "compute_capability", cc);
    cJSON_AddNumberToObject(g, "sm_count", d->sm_count);
    cJSON_AddNumberToObject(g, "memory_bytes", (double)d->mem_bytes);
    cJSON_AddNumberToObject(g, "l2_bytes", d->l2_bytes);
    cJSON_AddNumberToObject(g, "max_sm_clock_mhz", d->max_sm_clock_khz / 1000.0);
    cJSON_AddNumberToObject(g, "max_mem_clock_mhz", d->max_mem_clock_khz / 1000.0);
    cJSON_AddNumberToObject(g, "bus_width_bits", d->bus_width_bits);
    tb_nvml_info info;
    tb_nvml_device_info(nvml, tb_nvml_device(nvml, d->pci_bus_id), &info);
    add_int_or_null(g, "power_limit_w", info.power_limit_w);
    add_bool_or_null(g, "ecc", info.ecc >= 0 ? info.ecc : d->ecc_enabled);
    add_bool_or_null(g, "persistence", info.persistence);
    add_bool_or_null(g, "mig", info.mig);
    const tb_spec *s = tb_specs_lookup(d->name);
    if (s)
        cJSON_AddStringToObject(g, "spec_model", s->model);
    else
        cJSON_AddNullToObject(g, "spec_model");
    tb_peak pk;
    tb_specs_peak(d, TB_PEAK_MEMORY, TB_FP32, &pk);
    cJSON *p = cJSON_AddObjectToObject(g, "peak_memory_gbps");
    cJSON_AddNumberToObject(p, "derived", pk.derived);
    if (pk.datasheet > 0)
        cJSON_AddNumberToObject(p, "datasheet", pk.datasheet);
    else
        cJSON_AddNullToObject(p, "datasheet");
    cJSON_AddBoolToObject(p, "usable", pk.usable);
    return g;
}

cJSON *tb_context_build(int argc, char **argv, const tb_device *devs, int ndev, tb_nvml *nvml,
                        const char *nvml_why, const cJSON *options)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "context");
    cJSON_AddStringToObject(o, "schema", "trainbench/1");
    cJSON *tool = cJSON_AddObjectToObject(o, "tool");
    cJSON_AddStringToObject(tool, "name", "trainbench");
    cJSON_AddStringToObject(tool, "version", tb_build_version);
    cJSON_AddStringToObject(tool, "git_commit", tb_build_commit);
    cJSON *av = cJSON_AddArrayToObject(o, "argv");
    for (int i = 0; i < argc; i++)
        cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, "date", date);
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    cJSON_AddStringToObject(o, "host", host);
    char cpu[256];
    tb_device_cpu_model(cpu, sizeof cpu);
    cJSON_AddStringToObject(o, "cpu", cpu);
    cJSON_AddNumberToObject(o, "cpu_threads", (double)sysconf(_SC_NPROCESSORS_ONLN));

    char dcuda[32], rt[32], cublas[32], nccl[32], drv[96];
    tb_context_versions(dcuda, rt, cublas, nccl, sizeof dcuda);
    tb_nvml_driver_version(nvml, drv, sizeof drv);
    if (drv[0])
        cJSON_AddStringToObject(o, "driver", drv);
    else
        cJSON_AddNullToObject(o, "driver");
    cJSON_AddStringToObject(o, "cuda_driver", dcuda);
    cJSON_AddStringToObject(o, "cuda_runtime", rt);
    cJSON_AddStringToObject(o, "cublas", cublas);
    cJSON_AddStringToObject(o, "nccl", nccl);
    /* what steers NCCL's choices (NCCL_ALGO, NCCL_PROTO, NCCL_NVLS_ENABLE, ...): every NCCL_*
     * variable of the run, so its NCCL rows are read against the algorithm it was given */
    cJSON *ne = cJSON_AddObjectToObject(o, "nccl_env");
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!strncmp(*e, "NCCL_", 5) && eq && eq - *e < 128) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
            cJSON_AddStringToObject(ne, name, eq + 1);
        }
    }
    cJSON *nv = cJSON_AddObjectToObject(o, "nvml");
    cJSON_AddBoolToObject(nv, "available", nvml != NULL);
    if (nvml)
        cJSON_AddNullToObject(nv, "reason");
    else
        cJSON_AddStringToObject(nv, "reason", nvml_why ? nvml_why : "not loaded");
    if (options)
        cJSON_AddItemToObject(o, "options", cJSON_Duplicate(options, 1));
    cJSON *gpus = cJSON_AddArrayToObject(o, "gpus");
    int host_only = 1;
    for (int i = 0; i < ndev; i++) {
        if (devs[i].is_host)
            continue;
        host_only = 0;
        cJSON_AddItemToArray(gpus, gpu_json(&devs[i], nvml));
    }
    cJSON_AddStringToObject(o, "devices", host_only ? "host" : "gpu");
    return o;
}
