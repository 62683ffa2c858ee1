/* p2p_kernels.h - launchers of the transfer matrix's kernels (kernels/p2p/p2p.cu). Each
 * returns the launch's cudaError_t as an int (0: enqueued). */
#ifndef TB_P2P_KERNELS_H
#define TB_P2P_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fills words[0..n) with the pattern of device src under seed. */
int tb_p2p_fill(uint32_t *words, size_t n, uint64_t seed, int src, void *stream);

/* Copies bytes (a multiple of 16) from src to dst with SM loads and stores (either may be a
 * peer's memory or mapped pinned host memory), on the current device. */
int tb_p2p_sm_copy(void *dst, const void *src, size_t bytes, int sms, void *stream);

/* Adds to *n_wrong (device memory) the words of got[0..n) that differ from the pattern of
 * device src, and to *n_wrong those that differ from ref when ref is not NULL instead. */
int tb_p2p_count_wrong(const uint32_t *got, const uint32_t *ref, size_t n, uint64_t seed, int src,
                       unsigned long long *n_wrong, void *stream);

/* Ping-pong of round_trips: this device's one-thread kernel writes `mine` (in the peer's
 * memory) and waits for the peer's kernel to echo it in `theirs` (in this device's memory).
 * is_initiator selects the side that writes first. */
int tb_p2p_pingpong(volatile uint32_t *mine, volatile uint32_t *theirs, int round_trips,
                    int is_initiator, void *stream);

#ifdef __cplusplus
}
#endif
#endif
