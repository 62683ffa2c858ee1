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

// The same flag read with no ordering (a spin on a flag: no L1 invalidate per read). Once it
// has seen a release store's value, tb_ptx_fence_acquire_sys() makes it an acquire.
__device__ __forceinline__ unsigned tb_ptx_ld_relaxed_sys(const unsigned *p)
{
    unsigned v;
    asm volatile("ld.relaxed.sys.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// One acquire fence after relaxed reads: every later access of this thread is ordered after
// the writes that the release stores they saw published. sm_90+: fence.acquire (an L1
// invalidate, no MEMBAR); sm_80 has only the two-way fence.acq_rel.
__device__ __forceinline__ void tb_ptx_fence_acquire_sys(void)
{
#if __CUDA_ARCH__ >= 900
    asm volatile("fence.acquire.sys;\n" ::: "memory");
#else
    asm volatile("fence.acq_rel.sys;\n" ::: "memory");
#endif
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

// ---- sm_90a: mbarrier, the tensor memory accelerator (TMA), wgmma, setmaxnreg, clusters ----
// Used only inside kernel bodies compiled for sm_90a (guarded by __CUDA_ARCH_FEAT_SM90_ALL).

// Initializes the mbarrier at smem_addr (8 bytes) to expect `count` arrivals per phase.
__device__ __forceinline__ void tb_ptx_mbarrier_init(uint32_t smem_addr, uint32_t count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr), "r"(count)
                 : "memory");
}

// Makes mbarrier initializations visible to the async proxy and to the other CTAs of the
// cluster (a launch without clusters is a cluster of one).
__device__ __forceinline__ void tb_ptx_fence_mbarrier_init(void)
{
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

// Arrives once and raises the phase's expected transaction count by tx_bytes (the bytes the
// TMA copies completing on this barrier will deliver).
__device__ __forceinline__ void tb_ptx_mbarrier_arrive_expect_tx(uint32_t smem_addr,
                                                                 uint32_t tx_bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr),
                 "r"(tx_bytes)
                 : "memory");
}

// Arrives once on a barrier of this CTA.
__device__ __forceinline__ void tb_ptx_mbarrier_arrive(uint32_t smem_addr)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr) : "memory");
}

// Arrives once on a barrier of any CTA of the cluster (cluster_addr from tb_ptx_mapa), with
// the default semantics (release at CTA scope). Enough to hand a stage back: the reads it
// releases (wgmma's) have completed at wgmma.wait_group, and the peer's next write into it is
// a TMA multicast ordered by the barrier itself; .release.cluster would add full memory
// barriers to every k-tile.
__device__ __forceinline__ void tb_ptx_mbarrier_arrive_cluster(uint32_t cluster_addr)
{
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(cluster_addr)
                 : "memory");
}

// Whether the phase of the given parity (0 or 1) has completed: true for the phase in
// progress once it completes, and at once for the phase before it.
__device__ __forceinline__ uint32_t tb_ptx_mbarrier_try_wait_parity(uint32_t smem_addr,
                                                                    uint32_t parity)
{
    uint32_t done;
    asm volatile("{\n"
                 ".reg .pred p;\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                 "selp.u32 %0, 1, 0, p;\n"
                 "}\n"
                 : "=r"(done)
                 : "r"(smem_addr), "r"(parity)
                 : "memory");
    return done;
}

// Spins (try_wait suspends the thread for a while each time) until the phase of the given
// parity has completed.
__device__ __forceinline__ void tb_ptx_mbarrier_wait_parity(uint32_t smem_addr, uint32_t parity)
{
    while (!tb_ptx_mbarrier_try_wait_parity(smem_addr, parity)) {
    }
}

// Orders this thread's generic-proxy writes to shared memory before later async-proxy
// accesses (a TMA store reading what the thread wrote).
__device__ __forceinline__ void tb_ptx_fence_proxy_async_shared(void)
{
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// TMA: copies the box at coordinates (c0 innermost, c1) of a 2D tensor map into shared memory
// at smem_addr, completing `box bytes` of transactions on the mbarrier at mbar. Coordinates
// outside the tensor read zeros.
__device__ __forceinline__ void tb_ptx_tma_load_2d(uint32_t smem_addr, const void *tensor_map,
                                                   int c0, int c1, uint32_t mbar)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(smem_addr),
                 "l"(tensor_map), "r"(c0), "r"(c1), "r"(mbar)
                 : "memory");
}

// The same box written at the same offset into the shared memory of every CTA of the cluster
// named in cta_mask (bit i: rank i), completing on the mbarrier at the same offset in each.
__device__ __forceinline__ void tb_ptx_tma_load_2d_multicast(uint32_t smem_addr,
                                                             const void *tensor_map, int c0,
                                                             int c1, uint32_t mbar,
                                                             uint16_t cta_mask)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
                 ".multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;\n" ::"r"(smem_addr),
                 "l"(tensor_map), "r"(c0), "r"(c1), "r"(mbar), "h"(cta_mask)
                 : "memory");
}

// TMA store: shared memory at smem_addr -> the box at (c0, c1) of a 2D tensor map; elements
// outside the tensor are not written. Completes as a bulk async-group.
__device__ __forceinline__ void tb_ptx_tma_store_2d(const void *tensor_map, int c0, int c1,
                                                    uint32_t smem_addr)
{
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group"
                 " [%0, {%1, %2}], [%3];\n" ::"l"(tensor_map),
                 "r"(c0), "r"(c1), "r"(smem_addr)
                 : "memory");
}

__device__ __forceinline__ void tb_ptx_bulk_commit_group(void)
{
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}

// Waits until at most n bulk groups still read their shared-memory source (n: a constant).
#define TB_PTX_BULK_WAIT_GROUP_READ(n)                                                          \
    asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(n) : "memory")

// Waits until at most n bulk groups are still incomplete (their global writes done).
#define TB_PTX_BULK_WAIT_GROUP(n) asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(n) : "memory")

// Orders the warpgroup's register accesses before the wgmma operations that follow.
__device__ __forceinline__ void tb_ptx_wgmma_fence(void)
{
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

// Closes the group of wgmma operations issued since the last commit.
__device__ __forceinline__ void tb_ptx_wgmma_commit_group(void)
{
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

// Waits until at most n wgmma groups are pending (n: a compile-time constant).
#define TB_PTX_WGMMA_WAIT_GROUP(n)                                                              \
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(n) : "memory")

// Tells the compiler a register may have changed (wgmma writes accumulators asynchronously:
// reads of them must not move above the wait).
__device__ __forceinline__ void tb_ptx_fence_operand(float *r)
{
    asm volatile("" : "+f"(*r)::"memory");
}

// D (64 x N fp32, the warpgroup's fragment: d[4j .. 4j+3] for n8 block j) += A B for one
// m64nNk16 step; bf16 A (64 x 16) and B (16 x N) in shared memory, named by their matrix
// descriptors, both K-major (imm-trans 0); scale-d 1 (accumulate). Asynchronous: commit, wait.
__device__ __forceinline__ void tb_ptx_wgmma_m64n128k16_bf16(float d[64], uint64_t desc_a,
                                                           uint64_t desc_b)
{
    asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "
                 "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
                 "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
                 "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, "
                 "%60, %61, %62, %63"
                 "}, %64, %65, 1, 1, 1, 0, 0;\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]),
                   "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]),
                   "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]),
                   "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]),
                   "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
                   "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
                   "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),
                   "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
                   "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]),
                   "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]),
                   "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]),
                   "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),
                   "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "l"(desc_a), "l"(desc_b)
                 : "memory");
}

// m64n256k16 with the transpose bits (imm-trans-a, imm-trans-b: 0 K-major, 1 M/N-major) as
// literals.
#define TB_PTX_WGMMA_M64N256K16_BF16(d, desc_a, desc_b, TA, TB)                               \
    asm volatile("wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"                   \
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "                        \
                 "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "              \
                 "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "              \
                 "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "              \
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, "              \
                 "%60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, "              \
                 "%72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, "              \
                 "%84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "              \
                 "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, "      \
                 "%108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, "  \
                 "%120, %121, %122, %123, %124, %125, %126, %127"                            \
                 "}, %128, %129, 1, 1, 1, " #TA ", " #TB ";\n"                               \
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]),               \
                   "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]),               \
                   "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]),          \
                   "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]),          \
                   "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),          \
                   "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),          \
                   "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),          \
                   "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),          \
                   "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]),          \
                   "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]),          \
                   "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]),          \
                   "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),          \
                   "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]),          \
                   "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]),          \
                   "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]),          \
                   "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),          \
                   "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]),          \
                   "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]),          \
                   "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]),          \
                   "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]),          \
                   "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]),     \
                   "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]),     \
                   "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]),     \
                   "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),     \
                   "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]),     \
                   "+f"(d[125]), "+f"(d[126]), "+f"(d[127])                                  \
                 : "l"(desc_a), "l"(desc_b)                                                  \
                 : "memory");

// D (64 x 256) += A B for one m64n256k16 step, A and B K-major.
__device__ __forceinline__ void tb_ptx_wgmma_m64n256k16_bf16(float d[128], uint64_t desc_a,
                                                           uint64_t desc_b)
{
    TB_PTX_WGMMA_M64N256K16_BF16(d, desc_a, desc_b, 0, 0);
}

// The same with each operand K-major (trans 0) or M/N-major (trans 1, read transposed; bf16
// allows it); trans_a and trans_b are compile-time constants at every call.
__device__ __forceinline__ void tb_ptx_wgmma_m64n256k16_bf16_trans(float d[128], uint64_t desc_a,
                                                                 uint64_t desc_b,
                                                                 const int trans_a,
                                                                 const int trans_b)
{
    if (!trans_a && !trans_b) {
        TB_PTX_WGMMA_M64N256K16_BF16(d, desc_a, desc_b, 0, 0);
    } else if (!trans_a) {
        TB_PTX_WGMMA_M64N256K16_BF16(d, desc_a, desc_b, 0, 1);
    } else if (!trans_b) {
        TB_PTX_WGMMA_M64N256K16_BF16(d, desc_a, desc_b, 1, 0);
    } else {
        TB_PTX_WGMMA_M64N256K16_BF16(d, desc_a, desc_b, 1, 1);
    }
}

// Raises (inc) or lowers (dec) this warpgroup's registers per thread to n (a multiple of 8 in
// 24 .. 256, a compile-time constant); all threads of the warpgroup execute it.
#define TB_PTX_SETMAXNREG_INC(n) asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(n))
#define TB_PTX_SETMAXNREG_DEC(n) asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(n))

// A barrier among `threads` threads (a multiple of 32) of the CTA, numbered id (1 .. 15; 0 is
// __syncthreads').
__device__ __forceinline__ void tb_ptx_named_barrier_sync(uint32_t id, uint32_t threads)
{
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// This CTA's rank in its cluster.
__device__ __forceinline__ uint32_t tb_ptx_cluster_ctarank(void)
{
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}

// The shared::cluster address of the variable at smem_addr in the CTA of rank `rank`.
__device__ __forceinline__ uint32_t tb_ptx_mapa(uint32_t smem_addr, uint32_t rank)
{
    uint32_t d;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(d) : "r"(smem_addr), "r"(rank));
    return d;
}

// A barrier across every thread of every CTA of the cluster: release earlier accesses, then
// acquire the others'.
__device__ __forceinline__ void tb_ptx_cluster_sync(void)
{
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::
                     : "memory");
}

#endif
