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

// 16-byte asynchronous copy global -> shared (sm_80+); src_bytes < 16 zero-fills the rest,
// so 0 reads nothing and writes zeros (out-of-range tiles).
__device__ __forceinline__ void tb_ptx_cp_async16(uint32_t smem_addr, const void *gmem,
                                                  int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr), "l"(gmem),
                 "r"(src_bytes));
}

// 4-byte asynchronous copy global -> shared, zero-filled like the 16-byte one.
__device__ __forceinline__ void tb_ptx_cp_async4(uint32_t smem_addr, const void *gmem,
                                                 int src_bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr), "l"(gmem),
                 "r"(src_bytes));
}

__device__ __forceinline__ void tb_ptx_cp_async_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::);
}

// Waits until at most n committed groups are still in flight (n: a compile-time constant).
#define TB_PTX_CP_ASYNC_WAIT(n) asm volatile("cp.async.wait_group %0;\n" ::"n"(n))

__device__ __forceinline__ uint32_t tb_ptx_smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

// Four 8x8 b16 matrices from shared memory; lanes 8i..8i+7 give the row addresses of
// matrix i; r[i] receives this lane's pair of matrix i.
__device__ __forceinline__ void tb_ptx_ldmatrix_x4(uint32_t r[4], uint32_t smem_addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr));
}

// The same, each matrix transposed (for operands stored with M or N contiguous).
__device__ __forceinline__ void tb_ptx_ldmatrix_x4_trans(uint32_t r[4], uint32_t smem_addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr));
}

// D = A B + D for one 16x8x16 tile, fp32 accumulate; bf16 or fp16 inputs.
__device__ __forceinline__ void tb_ptx_mma_bf16_16816(float d[4], const uint32_t a[4],
                                                      const uint32_t b[2])
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void tb_ptx_mma_f16_16816(float d[4], const uint32_t a[4],
                                                     const uint32_t b[2])
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Two fp32 values rounded to nearest even and packed: lo in the low half, hi in the high.
__device__ __forceinline__ uint32_t tb_ptx_pack_bf16x2(float lo, float hi)
{
    uint32_t d;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
}

__device__ __forceinline__ uint32_t tb_ptx_pack_f16x2(float lo, float hi)
{
    uint32_t d;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
}

// Cross-GPU flags: a store that releases (every earlier write of this thread, and those it
// has observed, are visible to whoever acquires the value) and a load that acquires, at
// system scope so they order accesses between GPUs over NVLink/PCIe.
__device__ __forceinline__ void tb_ptx_st_release_sys(unsigned *p, unsigned v)
{
    asm volatile("st.release.sys.global.u32 [%0], %1;\n" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ unsigned tb_ptx_ld_acquire_sys(const unsigned *p)
{
    unsigned v;
    asm volatile("ld.acquire.sys.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// A plain 32-bit load that is never cached in registers (a flag the host may set).
__device__ __forceinline__ int tb_ptx_ld_volatile(const int *p)
{
    int v;
    asm volatile("ld.volatile.global.s32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// fp32 <-> fp16 / bf16, rounding to nearest even.
__device__ __forceinline__ float tb_ptx_f16_to_f32(unsigned short h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;\n" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ unsigned short tb_ptx_f32_to_f16(float f)
{
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;\n" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ unsigned short tb_ptx_f32_to_bf16(float f)
{
    unsigned short h;
    asm("cvt.rn.bf16.f32 %0, %1;\n" : "=h"(h) : "f"(f));
    return h;
}

#endif
