/* p2p_pattern.h - the words a device sends in the transfer matrix: a hash of the seed, the
 * sending device and the index, so a copy that lands short, shifted or from the wrong peer is
 * caught word for word. Shared by the host check and the GPU kernels. */
#ifndef TB_P2P_PATTERN_H
#define TB_P2P_PATTERN_H

#include <stdint.h>

#ifdef __CUDACC__
#define TB_P2P_HD __host__ __device__ __forceinline__
#else
#define TB_P2P_HD static inline
#endif

/* splitmix64's finalizer over (seed, src, i); never 0 and never the poison 0xffffffff. */
TB_P2P_HD uint32_t tb_p2p_pattern(uint64_t seed, int src, uint64_t i)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + ((uint64_t)(uint32_t)(src + 1) << 40) + i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    uint32_t w = (uint32_t)z;
    return (w == 0u || w == 0xffffffffu) ? 0x5a5a5a5au : w;
}

#define TB_P2P_POISON 0xffffffffu

#endif
