/* error.h - status codes and error messages shared by every module.
 *
 * A function that can fail returns a tb_status and, on failure, fills a tb_err with the
 * cause and the value that caused it. Only main() turns a status into an exit code. */
#ifndef TB_ERROR_H
#define TB_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* The values of the first five are the process exit codes of DESIGN.md. */
typedef enum {
    TB_OK = 0,
    TB_WRONG = 1,     /* a result was wrong or failed */
    TB_USAGE = 2,     /* bad usage or bad input */
    TB_NODEV = 3,     /* no usable device */
    TB_DEVFAIL = 4,   /* a device or library failure */
    TB_SKIP = 5,      /* this case cannot run here (reason in the tb_err); never an error */
    TB_CASEFAIL = 6   /* this case failed (a library refused it): recorded as an error, the
                       * other cases still run, the run exits 4 */
} tb_status;

typedef struct {
    char msg[1024];
} tb_err;

/* Sets err->msg (printf-style) and returns status, so callers can `return tb_err_set(...)`.
 * err may be NULL. */
tb_status tb_err_set(tb_err *err, tb_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit code a status maps to (TB_SKIP maps to 0). */
int tb_status_exit_code(tb_status s);

#ifdef __cplusplus
}
#endif
#endif
