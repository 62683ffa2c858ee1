/* tb_read_results FILE...: reads result files with the reader trainbench's compare and report
 * use, and prints per file the rows read, the bytes its records hold and the reader's hash
 * probes. The parser alone, for scripts/bench-tools. Exit 2 on a file the reader refuses. */
#include <stdio.h>

#include "results.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tb_read_results FILE...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        tb_rfile f;
        tb_err err;
        if (tb_results_load(argv[i], &f, stderr, &err) != TB_OK) {
            fprintf(stderr, "tb_read_results: %s\n", err.msg);
            return 2;
        }
        size_t bytes = f.n * sizeof *f.rows + tb_results_store_bytes(&f);
        printf("%s: %zu rows, %zu bytes of records (%.0f per row), %llu probes\n", argv[i], f.n,
               bytes, f.n ? (double)bytes / (double)f.n : 0.0, tb_results_probes(&f));
        tb_results_free(&f);
    }
    return 0;
}
