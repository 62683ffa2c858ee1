#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "keyindex.h"
#include "stats.h"

static const char *const verdict_names[TB_V_COUNT] = {
    "SAME", "FASTER", "SLOWER", "AMBIGUOUS", "WRONG", "ERROR", "MISSING", "UNMEASURED"};

const char *tb_verdict_name(tb_verdict v)
{
    return (unsigned)v < TB_V_COUNT ? verdict_names[v] : "?";
}

int tb_verdict_fails(tb_verdict v)
{
    return v == TB_V_SLOWER || v == TB_V_WRONG || v == TB_V_ERROR || v == TB_V_MISSING;
}

int tb_format_parse(const char *s, tb_format *out)
{
    static const char *const names[] = {"text", "md", "csv", "json"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (tb_format)i;
            return 0;
        }
    return -1;
}

/* ---- Mann-Whitney U ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tb_mwu_min_p(size_t nx, size_t ny)
{
    /* C(nx + ny, nx), as a double: exact well past the sizes that matter here */
    double c = 1;
    for (size_t i = 1; i <= nx; i++)
        c = c * (double)(ny + i) / (double)i;
    double p = 2.0 / c;
    return p < 1 ? p : 1;
}

/* P(U <= u) without ties: the coefficients of the Gaussian binomial [nx + ny choose nx]_q
 * count the arrangements by U; built factor by factor, [ny + i choose i] = [ny + i - 1 choose
 * i - 1] (1 - q^(ny+i)) / (1 - q^i). */
static double exact_cdf(size_t nx, size_t ny, double u)
{
    size_t deg = nx * ny;
    double *c = calloc(deg + nx + ny + 1, sizeof *c);
    if (!c)
        return NAN;
    c[0] = 1;
    size_t cur = 0;
    for (size_t i = 1; i <= nx; i++) {
        size_t m = ny + i, top = cur + m;
        for (size_t k = top; k >= m; k--) /* times (1 - q^m) */
            c[k] -= c[k - m];
        /* divided by (1 - q^i): running sums at stride i, through the top so the terms
         * above the quotient's degree cancel to zero */
        for (size_t k = i; k <= top; k++)
            c[k] += c[k - i];
        cur += ny;
    }
    double below = 0, total = 0;
    for (size_t k = 0; k <= deg; k++) {
        total += c[k];
        if ((double)k <= u + 1e-9)
            below += c[k];
    }
    free(c);
    return below / total;
}

tb_mwu tb_mwu_test(const double *x, size_t nx, const double *y, size_t ny)
{
    tb_mwu r = {NAN, NAN, 0};
    size_t n = nx + ny;
    if (nx == 0 || ny == 0)
        return r;
    /* ranks of the pooled values, ties given their mean rank */
    typedef struct {
        double v;
        int from_x;
    } item;
    item *all = malloc(n * sizeof *all);
    if (!all)
        return r;
    for (size_t i = 0; i < nx; i++)
        all[i] = (item){x[i], 1};
    for (size_t j = 0; j < ny; j++)
        all[nx + j] = (item){y[j], 0};
    qsort(all, n, sizeof *all, cmp_double); /* v is the first member */
    double rank_x = 0, tie_term = 0;
    int ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && all[j + 1].v == all[i].v)
            j++;
        double t = (double)(j - i + 1);
        double mid = (double)(i + j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            if (all[k].from_x)
                rank_x += mid;
        if (t > 1) {
            ties = 1;
            tie_term += t * t * t - t;
        }
        i = j + 1;
    }
    free(all);
    r.u = rank_x - (double)nx * (double)(nx + 1) / 2.0;
    double mean = (double)nx * (double)ny / 2.0;
    if (!ties && n <= TB_MWU_EXACT_MAX) {
        /* the distribution is symmetric: the tail on the side of u */
        double tail = exact_cdf(nx, ny, r.u <= mean ? r.u : (double)nx * (double)ny - r.u);
        r.p = 2 * tail < 1 ? 2 * tail : 1;
        r.exact = 1;
        return r;
    }
    double var = (double)nx * (double)ny / 12.0 *
                 ((double)(n + 1) - tie_term / ((double)n * (double)(n - 1)));
    if (!(var > 0)) {
        r.p = 1; /* every value equal */
        return r;
    }
    double z = (fabs(r.u - mean) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    r.p = erfc(z / sqrt(2.0));
    if (r.p > 1)
        r.p = 1;
    return r;
}

/* ---- the bootstrap ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The median of a resample of v (n values) drawn into buf. */
static double resample_median(const double *v, size_t n, double *buf, uint64_t *state)
{
    for (size_t i = 0; i < n; i++) {
        /* an index below n from 64 random bits, by multiplication (Lemire), not division */
        double d = v[(size_t)(((unsigned __int128)splitmix64(state) * n) >> 64)];
        size_t k = i;
        for (; k > 0 && buf[k - 1] > d; k--) /* insertion: n is a handful of rounds */
            buf[k] = buf[k - 1];
        buf[k] = d;
    }
    return n % 2 ? buf[n / 2] : 0.5 * (buf[n / 2 - 1] + buf[n / 2]);
}

/* Moves the k-th smallest of v[0..n) to v[k], smaller ones before it and larger after
 * (quickselect): the interval's two ends without sorting every resample. */
static void select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

/* The p-quantile of v[0..n) as tb_stats_quantile_sorted would give it once sorted
 * (linear interpolation between order statistics); reorders v. */
static double quantile_unsorted(double *v, size_t n, double p)
{
    double pos = p * (double)(n - 1);
    size_t k = (size_t)pos;
    if (k >= n - 1) {
        select_kth(v, n, n - 1);
        return v[n - 1];
    }
    select_kth(v, n, k);
    double next = v[k + 1];
    for (size_t i = k + 2; i < n; i++)
        if (v[i] < next)
            next = v[i];
    return v[k] + (pos - (double)k) * (next - v[k]);
}

/* The bootstrap distribution of the median of v[0..n), n odd, exactly: a resample's median is
 * the k-th smallest value (k = 1..n, ties kept apart by position) when at least (n+1)/2 of its n
 * draws are among the k smallest and fewer are among the k-1 smallest, so
 * P(median <= k-th) = P(Bin(n, k/n) >= (n+1)/2). Fills sorted (ascending) and prob. */
static void median_distribution(const double *v, size_t n, double *sorted, double *prob)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = i;
        for (; k > 0 && sorted[k - 1] > v[i]; k--)
            sorted[k] = sorted[k - 1];
        sorted[k] = v[i];
    }
    size_t m = (n + 1) / 2;
    double prev = 0;
    for (size_t k = 1; k <= n; k++) {
        double q = (double)k / (double)n, tail = 0;
        for (size_t j = m; j <= n; j++) {
            double c = 1; /* C(n, j) */
            for (size_t t = 1; t <= j; t++)
                c = c * (double)(n - j + t) / (double)t;
            tail += c * pow(q, (double)j) * pow(1 - q, (double)(n - j));
        }
        if (k == n)
            tail = 1;
        prob[k - 1] = tail - prev;
        prev = tail;
    }
}

typedef struct {
    double change, prob;
} change_atom;

static int atom_order(const void *a, const void *b)
{
    double x = ((const change_atom *)a)->change, y = ((const change_atom *)b)->change;
    return (x > y) - (x < y);
}

/* The interval from the exact bootstrap distribution (both sides odd and small): the change
 * takes the value mb/mn - 1 with the product of the two medians' probabilities; the ends are
 * the smallest changes whose cumulative probability reaches the tails. The limit of
 * resampling as the resamples grow, without its Monte Carlo error or its cost. */
static int exact_change(const double *base, size_t nb, const double *neu, size_t nn,
                        double level, double *lo, double *hi)
{
    double sb[TB_EXACT_BOOT_MAX], pb[TB_EXACT_BOOT_MAX];
    double sn[TB_EXACT_BOOT_MAX], pn[TB_EXACT_BOOT_MAX];
    change_atom atoms[TB_EXACT_BOOT_MAX * TB_EXACT_BOOT_MAX];
    median_distribution(base, nb, sb, pb);
    median_distribution(neu, nn, sn, pn);
    size_t n = 0;
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < nn; j++)
            if (pb[i] * pn[j] > 0) {
                atoms[n].change = sb[i] / sn[j] - 1.0;
                atoms[n].prob = pb[i] * pn[j];
                n++;
            }
    qsort(atoms, n, sizeof *atoms, atom_order);
    double tail = (1.0 - level) / 2.0, cum = 0;
    *lo = *hi = atoms[n - 1].change;
    int have_lo = 0;
    for (size_t i = 0; i < n; i++) {
        cum += atoms[i].prob;
        if (!have_lo && cum >= tail - 1e-12) {
            *lo = atoms[i].change;
            have_lo = 1;
        }
        if (cum >= 1.0 - tail - 1e-12) {
            *hi = atoms[i].change;
            break;
        }
    }
    return 0;
}

int tb_bootstrap_change(const double *base, size_t nb, const double *neu, size_t nn,
                        int resamples, double level, uint64_t seed, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (nb == 0 || nn == 0 || resamples < 1)
        return -1;
    for (size_t i = 0; i < nb; i++)
        if (!(base[i] > 0))
            return -1;
    for (size_t i = 0; i < nn; i++)
        if (!(neu[i] > 0))
            return -1;
    if (nb % 2 && nn % 2 && nb <= TB_EXACT_BOOT_MAX && nn <= TB_EXACT_BOOT_MAX)
        return exact_change(base, nb, neu, nn, level, lo, hi);
    double *buf = malloc((nb > nn ? nb : nn) * sizeof *buf);
    double *change = malloc((size_t)resamples * sizeof *change);
    double *sorted = malloc((nb + nn) * sizeof *sorted);
    if (!buf || !change || !sorted) {
        free(buf);
        free(change);
        free(sorted);
        return -1;
    }
    /* the draws index the sorted values: the interval depends on the values, not their order
     * (pooled rounds arrive in any order) */
    memcpy(sorted, base, nb * sizeof *sorted);
    memcpy(sorted + nb, neu, nn * sizeof *sorted);
    qsort(sorted, nb, sizeof *sorted, cmp_double);
    qsort(sorted + nb, nn, sizeof *sorted, cmp_double);
    uint64_t state = seed;
    for (int b = 0; b < resamples; b++) {
        double mb = resample_median(sorted, nb, buf, &state);
        double mn = resample_median(sorted + nb, nn, buf, &state);
        change[b] = mb / mn - 1.0;
    }
    free(sorted);
    double tail = (1.0 - level) / 2.0;
    *lo = quantile_unsorted(change, (size_t)resamples, tail);
    *hi = quantile_unsorted(change, (size_t)resamples, 1.0 - tail);
    free(buf);
    free(change);
    return 0;
}

/* ---- the verdict rule ---- */

static double median_of(const double *v, size_t n)
{
    tb_stats s;
    return tb_stats_compute(v, n, &s) == 0 ? s.median : NAN;
}

tb_verdict tb_gate_verdict(const double *base, size_t nb, const double *neu, size_t nn,
                           const tb_gate_opts *o, uint64_t seed_extra, tb_gate_figures *fig,
                           char *reason, size_t reason_len)
{
    fig->change = fig->lo = fig->hi = fig->p = NAN;
    if (nb == 0 || nn == 0) {
        snprintf(reason, reason_len, "no rounds in %s", nb ? "NEW" : "BASE");
        return TB_V_UNMEASURED;
    }
    fig->change = median_of(base, nb) / median_of(neu, nn) - 1.0;
    double min_p = tb_mwu_min_p(nb, nn);
    if (min_p >= o->alpha) {
        snprintf(reason, reason_len,
                 "too few rounds (%zu and %zu): the test cannot reach p < %g", nb, nn,
                 o->alpha);
        return TB_V_AMBIGUOUS;
    }
    tb_mwu t = tb_mwu_test(base, nb, neu, nn);
    fig->p = t.p;
    if (tb_bootstrap_change(base, nb, neu, nn, o->resamples, o->level, o->seed ^ seed_extra,
                            &fig->lo, &fig->hi)) {
        snprintf(reason, reason_len, "no interval (a time is not positive)");
        return TB_V_AMBIGUOUS;
    }
    double thr = o->threshold;
    if (fig->lo >= -thr && fig->hi <= thr) {
        snprintf(reason, reason_len, "interval within +-%.3g %%", thr * 100);
        return TB_V_SAME;
    }
    int beyond = fig->hi < -thr || fig->lo > thr;
    if (beyond && t.p < o->alpha) {
        snprintf(reason, reason_len, "interval beyond %s%.3g %%, p < %g", fig->lo > thr ? "+" : "-",
                 thr * 100, o->alpha);
        return fig->lo > thr ? TB_V_FASTER : TB_V_SLOWER;
    }
    if (beyond)
        snprintf(reason, reason_len, "interval beyond %s%.3g %% but p >= %g",
                 fig->lo > thr ? "+" : "-", thr * 100, o->alpha);
    else
        snprintf(reason, reason_len, "interval straddles +-%.3g %%", thr * 100);
    return TB_V_AMBIGUOUS;
}

tb_verdict tb_gate_quartiles(double base_median, double base_q1, double base_q3,
                             double new_median, double new_q1, double new_q3, double threshold,
                             tb_gate_figures *fig, char *reason, size_t reason_len)
{
    fig->lo = fig->hi = fig->p = NAN;
    fig->change = base_median / new_median - 1.0;
    int overlap = !(new_q1 > base_q3 || base_q1 > new_q3);
    if (fabs(fig->change) <= threshold) {
        snprintf(reason, reason_len, "within %.3g %%", threshold * 100);
        return TB_V_SAME;
    }
    if (overlap) {
        snprintf(reason, reason_len, "[q1, q3] of the two rows overlap");
        return TB_V_AMBIGUOUS;
    }
    snprintf(reason, reason_len, "[q1, q3] apart");
    return fig->change > 0 ? TB_V_FASTER : TB_V_SLOWER;
}

/* ---- contexts ---- */

static void value_text(const cJSON *v, char *buf, size_t n)
{
    if (!v)
        snprintf(buf, n, "absent");
    else if (cJSON_IsString(v))
        snprintf(buf, n, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, n, "%.10g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, n, "null");
    else
        snprintf(buf, n, "(%s)", cJSON_IsArray(v) ? "list" : "object");
}

static int diff_field(const char *what, const cJSON *a, const cJSON *b, tb_ctx_diff *out,
                      int k, int max)
{
    char x[128], y[128];
    value_text(a, x, sizeof x);
    value_text(b, y, sizeof y);
    if (strcmp(x, y) == 0 || k >= max)
        return k;
    snprintf(out[k].what, sizeof out[k].what, "%s", what);
    snprintf(out[k].base, sizeof out[k].base, "%s", x);
    snprintf(out[k].neu, sizeof out[k].neu, "%s", y);
    return k + 1;
}

int tb_compare_contexts(const cJSON *base, const cJSON *neu, tb_ctx_diff *out, int max)
{
    static const char *const top[] = {"driver", "cuda_driver", "cuda_runtime", "cublas", "nccl",
                                      "host", "cpu", NULL};
    int k = 0;
    for (int i = 0; top[i]; i++)
        k = diff_field(top[i], cJSON_GetObjectItemCaseSensitive(base, top[i]),
                       cJSON_GetObjectItemCaseSensitive(neu, top[i]), out, k, max);
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(base, "tool");
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(neu, "tool");
    k = diff_field("trainbench", cJSON_GetObjectItemCaseSensitive(ta, "version"),
                   cJSON_GetObjectItemCaseSensitive(tb, "version"), out, k, max);
    k = diff_field("commit", cJSON_GetObjectItemCaseSensitive(ta, "git_commit"),
                   cJSON_GetObjectItemCaseSensitive(tb, "git_commit"), out, k, max);

    const cJSON *ga = cJSON_GetObjectItemCaseSensitive(base, "gpus");
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(neu, "gpus");
    int na = cJSON_GetArraySize(ga), nb = cJSON_GetArraySize(gb);
    cJSON *ca = cJSON_CreateNumber(na), *cb = cJSON_CreateNumber(nb);
    k = diff_field("GPU count", ca, cb, out, k, max);
    cJSON_Delete(ca);
    cJSON_Delete(cb);
    static const char *const gpu_fields[] = {"name", "compute_capability", "max_sm_clock_mhz",
                                             "max_mem_clock_mhz", "power_limit_w", "ecc",
                                             "persistence", "mig", NULL};
    for (int g = 0; g < na && g < nb; g++) {
        const cJSON *a = cJSON_GetArrayItem(ga, g), *b = cJSON_GetArrayItem(gb, g);
        for (int i = 0; gpu_fields[i]; i++) {
            char what[64];
            snprintf(what, sizeof what, "GPU %d %s", g, gpu_fields[i]);
            k = diff_field(what, cJSON_GetObjectItemCaseSensitive(a, gpu_fields[i]),
                           cJSON_GetObjectItemCaseSensitive(b, gpu_fields[i]), out, k, max);
        }
    }
    const cJSON *oa = cJSON_GetObjectItemCaseSensitive(base, "options");
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(neu, "options");
    const cJSON *o;
    cJSON_ArrayForEach(o, oa)
    {
        char what[64];
        snprintf(what, sizeof what, "option %s", o->string ? o->string : "?");
        k = diff_field(what, o, o->string ? cJSON_GetObjectItemCaseSensitive(ob, o->string) : NULL,
                       out, k, max);
    }
    cJSON_ArrayForEach(o, ob)
    {
        if (o->string && !cJSON_GetObjectItemCaseSensitive(oa, o->string)) {
            char what[64];
            snprintf(what, sizeof what, "option %s", o->string);
            k = diff_field(what, NULL, o, out, k, max);
        }
    }
    return k;
}

/* ---- a comparison: compact per-case records in a hash table ---- */

enum { ST_NONE, ST_SKIPPED, ST_OK, ST_WRONG, ST_ERROR };

typedef struct {
    int worst;             /* ST_*: the worst status of the side's rows */
    int rows, worst_rows;  /* rows, and rows at the worst status */
    char *status, *reason; /* of the first row at the worst status */
    size_t worst_seq;      /* that row's place among the side's rows (files in order) */
    double *rounds;        /* round medians of every ok row */
    size_t n, cap;
    double work;           /* the first ok row's figure x its median time: figure = work / t */
    const char *unit;
    int have_q;            /* the first ok row's time statistics (the former rule) */
    size_t q_seq;          /* that row's place among the side's rows */
    double median, q1, q3;
} cmp_side;

/* Rows are taken in keyed by host and case ("host|key"); tb_cmp_write settles how they match
 * (by host and GPU, or by GPU alone: the cases of one key merged across hosts). */
typedef struct {
    char *key;             /* the case's own; the other strings are the comparison's pool's */
    const char *bench, *impl, *dtype, *axes_label, *gpus_text, *device, *axes_json;
    size_t host_len;       /* key begins with the host's host_len bytes and '|' until settled */
    uint64_t hash;         /* of key */
    cmp_side side[2];
} cmp_case;

struct tb_cmp {
    cmp_case *cases;
    size_t n, cap;
    size_t *slots; /* open addressing: case index + 1, 0 empty */
    size_t n_slots;
    cJSON *context[2];   /* each side's first context */
    char **files[2];     /* "NAME (date, host, commit)" per file */
    int nfiles[2];
    size_t seq[2];       /* rows taken in per side */
    int settled;         /* how rows match is decided (tb_cmp_write) */
    unsigned long long probes; /* slots visited finding cases, and the host sets' probes */
    int by_host;         /* rows matched by host and GPU, not GPU alone */
    int name_host;       /* the GPU column names the host too ("node7/0") */
    /* one copy of each distinct string the cases show (cases share benchmarks, sizes, GPUs) */
    char **pool;
    size_t n_pool, cap_pool;
    tb_keyindex pool_ix;  /* string -> its index in pool */
    tb_keyindex axes_ix;  /* pooled axes text -> the index in pool of its axes as JSON */
};

static uint64_t fnv1a(const char *s)
{
    return tb_keyindex_hash(s, strlen(s));
}

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The pooled copy of s (its index in *at when at is not NULL); NULL when memory runs out. */
static const char *pooled(tb_cmp *c, const char *s, size_t *at)
{
    size_t len = strlen(s);
    size_t v = tb_keyindex_get(&c->pool_ix, s, len);
    if (v == TB_KEYINDEX_NONE) {
        char **np = tb_grow(c->pool, &c->cap_pool, c->n_pool + 1, sizeof *np);
        if (!np)
            return NULL;
        c->pool = np;
        if (!(np[c->n_pool] = dup_str(s)))
            return NULL;
        if (tb_keyindex_put(&c->pool_ix, np[c->n_pool], len, c->n_pool) == TB_KEYINDEX_NONE) {
            free(np[c->n_pool]);
            return NULL;
        }
        v = c->n_pool++;
    }
    if (at)
        *at = v;
    return c->pool[v];
}

/* The pooled JSON text of a row's axes, printed once per distinct axes text. */
static const char *pooled_axes(tb_cmp *c, const tb_rrow *r)
{
    const char *text = pooled(c, r->axes_text, NULL);
    if (!text)
        return NULL;
    size_t v = tb_keyindex_get(&c->axes_ix, text, strlen(text));
    if (v != TB_KEYINDEX_NONE)
        return c->pool[v];
    char *printed = cJSON_PrintUnformatted(r->axes);
    const char *json = pooled(c, printed ? printed : "{}", &v);
    cJSON_free(printed);
    if (!json || tb_keyindex_put(&c->axes_ix, text, strlen(text), v) == TB_KEYINDEX_NONE)
        return NULL;
    return json;
}

tb_cmp *tb_cmp_new(void)
{
    tb_cmp *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    tb_keyindex_init(&c->pool_ix);
    tb_keyindex_init(&c->axes_ix);
    c->n_slots = 1024;
    c->slots = calloc(c->n_slots, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    return c;
}

static void free_side(cmp_side *s)
{
    free(s->status);
    free(s->reason);
    free(s->rounds);
}

/* Frees a case's own strings (not its sides). */
static void free_case_strings(cmp_case *k)
{
    free(k->key);
    k->key = NULL;
}

void tb_cmp_free(tb_cmp *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        cmp_case *k = &c->cases[i];
        free_case_strings(k);
        free_side(&k->side[0]);
        free_side(&k->side[1]);
    }
    for (int s = 0; s < 2; s++) {
        cJSON_Delete(c->context[s]);
        for (int f = 0; f < c->nfiles[s]; f++)
            free(c->files[s][f]);
        free(c->files[s]);
    }
    for (size_t i = 0; i < c->n_pool; i++)
        free(c->pool[i]);
    free(c->pool);
    tb_keyindex_free(&c->pool_ix);
    tb_keyindex_free(&c->axes_ix);
    free(c->cases);
    free(c->slots);
    free(c);
}

/* Doubles the hash table; 0 or -1. */
static int rehash(tb_cmp *c)
{
    size_t n = c->n_slots * 2;
    size_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        size_t h = (size_t)c->cases[i].hash & (n - 1);
        c->probes++;
        while (slots[h]) {
            c->probes++;
            h = (h + 1) & (n - 1);
        }
        slots[h] = i + 1;
    }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n;
    return 0;
}

static cmp_case *case_in(tb_cmp *c, const tb_rrow *r, const char *key, size_t host_len);

/* The case of a row, created when new; NULL when host memory runs out. The row's host leads
 * its key ("host|key"); tb_cmp_write merges the hosts' cases when rows match by GPU alone. */
static cmp_case *case_of(tb_cmp *c, const tb_rrow *r)
{
    char small[512];
    char *key = small;
    const char *host = r->host ? r->host : "-";
    size_t hl = strlen(host), kl = strlen(r->key), need = hl + kl + 2;
    if (need > sizeof small && !(key = malloc(need)))
        return NULL;
    memcpy(key, host, hl);
    key[hl] = '|';
    memcpy(key + hl + 1, r->key, kl + 1);
    cmp_case *found = case_in(c, r, key, hl);
    if (key != small)
        free(key);
    return found;
}

/* The slot of the case whose key is key (hash given), or the empty slot where it would go. */
static size_t slot_for(tb_cmp *c, const char *key, uint64_t hash)
{
    size_t h = (size_t)hash & (c->n_slots - 1);
    c->probes++;
    while (c->slots[h]) {
        c->probes++;
        const cmp_case *k = &c->cases[c->slots[h] - 1];
        if (k->hash == hash && strcmp(k->key, key) == 0)
            break;
        h = (h + 1) & (c->n_slots - 1);
    }
    return h;
}

static cmp_case *case_in(tb_cmp *c, const tb_rrow *r, const char *key, size_t host_len)
{
    uint64_t hash = fnv1a(key);
    size_t h = slot_for(c, key, hash);
    if (c->slots[h])
        return &c->cases[c->slots[h] - 1];
    if (c->n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        cmp_case *nc = realloc(c->cases, cap * sizeof *nc);
        if (!nc)
            return NULL;
        c->cases = nc;
        c->cap = cap;
    }
    cmp_case *k = &c->cases[c->n];
    memset(k, 0, sizeof *k);
    k->hash = hash;
    k->host_len = host_len;
    k->key = dup_str(key);
    k->bench = pooled(c, r->bench, NULL);
    k->impl = pooled(c, r->impl, NULL);
    k->dtype = pooled(c, r->dtype, NULL);
    k->axes_label = pooled(c, r->axes_label, NULL);
    k->gpus_text = pooled(c, r->gpus_text, NULL);
    k->device = pooled(c, r->device ? r->device : "-", NULL);
    k->axes_json = pooled_axes(c, r);
    if (!k->key || !k->bench || !k->impl || !k->dtype || !k->axes_label || !k->gpus_text ||
        !k->device || !k->axes_json) {
        free_case_strings(k);
        return NULL;
    }
    c->slots[h] = ++c->n;
    if (2 * c->n > c->n_slots && rehash(c)) {
        /* the case is stored; only a later lookup could miss it, so refuse now */
        return NULL;
    }
    return k;
}

static int status_rank(const char *s)
{
    if (strcmp(s, "ok") == 0)
        return ST_OK;
    if (strcmp(s, "skipped") == 0)
        return ST_SKIPPED;
    if (strcmp(s, "wrong") == 0)
        return ST_WRONG;
    return ST_ERROR;
}

static int push_round(cmp_side *s, double t)
{
    if (s->n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        double *nr = realloc(s->rounds, cap * sizeof *nr);
        if (!nr)
            return -1;
        s->rounds = nr;
        s->cap = cap;
    }
    s->rounds[s->n++] = t;
    return 0;
}

/* Adds an ok row's round medians (its "rounds" field, or its median as one round). */
static tb_status add_rounds(cmp_side *s, const tb_rrow *r, const char *file, tb_err *err)
{
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(r->obj, "rounds");
    if (!rd || cJSON_IsNull(rd)) {
        if (r->have_time && push_round(s, r->median))
            return tb_err_set(err, TB_USAGE, "out of host memory");
        return TB_OK;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rd, "median_s");
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0)
        return tb_err_set(err, TB_USAGE, "%s:%d: 'rounds' has no 'median_s' list of times", file,
                          r->line);
    const cJSON *v;
    cJSON_ArrayForEach(v, m)
    {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite(v->valuedouble))
            return tb_err_set(err, TB_USAGE,
                              "%s:%d: 'rounds.median_s' holds a value that is not a positive "
                              "time",
                              file, r->line);
        if (push_round(s, v->valuedouble))
            return tb_err_set(err, TB_USAGE, "out of host memory");
    }
    return TB_OK;
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

tb_status tb_cmp_add(tb_cmp *c, int side, const tb_rfile *f, tb_err *err)
{
    side = side ? 1 : 0;
    if (c->settled)
        return tb_err_set(err, TB_USAGE, "compare: rows taken in after the table was written");
    char **nf = realloc(c->files[side], (size_t)(c->nfiles[side] + 1) * sizeof *nf);
    if (!nf)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    c->files[side] = nf;
    char line[1024];
    snprintf(line, sizeof line, "%s (%s, %s, commit %s)", f->name,
             or_dash(tb_json_str(f->context, "date")), or_dash(tb_json_str(f->context, "host")),
             or_dash(tb_json_str(cJSON_GetObjectItemCaseSensitive(f->context, "tool"),
                                 "git_commit")));
    if (!(nf[c->nfiles[side]] = dup_str(line)))
        return tb_err_set(err, TB_USAGE, "out of host memory");
    c->nfiles[side]++;
    if (!c->context[side] && !(c->context[side] = cJSON_Duplicate(f->context, 1)))
        return tb_err_set(err, TB_USAGE, "out of host memory");
    for (size_t i = 0; i < f->n; i++) {
        const tb_rrow *r = &f->rows[i];
        cmp_case *k = case_of(c, r);
        if (!k)
            return tb_err_set(err, TB_USAGE, "out of host memory");
        cmp_side *s = &k->side[side];
        size_t seq = c->seq[side]++;
        int rank = status_rank(r->status);
        s->rows++;
        if (rank > s->worst) {
            free(s->status);
            free(s->reason);
            s->status = dup_str(r->status);
            s->reason = dup_str(r->reason ? r->reason : "");
            s->worst = rank;
            s->worst_seq = seq;
            s->worst_rows = 0;
            if (!s->status || !s->reason)
                return tb_err_set(err, TB_USAGE, "out of host memory");
        }
        if (rank == s->worst)
            s->worst_rows++;
        if (rank != ST_OK)
            continue;
        if (!s->have_q && r->have_time) {
            const char *unit = NULL;
            double fig = tb_rrow_figure(r, &unit);
            s->work = isfinite(fig) ? fig * r->median : NAN;
            s->unit = unit;
            s->have_q = 1;
            s->q_seq = seq;
            s->median = r->median;
            s->q1 = r->q1;
            s->q3 = r->q3;
        }
        tb_status st = add_rounds(s, r, f->name, err);
        if (st)
            return st;
    }
    return TB_OK;
}

/* ---- how rows match ---- */

/* Whether the hosts of side 0's cases and of side 1's are the same set; *base_hosts is how
 * many BASE holds. 1, 0, or -1 when host memory runs out. */
static int same_hosts(tb_cmp *c, size_t *base_hosts)
{
    tb_keyindex ix[2];
    tb_keyindex_init(&ix[0]);
    tb_keyindex_init(&ix[1]);
    int same = 1;
    for (size_t i = 0; i < c->n && same >= 0; i++)
        for (int s = 0; s < 2; s++)
            if (c->cases[i].side[s].rows &&
                tb_keyindex_put(&ix[s], c->cases[i].key, c->cases[i].host_len, i) ==
                    TB_KEYINDEX_NONE)
                same = -1;
    *base_hosts = ix[0].n;
    if (same >= 0 && ix[0].n != ix[1].n)
        same = 0;
    for (size_t i = 0; i < ix[0].cap && same > 0; i++)
        if (ix[0].keys[i] && tb_keyindex_get(&ix[1], ix[0].keys[i], ix[0].lens[i]) ==
                                 TB_KEYINDEX_NONE)
            same = 0;
    c->probes += ix[0].probes + ix[1].probes;
    tb_keyindex_free(&ix[0]);
    tb_keyindex_free(&ix[1]);
    return same;
}

/* Folds side src of one host's case into dst, the same case on an earlier-seen host: as if
 * the rows had been taken in under one key (the first row at the worst status and the first
 * ok row with times are the earliest in file order). */
static void merge_side(cmp_side *dst, cmp_side *src)
{
    if (src->worst > dst->worst ||
        (src->worst == dst->worst && src->worst != ST_NONE && src->worst_seq < dst->worst_seq)) {
        char *t = dst->status;
        dst->status = src->status;
        src->status = t;
        t = dst->reason;
        dst->reason = src->reason;
        src->reason = t;
        dst->worst_seq = src->worst_seq;
        dst->worst_rows = src->worst > dst->worst ? src->worst_rows
                                                  : dst->worst_rows + src->worst_rows;
        dst->worst = src->worst;
    } else if (src->worst == dst->worst) {
        dst->worst_rows += src->worst_rows;
    }
    dst->rows += src->rows;
    if (src->have_q && (!dst->have_q || src->q_seq < dst->q_seq)) {
        dst->have_q = 1;
        dst->q_seq = src->q_seq;
        dst->work = src->work;
        dst->unit = src->unit;
        dst->median = src->median;
        dst->q1 = src->q1;
        dst->q3 = src->q3;
    }
}

/* Decides how rows match: by host and GPU when both sides ran on the same hosts (the GPU
 * column names the host when BASE holds several), else by GPU alone, each key's cases on
 * several hosts merged into the first. Cases keep the order of their first rows. 0, or -1
 * when host memory runs out. */
static int settle(tb_cmp *c)
{
    if (c->settled)
        return 0;
    size_t base_hosts = 0;
    int same = same_hosts(c, &base_hosts);
    if (same < 0)
        return -1;
    c->by_host = same;
    c->name_host = same && base_hosts > 1;
    if (c->by_host) {
        for (size_t i = 0; c->name_host && i < c->n; i++) {
            cmp_case *k = &c->cases[i];
            char small[256], *g = small;
            size_t need = k->host_len + strlen(k->gpus_text) + 2;
            if (need > sizeof small && !(g = malloc(need)))
                return -1;
            snprintf(g, need, "%.*s/%s", (int)k->host_len, k->key, k->gpus_text);
            k->gpus_text = pooled(c, g, NULL);
            if (g != small)
                free(g);
            if (!k->gpus_text)
                return -1;
        }
        c->settled = 1;
        return 0;
    }
    memset(c->slots, 0, c->n_slots * sizeof *c->slots);
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        cmp_case *k = &c->cases[i];
        size_t len = strlen(k->key) - k->host_len - 1;
        memmove(k->key, k->key + k->host_len + 1, len + 1);
        k->host_len = 0;
        k->hash = fnv1a(k->key);
        size_t h = slot_for(c, k->key, k->hash);
        if (!c->slots[h]) {
            if (n != i)
                c->cases[n] = *k;
            c->slots[h] = ++n;
            continue;
        }
        cmp_case *d = &c->cases[c->slots[h] - 1];
        for (int s = 0; s < 2; s++) {
            cmp_side *src = &k->side[s], *dst = &d->side[s];
            if (dst->n + src->n > dst->cap) {
                double *nr = realloc(dst->rounds, (dst->n + src->n) * sizeof *nr);
                if (!nr) {
                    /* every case stays owned once, so tb_cmp_free frees it */
                    for (size_t j = i; j < c->n; j++)
                        c->cases[n++] = c->cases[j];
                    c->n = n;
                    return -1;
                }
                dst->rounds = nr;
                dst->cap = dst->n + src->n;
            }
            if (src->n)
                memcpy(dst->rounds + dst->n, src->rounds, src->n * sizeof *src->rounds);
            dst->n += src->n;
            src->n = 0;
            merge_side(dst, src);
            free_side(src);
            memset(src, 0, sizeof *src);
        }
        free_case_strings(k);
    }
    c->n = n;
    c->settled = 1;
    return 0;
}

/* ---- judging and output ---- */

enum { ROW_TABLE, ROW_ONLY_BASE, ROW_ONLY_NEW };

typedef struct {
    const cmp_case *k;
    int where;
    tb_verdict v;
    tb_gate_figures fig;
    char reason[640];
    char base_fig[48], new_fig[48], change_text[24], interval_text[40], p_text[16],
        rounds_text[24];
} cmp_row;

static void side_reason(const cmp_side *s, const char *name, char *buf, size_t n)
{
    if (s->rows > 1 && s->worst_rows < s->rows)
        snprintf(buf, n, "%s in %s (%d of %d rows): %s", s->status, name, s->worst_rows,
                 s->rows, s->reason);
    else
        snprintf(buf, n, "%s in %s: %s", s->status, name, s->reason);
}

static void judge_case(const cmp_case *k, const tb_gate_opts *o, cmp_row *row)
{
    const cmp_side *b = &k->side[0], *nw = &k->side[1];
    row->k = k;
    row->where = ROW_TABLE;
    row->fig.change = row->fig.lo = row->fig.hi = row->fig.p = NAN;
    if (nw->worst == ST_WRONG || nw->worst == ST_ERROR) {
        side_reason(nw, "NEW", row->reason, sizeof row->reason);
        row->v = nw->worst == ST_WRONG ? TB_V_WRONG : TB_V_ERROR;
    } else if (nw->worst == ST_NONE) {
        row->where = b->n > 0 ? ROW_TABLE : ROW_ONLY_BASE;
        row->v = TB_V_MISSING;
        snprintf(row->reason, sizeof row->reason, "measured ok in BASE, absent from NEW");
    } else if (b->worst == ST_NONE) {
        row->where = ROW_ONLY_NEW;
        row->v = TB_V_UNMEASURED;
    } else if (b->n == 0) {
        side_reason(b, "BASE", row->reason, sizeof row->reason);
        row->v = TB_V_UNMEASURED;
    } else if (nw->n == 0) {
        side_reason(nw, "NEW", row->reason, sizeof row->reason);
        row->v = TB_V_UNMEASURED;
    } else if (o->method == TB_METHOD_QUARTILES) {
        row->v = tb_gate_quartiles(b->median, b->q1, b->q3, nw->median, nw->q1, nw->q3,
                                   o->threshold, &row->fig, row->reason, sizeof row->reason);
    } else {
        row->v = tb_gate_verdict(b->rounds, b->n, nw->rounds, nw->n, o, k->hash, &row->fig,
                                 row->reason, sizeof row->reason);
    }
}

static void figure_text(const cmp_side *s, char *buf, size_t n)
{
    if (s->worst == ST_NONE) {
        snprintf(buf, n, "-");
        return;
    }
    if (s->n == 0) {
        snprintf(buf, n, "%s", s->status);
        return;
    }
    double t = median_of(s->rounds, s->n);
    if (isfinite(s->work) && s->unit)
        snprintf(buf, n, "%.4g %s", s->work / t, s->unit);
    else
        snprintf(buf, n, "%.4g us", t * 1e6);
}

static void row_texts(cmp_row *r)
{
    figure_text(&r->k->side[0], r->base_fig, sizeof r->base_fig);
    figure_text(&r->k->side[1], r->new_fig, sizeof r->new_fig);
    if (isfinite(r->fig.change))
        snprintf(r->change_text, sizeof r->change_text, "%+.1f %%", r->fig.change * 100);
    else
        snprintf(r->change_text, sizeof r->change_text, "-");
    if (isfinite(r->fig.lo))
        snprintf(r->interval_text, sizeof r->interval_text, "[%+.1f, %+.1f] %%",
                 r->fig.lo * 100, r->fig.hi * 100);
    else
        snprintf(r->interval_text, sizeof r->interval_text, "-");
    if (!isfinite(r->fig.p))
        snprintf(r->p_text, sizeof r->p_text, "-");
    else if (r->fig.p < 0.001)
        snprintf(r->p_text, sizeof r->p_text, "<0.001");
    else
        snprintf(r->p_text, sizeof r->p_text, "%.3f", r->fig.p);
    snprintf(r->rounds_text, sizeof r->rounds_text, "%zu/%zu", r->k->side[0].n,
             r->k->side[1].n);
}

#define NCOLS 13

/* The cells of a row in the text table, the last (why) unpadded. */
static void text_cells(const cmp_row *r, const char *cells[NCOLS])
{
    const char *v[NCOLS] = {r->k->bench,     r->k->impl,       r->k->dtype,
                            r->k->axes_label, r->k->gpus_text, r->base_fig,
                            r->new_fig,      r->change_text,   r->interval_text,
                            r->p_text,       r->rounds_text,   tb_verdict_name(r->v),
                            r->reason};
    memcpy(cells, v, sizeof v);
}

typedef struct {
    const char *bench;
    double log_sum;
    int n;
} geo_entry;

static void method_text(const tb_gate_opts *o, char *buf, size_t n)
{
    if (o->method == TB_METHOD_QUARTILES)
        snprintf(buf, n,
                 "the former rule: beyond +-%.3g %% with the two rows' [q1, q3] of time apart "
                 "(one row a side, no test)",
                 o->threshold * 100);
    else
        snprintf(buf, n,
                 "per-round medians; two-sided Mann-Whitney U (exact without ties up to %d "
                 "rounds, else normal), alpha %g; %g %% bootstrap interval of the change "
                 "(median BASE time / median NEW time - 1; %d resamples, seed %llu); SLOWER or "
                 "FASTER when the interval lies wholly beyond +-%.3g %% and p < %g, SAME when "
                 "wholly within, else AMBIGUOUS",
                 TB_MWU_EXACT_MAX, o->alpha, o->level * 100, o->resamples,
                 (unsigned long long)o->seed, o->threshold * 100, o->alpha);
}

static void fail_text(const int *counts, char *buf, size_t n)
{
    buf[0] = '\0';
    static const tb_verdict fails[] = {TB_V_SLOWER, TB_V_WRONG, TB_V_ERROR, TB_V_MISSING};
    for (int i = 0; i < 4; i++)
        if (counts[fails[i]]) {
            size_t used = strlen(buf);
            snprintf(buf + used, n - used, "%s%d %s", used ? ", " : "", counts[fails[i]],
                     tb_verdict_name(fails[i]));
        }
}

static void csv_num(FILE *out, double v, double scale)
{
    if (isfinite(v))
        fprintf(out, "%.4f", v * scale);
}

tb_status tb_cmp_write(tb_cmp *c, const tb_gate_opts *o, tb_format fmt, FILE *out, int *failed,
                       tb_err *err)
{
    *failed = 0;
    if (settle(c))
        return tb_err_set(err, TB_USAGE, "out of host memory");
    cmp_row *rows = calloc(c->n ? c->n : 1, sizeof *rows);
    geo_entry *geo = calloc(c->n ? c->n : 1, sizeof *geo);
    if (!rows || !geo) {
        free(rows);
        free(geo);
        return tb_err_set(err, TB_USAGE, "out of host memory");
    }
    int counts[TB_V_COUNT] = {0};
    size_t ngeo = 0, n_ob = 0, n_on = 0;
    for (size_t i = 0; i < c->n; i++) {
        cmp_row *r = &rows[i];
        judge_case(&c->cases[i], o, r);
        row_texts(r);
        if (r->where != ROW_TABLE) {
            n_ob += r->where == ROW_ONLY_BASE;
            n_on += r->where == ROW_ONLY_NEW;
            continue;
        }
        counts[r->v]++;
        if (tb_verdict_fails(r->v))
            *failed = 1;
        if (isfinite(r->fig.change)) {
            /* benchmarks are few: a linear search per case is a bounded cost */
            size_t g = 0;
            while (g < ngeo && strcmp(geo[g].bench, r->k->bench) != 0)
                g++;
            if (g == ngeo)
                geo[ngeo++].bench = r->k->bench;
            geo[g].log_sum += log1p(r->fig.change);
            geo[g].n++;
        }
    }
    tb_ctx_diff diffs[64];
    int nd = c->context[0] && c->context[1]
                 ? tb_compare_contexts(c->context[0], c->context[1], diffs, 64)
                 : 0;
    char method[640], fails[128];
    method_text(o, method, sizeof method);
    fail_text(counts, fails, sizeof fails);

    if (fmt == TB_FMT_JSON) {
        cJSON *j = cJSON_CreateObject();
        for (int s = 0; s < 2; s++) {
            cJSON *fl = cJSON_AddArrayToObject(j, s ? "new" : "base");
            for (int f = 0; f < c->nfiles[s]; f++)
                cJSON_AddItemToArray(fl, cJSON_CreateString(c->files[s][f]));
        }
        cJSON_AddNumberToObject(j, "threshold_pct", o->threshold * 100);
        cJSON_AddStringToObject(j, "test", method);
        cJSON *cd = cJSON_AddArrayToObject(j, "context_differences");
        for (int i = 0; i < nd; i++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "what", diffs[i].what);
            cJSON_AddStringToObject(x, "base", diffs[i].base);
            cJSON_AddStringToObject(x, "new", diffs[i].neu);
            cJSON_AddItemToArray(cd, x);
        }
        cJSON *arr = cJSON_AddArrayToObject(j, "cases");
        cJSON *ob = cJSON_CreateArray(), *on = cJSON_CreateArray();
        for (size_t i = 0; i < c->n; i++) {
            const cmp_row *r = &rows[i];
            if (r->where != ROW_TABLE) {
                cJSON_AddItemToArray(r->where == ROW_ONLY_BASE ? ob : on,
                                     cJSON_CreateString(r->k->key));
                continue;
            }
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "bench", r->k->bench);
            cJSON_AddStringToObject(x, "impl", r->k->impl);
            cJSON_AddStringToObject(x, "dtype", r->k->dtype);
            cJSON *axes = cJSON_Parse(r->k->axes_json);
            cJSON_AddItemToObject(x, "axes", axes ? axes : cJSON_CreateObject());
            cJSON_AddStringToObject(x, "gpus", r->k->gpus_text);
            cJSON_AddStringToObject(x, "device", r->k->device);
            for (int s = 0; s < 2; s++) {
                const cmp_side *sd = &r->k->side[s];
                double med = sd->n ? median_of(sd->rounds, sd->n) : NAN;
                if (isfinite(med))
                    cJSON_AddNumberToObject(x, s ? "new_median_s" : "base_median_s", med);
                else
                    cJSON_AddNullToObject(x, s ? "new_median_s" : "base_median_s");
                cJSON_AddNumberToObject(x, s ? "new_rounds" : "base_rounds", (double)sd->n);
            }
            if (isfinite(r->fig.change))
                cJSON_AddNumberToObject(x, "change_pct", r->fig.change * 100);
            else
                cJSON_AddNullToObject(x, "change_pct");
            if (isfinite(r->fig.lo)) {
                cJSON *iv = cJSON_AddArrayToObject(x, "interval_pct");
                cJSON_AddItemToArray(iv, cJSON_CreateNumber(r->fig.lo * 100));
                cJSON_AddItemToArray(iv, cJSON_CreateNumber(r->fig.hi * 100));
            } else {
                cJSON_AddNullToObject(x, "interval_pct");
            }
            if (isfinite(r->fig.p))
                cJSON_AddNumberToObject(x, "p", r->fig.p);
            else
                cJSON_AddNullToObject(x, "p");
            cJSON_AddStringToObject(x, "verdict", tb_verdict_name(r->v));
            cJSON_AddStringToObject(x, "reason", r->reason);
            cJSON_AddItemToArray(arr, x);
        }
        cJSON_AddItemToObject(j, "only_in_base", ob);
        cJSON_AddItemToObject(j, "only_in_new", on);
        cJSON *sum = cJSON_AddObjectToObject(j, "summary");
        for (int v = 0; v < TB_V_COUNT; v++)
            cJSON_AddNumberToObject(sum, tb_verdict_name((tb_verdict)v), counts[v]);
        cJSON *gm = cJSON_AddObjectToObject(sum, "geomean_change_pct");
        for (size_t g = 0; g < ngeo; g++)
            cJSON_AddNumberToObject(gm, geo[g].bench, expm1(geo[g].log_sum / geo[g].n) * 100);
        cJSON_AddBoolToObject(sum, "failed", *failed);
        char *s = cJSON_Print(j);
        fprintf(out, "%s\n", s ? s : "{}");
        cJSON_free(s);
        cJSON_Delete(j);
    } else if (fmt == TB_FMT_CSV) {
        fprintf(out, "bench,impl,dtype,case,gpus,device,base,new,change_pct,interval_lo_pct,"
                     "interval_hi_pct,p,base_rounds,new_rounds,verdict,reason\n");
        for (int pass = 0; pass < 3; pass++)
            for (size_t i = 0; i < c->n; i++) {
                const cmp_row *r = &rows[i];
                if (r->where != pass)
                    continue;
                fprintf(out, "%s,%s,%s,", r->k->bench, r->k->impl, r->k->dtype);
                tb_csv_quote(out, r->k->axes_label);
                fputc(',', out);
                tb_csv_quote(out, r->k->gpus_text);
                fputc(',', out);
                tb_csv_quote(out, r->k->device);
                if (pass != ROW_TABLE) {
                    fprintf(out, ",,,,,,,,,%s,\n", pass == ROW_ONLY_NEW ? "ONLY_IN_NEW" : "ONLY_IN_BASE");
                    continue;
                }
                fputc(',', out);
                tb_csv_quote(out, r->base_fig);
                fputc(',', out);
                tb_csv_quote(out, r->new_fig);
                fputc(',', out);
                csv_num(out, r->fig.change, 100);
                fputc(',', out);
                csv_num(out, r->fig.lo, 100);
                fputc(',', out);
                csv_num(out, r->fig.hi, 100);
                fputc(',', out);
                csv_num(out, r->fig.p, 1);
                fprintf(out, ",%zu,%zu,%s,", r->k->side[0].n, r->k->side[1].n,
                        tb_verdict_name(r->v));
                tb_csv_quote(out, r->reason);
                fputc('\n', out);
            }
    } else {
        int md = fmt == TB_FMT_MD;
        const char *pre = md ? "- " : "";
        for (int s = 0; s < 2; s++)
            for (int f = 0; f < c->nfiles[s]; f++)
                fprintf(out, "%s%s %s\n", pre, s ? "NEW " : "BASE", c->files[s][f]);
        if (nd == 0)
            fprintf(out,
                    "%scontexts: same driver, CUDA, cuBLAS, NCCL, GPUs, clocks, power limits and "
                    "options\n",
                    pre);
        for (int i = 0; i < nd; i++)
            fprintf(out, "%sdiffers: %s: %s -> %s\n", pre, diffs[i].what, diffs[i].base,
                    diffs[i].neu);
        fprintf(out, "%smatched by: %s\n", pre,
                c->by_host ? "host and GPU (both sides ran on the same hosts)"
                           : "GPU alone (the sides ran on different hosts)");
        fprintf(out, "%stest: %s\n\n", pre, method);
        const char *head[NCOLS] = {"bench", "impl",     "dtype", "case",   "gpu",
                                   "base",  "new",      "change", "interval", "p",
                                   "rounds", "verdict", "why"};
        size_t w[NCOLS];
        for (int k = 0; k < NCOLS; k++)
            w[k] = strlen(head[k]);
        for (size_t i = 0; i < c->n; i++) {
            if (rows[i].where != ROW_TABLE)
                continue;
            const char *cells[NCOLS];
            text_cells(&rows[i], cells);
            for (int k = 0; k < NCOLS - 1; k++)
                if (strlen(cells[k]) > w[k])
                    w[k] = strlen(cells[k]);
        }
        if (md) {
            fprintf(out, "| case | gpu | base | new | change | interval | p | rounds | verdict "
                         "| why |\n");
            fprintf(out, "|---|---|---:|---:|---:|---:|---:|---:|---|---|\n");
        } else {
            for (int k = 0; k < NCOLS; k++)
                fprintf(out, "%-*s%s", k < NCOLS - 1 ? (int)w[k] : 0, head[k],
                        k < NCOLS - 1 ? "  " : "\n");
        }
        for (size_t i = 0; i < c->n; i++) {
            const cmp_row *r = &rows[i];
            if (r->where != ROW_TABLE)
                continue;
            if (md) {
                fprintf(out, "| %s %s %s %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                        r->k->bench, r->k->impl, r->k->dtype, r->k->axes_label,
                        r->k->gpus_text, r->base_fig, r->new_fig, r->change_text,
                        r->interval_text, r->p_text, r->rounds_text, tb_verdict_name(r->v),
                        r->reason);
                continue;
            }
            const char *cells[NCOLS];
            text_cells(r, cells);
            for (int k = 0; k < NCOLS; k++)
                fprintf(out, "%-*s%s", k < NCOLS - 1 ? (int)w[k] : 0, cells[k],
                        k < NCOLS - 1 ? "  " : "\n");
        }
        for (int pass = ROW_ONLY_BASE; pass <= ROW_ONLY_NEW; pass++) {
            fprintf(out, "\n%sonly in %s%s: %zu\n", pre, pass == ROW_ONLY_NEW ? "NEW" : "BASE",
                    pass == ROW_ONLY_NEW ? "" : " (not measured ok there)",
                    pass == ROW_ONLY_NEW ? n_on : n_ob);
            for (size_t i = 0; i < c->n; i++)
                if (rows[i].where == pass)
                    fprintf(out, "%s  %s %s %s %s gpu %s\n", md ? "  -" : "", rows[i].k->bench,
                            rows[i].k->impl, rows[i].k->dtype, rows[i].k->axes_label,
                            rows[i].k->gpus_text);
        }
        fprintf(out, "\n%ssummary:", pre);
        for (int v = 0; v < TB_V_COUNT; v++)
            fprintf(out, "%s %d %s", v ? "," : "", counts[v], tb_verdict_name((tb_verdict)v));
        fprintf(out, "; geomean change:");
        if (ngeo == 0)
            fprintf(out, " -");
        for (size_t g = 0; g < ngeo; g++)
            fprintf(out, "%s %s %+.2f %%", g ? "," : "", geo[g].bench,
                    expm1(geo[g].log_sum / geo[g].n) * 100);
        if (*failed)
            fprintf(out, "\n%sverdict: FAIL (%s in NEW)\n", pre, fails);
        else
            fprintf(out, "\n%sverdict: PASS\n", pre);
    }
    free(rows);
    free(geo);
    return TB_OK;
}

unsigned long long tb_cmp_probes(const tb_cmp *c)
{
    return c->probes + c->pool_ix.probes + c->axes_ix.probes;
}

int tb_cmp_by_host(const tb_cmp *c)
{
    return c->settled ? c->by_host : -1;
}

tb_status tb_compare_write(const tb_rfile *base, const tb_rfile *neu, double threshold,
                           tb_format fmt, FILE *out, int *failed, tb_err *err)
{
    *failed = 0;
    tb_cmp *c = tb_cmp_new();
    if (!c)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    tb_gate_opts o = TB_GATE_OPTS_DEFAULT;
    o.threshold = threshold;
    tb_status st = tb_cmp_add(c, 0, base, err);
    if (!st)
        st = tb_cmp_add(c, 1, neu, err);
    if (!st)
        st = tb_cmp_write(c, &o, fmt, out, failed, err);
    tb_cmp_free(c);
    return st;
}
