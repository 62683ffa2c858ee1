/* wgmma_sched.h - the order in which the wgmma kernels' CTAs visit output tiles, shared by
 * host and device so the CPU tests check the schedule the kernels run. */
#ifndef TB_WGMMA_SCHED_H
#define TB_WGMMA_SCHED_H

#include <stdint.h>

#include "mm_common.h"

/* The tile CTA `cta` of `ctas` visits at its step `step` (0, 1, ...); returns 0 when it has
 * no more. CTAs come in clusters of `cluster` (1 or 2) consecutive ranks; a cluster takes a
 * unit of `cluster` vertically adjacent tiles (same tile column, so they share the B tile,
 * which the cluster multicasts) and rank r takes tile row cluster * unit_row + r. Units are
 * dealt round-robin, unit = cluster index + step * clusters, in the grouped order of
 * tb_mm_tile_of (`group` unit rows per group), so the units in flight at once share A and B
 * tiles in L2. A launch with one CTA per tile and step 0 is the plain grouped order.
 * *tm can be m_tiles (past the last tile row) for the upper rank of a unit on an odd last
 * row: that CTA still loads (zeros) and computes in step with its partner, but stores
 * nothing; every tile with tm < m_tiles is visited exactly once. */
TB_HD int tb_wg_sched_tile(int64_t step, int cta, int ctas, int cluster, int64_t m_tiles,
                           int64_t n_tiles, int64_t group, int64_t *tm, int64_t *tn)
{
    const int64_t clusters = ctas / cluster, cid = cta / cluster, rank = cta % cluster;
    const int64_t unit_rows = (m_tiles + cluster - 1) / cluster;
    const int64_t unit = cid + step * clusters;
    if (unit >= unit_rows * n_tiles)
        return 0;
    int64_t um, un;
    tb_mm_tile_of(unit, unit_rows, n_tiles, group, &um, &un);
    *tm = um * cluster + rank;
    *tn = un;
    return 1;
}

/* CTAs of a persistent launch: one per SM (rounded down to whole clusters), no more than
 * there are units of work. */
TB_HD int tb_wg_sched_ctas(int sm_count, int cluster, int64_t m_tiles, int64_t n_tiles)
{
    const int64_t units = (m_tiles + cluster - 1) / cluster * n_tiles;
    int64_t clusters = sm_count / cluster;
    if (clusters > units)
        clusters = units;
    if (clusters < 1)
        clusters = 1;
    return (int)(clusters * cluster);
}

#endif
