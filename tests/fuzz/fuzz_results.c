/* libFuzzer target: any bytes as a result file. Parsing must fail cleanly or give a file that
 * compare and report can write out. Built with clang by tests/fuzz/run-fuzz. */
#include <stdint.h>
#include <stdio.h>

#include "benches.h"
#include "compare.h"
#include "report.h"
#include "results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_rfile f;
    tb_err err;
    if (tb_results_parse((const char *)data, size, "fuzz", &f, NULL, &err) != TB_OK)
        return 0;
    FILE *sink = fopen("/dev/null", "w");
    if (sink) {
        int failed;
        tb_compare_write(&f, &f, 0.02, TB_FMT_TEXT, sink, &failed, &err);
        tb_compare_write(&f, &f, 0.02, TB_FMT_JSON, sink, &failed, &err);
        tb_compare_write(&f, &f, 0.02, TB_FMT_CSV, sink, &failed, &err);
        /* the file twice on BASE, nothing on NEW: other hosts, so rows match by GPU alone and
         * each case's hosts merge */
        tb_cmp *c = tb_cmp_new();
        if (c && !tb_cmp_add(c, 0, &f, &err) && !tb_cmp_add(c, 0, &f, &err)) {
            tb_gate_opts o = TB_GATE_OPTS_DEFAULT;
            tb_cmp_write(c, &o, TB_FMT_TEXT, sink, &failed, &err);
        }
        tb_cmp_free(c);
        tb_report_write(&f, 1, tb_headline_cols, tb_headline_ncols, TB_FMT_MD, sink, &err);
        tb_report_write(&f, 1, tb_headline_cols, tb_headline_ncols, TB_FMT_CSV, sink, &err);
        fclose(sink);
    }
    tb_results_free(&f);
    return 0;
}
