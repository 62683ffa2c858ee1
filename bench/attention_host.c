/* attention_host.c - attention on the CPU: the materialized reference (double accumulation)
 * and the flash algorithm as the kernels run it, tile by tile with their tile sizes and the
 * shared online-softmax update of kernels/attention/attn_common.h (fp32), which is the `host`
 * implementation. In bf16 or fp16 (sh->storage) the flash functions round where the kernels
 * round: P before P V, dS before dS K and dS^T Q, and every output; the inputs come already
 * rounded. They can also commit one of the named bugs of tb_attn_bug on purpose, so the tests
 * can show that verification catches it. Layouts as in attn_common.h; tensors are fp32 arrays
 * (holding values of the storage type). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/attention.h"
#include "benches.h"

#define IDX(b, head, heads, row) tb_attn_index((b), (head), (heads), (row), 0, sh->S, sh->D)

/* The inner loops below are plain C that the compiler vectorizes; these clones let it use the
 * wide vector units where the CPU has them (no FMA contraction in ISO C: same results). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TB_VECTOR __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TB_VECTOR
#endif

/* Work (multiply-adds) below which a call stays on one thread: a tiny case timed on a shared
 * machine is steadier without waking the thread team. */
#define PARALLEL_MIN_MACS (1 << 22)

/* The softmax scale of the attn-scale bug: 2 % off. */
#define BUG_SCALE 1.02f

/* ---- the reference (double) ---- */

/* kT (D x n) = the n rows of K from row j0, transposed; rows past S are zero. */
static void transpose_rows(const float *K, int j0, int n, int S, int D, float *kT, int ld)
{
    for (int c = 0; c < n; c++)
        for (int d = 0; d < D; d++)
            kT[(int64_t)d * ld + c] = j0 + c < S ? K[(int64_t)(j0 + c) * D + d] : 0.0f;
}

/* rows of a head computed together by the reference (they share each K and V row) */
#define REF_RB 4

/* p[r][j] (r < rb, j < n) = sum_d q_r[d] kT[d][j] in double, d in order. */
TB_VECTOR static void dots_double(const float *q, int rb, int D, const float *kT, int64_t ld,
                                  int n, double *p, int64_t ldp)
{
    enum { JB = 32 };
    for (int j0 = 0; j0 < n; j0 += JB) {
        const int jn = j0 + JB < n ? JB : n - j0;
        for (int r = 0; r < rb; r++) {
            double acc[JB] = {0.0};
            const float *qr = q + (int64_t)r * D;
            if (jn == JB) {
                /* a full block: its accumulators stay in registers */
                for (int d = 0; d < D; d++) {
                    const double qd = qr[d];
                    const float *kd = kT + d * ld + j0;
                    for (int j = 0; j < JB; j++)
                        acc[j] += qd * kd[j];
                }
            } else {
                for (int d = 0; d < D; d++) {
                    const double qd = qr[d];
                    const float *kd = kT + d * ld + j0;
                    for (int j = 0; j < jn; j++)
                        acc[j] += qd * kd[j];
                }
            }
            memcpy(p + r * ldp + j0, acc, sizeof(double) * (size_t)jn);
        }
    }
}

/* For each of rb rows r with a weight w[r * ldw] != 0: acc_r[d] += w v[d] and
 * acc_r[D + d] += w |v[d]| (acc_r = acc + r 2D); vd holds 2D doubles of scratch. */
TB_VECTOR static void axpy_abs_rows(double *acc, const double *w, int64_t ldw, int rb,
                                    const float *v, int D, double *vd)
{
    for (int d = 0; d < D; d++) {
        vd[d] = v[d];
        vd[D + d] = fabs((double)v[d]);
    }
    for (int r = 0; r < rb; r++) {
        const double x = w[r * ldw];
        if (x == 0.0)
            continue;
        double *a = acc + (int64_t)r * 2 * D;
        for (int d = 0; d < 2 * D; d++)
            a[d] += x * vd[d];
    }
}

/* The probabilities of rows i0 .. i0+rb-1 of head (b, h) into p[r][0..S) (0 where masked),
 * their natural log-sum-exp into lse_out[r]; kT is the head's K transposed (D x S). */
static void host_row_probs(const tb_attn_shape *sh, const float *Q, const float *kT, int b,
                           int h, int i0, int rb, double *p, double *lse_out)
{
    const double scale = 1.0 / sqrt((double)sh->D);
    const int S = sh->S;
    const int n = sh->causal ? (i0 + rb < S ? i0 + rb : S) : S;
    dots_double(Q + IDX(b, h, sh->H, i0), rb, sh->D, kT, S, n, p, S);
    for (int r = 0; r < rb; r++) {
        double *pr = p + (int64_t)r * S;
        const int i = i0 + r;
        double m = -INFINITY;
        for (int j = 0; j < S; j++) {
            if (j >= n || tb_attn_masked(i, j, S, sh->causal)) {
                pr[j] = -INFINITY;
                continue;
            }
            pr[j] *= scale;
            m = pr[j] > m ? pr[j] : m;
        }
        double l = 0;
        for (int j = 0; j < S; j++) {
            pr[j] = pr[j] == -INFINITY ? 0.0 : exp(pr[j] - m);
            l += pr[j];
        }
        for (int j = 0; j < S; j++)
            pr[j] /= l;
        if (lse_out)
            lse_out[r] = m + log(l);
    }
}

int tb_attn_host_naive_fwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, float *O, float *lse, float *Oabs)
{
    const int G = sh->H / sh->KVH, S = sh->S, D = sh->D;
    int failed = 0;
    const double macs = (double)sh->B * sh->H * S * (double)S * D;
#pragma omp parallel for collapse(2) schedule(dynamic) reduction(| : failed) \
    if (macs > PARALLEL_MIN_MACS)
    for (int b = 0; b < sh->B; b++)
        for (int h = 0; h < sh->H; h++) {
            double *p = malloc((size_t)S * REF_RB * sizeof *p);
            double *acc = malloc((size_t)D * 2 * (REF_RB + 1) * sizeof *acc);
            float *kT = malloc((size_t)S * D * sizeof *kT);
            if (!p || !acc || !kT) {
                failed = 1;
                free(p);
                free(acc);
                free(kT);
                continue;
            }
            const float *Kh = K + IDX(b, h / G, sh->KVH, 0), *Vh = V + IDX(b, h / G, sh->KVH, 0);
            transpose_rows(Kh, 0, S, S, D, kT, S);
            for (int i0 = 0; i0 < S; i0 += REF_RB) {
                const int rb = i0 + REF_RB < S ? REF_RB : S - i0;
                double lse_i[REF_RB];
                host_row_probs(sh, Q, kT, b, h, i0, rb, p, lse_i);
                memset(acc, 0, (size_t)D * 2 * rb * sizeof *acc);
                double *vd = acc + (int64_t)REF_RB * 2 * D;
                const int n = sh->causal ? (i0 + rb < S ? i0 + rb : S) : S;
                for (int j = 0; j < n; j++)
                    axpy_abs_rows(acc, p + j, S, rb, Vh + (int64_t)j * D, D, vd);
                for (int r = 0; r < rb; r++) {
                    const int64_t o = IDX(b, h, sh->H, i0 + r);
                    for (int d = 0; d < D; d++) {
                        O[o + d] = (float)acc[r * 2 * D + d];
                        if (Oabs)
                            Oabs[o + d] = (float)acc[r * 2 * D + D + d];
                    }
                    lse[(int64_t)(b * sh->H + h) * S + i0 + r] = (float)lse_i[r];
                }
            }
            free(p);
            free(acc);
            free(kT);
        }
    return failed ? -1 : 0;
}

/* Drow_i = dO_i . O_i and Dabs_i = sum |dO_i O_i| for every row of [B][H][S]. */
void tb_attn_host_rowdot(const tb_attn_shape *sh, const float *dO, const float *O,
                         float *Drow, float *Dabs)
{
    const int64_t rows = (int64_t)sh->B * sh->H * sh->S;
#pragma omp parallel for schedule(static) if (rows * sh->D > PARALLEL_MIN_MACS)
    for (int64_t r = 0; r < rows; r++) {
        double s = 0, a = 0;
        for (int d = 0; d < sh->D; d++) {
            double x = (double)dO[r * sh->D + d] * O[r * sh->D + d];
            s += x;
            a += fabs(x);
        }
        Drow[r] = (float)s;
        if (Dabs)
            Dabs[r] = (float)a;
    }
}

/* The backward's updates of one (query row, key) pair: the dQ row and bound, the key's dK,
 * dV rows and bounds. */
TB_VECTOR static void bwd_pair(int D, double ds, double bound, double p, const float *k,
                               const float *q, const float *go, double *q_acc, double *dk,
                               double *dka, double *dv, double *dva)
{
    for (int d = 0; d < D; d++) {
        q_acc[d] += ds * k[d];
        q_acc[D + d] += bound * fabs((double)k[d]);
        dk[d] += ds * q[d];
        dka[d] += bound * fabs((double)q[d]);
        dv[d] += p * go[d];
        dva[d] += p * fabs((double)go[d]);
    }
}

int tb_attn_host_naive_bwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, const float *O, const float *dO, float *dQ, float *dK,
                           float *dV, float *dQabs, float *dKabs, float *dVabs)
{
    const int G = sh->H / sh->KVH, S = sh->S, D = sh->D;
    const double scale = 1.0 / sqrt((double)D);
    const int64_t rows = (int64_t)sh->B * sh->H * S;
    float *Drow = malloc((size_t)rows * sizeof *Drow), *Dabs = malloc((size_t)rows * sizeof *Dabs);
    if (!Drow || !Dabs) {
        free(Drow);
        free(Dabs);
        return -1;
    }
    tb_attn_host_rowdot(sh, dO, O, Drow, Dabs);
    int failed = 0;
    const double macs = (double)sh->B * sh->H * S * (double)S * D;
    /* one KV head's group at a time: it owns its dK, dV and its query heads' dQ */
#pragma omp parallel for collapse(2) schedule(dynamic) reduction(| : failed) \
    if (macs > PARALLEL_MIN_MACS)
    for (int b = 0; b < sh->B; b++)
        for (int kvh = 0; kvh < sh->KVH; kvh++) {
            double *p = malloc((size_t)S * sizeof *p), *dp = malloc((size_t)S * sizeof *dp);
            double *acc = calloc((size_t)S * D * 4, sizeof *acc); /* dK dKabs dV dVabs */
            double *q_acc = malloc((size_t)D * 2 * sizeof *q_acc);
            float *kT = malloc((size_t)S * D * 2 * sizeof *kT), *vT = kT + (int64_t)S * D;
            if (!p || !dp || !acc || !q_acc || !kT) {
                failed = 1;
                free(p);
                free(dp);
                free(acc);
                free(q_acc);
                free(kT);
                continue;
            }
            transpose_rows(K + IDX(b, kvh, sh->KVH, 0), 0, S, S, D, kT, S);
            transpose_rows(V + IDX(b, kvh, sh->KVH, 0), 0, S, S, D, vT, S);
            double *dk = acc, *dka = acc + (int64_t)S * D, *dv = acc + 2 * (int64_t)S * D,
                   *dva = acc + 3 * (int64_t)S * D;
            for (int h = kvh * G; h < kvh * G + G; h++)
                for (int i = 0; i < S; i++) {
                    host_row_probs(sh, Q, kT, b, h, i, 1, p, NULL);
                    const int64_t qi = IDX(b, h, sh->H, i);
                    const float *q = Q + qi, *go = dO + qi;
                    const double Di = Drow[qi / D], Da = Dabs[qi / D];
                    dots_double(go, 1, D, vT, S, sh->causal ? i + 1 : S, dp, S);
                    memset(q_acc, 0, (size_t)D * 2 * sizeof *q_acc);
                    for (int j = 0; j < S; j++) {
                        if (p[j] == 0.0)
                            continue;
                        const int64_t kj = IDX(b, kvh, sh->KVH, j);
                        const double ds = p[j] * (dp[j] - Di), bound = p[j] * (fabs(dp[j]) + Da);
                        bwd_pair(D, ds, bound, p[j], K + kj, q, go, q_acc, dk + (int64_t)j * D,
                                 dka + (int64_t)j * D, dv + (int64_t)j * D, dva + (int64_t)j * D);
                    }
                    for (int d = 0; d < D; d++) {
                        dQ[qi + d] = (float)(scale * q_acc[d]);
                        if (dQabs)
                            dQabs[qi + d] = (float)(scale * q_acc[D + d]);
                    }
                }
            const int64_t k0 = IDX(b, kvh, sh->KVH, 0);
            for (int64_t e = 0; e < (int64_t)S * D; e++) {
                dK[k0 + e] = (float)(scale * dk[e]);
                dV[k0 + e] = (float)dv[e];
                if (dKabs)
                    dKabs[k0 + e] = (float)(scale * dka[e]);
                if (dVabs)
                    dVabs[k0 + e] = (float)dva[e];
            }
            free(p);
            free(dp);
            free(acc);
            free(q_acc);
            free(kT);
        }
    free(Drow);
    free(Dabs);
    return failed ? -1 : 0;
}

/* ---- the flash algorithm (fp32, the kernels' tiles and roundings) ---- */

/* s[r][c] (r < rows, c < n) = sum_d a_r[d] bT[d][c] in fp32, d in order: one tile of scores
 * (the mma's fp32 accumulation, products of storage values exact in fp32). */
TB_VECTOR static void tile_dots(const float *a, int rows, int D, const float *bT, int n,
                                float *s)
{
    if (n == 64) {
        /* the common width, fixed so that the row's accumulators stay in registers */
        for (int r = 0; r < rows; r++) {
            float acc[64] = {0.0f};
            const float *ar = a + (int64_t)r * D;
            for (int d = 0; d < D; d++) {
                const float x = ar[d];
                const float *bd = bT + d * 64;
                for (int c = 0; c < 64; c++)
                    acc[c] += x * bd[c];
            }
            memcpy(s + r * 64, acc, sizeof acc);
        }
        return;
    }
    for (int r = 0; r < rows; r++) {
        float *sr = s + r * n;
        const float *ar = a + (int64_t)r * D;
        for (int c = 0; c < n; c++)
            sr[c] = 0.0f;
        for (int d = 0; d < D; d++) {
            const float x = ar[d];
            const float *bd = bT + d * n;
            for (int c = 0; c < n; c++)
                sr[c] += x * bd[c];
        }
    }
}

/* out[r][d] += sum_c w[r][c] m_c[d] over c < n (rows r < rows; m rows of D; zero weights
 * skipped): P V, dS K and the transposed products of the backward. */
TB_VECTOR static void tile_mul_add(const float *w, int ldw, int rows, int n, const float *m,
                                   int D, float *out)
{
    for (int r = 0; r < rows; r++) {
        float *o = out + (int64_t)r * D;
        for (int c = 0; c < n; c++) {
            const float x = w[r * ldw + c];
            if (x == 0.0f)
                continue;
            const float *mc = m + (int64_t)c * D;
            for (int d = 0; d < D; d++)
                o[d] += x * mc[d];
        }
    }
}

/* The forward as flash_fwd.cu runs it with two row tiles per warp: query tiles of
 * TB_ATTN_FWD_BR rows (one CTA each), key tiles of TB_ATTN_FWD_BC, causal tiles skipped or
 * masked as the kernel does, the online softmax of attn_common.h in base 2, P rounded to the
 * storage type for P V, 1/l applied at the end and O rounded. A bug strikes the first CTA the
 * kernel launches (the last query tile of head 0, batch 0) at its middle key tile, or (scale)
 * every CTA. */
int tb_attn_host_flash_fwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, float *O, float *lse, tb_attn_bug bug)
{
    enum { BR = TB_ATTN_FWD_BR, BC = TB_ATTN_FWD_BC };
    const int S = sh->S, D = sh->D, st = sh->storage;
    const int G = sh->H / sh->KVH, nq = (S + BR - 1) / BR;
    const float scale_log2 =
        TB_ATTN_LOG2E / sqrtf((float)D) * (bug == TB_ATTN_BUG_SCALE ? BUG_SCALE : 1.0f);
    const double macs = 2.0 * sh->B * sh->H * S * (double)S * D;
    int failed = 0;
#pragma omp parallel reduction(| : failed) if (macs > PARALLEL_MIN_MACS)
    {
        float *s = malloc(sizeof(float) * BR * BC), *kT = malloc(sizeof(float) * D * BC);
        float *o = malloc(sizeof(float) * BR * D), *zeros = calloc((size_t)BC * D, sizeof(float));
        tb_attn_row *row = malloc(sizeof *row * BR);
        if (!s || !kT || !o || !zeros || !row)
            failed = 1;
#pragma omp for collapse(3) schedule(dynamic)
        for (int b = 0; b < sh->B; b++)
            for (int h = 0; h < sh->H; h++)
                for (int qt = 0; qt < nq; qt++) {
                    if (failed)
                        continue;
                    const int q0 = qt * BR, rows = q0 + BR < S ? BR : S - q0, kvh = h / G;
                    const int T = tb_attn_kv_tiles(q0, BR, BC, S, sh->causal);
                    const int target = b == 0 && h == 0 && qt == nq - 1, t_bug = T / 2;
                    const float *q = Q + IDX(b, h, sh->H, q0);
                    for (int r = 0; r < rows; r++)
                        row[r] = (tb_attn_row){-INFINITY, 0.0f};
                    memset(o, 0, sizeof(float) * BR * D);
                    for (int t = 0; t < T; t++) {
                        if (target && t == t_bug && bug == TB_ATTN_BUG_DROP_TILE)
                            continue;
                        const int k0 = t * BC;
                        const int mask = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, sh->causal);
                        transpose_rows(K + IDX(b, kvh, sh->KVH, 0), k0, BC, S, D, kT, BC);
                        tile_dots(q, rows, D, kT, BC, s);
                        /* the stale stage: the previous tile's V (none before the first) */
                        const float *v = target && t == t_bug && bug == TB_ATTN_BUG_STALE_V
                                             ? (t > 0 ? V + IDX(b, kvh, sh->KVH, k0 - BC) : zeros)
                                             : V + IDX(b, kvh, sh->KVH, k0);
                        for (int r = 0; r < rows; r++) {
                            float *x = s + r * BC;
                            float mx = -INFINITY;
                            for (int c = 0; c < BC; c++) {
                                x[c] = mask && tb_attn_masked(q0 + r, k0 + c, S, sh->causal)
                                           ? -INFINITY
                                           : x[c] * scale_log2;
                                mx = x[c] > mx ? x[c] : mx;
                            }
                            const float alpha = tb_attn_row_update(&row[r], mx);
                            const float base = tb_attn_row_base(row[r].m);
                            for (int d = 0; d < D; d++)
                                o[r * D + d] *= alpha;
                            for (int c = 0; c < BC; c++) {
                                const float p = exp2f(x[c] - base);
                                row[r].l += p;
                                x[c] = tb_mm_round(st, p); /* the A operand of P V */
                            }
                        }
                        /* keys past S have p = 0 and are skipped: no read past V */
                        tile_mul_add(s, BC, rows, BC, v, D, o);
                    }
                    for (int r = 0; r < rows; r++) {
                        const float inv = tb_attn_row_inv(row[r]);
                        float *out = O + IDX(b, h, sh->H, q0 + r);
                        for (int d = 0; d < D; d++)
                            out[d] = tb_mm_round(st, o[r * D + d] * inv);
                        lse[(int64_t)(b * sh->H + h) * S + q0 + r] = tb_attn_row_lse(row[r]);
                    }
                }
        free(s);
        free(kT);
        free(o);
        free(zeros);
        free(row);
    }
    return failed ? -1 : 0;
}

/* The backward as flash_bwd.cu runs it: one CTA per KV head and key tile of TB_ATTN_BWD_BC
 * keys, looping over the query tiles (TB_ATTN_BWD_BR rows) of every head of the group from
 * the first one the causal mask leaves; P recomputed from lse, P and dS = P (dP - D) rounded
 * to the storage type before they multiply, dK and dV accumulated for the tile, dQ
 * accumulated across key tiles in fp32 (the kernel's atomics: here one buffer per thread,
 * summed at the end) and rounded last. A bug strikes the CTA of the middle key tile of KV head
 * 0, batch 0: it skips its middle query tile, or reads the previous key tile's V; or (scale)
 * every CTA. */
int tb_attn_host_flash_bwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, const float *O, const float *lse, const float *dO,
                           float *dQ, float *dK, float *dV, tb_attn_bug bug)
{
    enum { BR = TB_ATTN_BWD_BR, BC = TB_ATTN_BWD_BC };
    const int S = sh->S, D = sh->D, st = sh->storage;
    const int G = sh->H / sh->KVH, nq = (S + BR - 1) / BR, nk = (S + BC - 1) / BC;
    const float scale = 1.0f / sqrtf((float)D) * (bug == TB_ATTN_BUG_SCALE ? BUG_SCALE : 1.0f);
    const float scale_log2 = scale * TB_ATTN_LOG2E;
    const int64_t rows = (int64_t)sh->B * sh->H * S, group = (int64_t)G * S * D;
    const double macs = 4.0 * sh->B * sh->H * S * (double)S * D;
    const int threads = macs > PARALLEL_MIN_MACS ? omp_get_max_threads() : 1;
    float *Drow = malloc((size_t)rows * sizeof *Drow);
    float *dq_all = calloc((size_t)threads * group, sizeof *dq_all);
    float *zeros = calloc((size_t)BC * D, sizeof *zeros);
    if (!Drow || !dq_all || !zeros) {
        free(Drow);
        free(dq_all);
        free(zeros);
        return -1;
    }
    tb_attn_host_rowdot(sh, dO, O, Drow, NULL);
    int failed = 0;
    for (int b = 0; b < sh->B && !failed; b++)
        for (int kvh = 0; kvh < sh->KVH && !failed; kvh++) {
            const int64_t q_base = IDX(b, kvh * G, sh->H, 0); /* the group's G heads of Q */
            memset(dq_all, 0, sizeof(float) * threads * group);
#pragma omp parallel num_threads(threads) reduction(| : failed)
            {
                float *dq = dq_all + omp_get_thread_num() * group;
                float *qT = malloc(sizeof(float) * D * BR * 2), *doT = qT + D * BR;
                float *sT = malloc(sizeof(float) * BC * BR * 2), *dsT = sT + BC * BR;
                float *dS = malloc(sizeof(float) * BR * BC), *tmp = malloc(sizeof(float) * BR * D);
                float *acc = malloc(sizeof(float) * BC * D * 2), *dv = acc + BC * D;
                if (!qT || !sT || !dS || !tmp || !acc)
                    failed = 1;
#pragma omp for schedule(static)
                for (int kt = 0; kt < nk; kt++) {
                    if (failed)
                        continue;
                    const int k0 = kt * BC, kn = k0 + BC < S ? BC : S - k0;
                    const int target = b == 0 && kvh == 0 && kt == nk / 2;
                    const float *Kt = K + IDX(b, kvh, sh->KVH, k0);
                    const float *Vt = target && bug == TB_ATTN_BUG_STALE_V
                                          ? (kt > 0 ? V + IDX(b, kvh, sh->KVH, k0 - BC) : zeros)
                                          : V + IDX(b, kvh, sh->KVH, k0);
                    const int first = tb_attn_first_q_tile(k0, BR, sh->causal);
                    const int per_head = nq - first, items = G * per_head;
                    memset(acc, 0, sizeof(float) * BC * D * 2);
                    for (int it = 0; it < items; it++) {
                        if (target && it == items / 2 && bug == TB_ATTN_BUG_DROP_TILE)
                            continue;
                        const int h = kvh * G + it / per_head, q0 = (first + it % per_head) * BR;
                        const int qn = q0 + BR < S ? BR : S - q0;
                        const int64_t qi0 = IDX(b, h, sh->H, q0);
                        const int mask = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, sh->causal);
                        transpose_rows(Q + IDX(b, h, sh->H, 0), q0, BR, S, D, qT, BR);
                        transpose_rows(dO + IDX(b, h, sh->H, 0), q0, BR, S, D, doT, BR);
                        /* S^T = K Q^T and dP^T = V dO^T: kn keys x BR queries */
                        tile_dots(Kt, kn, D, qT, BR, sT);
                        tile_dots(Vt, kn, D, doT, BR, dsT);
                        for (int c = 0; c < kn; c++)
                            for (int r = 0; r < BR; r++) {
                                const int64_t ri = qi0 / D + r;
                                float p = 0.0f, ds = 0.0f;
                                if (r < qn && !(mask && tb_attn_masked(q0 + r, k0 + c, S,
                                                                       sh->causal))) {
                                    p = exp2f(sT[c * BR + r] * scale_log2 -
                                              lse[ri] * TB_ATTN_LOG2E);
                                    ds = p * (dsT[c * BR + r] - Drow[ri]);
                                }
                                sT[c * BR + r] = tb_mm_round(st, p);
                                dsT[c * BR + r] = tb_mm_round(st, ds);
                                dS[r * BC + c] = dsT[c * BR + r];
                            }
                        /* dV += P^T dO, dK += dS^T Q (scaled at the end) */
                        tile_mul_add(sT, BR, kn, qn, dO + qi0, D, dv);
                        tile_mul_add(dsT, BR, kn, qn, Q + qi0, D, acc);
                        /* dQ (the tile's rows) += scale dS K */
                        memset(tmp, 0, sizeof(float) * BR * D);
                        tile_mul_add(dS, BC, qn, kn, Kt, D, tmp);
                        float *dqt = dq + (qi0 - q_base);
                        for (int e = 0; e < qn * D; e++)
                            dqt[e] += tmp[e] * scale;
                    }
                    for (int c = 0; c < kn; c++)
                        for (int d = 0; d < D; d++) {
                            dK[IDX(b, kvh, sh->KVH, k0 + c) + d] =
                                tb_mm_round(st, acc[c * D + d] * scale);
                            dV[IDX(b, kvh, sh->KVH, k0 + c) + d] = tb_mm_round(st, dv[c * D + d]);
                        }
                }
                free(qT);
                free(sT);
                free(dS);
                free(tmp);
                free(acc);
            }
            /* the fp32 dQ of the group, then its rounding (the kernel's last pass) */
            for (int64_t e = 0; e < group; e++) {
                float x = 0.0f;
                for (int t = 0; t < threads; t++)
                    x += dq_all[t * group + e];
                dQ[q_base + e] = tb_mm_round(st, x);
            }
        }
    free(Drow);
    free(dq_all);
    free(zeros);
    return failed ? -1 : 0;
}
