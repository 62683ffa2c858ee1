/* Prints what kernels/matmul/wgmma_protocol.h says the PTX of one wgmma kernel must hold, for
 * check_mbarrier.cmake: the mbarrier.init counts, the mbarrier.arrive.expect_tx byte counts and
 * the wgmma.wait_group arguments, each as a sorted set (';'-separated).
 *   wgmma_protocol_probe wgmma|wgmma_ws|wgmma_persistent|wgmma_cluster */
#include <stdio.h>
#include <string.h>

#include "matmul/wgmma_protocol.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s wgmma|wgmma_ws|wgmma_persistent|wgmma_cluster\n", argv[0]);
        return 2;
    }
    const char *k = argv[1];
    if (strcmp(k, "wgmma") == 0) {
        unsigned full = tb_wg_full_count(), empty = tb_wg_plain_empty_count();
        if (full == empty)
            printf("init=%u\n", full);
        else
            printf("init=%u;%u\n", full < empty ? full : empty, full < empty ? empty : full);
        printf("expect_tx=%u\n", tb_wg_plain_expect_tx());
        if (TB_WG_PLAIN_MMA_IN_FLIGHT == 0)
            printf("wait_group=0\n");
        else
            printf("wait_group=0;%d\n", TB_WG_PLAIN_MMA_IN_FLIGHT);
        return 0;
    }
    int cluster;
    if (strcmp(k, "wgmma_ws") == 0 || strcmp(k, "wgmma_persistent") == 0)
        cluster = 1;
    else if (strcmp(k, "wgmma_cluster") == 0)
        cluster = TB_WG_CLUSTER_SIZE;
    else {
        fprintf(stderr, "wgmma_protocol_probe: unknown kernel '%s' (use wgmma, wgmma_ws, "
                        "wgmma_persistent or wgmma_cluster)\n", k);
        return 2;
    }
    unsigned full = tb_wg_full_count(), empty = tb_wg_empty_count(cluster);
    if (full == empty)
        printf("init=%u\n", full);
    else
        printf("init=%u;%u\n", full < empty ? full : empty, full < empty ? empty : full);
    printf("expect_tx=%u\n", tb_wg_ws_expect_tx(cluster));
    if (TB_WG_WS_MMA_IN_FLIGHT == 0)
        printf("wait_group=0\n");
    else
        printf("wait_group=0;%d\n", TB_WG_WS_MMA_IN_FLIGHT);
    return 0;
}
