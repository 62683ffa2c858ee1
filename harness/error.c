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
    if (s == TB_CASEFAIL)
        return TB_DEVFAIL;
    return s == TB_SKIP ? 0 : (int)s;
}

