// ptx.cuh - the inline-PTX wrappers the kernels share, each a thin, named door to one
// instruction.
#ifndef TB_PTX_CUH
#define TB_PTX_CUH

#include <stdint.h>

// The global nanosecond timer (%globaltimer), the same on every SM.
__device__ __forceinline__ uint64_t tb_ptx_globaltimer(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

#endif
