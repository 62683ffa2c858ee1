/* mm_common.h - what every matmul kernel, the host reference and the tests agree on, shared
 * by host and device: where element (m, k) of A and (k, n) of B live in each layout, and the
 * order in which thread blocks visit output tiles. C is always row-major M x N. */
#ifndef TB_MM_COMMON_H
#define TB_MM_COMMON_H

#include <stdint.h>

#include "../tb_random.h"

/* The three GEMMs of a linear layer y = x W^T in training (REFERENCE.md):
 *   FWD    C = A B^T  A [M][K], B [N][K]   forward:         M=T,   N=out, K=in
 *   DGRAD  C = A B    A [M][K], B [K][N]   input-gradient:  M=T,   N=in,  K=out
 *   WGRAD  C = A^T B  A [K][M], B [K][N]   weight-gradient: M=out, N=in,  K=T   */
enum { TB_MM_FWD = 0, TB_MM_DGRAD = 1, TB_MM_WGRAD = 2 };

TB_HD int64_t tb_mm_a_index(int layout, int64_t m, int64_t k, int64_t M, int64_t K)
{
    return layout == TB_MM_WGRAD ? k * M + m : m * K + k;
}

TB_HD int64_t tb_mm_b_index(int layout, int64_t k, int64_t n, int64_t N, int64_t K)
{
    return layout == TB_MM_FWD ? n * K + k : k * N + n;
}

/* Whether A (B) is stored with K contiguous. */
TB_HD int tb_mm_a_kmajor(int layout)
{
    return layout != TB_MM_WGRAD;
}

TB_HD int tb_mm_b_kmajor(int layout)
{
    return layout == TB_MM_FWD;
}

/* Grouped tile order for L2 reuse: consecutive blocks walk down `group` tile rows before
 * moving one tile column right, so the B tiles they share stay in L2. Maps block index pid
 * (0 .. m_tiles * n_tiles - 1) to its tile; a bijection. */
TB_HD void tb_mm_tile_of(int64_t pid, int64_t m_tiles, int64_t n_tiles, int64_t group,
                         int64_t *tile_m, int64_t *tile_n)
{
    int64_t per_group = group * n_tiles;
    int64_t first_m = (pid / per_group) * group;
    int64_t rows = m_tiles - first_m < group ? m_tiles - first_m : group;
    int64_t in_group = pid % per_group;
    *tile_m = first_m + in_group % rows;
    *tile_n = in_group / rows;
}

#endif
