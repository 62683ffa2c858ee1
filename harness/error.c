#include "error.h"

#include <stdarg.h>
#include <stdio.h>

tb_status tb_err_set(tb_err *err, tb_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

int tb_status_exit_code(tb_status s)
{
    return s == TB_SKIP ? 0 : (int)s;
}

const char *tb_status_name(tb_status s)
{
    switch (s) {
    case TB_OK: return "ok";
    case TB_WRONG: return "wrong";
    case TB_USAGE: return "usage";
    case TB_NODEV: return "no device";
    case TB_DEVFAIL: return "device failure";
    case TB_SKIP: return "skipped";
    }
    return "unknown";
}
