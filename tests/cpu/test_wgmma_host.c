/* The Hopper wgmma kernels' host/device logic on the CPU: the shared-memory matrix descriptor,
 * the 128-byte swizzled layout TMA writes, the m64nNk16 accumulator fragment, the tensor-map
 * geometry (kernels/matmul/wgmma_desc.h) and the tile schedule (kernels/matmul/wgmma_sched.h).
 * Expected values are worked out by hand from the PTX ISA; each test says how. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "matmul/mm_common.h"
#include "matmul/wgmma_desc.h"
#include "matmul/wgmma_protocol.h"
#include "matmul/wgmma_sched.h"

/* PTX ISA, "Matrix Descriptor Format": bits 0-13 start address >> 4, 16-29 leading byte offset
 * >> 4, 32-45 stride byte offset >> 4, 49-51 base offset, 62-63 swizzle (1 = 128B). */
Test(wgmma_host, descriptor_fields_by_hand)
{
    /* no swizzle, addr 0x100, LBO 128, SBO 256: 0x100 >> 4 = 0x10; 128 >> 4 = 8 at bit 16
     * = 0x80000; 256 >> 4 = 16 at bit 32 = 0x10_0000_0000 */
    cr_assert_eq(tb_wg_desc(0x100, 128, 256, 0, TB_WG_SWIZZLE_NONE), 0x0000001000080010ull);
    /* 64B swizzle (2 << 62 = 0x8000...), base offset 3 (3 << 49 = 0x6_0000_0000_0000), SBO 512
     * (32 << 32 = 0x20_0000_0000), address and LBO 0 */
    cr_assert_eq(tb_wg_desc(0, 0, 512, 3, TB_WG_SWIZZLE_64B), 0x8006002000000000ull);
    /* 32B swizzle = 3 at bits 62-63 */
    cr_assert_eq(tb_wg_desc(0, 0, 0, 0, TB_WG_SWIZZLE_32B), 0xC000000000000000ull);
    /* fields keep address bits 4..17 only: 0x40010 -> 0x1 */
    cr_assert_eq(tb_wg_desc(0x40010, 0, 0, 0, 0), 0x1ull);
    /* the largest 14-bit field: 0x3FFF0 >> 4 = 0x3FFF, in each of the three places */
    cr_assert_eq(tb_wg_desc(0x3FFF0, 0x3FFF0, 0x3FFF0, 7, 0), 0x000E3FFF3FFF3FFFull);
}

/* The kernels' K-major, 128-byte swizzled operand: LBO 16 bytes (encoded 1), SBO 1024 bytes
 * (8 rows x 128 B, encoded 64 = 0x40 at bit 32), swizzle 1 at bit 62: the constant part is
 * 0x4000_0040_0001_0000; the start address >> 4 is added to it. */
Test(wgmma_host, kmajor_sw128_descriptors_of_the_kernels)
{
    const uint64_t fixed = 0x4000004000010000ull;
    /* a stage at 0x400: k slice 0 starts there (0x40) */
    cr_assert_eq(tb_wg_desc_kmajor_sw128(0x400, 0), fixed | 0x40);
    /* k = 16 is 32 bytes along the row: 0x420 >> 4 = 0x42; k = 48: 0x460 -> 0x46 */
    cr_assert_eq(tb_wg_desc_kmajor_sw128(0x400, 16), fixed | 0x42);
    cr_assert_eq(tb_wg_desc_kmajor_sw128(0x400, 48), fixed | 0x46);
    /* the second consumer's 64 rows: 64 x 128 B = 8192 further, 0x2400 -> 0x240 */
    cr_assert_eq(tb_wg_desc_kmajor_sw128(0x400 + 8192, 0), fixed | 0x240);
    /* the third 48 KiB stage's B tile of wgmma_ws: 2 x 49152 + 16384 = 114688 = 0x1C000,
     * plus the 0x400 base: 0x1C400 >> 4 = 0x1C40 */
    cr_assert_eq(tb_wg_desc_kmajor_sw128(0x400 + 2 * 49152 + 16384, 0), fixed | 0x1C40);
    /* the swizzle and stride bits do not depend on the address */
    cr_assert_eq(tb_wg_desc_kmajor_sw128(0x2000, 32) >> 14, fixed >> 14);
}

/* 128-byte swizzle: 16-byte chunk c of row r (within an 8-row, 1024-byte atom) sits at chunk
 * c ^ (r % 8). */
Test(wgmma_host, sw128_offsets_by_hand)
{
    cr_assert_eq(tb_wg_sw128_offset(0, 0), 0u);
    cr_assert_eq(tb_wg_sw128_offset(0, 8), 16u);    /* chunk 1 of row 0 stays */
    cr_assert_eq(tb_wg_sw128_offset(1, 0), 144u);   /* row 1: chunk 0 -> 1: 128 + 16 */
    cr_assert_eq(tb_wg_sw128_offset(1, 8), 128u);   /* chunk 1 -> 0 */
    cr_assert_eq(tb_wg_sw128_offset(7, 63), 910u);  /* 7*128 + (7^7)*16 + 7*2 */
    cr_assert_eq(tb_wg_sw128_offset(9, 17), 1202u); /* 9*128 + (2^1)*16 + 1*2 */
}

/* The same layout as the address-bit rule the TMA unit applies to 1024-byte-aligned boxes
 * (byte-address bits 4-6 XOR bits 7-9), and bank-conflict free: the 8 rows of an atom put a
 * given chunk in 8 different places. */
Test(wgmma_host, sw128_is_the_address_bit_swizzle_and_spreads_chunks)
{
    for (int r = 0; r < 256; r++)
        for (int k = 0; k < 64; k++) {
            uint32_t plain = (uint32_t)r * 128 + (uint32_t)k * 2;
            uint32_t want = plain ^ (((plain >> 7) & 7u) << 4);
            cr_assert_eq(tb_wg_sw128_offset(r, k), want, "row %d k %d", r, k);
        }
    for (int c = 0; c < 8; c++) {
        int seen = 0;
        for (int r = 0; r < 8; r++)
            seen |= 1 << ((tb_wg_sw128_offset(r, c * 8) % 128) / 16);
        cr_assert_eq(seen, 0xff, "chunk %d", c);
    }
}

/* The descriptors the kernels build read back what TMA wrote. Model (PTX ISA, shared memory
 * matrix layouts): a K-major operand with 128-byte swizzle is read as 8-row core groups, SBO
 * bytes apart, of 128-byte rows; element (row, k) of the slice whose descriptor starts at S
 * lies at S + (row / 8) SBO + (row % 8) 128 + 2 k, with address bits 4-6 then XORed with bits
 * 7-9 (the swizzle acts on the address formed). TMA put element (row, k) of the stage's box at
 * tile + tb_wg_sw128_offset(row, k). Decoding each kernel descriptor's start address and SBO
 * fields, every (row, k) of every k16 slice, for the A halves and the 256-row B tile, must land
 * on the same byte. */
Test(wgmma_host, descriptors_read_what_tma_wrote)
{
    const uint32_t tiles[] = {0x400, 0x400 + 16384, 0x400 + 49152, 0x400 + 8192};
    const int rows[] = {64, 256, 64, 64};
    for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++)
        for (int k0 = 0; k0 < TB_WG_BK; k0 += 16) {
            uint64_t d = tb_wg_desc_kmajor_sw128(tiles[t], k0);
            uint32_t start = (uint32_t)(d & 0x3FFF) << 4;
            uint32_t sbo = (uint32_t)((d >> 32) & 0x3FFF) << 4;
            cr_assert_eq((unsigned)(d >> 62), TB_WG_SWIZZLE_128B);
            cr_assert_eq((unsigned)((d >> 49) & 7), 0u);
            for (int row = 0; row < rows[t]; row++)
                for (int k = 0; k < 16; k++) {
                    uint32_t a = start + (uint32_t)(row / 8) * sbo + (uint32_t)(row % 8) * 128 +
                                 (uint32_t)k * 2;
                    a ^= ((a >> 7) & 7u) << 4;
                    uint32_t want = tiles[t] + tb_wg_sw128_offset(row, k0 + k);
                    cr_assert_eq(a, want, "tile %zu k0 %d (%d, %d)", t, k0, row, k);
                }
        }
}

/* The same for the M/N-major operands of dgrad and wgrad (read through wgmma's transpose
 * bit). Model (PTX ISA, canonical layouts, MN-major with 128-byte swizzle: ((T, 8, m), (8, k))
 * : ((1, T, LBO), (8T, SBO)) in 16-byte units T): element (mn, k) of the slice whose
 * descriptor starts at S lies at S + (mn / 64) LBO + (k / 8) SBO + (k % 8) 128 + 2 (mn % 64),
 * the address then swizzled as above. TMA put element (mn, k) of the stage's 64 x 64 boxes at
 * tile + tb_wg_mn_offset(mn, k). Every (mn, k) of every k16 slice, for a warpgroup's 64 rows
 * of A (one block) and the 256 columns of B (four), must land on the same byte. */
Test(wgmma_host, mnmajor_descriptors_read_what_tma_wrote)
{
    const uint32_t tiles[] = {0x400, 0x400 + 8192, 0x400 + 16384, 0x400 + 2 * 49152 + 16384};
    const int width[] = {64, 64, 256, 256};
    for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++)
        for (int k0 = 0; k0 < TB_WG_BK; k0 += 16) {
            uint64_t d = tb_wg_desc_mnmajor_sw128(tiles[t], k0);
            uint32_t start = (uint32_t)(d & 0x3FFF) << 4;
            uint32_t lbo = (uint32_t)((d >> 16) & 0x3FFF) << 4;
            uint32_t sbo = (uint32_t)((d >> 32) & 0x3FFF) << 4;
            cr_assert_eq((unsigned)(d >> 62), TB_WG_SWIZZLE_128B);
            cr_assert_eq((unsigned)((d >> 49) & 7), 0u);
            cr_assert_eq(start % 1024, 0u, "an M/N-major k16 slice starts on a swizzle atom");
            for (int mn = 0; mn < width[t]; mn++)
                for (int k = 0; k < 16; k++) {
                    uint32_t a = start + (uint32_t)(mn / 64) * lbo + (uint32_t)(k / 8) * sbo +
                                 (uint32_t)(k % 8) * 128 + (uint32_t)(mn % 64) * 2;
                    a ^= ((a >> 7) & 7u) << 4;
                    uint32_t want = tiles[t] + tb_wg_mn_offset(mn, k0 + k);
                    cr_assert_eq(a, want, "tile %zu k0 %d (mn %d, k %d)", t, k0, mn, k);
                }
        }
}

/* The kernels' descriptors per layout: K-major where the layout's operand is (mm_common.h),
 * M/N-major otherwise; a warpgroup's A rows start where tb_wg_warpgroup_a puts them for both. */
Test(wgmma_host, descriptors_follow_the_layout)
{
    for (int layout = TB_MM_FWD; layout <= TB_MM_WGRAD; layout++)
        for (int kk = 0; kk < TB_WG_BK; kk += 16) {
            const uint32_t sa = tb_wg_warpgroup_a(0x400, 1), sb = 0x400 + 16384;
            uint64_t da, db;
            tb_wg_mma_descs_layout(sa, sb, kk, tb_mm_a_kmajor(layout), tb_mm_b_kmajor(layout),
                                   &da, &db);
            cr_assert_eq(da, tb_mm_a_kmajor(layout) ? tb_wg_desc_kmajor_sw128(sa, kk)
                                                    : tb_wg_desc_mnmajor_sw128(sa, kk));
            cr_assert_eq(db, tb_mm_b_kmajor(layout) ? tb_wg_desc_kmajor_sw128(sb, kk)
                                                    : tb_wg_desc_mnmajor_sw128(sb, kk));
        }
    cr_assert_eq(tb_wg_warpgroup_a(0, 1), (uint32_t)TB_WG_MN_BLOCK_BYTES);
    /* by hand: start (0x400 + 16 x 128) >> 4 = 0xC0, LBO 8192 >> 4 = 0x200, SBO 1024 >> 4 */
    cr_assert_eq(tb_wg_desc_mnmajor_sw128(0x400, 16), 0x40000040020000C0ull);
    cr_assert_eq(tb_wg_mn_offset(65, 1), 8192u + 128u + (0u ^ 1u) * 16u + 2u);
}

/* PTX ISA, the m64nNk16 .f32 accumulator fragment: warp w of the warpgroup holds rows
 * 16w .. 16w + 15; for n8 block j, lane l holds d[4j], d[4j+1] at row l/4, columns
 * 8j + 2(l%4) + {0, 1}, and d[4j+2], d[4j+3] at row l/4 + 8. */
Test(wgmma_host, accumulator_fragment_by_hand)
{
    int r, c;
    tb_wg_acc_pos(0, 0, &r, &c);
    cr_assert(r == 0 && c == 0);
    tb_wg_acc_pos(0, 3, &r, &c);
    cr_assert(r == 8 && c == 1);
    tb_wg_acc_pos(0, 4, &r, &c); /* n8 block 1 */
    cr_assert(r == 0 && c == 8);
    tb_wg_acc_pos(5, 0, &r, &c); /* lane 5: row 1, columns 2, 3 */
    cr_assert(r == 1 && c == 2);
    tb_wg_acc_pos(37, 1, &r, &c); /* warp 1, lane 5 */
    cr_assert(r == 17 && c == 3);
    tb_wg_acc_pos(127, 127, &r, &c); /* warp 3, lane 31, block 31, d3: the last element */
    cr_assert(r == 63 && c == 255, "(%d, %d)", r, c);
}

/* Every element of the 64 x N tile is held by exactly one (thread, register). */
Test(wgmma_host, accumulator_fragment_covers_the_tile_once)
{
    const int ns[] = {8, 128, 256};
    for (size_t s = 0; s < sizeof ns / sizeof ns[0]; s++) {
        int n = ns[s];
        char *seen = calloc((size_t)64 * n, 1);
        for (int t = 0; t < 128; t++)
            for (int i = 0; i < n / 2; i++) {
                int r, c;
                tb_wg_acc_pos(t, i, &r, &c);
                cr_assert(r >= 0 && r < 64 && c >= 0 && c < n, "n %d t %d i %d", n, t, i);
                cr_assert_eq(seen[r * n + c]++, 0, "n %d: (%d, %d) twice", n, r, c);
            }
        free(seen);
    }
    cr_assert(tb_wg_n_valid(8) && tb_wg_n_valid(128) && tb_wg_n_valid(256));
    cr_assert(!tb_wg_n_valid(0) && !tb_wg_n_valid(12) && !tb_wg_n_valid(264));
}

Test(wgmma_host, tma_geometry)
{
    uint64_t dims[2], stride;
    uint32_t box[2];
    /* A of a 8192 x 4096 x 4096 GEMM in 128-row, 64-k boxes: dims innermost first */
    cr_assert(tb_wg_tma_geometry(8192, 4096, 128, 64, 1, dims, &stride, box));
    cr_assert(dims[0] == 4096 && dims[1] == 8192 && stride == 8192);
    cr_assert(box[0] == 64 && box[1] == 128);
    /* ragged rows are fine (zero fill), ragged K rows are not: 1001 x 2 bytes is no multiple
     * of 16 */
    cr_assert(tb_wg_tma_geometry(1000, 1000, 128, 64, 1, dims, &stride, box));
    cr_assert_eq(stride, 2000);
    cr_assert_not(tb_wg_tma_geometry(1000, 1001, 128, 64, 1, dims, &stride, box));
    /* 128 bf16 = 256 bytes: too wide for a 128-byte swizzle, fine without */
    cr_assert_not(tb_wg_tma_geometry(256, 256, 64, 128, 1, dims, &stride, box));
    cr_assert(tb_wg_tma_geometry(256, 256, 64, 128, 0, dims, &stride, box));
    cr_assert_not(tb_wg_tma_geometry(256, 256, 257, 64, 1, dims, &stride, box));
    cr_assert_not(tb_wg_tma_geometry(0, 256, 128, 64, 1, dims, &stride, box));
}

/* Runs the whole schedule of a launch and checks: every tile with tm < m_tiles is visited
 * exactly once; a tile row past the end appears only as the upper half of a cluster's unit on
 * an odd last row; the CTAs of a cluster take the same number of steps, on the same tile
 * column and adjacent rows at each step. Returns the number of steps of CTA 0. */
static int64_t check_schedule(int64_t m_tiles, int64_t n_tiles, int ctas, int cluster,
                              int64_t group)
{
    char *seen = calloc((size_t)(m_tiles * n_tiles), 1);
    int64_t steps0 = -1;
    for (int cta = 0; cta < ctas; cta += cluster) {
        int64_t step = 0;
        for (;; step++) {
            int64_t tm[2], tn[2];
            int more = 0;
            for (int r = 0; r < cluster; r++)
                more += tb_wg_sched_tile(step, cta + r, ctas, cluster, m_tiles, n_tiles, group,
                                         &tm[r], &tn[r]);
            if (more == 0)
                break;
            cr_assert_eq(more, cluster, "a cluster's CTAs disagree on step %lld",
                         (long long)step);
            for (int r = 0; r < cluster; r++) {
                cr_assert(tn[r] >= 0 && tn[r] < n_tiles);
                cr_assert_eq(tn[r], tn[0]);
                cr_assert_eq(tm[r], tm[0] + r);
                if (tm[r] >= m_tiles) {
                    cr_assert(cluster == 2 && r == 1 && m_tiles % 2 == 1 && tm[r] == m_tiles,
                              "tile row %lld of %lld", (long long)tm[r], (long long)m_tiles);
                    continue;
                }
                cr_assert_eq(seen[tm[r] * n_tiles + tn[r]]++, 0, "tile (%lld, %lld) twice",
                             (long long)tm[r], (long long)tn[r]);
            }
        }
        if (cta == 0)
            steps0 = step;
    }
    for (int64_t i = 0; i < m_tiles * n_tiles; i++)
        cr_assert_eq(seen[i], 1, "%lld x %lld tiles, %d CTAs, cluster %d: tile %lld unvisited",
                     (long long)m_tiles, (long long)n_tiles, ctas, cluster, (long long)i);
    free(seen);
    return steps0;
}

/* Tiles of 128 x 256 (the warp-specialized kernels) over shapes that are and are not tile
 * multiples: 128^3, 1000^3, 4095 x 4097, 4096^3, 8192^3, llama3-8b's fwd GEMMs (M 8192; N
 * 6144, 4096, 28672) and a single tile. */
Test(wgmma_host, schedule_visits_every_tile_once)
{
    const int64_t mn[][2] = {{128, 128},   {1000, 1000}, {4095, 4097}, {4096, 4096},
                             {8192, 8192}, {8192, 6144}, {8192, 4096}, {8192, 28672},
                             {1, 1},       {130, 520}};
    const int sms[] = {132, 114, 7, 1};
    for (size_t s = 0; s < sizeof mn / sizeof mn[0]; s++) {
        int64_t mt = (mn[s][0] + 127) / 128, nt = (mn[s][1] + 255) / 256;
        /* one CTA per tile, one step each (wgmma_ws) */
        cr_assert_eq(check_schedule(mt, nt, (int)(mt * nt), 1, 8), 1);
        for (size_t k = 0; k < sizeof sms / sizeof sms[0]; k++) {
            /* persistent, and clusters of 2 */
            int ctas1 = tb_wg_sched_ctas(sms[k], 1, mt, nt);
            int ctas2 = tb_wg_sched_ctas(sms[k], 2, mt, nt);
            cr_assert(ctas1 >= 1 && ctas1 <= sms[k]);
            cr_assert(ctas2 >= 2 && ctas2 % 2 == 0);
            check_schedule(mt, nt, ctas1, 1, 8);
            check_schedule(mt, nt, ctas2, 2, 4);
        }
    }
}

Test(wgmma_host, schedule_order_and_grid)
{
    int64_t tm, tn;
    /* persistent over 32 x 16 tiles: CTAs 0..7 walk down the first 8 tile rows of column 0,
     * CTA 8 starts column 1. CTA 0's second step is unit 132: a group holds 8 x 16 = 128
     * units, so unit 132 is the 5th of group 1 (tile rows 8..15): row 8 + 4, column 0 */
    cr_assert(tb_wg_sched_tile(0, 1, 132, 1, 32, 16, 8, &tm, &tn) && tm == 1 && tn == 0);
    cr_assert(tb_wg_sched_tile(0, 8, 132, 1, 32, 16, 8, &tm, &tn) && tm == 0 && tn == 1);
    cr_assert(tb_wg_sched_tile(1, 0, 132, 1, 32, 16, 8, &tm, &tn) && tm == 12 && tn == 0,
              "(%lld, %lld)", (long long)tm, (long long)tn);
    /* clusters of 2: CTAs 2 and 3 (cluster 1) take unit row 1 = tile rows 2 and 3 */
    cr_assert(tb_wg_sched_tile(0, 3, 132, 2, 32, 16, 4, &tm, &tn) && tm == 3 && tn == 0);
    /* cluster 4 (CTA 8) is past the 4 unit rows of a group: column 1 */
    cr_assert(tb_wg_sched_tile(0, 8, 132, 2, 32, 16, 4, &tm, &tn) && tm == 0 && tn == 1);
    /* a single tile: the cluster's second CTA gets the row past the end */
    cr_assert(tb_wg_sched_tile(0, 1, 2, 2, 1, 1, 4, &tm, &tn) && tm == 1 && tn == 0);
    cr_assert_not(tb_wg_sched_tile(1, 0, 2, 2, 1, 1, 4, &tm, &tn));
    /* grids: one CTA per SM, whole clusters, never more than the units of work */
    cr_assert_eq(tb_wg_sched_ctas(132, 1, 32, 16), 132);
    cr_assert_eq(tb_wg_sched_ctas(133, 2, 32, 16), 132);
    cr_assert_eq(tb_wg_sched_ctas(132, 1, 2, 3), 6);
    cr_assert_eq(tb_wg_sched_ctas(132, 2, 3, 1), 4); /* 2 units of 2 tile rows */
    cr_assert_eq(tb_wg_sched_ctas(1, 2, 3, 1), 2);   /* at least one cluster */
}
