/* headline.c - the columns of the headline table of `trainbench report`: one figure per
 * benchmark that a reader compares across machines first. A column whose benchmark is not in
 * the files shows "–". */
#include "benches.h"

const tb_headline_col tb_headline_cols[] = {
    /* HBM, not L2: only arrays that count at least 4 L2 sizes of bytes */
    {"HBM GB/s (membw best)", "membw", NULL, NULL, NULL, NULL, "gbps", 0, 0, 4.0},
    {"bf16 matmul TFLOP/s hand-written @8192³", "matmul", "bf16", "hand-written", NULL,
     "m=8192 n=8192 k=8192 layout=fwd", "tflops", 0, 0, 0},
    {"bf16 matmul TFLOP/s cuBLAS @8192³", "matmul", "bf16", NULL, "cublas",
     "m=8192 n=8192 k=8192 layout=fwd", "tflops", 0, 0, 0},
    {"attention fwd TFLOP/s (best)", "attention", NULL, NULL, NULL, "pass=fwd", "tflops", 0, 0,
     0},
    /* one rank per GPU: virtual ranks sharing a GPU are no measurement of its links */
    {"all-reduce busbw GB/s @1 GiB", "allreduce", NULL, NULL, NULL,
     "bytes=1073741824 ranks-per-gpu=1", "busbw_gbps", 0, 0, 0},
    {"all-reduce latency µs @8 B", "allreduce", NULL, NULL, NULL, "bytes=8 ranks-per-gpu=1",
     "time_us", 1, 0, 0},
    {"mean power W", NULL, NULL, NULL, NULL, NULL, "power_w", 0, 1, 0},
    {"GFLOP/J (best)", NULL, NULL, NULL, NULL, NULL, "gflop_per_j", 0, 0, 0},
};

const int tb_headline_ncols = (int)(sizeof tb_headline_cols / sizeof tb_headline_cols[0]);
