/* The timing methods on a GPU: a tiny kernel is timed from a CUDA graph, and, where capture
 * is made to fail, in chunks behind blocking kernels with a figure close to the graph's (not
 * the host's launch rate); --cold is recorded as cold; telemetry read during the samples. */
#include "../cpu/cli_helper.h"
#include "gpu_helper.h"

static cJSON *one_result(const char *env, const char *name, const char *extra)
{
    char path[512];
    tmp_path(path, sizeof path, name);
    cli_result *r = run_cli(env, "run", "membw", "--impl", "copy", "--bytes", "4K", "-q",
                            "--gpus", "0", "--min-samples", "20", "--min-time", "0.05", "-o",
                            path, extra, NULL);
    cr_assert_eq(r->code, 0, "%s\n%s", r->out, r->err);
    cJSON *rows[4];
    int n = results(path, rows, 4);
    cr_assert_eq(n, 1, "one result line in %s", path);
    cr_assert_str_eq(cJSON_GetObjectItem(rows[0], "status")->valuestring, "ok");
    return rows[0];
}

static double median(cJSON *row)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(row, "time_s"), "median")->valuedouble;
}

Test(timing_gpu, graph_and_chunked_agree, .init = need_gpu, .timeout = 300)
{
    cJSON *graph = one_result(NULL, "timing-graph.jsonl", NULL);
    cr_assert_str_eq(cJSON_GetObjectItem(graph, "timing")->valuestring, "graph");
    cJSON *chunked = one_result("TRAINBENCH_TEST_NO_GRAPH=1", "timing-chunked.jsonl", NULL);
    cr_assert_str_eq(cJSON_GetObjectItem(chunked, "timing")->valuestring, "chunked");
    cr_assert_gt(cJSON_GetObjectItem(chunked, "batch")->valuedouble, 64);
    double g = median(graph), c = median(chunked);
    /* back-to-back launches behind blocking kernels cost a little more than a replay, never
     * the several microseconds per launch of the host's launch rate */
    cr_assert(c < 3 * g && c > g / 3, "graph %.3g s, chunked %.3g s per copy", g, c);
    /* telemetry read while the copies ran: present and positive, or null without NVML */
    cJSON *src = cJSON_GetObjectItem(chunked, "power_source");
    cJSON *pw = cJSON_GetObjectItem(chunked, "power_w");
    if (cJSON_IsString(src)) {
        cr_assert_gt(pw->valuedouble, 0);
        cr_assert_gt(cJSON_GetObjectItem(chunked, "clock_mhz")->valuedouble, 0);
    } else {
        cr_assert(cJSON_IsNull(pw), "power_w null with power_source");
    }
    cJSON_Delete(graph);
    cJSON_Delete(chunked);
}

Test(timing_gpu, cold_is_recorded_as_cold, .init = need_gpu, .timeout = 300)
{
    cJSON *cold = one_result(NULL, "timing-cold.jsonl", "--cold");
    cr_assert_str_eq(cJSON_GetObjectItem(cold, "timing")->valuestring, "cold");
    cr_assert_eq(cJSON_GetObjectItem(cold, "batch")->valuedouble, 1);
    cJSON_Delete(cold);
}
