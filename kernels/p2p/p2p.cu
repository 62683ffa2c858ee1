/* p2p.cu - the transfer matrix's kernels (any architecture): the pattern fill, an SM copy of
 * uint4 words (the "SM copy" of nvbandwidth: loads and stores through the SMs, over NVLink or
 * PCIe to a peer or to mapped pinned host memory), a word counter that verifies a copy, and a
 * one-thread ping-pong whose round trip, halved, is the latency of a small write seen by the
 * peer. No figure measured yet. */
#include <cuda_runtime.h>

#include "p2p_kernels.h"
#include "p2p_pattern.h"

__global__ void p2p_fill_kernel(uint32_t *w, size_t n, uint64_t seed, int src)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        w[i] = tb_p2p_pattern(seed, src, i);
}

__global__ void p2p_copy_kernel(uint4 *__restrict__ dst, const uint4 *__restrict__ src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

__global__ void p2p_count_kernel(const uint32_t *got, const uint32_t *ref, size_t n,
                                 uint64_t seed, int src, unsigned long long *n_wrong)
{
    unsigned long long bad = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        uint32_t want = ref ? ref[i] : tb_p2p_pattern(seed, src, i);
        bad += got[i] != want;
    }
    if (bad)
        atomicAdd(n_wrong, bad);
}

/* The initiator writes k+1 and waits to read k+1 back; the other side waits for k+1 and
 * echoes it. The stores are system-scope so the peer sees them without a fence on its side. */
__global__ void p2p_pingpong_kernel(volatile uint32_t *mine, volatile uint32_t *theirs,
                                    int round_trips, int is_initiator)
{
    /* a bounded wait: a peer that never answers leaves the flags short of round_trips,
     * which the verification reports, instead of hanging the device */
    const long long spin_limit = 1ll << 26;
    for (int k = 1; k <= round_trips; k++) {
        if (is_initiator) {
            *mine = (uint32_t)k;
            __threadfence_system();
        }
        long long spins = 0;
        while (*theirs != (uint32_t)k && ++spins < spin_limit)
            ;
        if (spins == spin_limit)
            return;
        if (!is_initiator) {
            *mine = (uint32_t)k;
            __threadfence_system();
        }
    }
}

static int grid_for(size_t n, int sms)
{
    size_t blocks = (n + 255) / 256;
    size_t cap = (size_t)(sms > 0 ? sms : 80) * 8;
    if (blocks > cap)
        blocks = cap;
    return blocks ? (int)blocks : 1;
}

extern "C" int tb_p2p_fill(uint32_t *words, size_t n, uint64_t seed, int src, void *stream)
{
    p2p_fill_kernel<<<grid_for(n, 0), 256, 0, (cudaStream_t)stream>>>(words, n, seed, src);
    return (int)cudaGetLastError();
}

extern "C" int tb_p2p_sm_copy(void *dst, const void *src, size_t bytes, int sms, void *stream)
{
    size_t n = bytes / 16;
    p2p_copy_kernel<<<grid_for(n, sms), 256, 0, (cudaStream_t)stream>>>((uint4 *)dst,
                                                                         (const uint4 *)src, n);
    return (int)cudaGetLastError();
}

extern "C" int tb_p2p_count_wrong(const uint32_t *got, const uint32_t *ref, size_t n,
                                  uint64_t seed, int src, unsigned long long *n_wrong,
                                  void *stream)
{
    p2p_count_kernel<<<grid_for(n, 0), 256, 0, (cudaStream_t)stream>>>(got, ref, n, seed, src,
                                                                        n_wrong);
    return (int)cudaGetLastError();
}

extern "C" int tb_p2p_pingpong(volatile uint32_t *mine, volatile uint32_t *theirs,
                               int round_trips, int is_initiator, void *stream)
{
    p2p_pingpong_kernel<<<1, 1, 0, (cudaStream_t)stream>>>(mine, theirs, round_trips,
                                                           is_initiator);
    return (int)cudaGetLastError();
}
