/* timing.h - device helpers of the harness's timing loop. */
#ifndef TB_TIMING_H
#define TB_TIMING_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Holds the stream until the host has written ticket or a later value to *flag (a counter
 * in host memory mapped into the device, flag_dev its device address; compared wrap-safe),
 * or timeout_ns passes. Enqueuing the timed work behind it means the start event is stamped
 * when the work is already queued, so launch latency is not timed (nvbench's blocking
 * kernel). Each blocking kernel in flight has its own ticket, so several can be queued on
 * one stream and released in order. */
cudaError_t tb_timing_block(const volatile unsigned *flag_dev, unsigned ticket,
                            uint64_t timeout_ns, cudaStream_t stream);

/* Evicts L2 by reading bytes of buf (16-byte aligned), which should be at least twice the
 * L2 size. Reading, not writing, leaves the cache holding clean lines, so the timed run that
 * follows pays no write-backs of the flush. sink (one float) is written only in a case that
 * cannot occur; it keeps the loads alive. */
cudaError_t tb_timing_flush_l2(const void *buf, size_t bytes, float *sink, int sm_count,
                               cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
