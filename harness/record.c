#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "keyindex.h"
#include "results.h"
#include "sweep.h"

static void add_number_or_null(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static const char *status_word(tb_status s)
{
    switch (s) {
    case TB_OK: return "ok";
    case TB_WRONG: return "wrong";
    case TB_SKIP: return "skipped";
    default: return "error";
    }
}

void tb_record_case_text(const tb_case *c, char *buf, size_t buflen)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->bench->n_axes && used < buflen; i++) {
        const tb_axis *a = &c->bench->axes[i];
        char v[64];
        if (a->type == TB_AXIS_SIZE)
            tb_sweep_format_size(c->axis[i], v, sizeof v);
        else if (a->type == TB_AXIS_ENUM)
            snprintf(v, sizeof v, "%s", a->choices[c->axis[i]]);
        else
            snprintf(v, sizeof v, "%lld", (long long)c->axis[i]);
        int k = snprintf(buf + used, buflen - used, "%s%s=%s", i ? " " : "", a->name, v);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static cJSON *axes_json(const tb_case *c)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < c->bench->n_axes; i++) {
        const tb_axis *a = &c->bench->axes[i];
        if (a->type == TB_AXIS_ENUM)
            cJSON_AddStringToObject(o, a->name, a->choices[c->axis[i]]);
        else
            cJSON_AddNumberToObject(o, a->name, (double)c->axis[i]);
    }
    return o;
}

/* The fields of one verification: the element-wise check and each measure beside it. */
static void verify_json(cJSON *v, const tb_verify *vf)
{
    cJSON_AddBoolToObject(v, "ok", vf->ok);
    add_number_or_null(v, "max_abs_err", vf->max_abs_err);
    add_number_or_null(v, "max_rel_err", vf->max_rel_err);
    add_number_or_null(v, "tolerance", vf->tolerance);
    cJSON_AddNumberToObject(v, "n_wrong", (double)vf->n_wrong);
    cJSON_AddNumberToObject(v, "n_checked", (double)vf->n_checked);
    for (int i = 0; i < vf->n_measures; i++) {
        const tb_verify_measure *m = &vf->measures[i];
        cJSON *mj = cJSON_AddObjectToObject(v, m->name);
        cJSON_AddStringToObject(mj, "unit", m->unit);
        add_number_or_null(mj, "worst", m->worst);
        add_number_or_null(mj, "bound", m->bound);
        add_number_or_null(mj, "ratio", m->bound > 0 ? m->worst / m->bound : NAN);
        cJSON_AddNumberToObject(mj, "n", (double)m->n_units);
        cJSON_AddNumberToObject(mj, "n_failed", (double)m->n_failed);
    }
}

cJSON *tb_record_result_json(const tb_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "result");
    cJSON_AddStringToObject(o, "bench", r->c.bench->name);
    cJSON_AddStringToObject(o, "impl", r->c.impl->name);
    cJSON_AddStringToObject(o, "kind", tb_impl_kind_name(r->c.impl->kind));
    cJSON_AddStringToObject(o, "dtype", tb_dtype_name(r->c.dtype));
    cJSON_AddItemToObject(o, "axes", axes_json(&r->c));
    cJSON *gpus = cJSON_AddArrayToObject(o, "gpus");
    if (r->group) {
        for (int d = 0; d < r->n_group; d++)
            if (!r->group[d].is_host)
                cJSON_AddItemToArray(gpus, cJSON_CreateNumber(r->group[d].ordinal));
    } else if (!r->device->is_host || r->device->ordinal >= 0) {
        /* a numbered host pseudo-device (check --host) is told apart like a GPU */
        cJSON_AddItemToArray(gpus, cJSON_CreateNumber(r->device->ordinal));
    }
    cJSON_AddStringToObject(o, "device", r->device->is_host ? "host" : r->device->name);
    cJSON_AddStringToObject(o, "status", status_word(r->status));
    if (r->status != TB_OK)
        cJSON_AddStringToObject(o, "reason", r->reason);
    else
        cJSON_AddNullToObject(o, "reason");

    if (r->have_stats) {
        cJSON_AddNumberToObject(o, "samples",
                                (double)(r->rounds > 0 ? r->round_samples : r->stats.count));
        cJSON *t = cJSON_AddObjectToObject(o, "time_s");
        cJSON_AddNumberToObject(t, "median", r->stats.median);
        cJSON_AddNumberToObject(t, "min", r->stats.min);
        cJSON_AddNumberToObject(t, "max", r->stats.max);
        cJSON_AddNumberToObject(t, "mean", r->stats.mean);
        cJSON_AddNumberToObject(t, "stdev", r->stats.stdev);
        cJSON_AddNumberToObject(t, "q1", r->stats.q1);
        cJSON_AddNumberToObject(t, "q3", r->stats.q3);
        cJSON_AddNumberToObject(t, "p99", r->stats.p99);
        cJSON_AddNumberToObject(t, "rel_stdev", r->stats.rel_stdev);
        cJSON_AddStringToObject(o, "timing", r->timing ? r->timing : "batch");
        cJSON_AddNumberToObject(o, "batch", (double)r->batch);
        cJSON_AddStringToObject(o, "stop", tb_stop_reason_name(r->stop));
        /* per-round medians: what compare tests; absent in a single-round row */
        if (r->rounds > 0) {
            cJSON *rd = cJSON_AddObjectToObject(o, "rounds");
            cJSON_AddNumberToObject(rd, "n", r->rounds);
            cJSON_AddItemToObject(rd, "median_s",
                                  cJSON_CreateDoubleArray(r->round_median, r->rounds));
        }
    } else {
        cJSON_AddNumberToObject(o, "samples", 0);
        cJSON_AddNullToObject(o, "time_s");
    }
    add_number_or_null(o, "flops", r->flops > 0 ? r->flops : NAN);
    add_number_or_null(o, "bytes", r->bytes > 0 ? r->bytes : NAN);
    add_number_or_null(o, "tflops", r->tflops);
    add_number_or_null(o, "gbps", r->gbps);
    add_number_or_null(o, "busbw_gbps", r->busbw_gbps);
    if (r->coll.ranks > 0) {
        /* nccl-tests' figures under their names: time (us), algbw, busbw, #wrong */
        cJSON_AddNumberToObject(o, "ranks", r->coll.ranks);
        cJSON_AddBoolToObject(o, "bandwidth_measurement", !r->coll.shared_device);
        add_number_or_null(o, "time_us", r->have_stats ? r->stats.median * 1e6 : NAN);
        add_number_or_null(o, "p99_us", r->have_stats ? r->stats.p99 * 1e6 : NAN);
        add_number_or_null(o, "algbw_gbps", r->gbps);
        add_number_or_null(o, "bus_factor", r->coll.bus_factor);
        /* the last check made: after the timed loop when it ran, as nccl-tests counts */
        if (r->have_verify_after)
            cJSON_AddNumberToObject(o, "n_wrong", (double)r->verify_after.n_wrong);
        else if (r->have_verify)
            cJSON_AddNumberToObject(o, "n_wrong", (double)r->verify.n_wrong);
        else
            cJSON_AddNullToObject(o, "n_wrong");
        /* per-iteration statistics (nccl-tests' -I) and the straggler: null when not taken */
        if (r->have_iters) {
            const tb_iter_stats *it = &r->iters;
            cJSON *io = cJSON_AddObjectToObject(o, "iters");
            cJSON_AddNumberToObject(io, "n", it->n);
            add_number_or_null(io, "min_s", it->min);
            add_number_or_null(io, "max_s", it->max);
            add_number_or_null(io, "p99_s", it->p99);
            add_number_or_null(io, "cv", it->cv);
            cJSON *rk = cJSON_AddObjectToObject(io, "rank_time_s");
            add_number_or_null(rk, "min", it->rank_min);
            add_number_or_null(rk, "mean", it->rank_mean);
            add_number_or_null(rk, "max", it->rank_max);
            if (it->straggler >= 0) {
                cJSON_AddNumberToObject(io, "straggler", it->straggler);
                cJSON_AddNumberToObject(io, "straggler_count", it->straggler_count);
            } else {
                cJSON_AddNullToObject(io, "straggler");
                cJSON_AddNullToObject(io, "straggler_count");
            }
        } else {
            cJSON_AddNullToObject(o, "iters");
        }
    }
    if (r->c.bench->flops_convention)
        cJSON_AddStringToObject(o, "flops_convention", r->c.bench->flops_convention);
    else
        cJSON_AddNullToObject(o, "flops_convention");
    add_number_or_null(o, "alloc_bytes", r->alloc_bytes > 0 ? r->alloc_bytes : NAN);

    cJSON *pk = cJSON_AddObjectToObject(o, "peak");
    if (r->peak.kind == TB_PEAK_NONE) {
        cJSON_AddNullToObject(pk, "unit");
    } else {
        cJSON_AddStringToObject(pk, "unit", r->peak.unit);
    }
    add_number_or_null(pk, "derived", r->peak.derived > 0 ? r->peak.derived : NAN);
    add_number_or_null(pk, "datasheet", r->peak.datasheet > 0 ? r->peak.datasheet : NAN);
    cJSON_AddStringToObject(pk, "pct_of", "derived");
    if (!r->peak.usable)
        cJSON_AddStringToObject(pk, "note", r->peak.note);
    add_number_or_null(o, "pct_peak", r->pct_peak);
    add_number_or_null(o, "pct_vendor", r->pct_vendor);
    if (r->vendor_impl && isfinite(r->pct_vendor))
        cJSON_AddStringToObject(o, "vendor_impl", r->vendor_impl);
    else
        cJSON_AddNullToObject(o, "vendor_impl");

    if (r->have_verify) {
        cJSON *v = cJSON_AddObjectToObject(o, "verify");
        verify_json(v, &r->verify);
        if (r->have_verify_after)
            verify_json(cJSON_AddObjectToObject(v, "after"), &r->verify_after);
        else
            cJSON_AddNullToObject(v, "after");
    } else {
        cJSON_AddNullToObject(o, "verify");
    }

    add_number_or_null(o, "clock_mhz", tb_telemetry_clock_mhz(&r->tel));
    add_number_or_null(o, "power_w", tb_telemetry_power_w(&r->tel));
    const char *power_source = tb_telemetry_power_source(&r->tel);
    if (power_source)
        cJSON_AddStringToObject(o, "power_source", power_source);
    else
        cJSON_AddNullToObject(o, "power_source");
    add_number_or_null(o, "energy_j", tb_telemetry_energy_j(&r->tel));
    add_number_or_null(o, "temp_c", tb_telemetry_temp_c(&r->tel));
    if (r->tel.have_reasons) {
        const char *names[16];
        int k = tb_nvml_reason_names(r->tel.reasons, names, 16);
        cJSON *arr = cJSON_AddArrayToObject(o, "throttle");
        for (int i = 0; i < k; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
    } else {
        cJSON_AddNullToObject(o, "throttle");
    }
    return o;
}

static void fmt_num(char *buf, size_t n, double v, const char *fmt)
{
    if (isfinite(v))
        snprintf(buf, n, fmt, v);
    else
        snprintf(buf, n, "-");
}

/* v with 4 significant digits in fixed notation (never an exponent), "-" when not finite. */
static void fmt_sig(char *buf, size_t n, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "-");
        return;
    }
    int decimals = v > 0 ? 3 - (int)floor(log10(v)) : 0;
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    snprintf(buf, n, "%.*f", decimals, v);
}

void tb_record_table_header(FILE *f, int case_width)
{
    fprintf(f, "%-5s %-9s %-12s %-5s %-*s %11s %9s %10s %6s %8s %6s %6s %5s %5s  %s\n", "gpu",
            "bench", "impl", "dtype", case_width, "case", "time(us)", "GB/s", "TFLOP/s", "%peak", "%vendor",
            "noise", "n", "MHz", "W", "status");
}

/* "3", "0,1,2,3" (a collective case's group), or "host". */
static void gpu_text(const tb_result *r, char *buf, size_t n)
{
    if (r->device->is_host) {
        snprintf(buf, n, "host");
        return;
    }
    if (!r->group) {
        snprintf(buf, n, "%d", r->device->ordinal);
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < r->n_group && used + 1 < n; d++) {
        int k = snprintf(buf + used, n - used, "%s%d", d ? "," : "", r->group[d].ordinal);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

void tb_record_table_row(FILE *f, const tb_result *r, int case_width)
{
    char gpu[64], cs[128], t[32], gb[32], tf[32], pp[32], pv[32], nz[32], ns[32], mhz[32], w[32];
    gpu_text(r, gpu, sizeof gpu);
    tb_record_case_text(&r->c, cs, sizeof cs);
    fmt_num(t, sizeof t, r->have_stats ? r->stats.median * 1e6 : NAN, "%.2f");
    fmt_num(gb, sizeof gb, r->gbps, "%.1f");
    fmt_sig(tf, sizeof tf, r->tflops); /* the host's 0.0000129 TFLOP/s too */
    fmt_num(pp, sizeof pp, r->pct_peak, "%.1f");
    fmt_num(pv, sizeof pv, r->pct_vendor, "%.1f");
    fmt_num(nz, sizeof nz, r->have_stats ? r->stats.rel_stdev * 100 : NAN, "%.2f%%");
    if (r->have_stats)
        snprintf(ns, sizeof ns, "%zu", r->stats.count);
    else
        snprintf(ns, sizeof ns, "-");
    fmt_num(mhz, sizeof mhz, tb_telemetry_clock_mhz(&r->tel), "%.0f");
    fmt_num(w, sizeof w, tb_telemetry_power_w(&r->tel), "%.0f");
    char status[1100];
    if (r->status == TB_OK && r->coll.ranks > 0) {
        /* a collective row also says its bus bandwidth, how it was timed, and whether it is
         * a bandwidth measurement at all */
        char p99[48] = "";
        if (r->have_stats && r->timing && !strcmp(r->timing, "graph"))
            snprintf(p99, sizeof p99, ", p99 %.2f us", r->stats.p99 * 1e6);
        char iters[160] = "";
        if (r->have_iters && r->iters.straggler >= 0)
            snprintf(iters, sizeof iters, "; per op p99 %.2f us cv %.0f%%, slowest rank %d "
                     "(%d/%d)", r->iters.p99 * 1e6, r->iters.cv * 100, r->iters.straggler,
                     r->iters.straggler_count, r->iters.n);
        else if (r->have_iters)
            snprintf(iters, sizeof iters, "; per op p99 %.2f us cv %.0f%%", r->iters.p99 * 1e6,
                     r->iters.cv * 100);
        snprintf(status, sizeof status, "ok; %d ranks, busbw %.2f GB/s; %s timing%s%s%s",
                 r->coll.ranks, r->busbw_gbps, r->timing ? r->timing : "batch", p99, iters,
                 r->coll.shared_device ? "; ranks share a GPU: not a bandwidth measurement"
                                       : "");
    } else if (r->status == TB_OK)
        snprintf(status, sizeof status, "ok");
    else
        snprintf(status, sizeof status, "%s: %s", status_word(r->status), r->reason);
    fprintf(f, "%-5s %-9s %-12s %-5s %-*s %11s %9s %10s %6s %8s %6s %6s %5s %5s  %s\n", gpu,
            r->c.bench->name, r->c.impl->name, tb_dtype_name(r->c.dtype), case_width, cs, t, gb, tf, pp, pv,
            nz, ns, mhz, w, status);
}

void tb_record_csv_header(FILE *f)
{
    fprintf(f, "bench,impl,kind,dtype,case,gpu,device,status,reason,samples,median_s,min_s,max_s,"
               "mean_s,stdev_s,q1_s,q3_s,rel_stdev,timing,batch,flops,bytes,tflops,gbps,"
               "pct_peak,pct_vendor,verify_ok,max_abs_err,max_rel_err,tolerance,clock_mhz,"
               "power_w,energy_j,temp_c,alloc_bytes,ranks,busbw_gbps,p99_s,verify_after_ok\n");
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputc(',', f);
}

static void csv_str(FILE *f, const char *s)
{
    fputc(',', f);
    tb_csv_quote(f, s);
}

void tb_record_csv_row(FILE *f, const tb_result *r)
{
    char cs[128];
    tb_record_case_text(&r->c, cs, sizeof cs);
    fprintf(f, "%s,%s,%s,%s", r->c.bench->name, r->c.impl->name,
            tb_impl_kind_name(r->c.impl->kind), tb_dtype_name(r->c.dtype));
    csv_str(f, cs);
    char gpu[64];
    gpu_text(r, gpu, sizeof gpu);
    csv_str(f, gpu);
    csv_str(f, r->device->is_host ? "host" : r->device->name);
    fprintf(f, ",%s", status_word(r->status));
    csv_str(f, r->status == TB_OK ? "" : r->reason);
    const tb_stats *s = &r->stats;
    int h = r->have_stats;
    csv_num(f, h ? (double)s->count : 0);
    csv_num(f, h ? s->median : NAN);
    csv_num(f, h ? s->min : NAN);
    csv_num(f, h ? s->max : NAN);
    csv_num(f, h ? s->mean : NAN);
    csv_num(f, h ? s->stdev : NAN);
    csv_num(f, h ? s->q1 : NAN);
    csv_num(f, h ? s->q3 : NAN);
    csv_num(f, h ? s->rel_stdev : NAN);
    fprintf(f, ",%s", h && r->timing ? r->timing : "");
    csv_num(f, h ? (double)r->batch : NAN);
    csv_num(f, r->flops > 0 ? r->flops : NAN);
    csv_num(f, r->bytes > 0 ? r->bytes : NAN);
    csv_num(f, r->tflops);
    csv_num(f, r->gbps);
    csv_num(f, r->pct_peak);
    csv_num(f, r->pct_vendor);
    fprintf(f, ",%s", r->have_verify ? (r->verify.ok ? "true" : "false") : "");
    csv_num(f, r->have_verify ? r->verify.max_abs_err : NAN);
    csv_num(f, r->have_verify ? r->verify.max_rel_err : NAN);
    csv_num(f, r->have_verify ? r->verify.tolerance : NAN);
    csv_num(f, tb_telemetry_clock_mhz(&r->tel));
    csv_num(f, tb_telemetry_power_w(&r->tel));
    csv_num(f, tb_telemetry_energy_j(&r->tel));
    csv_num(f, tb_telemetry_temp_c(&r->tel));
    csv_num(f, r->alloc_bytes > 0 ? r->alloc_bytes : NAN);
    csv_num(f, r->coll.ranks > 0 ? (double)r->coll.ranks : NAN);
    csv_num(f, r->busbw_gbps);
    csv_num(f, h ? s->p99 : NAN);
    fprintf(f, ",%s", r->have_verify_after ? (r->verify_after.ok ? "true" : "false") : "");
    fputc('\n', f);
}

typedef struct {
    const tb_device *device;
    const tb_bench *bench;
    const tb_impl *impl;
    tb_dtype dtype;
    char case_text[128];
    double figure; /* TFLOP/s when the bench counts FLOPs, else GB/s */
    int is_tflops;
    double pct_peak;
} ladder_entry;

struct tb_writer {
    pthread_mutex_t lock;
    ladder_entry *ladder; /* every ok result's figure, for the end-of-run tables */
    size_t n_ladder, cap_ladder;
    tb_result **kept;     /* results of benchmarks with their own end-of-run summary */
    size_t n_kept, cap_kept;
    int jsonl_fd;
    FILE *csv, *table;
    char jsonl_path[1024], csv_path[1024];
    /* what reached the JSONL file, by status; read by the signal path without the lock */
    atomic_int n_ok, n_wrong, n_skipped, n_failed;
    int header_done;
    int case_width; /* of the table's case column */
    int table_failed, csv_failed;
    unsigned long long probes; /* hash probes of the end-of-run tables */
    int stamped;               /* rows name their rank and host (tb_writer_set_origin) */
    int rank, gpu_index;
    char host[256];
    tb_writer_sink sink;       /* rows go there instead of a file (tb_writer_open_sink) */
    void *sink_ctx;
};

/* Opens path for writing without truncating it. A default path is created new (O_EXCL),
 * trying "-2", "-3", ... before its extension when the name is taken; the name taken is
 * written back to path. *created says whether this call made the file. */
static tb_status open_output(char *path, size_t pathlen, int is_default, const char *what,
                             int *fd, int *created, tb_err *err)
{
    *created = 0;
    if (is_default) {
        char base[1024];
        snprintf(base, sizeof base, "%s", path);
        char *dot = strrchr(base, '.');
        const char *ext = dot ? dot : "";
        size_t stem = dot ? (size_t)(dot - base) : strlen(base);
        for (int k = 1; k < 10000; k++) {
            if (k > 1)
                snprintf(path, pathlen, "%.*s-%d%s", (int)stem, base, k, ext);
            *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (*fd >= 0) {
                *created = 1;
                return TB_OK;
            }
            if (errno != EEXIST)
                break;
        }
        return tb_err_set(err, TB_USAGE, "cannot create result file '%s': %s", path,
                          strerror(errno));
    }
    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (*fd >= 0) {
        *created = 1;
        return TB_OK;
    }
    if (errno == EEXIST)
        *fd = open(path, O_WRONLY | O_CLOEXEC);
    if (*fd < 0)
        return tb_err_set(err, TB_USAGE, "%s: cannot create '%s': %s", what, path,
                          strerror(errno));
    return TB_OK;
}

/* Removes a file this run created, if the path still names it. */
static void remove_created(const char *path, const struct stat *made)
{
    struct stat now;
    if (lstat(path, &now) == 0 && now.st_dev == made->st_dev && now.st_ino == made->st_ino)
        unlink(path);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Writes all of buf to fd; 0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return -1;
        }
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Writes one line to fd; when it cannot be written whole (disk full), a regular file is cut
 * back to where the line began, so the file stays a sequence of whole lines. */
static int write_line(int fd, const char *buf, size_t n)
{
    off_t start = lseek(fd, 0, SEEK_CUR);
    if (write_all(fd, buf, n) == 0)
        return 0;
    int saved = errno;
    struct stat st;
    if (start >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(fd, start) == 0)
        lseek(fd, start, SEEK_SET);
    errno = saved;
    return -1;
}

static tb_status writer_open(tb_writer **out, char *jsonl_path, size_t jsonl_len, int is_default,
                             const char *csv_path, FILE *table, const cJSON *context, tb_err *err)
{
    *out = NULL;
    tb_writer *w = calloc(1, sizeof *w);
    if (!w)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    w->jsonl_fd = -1;
    w->table = table;
    /* every path is opened (or created) before any is truncated; a failure removes only
     * what this call created */
    int jfd = -1, cfd = -1, jmade = 0, cmade = 0;
    struct stat js = {0}, cs = {0}, os;
    tb_status st = open_output(jsonl_path, jsonl_len, is_default, "-o", &jfd, &jmade, err);
    if (!st && fstat(jfd, &js) != 0)
        st = tb_err_set(err, TB_USAGE, "cannot examine '%s': %s", jsonl_path, strerror(errno));
    if (!st && csv_path) {
        char cpath[1024];
        snprintf(cpath, sizeof cpath, "%s", csv_path);
        st = open_output(cpath, sizeof cpath, 0, "--csv", &cfd, &cmade, err);
        if (!st && fstat(cfd, &cs) != 0)
            st = tb_err_set(err, TB_USAGE, "cannot examine '%s': %s", csv_path, strerror(errno));
        if (!st && same_file(&js, &cs))
            st = tb_err_set(err, TB_USAGE,
                            "--csv: '%s' is the same file as the result file '%s' (name two "
                            "different files)",
                            csv_path, jsonl_path);
    }
    if (!st && table && fstat(fileno(table), &os) == 0 && S_ISREG(os.st_mode) &&
        (same_file(&os, &js) || (csv_path && same_file(&os, &cs))))
        st = tb_err_set(err, TB_USAGE,
                        "standard output is the same file as '%s' (redirect it elsewhere)",
                        same_file(&os, &js) ? jsonl_path : csv_path);
    /* only now: empty the files the user named (never a device or a pipe) */
    if (!st && !jmade && S_ISREG(js.st_mode) && ftruncate(jfd, 0) != 0)
        st = tb_err_set(err, TB_USAGE, "cannot truncate '%s': %s", jsonl_path, strerror(errno));
    if (!st && cfd >= 0 && !cmade && S_ISREG(cs.st_mode) && ftruncate(cfd, 0) != 0)
        st = tb_err_set(err, TB_USAGE, "cannot truncate '%s': %s", csv_path, strerror(errno));
    if (!st && cfd >= 0 && !(w->csv = fdopen(cfd, "w")))
        st = tb_err_set(err, TB_DEVFAIL, "out of host memory");
    if (st) {
        if (cfd >= 0)
            close(cfd);
        if (jfd >= 0)
            close(jfd);
        if (cmade)
            remove_created(csv_path, &cs);
        if (jmade && !(cmade && same_file(&js, &cs)))
            remove_created(jsonl_path, &js);
        free(w);
        return st;
    }
    pthread_mutex_init(&w->lock, NULL);
    w->jsonl_fd = jfd;
    w->case_width = 28;
    snprintf(w->jsonl_path, sizeof w->jsonl_path, "%s", jsonl_path);
    if (csv_path)
        snprintf(w->csv_path, sizeof w->csv_path, "%s", csv_path);
    *out = w;
    char *line = cJSON_PrintUnformatted(context);
    if (!line)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    size_t n = strlen(line);
    line[n] = '\n';
    int bad = write_line(jfd, line, n + 1);
    free(line);
    if (bad)
        return tb_err_set(err, TB_DEVFAIL, "cannot write '%s': %s", jsonl_path, strerror(errno));
    if (w->csv) {
        tb_record_csv_header(w->csv);
        if (fflush(w->csv) != 0 || ferror(w->csv))
            return tb_err_set(err, TB_DEVFAIL, "--csv: cannot write '%s': %s", csv_path,
                              strerror(errno));
    }
    return TB_OK;
}

tb_status tb_writer_open(tb_writer **w, const char *jsonl_path, const char *csv_path,
                         FILE *table, const cJSON *context, tb_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", jsonl_path);
    return writer_open(w, path, sizeof path, 0, csv_path, table, context, err);
}

tb_status tb_writer_open_new(tb_writer **w, char *jsonl_path, size_t jsonl_len,
                             const char *csv_path, FILE *table, const cJSON *context, tb_err *err)
{
    return writer_open(w, jsonl_path, jsonl_len, 1, csv_path, table, context, err);
}

void tb_writer_fit_cases(tb_writer *w, const tb_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char text[128];
        tb_record_case_text(&cases[i], text, sizeof text);
        int len = (int)strlen(text);
        if (len > w->case_width)
            w->case_width = len;
    }
}

const char *tb_writer_path(const tb_writer *w)
{
    return w->jsonl_path;
}

/* Keeps a copy of a result its benchmark's summary will read. */
static void keep_result(tb_writer *w, const tb_result *r)
{
    tb_result **nk = tb_grow(w->kept, &w->cap_kept, w->n_kept + 1, sizeof *nk);
    tb_result *copy = malloc(sizeof *copy);
    if (!nk || !copy) {
        free(copy);
        if (nk)
            w->kept = nk;
        return; /* only the summary loses a row */
    }
    w->kept = nk;
    *copy = *r;
    w->kept[w->n_kept++] = copy;
}

static void note_figure(tb_writer *w, const tb_result *r)
{
    int is_tflops = r->flops > 0;
    double fig = is_tflops ? r->tflops : r->gbps;
    if (!isfinite(fig))
        return;
    ladder_entry *nl = tb_grow(w->ladder, &w->cap_ladder, w->n_ladder + 1, sizeof *nl);
    if (!nl)
        return; /* only the end-of-run tables lose a cell */
    w->ladder = nl;
    ladder_entry *e = &w->ladder[w->n_ladder++];
    e->device = r->device;
    e->bench = r->c.bench;
    e->impl = r->c.impl;
    e->dtype = r->c.dtype;
    tb_record_case_text(&r->c, e->case_text, sizeof e->case_text);
    e->figure = fig;
    e->is_tflops = is_tflops;
    e->pct_peak = r->pct_peak;
}

/* The bytes of a group's key: pointers and numbers as they lie in memory, which the entry
 * copies into its own key buffer so the index can point at it. */
typedef struct {
    char bytes[3 * sizeof(void *)];
} group_key;

static group_key make_key(const void *p, const void *q, int v)
{
    group_key k;
    memset(&k, 0, sizeof k);
    memcpy(k.bytes, &p, sizeof p);
    memcpy(k.bytes + sizeof p, &q, sizeof q);
    memcpy(k.bytes + 2 * sizeof p, &v, sizeof v);
    return k;
}

/* Numbers the groups of n items in the order of their first item (gid[i]); returns how many
 * groups, or -1 when memory runs out. keys[i] must stay alive while this runs. */
static long number_groups(const group_key *keys, size_t n, size_t *gid,
                          unsigned long long *probes)
{
    tb_keyindex ix;
    tb_keyindex_init(&ix);
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        size_t g = tb_keyindex_put(&ix, keys[i].bytes, sizeof keys[i].bytes, ng);
        if (g == TB_KEYINDEX_NONE) {
            *probes += ix.probes;
            tb_keyindex_free(&ix);
            return -1;
        }
        if (g == ng)
            ng++;
        gid[i] = g;
    }
    *probes += ix.probes;
    tb_keyindex_free(&ix);
    return (long)ng;
}

/* order[] lists the items of group 0, then group 1, ..., each in item order; start[g] is
 * where group g begins (start has ng + 1 entries). */
static void order_by_group(const size_t *gid, size_t n, size_t ng, size_t *start, size_t *order)
{
    memset(start, 0, (ng + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[gid[i] + 1]++;
    for (size_t g = 0; g < ng; g++)
        start[g + 1] += start[g];
    size_t *at = start; /* advanced while placing, restored below */
    for (size_t i = 0; i < n; i++)
        order[at[gid[i]]++] = i;
    for (size_t g = ng; g > 0; g--)
        start[g] = start[g - 1];
    start[0] = 0;
}

void tb_writer_ladder(tb_writer *w, FILE *f)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_ladder, m = n ? n : 1;
    group_key *keys = malloc(m * sizeof *keys);
    size_t *gid = calloc(m, sizeof *gid), *order = malloc(m * sizeof *order);
    size_t *start = malloc((m + 1) * sizeof *start);
    size_t *col = malloc(m * sizeof *col), *row = malloc(m * sizeof *row);
    size_t *impl_at = malloc(m * sizeof *impl_at), *row_at = malloc(m * sizeof *row_at);
    double *grid = NULL;
    long ng = -1;
    if (keys && gid && order && start && col && row && impl_at && row_at) {
        for (size_t i = 0; i < n; i++)
            keys[i] = make_key(w->ladder[i].device, w->ladder[i].bench, (int)w->ladder[i].dtype);
        ng = number_groups(keys, n, gid, &w->probes);
    }
    if (ng >= 0)
        order_by_group(gid, n, (size_t)ng, start, order);
    for (long g = 0; g < ng; g++) {
        const size_t *items = order + start[g];
        size_t count = start[g + 1] - start[g];
        const ladder_entry *head = &w->ladder[items[0]];
        /* columns: implementations, rows: cases, each in order of first appearance */
        tb_keyindex impls, cases;
        tb_keyindex_init(&impls);
        tb_keyindex_init(&cases);
        size_t ni = 0, nr = 0;
        int oom = 0;
        for (size_t j = 0; j < count && !oom; j++) {
            const ladder_entry *e = &w->ladder[items[j]];
            size_t k = tb_keyindex_put(&impls, (const char *)&e->impl, sizeof e->impl, ni);
            size_t r = tb_keyindex_put(&cases, e->case_text, strlen(e->case_text), nr);
            oom = k == TB_KEYINDEX_NONE || r == TB_KEYINDEX_NONE;
            if (oom)
                break;
            if (k == ni)
                impl_at[ni++] = items[j];
            if (r == nr)
                row_at[nr++] = items[j];
            col[j] = k;
            row[j] = r;
        }
        w->probes += impls.probes + cases.probes;
        tb_keyindex_free(&impls);
        tb_keyindex_free(&cases);
        if (oom || ni < 2)
            continue; /* a single implementation: the rows above say it all */
        free(grid);
        grid = malloc(ni * nr * sizeof *grid);
        if (!grid)
            continue;
        for (size_t c = 0; c < ni * nr; c++)
            grid[c] = NAN;
        double top = 0;
        for (size_t j = 0; j < count; j++) { /* the last result of a cell is shown */
            const ladder_entry *e = &w->ladder[items[j]];
            grid[row[j] * ni + col[j]] = e->figure;
            if (e->figure > top)
                top = e->figure;
        }
        int cw = 4;
        for (size_t r = 0; r < nr; r++)
            if ((int)strlen(w->ladder[row_at[r]].case_text) > cw)
                cw = (int)strlen(w->ladder[row_at[r]].case_text);
        /* FLOP rates under 1 TFLOP/s (the host's) read better in GFLOP/s */
        int giga = head->is_tflops && top < 1.0;
        double scale = giga ? 1e3 : 1.0;
        int iw = 11;
        for (size_t k = 0; k < ni; k++)
            if ((int)strlen(w->ladder[impl_at[k]].impl->name) > iw)
                iw = (int)strlen(w->ladder[impl_at[k]].impl->name);
        char gpu[32];
        if (head->device->is_host)
            snprintf(gpu, sizeof gpu, "host");
        else
            snprintf(gpu, sizeof gpu, "GPU %d", head->device->ordinal);
        fprintf(f, "\n%s %s %s, %s (median):\n", head->bench->name, tb_dtype_name(head->dtype),
                gpu, giga ? "GFLOP/s" : head->is_tflops ? "TFLOP/s" : "GB/s");
        if (head->is_tflops && head->bench->flops_convention)
            fprintf(f, "(FLOPs: %s)\n", head->bench->flops_convention);
        fprintf(f, "%-*s", cw, "case");
        for (size_t k = 0; k < ni; k++)
            fprintf(f, " %*s", iw, w->ladder[impl_at[k]].impl->name);
        fputc('\n', f);
        for (size_t r = 0; r < nr; r++) {
            fprintf(f, "%-*s", cw, w->ladder[row_at[r]].case_text);
            for (size_t k = 0; k < ni; k++) {
                char cellt[32];
                fmt_num(cellt, sizeof cellt, grid[r * ni + k] * scale, "%.2f");
                fprintf(f, " %*s", iw, cellt);
            }
            fputc('\n', f);
        }
    }
    free(grid);
    free(keys);
    free(gid);
    free(order);
    free(start);
    free(col);
    free(row);
    free(impl_at);
    free(row_at);
    pthread_mutex_unlock(&w->lock);
}

void tb_writer_summary(tb_writer *w, FILE *f)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_ladder, m = n ? n : 1;
    group_key *keys = malloc(m * sizeof *keys);
    size_t *gid = calloc(m, sizeof *gid), *best = malloc(m * sizeof *best);
    long ng = -1;
    if (keys && gid && best) {
        for (size_t i = 0; i < n; i++)
            keys[i] = make_key(w->ladder[i].device, w->ladder[i].impl, (int)w->ladder[i].dtype);
        ng = number_groups(keys, n, gid, &w->probes);
    }
    /* the best of each implementation, the first of equal figures; groups in order of their
     * first result */
    if (ng > 0) {
        for (size_t g = 0; g < (size_t)ng; g++)
            best[g] = (size_t)-1;
        for (size_t i = 0; i < n; i++) {
            size_t g = gid[i];
            if (best[g] == (size_t)-1 || w->ladder[i].figure > w->ladder[best[g]].figure)
                best[g] = i;
        }
        fprintf(f, "\nbest per implementation:\n%-5s %-9s %-12s %-5s %12s %-8s %6s  %s\n", "gpu",
                "bench", "impl", "dtype", "best", "unit", "%peak", "at");
    }
    for (long g = 0; g < ng; g++) {
        const ladder_entry *b = &w->ladder[best[g]];
        char gpu[16], pp[32];
        if (b->device->is_host)
            snprintf(gpu, sizeof gpu, "host");
        else
            snprintf(gpu, sizeof gpu, "%d", b->device->ordinal);
        fmt_num(pp, sizeof pp, b->pct_peak, "%.1f");
        /* FLOP rates under 1 TFLOP/s (the host's) read better in GFLOP/s */
        int giga = b->is_tflops && b->figure < 1.0;
        fprintf(f, "%-5s %-9s %-12s %-5s %12.2f %-8s %6s  %s\n", gpu, b->bench->name,
                b->impl->name, tb_dtype_name(b->dtype), giga ? b->figure * 1e3 : b->figure,
                giga ? "GFLOP/s" : b->is_tflops ? "TFLOP/s" : "GB/s", pp, b->case_text);
    }
    free(keys);
    free(gid);
    free(best);
    pthread_mutex_unlock(&w->lock);
}

void tb_writer_set_origin(tb_writer *w, int rank, const char *host, int gpu_index)
{
    w->stamped = 1;
    w->rank = rank;
    w->gpu_index = gpu_index;
    snprintf(w->host, sizeof w->host, "%s", host);
}

tb_status tb_writer_open_sink(tb_writer **out, tb_writer_sink sink, void *ctx, tb_err *err)
{
    tb_writer *w = calloc(1, sizeof *w);
    if (!(*out = w))
        return tb_err_set(err, TB_DEVFAIL, "out of host memory");
    pthread_mutex_init(&w->lock, NULL);
    w->jsonl_fd = -1;
    w->case_width = 28;
    w->sink = sink;
    w->sink_ctx = ctx;
    snprintf(w->jsonl_path, sizeof w->jsonl_path, "(rank 0's file)");
    return TB_OK;
}

static void count_status(tb_writer *w, const char *status)
{
    if (!status || !strcmp(status, "error"))
        atomic_fetch_add(&w->n_failed, 1);
    else if (!strcmp(status, "ok"))
        atomic_fetch_add(&w->n_ok, 1);
    else if (!strcmp(status, "wrong"))
        atomic_fetch_add(&w->n_wrong, 1);
    else if (!strcmp(status, "skipped"))
        atomic_fetch_add(&w->n_skipped, 1);
    else
        atomic_fetch_add(&w->n_failed, 1);
}

tb_status tb_writer_add_line(tb_writer *w, const char *line, tb_err *err)
{
    cJSON *o = cJSON_Parse(line);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "result")) {
        cJSON_Delete(o);
        return tb_err_set(err, TB_DEVFAIL, "a rank sent a line that is not a result: %.80s",
                          line);
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    char word[16] = "";
    if (cJSON_IsString(status))
        snprintf(word, sizeof word, "%s", status->valuestring);
    char *flat = cJSON_PrintUnformatted(o); /* one line, whatever the sender's spacing */
    cJSON_Delete(o);
    if (!flat)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory writing a result");
    size_t n = strlen(flat);
    flat[n] = '\n';
    tb_status st = TB_OK;
    pthread_mutex_lock(&w->lock);
    if (write_line(w->jsonl_fd, flat, n + 1) != 0)
        st = tb_err_set(err, TB_DEVFAIL, "cannot write a result to '%s': %s", w->jsonl_path,
                        strerror(errno));
    else
        count_status(w, word[0] ? word : NULL);
    pthread_mutex_unlock(&w->lock);
    free(flat);
    return st;
}

void tb_writer_quiesce(tb_writer *w)
{
    pthread_mutex_lock(&w->lock); /* never released: the process ends holding it */
}

/* Names the row's rank and host, and under MPI the GPU by its index on its host. */
static void stamp(const tb_writer *w, const tb_result *r, cJSON *o)
{
    if (!w->stamped)
        return;
    cJSON_AddNumberToObject(o, "rank", w->rank);
    cJSON_AddStringToObject(o, "host", w->host);
    if (w->gpu_index >= 0 && !r->group && !r->device->is_host) {
        cJSON *gpus = cJSON_CreateArray();
        cJSON_AddItemToArray(gpus, cJSON_CreateNumber(w->gpu_index));
        cJSON_ReplaceItemInObjectCaseSensitive(o, "gpus", gpus);
    }
    if (!r->device->is_host)
        cJSON_AddStringToObject(o, "gpu_uuid", r->device->uuid);
}

tb_status tb_writer_add(tb_writer *w, const tb_result *r, tb_err *err)
{
    cJSON *o = tb_record_result_json(r);
    stamp(w, r, o);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    tb_status st = TB_OK;
    pthread_mutex_lock(&w->lock);
    /* the file first: a reader of stdout that goes away (head) never costs a result */
    int written = 0;
    if (!line) {
        st = tb_err_set(err, TB_DEVFAIL, "out of host memory writing a result");
    } else {
        size_t n = strlen(line);
        line[n] = '\n';
        if (w->sink) {
            if ((st = w->sink(w->sink_ctx, line, n, err)) == TB_OK)
                written = 1;
        } else if (write_line(w->jsonl_fd, line, n + 1) != 0)
            st = tb_err_set(err, TB_DEVFAIL, "cannot write a result to '%s': %s", w->jsonl_path,
                            strerror(errno));
        else
            written = 1;
    }
    if (w->csv && !w->csv_failed && written) { /* the CSV holds what the JSONL holds */
        tb_record_csv_row(w->csv, r);
        if ((fflush(w->csv) != 0 || ferror(w->csv)) && !w->csv_failed) {
            w->csv_failed = 1;
            if (!st)
                st = tb_err_set(err, TB_DEVFAIL, "--csv: cannot write '%s': %s", w->csv_path,
                                strerror(errno));
        }
    }
    if (w->table && !w->table_failed) {
        if (!w->header_done) {
            tb_record_table_header(w->table, w->case_width);
            w->header_done = 1;
        }
        tb_record_table_row(w->table, r, w->case_width);
        if (fflush(w->table) != 0 || ferror(w->table)) {
            w->table_failed = 1;
            if (!st)
                st = tb_err_set(err, TB_DEVFAIL, "cannot write to standard output: %s",
                                strerror(errno));
        }
    }
    if (written) {
        if (r->c.bench->end_tables)
            keep_result(w, r);
        if (r->status == TB_OK && !r->group)
            note_figure(w, r); /* a collective's figures go to its benchmark's summary */
        switch (r->status) {
        case TB_OK: atomic_fetch_add(&w->n_ok, 1); break;
        case TB_WRONG: atomic_fetch_add(&w->n_wrong, 1); break;
        case TB_SKIP: atomic_fetch_add(&w->n_skipped, 1); break;
        default: atomic_fetch_add(&w->n_failed, 1); break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    free(line);
    return st;
}

void tb_writer_bench_summaries(tb_writer *w, FILE *f)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_kept, m = n ? n : 1;
    group_key *keys = malloc(m * sizeof *keys);
    size_t *gid = calloc(m, sizeof *gid), *order = malloc(m * sizeof *order);
    size_t *start = malloc((m + 1) * sizeof *start);
    const tb_result **rows = malloc(m * sizeof *rows);
    long ng = -1;
    if (keys && gid && order && start && rows) {
        for (size_t i = 0; i < n; i++)
            keys[i] = make_key(w->kept[i]->c.bench, NULL, 0);
        ng = number_groups(keys, n, gid, &w->probes);
    }
    if (ng >= 0)
        order_by_group(gid, n, (size_t)ng, start, order);
    for (long g = 0; g < ng; g++) { /* benchmarks in order of their first result */
        size_t count = start[g + 1] - start[g];
        for (size_t j = 0; j < count; j++)
            rows[j] = w->kept[order[start[g] + j]];
        rows[0]->c.bench->end_tables(rows, count, f);
    }
    free(keys);
    free(gid);
    free(order);
    free(start);
    free(rows);
    pthread_mutex_unlock(&w->lock);
}

unsigned long long tb_writer_probes(tb_writer *w)
{
    pthread_mutex_lock(&w->lock);
    unsigned long long p = w->probes;
    pthread_mutex_unlock(&w->lock);
    return p;
}

void tb_writer_counts(tb_writer *w, int *ok, int *wrong, int *skipped, int *failed)
{
    *ok = atomic_load(&w->n_ok);
    *wrong = atomic_load(&w->n_wrong);
    *skipped = atomic_load(&w->n_skipped);
    *failed = atomic_load(&w->n_failed);
}

/* Appends text to buf at *used (async-signal-safe). */
static void sig_append(char *buf, size_t n, size_t *used, const char *text)
{
    while (*text && *used + 1 < n)
        buf[(*used)++] = *text++;
}

static void sig_append_int(char *buf, size_t n, size_t *used, int v)
{
    char digits[16];
    int k = 0;
    unsigned u = v < 0 ? 0u : (unsigned)v;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && k < 15);
    while (k > 0 && *used + 1 < n)
        buf[(*used)++] = digits[--k];
}

void tb_writer_signal_summary(tb_writer *w, int fd, const char *signal_name)
{
    char buf[1400];
    size_t used = 0;
    sig_append(buf, sizeof buf, &used, "\ntrainbench: interrupted by ");
    sig_append(buf, sizeof buf, &used, signal_name);
    sig_append(buf, sizeof buf, &used, ": ");
    sig_append_int(buf, sizeof buf, &used, atomic_load(&w->n_ok));
    sig_append(buf, sizeof buf, &used, " ok, ");
    sig_append_int(buf, sizeof buf, &used, atomic_load(&w->n_wrong));
    sig_append(buf, sizeof buf, &used, " wrong, ");
    sig_append_int(buf, sizeof buf, &used, atomic_load(&w->n_skipped));
    sig_append(buf, sizeof buf, &used, " skipped, ");
    sig_append_int(buf, sizeof buf, &used, atomic_load(&w->n_failed));
    sig_append(buf, sizeof buf, &used, " failed; results: ");
    sig_append(buf, sizeof buf, &used, w->jsonl_path);
    sig_append(buf, sizeof buf, &used, "\n");
    (void)write_all(fd, buf, used);
}

tb_status tb_writer_finish(tb_writer *w, tb_err *err)
{
    tb_status st = TB_OK;
    if (w->jsonl_fd >= 0 && close(w->jsonl_fd) != 0)
        st = tb_err_set(err, TB_DEVFAIL, "cannot write '%s': %s", w->jsonl_path,
                        strerror(errno));
    w->jsonl_fd = -1;
    if (w->csv && fclose(w->csv) != 0 && !st && !w->csv_failed)
        st = tb_err_set(err, TB_DEVFAIL, "--csv: cannot write '%s': %s", w->csv_path,
                        strerror(errno));
    w->csv = NULL;
    return st;
}

void tb_writer_close(tb_writer *w)
{
    if (!w)
        return;
    tb_err ignored;
    tb_writer_finish(w, &ignored);
    free(w->ladder);
    for (size_t i = 0; i < w->n_kept; i++)
        free(w->kept[i]);
    free(w->kept);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
