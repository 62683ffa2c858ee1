/* The transfer matrix on GPUs: every cell verified (copy engine, SM copies, latency flags,
 * host<->device), pairs without peer access skipped with the reason, figures positive. */
#include <math.h>
#include <stdlib.h>

#include "gpu_helper.h"
#include "p2p.h"

TestSuite(p2p_gpu, .init = need_gpu);

Test(p2p_gpu, every_cell_is_verified_or_skipped_with_a_reason, .timeout = 300)
{
    tb_p2p_opts o;
    memset(&o, 0, sizeof o);
    o.bytes = 16u << 20;
    o.rule = (tb_stop_rule){5, 0.05, 0.01, 5.0};
    o.seed = 9;
    tb_p2p_cell *cells;
    size_t n;
    tb_err err;
    cr_assert_eq(tb_p2p_gpu_matrix(devs, ndev, &o, &cells, &n, &err), TB_OK, "%s", err.msg);
    int host_cells = 0;
    for (size_t i = 0; i < n; i++) {
        const tb_p2p_cell *c = &cells[i];
        cr_assert_neq(c->status, TB_WRONG, "%s %d->%d: %s", tb_p2p_op_name(c->op), c->src,
                      c->dst, c->reason);
        if (c->status == TB_SKIP) {
            cr_assert(strstr(c->reason, "peer access"), "%s", c->reason);
            continue;
        }
        cr_assert_eq(c->status, TB_OK, "%s", c->reason);
        cr_assert_eq(c->n_wrong, 0);
        cr_assert_gt(c->n_checked, 0);
        if (c->op == TB_P2P_LATENCY)
            cr_assert(c->latency_us > 0 && c->latency_us < 1e4, "%g us", c->latency_us);
        else
            cr_assert(c->gbps > 0, "%g GB/s", c->gbps);
        host_cells += c->src == TB_P2P_HOST || c->dst == TB_P2P_HOST;
    }
    cr_assert_eq(host_cells, 4 * ndev, "h2d and d2h by CE and SM on every GPU");
    free(cells);
}
