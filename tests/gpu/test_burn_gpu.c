/* The GPU burn: cuBLAS bf16 GEMM repeats bit for bit, throughput over both windows. */
#include <math.h>

#include "burn.h"
#include "gpu_helper.h"

TestSuite(burn_gpu, .init = need_gpu);

Test(burn_gpu, cublas_repeats_bit_exactly, .timeout = 120)
{
    tb_burn_result r[16];
    tb_burn_opts o = {3.0, 1, NULL, NULL, NULL, 2048};
    tb_err err;
    int n = ndev < 16 ? ndev : 16;
    cr_assert_eq(tb_burn_gpu(devs, n, &o, NULL, r, &err), TB_OK, "%s", err.msg);
    for (int d = 0; d < n; d++) {
        cr_assert_eq(r[d].status, TB_OK, "GPU %d: %s", d, r[d].reason);
        cr_assert_eq(r[d].sdc_iters, 0);
        cr_assert_gt(r[d].iters, 10);
        cr_assert(isfinite(r[d].tflops_first) && r[d].tflops_first > 0);
        cr_assert(isfinite(r[d].tflops_last) && r[d].tflops_last > 0);
    }
}
