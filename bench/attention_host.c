/* attention_host.c - attention on the CPU: the materialized reference (double accumulation)
 * and the flash algorithm as the kernels run it, tile by tile with their tile sizes and the
 * shared online-softmax update of kernels/attention/attn_common.h (fp32), which is the `host`
 * implementation. Layouts as in attn_common.h; inputs and outputs fp32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/attention.h"
#include "benches.h"

#define IDX(b, head, heads, row) tb_attn_index((b), (head), (heads), (row), 0, sh->S, sh->D)

static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int d = 0; d < n; d++)
        s += (double)a[d] * b[d];
    return s;
}

/* The probabilities of row i of head (b, h) into p[0..S) (0 where masked); returns the
 * natural log-sum-exp of the row's scores. */
static double host_row_probs(const tb_attn_shape *sh, const float *Q, const float *K, int b,
                             int h, int i, double *p)
{
    const int G = sh->H / sh->KVH, kvh = h / G;
    const double scale = 1.0 / sqrt((double)sh->D);
    const float *q = Q + IDX(b, h, sh->H, i);
    double m = -INFINITY;
    for (int j = 0; j < sh->S; j++) {
        if (tb_attn_masked(i, j, sh->S, sh->causal)) {
            p[j] = -INFINITY;
            continue;
        }
        p[j] = scale * dot(q, K + IDX(b, kvh, sh->KVH, j), sh->D);
        m = p[j] > m ? p[j] : m;
    }
    double l = 0;
    for (int j = 0; j < sh->S; j++) {
        p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - m);
        l += p[j];
    }
    for (int j = 0; j < sh->S; j++)
        p[j] /= l;
    return m + log(l);
}

int tb_attn_host_naive_fwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, float *O, float *lse, float *Oabs)
{
    const int G = sh->H / sh->KVH;
    int failed = 0;
#pragma omp parallel for collapse(2) schedule(dynamic) reduction(| : failed)
    for (int b = 0; b < sh->B; b++)
        for (int h = 0; h < sh->H; h++) {
            double *p = malloc((size_t)sh->S * sizeof *p);
            double *acc = malloc((size_t)sh->D * 2 * sizeof *acc);
            if (!p || !acc) {
                failed = 1;
                free(p);
                free(acc);
                continue;
            }
            for (int i = 0; i < sh->S; i++) {
                double lse_i = host_row_probs(sh, Q, K, b, h, i, p);
                memset(acc, 0, (size_t)sh->D * 2 * sizeof *acc);
                for (int j = 0; j < sh->S; j++) {
                    if (p[j] == 0.0)
                        continue;
                    const float *v = V + IDX(b, h / G, sh->KVH, j);
                    for (int d = 0; d < sh->D; d++) {
                        acc[d] += p[j] * v[d];
                        acc[sh->D + d] += p[j] * fabs((double)v[d]);
                    }
                }
                const int64_t o = IDX(b, h, sh->H, i);
                for (int d = 0; d < sh->D; d++) {
                    O[o + d] = (float)acc[d];
                    if (Oabs)
                        Oabs[o + d] = (float)acc[sh->D + d];
                }
                lse[(int64_t)(b * sh->H + h) * sh->S + i] = (float)lse_i;
            }
            free(p);
            free(acc);
        }
    return failed ? -1 : 0;
}

/* Drow_i = dO_i . O_i and Dabs_i = sum |dO_i O_i| for every row of [B][H][S]. */
void tb_attn_host_rowdot(const tb_attn_shape *sh, const float *dO, const float *O,
                         float *Drow, float *Dabs)
{
    const int64_t rows = (int64_t)sh->B * sh->H * sh->S;
#pragma omp parallel for schedule(static)
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
    /* one KV head's group at a time: it owns its dK, dV and its query heads' dQ */
#pragma omp parallel for collapse(2) schedule(dynamic) reduction(| : failed)
    for (int b = 0; b < sh->B; b++)
        for (int kvh = 0; kvh < sh->KVH; kvh++) {
            double *p = malloc((size_t)S * sizeof *p);
            double *acc = calloc((size_t)S * D * 4, sizeof *acc); /* dK dKabs dV dVabs */
            double *q_acc = malloc((size_t)D * 2 * sizeof *q_acc);
            if (!p || !acc || !q_acc) {
                failed = 1;
                free(p);
                free(acc);
                free(q_acc);
                continue;
            }
            double *dk = acc, *dka = acc + (int64_t)S * D, *dv = acc + 2 * (int64_t)S * D,
                   *dva = acc + 3 * (int64_t)S * D;
            for (int h = kvh * G; h < kvh * G + G; h++)
                for (int i = 0; i < S; i++) {
                    host_row_probs(sh, Q, K, b, h, i, p);
                    const int64_t qi = IDX(b, h, sh->H, i);
                    const float *q = Q + qi, *go = dO + qi;
                    const double Di = Drow[qi / D], Da = Dabs[qi / D];
                    memset(q_acc, 0, (size_t)D * 2 * sizeof *q_acc);
                    for (int j = 0; j < S; j++) {
                        if (p[j] == 0.0)
                            continue;
                        const int64_t kj = IDX(b, kvh, sh->KVH, j);
                        const double dp = dot(go, V + kj, D);
                        const double ds = p[j] * (dp - Di), bound = p[j] * (fabs(dp) + Da);
                        for (int d = 0; d < D; d++) {
                            q_acc[d] += ds * K[kj + d];
                            q_acc[D + d] += bound * fabs((double)K[kj + d]);
                            dk[(int64_t)j * D + d] += ds * q[d];
                            dka[(int64_t)j * D + d] += bound * fabs((double)q[d]);
                            dv[(int64_t)j * D + d] += p[j] * go[d];
                            dva[(int64_t)j * D + d] += p[j] * fabs((double)go[d]);
                        }
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
            free(acc);
            free(q_acc);
        }
    free(Drow);
    free(Dabs);
    return failed ? -1 : 0;
}

/* The forward as flash_fwd.cu runs it: query tiles of TB_ATTN_FWD_BR rows, key tiles of
 * TB_ATTN_FWD_BC, causal tiles skipped or masked as the kernel does, the online softmax of
 * attn_common.h in base 2, 1/l applied at the end. */
void tb_attn_host_flash_fwd(const tb_attn_shape *sh, const float *Q, const float *K,
                            const float *V, float *O, float *lse)
{
    const int BR = TB_ATTN_FWD_BR, BC = TB_ATTN_FWD_BC, S = sh->S, D = sh->D;
    const int G = sh->H / sh->KVH, nq = (S + BR - 1) / BR;
    const float scale_log2 = TB_ATTN_LOG2E / sqrtf((float)D);
#pragma omp parallel for collapse(3) schedule(dynamic)
    for (int b = 0; b < sh->B; b++)
        for (int h = 0; h < sh->H; h++)
            for (int qt = 0; qt < nq; qt++) {
                const int q0 = qt * BR, kvh = h / G;
                const int T = tb_attn_kv_tiles(q0, BR, BC, S, sh->causal);
                for (int i = q0; i < q0 + BR && i < S; i++) {
                    float *o = O + IDX(b, h, sh->H, i);
                    const float *q = Q + IDX(b, h, sh->H, i);
                    tb_attn_row row = {-INFINITY, 0.0f};
                    float x[TB_ATTN_FWD_BC];
                    for (int d = 0; d < D; d++)
                        o[d] = 0.0f;
                    for (int t = 0; t < T; t++) {
                        const int k0 = t * BC;
                        const int mask = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, sh->causal);
                        float mx = -INFINITY;
                        for (int c = 0; c < BC; c++) {
                            const int j = k0 + c;
                            if (mask && tb_attn_masked(i, j, S, sh->causal)) {
                                x[c] = -INFINITY;
                                continue;
                            }
                            float s = 0.0f;
                            const float *k = K + IDX(b, kvh, sh->KVH, j);
                            for (int d = 0; d < D; d++)
                                s += q[d] * k[d];
                            x[c] = s * scale_log2;
                            mx = x[c] > mx ? x[c] : mx;
                        }
                        const float alpha = tb_attn_row_update(&row, mx);
                        const float base = tb_attn_row_base(row.m);
                        for (int d = 0; d < D; d++)
                            o[d] *= alpha;
                        for (int c = 0; c < BC; c++) {
                            const float p = exp2f(x[c] - base);
                            if (p == 0.0f)
                                continue;
                            row.l += p;
                            const float *v = V + IDX(b, kvh, sh->KVH, k0 + c);
                            for (int d = 0; d < D; d++)
                                o[d] += p * v[d];
                        }
                    }
                    const float inv = tb_attn_row_inv(row);
                    for (int d = 0; d < D; d++)
                        o[d] *= inv;
                    lse[(int64_t)(b * sh->H + h) * S + i] = tb_attn_row_lse(row);
                }
            }
}

/* The backward as flash_bwd.cu runs it: per KV head and key tile of TB_ATTN_BWD_BC keys, the
 * query tiles (TB_ATTN_BWD_BR rows) of every head of the group from the first one the causal
 * mask leaves, P recomputed from lse, dK and dV accumulated for the tile, dQ accumulated
 * across key tiles (the kernel's atomics). */
int tb_attn_host_flash_bwd(const tb_attn_shape *sh, const float *Q, const float *K,
                           const float *V, const float *O, const float *lse, const float *dO,
                           float *dQ, float *dK, float *dV)
{
    const int BR = TB_ATTN_BWD_BR, BC = TB_ATTN_BWD_BC, S = sh->S, D = sh->D;
    const int G = sh->H / sh->KVH, nq = (S + BR - 1) / BR, nk = (S + BC - 1) / BC;
    const float scale = 1.0f / sqrtf((float)D), scale_log2 = scale * TB_ATTN_LOG2E;
    const int64_t rows = (int64_t)sh->B * sh->H * S;
    float *Drow = malloc((size_t)rows * sizeof *Drow);
    if (!Drow)
        return -1;
    tb_attn_host_rowdot(sh, dO, O, Drow, NULL);
    memset(dQ, 0, (size_t)rows * D * sizeof *dQ);
    /* a group owns its dK, dV and its heads' dQ: groups run in parallel, key tiles in order */
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int b = 0; b < sh->B; b++)
        for (int kvh = 0; kvh < sh->KVH; kvh++)
            for (int kt = 0; kt < nk; kt++) {
                const int k0 = kt * BC;
                for (int j = k0; j < k0 + BC && j < S; j++) {
                    float *dk = dK + IDX(b, kvh, sh->KVH, j), *dv = dV + IDX(b, kvh, sh->KVH, j);
                    for (int d = 0; d < D; d++)
                        dk[d] = dv[d] = 0.0f;
                }
                for (int h = kvh * G; h < kvh * G + G; h++)
                    for (int qt = tb_attn_first_q_tile(k0, BR, sh->causal); qt < nq; qt++) {
                        const int q0 = qt * BR;
                        const int mask = tb_attn_tile_needs_mask(q0, BR, k0, BC, S, sh->causal);
                        for (int i = q0; i < q0 + BR && i < S; i++) {
                            const int64_t qi = IDX(b, h, sh->H, i);
                            const float l2 = lse[qi / D] * TB_ATTN_LOG2E, Di = Drow[qi / D];
                            for (int j = k0; j < k0 + BC && j < S; j++) {
                                if (mask && tb_attn_masked(i, j, S, sh->causal))
                                    continue;
                                const int64_t kj = IDX(b, kvh, sh->KVH, j);
                                float s = 0.0f, dp = 0.0f;
                                for (int d = 0; d < D; d++) {
                                    s += Q[qi + d] * K[kj + d];
                                    dp += dO[qi + d] * V[kj + d];
                                }
                                const float p = exp2f(s * scale_log2 - l2), ds = p * (dp - Di);
                                for (int d = 0; d < D; d++) {
                                    dV[kj + d] += p * dO[qi + d];
                                    dK[kj + d] += ds * Q[qi + d];
                                    dQ[qi + d] += scale * ds * K[kj + d];
                                }
                            }
                        }
                    }
                for (int j = k0; j < k0 + BC && j < S; j++) {
                    float *dk = dK + IDX(b, kvh, sh->KVH, j);
                    for (int d = 0; d < D; d++)
                        dk[d] *= scale;
                }
            }
    free(Drow);
    return 0;
}
