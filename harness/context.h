/* context.h - the first line of every result file: what was measured, where, with what. */
#ifndef TB_CONTEXT_H
#define TB_CONTEXT_H

#include <cjson/cJSON.h>

#include "device.h"
#include "nvml.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set at build time (build_info.c, generated): the tool version and the git commit of the
 * source ("unknown" outside a git checkout, "-dirty" appended with uncommitted changes). */
extern const char tb_build_version[];
extern const char tb_build_commit[];

/* Library versions, as text; "none" when a library is absent or reports nothing. */
void tb_context_versions(char *driver_cuda, char *runtime, char *cublas, char *nccl, size_t n);

/* Builds {"type":"context","schema":"trainbench/1",...}: tool, argv, date, host, CPU, driver
 * and library versions, NVML state, the run options (options is copied; may be NULL) and one
 * object per device in devs (the host pseudo-device gives "gpus": []). Caller deletes it. */
cJSON *tb_context_build(int argc, char **argv, const tb_device *devs, int ndev, tb_nvml *nvml,
                        const char *nvml_why, const cJSON *options);

#ifdef __cplusplus
}
#endif
#endif
