/* fault.h - named, realistic bugs a host implementation commits on purpose, so the tests can
 * prove that verification reports each one `wrong` (and the regression gate sees a slowdown).
 *
 * The fault comes from the environment variable TRAINBENCH_TEST_FAULT, read once by main()
 * before anything is measured, and reaches implementations through tb_env.fault. Only host
 * implementations act on it; GPU implementations ignore it. */
#ifndef TB_FAULT_H
#define TB_FAULT_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_FAULT_ENV "TRAINBENCH_TEST_FAULT"

typedef enum {
    TB_FAULT_NONE = 0,
    TB_FAULT_ATTN_DROP_TILE,   /* attn-drop-tile: one query tile (the rows one CTA owns)
                                * skips one key/value tile */
    TB_FAULT_ATTN_STALE_V,     /* attn-stale-v: one key/value tile uses the previous tile's V */
    TB_FAULT_ATTN_SCALE,       /* attn-scale: the softmax scale is 2 % off */
    TB_FAULT_MM_DROP_KSLICE,   /* mm-drop-kslice: one k-slice of 16 is skipped */
    TB_FAULT_AR_SKIP_PEER,     /* ar-skip-peer: one rank's contribution is missing from one
                                * slice */
    TB_FAULT_LATE_CORRUPTION,  /* late-corruption[:N]: every execution after the Nth is wrong */
    TB_FAULT_SLOW,             /* slow:PCT: every execution does PCT % more work */
    TB_FAULT_SLOW_RANK,        /* slow-rank:R: the process of rank R (under MPI) does twice
                                * the work in every execution of every case */
    TB_FAULT_SLOW_DEVICE,      /* slow-device:N: device N (a host pseudo-device) does at least
                                * twice the work in every execution */
    TB_FAULT_KIND_COUNT
} tb_fault_kind;

#define TB_FAULT_LATE_DEFAULT 3 /* late-corruption without :N */

typedef struct {
    tb_fault_kind kind;
    long late_after; /* TB_FAULT_LATE_CORRUPTION: the executions that stay right */
    double slow_pct; /* TB_FAULT_SLOW: the extra work in percent (> 0) */
    int target;      /* TB_FAULT_SLOW_RANK: the rank; TB_FAULT_SLOW_DEVICE: the device (>= 0) */
} tb_fault;

/* Parses a TRAINBENCH_TEST_FAULT value; NULL or "" is no fault. Returns TB_OK, or TB_USAGE
 * naming the bad value and every accepted name (out is then no fault). */
tb_status tb_fault_parse(const char *text, tb_fault *out, tb_err *err);

/* The name of a kind as TRAINBENCH_TEST_FAULT spells it ("none" for TB_FAULT_NONE). */
const char *tb_fault_name(tb_fault_kind kind);

/* 1 when f (which may be NULL) is of this kind. */
int tb_fault_is(const tb_fault *f, tb_fault_kind kind);

#ifdef __cplusplus
}
#endif
#endif
