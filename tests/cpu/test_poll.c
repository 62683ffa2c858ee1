/* The poll loop that bounds every wait on NCCL's non-blocking calls, driven by fakes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#ifdef TB_HAVE_NCCL
#include <nccl.h>
#endif

#include "timer.h"

/* the reason a failed NCCL communicator reports: NCCL's own string where NCCL is built in */
static const char *system_error(void)
{
#ifdef TB_HAVE_NCCL
    return ncclGetErrorString(ncclSystemError);
#else
    return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
#endif
}

/* a clock that advances 0.1 s per reading */
static double fake_clock(void *ctx)
{
    double *now = ctx;
    *now += 0.1;
    return *now;
}

typedef struct {
    int polls;
    int finish_at; /* the poll that reports done or failed; 0: never */
    int fail;
} fake_work;

static tb_poll_state fake_poll(void *ctx, char *why, size_t whylen)
{
    fake_work *w = ctx;
    w->polls++;
    if (!w->finish_at || w->polls < w->finish_at)
        return TB_POLL_PENDING;
    if (w->fail) {
        snprintf(why, whylen, "rank 1: %s", system_error());
        return TB_POLL_FAILED;
    }
    return TB_POLL_DONE;
}

Test(poll, work_that_never_completes_times_out)
{
    fake_work w = {0, 0, 0};
    double now = 0;
    int timed_out = 0;
    tb_err err;
    tb_status st = tb_poll_wait(fake_poll, &w, "NCCL communicator init", 2.0, fake_clock, &now,
                                &timed_out, &err);
    cr_assert_eq(st, TB_DEVFAIL);
    cr_assert_eq(timed_out, 1);
    cr_assert_str_eq(err.msg, "timed out after 2 s waiting for NCCL communicator init");
    /* it kept asking until the deadline, and stopped soon after it */
    cr_assert_geq(w.polls, 19);
    cr_assert_leq(w.polls, 21);
}

Test(poll, failed_work_reports_the_library_reason)
{
    fake_work w = {0, 3, 1};
    double now = 0;
    int timed_out = 0;
    tb_err err;
    tb_status st = tb_poll_wait(fake_poll, &w, "ncclGroupEnd", 10.0, fake_clock, &now,
                                &timed_out, &err);
    cr_assert_eq(st, TB_DEVFAIL);
    cr_assert_eq(timed_out, 0, "a failure is not a timeout");
    cr_assert_eq(w.polls, 3);
    char want[512];
    snprintf(want, sizeof want, "ncclGroupEnd failed: rank 1: %s", system_error());
    cr_assert_str_eq(err.msg, want);
    cr_assert(strstr(err.msg, "system error"), "%s", err.msg);
}

Test(poll, completed_work_returns_ok)
{
    fake_work w = {0, 5, 0};
    double now = 0;
    int timed_out = 0;
    tb_err err;
    err.msg[0] = '\0';
    tb_status st = tb_poll_wait(fake_poll, &w, "NCCL communicator init", 10.0, fake_clock, &now,
                                &timed_out, &err);
    cr_assert_eq(st, TB_OK, "%s", err.msg);
    cr_assert_eq(w.polls, 5);
    cr_assert_eq(timed_out, 0);
    /* with the real clock too: done at once, long before the timeout */
    fake_work now_done = {0, 1, 0};
    cr_assert_eq(tb_poll_wait(fake_poll, &now_done, "x", 5.0, NULL, NULL, NULL, &err), TB_OK);
}
