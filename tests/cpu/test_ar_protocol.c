/* The hand-written all-reduce kernels' flag protocol on the CPU: a host model of oneshot,
 * twoshot and ring (kernels/allreduce/oneshot.cu, twoshot.cu, ring.cu and ar_device.cuh)
 * built from the kernels' own schedule and epoch helpers (kernels/allreduce/ar_schedule.h),
 * run over many seeded random interleavings of every rank's blocks across consecutive
 * executions (each launch or graph replay reads the epoch the last one left in memory; the
 * host refills the inputs and poisons the outputs between executions, as the post-timing
 * verification does).
 *
 * Each block is one actor whose loads, stores, flag releases, polls and fences are single
 * steps. Happens-before is tracked with vector clocks (a release store carries the writer's
 * clock; a wait polls the flag relaxed, which orders nothing, until it has reached its value,
 * and the acquire fence after the poll joins the clock of the release it saw; a rank's next
 * launch starts after all its blocks ended),
 * which checks: no deadlock; no read of data its writer has not yet published to the reader
 * (a data race read-after-write); no write to a buffer a peer may still be reading (a race
 * write-after-read); every execution's output is the exact sum of that execution's inputs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allreduce/ar_schedule.h"

#define M_RANKS 4
#define M_BLOCKS 3
#define M_COUNT 48
#define M_ACTORS (M_RANKS * M_BLOCKS + M_RANKS) /* blocks, then one host per rank */
#define M_SLOTS (2 * M_RANKS)

enum { ALG_ONESHOT, ALG_TWOSHOT, ALG_RING };
enum { BUF_IN, BUF_OUT, BUF_SCRATCH, N_BUFS };

/* The helpers the model runs; a test swaps one for a broken version of it. */
typedef struct {
    int alg, inplace;
    unsigned (*epoch_begin)(unsigned stored);
    unsigned (*round_epoch)(unsigned v, int q);
    unsigned (*epoch_end)(unsigned v, int rounds);
    int (*flag_reached)(unsigned flag, unsigned v);
    int (*barrier_peer)(int t, int rank, int n);
    int (*ring_send_slot)(int t);
    int (*ring_recv_slot)(int t);
    int flag_before_data; /* a broken send: the flag is raised before the data is stored */
    int ignore_abort;     /* a broken wait: it never looks at the abort flag */
    int wait_fence;       /* the acquire fence of a wait: WAIT_FENCE_AFTER (the kernels), or
                           * broken: none, or before the poll */
    int no_end_barrier;   /* a broken oneshot: no barrier after the reads (out of place) */
} ar_proto;

enum { WAIT_FENCE_AFTER, WAIT_FENCE_NONE, WAIT_FENCE_BEFORE };

static ar_proto proto_of(int alg)
{
    ar_proto p = {alg, 0, tb_ar_epoch_begin, tb_ar_round_epoch, tb_ar_epoch_end,
                  tb_ar_flag_reached, tb_ar_barrier_peer, tb_ar_ring_send_slot,
                  tb_ar_ring_recv_slot, 0, 0, WAIT_FENCE_AFTER, 0};
    return p;
}

static const char *alg_name(int alg)
{
    return alg == ALG_ONESHOT ? "oneshot" : (alg == ALG_TWOSHOT ? "twoshot" : "ring");
}

/* ---- one block's steps in one launch --------------------------------------------------- */

typedef struct {
    unsigned c[M_ACTORS];
} vclock;

static void vc_join(vclock *a, const vclock *b)
{
    for (int i = 0; i < M_ACTORS; i++)
        if (b->c[i] > a->c[i])
            a->c[i] = b->c[i];
}

enum { OP_LOAD, OP_ADD, OP_STORE, OP_RELEASE, OP_ACQUIRE, OP_FENCE, OP_EPOCH };

typedef struct {
    unsigned char kind, buf, owner;
    short idx;   /* element; flags: slot */
    short src;   /* flags: the writing rank's index in the flag array */
    unsigned val; /* flags: the epoch; OP_EPOCH: the counter stored */
} ar_op;

typedef struct {
    ar_op *ops;
    int n, cap, pc;
    int state; /* 0 waiting for its launch, 1 running, 2 ended this launch */
    unsigned reg;
    vclock seen; /* the clocks of the releases its relaxed polls saw, not yet fenced */
} block_prog;

static void emit(block_prog *b, int kind, int buf, int owner, int idx, int src, unsigned val)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->ops = realloc(b->ops, sizeof(ar_op) * (size_t)b->cap);
    }
    ar_op o = {(unsigned char)kind, (unsigned char)buf, (unsigned char)owner, (short)idx,
               (short)src, val};
    b->ops[b->n++] = o;
}

typedef struct {
    const ar_proto *p;
    int n, blocks, count, vec, piece_elems, max_mult;
} shape_ctx;

/* ar_wait: a relaxed poll until the flag reaches v (OP_ACQUIRE), then one acquire fence. */
static void emit_wait(const shape_ctx *c, block_prog *b, int owner, int slot, int src, unsigned v)
{
    if (c->p->wait_fence == WAIT_FENCE_BEFORE)
        emit(b, OP_FENCE, 0, 0, 0, 0, 0);
    emit(b, OP_ACQUIRE, 0, owner, slot, src, v);
    if (c->p->wait_fence == WAIT_FENCE_AFTER)
        emit(b, OP_FENCE, 0, 0, 0, 0, 0);
}

/* ar_barrier: one release to each peer, then one wait for each. */
static void emit_barrier(const shape_ctx *c, block_prog *b, int rank, int slot, unsigned v)
{
    for (int t = 0; t < M_RANKS; t++)
        if (c->p->barrier_peer(t, rank, c->n))
            emit(b, OP_RELEASE, 0, t, slot, rank, v);
    for (int t = 0; t < M_RANKS; t++)
        if (c->p->barrier_peer(t, rank, c->n))
            emit_wait(c, b, rank, slot, t, v);
}

/* ar_reduce_all: dst[i] = own input, then the other ranks' round the ring. */
static void emit_reduce(const shape_ctx *c, block_prog *b, int rank, long long lo, long long hi,
                        int dst_buf)
{
    for (long long i = lo; i < hi; i++) {
        emit(b, OP_LOAD, BUF_IN, rank, (int)i, 0, 0);
        for (int p = 1; p < c->n; p++)
            emit(b, OP_ADD, BUF_IN, (rank + p) % c->n, (int)i, 0, 0);
        emit(b, OP_STORE, dst_buf, rank, (int)i, 0, 0);
    }
}

/* ar_combine into one or two destinations. */
static void emit_combine(block_prog *b, int src_buf, int src_owner, int add_buf, int add_owner,
                         int dst_buf, int dst_owner, int dst2_owner, long long lo, long long hi)
{
    for (long long i = lo; i < hi; i++) {
        emit(b, OP_LOAD, src_buf, src_owner, (int)i, 0, 0);
        if (add_buf >= 0)
            emit(b, OP_ADD, add_buf, add_owner, (int)i, 0, 0);
        emit(b, OP_STORE, dst_buf, dst_owner, (int)i, 0, 0);
        if (dst2_owner >= 0)
            emit(b, OP_STORE, dst_buf, dst2_owner, (int)i, 0, 0);
    }
}

/* ar_send: the data, then the flag (or, broken, the flag first). */
static void emit_send(const shape_ctx *c, block_prog *b, int first_op, int to, int slot,
                      unsigned v)
{
    if (!c->p->flag_before_data) {
        emit(b, OP_RELEASE, 0, to, slot, 0, v);
        return;
    }
    emit(b, OP_RELEASE, 0, to, slot, 0, v); /* grows the array, then moves it to first_op */
    ar_op f = b->ops[b->n - 1];
    memmove(&b->ops[first_op + 1], &b->ops[first_op],
            sizeof(ar_op) * (size_t)(b->n - 1 - first_op));
    b->ops[first_op] = f;
}

/* The steps of block `blk` of rank `rank` in a launch whose counter reads `stored`. */
static void program(const shape_ctx *c, block_prog *b, int rank, int blk, unsigned stored)
{
    const ar_proto *p = c->p;
    const int n = c->n;
    const unsigned v = p->epoch_begin(stored);
    long long lo, hi;
    b->n = 0;
    b->pc = 0;
    memset(&b->seen, 0, sizeof b->seen);
    if (p->alg == ALG_ONESHOT) {
        tb_ar_oneshot_range(c->count, c->vec, c->blocks, blk, &lo, &hi);
        emit_barrier(c, b, rank, 0, v);
        emit_reduce(c, b, rank, lo, hi, p->inplace ? BUF_SCRATCH : BUF_OUT);
        if (!p->no_end_barrier || p->inplace)
            emit_barrier(c, b, rank, 1, v);
        if (p->inplace)
            emit_combine(b, BUF_SCRATCH, rank, -1, 0, BUF_OUT, rank, -1, lo, hi);
        emit(b, OP_EPOCH, 0, rank, 0, 0, p->epoch_end(v, 1));
    } else if (p->alg == ALG_TWOSHOT) {
        emit_barrier(c, b, rank, 0, v);
        tb_ar_twoshot_range(c->count, n, c->vec, c->blocks, rank, blk, &lo, &hi);
        emit_reduce(c, b, rank, lo, hi, BUF_OUT);
        emit_barrier(c, b, rank, 1, v);
        for (int q = 1; q < n; q++) {
            int s = (rank + q) % n;
            tb_ar_twoshot_range(c->count, n, c->vec, c->blocks, s, blk, &lo, &hi);
            emit_combine(b, BUF_OUT, s, -1, 0, BUF_OUT, rank, -1, lo, hi);
        }
        emit_barrier(c, b, rank, 2, v);
        emit(b, OP_EPOCH, 0, rank, 0, 0, p->epoch_end(v, 1));
    } else {
        const int next = (rank + 1) % n;
        const int pieces =
            tb_ar_ring_pieces_for(c->count, n, c->vec, c->piece_elems, c->blocks, c->max_mult);
        const int rounds = tb_ar_ring_rounds(pieces, c->blocks);
        emit_barrier(c, b, rank, 0, v);
        for (int q = 0; q < rounds && q * c->blocks + blk < pieces; q++) {
            const int pc = q * c->blocks + blk;
            const unsigned rv = p->round_epoch(v, q);
            for (int k = 0; k < n - 1; k++) {
                tb_ar_ring_piece(c->count, n, c->vec, pieces, tb_ar_ring_rs_chunk(rank, k, n), pc,
                                 &lo, &hi);
                if (k > 0)
                    emit_wait(c, b, rank, p->ring_recv_slot(k), 0, rv);
                const int first = b->n;
                emit_combine(b, BUF_IN, rank, k > 0 ? BUF_SCRATCH : -1, rank, BUF_SCRATCH, next,
                             -1, lo, hi);
                emit_send(c, b, first, next, p->ring_send_slot(k), rv);
            }
            tb_ar_ring_piece(c->count, n, c->vec, pieces, tb_ar_ring_owned(rank, n), pc, &lo, &hi);
            emit_wait(c, b, rank, p->ring_recv_slot(n - 1), 0, rv);
            int first = b->n;
            emit_combine(b, BUF_IN, rank, BUF_SCRATCH, rank, BUF_OUT, rank, next, lo, hi);
            emit_send(c, b, first, next, p->ring_send_slot(n - 1), rv);
            for (int j = 1; j < n - 1; j++) {
                tb_ar_ring_piece(c->count, n, c->vec, pieces, tb_ar_ring_ag_chunk(rank, j, n), pc,
                                 &lo, &hi);
                emit_wait(c, b, rank, p->ring_recv_slot(n - 1 + j), 0, rv);
                first = b->n;
                emit_combine(b, BUF_OUT, rank, -1, 0, BUF_OUT, next, -1, lo, hi);
                emit_send(c, b, first, next, p->ring_send_slot(n - 1 + j), rv);
            }
            emit_wait(c, b, rank, p->ring_recv_slot(2 * n - 2), 0, rv);
        }
        emit(b, OP_EPOCH, 0, rank, 0, 0, p->epoch_end(v, rounds));
    }
}

/* ---- memory with happens-before shadows ------------------------------------------------ */

typedef struct {
    unsigned val;
    int w_actor;             /* last writer, -1: initial */
    unsigned w_clock;        /* its clock at the write */
    unsigned r_clock[M_ACTORS]; /* each actor's clock at its last read since (0: none) */
} cell;

typedef struct {
    unsigned val;
    vclock vc;
} flag_cell;

typedef struct {
    shape_ctx c;
    ar_proto p;
    int execs;
    cell mem[N_BUFS][M_RANKS][M_COUNT];
    flag_cell flags[M_RANKS][M_SLOTS][M_RANKS][M_BLOCKS];
    unsigned epoch[M_RANKS][M_BLOCKS];
    vclock vc[M_ACTORS];
    block_prog prog[M_RANKS][M_BLOCKS];
    int launch[M_RANKS]; /* executions rank r has started */
    int abort_flag, dead_rank;
    uint64_t seed;
    char why[256];
} model;

static int fail(model *m, const char *fmt, int a, int b, int c, int d)
{
    if (m->why[0] == 0)
        snprintf(m->why, sizeof m->why, fmt, a, b, c, d);
    return 0;
}

static int actor_of(int rank, int blk)
{
    return rank * M_BLOCKS + blk;
}

static int host_of(int rank)
{
    return M_RANKS * M_BLOCKS + rank;
}

/* In-place: the output is the input buffer. */
static int buf_of(const model *m, int buf)
{
    return m->p.inplace && buf == BUF_OUT ? BUF_IN : buf;
}

static const char *const buf_names[] = {"input", "output", "scratch"};

/* Records the first race: `kind`, who did what to which element, and the other party. */
static void race(model *m, const char *kind, int actor, const char *did, int buf, int owner,
                 int idx, int other)
{
    char a[32], o[32];
    if (m->why[0])
        return;
    if (actor >= M_RANKS * M_BLOCKS)
        snprintf(a, sizeof a, "the host of rank %d", actor - M_RANKS * M_BLOCKS);
    else
        snprintf(a, sizeof a, "rank %d block %d", actor / M_BLOCKS, actor % M_BLOCKS);
    if (other >= M_RANKS * M_BLOCKS)
        snprintf(o, sizeof o, "the host of rank %d", other - M_RANKS * M_BLOCKS);
    else
        snprintf(o, sizeof o, "rank %d block %d", other / M_BLOCKS, other % M_BLOCKS);
    snprintf(m->why, sizeof m->why, "%s: %s %s element %d of rank %d's %s, unordered with %s",
             kind, a, did, idx, owner, buf_names[buf], o);
}

static unsigned mem_read(model *m, int actor, int buf, int owner, int idx)
{
    cell *x = &m->mem[buf_of(m, buf)][owner][idx];
    if (x->w_actor >= 0 && x->w_clock > m->vc[actor].c[x->w_actor])
        race(m, "read before published", actor, "reads", buf, owner, idx, x->w_actor);
    x->r_clock[actor] = m->vc[actor].c[actor];
    return x->val;
}

static void mem_write(model *m, int actor, int buf, int owner, int idx, unsigned val)
{
    cell *x = &m->mem[buf_of(m, buf)][owner][idx];
    if (x->w_actor >= 0 && x->w_actor != actor && x->w_clock > m->vc[actor].c[x->w_actor])
        race(m, "write-write race", actor, "writes", buf, owner, idx, x->w_actor);
    for (int a = 0; a < M_ACTORS; a++)
        if (a != actor && x->r_clock[a] && x->r_clock[a] > m->vc[actor].c[a])
            race(m, "reuse while read", actor, "overwrites", buf, owner, idx, a);
    x->val = val;
    x->w_actor = actor;
    x->w_clock = m->vc[actor].c[actor];
    memset(x->r_clock, 0, sizeof x->r_clock);
}

/* Execution e's input element i of rank r, and what every rank's output must then hold. */
static unsigned input_of(const model *m, int e, int r, int i)
{
    return (unsigned)tb_mix64(m->seed * 1000003u + (uint64_t)e * 4096 + (uint64_t)r * 64 +
                              (uint64_t)i);
}

static unsigned sum_of(const model *m, int e, int i)
{
    unsigned s = 0;
    for (int r = 0; r < m->c.n; r++)
        s += input_of(m, e, r, i);
    return s;
}

/* The host of rank r between executions: its stream has finished every block of the last
 * launch (their clocks join the host's); it checks that launch's output, refills the input,
 * poisons the output, and starts the next launch. */
static void host_step(model *m, int r)
{
    const int h = host_of(r);
    for (int b = 0; b < m->c.blocks; b++)
        vc_join(&m->vc[h], &m->vc[actor_of(r, b)]);
    const int e = m->launch[r];
    if (e > 0 && !m->abort_flag)
        for (int i = 0; i < m->c.count; i++) {
            const cell *x = &m->mem[buf_of(m, BUF_OUT)][r][i];
            if (x->val != sum_of(m, e - 1, i))
                fail(m, "wrong result: execution %d, rank %d, element %d (%d)", e - 1, r, i, 0);
        }
    m->vc[h].c[h]++;
    if (m->abort_flag) { /* the run is over: no further launch */
        for (int b = 0; b < m->c.blocks; b++)
            m->prog[r][b].state = 3;
        return;
    }
    if (e < m->execs)
        for (int i = 0; i < m->c.count; i++) {
            mem_write(m, h, BUF_OUT, r, i, 0xdeadbeefu);
            mem_write(m, h, BUF_IN, r, i, input_of(m, e, r, i));
        }
    m->vc[h].c[h]++;
    m->launch[r]++;
    for (int b = 0; b < m->c.blocks; b++) {
        block_prog *bp = &m->prog[r][b];
        if (e >= m->execs) {
            bp->state = 3; /* no more launches */
            continue;
        }
        const int a = actor_of(r, b);
        vc_join(&m->vc[a], &m->vc[h]);
        m->vc[a].c[a]++;
        program(&m->c, bp, r, b, m->epoch[r][b]);
        bp->state = 1;
    }
}

/* Whether block (r, b) can take its next step. */
static int block_ready(const model *m, int r, int b)
{
    const block_prog *bp = &m->prog[r][b];
    if (bp->state != 1 || r == m->dead_rank)
        return 0;
    const ar_op *o = &bp->ops[bp->pc];
    if (o->kind != OP_ACQUIRE)
        return 1;
    if (m->abort_flag && !m->p.ignore_abort)
        return 1;
    return m->p.flag_reached(m->flags[o->owner][o->idx][o->src][b].val, o->val);
}

static void block_step(model *m, int r, int b)
{
    block_prog *bp = &m->prog[r][b];
    const int a = actor_of(r, b);
    const ar_op *o = &bp->ops[bp->pc++];
    switch (o->kind) {
    case OP_LOAD:
        bp->reg = mem_read(m, a, o->buf, o->owner, o->idx);
        break;
    case OP_ADD:
        bp->reg += mem_read(m, a, o->buf, o->owner, o->idx);
        break;
    case OP_STORE:
        mem_write(m, a, o->buf, o->owner, o->idx, bp->reg);
        break;
    case OP_RELEASE: {
        cr_assert(o->idx < M_SLOTS && o->owner < M_RANKS);
        flag_cell *f = &m->flags[o->owner][o->idx][o->src][b];
        f->val = o->val;
        f->vc = m->vc[a];
        m->vc[a].c[a]++;
        break;
    }
    case OP_ACQUIRE: { /* the relaxed poll: what it saw is ordered only by a later fence */
        const flag_cell *f = &m->flags[o->owner][o->idx][o->src][b];
        if (!m->p.flag_reached(f->val, o->val)) { /* aborted: the kernel returns */
            bp->state = 2;
            return;
        }
        vc_join(&bp->seen, &f->vc);
        break;
    }
    case OP_FENCE:
        vc_join(&m->vc[a], &bp->seen);
        break;
    case OP_EPOCH:
        m->epoch[r][b] = o->val;
        break;
    }
    if (bp->pc == bp->n)
        bp->state = 2;
}

typedef struct {
    int ok;
    long steps;
    char why[320];
} run_result;

/* One interleaving of `execs` consecutive executions; abort_after > 0: rank dead_rank never
 * runs and the host raises the abort flag after that many steps. */
static run_result run_model(const ar_proto *p, int n, int blocks, int count, int piece_elems,
                            int max_mult, int execs, uint64_t seed, int dead_rank,
                            long abort_after)
{
    static model mm;
    model *m = &mm;
    for (int r = 0; r < M_RANKS; r++)
        for (int b = 0; b < M_BLOCKS; b++)
            free(m->prog[r][b].ops);
    memset(m, 0, sizeof *m);
    m->p = *p;
    m->c.p = &m->p;
    m->c.n = n;
    m->c.blocks = blocks;
    m->c.count = count;
    m->c.vec = 4;
    m->c.piece_elems = piece_elems;
    m->c.max_mult = max_mult;
    m->execs = execs;
    m->seed = seed;
    m->dead_rank = dead_rank;
    cr_assert(n <= M_RANKS && blocks <= M_BLOCKS && count <= M_COUNT && 2 * n - 1 <= M_SLOTS);
    for (int k = 0; k < N_BUFS; k++)
        for (int r = 0; r < M_RANKS; r++)
            for (int i = 0; i < M_COUNT; i++)
                m->mem[k][r][i].w_actor = -1;
    /* the counters start where an earlier run left them: flags are never reset */
    for (int r = 0; r < M_RANKS; r++)
        for (int b = 0; b < M_BLOCKS; b++)
            m->epoch[r][b] = (unsigned)(seed % 3) * 0x7fffffffu;
    for (int r = 0; r < M_RANKS; r++)
        for (int s = 0; s < M_SLOTS; s++)
            for (int t = 0; t < M_RANKS; t++)
                for (int b = 0; b < M_BLOCKS; b++)
                    m->flags[r][s][t][b].val = m->epoch[0][0];
    uint64_t rng = tb_mix64(seed) | 1;
    run_result res = {1, 0, ""};
    for (;;) {
        int acts[M_RANKS * M_BLOCKS + M_RANKS][2], na = 0;
        for (int r = 0; r < n; r++) {
            int ended = 1;
            for (int b = 0; b < blocks; b++) {
                if (m->prog[r][b].state == 1 && r != dead_rank)
                    ended = 0;
                if (block_ready(m, r, b))
                    acts[na][0] = r, acts[na][1] = b, na++;
            }
            if (ended && m->launch[r] <= execs && m->prog[r][0].state != 3 && r != dead_rank)
                acts[na][0] = r, acts[na][1] = -1, na++;
        }
        /* the host's watchdog: after abort_after steps, or once nothing can move */
        if (abort_after > 0 && !m->abort_flag && (res.steps >= abort_after || na == 0)) {
            m->abort_flag = 1;
            continue;
        }
        if (na == 0)
            break;
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        const int *a = acts[rng % (uint64_t)na];
        if (a[1] < 0)
            host_step(m, a[0]);
        else
            block_step(m, a[0], a[1]);
        res.steps++;
        if (m->why[0])
            break;
    }
    if (!m->why[0])
        for (int r = 0; r < n; r++)
            if (r != dead_rank)
                for (int b = 0; b < blocks; b++)
                    if (m->prog[r][b].state == 1) {
                        const ar_op *o = &m->prog[r][b].ops[m->prog[r][b].pc];
                        fail(m, "deadlock: rank %d block %d waits for flag slot %d to reach %d",
                             r, b, o->idx, (int)o->val);
                    }
    if (m->why[0]) {
        res.ok = 0;
        snprintf(res.why, sizeof res.why, "%.255s", m->why);
    }
    return res;
}

/* ---- sweeps ------------------------------------------------------------------------------ */

typedef struct {
    int n, blocks, count, piece_elems, max_mult;
} ar_shape;

/* ragged sizes (not multiples of the vector or of the parts), one and several blocks; ring
 * pieces small enough for several rounds per block (kept at their base size), and grown as
 * the kernel grows them (fewer, larger pieces; empty ones where blocks outnumber vectors) */
static const ar_shape shapes[] = {{2, 1, 13, 4, 1}, {2, 2, 32, 4, 1}, {3, 2, 37, 4, 1},
                                  {4, 3, 45, 4, 1}, {4, 1, 8, 4, 1},  {3, 3, 48, 8, 1},
                                  {2, 2, 48, 4, 2}, {4, 1, 45, 4, TB_AR_RING_MAX_MULT}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])
#define SEEDS 300
#define EXECS 4

static const char *const kinds[] = {"read before published", "reuse while read",
                                    "write-write race", "deadlock", "wrong result"};
#define N_KINDS 5

/* Runs every shape over SEEDS interleavings of EXECS executions; counts failures by kind. */
static int sweep(const ar_proto *p, int counts[N_KINDS], char *first, size_t first_size,
                 long *steps)
{
    int runs = 0;
    for (size_t s = 0; s < N_SHAPES; s++)
        for (int seed = 0; seed < SEEDS; seed++, runs++) {
            run_result r = run_model(p, shapes[s].n, shapes[s].blocks, shapes[s].count,
                                     shapes[s].piece_elems, shapes[s].max_mult, EXECS,
                                     (uint64_t)seed * 31 + s, -1, 0);
            *steps += r.steps;
            if (r.ok)
                continue;
            for (int k = 0; k < N_KINDS; k++)
                if (strncmp(r.why, kinds[k], strlen(kinds[k])) == 0)
                    counts[k]++;
            if (first[0] == 0)
                snprintf(first, first_size, "%s, %d ranks, %d blocks, %d elements, seed %d: %s",
                         alg_name(p->alg), shapes[s].n, shapes[s].blocks, shapes[s].count, seed,
                         r.why);
        }
    return runs;
}

Test(ar_protocol, kernels_pass_every_interleaving, .timeout = 600)
{
    for (int alg = ALG_ONESHOT; alg <= ALG_RING; alg++)
        for (int inplace = 0; inplace <= (alg == ALG_ONESHOT); inplace++) {
            ar_proto p = proto_of(alg);
            p.inplace = inplace;
            int counts[N_KINDS] = {0};
            char first[512] = "";
            long steps = 0;
            clock_t t0 = clock();
            int runs = sweep(&p, counts, first, sizeof first, &steps);
            fprintf(stderr,
                    "all-reduce protocol model, %s%s: %d interleavings of %d executions, %ld "
                    "steps, %.2f s\n",
                    alg_name(alg), inplace ? " in place" : "", runs, EXECS, steps,
                    (double)(clock() - t0) / CLOCKS_PER_SEC);
            cr_assert(first[0] == 0, "%s", first);
        }
}

static void expect_caught(const ar_proto *p, const char *what, const char *kind)
{
    int counts[N_KINDS] = {0};
    char first[512] = "";
    long steps = 0;
    clock_t t0 = clock();
    int runs = sweep(p, counts, first, sizeof first, &steps);
    int failed = 0;
    for (int k = 0; k < N_KINDS; k++)
        failed += counts[k];
    fprintf(stderr,
            "all-reduce protocol model, %s, %s: %d interleavings in %.2f s: %d failed (%d read "
            "before published, %d reuse while read, %d write-write, %d deadlock, %d wrong "
            "result)\n  first: %s\n",
            alg_name(p->alg), what, runs, (double)(clock() - t0) / CLOCKS_PER_SEC, failed,
            counts[0], counts[1], counts[2], counts[3], counts[4], first);
    cr_assert_gt(failed, 0, "%s, %s: the model passed it in %d interleavings", alg_name(p->alg),
                 what, runs);
    for (int k = 0; k < N_KINDS; k++)
        if (strcmp(kinds[k], kind) == 0)
            cr_assert_gt(counts[k], 0, "%s, %s: no %s in %d interleavings", alg_name(p->alg),
                         what, kind, runs);
}

/* The counter is stored back unchanged: the next launch waits for values already there. */
static unsigned epoch_not_advanced(unsigned v, int rounds)
{
    return tb_ar_epoch_end(v, rounds) - (unsigned)rounds;
}

Test(ar_protocol, epoch_not_advanced_is_caught, .timeout = 600)
{
    for (int alg = ALG_ONESHOT; alg <= ALG_RING; alg++) {
        ar_proto p = proto_of(alg);
        p.epoch_end = epoch_not_advanced;
        expect_caught(&p, "epoch not advanced", "read before published");
    }
}

Test(ar_protocol, flag_before_data_is_caught, .timeout = 600)
{
    ar_proto p = proto_of(ALG_RING);
    p.flag_before_data = 1;
    expect_caught(&p, "flag raised before the data", "read before published");
}

/* A wait for the previous execution's epoch passes on flags already there. */
static int reached_previous_epoch(unsigned flag, unsigned v)
{
    return tb_ar_flag_reached(flag, v - 1u);
}

Test(ar_protocol, wait_on_previous_epoch_is_caught, .timeout = 600)
{
    for (int alg = ALG_ONESHOT; alg <= ALG_RING; alg++) {
        ar_proto p = proto_of(alg);
        p.flag_reached = reached_previous_epoch;
        expect_caught(&p, "wait on the previous epoch", "read before published");
    }
}

/* A wait with no acquire fence after its relaxed poll: seeing the flag orders nothing. */
Test(ar_protocol, poll_without_fence_is_caught, .timeout = 600)
{
    for (int alg = ALG_ONESHOT; alg <= ALG_RING; alg++) {
        ar_proto p = proto_of(alg);
        p.wait_fence = WAIT_FENCE_NONE;
        expect_caught(&p, "no fence after the poll", "read before published");
    }
}

/* The fence before the poll instead of after it: it orders nothing the poll then sees. */
Test(ar_protocol, fence_before_poll_is_caught, .timeout = 600)
{
    for (int alg = ALG_ONESHOT; alg <= ALG_RING; alg++) {
        ar_proto p = proto_of(alg);
        p.wait_fence = WAIT_FENCE_BEFORE;
        expect_caught(&p, "the fence before the poll", "read before published");
    }
}

/* oneshot out of place without its end barrier: a rank ends (and its host refills the input)
 * while a peer may still read that input. */
Test(ar_protocol, oneshot_without_end_barrier_is_caught, .timeout = 600)
{
    ar_proto p = proto_of(ALG_ONESHOT);
    p.no_end_barrier = 1;
    expect_caught(&p, "no end barrier", "reuse while read");
}

/* A barrier that leaves the last rank out: neither raises its flag nor waits for it. */
static int one_peer_too_few(int t, int rank, int n)
{
    return tb_ar_barrier_peer(t, rank, n - 1);
}

Test(ar_protocol, one_peer_too_few_is_caught, .timeout = 600)
{
    for (int alg = ALG_ONESHOT; alg <= ALG_TWOSHOT; alg++) {
        ar_proto p = proto_of(alg);
        p.barrier_peer = one_peer_too_few;
        expect_caught(&p, "one peer too few in the barrier", "read before published");
    }
    ar_proto p = proto_of(ALG_ONESHOT);
    p.inplace = 1;
    p.barrier_peer = one_peer_too_few;
    expect_caught(&p, "in place, one peer too few in the barrier", "reuse while read");
}

/* The ring's receive one slot late: it waits for a send the previous rank makes later. */
static int recv_slot_late(int t)
{
    return tb_ar_ring_recv_slot(t) + 1;
}

Test(ar_protocol, ring_slot_off_by_one_is_caught, .timeout = 600)
{
    ar_proto p = proto_of(ALG_RING);
    p.ring_recv_slot = recv_slot_late;
    expect_caught(&p, "receive slot one late", "deadlock");
}

/* A rank that never starts (a block not resident, a dead peer): once the host raises the
 * abort flag every other block returns; without the abort check they spin forever. */
Test(ar_protocol, abort_ends_every_wait, .timeout = 600)
{
    int runs = 0, hung = 0;
    for (int alg = ALG_ONESHOT; alg <= ALG_RING; alg++)
        for (int seed = 0; seed < SEEDS; seed++) {
            ar_proto p = proto_of(alg);
            run_result r = run_model(&p, 3, 2, 37, 4, 1, 2, (uint64_t)seed, 1, 5 + seed % 40);
            cr_assert(r.ok, "%s: %s", alg_name(alg), r.why);
            p.ignore_abort = 1;
            r = run_model(&p, 3, 2, 37, 4, 1, 2, (uint64_t)seed, 1, 5 + seed % 40);
            hung += !r.ok && strncmp(r.why, "deadlock", 8) == 0;
            runs++;
        }
    fprintf(stderr, "all-reduce protocol model, a dead rank: %d interleavings end on abort; "
                    "ignoring the abort flag, %d of %d hang\n", runs, hung, runs);
    cr_assert_eq(hung, runs);
}

/* The helpers' values as the kernels' comments describe them. */
Test(ar_protocol, helper_values)
{
    cr_assert_eq(tb_ar_epoch_begin(41), 42u);
    cr_assert_eq(tb_ar_epoch_begin(0xffffffffu), 0u);
    cr_assert_eq(tb_ar_epoch_end(42, 1), 42u);
    cr_assert_eq(tb_ar_epoch_end(42, 3), 44u);
    cr_assert_eq(tb_ar_round_epoch(42, 2), 44u);
    cr_assert(tb_ar_flag_reached(5, 5) && tb_ar_flag_reached(6, 5) && !tb_ar_flag_reached(4, 5));
    cr_assert(tb_ar_flag_reached(1, 0xffffffffu)); /* across the wrap */
    cr_assert(!tb_ar_flag_reached(0xffffffffu, 1));
    /* 4 ranks: rank 2's barrier talks to 0, 1, 3 */
    cr_assert(tb_ar_barrier_peer(0, 2, 4) && tb_ar_barrier_peer(3, 2, 4));
    cr_assert(!tb_ar_barrier_peer(2, 2, 4) && !tb_ar_barrier_peer(4, 2, 4));
    /* ring of 4: sends raise slots 1 .. 6, receives wait on 1 .. 6 */
    cr_assert_eq(tb_ar_ring_send_slot(0), 1);
    cr_assert_eq(tb_ar_ring_send_slot(5), 6);
    cr_assert_eq(tb_ar_ring_recv_slot(6), 6);
    cr_assert_leq(tb_ar_ring_send_slot(2 * TB_AR_MAX_RANKS - 3), TB_AR_SLOTS - 1);
}
