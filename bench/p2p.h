/* p2p.h - the transfer matrix (nvbandwidth's measurements): for every ordered pair of devices,
 * copy-engine (cudaMemcpyPeerAsync) and SM-kernel copies, one direction and both at once, and
 * the latency of a small write seen by the peer; per GPU, host<->device copies from pinned
 * memory by the copy engine and by SM kernels. Every cell is timed by the harness's sampler
 * (sampler.h: CUDA events, or CPU time on host pseudo-devices) under a stopping rule, and its
 * destination checked word for word against the source pattern before and after timing.
 * GB = 1e9 bytes; a point-to-point transfer's bus factor is 1 (busbw = algbw), a bidirectional
 * cell counts the bytes of both directions. On the host, pseudo-devices are buffers and a copy
 * is memcpy, so the verification, statistics and verdicts run without a GPU. */
#ifndef TB_P2P_H
#define TB_P2P_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../harness/bench.h"
#include "../harness/device.h"
#include "../harness/fault.h"
#include "../harness/record.h"
#include "../harness/stats.h"
#include "../harness/timer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TB_P2P_CE = 0, TB_P2P_SM, TB_P2P_LATENCY } tb_p2p_op;

#define TB_P2P_HOST (-1) /* src or dst: pinned host memory */

typedef struct {
    int src, dst;        /* device indices (into the devices given), or TB_P2P_HOST */
    tb_p2p_op op;
    int bidir;           /* both directions at once */
    tb_status status;    /* TB_OK, TB_SKIP (no P2P between them), TB_WRONG, TB_DEVFAIL */
    char reason[256];
    double bytes;        /* bytes moved by one execution (both directions for bidir) */
    tb_stats stats;      /* seconds per execution */
    double gbps;         /* bytes / median / 1e9 (busbw: the same, factor 1) */
    double latency_us;   /* TB_P2P_LATENCY: one-way latency, microseconds */
    int64_t n_checked, n_wrong;
} tb_p2p_cell;

/* The word at index i of the pattern device `src` sends under `seed` (never 0: a buffer of
 * zeros or of the poison is always wrong). Shared with the GPU kernels. */
uint32_t tb_p2p_word(uint64_t seed, int src, uint64_t i);

/* Words of got[0..n) that differ from src's pattern under seed; *first_bad the first index
 * (or -1). */
int64_t tb_p2p_check(const uint32_t *got, size_t n, uint64_t seed, int src, int64_t *first_bad);

/* Fills a cell's figures from its per-execution samples: stats, gbps = bytes / median / 1e9,
 * for latency cells latency_us = median / round trips x 1e6 / 2 (round_trips > 0). Returns 0,
 * or -1 when there are no samples. */
int tb_p2p_figures(tb_p2p_cell *c, const double *per_op, size_t n, long round_trips);

typedef struct {
    size_t bytes;          /* per direction */
    tb_stop_rule rule;
    uint64_t seed;
    const tb_fault *fault; /* slow-device:N reaches the sampler of device N's copies */
} tb_p2p_opts;

/* Measures every ordered pair of host pseudo-devices (memcpy, one direction and both) into
 * cells (n_dev * (n_dev - 1) * 2 of them, allocated; free()). Returns TB_OK, or TB_DEVFAIL
 * when memory runs out; wrong cells are TB_WRONG in their status. */
tb_status tb_p2p_host_matrix(const tb_device *devs, int n_dev, const tb_p2p_opts *o,
                             tb_p2p_cell **cells, size_t *n_cells, tb_err *err);

/* The same on GPUs: per pair CE and SM copies, uni and bidirectional, and latency; per GPU
 * host->device and device->host by CE and SM. Pairs without peer access are TB_SKIP with the
 * reason. TB_DEVFAIL on a CUDA failure (cells so far are kept). */
tb_status tb_p2p_gpu_matrix(const tb_device *devs, int n_dev, const tb_p2p_opts *o,
                            tb_p2p_cell **cells, size_t *n_cells, tb_err *err);

/* Writes one result row per cell (bench "p2p", axes bytes per direction, op, dir, src, dst;
 * gbps and busbw_gbps equal; skipped cells with their reason). TB_DEVFAIL when a write fails. */
tb_status tb_p2p_write(const tb_p2p_cell *cells, size_t n, const tb_device *devs, tb_writer *w,
                       tb_err *err);

/* "ce", "sm", "latency". */
const char *tb_p2p_op_name(tb_p2p_op op);

/* Prints the GPU x GPU matrix of one op and direction (rows src, columns dst; GB/s or us;
 * "-" on the diagonal, "skip" or "WRONG" where so). */
void tb_p2p_table(FILE *f, const tb_p2p_cell *cells, size_t n, int n_dev, tb_p2p_op op, int bidir);

#ifdef __cplusplus
}
#endif
#endif
