/* emu_warp.h - a lane-exact CPU model of one thread block's shared memory and of the warp
 * instructions the mma.sync kernels use, for the kernel emulations (test_flash_emu.c,
 * test_mma_emu.c). The instruction semantics here come from the PTX ISA, not from the
 * kernels' headers, so a kernel index that disagrees with the hardware shows as a wrong result.
 *
 * Values are fp64 (no bf16 rounding), so a correct emulation matches an fp64 reference to
 * ~1e-13 and any misplaced element is an O(1) error. Shared memory holds one double per 2-byte
 * element; a never-written element is NaN.
 *
 * The same model checks the cp.async protocol, per 4-byte word: a cp.async copy joins the open
 * group and lands only when a cp.async.wait_group releases its group; a word may be read only
 * after its copy landed and a barrier followed (the other threads' copies are visible only
 * then); a copy into a word read since the last barrier overwrites data another warp may still
 * be reading; a second copy into a word whose first is still in flight is a race. Each
 * ldmatrix also checks its 8 row addresses per matrix for alignment and bank conflicts. */
#ifndef TB_EMU_WARP_H
#define TB_EMU_WARP_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMU_MAX_GROUPS 4096

typedef struct {
    int bytes;
    double *val;  /* the contents, per 2-byte element */
    double *pend; /* the data of copies in flight, per element */
    int *wgroup;  /* per word: group of the last cp.async into it, -1 none, -2 a plain store */
    int *wepoch;  /* per word: the epoch in which its last write landed */
    int *repoch;  /* per word: the last epoch in which it was read, -1 never */
    int open;     /* the group the next copy joins (= commits so far) */
    int landed;   /* groups 0 .. landed-1 have landed */
    int epoch;    /* barriers so far */
    long hazards, conflicts;
    char first[200]; /* the first hazard or conflict, for the failure message */
} emu_smem;

static inline void emu_note(emu_smem *m, long *count, const char *what, uint32_t addr)
{
    if (!m->hazards && !m->conflicts)
        snprintf(m->first, sizeof m->first, "%s at byte %u (epoch %d, group %d, landed %d)",
                 what, addr, m->epoch, m->open, m->landed);
    (*count)++;
}

static inline void emu_smem_init(emu_smem *m, int bytes)
{
    memset(m, 0, sizeof *m);
    m->bytes = bytes;
    m->val = malloc(sizeof(double) * (size_t)(bytes / 2));
    m->pend = malloc(sizeof(double) * (size_t)(bytes / 2));
    m->wgroup = malloc(sizeof(int) * (size_t)(bytes / 4));
    m->wepoch = malloc(sizeof(int) * (size_t)(bytes / 4));
    m->repoch = malloc(sizeof(int) * (size_t)(bytes / 4));
}

/* A fresh thread block: nothing written, no groups, no barriers (hazard counts are kept). */
static inline void emu_smem_reset(emu_smem *m)
{
    for (int e = 0; e < m->bytes / 2; e++)
        m->val[e] = m->pend[e] = NAN;
    for (int w = 0; w < m->bytes / 4; w++) {
        m->wgroup[w] = -1;
        m->wepoch[w] = -1;
        m->repoch[w] = -1;
    }
    m->open = m->landed = m->epoch = 0;
}

static inline void emu_smem_free(emu_smem *m)
{
    free(m->val);
    free(m->pend);
    free(m->wgroup);
    free(m->wepoch);
    free(m->repoch);
}

/* cp.async of `bytes` (4 or 16) to addr from src (bytes/2 elements), or zero-fill (src NULL). */
static inline void emu_cp_async(emu_smem *m, uint32_t addr, int bytes, const double *src)
{
    if (addr % (uint32_t)bytes || addr + (uint32_t)bytes > (uint32_t)m->bytes) {
        emu_note(m, &m->hazards, "misaligned or out-of-range cp.async", addr);
        return;
    }
    for (int w = (int)addr / 4; w < (int)(addr + bytes) / 4; w++) {
        if (m->repoch[w] == m->epoch)
            emu_note(m, &m->hazards, "cp.async into a word read since the last barrier", addr);
        if (m->wgroup[w] >= m->landed)
            emu_note(m, &m->hazards, "cp.async into a word whose earlier copy is in flight", addr);
        m->wgroup[w] = m->open;
    }
    for (int e = 0; e < bytes / 2; e++)
        m->pend[addr / 2 + e] = src ? src[e] : 0.0;
}

static inline void emu_commit(emu_smem *m)
{
    if (m->open + 1 < EMU_MAX_GROUPS)
        m->open++;
}

/* cp.async.wait_group n: every group but the newest n lands (its data appears). */
static inline void emu_wait(emu_smem *m, int n)
{
    const int upto = m->open - n;
    if (upto <= m->landed)
        return;
    for (int w = 0; w < m->bytes / 4; w++)
        if (m->wgroup[w] >= m->landed && m->wgroup[w] < upto) {
            m->val[2 * w] = m->pend[2 * w];
            m->val[2 * w + 1] = m->pend[2 * w + 1];
            m->wepoch[w] = m->epoch;
        }
    m->landed = upto;
}

static inline void emu_barrier(emu_smem *m)
{
    m->epoch++;
}

/* A read of `bytes` at addr by some warp: checks it against the protocol, returns the data. */
static inline const double *emu_read(emu_smem *m, uint32_t addr, int bytes)
{
    static const double nan4[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (addr % 4 || addr + (uint32_t)bytes > (uint32_t)m->bytes) {
        emu_note(m, &m->hazards, "misaligned or out-of-range shared read", addr);
        return nan4;
    }
    for (int w = (int)addr / 4; w < (int)(addr + bytes) / 4; w++) {
        if (m->wgroup[w] == -1)
            emu_note(m, &m->hazards, "read of a word never written", addr);
        else if (m->wgroup[w] >= m->landed)
            emu_note(m, &m->hazards, "read of a word whose cp.async group was not waited for",
                     addr);
        else if (m->wepoch[w] == m->epoch)
            emu_note(m, &m->hazards, "read of a word written since the last barrier", addr);
        m->repoch[w] = m->epoch;
    }
    return m->val + addr / 2;
}

/* st.shared of n elements (n even) at addr. */
static inline void emu_store(emu_smem *m, uint32_t addr, const double *v, int n)
{
    if (addr % 4 || addr + (uint32_t)(2 * n) > (uint32_t)m->bytes) {
        emu_note(m, &m->hazards, "misaligned or out-of-range shared store", addr);
        return;
    }
    for (int w = (int)addr / 4; w < (int)addr / 4 + n / 2; w++) {
        if (m->repoch[w] == m->epoch || m->wgroup[w] >= m->landed)
            emu_note(m, &m->hazards, "store into a word being read or copied", addr);
        m->wgroup[w] = -2;
        m->wepoch[w] = m->epoch;
    }
    memcpy(m->val + addr / 2, v, sizeof(double) * (size_t)n);
}

/* A 32-bit register of two 16-bit elements: [0] the low half, [1] the high. */
typedef double emu_reg[2];

/* ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16: lane l supplies the address of row l % 8
 * of matrix l / 8; register i of lane l receives row l / 4, columns 2 (l % 4) and +1 of
 * matrix i, or with .trans row 2 (l % 4) and +1 of column l / 4. */
static inline void emu_ldmatrix_x4(emu_smem *m, const uint32_t addr[32], int trans,
                                   emu_reg out[32][4])
{
    for (int i = 0; i < 4; i++) {
        double mat[8][8];
        int bank_used = 0;
        for (int r = 0; r < 8; r++) {
            const uint32_t a = addr[8 * i + r];
            if (a % 16) {
                emu_note(m, &m->hazards, "ldmatrix row address not 16-byte aligned", a);
                for (int c = 0; c < 8; c++)
                    mat[r][c] = NAN;
                continue;
            }
            /* the 8 rows of one matrix are read in one pass: 8 distinct 16-byte bank groups */
            const int group = (int)(a >> 4) & 7;
            if (bank_used & (1 << group))
                emu_note(m, &m->conflicts, "ldmatrix bank conflict", a);
            bank_used |= 1 << group;
            const double *row = emu_read(m, a, 16);
            for (int c = 0; c < 8; c++)
                mat[r][c] = row[c];
        }
        for (int l = 0; l < 32; l++)
            for (int e = 0; e < 2; e++)
                out[l][i][e] = trans ? mat[2 * (l % 4) + e][l / 4] : mat[l / 4][2 * (l % 4) + e];
    }
}

/* mma.sync.aligned.m16n8k16.row.col.f32: lane l = 4g + t. A (16 x 16): a0 (g, 2t..2t+1),
 * a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..); B (16 x 8): b0 (k 2t..2t+1, n g),
 * b1 (k 2t+8.., n g); C (16 x 8): c0 c1 (g, 2t..2t+1), c2 c3 (g+8, 2t..). d += A B. */
static inline void emu_mma_16816(double d[32][4], const emu_reg a[32][4],
                                 const emu_reg b[32][2])
{
    double A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        const int g = l / 4, t = l % 4;
        for (int e = 0; e < 2; e++) {
            A[g][2 * t + e] = a[l][0][e];
            A[g + 8][2 * t + e] = a[l][1][e];
            A[g][2 * t + 8 + e] = a[l][2][e];
            A[g + 8][2 * t + 8 + e] = a[l][3][e];
            B[2 * t + e][g] = b[l][0][e];
            B[2 * t + 8 + e][g] = b[l][1][e];
        }
    }
    for (int l = 0; l < 32; l++) {
        const int g = l / 4, t = l % 4;
        for (int v = 0; v < 4; v++) {
            const int row = g + (v / 2) * 8, col = 2 * t + v % 2;
            double s = 0.0;
            for (int k = 0; k < 16; k++)
                s += A[row][k] * B[k][col];
            d[l][v] += s;
        }
    }
}

/* The hardware's accumulator layout (above), for checks independent of the kernels' helpers. */
static inline int emu_c_row(int lane, int v)
{
    return lane / 4 + (v / 2) * 8;
}

/* max |x - ref| / max |ref| over n elements; NaN (an element never written) counts as infinite. */
static inline double emu_rel_err(const double *x, const double *ref, int64_t n)
{
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double e = fabs(x[i] - ref[i]);
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
        if (fabs(ref[i]) > scale)
            scale = fabs(ref[i]);
    }
    return worst / (scale > 0.0 ? scale : 1.0);
}

#endif
