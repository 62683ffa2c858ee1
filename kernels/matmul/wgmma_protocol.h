/* wgmma_protocol.h - the asynchronous protocol of the Hopper wgmma kernels as constants and
 * pure functions, shared by the kernels (kernels/matmul/wgmma*.cu), the CPU protocol model
 * (tests/cpu/test_wgmma_protocol.c) and the PTX check (tests/static/check_mbarrier.cmake), so
 * none of them can drift from the others.
 *
 * The ring: `stages` shared-memory stages, each guarded by a full mbarrier (the producer's one
 * arrive.expect_tx of the stage's bytes; TMA completes the bytes) and an empty mbarrier (one
 * arrival per consumer warpgroup of every CTA of the cluster, once the wgmma reading the stage
 * have retired). K-tile `it` (counted across tiles: the ring
 * never restarts) uses stage it % stages, in its (it / stages)-th round. An mbarrier's
 * try_wait.parity(P) succeeds once the phase of parity P has completed, i.e. while the
 * barrier's completed-phase count has the other parity. */
#ifndef TB_WGMMA_PROTOCOL_H
#define TB_WGMMA_PROTOCOL_H

#include <stdint.h>

#include "wgmma_desc.h"

/* Tiles: 128 rows of A per CTA; TMA boxes of 64 k x 128 rows (16 KiB). */
#define TB_WG_BM 128
#define TB_WG_BOX_ROWS 128
#define TB_WG_BOX_BYTES (TB_WG_BOX_ROWS * TB_WG_BK * 2)
#define TB_WG_WARPGROUP_ROWS 64 /* rows of the tile one MMA warpgroup owns */

/* wgmma (plain): 128 x 128 tiles, a 3-stage ring of [A 16 KiB | B 16 KiB] (96 KiB: two CTAs
 * per SM), two warpgroups that both compute, each keeping TB_WG_PLAIN_MMA_IN_FLIGHT k-tiles of
 * wgmma in flight; a stage is freed on its empty barrier (one arrival per warpgroup, once the
 * wgmma reading it have retired) and refilled by thread 0. */
#define TB_WG_PLAIN_BN 128
#define TB_WG_PLAIN_STAGES 3
#define TB_WG_PLAIN_WARPGROUPS 2
#define TB_WG_PLAIN_STAGE_BYTES (2 * TB_WG_BOX_BYTES)
#define TB_WG_PLAIN_MMA_IN_FLIGHT 1

/* The warp-specialized kernels: 128 x 256 tiles, stages of [A 16 KiB | B 32 KiB], two
 * consumer warpgroups; each keeps TB_WG_WS_MMA_IN_FLIGHT k-tiles of wgmma in flight
 * (wgmma.wait_group's argument). */
#define TB_WG_WS_BN 256
#define TB_WG_WS_CONSUMERS 2
#define TB_WG_WS_A_BYTES TB_WG_BOX_BYTES
#define TB_WG_WS_B_BYTES (2 * TB_WG_BOX_BYTES)
#define TB_WG_WS_STAGE_BYTES (TB_WG_WS_A_BYTES + TB_WG_WS_B_BYTES)
#define TB_WG_WS_MMA_IN_FLIGHT 1
#define TB_WG_WS_STAGES 4         /* wgmma_ws */
#define TB_WG_PERSISTENT_STAGES 4 /* wgmma_persistent (C staged in 16 KiB per consumer) */
#define TB_WG_CLUSTER_STAGES 4    /* wgmma_cluster (likewise) */
#define TB_WG_CLUSTER_SIZE 2      /* wgmma_cluster: CTAs per cluster */

/* The stage k-tile `it` uses. */
TB_HD uint32_t tb_wg_stage(uint32_t it, int stages)
{
    return it % (uint32_t)stages;
}

/* The parity a consumer waits for on the full barrier of k-tile `it`: the stage's
 * (it / stages)-th phase, the one the producer's loads for `it` complete. */
TB_HD uint32_t tb_wg_full_parity(uint32_t it, int stages)
{
    return (it / (uint32_t)stages) & 1u;
}

/* Whether the producer must wait before loading k-tile `it`: a stage's first use needs no
 * release. */
TB_HD int tb_wg_waits_empty(uint32_t it, int stages)
{
    return it >= (uint32_t)stages;
}

/* The parity the producer waits for on the empty barrier before loading k-tile `it`
 * (it >= stages): the phase the consumers' releases of k-tile it - stages complete, the
 * (it / stages - 1)-th. */
TB_HD uint32_t tb_wg_empty_parity(uint32_t it, int stages)
{
    return (it / (uint32_t)stages + 1u) & 1u;
}

/* Arrivals per phase of a full barrier: the producer's one arrive.expect_tx. */
TB_HD uint32_t tb_wg_full_count(void)
{
    return 1;
}

/* Arrivals per phase of an empty barrier: every consumer warpgroup of every CTA of the
 * cluster, since each CTA's producer writes the stage in all of them (multicast). */
TB_HD uint32_t tb_wg_empty_count(int cluster)
{
    return (uint32_t)(TB_WG_WS_CONSUMERS * cluster);
}

/* Arrivals per phase of the plain kernel's empty barrier: each warpgroup's, as its wgmma
 * reading the stage retire. */
TB_HD uint32_t tb_wg_plain_empty_count(void)
{
    return TB_WG_PLAIN_WARPGROUPS;
}

/* The k-tile whose stage a warpgroup of the plain kernel frees (and thread 0 refills) once
 * wgmma.wait_group(TB_WG_PLAIN_MMA_IN_FLIGHT) returns after it issued k-tile `it`. */
TB_HD uint32_t tb_wg_plain_retired(uint32_t it)
{
    return it - TB_WG_PLAIN_MMA_IN_FLIGHT;
}

/* The bytes the plain kernel's full barrier expects per phase: its A and B box. */
TB_HD uint32_t tb_wg_plain_expect_tx(void)
{
    return TB_WG_PLAIN_STAGE_BYTES;
}

/* The bytes a warp-specialized CTA's full barrier expects per phase: its A box and the whole
 * B tile, of which, in a cluster, the peers multicast the boxes it does not load itself. */
TB_HD uint32_t tb_wg_ws_expect_tx(int cluster)
{
    (void)cluster;
    return TB_WG_WS_STAGE_BYTES;
}

/* The k-tile whose stage a consumer frees once wgmma.wait_group(TB_WG_WS_MMA_IN_FLIGHT)
 * returns after it issued k-tile `it`: the newest group that wait retired. */
TB_HD uint32_t tb_wg_ws_retired(uint32_t it)
{
    return it - TB_WG_WS_MMA_IN_FLIGHT;
}

/* The B boxes (128 rows each) one CTA of a cluster loads per stage, and which box its j-th
 * is: alone it loads both; in a pair, rank r loads box r and multicasts it to both CTAs. */
TB_HD int tb_wg_ws_b_boxes(int cluster)
{
    return TB_WG_WS_B_BYTES / TB_WG_BOX_BYTES / cluster;
}

TB_HD int tb_wg_ws_b_box(int cluster, int rank, int j)
{
    return rank * tb_wg_ws_b_boxes(cluster) + j;
}

/* Where a stage's operands lie: A at the stage's start, B right after it. */
TB_HD uint32_t tb_wg_ws_stage_a(uint32_t s0, uint32_t stage)
{
    return s0 + stage * TB_WG_WS_STAGE_BYTES;
}

TB_HD uint32_t tb_wg_ws_stage_b(uint32_t s0, uint32_t stage)
{
    return tb_wg_ws_stage_a(s0, stage) + TB_WG_WS_A_BYTES;
}

TB_HD uint32_t tb_wg_plain_stage_a(uint32_t s0, uint32_t stage)
{
    return s0 + stage * TB_WG_PLAIN_STAGE_BYTES;
}

TB_HD uint32_t tb_wg_plain_stage_b(uint32_t s0, uint32_t stage)
{
    return tb_wg_plain_stage_a(s0, stage) + TB_WG_BOX_BYTES;
}

/* The A rows MMA warpgroup `wg` (0, 1) multiplies: its 64 of the stage's 128. */
TB_HD uint32_t tb_wg_warpgroup_a(uint32_t stage_a, int wg)
{
    return stage_a + (uint32_t)wg * (TB_WG_WARPGROUP_ROWS * TB_WG_SW128_ROW_BYTES);
}

/* The descriptors of one k16 step (kk = 0, 16, 32, 48) of D += A B^T: A's rows at a_tile,
 * B's at b_tile, both K-major with 128-byte swizzle. */
TB_HD void tb_wg_mma_descs(uint32_t a_tile, uint32_t b_tile, int kk, uint64_t *desc_a,
                           uint64_t *desc_b)
{
    *desc_a = tb_wg_desc_kmajor_sw128(a_tile, kk);
    *desc_b = tb_wg_desc_kmajor_sw128(b_tile, kk);
}

/* The same for any layout: an operand that is not K-major (dgrad's B, wgrad's A and B) lies
 * M/N-major in its stage (64-wide blocks, tb_wg_mn_offset) and is read through the wgmma
 * transpose bit. A warpgroup's 64 rows of an M-major A are one block, 8 KiB into the stage
 * for warpgroup 1: where tb_wg_warpgroup_a puts them for a K-major A too. */
TB_HD void tb_wg_mma_descs_layout(uint32_t a_tile, uint32_t b_tile, int kk, int a_kmajor,
                                  int b_kmajor, uint64_t *desc_a, uint64_t *desc_b)
{
    *desc_a = a_kmajor ? tb_wg_desc_kmajor_sw128(a_tile, kk) : tb_wg_desc_mnmajor_sw128(a_tile, kk);
    *desc_b = b_kmajor ? tb_wg_desc_kmajor_sw128(b_tile, kk) : tb_wg_desc_mnmajor_sw128(b_tile, kk);
}

#endif
