/* world.c - the world of one process (a build without MPI): rank 0 of 1, on one node. */
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char host[TB_WORLD_MAX_HOST];

tb_status tb_world_init(tb_err *err)
{
    (void)err;
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    return TB_OK;
}

int tb_world_built_with_mpi(void) { return 0; }
int tb_world_multi(void) { return 0; }
int tb_world_rank(void) { return 0; }
int tb_world_size(void) { return 1; }
int tb_world_local_rank(void) { return 0; }
int tb_world_local_size(void) { return 1; }
int tb_world_nodes(void) { return 1; }
const char *tb_world_host(void) { return host; }
const char *tb_world_library(void) { return "none"; }
int tb_world_one_node(void) { return 1; }
void tb_world_barrier(void) {}

tb_status tb_world_barrier_within(double timeout_s, tb_err *err)
{
    (void)timeout_s;
    (void)err;
    return TB_OK;
}

tb_status tb_world_max_within(double *v, double timeout_s, tb_err *err)
{
    (void)v;
    (void)timeout_s;
    (void)err;
    return TB_OK;
}

void tb_world_bcast(void *buf, size_t n, int root)
{
    (void)buf;
    (void)n;
    (void)root;
}

void tb_world_allgather_u64(uint64_t v, uint64_t *all)
{
    all[0] = v;
}

char **tb_world_gather_strings(const char *s)
{
    char **out = calloc(1, sizeof *out);
    if (out && !(out[0] = strdup(s))) {
        free(out);
        out = NULL;
    }
    return out;
}

void tb_world_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

void tb_world_finalize(void) {}

tb_status tb_world_send_line(const char *line, size_t n, tb_err *err)
{
    (void)line;
    (void)n;
    return tb_err_set(err, TB_DEVFAIL, "no rank 0 to send a row to");
}

void tb_world_send_done(int status)
{
    (void)status;
}

int tb_world_recv(double timeout_s, char **line, int *from, int *status)
{
    (void)timeout_s;
    (void)from;
    (void)status;
    *line = NULL;
    return 0;
}

tb_status tb_world_shm_alloc(size_t bytes, tb_world_shm **out, void **base, tb_err *err)
{
    (void)bytes;
    (void)base;
    *out = NULL;
    return tb_err_set(err, TB_SKIP, "needs mpirun: the MPI processes are its ranks");
}

void tb_world_shm_free(tb_world_shm *w)
{
    (void)w;
}

tb_status tb_world_allreduce_f32(const float *in, float *out, long long count, int op,
                                 double timeout_s, int *timed_out, tb_err *err)
{
    (void)in;
    (void)out;
    (void)count;
    (void)op;
    (void)timeout_s;
    if (timed_out)
        *timed_out = 0;
    return tb_err_set(err, TB_SKIP, "needs mpirun: the MPI processes are its ranks");
}
