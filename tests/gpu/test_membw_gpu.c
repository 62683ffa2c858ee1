/* membw on a real GPU: every implementation against the regenerated reference, including
 * sizes that are not multiples of the vector width. Skips where no GPU is visible. */
#include <criterion/criterion.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benches.h"
#include "gpu_helper.h"


static const tb_impl *impl(const char *name)
{
    const tb_impl *m = tb_bench_impl(&tb_bench_membw, name);
    cr_assert_not_null(m, "no impl %s", name);
    return m;
}

static tb_verify check(const char *name, int64_t bytes, int run)
{
    tb_case c;
    memset(&c, 0, sizeof c);
    c.bench = &tb_bench_membw;
    c.impl = impl(name);
    c.dtype = TB_FP32;
    c.axis[0] = bytes;
    cudaStream_t s;
    cr_assert_eq(cudaSetDevice(0), cudaSuccess);
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
    tb_env env = {&devs[0], s, 7, NULL, NULL};
    void *state;
    tb_err err;
    cr_assert_eq(c.impl->setup(&c, &env, &state, &err), TB_OK, "%s: %s", name, err.msg);
    if (run) {
        cr_assert_eq(c.impl->run(state, &err), TB_OK, "%s: %s", name, err.msg);
        cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
    }
    tb_verify v;
    cr_assert_eq(tb_bench_membw.verify(&c, state, &v, &err), TB_OK, "%s: %s", name, err.msg);
    c.impl->teardown(state);
    cudaStreamDestroy(s);
    return v;
}

static const char *const gpu_impls[] = {"memcpy", "copy", "scale", "add", "triad",
                                        "sum",    "h2d",  "d2h",   NULL};

Test(membw_gpu, every_impl_matches_the_reference, .init = need_gpu)
{
    /* ragged sizes exercise the tail paths; 256M is larger than any L2 */
    const int64_t sizes[] = {64, (1 << 20) + 4, (1 << 20) + 12, 16 << 20, 256 << 20};
    for (int i = 0; gpu_impls[i]; i++)
        for (int k = 0; k < 5; k++) {
            tb_verify v = check(gpu_impls[i], sizes[k], 1);
            cr_assert(v.ok, "%s at %lld bytes: %lld wrong, max abs err %g", gpu_impls[i],
                      (long long)sizes[k], (long long)v.n_wrong, v.max_abs_err);
            cr_assert_eq(v.n_checked, sizes[k] / 4);
        }
}

Test(membw_gpu, unwritten_outputs_are_caught, .init = need_gpu)
{
    for (int i = 0; gpu_impls[i]; i++) {
        tb_verify v = check(gpu_impls[i], 1 << 20, 0);
        cr_assert_not(v.ok, "%s passed without running", gpu_impls[i]);
        cr_assert(isinf(v.max_abs_err), "%s: max abs err %g", gpu_impls[i], v.max_abs_err);
    }
}
