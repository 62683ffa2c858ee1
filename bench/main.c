/* main.c - the trainbench command line: list, info, run. The only place that exits. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../harness/bench.h"
#include "../harness/compare.h"
#include "../harness/results.h"
#include "../harness/context.h"
#include "../harness/device.h"
#include "../harness/grow.h"
#include "../harness/keyindex.h"
#include "../harness/nvml.h"
#include "../harness/record.h"
#include "../harness/runner.h"
#include "../harness/specs.h"
#include "../harness/report.h"
#include "../harness/sweep.h"
#include "../harness/world.h"
#include "benches.h"
#include "check.h"

#define MAX_BENCHES 16
#define MAX_OPTS 64

static const char usage_main[] =
    "usage: trainbench COMMAND [ARGS]\n"
    "\n"
    "  list [BENCH]            benchmarks, axes, implementations and what each needs\n"
    "  info [--json]           this machine: GPUs, driver, libraries, peaks\n"
    "  run [BENCH...] [opts]   measure (no BENCH: the default suite)\n"
    "  compare BASE... -- NEW... regression verdict per case; exit 1 on a slowdown, a wrong\n"
    "                          result or a missing case (two files: compare BASE NEW)\n"
    "  report FILE...          cross-machine tables (markdown, CSV) and plot data\n"
    "  check [--plan P]        node acceptance: a verdict per GPU and link, with reason codes\n"
    "\n"
    "'trainbench COMMAND --help' describes a command. Exit codes: 0 all good; 1 a result was\n"
    "wrong or failed, or compare found a regression; 2 bad usage or input; 3 no usable\n"
    "device; 4 a device or library failure or a write error stopped the run; 130, 143\n"
    "interrupted by SIGINT, SIGTERM (after saying what was written).\n";

static const char usage_compare[] =
    "usage: trainbench compare BASE NEW [options]\n"
    "       trainbench compare BASE... -- NEW... [options]\n"
    "\n"
    "Matches results by benchmark, implementation, dtype, axis values, GPU model and GPUs, pools\n"
    "each side's per-round medians (a row without rounds is one round; a case repeated on a side\n"
    "pools its ok rows, and its worst status counts), and gives each case a verdict: SLOWER or\n"
    "FASTER when the 95 % bootstrap interval of the change lies wholly beyond --threshold and a\n"
    "two-sided Mann-Whitney U test gives p < 0.05; SAME when the interval lies wholly within;\n"
    "AMBIGUOUS otherwise, or with too few rounds to decide; WRONG or ERROR when a row of NEW\n"
    "failed; MISSING when NEW lacks a case BASE measured ok; UNMEASURED when either side was not\n"
    "measured. The header says what differs between the runs' contexts. Exit 1 when any case\n"
    "is SLOWER, WRONG, ERROR or MISSING.\n"
    "\n"
    "  --threshold PCT    the smallest change that counts (default 2; 15 when every file is a\n"
    "                     --host run, whose runs drift by more: see README, compare)\n"
    "  --format F         text, md, csv or json (default text)\n"
    "  --method M         rounds (default), or quartiles: the former rule (beyond the\n"
    "                     threshold with one row's [q1, q3] apart), to measure the gate with\n";

static const char usage_report[] =
    "usage: trainbench report FILE... [--format md|csv] [--plot DIR]\n"
    "\n"
    "Tables across machines (GPU model x count, driver): a headline row per machine, then one\n"
    "table per benchmark and dtype, rows cases, columns machines, each cell the best figure any\n"
    "run and GPU of the machine reached with its % of peak. --format csv writes one row per\n"
    "case and machine. --plot DIR writes, per benchmark and dtype, the data (CSV) and a gnuplot\n"
    "script drawing it (scripts/plot runs them).\n";

static const char usage_run[] =
    "usage: trainbench run [BENCH...] [options]\n"
    "\n"
    "Runs every case of the named benchmarks (default: the default suite) on every visible GPU\n"
    "at once, verifying each case before timing it. Results: a table on stdout, JSON Lines in\n"
    "results/<host>-<YYYYmmdd-HHMMSS>.jsonl under the current directory (never over an\n"
    "existing file: -2, -3, ... when taken), or --output. The last line: the results\n"
    "written, by status, and the file's path.\n"
    "\n"
    "Selection:\n"
    "  --<axis> SWEEP     values of a benchmark axis (see 'trainbench list'); sweeps are\n"
    "                     8:8G:x2 (geometric), 1K:64K:+1K (arithmetic), 4096,8192 (list);\n"
    "                     K/M/G/T are binary (1K = 1024)\n"
    "  --impl LIST        implementations to run (comma-separated names)\n"
    "  --dtype LIST       data types (fp32, tf32, bf16, fp16, fp8)\n"
    "  --gpus LIST        GPU indices to use (default: all visible); a collective\n"
    "                     benchmark (allreduce) runs on all of them as one group\n"
    "  --host             run the host implementations on the CPU instead of GPUs\n"
    "  --quick            a short sweep and looser stopping (about a minute per GPU)\n"
    "Measurement (nvbench's names):\n"
    "  --min-samples N    at least N samples per case (default 10; --quick 5)\n"
    "  --min-time S       at least S seconds of measured time (default 0.5; --host 0.2;\n"
    "                     --quick 0.1)\n"
    "  --max-noise PCT    then stop when the relative stdev is under PCT % (default 0.5;\n"
    "                     --host: none, a host case stops at the two minimums)\n"
    "  --timeout S        always stop a case after S seconds (default 15; --quick 2);\n"
    "                     a collective whose ranks wait longer is aborted (timed out)\n"
    "  --cold             flush L2 before every single-execution sample\n"
    "  --serial           one GPU at a time instead of all at once\n"
    "  --seed N           input data seed, and the seed of the rounds' order (default 1)\n"
    "  --rounds R         measure every case in R rounds of the whole suite, each in its\n"
    "                     own order, the headline the median of the rounds (default 7)\n"
    "Output:\n"
    "  -o, --output FILE  the JSON Lines file\n"
    "  --csv FILE         also write CSV\n"
    "  -q, --quiet        no progress line on stderr\n";

static const char usage_list[] =
    "usage: trainbench list [BENCH]\n"
    "\n"
    "Lists the benchmarks with their axes (default, --quick and --host values) and their\n"
    "implementations: kind (hand-written, vendor, host), data types, the GPUs they need.\n";

static const char usage_info[] =
    "usage: trainbench info [--json]\n"
    "\n"
    "Describes this machine: host, CPU, driver, CUDA runtime, cuBLAS, NCCL, NVML, and per GPU\n"
    "its properties and peaks (device-derived and datasheet). --json prints the context record\n"
    "that starts every result file. Exit 3 when no GPU is usable (the rest is still printed).\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "trainbench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return TB_USAGE;
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* ---------------------------------------------------------------- list */

static void bench_names(char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; tb_benches[i]; i++) {
        if (i)
            strncat(buf, ", ", n - strlen(buf) - 1);
        strncat(buf, tb_benches[i]->name, n - strlen(buf) - 1);
    }
}


static void list_bench(const tb_bench *b)
{
    printf("%s - %s\n", b->name, b->summary);
    printf("  axes:\n");
    for (int i = 0; i < b->n_axes; i++) {
        const tb_axis *a = &b->axes[i];
        printf("    --%-10s default %s; --quick %s", a->name, a->defaults, a->quick);
        if (a->host_defaults)
            printf("; --host %s", a->host_defaults);
        if (a->host_quick)
            printf("; --host --quick %s", a->host_quick);
        printf("\n                 %s\n", a->help);
    }
    for (int i = 0; i < b->n_options; i++)
        printf("    --%-10s %s%s%s\n", b->options[i].name, b->options[i].help,
               b->options[i].defaults ? "; default " : "",
               b->options[i].defaults ? b->options[i].defaults : "");
    if (b->details) {
        char text[8192];
        b->details(text, sizeof text);
        fputs(text, stdout);
    }
    printf("  implementations:\n");
    for (int i = 0; i < b->n_impls; i++) {
        const tb_impl *m = &b->impls[i];
        char dts[64] = "";
        for (int d = 0; d < TB_DTYPE_COUNT; d++)
            if (m->dtypes & TB_DT(d)) {
                if (dts[0])
                    strcat(dts, ",");
                strcat(dts, tb_dtype_name((tb_dtype)d));
            }
        char needs[64];
        if (m->kind == TB_KIND_HOST)
            snprintf(needs, sizeof needs, "CPU (--host)");
        else if (m->min_cc && m->max_cc == m->min_cc)
            snprintf(needs, sizeof needs, "sm_%da", m->min_cc);
        else if (m->min_cc)
            snprintf(needs, sizeof needs, "cc >= %d.%d", m->min_cc / 10, m->min_cc % 10);
        else
            snprintf(needs, sizeof needs, "any GPU");
        printf("    %-16s %-12s %-10s %-13s %s%s%s\n", m->name, tb_impl_kind_name(m->kind), dts,
               needs, m->summary, m->compare_to ? "; compared with " : "",
               m->compare_to ? m->compare_to : "");
    }
}

static int cmd_list(int argc, char **argv)
{
    if (argc > 1 && is_help(argv[1])) {
        fputs(usage_list, stdout);
        return TB_OK;
    }
    if (argc > 2)
        return usage_error("list: takes at most one benchmark, got '%s'", argv[2]);
    if (argc == 2) {
        if (argv[1][0] == '-')
            return usage_error("list: unknown option '%s' (use --help)", argv[1]);
        const tb_bench *b = tb_bench_find(argv[1]);
        if (!b) {
            char names[256];
            bench_names(names, sizeof names);
            return usage_error("list: unknown benchmark '%s' (available: %s)", argv[1], names);
        }
        list_bench(b);
        return TB_OK;
    }
    for (int i = 0; tb_benches[i]; i++) {
        if (i)
            printf("\n");
        list_bench(tb_benches[i]);
    }
    return TB_OK;
}

/* ---------------------------------------------------------------- info */

static const char *text_or_dash(const char *s)
{
    return s ? s : "-";
}

static int cmd_info(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_info, stdout);
            return TB_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            return usage_error("info: unknown option '%s' (accepted: --json, --help)", argv[i]);
        }
    }
    tb_device *devs = NULL;
    int ndev = 0;
    tb_err err;
    tb_status dst = tb_device_discover(&devs, &ndev, &err);
    char why[512] = "";
    tb_nvml *nvml = tb_nvml_open(why, sizeof why);
    cJSON *ctx = tb_context_build(argc, argv, devs, ndev, nvml, why, NULL);
    if (dst)
        cJSON_AddStringToObject(ctx, "no_device_reason", err.msg);
    if (json) {
        char *s = cJSON_Print(ctx);
        printf("%s\n", s);
        free(s);
    } else {
#define STR(k) text_or_dash(tb_json_str(ctx, k))
        printf("trainbench %s (commit %s)\n", tb_build_version, tb_build_commit);
        printf("host          %s\n", STR("host"));
        printf("cpu           %s (%d threads)\n", STR("cpu"),
               (int)cJSON_GetObjectItem(ctx, "cpu_threads")->valuedouble);
        printf("driver        %s (CUDA %s)\n", STR("driver"), STR("cuda_driver"));
        printf("cuda runtime  %s\n", STR("cuda_runtime"));
        printf("cublas        %s\n", STR("cublas"));
        printf("nccl          %s\n", STR("nccl"));
        printf("nvml          %s\n", nvml ? "loaded" : why);
#undef STR
        if (dst)
            printf("gpus          none: %s\n", err.msg);
        for (int i = 0; i < ndev; i++) {
            const tb_device *d = &devs[i];
            tb_peak pk;
            tb_specs_peak(d, TB_PEAK_MEMORY, TB_FP32, &pk);
            printf("gpu %d         %s, cc %d.%d, %d SMs, %.1f GiB, SM clock max %d MHz, memory "
                   "clock %d MHz x %d bits\n",
                   d->ordinal, d->name, d->cc_major, d->cc_minor, d->sm_count,
                   (double)d->mem_bytes / (1 << 30), d->max_sm_clock_khz / 1000,
                   d->max_mem_clock_khz / 1000, d->bus_width_bits);
            printf("              %s, pci %s\n", d->uuid, d->pci_bus_id);
            printf("              memory peak: derived %.0f GB/s", pk.derived);
            if (pk.datasheet > 0)
                printf(", datasheet %.0f GB/s", pk.datasheet);
            printf("%s%s\n", pk.usable ? "" : " (no % of peak: ", pk.usable ? "" : pk.note);
            if (!pk.usable)
                printf("              )\n");
            static const tb_dtype dts[] = {TB_BF16, TB_TF32, TB_FP8E4M3};
            for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
                tb_specs_peak(d, TB_PEAK_TENSOR, dts[k], &pk);
                if (pk.derived > 0)
                    printf("              %s tensor peak: derived %.0f TFLOP/s%s%.0f%s\n",
                           tb_dtype_name(dts[k]), pk.derived,
                           pk.datasheet > 0 ? ", datasheet " : "",
                           pk.datasheet > 0 ? pk.datasheet : 0.0,
                           pk.datasheet > 0 ? " TFLOP/s" : "");
            }
        }
    }
    cJSON_Delete(ctx);
    tb_nvml_close(nvml);
    free(devs);
    return dst ? TB_NODEV : TB_OK;
}

/* ---------------------------------------------------------------- run */

typedef struct {
    char name[64];
    const char *value;
    int used;
} axis_opt;

typedef struct {
    const tb_bench *benches[MAX_BENCHES];
    int nbench;
    int explicit_benches;
    axis_opt axes[MAX_OPTS];
    int naxes;
    const char *impls, *dtypes, *gpus, *output, *csv;
    char seen[MAX_OPTS][64]; /* the non-axis options given, by their long name */
    int nseen;
    int host, quick, cold, serial, quiet;
    int set_min_samples, set_min_time, set_max_noise, set_timeout;
    tb_run_opts ro;
} run_args;

static const char *const run_flags[] = {"--host",   "--quick", "--cold", "--serial",
                                        "--quiet",  "-q",      "--help", "-h", NULL};

static int is_flag(const char *a)
{
    for (int i = 0; run_flags[i]; i++)
        if (strcmp(a, run_flags[i]) == 0)
            return 1;
    return 0;
}

static tb_status parse_double(const char *opt, const char *v, double *out, tb_err *err)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(d))
        return tb_err_set(err, TB_USAGE, "%s: '%s' is not a number", opt, v);
    *out = d;
    return TB_OK;
}

static tb_status parse_int(const char *opt, const char *v, long long lo, long long hi,
                           long long *out, tb_err *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi)
        return tb_err_set(err, TB_USAGE, "%s: '%s' is not an integer from %lld to %lld", opt, v,
                          lo, hi);
    *out = x;
    return TB_OK;
}

/* A comma-separated list of names: no empty item (a stray comma is a typo, not "nothing"). */
static tb_status check_list(const char *opt, const char *v, const char **out, tb_err *err)
{
    for (const char *p = v;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == 0)
            return tb_err_set(err, TB_USAGE, "%s: '%s' has an empty item (use name,name)", opt,
                              v);
        if (!c)
            break;
        p = c + 1;
    }
    *out = v;
    return TB_OK;
}

/* --gpus: 'all' or indices; the syntax is checked before any GPU is looked for, the range
 * once they are known. */
static tb_status check_gpus(const char *v, const char **out, tb_err *err)
{
    if (strcmp(v, "all") != 0) {
        for (const char *p = v;;) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            size_t digits = 0;
            while (digits < len && p[digits] >= '0' && p[digits] <= '9')
                digits++;
            if (len == 0 || digits != len || len > 6)
                return tb_err_set(err, TB_USAGE,
                                  "--gpus: '%s' is not a list of GPU indices (use 'all' or e.g. "
                                  "0,1,2)",
                                  v);
            if (!c)
                break;
            p = c + 1;
        }
    }
    *out = v;
    return TB_OK;
}

static int bench_has_axis(const tb_bench *b, const char *name)
{
    for (int i = 0; i < b->n_axes; i++)
        if (strcmp(b->axes[i].name, name) == 0)
            return 1;
    return 0;
}


static int any_bench_has_axis(const char *name)
{
    for (int i = 0; tb_benches[i]; i++) {
        if (bench_has_axis(tb_benches[i], name))
            return 1;
        for (int j = 0; j < tb_benches[i]->n_options; j++)
            if (!strcmp(tb_benches[i]->options[j].name, name))
                return 1;
    }
    return 0;
}

static tb_status parse_run_args(int argc, char **argv, run_args *a, tb_err *err)
{
    memset(a, 0, sizeof *a);
    tb_stop_rule def = TB_STOP_RULE_DEFAULT;
    a->ro.rule = def;
    a->ro.seed = 1;
    a->ro.rounds = TB_DEFAULT_ROUNDS;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            const tb_bench *b = tb_bench_find(arg);
            if (!b) {
                char names[256];
                bench_names(names, sizeof names);
                return tb_err_set(err, TB_USAGE, "run: unknown benchmark '%s' (available: %s)",
                                  arg, names);
            }
            int seen = 0; /* a benchmark named twice runs once */
            for (int k = 0; k < a->nbench; k++)
                seen |= a->benches[k] == b;
            if (!seen && a->nbench < MAX_BENCHES)
                a->benches[a->nbench++] = b;
            a->explicit_benches = 1;
            continue;
        }
        if (is_flag(arg)) {
            const char *flag = !strcmp(arg, "-q") ? "--quiet" : arg;
            for (int k = 0; k < a->nseen; k++)
                if (!strcmp(a->seen[k], flag + 2))
                    return tb_err_set(err, TB_USAGE, "run: %s is given twice", flag);
            if (a->nseen < MAX_OPTS && strcmp(flag, "--help") && strcmp(flag, "-h"))
                snprintf(a->seen[a->nseen++], sizeof a->seen[0], "%s", flag + 2);
            if (!strcmp(arg, "--host")) a->host = 1;
            else if (!strcmp(arg, "--quick")) a->quick = 1;
            else if (!strcmp(arg, "--cold")) a->cold = 1;
            else if (!strcmp(arg, "--serial")) a->serial = 1;
            else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) a->quiet = 1;
            else return TB_SKIP; /* --help */
            continue;
        }
        /* an option with a value: --name VALUE or --name=VALUE */
        char name[64];
        const char *value;
        const char *eq = strchr(arg, '=');
        if (eq) {
            size_t len = (size_t)(eq - arg);
            if (len >= sizeof name)
                return tb_err_set(err, TB_USAGE, "run: unknown option '%.*s'", (int)len, arg);
            memcpy(name, arg, len);
            name[len] = '\0';
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
            value = NULL;
        }
        const char *opt = name[1] == '-' ? name + 2 : name + 1;
        static const char *const valued[] = {"impl",     "dtype",      "gpus",    "output", "o",
                                             "csv",      "min-samples", "min-time", "max-noise",
                                             "timeout", "seed",       "rounds", NULL};
        int known = 0;
        for (int k = 0; valued[k]; k++)
            if (strcmp(opt, valued[k]) == 0)
                known = 1;
        if (strcmp(name, "-o") != 0 && name[1] != '-')
            known = 0;
        if (!known && !(name[1] == '-' && any_bench_has_axis(opt)))
            return tb_err_set(err, TB_USAGE,
                              "run: unknown option '%s' (see 'trainbench run --help' and "
                              "'trainbench list' for benchmark axes)",
                              name);
        if (!value) {
            if (i + 1 >= argc)
                return tb_err_set(err, TB_USAGE, "run: option '%s' needs a value", name);
            value = argv[++i];
        }
        if (known) {
            /* an option given twice: which one was meant is not ours to guess */
            const char *canon = !strcmp(opt, "o") ? "output" : opt;
            for (int k = 0; k < a->nseen; k++)
                if (!strcmp(a->seen[k], canon))
                    return tb_err_set(err, TB_USAGE, "run: --%s is given twice", canon);
            if (a->nseen < MAX_OPTS)
                snprintf(a->seen[a->nseen++], sizeof a->seen[0], "%s", canon);
        }
        long long iv;
        double dv;
        tb_status st = TB_OK;
        if (!strcmp(opt, "impl")) st = check_list(name, value, &a->impls, err);
        else if (!strcmp(opt, "dtype")) st = check_list(name, value, &a->dtypes, err);
        else if (!strcmp(opt, "gpus")) st = check_gpus(value, &a->gpus, err);
        else if (!strcmp(opt, "output") || !strcmp(opt, "o")) a->output = value;
        else if (!strcmp(opt, "csv")) a->csv = value;
        else if (!strcmp(opt, "min-samples")) {
            if (!(st = parse_int(name, value, 1, 1000000, &iv, err))) {
                a->ro.rule.min_samples = (int)iv;
                a->set_min_samples = 1;
            }
        } else if (!strcmp(opt, "min-time")) {
            if (!(st = parse_double(name, value, &dv, err))) {
                a->ro.rule.min_time = dv;
                a->set_min_time = 1;
            }
        } else if (!strcmp(opt, "max-noise")) {
            if (!(st = parse_double(name, value, &dv, err))) {
                a->ro.rule.max_noise = dv / 100.0;
                a->set_max_noise = 1;
            }
        } else if (!strcmp(opt, "timeout")) {
            if (!(st = parse_double(name, value, &dv, err))) {
                a->ro.rule.timeout = dv;
                a->set_timeout = 1;
            }
        } else if (!strcmp(opt, "rounds")) {
            if (!(st = parse_int(name, value, 1, TB_MAX_ROUNDS, &iv, err)))
                a->ro.rounds = (int)iv;
        } else if (!strcmp(opt, "seed")) {
            if (!(st = parse_int(name, value, 0, 0x7fffffffffffffffLL, &iv, err)))
                a->ro.seed = (uint64_t)iv;
        } else {
            for (int k = 0; k < a->naxes; k++)
                if (!strcmp(a->axes[k].name, opt))
                    return tb_err_set(err, TB_USAGE, "run: --%s is given twice", opt);
            if (a->naxes >= MAX_OPTS)
                return tb_err_set(err, TB_USAGE, "run: too many axis options");
            snprintf(a->axes[a->naxes].name, sizeof a->axes[a->naxes].name, "%s", opt);
            a->axes[a->naxes].value = value;
            a->naxes++;
        }
        if (st)
            return st;
    }
    if (a->cold && a->host)
        return tb_err_set(err, TB_USAGE,
                          "run: --cold: not used with --host (there is no GPU L2 to flush)");
    if (a->host) {
        /* the host's rule (timer.h): no noise criterion unless --max-noise asks for one */
        tb_stop_rule host = TB_STOP_RULE_HOST;
        if (!a->set_min_samples)
            a->ro.rule.min_samples = host.min_samples;
        if (!a->set_min_time)
            a->ro.rule.min_time = host.min_time;
        if (!a->set_max_noise)
            a->ro.rule.max_noise = host.max_noise;
        if (!a->set_timeout)
            a->ro.rule.timeout = host.timeout;
    }
    if (a->quick) {
        if (!a->set_min_samples)
            a->ro.rule.min_samples = 5;
        if (!a->set_min_time)
            a->ro.rule.min_time = 0.1;
        if (!a->set_timeout)
            a->ro.rule.timeout = 2.0;
    }
    return tb_stop_rule_validate(&a->ro.rule, err);
}

/* Is name in the comma-separated list? */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

typedef struct {
    tb_case *cases;
    size_t n, cap;
} plan;

static tb_status plan_push(plan *p, const tb_case *c, tb_err *err)
{
    tb_case *nc = tb_grow(p->cases, &p->cap, p->n + 1, sizeof *nc);
    if (!nc)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    p->cases = nc;
    p->cases[p->n++] = *c;
    return TB_OK;
}

/* Parses an enum axis value list into indices. */
/* Expands one benchmark's cases in the order: axis points (last axis fastest), dtypes,
 * implementations (baselines first, as the table lists them). */
/* The text given for a bench axis or option named name, or NULL; marks it used. */
static const char *given(run_args *a, const char *name)
{
    const char *v = NULL;
    for (int k = 0; k < a->naxes; k++)
        if (!strcmp(a->axes[k].name, name)) {
            v = a->axes[k].value;
            a->axes[k].used = 1;
        }
    return v;
}

/* The axis points: the benchmark's own (named shape sets), or the product of the axes'
 * sweeps (last axis fastest). */
static tb_status bench_points(run_args *a, const tb_bench *b, tb_points *pts, tb_err *err)
{
    const char *axis_values[TB_MAX_AXES] = {0};
    const char *option_values[16] = {0};
    for (int i = 0; i < b->n_axes; i++)
        axis_values[i] = given(a, b->axes[i].name);
    for (int j = 0; j < b->n_options && j < 16; j++)
        option_values[j] = given(a, b->options[j].name);
    if (b->points)
        return b->points(b, axis_values, option_values, a->quick, a->host, pts, err);
    tb_sweep sw[TB_MAX_AXES];
    memset(sw, 0, sizeof sw);
    tb_status st = TB_OK;
    for (int i = 0; i < b->n_axes && !st; i++) {
        const tb_axis *ax = &b->axes[i];
        const char *spec = axis_values[i];
        if (!spec) {
            if (a->host)
                spec = a->quick ? (ax->host_quick ? ax->host_quick : ax->quick)
                                : (ax->host_defaults ? ax->host_defaults : ax->defaults);
            else
                spec = a->quick ? ax->quick : ax->defaults;
        }
        st = tb_axis_parse(ax, spec, &sw[i], err);
    }
    size_t idx[TB_MAX_AXES] = {0};
    while (!st) {
        int64_t point[TB_MAX_AXES] = {0};
        for (int i = 0; i < b->n_axes; i++)
            point[i] = sw[i].values[idx[i]];
        if ((st = tb_points_add(pts, point, b->n_axes, err)))
            break;
        int i = b->n_axes - 1;
        while (i >= 0 && ++idx[i] == sw[i].count)
            idx[i--] = 0;
        if (i < 0)
            break;
    }
    for (int i = 0; i < b->n_axes; i++)
        tb_sweep_free(&sw[i]);
    return st;
}

/* Expands one benchmark's cases in the order: axis points, dtypes, implementations
 * (baselines first, as the table lists them). */
/* An implementation that is the MPI library's collective: its name ends in "-mpi". */
static int is_mpi_impl(const tb_impl *impl)
{
    size_t n = strlen(impl->name);
    return n >= 4 && !strcmp(impl->name + n - 4, "-mpi");
}

static tb_status plan_bench(run_args *a, const tb_bench *b, plan *p, int *n_impl_matched,
                            tb_err *err)
{
    tb_points pts = {NULL, 0, 0};
    tb_status st = bench_points(a, b, &pts, err);
    /* a point given twice (--bytes 1M,1M, or two shapes that coincide) is measured once */
    size_t kept = 0;
    for (size_t k = 0; k < pts.n && !st; k++) {
        int dup = 0;
        for (size_t j = 0; j < kept && !dup; j++)
            dup = !memcmp(pts.v[j], pts.v[k], sizeof pts.v[k]);
        if (!dup)
            memmove(pts.v[kept++], pts.v[k], sizeof pts.v[k]);
    }
    if (!st)
        pts.n = kept;
    for (size_t k = 0; k < pts.n && !st; k++) {
        for (int d = 0; d < TB_DTYPE_COUNT && !st; d++) {
            if (a->dtypes && !in_list(a->dtypes, tb_dtype_name((tb_dtype)d)))
                continue;
            for (int m = 0; m < b->n_impls && !st; m++) {
                const tb_impl *impl = &b->impls[m];
                if (a->impls && !in_list(a->impls, impl->name))
                    continue;
                /* a dtype the implementation lacks is planned (and reported skipped, with
                 * the reason) only when both were asked for by name */
                if (!(impl->dtypes & TB_DT(d)) && !(a->impls && a->dtypes))
                    continue;
                if ((impl->kind == TB_KIND_HOST) != (a->host != 0))
                    continue;
                /* the MPI library's own collectives (host-mpi) need the ranks of mpirun: in
                 * one process they run only when asked for by name (and are skipped) */
                if (!tb_world_multi() && !a->impls && is_mpi_impl(impl))
                    continue;
                tb_case c;
                memset(&c, 0, sizeof c);
                c.bench = b;
                c.impl = impl;
                c.dtype = (tb_dtype)d;
                memcpy(c.axis, pts.v[k], sizeof c.axis);
                st = plan_push(p, &c, err);
                (*n_impl_matched)++;
            }
        }
    }
    tb_points_free(&pts);
    return st;
}

static tb_status check_names(const run_args *a, tb_err *err)
{
    /* every --impl and --dtype name must exist in a selected benchmark */
    for (const char *p = a->impls; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        const tb_impl *found = NULL;
        char accepted[512] = "";
        for (int b = 0; b < a->nbench; b++)
            for (int m = 0; m < a->benches[b]->n_impls; m++) {
                const tb_impl *im = &a->benches[b]->impls[m];
                if (strlen(im->name) == len && !strncmp(im->name, p, len))
                    found = im;
                if ((im->kind == TB_KIND_HOST) == (a->host != 0)) {
                    if (accepted[0])
                        strncat(accepted, ", ", sizeof accepted - strlen(accepted) - 1);
                    strncat(accepted, im->name, sizeof accepted - strlen(accepted) - 1);
                }
            }
        if (!found)
            return tb_err_set(err, TB_USAGE, "--impl: '%.*s' is not an implementation (accepted: %s)",
                              (int)len, p, accepted);
        if ((found->kind == TB_KIND_HOST) != (a->host != 0))
            return tb_err_set(err, TB_USAGE, "--impl: '%s' %s", found->name,
                              a->host ? "needs a GPU; drop --host"
                                      : "runs on the host; add --host");
        p = c ? c + 1 : NULL;
    }
    for (const char *p = a->dtypes; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(len < 31 ? len : 31), p);
        tb_dtype d;
        if (tb_dtype_parse(name, &d))
            return tb_err_set(err, TB_USAGE,
                              "--dtype: '%s' is not a data type (accepted: fp32, tf32, bf16, "
                              "fp16, fp8)",
                              name);
        p = c ? c + 1 : NULL;
    }
    return TB_OK;
}

/* Values of a benchmark's options that mean nothing on the host: refused rather than
 * silently replaced by the host's defaults. */
static const struct {
    const char *bench, *option, *value, *why;
} host_refused[] = {
    {"attention", "shapes", "fa2",
     "the FlashAttention sweep is sized for GPUs (with --host give --seq, --heads, --head-dim "
     "or a llama3 set)"},
};

static tb_status check_host_options(const run_args *a, tb_err *err)
{
    if (!a->host)
        return TB_OK;
    for (size_t i = 0; i < sizeof host_refused / sizeof host_refused[0]; i++) {
        int selected = 0;
        for (int b = 0; b < a->nbench; b++)
            selected |= !strcmp(a->benches[b]->name, host_refused[i].bench);
        for (int k = 0; k < a->naxes && selected; k++)
            if (!strcmp(a->axes[k].name, host_refused[i].option) &&
                !strcmp(a->axes[k].value, host_refused[i].value))
                return tb_err_set(err, TB_USAGE, "run: --%s %s: not used with --host: %s",
                                  host_refused[i].option, host_refused[i].value,
                                  host_refused[i].why);
    }
    return TB_OK;
}

/* The default result path, results/<host>-<stamp>.jsonl; *made_dir says whether this call
 * created results/. */
static tb_status default_output(char *buf, size_t n, int *made_dir, tb_err *err)
{
    char host[128] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (mkdir("results", 0777) == 0)
        *made_dir = 1;
    else if (errno != EEXIST)
        return tb_err_set(err, TB_USAGE, "cannot create the directory 'results': %s",
                          strerror(errno));
    snprintf(buf, n, "results/%s-%s.jsonl", host, stamp);
    return TB_OK;
}

static cJSON *options_json(const run_args *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "min_samples", a->ro.rule.min_samples);
    cJSON_AddNumberToObject(o, "min_time_s", a->ro.rule.min_time);
    if (isinf(a->ro.rule.max_noise))
        cJSON_AddNullToObject(o, "max_noise_pct"); /* no noise criterion (host runs) */
    else
        cJSON_AddNumberToObject(o, "max_noise_pct", a->ro.rule.max_noise * 100.0);
    cJSON_AddNumberToObject(o, "timeout_s", a->ro.rule.timeout);
    cJSON_AddBoolToObject(o, "cold", a->cold);
    cJSON_AddBoolToObject(o, "serial", a->serial);
    cJSON_AddBoolToObject(o, "quick", a->quick);
    cJSON_AddBoolToObject(o, "host", a->host);
    char seed[32]; /* an integer written exactly, not through a double */
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->ro.seed);
    cJSON_AddRawToObject(o, "seed", seed);
    cJSON_AddNumberToObject(o, "rounds", a->ro.rounds);
    cJSON_AddNumberToObject(o, "batch_target_s", 1e-3);
    if (a->ro.fault.kind != TB_FAULT_NONE) {
        /* a run with a planted bug says so, so its figures are never taken for real ones */
        char fault[64];
        if (a->ro.fault.kind == TB_FAULT_SLOW)
            snprintf(fault, sizeof fault, "slow:%g", a->ro.fault.slow_pct);
        else if (a->ro.fault.kind == TB_FAULT_LATE_CORRUPTION)
            snprintf(fault, sizeof fault, "late-corruption:%ld", a->ro.fault.late_after);
        else if (a->ro.fault.kind == TB_FAULT_SLOW_RANK ||
                 a->ro.fault.kind == TB_FAULT_SLOW_DEVICE)
            snprintf(fault, sizeof fault, "%s:%d", tb_fault_name(a->ro.fault.kind),
                     a->ro.fault.target);
        else
            snprintf(fault, sizeof fault, "%s", tb_fault_name(a->ro.fault.kind));
        cJSON_AddStringToObject(o, "test_fault", fault);
    }
    return o;
}

static tb_status select_gpus(const char *list, tb_device *devs, int *ndev, tb_err *err)
{
    if (!list || !strcmp(list, "all"))
        return TB_OK;
    tb_device *keep = malloc((size_t)*ndev * sizeof *keep);
    if (!keep)
        return tb_err_set(err, TB_USAGE, "out of host memory");
    int k = 0;
    for (const char *p = list;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char item[32];
        long long v = 0;
        snprintf(item, sizeof item, "%.*s", (int)(len < 31 ? len : 31), p);
        if (parse_int("--gpus", item, 0, *ndev - 1, &v, NULL)) {
            free(keep);
            return tb_err_set(err, TB_USAGE,
                              "--gpus: '%s' is not a GPU index (use 'all' or indices 0 to %d)",
                              item, *ndev - 1);
        }
        int dup = 0;
        for (int j = 0; j < k; j++)
            dup |= keep[j].ordinal == (int)v;
        if (!dup)
            keep[k++] = devs[v];
        if (!c)
            break;
        p = c + 1;
    }
    memcpy(devs, keep, (size_t)k * sizeof *keep);
    *ndev = k;
    free(keep);
    return TB_OK;
}

/* ---------------------------------------------------------------- the ranks of a job */

/* A hash of the build and the arguments (not the program's path, which may differ across
 * nodes): every rank of a job must run the same binary the same way. FNV-1a, 64 bits. */
static uint64_t run_hash(int argc, char **argv)
{
    uint64_t h = 1469598103934665603ull;
    const char *parts[2] = {tb_build_version, tb_build_commit};
    for (int i = 0; i < 2 + argc - 1; i++) {
        const char *p = i < 2 ? parts[i] : argv[i - 1];
        for (; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ 0xffu) * 1099511628211ull; /* separator: "a b" differs from "ab" */
    }
    return h;
}

/* Every rank compares its hash with rank 0's; a difference is exit 2 on every rank, naming
 * the first rank that differs. */
static tb_status check_same_run(int argc, char **argv)
{
    int n = tb_world_size();
    uint64_t *all = calloc((size_t)n, sizeof *all);
    if (!all)
        return TB_DEVFAIL;
    tb_world_allgather_u64(run_hash(argc, argv), all);
    int bad = -1;
    for (int r = 1; r < n && bad < 0; r++)
        if (all[r] != all[0])
            bad = r;
    free(all);
    if (bad < 0)
        return TB_OK;
    if (tb_world_rank() == 0 || tb_world_rank() == bad)
        fprintf(stderr,
                "trainbench: rank %d runs other arguments or another build than rank 0 (every "
                "rank of a job must run the same trainbench with the same arguments)\n",
                bad);
    return TB_USAGE;
}

/* The worst status of every rank, on every rank: a failure on one rank stops them all. */
static tb_status agree(tb_status st)
{
    int n = tb_world_size();
    uint64_t *all = calloc((size_t)n, sizeof *all);
    if (!all)
        return st ? st : TB_DEVFAIL;
    tb_world_allgather_u64((uint64_t)st, all);
    tb_status worst = TB_OK;
    for (int r = 0; r < n; r++)
        if ((tb_status)all[r] > worst)
            worst = (tb_status)all[r];
    free(all);
    return worst;
}

/* The index on its host of the GPU this process sees as CUDA device `ordinal`:
 * CUDA_VISIBLE_DEVICES' entry when it lists indices, else the ordinal. */
static int host_gpu_index(int ordinal)
{
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    if (!v || !*v)
        return ordinal;
    const char *p = v;
    for (int k = 0; k < ordinal && p; k++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    if (!p || !isdigit((unsigned char)*p))
        return ordinal;
    return atoi(p);
}

/* One GPU per process: the only one it sees, else the one of its local rank. */
static tb_status pick_rank_gpu(tb_device *devs, int *ndev, tb_err *err)
{
    if (*ndev == 1)
        return TB_OK;
    int local = tb_world_local_rank();
    if (local >= *ndev)
        return tb_err_set(err, TB_NODEV,
                          "rank %d is local rank %d on %s, which has %d visible GPU%s: start at "
                          "most one process per GPU (e.g. srun --ntasks-per-node=%d)",
                          tb_world_rank(), local, tb_world_host(), *ndev, *ndev == 1 ? "" : "s",
                          *ndev);
    devs[0] = devs[local];
    *ndev = 1;
    return TB_OK;
}

/* This rank's entry of the context's "ranks": rank, host, local rank, driver and library
 * versions, and its GPU (as the context's "gpus" describes one) or "host". */
static char *rank_entry(const cJSON *ctx)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "rank", tb_world_rank());
    cJSON_AddStringToObject(e, "host", tb_world_host());
    cJSON_AddNumberToObject(e, "local_rank", tb_world_local_rank());
    static const char *const copied[] = {"driver", "cuda_driver", "nccl", NULL};
    for (int i = 0; copied[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, copied[i]);
        cJSON_AddItemToObject(e, copied[i], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    }
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(ctx, "gpus");
    const cJSON *g = cJSON_GetArrayItem(gpus, 0);
    if (g)
        cJSON_AddItemToObject(e, "gpu", cJSON_Duplicate(g, 1));
    else
        cJSON_AddStringToObject(e, "gpu", "host");
    char *s = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    return s;
}

/* Gathers every rank's entry into rank 0's context as "ranks" (with "nodes" and "mpi");
 * ranks whose NCCL versions differ are an error (TB_USAGE, on rank 0). */
static tb_status gather_ranks(cJSON *ctx, tb_err *err)
{
    char *mine = rank_entry(ctx);
    char **all = tb_world_gather_strings(mine ? mine : "{}");
    free(mine);
    if (tb_world_rank() != 0)
        return TB_OK;
    if (!all)
        return tb_err_set(err, TB_DEVFAIL, "out of host memory gathering the ranks");
    cJSON *ranks = cJSON_CreateArray();
    const char *nccl0 = NULL;
    tb_status st = TB_OK;
    for (int r = 0; r < tb_world_size(); r++) {
        cJSON *e = cJSON_Parse(all[r]);
        free(all[r]);
        const char *nccl = tb_json_str(e, "nccl");
        if (r == 0)
            nccl0 = nccl;
        else if (!st && nccl && nccl0 && strcmp(nccl, nccl0))
            st = tb_err_set(err, TB_USAGE,
                            "rank %d (%s) has NCCL %s, rank 0 has NCCL %s: every rank of a job "
                            "must run the same NCCL",
                            r, tb_json_str(e, "host") ? tb_json_str(e, "host") : "?", nccl,
                            nccl0);
        cJSON_AddItemToArray(ranks, e ? e : cJSON_CreateNull());
        if (r == 0 && e)
            nccl0 = tb_json_str(e, "nccl");
    }
    free(all);
    cJSON_AddItemToObject(ctx, "ranks", ranks);
    cJSON_AddNumberToObject(ctx, "nodes", tb_world_nodes());
    cJSON_AddStringToObject(ctx, "mpi", tb_world_library());
    return st;
}

static tb_status send_row(void *ctx, const char *line, size_t n, tb_err *err)
{
    (void)ctx;
    return tb_world_send_line(line, n, err);
}

/* Rank 0's receiver: writes the other ranks' rows as they come; a rank that reports a
 * failure (done with a non-zero status) ends the job with that status, the file written. */
typedef struct {
    tb_writer *w;
    pthread_t thread;
    int started;
} rows_in;

static void *receive_rows(void *p)
{
    rows_in *in = p;
    int pending = tb_world_size() - 1;
    while (pending > 0) {
        char *line = NULL;
        int from = -1, status = 0;
        int got = tb_world_recv(1.0, &line, &from, &status);
        if (got == 1) {
            tb_err err;
            if (tb_writer_add_line(in->w, line, &err))
                fprintf(stderr, "trainbench: rank %d: %s\n", from, err.msg);
            free(line);
        } else if (got == 2) {
            pending--;
            if (status) {
                tb_writer_quiesce(in->w); /* every line written stays whole */
                int ok, wrong, skipped, failed;
                tb_writer_counts(in->w, &ok, &wrong, &skipped, &failed);
                fprintf(stderr,
                        "trainbench: rank %d stopped the job (exit %d): %d ok, %d wrong, %d "
                        "skipped, %d failed; results: %s\n",
                        from, status, ok, wrong, skipped, failed, tb_writer_path(in->w));
                tb_world_abort(status);
            }
        }
    }
    return NULL;
}

/* Under MPI, the end of a rank's run: every row is at rank 0, or the job ends. A device
 * failure or a hang (TB_DEVFAIL) ends the whole job with exit 4 once rank 0 has closed its
 * file: the other ranks may be waiting in a collective that will never complete. */
static void finish_ranks(tb_status st, rows_in *in)
{
    if (!tb_world_multi())
        return;
    int fatal = st == TB_DEVFAIL;
    if (tb_world_rank() != 0) {
        tb_world_send_done(fatal ? TB_DEVFAIL : 0);
        if (fatal) {
            sleep(30); /* rank 0 aborts the job; should it not, this rank does */
            tb_world_abort(TB_DEVFAIL);
        }
        return;
    }
    if (fatal) {
        sleep(1); /* the rows of peers that fail alike (their watchdogs fire too) */
        tb_writer_quiesce(in->w);
        int ok, wrong, skipped, failed;
        tb_writer_counts(in->w, &ok, &wrong, &skipped, &failed);
        fprintf(stderr,
                "trainbench: rank 0 stops the job: %d ok, %d wrong, %d skipped, %d failed; "
                "results: %s\n",
                ok, wrong, skipped, failed, tb_writer_path(in->w));
        tb_world_abort(TB_DEVFAIL);
    }
    if (in->started)
        pthread_join(in->thread, NULL);
    in->started = 0;
}

/* Rank 0, after a job of several ranks: the rows more than 5 % slower than their case's
 * median across the ranks, read back from the file. */
static void print_outliers(const char *path)
{
    tb_rfile f;
    tb_err err;
    if (tb_results_load(path, &f, stderr, &err)) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        return;
    }
    printf("\n%d ranks on %d node%s:\n", tb_world_size(), tb_world_nodes(),
           tb_world_nodes() == 1 ? "" : "s");
    tb_report_outliers(&f, TB_OUTLIER_PCT, stdout);
    tb_results_free(&f);
}

/* The writer an interrupted run reports on: the one piece of state a signal handler needs. */
static tb_writer *volatile interrupted_writer;

static void on_signal(int sig)
{
    tb_writer *w = interrupted_writer;
    if (w)
        tb_writer_signal_summary(w, STDERR_FILENO, sig == SIGINT ? "SIGINT" : "SIGTERM");
    _exit(128 + sig);
}

/* SIGINT and SIGTERM: say what was written and where, then exit 128 + signal. */
static void catch_signals(tb_writer *w)
{
    interrupted_writer = w;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void release_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    interrupted_writer = NULL;
}

static int cmd_run(int argc, char **argv, int full_argc, char **full_argv)
{
    run_args a;
    tb_err err;
    tb_status st;
    if (tb_world_multi() && (st = check_same_run(full_argc, full_argv)))
        return st;
    st = parse_run_args(argc, argv, &a, &err);
    if (st == TB_SKIP) {
        fputs(usage_run, stdout);
        return TB_OK;
    }
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        return st;
    }
    if ((st = tb_fault_parse(getenv(TB_FAULT_ENV), &a.ro.fault, &err))) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        return st;
    }
    if (!a.explicit_benches) {
        for (int i = 0; tb_benches[i] && a.nbench < MAX_BENCHES; i++)
            if (tb_benches[i]->in_default_suite)
                a.benches[a.nbench++] = tb_benches[i];
    }
    if ((st = check_names(&a, &err)) || (st = check_host_options(&a, &err))) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        return st;
    }
    plan p = {NULL, 0, 0};
    for (int b = 0; b < a.nbench && !st; b++) {
        int matched = 0;
        st = plan_bench(&a, a.benches[b], &p, &matched, &err);
        if (!st && !matched && a.explicit_benches && !a.impls && !a.dtypes)
            st = tb_err_set(&err, TB_USAGE, "run: %s has no %s implementation",
                            a.benches[b]->name, a.host ? "host (--host)" : "GPU");
    }
    for (int k = 0; k < a.naxes && !st; k++)
        if (!a.axes[k].used)
            st = tb_err_set(&err, TB_USAGE,
                            "run: --%s is not an axis or option of the selected benchmarks "
                            "(see 'trainbench list')",
                            a.axes[k].name);
    if (!st && p.n == 0)
        st = tb_err_set(&err, TB_USAGE,
                        "run: nothing to run: no implementation matches the selected benchmarks, "
                        "--impl and --dtype");
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        free(p.cases);
        return st;
    }

    if (a.host && a.gpus) {
        fprintf(stderr, "trainbench: --gpus: not used with --host (the host is one device)\n");
        free(p.cases);
        return TB_USAGE;
    }
    if (tb_world_multi() && a.gpus) {
        fprintf(stderr, "trainbench: --gpus: not used under MPI (one process per GPU: a rank "
                        "uses the one GPU it sees, else the GPU of its local rank)\n");
        free(p.cases);
        return TB_USAGE;
    }

    /* devices */
    tb_device *devs = NULL;
    int ndev = 0;
    if (a.host) {
        devs = malloc(sizeof *devs);
        if (!devs) {
            free(p.cases);
            return TB_DEVFAIL;
        }
        tb_device_host(devs);
        ndev = 1;
    } else {
        st = tb_device_discover(&devs, &ndev, &err);
        if (tb_world_multi() && agree(st)) {
            if (st)
                fprintf(stderr, "trainbench: rank %d on %s: %s\n", tb_world_rank(),
                        tb_world_host(), err.msg);
            free(devs);
            free(p.cases);
            return TB_NODEV;
        }
        if (st) {
            fprintf(stderr,
                    "trainbench: %s\n"
                    "trainbench: to run the same pipeline on the CPU: trainbench run --host\n",
                    err.msg);
            free(p.cases);
            return TB_NODEV;
        }
        err.msg[0] = 0;
        if (tb_world_multi())
            st = agree(pick_rank_gpu(devs, &ndev, &err));
        else
            st = select_gpus(a.gpus, devs, &ndev, &err);
        if (st) {
            if (err.msg[0])
                fprintf(stderr, "trainbench: %s\n", err.msg);
            free(devs);
            free(p.cases);
            return st;
        }
        /* a collective benchmark asked for by name must be able to form its group here;
         * one of the default suite that cannot is left out with a note */
        size_t kept = 0;
        const tb_bench *noted = NULL;
        for (size_t i = 0; i < p.n; i++) {
            tb_collective coll;
            const tb_case *c = &p.cases[i];
            if (c->bench->collective && c->bench->collective(c, ndev, &coll, &err) == TB_SKIP) {
                if (a.explicit_benches) {
                    fprintf(stderr, "trainbench: %s: %s\n", c->bench->name, err.msg);
                    free(devs);
                    free(p.cases);
                    return TB_USAGE;
                }
                if (noted != c->bench)
                    fprintf(stderr, "trainbench: %s is not run: %s\n", c->bench->name, err.msg);
                noted = c->bench;
                continue;
            }
            p.cases[kept++] = *c;
        }
        p.n = kept;
    }

    char why[512] = "";
    tb_nvml *nvml = NULL;
    if (!a.host) {
        nvml = tb_nvml_open(why, sizeof why);
        if (!nvml)
            fprintf(stderr,
                    "trainbench: NVML not available (%s): clock, power, energy, temperature and "
                    "throttle reasons are recorded as null\n",
                    why);
    } else {
        snprintf(why, sizeof why, "not used with --host");
    }

    /* under MPI rank 0 alone writes: the other ranks send it their rows */
    int root = tb_world_rank() == 0;
    char path[1024] = "";
    int made_dir = 0;
    tb_writer *w_out = NULL;
    st = TB_OK;
    if (a.output)
        snprintf(path, sizeof path, "%s", a.output);
    else if (root)
        st = default_output(path, sizeof path, &made_dir, &err);
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
    } else {
        cJSON *opts = options_json(&a);
        cJSON *ctx = tb_context_build(full_argc, full_argv, devs, ndev, nvml, why, opts);
        cJSON_Delete(opts);
        if (tb_world_multi())
            st = gather_ranks(ctx, &err);
        if (st)
            fprintf(stderr, "trainbench: %s\n", err.msg);
        else if (!root)
            st = tb_writer_open_sink(&w_out, send_row, NULL, &err);
        else if (a.output)
            st = tb_writer_open(&w_out, path, a.csv, stdout, ctx, &err);
        else
            st = tb_writer_open_new(&w_out, path, sizeof path, a.csv, stdout, ctx, &err);
        cJSON_Delete(ctx);
        if (st && root)
            fprintf(stderr, "trainbench: %s\n", err.msg);
    }
    if (tb_world_multi()) {
        int code = (int)st;
        tb_world_bcast(&code, sizeof code, 0); /* rank 0's file decides for every rank */
        st = (tb_status)code;
    }
    tb_writer *w = w_out;
    if (st) {
        if (st == TB_USAGE && made_dir)
            rmdir("results"); /* made by this run, and left empty */
        tb_writer_close(w);
        tb_nvml_close(nvml);
        free(devs);
        free(p.cases);
        return st;
    }
    tb_writer_set_origin(w, tb_world_rank(), tb_world_host(),
                         tb_world_multi() && !devs[0].is_host ? host_gpu_index(devs[0].ordinal)
                                                              : -1);
    rows_in in = {w, 0, 0};
    if (root && tb_world_multi()) {
        if (pthread_create(&in.thread, NULL, receive_rows, &in) != 0) {
            fprintf(stderr, "trainbench: cannot start the thread that receives the rows\n");
            tb_world_abort(TB_DEVFAIL);
        }
        in.started = 1;
    }
    catch_signals(w);
    tb_writer_fit_cases(w, p.cases, p.n);
    a.ro.cold = a.cold;
    a.ro.serial = a.serial;
    a.ro.progress = !a.quiet && isatty(STDERR_FILENO) && root;
    st = tb_runner_run(p.cases, p.n, devs, ndev, &a.ro, nvml, w, &err);
    if (st && tb_world_multi())
        fprintf(stderr, "trainbench: rank %d on %s: %s\n", tb_world_rank(), tb_world_host(),
                err.msg);
    else if (st)
        fprintf(stderr, "trainbench: %s\n", err.msg);
    finish_ranks(st, &in);
    tb_err ferr;
    tb_status fst = tb_writer_finish(w, &ferr);
    if (fst) {
        fprintf(stderr, "trainbench: %s\n", ferr.msg);
        if (st != TB_DEVFAIL)
            st = fst;
    }
    if (root) {
        int ok, wrong, skipped, failed;
        tb_writer_counts(w, &ok, &wrong, &skipped, &failed);
        tb_writer_ladder(w, stdout);
        tb_writer_summary(w, stdout);
        tb_writer_bench_summaries(w, stdout);
        if (tb_world_multi())
            print_outliers(tb_writer_path(w));
        /* the last line: what reached the file, and where it is */
        printf("\n%d ok, %d wrong, %d skipped, %d failed; results: %s\n", ok, wrong, skipped,
               failed, tb_writer_path(w));
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (!(st && strstr(err.msg, "standard output"))) /* not said already */
            fprintf(stderr, "trainbench: cannot write to standard output: %s\n",
                    strerror(errno));
        st = TB_DEVFAIL;
    }
    release_signals();
    tb_writer_close(w);
    tb_nvml_close(nvml);
    free(devs);
    free(p.cases);
    return st;
}

/* ---------------------------------------------------------------- compare, report */

/* Splits argv into files and the options --format, --threshold, --plot; 0 or TB_USAGE. */
typedef struct {
    const char *files[256];
    int nfiles;
    tb_format fmt;
    int fmt_set;
    double threshold;
    int threshold_set;
    const char *plot;
    int help;
    int split;       /* compare: files before "--" are BASE; -1 when there is no "--" */
    int quartiles;   /* compare --method quartiles */
} files_args;

static tb_status parse_files_args(const char *cmd, int argc, char **argv, int allow_threshold,
                                  int allow_plot, files_args *a, tb_err *err)
{
    memset(a, 0, sizeof *a);
    a->threshold = 0.02;
    a->split = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (is_help(arg)) {
            a->help = 1;
            return TB_OK;
        }
        if (allow_threshold && !strcmp(arg, "--")) {
            if (a->split >= 0)
                return tb_err_set(err, TB_USAGE, "%s: '--' is given twice", cmd);
            a->split = a->nfiles;
            continue;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (a->nfiles >= 256)
                return tb_err_set(err, TB_USAGE, "%s: at most 256 files", cmd);
            a->files[a->nfiles++] = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        int known = !strcmp(name, "--format") || (allow_threshold && !strcmp(name, "--threshold")) ||
                    (allow_threshold && !strcmp(name, "--method")) ||
                    (allow_plot && !strcmp(name, "--plot"));
        if (!known)
            return tb_err_set(err, TB_USAGE, "%s: unknown option '%s' (see 'trainbench %s --help')",
                              cmd, name, cmd);
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc)
                return tb_err_set(err, TB_USAGE, "%s: option '%s' needs a value", cmd, name);
            value = argv[++i];
        }
        if (!strcmp(name, "--format")) {
            if (tb_format_parse(value, &a->fmt) ||
                (allow_plot && (a->fmt == TB_FMT_JSON || a->fmt == TB_FMT_TEXT)))
                return tb_err_set(err, TB_USAGE, "--format: '%s' is not one of %s", value,
                                  allow_plot ? "md, csv" : "text, md, csv, json");
            a->fmt_set = 1;
        } else if (!strcmp(name, "--threshold")) {
            char *end;
            double t = strtod(value, &end);
            if (!*value || *end || !(t >= 0) || t > 1000)
                return tb_err_set(err, TB_USAGE,
                                  "--threshold: '%s' is not a percentage (use e.g. 2 or 0.5)",
                                  value);
            a->threshold = t / 100.0;
            a->threshold_set = 1;
        } else if (!strcmp(name, "--method")) {
            if (strcmp(value, "rounds") && strcmp(value, "quartiles"))
                return tb_err_set(err, TB_USAGE,
                                  "--method: '%s' is not one of rounds, quartiles", value);
            a->quartiles = !strcmp(value, "quartiles");
        } else {
            a->plot = value;
        }
    }
    return TB_OK;
}

static tb_status load_all(const files_args *a, tb_rfile *files, tb_err *err)
{
    for (int i = 0; i < a->nfiles; i++) {
        tb_status st = tb_results_load(a->files[i], &files[i], stderr, err);
        if (st) {
            for (int j = 0; j < i; j++)
                tb_results_free(&files[j]);
            return st;
        }
    }
    return TB_OK;
}

static int cmd_compare(int argc, char **argv)
{
    files_args a;
    tb_err err;
    tb_status st = parse_files_args("compare", argc, argv, 1, 0, &a, &err);
    if (!st && a.help) {
        fputs(usage_compare, stdout);
        return TB_OK;
    }
    /* BASE NEW, or BASE... -- NEW... */
    int split = a.split >= 0 ? a.split : 1;
    if (!st && a.split < 0 && a.nfiles != 2)
        st = tb_err_set(&err, TB_USAGE,
                        "compare: takes two result files, BASE and NEW, or BASE... -- NEW... "
                        "(got %d files)",
                        a.nfiles);
    if (!st && a.split >= 0 && (split == 0 || split == a.nfiles))
        st = tb_err_set(&err, TB_USAGE,
                        "compare: BASE... -- NEW... needs a file on each side of '--' (got %d "
                        "before, %d after)",
                        split, a.nfiles - split);
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        return st;
    }
    tb_cmp *cmp = tb_cmp_new();
    if (!cmp) {
        fprintf(stderr, "trainbench: out of host memory\n");
        return TB_USAGE;
    }
    /* one file at a time: its rows are taken in as compact records, then it is freed; how
     * rows match (by host and GPU, or GPU alone) is settled once every file is in */
    int all_host = 1;
    for (int i = 0; i < a.nfiles && !st; i++) {
        tb_rfile f;
        if (!(st = tb_results_load(a.files[i], &f, stderr, &err))) {
            const cJSON *opts = cJSON_GetObjectItemCaseSensitive(f.context, "options");
            all_host = all_host && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "host"));
            st = tb_cmp_add(cmp, i >= split, &f, &err);
            tb_results_free(&f);
        }
    }
    int failed = 0;
    tb_gate_opts o = TB_GATE_OPTS_DEFAULT;
    /* host runs drift between runs by more than a GPU's do (other jobs' memory traffic,
     * scheduling): their default threshold is the one the host's calibration supports */
    o.threshold = a.threshold_set || !all_host ? a.threshold : TB_HOST_THRESHOLD;
    if (a.quartiles)
        o.method = TB_METHOD_QUARTILES;
    if (!st)
        st = tb_cmp_write(cmp, &o, a.fmt, stdout, &failed, &err);
    tb_cmp_free(cmp);
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        return st;
    }
    return failed ? TB_WRONG : TB_OK;
}

static int cmd_report(int argc, char **argv)
{
    files_args a;
    tb_err err;
    tb_status st = parse_files_args("report", argc, argv, 0, 1, &a, &err);
    if (!st && a.help) {
        fputs(usage_report, stdout);
        return TB_OK;
    }
    if (!st && a.nfiles == 0)
        st = tb_err_set(&err, TB_USAGE, "report: takes at least one result file");
    if (st) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        return st;
    }
    tb_rfile *files = calloc((size_t)a.nfiles, sizeof *files);
    if (!files)
        return TB_USAGE;
    if ((st = load_all(&a, files, &err))) {
        fprintf(stderr, "trainbench: %s\n", err.msg);
        free(files);
        return st;
    }
    if (a.plot)
        st = tb_report_plots(files, (size_t)a.nfiles, a.plot, stdout, &err);
    else
        st = tb_report_write(files, (size_t)a.nfiles, tb_headline_cols, tb_headline_ncols,
                             a.fmt_set ? a.fmt : TB_FMT_MD, stdout, &err);
    for (int i = 0; i < a.nfiles; i++)
        tb_results_free(&files[i]);
    free(files);
    if (st)
        fprintf(stderr, "trainbench: %s\n", err.msg);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return TB_USAGE;
    }
    const char *cmd = argv[1];
    if (is_help(cmd) || !strcmp(cmd, "help")) {
        fputs(usage_main, stdout);
        return TB_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("trainbench %s (commit %s)\n", tb_build_version, tb_build_commit);
        return TB_OK;
    }
    if (!strcmp(cmd, "list"))
        return cmd_list(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) {
        /* under mpirun or srun: one rank of a job (world.h); else a world of one */
        tb_err err;
        if (tb_world_init(&err)) {
            fprintf(stderr, "trainbench: %s\n", err.msg);
            return TB_DEVFAIL;
        }
        int st = cmd_run(argc - 1, argv + 1, argc, argv);
        tb_world_finalize();
        return st;
    }
    if (!strcmp(cmd, "compare"))
        return cmd_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return tb_check_main(argc - 1, argv + 1, argc, argv);
    fprintf(stderr,
            "trainbench: unknown command '%s' (accepted: list, info, run, compare, report, "
            "check; see --help)\n",
            cmd);
    return TB_USAGE;
}
