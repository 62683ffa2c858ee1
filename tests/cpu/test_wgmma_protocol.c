/* The Hopper wgmma kernels' asynchronous protocol on the CPU: a host model of the mbarrier ring
 * (kernels/matmul/wgmma.cu and wgmma_ws.cuh) driven by the kernels' own constants and helpers
 * (kernels/matmul/wgmma_protocol.h), run over many seeded random interleavings of the producer,
 * the consumer warpgroups, the TMA transfers in flight and the asynchronous wgmma reads, and an
 * emulation of one tile's MMAs through the kernels' descriptor helpers.
 *
 * The model checks: no deadlock; no stale read (a consumer whose full-barrier wait returned, or
 * whose wgmma reads, finds a box of the stage not yet holding its k-tile); no overwrite (a TMA
 * into a stage a consumer's unretired wgmma group still reads); every tile's result is what the
 * k-tiles it should have read give. Each test that breaks one protocol value (through the
 * helper it comes from) asserts the model catches it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matmul/mm_common.h"
#include "matmul/wgmma_protocol.h"
#include "matmul/wgmma_sched.h"

/* ---- mbarrier: arrivals and transaction bytes per phase --------------------------------- */

typedef struct {
    uint32_t count;   /* arrivals per phase (mbarrier.init) */
    uint32_t pending; /* arrivals still missing in the current phase */
    int64_t tx;       /* transaction bytes expected and not yet completed (may go negative) */
    uint32_t phases;  /* phases completed */
} mbar;

static void mbar_init(mbar *b, uint32_t count)
{
    b->count = count;
    b->pending = count;
    b->tx = 0;
    b->phases = 0;
}

static void mbar_settle(mbar *b)
{
    if (b->pending == 0 && b->tx == 0) {
        b->phases++;
        b->pending = b->count;
    }
}

static void mbar_arrive(mbar *b)
{
    b->pending--;
    mbar_settle(b);
}

static void mbar_expect_tx(mbar *b, uint32_t bytes) /* mbarrier.arrive.expect_tx */
{
    b->tx += bytes;
    mbar_arrive(b);
}

static void mbar_complete_tx(mbar *b, uint32_t bytes) /* a TMA's complete_tx::bytes */
{
    b->tx -= bytes;
    mbar_settle(b);
}

/* try_wait.parity: the phase of that parity has completed. */
static int mbar_done(const mbar *b, uint32_t parity)
{
    return (b->phases & 1u) != parity;
}

/* ---- the protocol a kernel runs, from the shared header --------------------------------- */

typedef struct {
    const char *name;
    int ws;       /* warp-specialized: producer warpgroup, empty barriers (else: the plain ring) */
    int stages, cluster, consumers, b_boxes_per_stage;
    int in_flight;    /* k-tiles of wgmma a consumer holds in flight (its releases lag by it) */
    int wait_pending; /* wgmma.wait_group's argument: groups left pending */
    int refill_unguarded; /* plain, broken: thread 0 refills without waiting on the empty barrier */
    uint32_t full_count, empty_count, expect_tx, box_bytes;
    uint32_t (*full_parity)(uint32_t it, int stages);
    uint32_t (*empty_parity)(uint32_t it, int stages);
    uint32_t (*retired)(uint32_t it);
} wg_proto;

enum { V_PLAIN, V_WS, V_PERSISTENT, V_CLUSTER };

static wg_proto proto_of(int variant)
{
    wg_proto p;
    memset(&p, 0, sizeof p);
    p.full_count = tb_wg_full_count();
    p.box_bytes = TB_WG_BOX_BYTES;
    p.full_parity = tb_wg_full_parity;
    p.empty_parity = tb_wg_empty_parity;
    p.retired = tb_wg_ws_retired;
    if (variant == V_PLAIN) {
        p.name = "wgmma";
        p.stages = TB_WG_PLAIN_STAGES;
        p.cluster = 1;
        p.consumers = TB_WG_PLAIN_WARPGROUPS;
        p.b_boxes_per_stage = (TB_WG_PLAIN_STAGE_BYTES - TB_WG_BOX_BYTES) / TB_WG_BOX_BYTES;
        p.in_flight = TB_WG_PLAIN_MMA_IN_FLIGHT;
        p.wait_pending = TB_WG_PLAIN_MMA_IN_FLIGHT;
        p.empty_count = tb_wg_plain_empty_count();
        p.retired = tb_wg_plain_retired;
        p.expect_tx = tb_wg_plain_expect_tx();
        return p;
    }
    p.ws = 1;
    p.consumers = TB_WG_WS_CONSUMERS;
    p.b_boxes_per_stage = TB_WG_WS_B_BYTES / TB_WG_BOX_BYTES;
    p.in_flight = TB_WG_WS_MMA_IN_FLIGHT;
    p.wait_pending = TB_WG_WS_MMA_IN_FLIGHT;
    p.cluster = variant == V_CLUSTER ? TB_WG_CLUSTER_SIZE : 1;
    p.stages = variant == V_WS ? TB_WG_WS_STAGES
                               : (variant == V_PERSISTENT ? TB_WG_PERSISTENT_STAGES
                                                          : TB_WG_CLUSTER_STAGES);
    p.name = variant == V_WS ? "wgmma_ws"
                             : (variant == V_PERSISTENT ? "wgmma_persistent" : "wgmma_cluster");
    p.empty_count = tb_wg_empty_count(p.cluster);
    p.expect_tx = tb_wg_ws_expect_tx(p.cluster);
    return p;
}

/* ---- the model ---------------------------------------------------------------------------- */

#define M_CTAS 2
#define M_STAGES 8
#define M_CONS 2
#define M_BOXES 3 /* A and up to two B boxes */
#define M_GROUPS 4
#define M_TMA 64

/* what a box of shared memory holds: the operand tile and k-tile it was loaded for */
typedef struct {
    int64_t tile; /* tm for A, tn for B; -1: never written */
    int64_t kt;
} box_tag;

typedef struct {
    int dst, stage, box; /* box 0: A; 1 + j: B box j */
    box_tag tag;
    int bar_cta; /* the CTA whose full barrier (same stage) the bytes complete on */
} tma_op;

typedef struct {
    uint32_t it; /* k-tile */
    int read;    /* the asynchronous read has happened */
} mma_group;

typedef struct {
    int pc, done;
    int64_t step, tm, tn; /* the tile being worked on */
    int kt, j, d;
    uint32_t it;
    mma_group groups[M_GROUPS];
    int n_groups;
    uint64_t acc[2], want[2]; /* per B box: the result read and the one expected */
} actor;

typedef struct {
    wg_proto p;
    int ctas, m_tiles, n_tiles, KT;
    mbar full[M_CTAS][M_STAGES], empty[M_CTAS][M_STAGES];
    box_tag smem[M_CTAS][M_STAGES][M_BOXES];
    actor prod[M_CTAS], cons[M_CTAS][M_CONS];
    tma_op tma[M_TMA];
    int n_tma;
    int tiles_done;
    char why[256];
    uint64_t rng;
} model;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* the numeric content of a box's rows for one consumer: a function of what was loaded */
static uint64_t box_value(box_tag t, int box, int part)
{
    return tb_mix64(((uint64_t)t.tile << 40) ^ ((uint64_t)t.kt << 8) ^ (uint64_t)(box * 4 + part)) &
           0xffff;
}

static int fail(model *m, const char *fmt, int a, int b, int c, int d)
{
    if (m->why[0] == 0)
        snprintf(m->why, sizeof m->why, fmt, a, b, c, d);
    return 0;
}

static int sched(model *m, int cta, int64_t step, int64_t *tm, int64_t *tn)
{
    if (!m->p.ws) { /* the plain kernel: one tile per CTA, step 0 */
        if (step > 0)
            return 0;
        tb_mm_tile_of(cta, m->m_tiles, m->n_tiles, 8, tm, tn);
        return 1;
    }
    return tb_wg_sched_tile(step, cta, m->ctas, m->p.cluster, m->m_tiles, m->n_tiles,
                            8 / m->p.cluster, tm, tn);
}

/* A consumer's wgmma groups still unretired on stage s of its CTA. */
static int stage_read(const model *m, int cta, int s)
{
    for (int w = 0; w < m->p.consumers; w++) {
        const actor *c = &m->cons[cta][w];
        for (int g = 0; g < c->n_groups; g++)
            if ((int)tb_wg_stage(c->groups[g].it, m->p.stages) == s)
                return 1;
    }
    return 0;
}

/* The tags a stage must hold for k-tile `it` of tile (tm, tn). */
static int stage_holds(const model *m, int cta, int s, int64_t tm, int64_t tn, int kt)
{
    const box_tag *b = m->smem[cta][s];
    if (b[0].tile != tm || b[0].kt != kt)
        return 0;
    for (int j = 0; j < m->p.b_boxes_per_stage; j++)
        if (b[1 + j].tile != tn || b[1 + j].kt != kt)
            return 0;
    return 1;
}

/* Issues a TMA load of box `box` of k-tile kt into stage s of every CTA in dst_mask. */
static int issue_tma(model *m, int cta, int s, int box, int64_t tile, int kt, int dst_mask)
{
    for (int d = 0; d < m->p.cluster; d++) {
        if (!(dst_mask & (1 << d)))
            continue;
        if (stage_read(m, d, s))
            return fail(m, "overwrite: CTA %d loads k-tile %d into stage %d of CTA %d, which a "
                           "wgmma group still reads",
                        cta, kt, s, d);
        cr_assert(m->n_tma < M_TMA);
        tma_op *t = &m->tma[m->n_tma++];
        t->dst = d;
        t->stage = s;
        t->box = box;
        t->tag.tile = tile;
        t->tag.kt = kt;
        t->bar_cta = d;
    }
    return 1;
}

/* ---- the actors' steps; each returns 0 when it cannot move now ---------------------------- */

/* The warp-specialized producer (one thread of warpgroup 0). */
static int producer_step(model *m, int cta, int run)
{
    actor *a = &m->prod[cta];
    const wg_proto *p = &m->p;
    if (a->done)
        return 0;
    for (;;) {
        switch (a->pc) {
        case 0: /* next tile */
            if (!sched(m, cta, a->step, &a->tm, &a->tn)) {
                if (run)
                    a->done = 1;
                return 1;
            }
            a->kt = 0;
            a->pc = 1;
            continue;
        case 1: { /* the consumers' release of this stage's previous use */
            if (a->kt == m->KT) {
                if (!run)
                    return 1;
                a->step++;
                a->pc = 0;
                return 1;
            }
            const uint32_t s = tb_wg_stage(a->it, p->stages);
            if (tb_wg_waits_empty(a->it, p->stages) &&
                !mbar_done(&m->empty[cta][s], p->empty_parity(a->it, p->stages)))
                return 0;
            if (!run)
                return 1;
            a->pc = 2;
            return 1;
        }
        case 2: /* arrive.expect_tx */
            if (!run)
                return 1;
            mbar_expect_tx(&m->full[cta][tb_wg_stage(a->it, p->stages)], p->expect_tx);
            a->j = 0;
            a->pc = 3;
            return 1;
        case 3: /* the A box */
            if (!run)
                return 1;
            if (!issue_tma(m, cta, (int)tb_wg_stage(a->it, p->stages), 0, a->tm, a->kt, 1 << cta))
                return 1;
            a->pc = 4;
            return 1;
        case 4: { /* B boxes: alone both, in a cluster its own, multicast */
            if (a->j == tb_wg_ws_b_boxes(p->cluster)) {
                a->kt++;
                a->it++;
                a->pc = 1;
                continue;
            }
            if (!run)
                return 1;
            const int box = tb_wg_ws_b_box(p->cluster, cta, a->j);
            if (!issue_tma(m, cta, (int)tb_wg_stage(a->it, p->stages), 1 + box, a->tn, a->kt,
                           (1 << p->cluster) - 1))
                return 1;
            a->j++;
            return 1;
        }
        }
        return 0;
    }
}

static void release(model *m, uint32_t it)
{
    for (int r = 0; r < m->p.cluster; r++)
        mbar_arrive(&m->empty[r][tb_wg_stage(it, m->p.stages)]);
}

static int groups_unread(const actor *a)
{
    int n = 0;
    for (int g = 0; g < a->n_groups; g++)
        n += !a->groups[g].read;
    return n;
}

/* wgmma.wait_group(n): runnable once at most n groups are unread; retires the read ones. */
static int wait_group(actor *a, int n, int run)
{
    if (groups_unread(a) > n)
        return 0;
    if (run) {
        int k = 0;
        for (int g = 0; g < a->n_groups; g++)
            if (!a->groups[g].read)
                a->groups[k++] = a->groups[g];
        a->n_groups = k;
    }
    return 1;
}

static void tile_expected(model *m, actor *a, int w)
{
    for (int j = 0; j < m->p.b_boxes_per_stage; j++) {
        a->want[j] = 0;
        for (int kt = 0; kt < m->KT; kt++) {
            box_tag ta = {a->tm, kt}, tb = {a->tn, kt};
            a->want[j] += box_value(ta, 0, w) * box_value(tb, 1 + j, w);
        }
    }
}

static int tile_check(model *m, actor *a, int cta, int w)
{
    tile_expected(m, a, w);
    for (int j = 0; j < m->p.b_boxes_per_stage; j++)
        if (a->acc[j] != a->want[j])
            return fail(m, "wrong result: CTA %d consumer %d tile (%d, %d)", cta, w, (int)a->tm,
                        (int)a->tn);
    m->tiles_done++;
    return 1;
}

/* A consumer warpgroup of the warp-specialized kernels. */
static int consumer_step(model *m, int cta, int w, int run)
{
    actor *a = &m->cons[cta][w];
    const wg_proto *p = &m->p;
    if (a->done)
        return 0;
    for (;;) {
        switch (a->pc) {
        case 0:
            if (!sched(m, cta, a->step, &a->tm, &a->tn)) {
                if (run)
                    a->done = 1;
                return 1;
            }
            a->kt = 0;
            a->acc[0] = a->acc[1] = 0;
            a->pc = 1;
            continue;
        case 1: { /* wait for the k-tile's bytes */
            if (a->kt == m->KT) {
                a->pc = 4;
                continue;
            }
            const uint32_t s = tb_wg_stage(a->it, p->stages);
            if (!mbar_done(&m->full[cta][s], p->full_parity(a->it, p->stages)))
                return 0;
            if (!run)
                return 1;
            if (!stage_holds(m, cta, (int)s, a->tm, a->tn, a->kt))
                return fail(m, "stale read: CTA %d consumer %d passed the full barrier of "
                               "stage %d for k-tile %d before all its bytes landed",
                            cta, w, (int)s, a->kt), 1;
            cr_assert(a->n_groups < M_GROUPS);
            a->groups[a->n_groups].it = a->it;
            a->groups[a->n_groups].read = 0;
            a->n_groups++;
            a->pc = 2;
            return 1;
        }
        case 2: /* wait_group(in_flight) */
            if (!wait_group(a, p->wait_pending, run))
                return 0;
            if (!run)
                return 1;
            a->pc = 3;
            return 1;
        case 3: /* free the stage of the newest retired k-tile */
            if (!run)
                return 1;
            if (a->kt >= p->in_flight)
                release(m, p->retired(a->it));
            a->kt++;
            a->it++;
            a->pc = 1;
            return 1;
        case 4: /* wait_group(0), release the tile's last k-tiles */
            if (!wait_group(a, 0, run))
                return 0;
            if (!run)
                return 1;
            for (int d = m->KT < p->in_flight ? m->KT : p->in_flight; d > 0; d--)
                release(m, a->it - (uint32_t)d);
            tile_check(m, a, cta, w);
            a->step++;
            a->pc = 0;
            return 1;
        }
        return 0;
    }
}

/* The plain kernel's thread 0 loads k-tile `next` into its stage. */
static void plain_refill(model *m, int cta, const actor *a, uint32_t next)
{
    const int s = (int)tb_wg_stage(next, m->p.stages);
    mbar_expect_tx(&m->full[cta][s], m->p.expect_tx);
    issue_tma(m, cta, s, 0, a->tm, (int)next, 1);
    issue_tma(m, cta, s, 1, a->tn, (int)next, 1);
}

/* A warpgroup of the plain kernel: waits for a k-tile, issues its wgmma, waits until
 * `wait_pending` groups are left in flight, frees the stage of the k-tile that retired on the
 * empty barrier; warpgroup 0's thread 0 then waits for the other's release and refills that
 * stage. Thread 0 also issues the first loads. */
static int plain_step(model *m, int cta, int w, int run)
{
    actor *a = &m->cons[cta][w];
    const wg_proto *p = &m->p;
    if (a->done)
        return 0;
    switch (a->pc) {
    case 0: /* the prologue's loads */
        if (!run)
            return 1;
        sched(m, cta, 0, &a->tm, &a->tn);
        a->kt = 0;
        a->pc = 1;
        if (w == 0)
            for (int s = 0; s < p->stages && s < m->KT; s++)
                plain_refill(m, cta, a, (uint32_t)s);
        return 1;
    case 1: {
        if (a->kt == m->KT) {
            a->pc = 5;
            return plain_step(m, cta, w, run);
        }
        const uint32_t s = tb_wg_stage((uint32_t)a->kt, p->stages);
        if (!mbar_done(&m->full[cta][s], p->full_parity((uint32_t)a->kt, p->stages)))
            return 0;
        if (!run)
            return 1;
        if (!stage_holds(m, cta, (int)s, a->tm, a->tn, a->kt))
            return fail(m, "stale read: CTA %d warpgroup %d passed the full barrier of stage %d "
                           "for k-tile %d before all its bytes landed",
                        cta, w, (int)s, a->kt), 1;
        cr_assert(a->n_groups < M_GROUPS);
        a->groups[a->n_groups].it = (uint32_t)a->kt;
        a->groups[a->n_groups].read = 0;
        a->n_groups++;
        a->pc = 2;
        return 1;
    }
    case 2: /* wait_group(in flight) */
        if (!wait_group(a, p->wait_pending, run))
            return 0;
        if (run)
            a->pc = 3;
        return 1;
    case 3: { /* free the retired k-tile's stage; thread 0 goes on to refill it */
        if (!run)
            return 1;
        if (a->kt < p->in_flight) {
            a->kt++;
            a->pc = 1;
            return 1;
        }
        const uint32_t done = p->retired((uint32_t)a->kt);
        mbar_arrive(&m->empty[cta][tb_wg_stage(done, p->stages)]);
        if (w == 0 && done + (uint32_t)p->stages < (uint32_t)m->KT) {
            a->pc = 4;
            return 1;
        }
        a->kt++;
        a->pc = 1;
        return 1;
    }
    case 4: { /* thread 0: both warpgroups' releases, then the refill */
        const uint32_t next = p->retired((uint32_t)a->kt) + (uint32_t)p->stages;
        if (!p->refill_unguarded &&
            !mbar_done(&m->empty[cta][tb_wg_stage(next, p->stages)],
                       p->empty_parity(next, p->stages)))
            return 0;
        if (!run)
            return 1;
        plain_refill(m, cta, a, next);
        a->kt++;
        a->pc = 1;
        return 1;
    }
    case 5: /* wait_group(0), the tile's result */
        if (!wait_group(a, 0, run))
            return 0;
        if (!run)
            return 1;
        tile_check(m, a, cta, w);
        a->done = 1;
        return 1;
    }
    return 0;
}

/* A TMA transfer lands: its box is written, its bytes complete on the barrier. */
static void tma_land(model *m, int i)
{
    tma_op t = m->tma[i];
    m->tma[i] = m->tma[--m->n_tma];
    if (stage_read(m, t.dst, t.stage))
        for (int w = 0; w < m->p.consumers; w++) {
            const actor *c = &m->cons[t.dst][w];
            for (int g = 0; g < c->n_groups; g++)
                if (!c->groups[g].read &&
                    (int)tb_wg_stage(c->groups[g].it, m->p.stages) == t.stage)
                    fail(m, "overwrite: k-tile %d landed in stage %d of CTA %d before the "
                            "wgmma of consumer %d read it",
                         (int)t.tag.kt, t.stage, t.dst, w);
        }
    m->smem[t.dst][t.stage][t.box] = t.tag;
    mbar_complete_tx(&m->full[t.bar_cta][t.stage], m->p.box_bytes);
}

/* A consumer's oldest unread wgmma group reads its stage. */
static void mma_read(model *m, int cta, int w)
{
    actor *a = &m->cons[cta][w];
    for (int g = 0; g < a->n_groups; g++) {
        mma_group *gr = &a->groups[g];
        if (gr->read)
            continue;
        const int s = (int)tb_wg_stage(gr->it, m->p.stages);
        const int kt = (int)(gr->it % (uint32_t)m->KT);
        const int kt_tile = m->p.ws ? kt : (int)gr->it;
        if (!stage_holds(m, cta, s, a->tm, a->tn, kt_tile))
            fail(m, "stale read: the wgmma of CTA %d consumer %d for k-tile %d found stage %d "
                    "holding other data",
                 cta, w, kt_tile, s);
        const box_tag *b = m->smem[cta][s];
        for (int j = 0; j < m->p.b_boxes_per_stage; j++)
            a->acc[j] += box_value(b[0], 0, w) * box_value(b[1 + j], 1 + j, w);
        gr->read = 1;
        return;
    }
}

typedef struct {
    int ok;
    long steps;
    char why[512];
} run_result;

/* One interleaving: m_tiles x n_tiles tiles, `ctas` CTAs (the model runs the first cluster),
 * KT k-tiles per tile, choices drawn from `seed`. */
static run_result run_model(const wg_proto *p, int ctas, int m_tiles, int n_tiles, int KT,
                            uint64_t seed)
{
    static model mm;
    model *m = &mm;
    memset(m, 0, sizeof *m);
    m->p = *p;
    m->ctas = ctas;
    m->m_tiles = m_tiles;
    m->n_tiles = n_tiles;
    m->KT = KT;
    m->rng = tb_mix64(seed) | 1;
    cr_assert(p->stages <= M_STAGES && p->cluster <= M_CTAS && p->consumers <= M_CONS);
    for (int c = 0; c < p->cluster; c++)
        for (int s = 0; s < p->stages; s++) {
            mbar_init(&m->full[c][s], p->full_count);
            mbar_init(&m->empty[c][s], p->empty_count);
            for (int b = 0; b < M_BOXES; b++)
                m->smem[c][s][b].tile = -1;
        }
    run_result r = {1, 0, ""};
    /* actions: producers, consumers, landings, reads */
    for (;;) {
        int acts[128][3], n = 0;
        for (int c = 0; c < p->cluster; c++) {
            if (p->ws && producer_step(m, c, 0)) {
                acts[n][0] = 0, acts[n][1] = c, n++;
            }
            for (int w = 0; w < p->consumers; w++) {
                if (p->ws ? consumer_step(m, c, w, 0) : plain_step(m, c, w, 0)) {
                    acts[n][0] = 1, acts[n][1] = c, acts[n][2] = w, n++;
                }
                if (groups_unread(&m->cons[c][w]) > 0) {
                    acts[n][0] = 3, acts[n][1] = c, acts[n][2] = w, n++;
                }
            }
        }
        for (int i = 0; i < m->n_tma; i++) {
            acts[n][0] = 2, acts[n][1] = i, n++;
        }
        if (n == 0)
            break;
        const int *a = acts[rng_next(&m->rng) % (uint64_t)n];
        if (a[0] == 0)
            producer_step(m, a[1], 1);
        else if (a[0] == 1)
            p->ws ? consumer_step(m, a[1], a[2], 1) : plain_step(m, a[1], a[2], 1);
        else if (a[0] == 2)
            tma_land(m, a[1]);
        else
            mma_read(m, a[1], a[2]);
        r.steps++;
        if (m->why[0])
            break;
    }
    if (!m->why[0]) {
        for (int c = 0; c < p->cluster; c++) {
            if (p->ws && !m->prod[c].done)
                fail(m, "deadlock: CTA %d's producer waits at k-tile %d (pc %d)", c,
                     (int)m->prod[c].it, m->prod[c].pc, 0);
            for (int w = 0; w < p->consumers; w++)
                if (!m->cons[c][w].done)
                    fail(m, "deadlock: CTA %d consumer %d waits at k-tile %d (pc %d)", c, w,
                         (int)m->cons[c][w].it + (p->ws ? 0 : m->cons[c][w].kt),
                         m->cons[c][w].pc);
        }
    }
    if (m->why[0]) {
        r.ok = 0;
        snprintf(r.why, sizeof r.why, "%.255s", m->why);
    }
    return r;
}

/* Every shape of a sweep under `seeds` interleavings each; returns the first failure (ok 0)
 * or ok 1, and counts the runs and steps. */
typedef struct {
    int ctas, m_tiles, n_tiles, KT;
} shape;

static const shape shapes_one_tile[] = {{1, 1, 1, 1}, {1, 1, 1, 2}, {1, 1, 1, 5}, {1, 1, 1, 9}};
/* persistent: one CTA (or cluster) deals with several tiles; the ring runs on across them */
static const shape shapes_persistent[] = {{1, 2, 2, 1}, {1, 3, 1, 4}, {1, 2, 2, 7}};
static const shape shapes_cluster[] = {{2, 2, 1, 1}, {2, 4, 1, 5}, {2, 3, 2, 4}, {2, 1, 1, 7}};

static long g_runs, g_steps;

static run_result sweep(const wg_proto *p, const shape *sh, size_t n_sh, int seeds)
{
    run_result r = {1, 0, ""};
    for (size_t i = 0; i < n_sh; i++)
        for (int seed = 0; seed < seeds; seed++) {
            r = run_model(p, sh[i].ctas, sh[i].m_tiles, sh[i].n_tiles, sh[i].KT,
                          (uint64_t)seed * 7919u + i);
            g_runs++;
            g_steps += r.steps;
            if (!r.ok) {
                char buf[512];
                snprintf(buf, sizeof buf, "%.32s (%d x %d tiles, KT %d, seed %d): %.255s", p->name,
                         sh[i].m_tiles, sh[i].n_tiles, sh[i].KT, seed, r.why);
                snprintf(r.why, sizeof r.why, "%s", buf);
                return r;
            }
        }
    return r;
}

static run_result sweep_variant(int variant, const wg_proto *p, int seeds)
{
    if (variant == V_CLUSTER)
        return sweep(p, shapes_cluster, sizeof shapes_cluster / sizeof *shapes_cluster, seeds);
    if (variant == V_PERSISTENT)
        return sweep(p, shapes_persistent, sizeof shapes_persistent / sizeof *shapes_persistent,
                     seeds);
    return sweep(p, shapes_one_tile, sizeof shapes_one_tile / sizeof *shapes_one_tile, seeds);
}

#define SEEDS 2000

static void report(const char *what, clock_t t0)
{
    fprintf(stderr, "wgmma protocol model, %s: %ld interleavings, %ld steps, %.2f s\n", what,
            g_runs, g_steps, (double)(clock() - t0) / CLOCKS_PER_SEC);
    g_runs = g_steps = 0;
}

/* The kernels as they are: every variant survives every interleaving. */
Test(wgmma_protocol, kernels_pass_every_interleaving, .timeout = 600)
{
    const int variants[] = {V_PLAIN, V_WS, V_PERSISTENT, V_CLUSTER};
    clock_t t0 = clock();
    for (size_t v = 0; v < 4; v++) {
        wg_proto p = proto_of(variants[v]);
        run_result r = sweep_variant(variants[v], &p, SEEDS);
        cr_assert(r.ok, "%s", r.why);
    }
    report("the kernels' protocol", t0);
}

/* The header's values are the ones the kernels' comments describe. */
Test(wgmma_protocol, header_values)
{
    cr_assert_eq(tb_wg_ws_expect_tx(1), 48u * 1024);
    cr_assert_eq(tb_wg_ws_expect_tx(2), 48u * 1024);
    cr_assert_eq(tb_wg_plain_expect_tx(), 32u * 1024);
    cr_assert_eq(tb_wg_empty_count(2), 4u);
    cr_assert_eq(tb_wg_empty_count(1), 2u);
    cr_assert_eq(tb_wg_full_count(), 1u);
    /* the first round waits for parity 0; the producer's first reuse waits for the first
     * completed phase of the empty barrier (parity 0) */
    cr_assert_eq(tb_wg_full_parity(0, 4), 0u);
    cr_assert_eq(tb_wg_full_parity(4, 4), 1u);
    cr_assert_eq(tb_wg_empty_parity(4, 4), 0u);
    cr_assert_eq(tb_wg_empty_parity(8, 4), 1u);
    cr_assert_eq(tb_wg_ws_retired(5), 4u);
    cr_assert_eq(tb_wg_plain_retired(5), 4u);
    cr_assert_eq(tb_wg_plain_empty_count(), 2u);
    /* shared memory: two plain CTAs per SM (228 KiB, 1 KiB reserved per CTA); four stages
     * and 16 KiB of C staging per consumer within a CTA's 227 KiB */
    cr_assert_leq(2 * (TB_WG_PLAIN_STAGES * TB_WG_PLAIN_STAGE_BYTES + 16 * TB_WG_PLAIN_STAGES +
                       1024 + 1024),
                  228 * 1024);
    cr_assert_eq(TB_WG_PERSISTENT_STAGES, 4);
    cr_assert_eq(TB_WG_CLUSTER_STAGES, 4);
    cr_assert_leq(TB_WG_CLUSTER_STAGES * TB_WG_WS_STAGE_BYTES + TB_WG_WS_CONSUMERS * 16384 +
                      16 * TB_WG_CLUSTER_STAGES + 1024,
                  227 * 1024);
    /* a cluster's CTAs each load one B box; alone, both */
    cr_assert_eq(tb_wg_ws_b_boxes(2), 1);
    cr_assert_eq(tb_wg_ws_b_box(2, 1, 0), 1);
    cr_assert_eq(tb_wg_ws_b_boxes(1), 2);
}

/* ---- broken protocols: each is caught ---------------------------------------------------- */

/* Runs a broken protocol over the same interleavings as the kernels' and counts how each
 * run failed; the kind named must be among them. */
static const char *const kinds[] = {"stale read", "overwrite", "deadlock", "wrong result"};

static void expect_caught(int variant, const wg_proto *p, const char *kind)
{
    const shape *sh = variant == V_CLUSTER      ? shapes_cluster
                      : variant == V_PERSISTENT ? shapes_persistent
                                                : shapes_one_tile;
    const size_t n_sh = variant == V_CLUSTER      ? sizeof shapes_cluster / sizeof *sh
                        : variant == V_PERSISTENT ? sizeof shapes_persistent / sizeof *sh
                                                  : sizeof shapes_one_tile / sizeof *sh;
    int counts[4] = {0, 0, 0, 0}, runs = 0;
    char first[512] = "";
    clock_t t0 = clock();
    for (size_t i = 0; i < n_sh; i++)
        for (int seed = 0; seed < SEEDS; seed++, runs++) {
            run_result r = run_model(p, sh[i].ctas, sh[i].m_tiles, sh[i].n_tiles, sh[i].KT,
                                     (uint64_t)seed * 7919u + i);
            if (r.ok)
                continue;
            for (int k = 0; k < 4; k++)
                if (strncmp(r.why, kinds[k], strlen(kinds[k])) == 0) {
                    if (counts[k]++ == 0 && strcmp(kinds[k], kind) == 0)
                        snprintf(first, sizeof first, "%d x %d tiles, KT %d, seed %d: %.255s",
                                 sh[i].m_tiles, sh[i].n_tiles, sh[i].KT, seed, r.why);
                }
        }
    fprintf(stderr,
            "wgmma protocol model, %s broken: %d interleavings in %.2f s: %d stale reads, %d "
            "overwrites, %d deadlocks, %d wrong results\n  first %s: %s\n",
            p->name, runs, (double)(clock() - t0) / CLOCKS_PER_SEC, counts[0], counts[1],
            counts[2], counts[3], kind, first);
    for (int k = 0; k < 4; k++)
        if (strcmp(kinds[k], kind) == 0)
            cr_assert_gt(counts[k], 0, "%s: the model found no %s in %d interleavings", p->name,
                         kind, runs);
}

Test(wgmma_protocol, empty_count_one_is_caught)
{
    wg_proto p = proto_of(V_CLUSTER);
    cr_assert_eq(p.empty_count, 4u);
    p.empty_count = 1;
    expect_caught(V_CLUSTER, &p, "overwrite");
    p = proto_of(V_WS);
    p.empty_count = 1;
    expect_caught(V_WS, &p, "overwrite");
}

static uint32_t full_parity_flipped(uint32_t it, int stages)
{
    return tb_wg_full_parity(it, stages) ^ 1u;
}

Test(wgmma_protocol, full_parity_flipped_is_caught)
{
    const int variants[] = {V_PLAIN, V_WS, V_PERSISTENT, V_CLUSTER};
    for (size_t v = 0; v < 4; v++) {
        wg_proto p = proto_of(variants[v]);
        p.full_parity = full_parity_flipped;
        expect_caught(variants[v], &p, "stale read");
    }
}

Test(wgmma_protocol, expect_tx_of_one_box_is_caught)
{
    const int variants[] = {V_WS, V_PERSISTENT, V_CLUSTER};
    for (size_t v = 0; v < 3; v++) {
        wg_proto p = proto_of(variants[v]);
        cr_assert_eq(p.expect_tx, 48u * 1024);
        p.expect_tx = 16 * 1024;
        expect_caught(variants[v], &p, "stale read");
    }
    wg_proto p = proto_of(V_PLAIN);
    p.expect_tx = 16 * 1024;
    expect_caught(V_PLAIN, &p, "stale read");
}

/* The stage of the k-tile just issued, still read by its wgmma, freed for the producer. */
static uint32_t retired_too_early(uint32_t it)
{
    return tb_wg_ws_retired(it) + 1u;
}

static uint32_t plain_retired_too_early(uint32_t it)
{
    return tb_wg_plain_retired(it) + 1u;
}

/* Freeing the stage of the k-tile just issued leaves the previous one never freed: the
 * producer waits for it forever. */
Test(wgmma_protocol, current_stage_released_is_caught)
{
    const int variants[] = {V_WS, V_PERSISTENT, V_CLUSTER};
    for (size_t v = 0; v < 3; v++) {
        wg_proto p = proto_of(variants[v]);
        p.retired = retired_too_early;
        expect_caught(variants[v], &p, "deadlock");
    }
}

/* A wait that leaves two groups in flight while the previous k-tile's stage is freed: the
 * producer refills a stage its wgmma still reads. */
Test(wgmma_protocol, stage_released_while_read_is_caught)
{
    const int variants[] = {V_WS, V_PERSISTENT, V_CLUSTER};
    for (size_t v = 0; v < 3; v++) {
        wg_proto p = proto_of(variants[v]);
        p.wait_pending = TB_WG_WS_MMA_IN_FLIGHT + 1;
        expect_caught(variants[v], &p, "overwrite");
    }
}

static uint32_t empty_parity_flipped(uint32_t it, int stages)
{
    return tb_wg_empty_parity(it, stages) ^ 1u;
}

Test(wgmma_protocol, empty_parity_flipped_is_caught)
{
    wg_proto p = proto_of(V_WS);
    p.empty_parity = empty_parity_flipped;
    expect_caught(V_WS, &p, "overwrite");
}

/* The plain kernel's thread 0 refilling a stage without waiting for the other warpgroup's
 * release: that warpgroup's wgmma may still read it. */
Test(wgmma_protocol, plain_refill_unguarded_is_caught)
{
    wg_proto p = proto_of(V_PLAIN);
    p.refill_unguarded = 1;
    expect_caught(V_PLAIN, &p, "overwrite");
}

/* The plain kernel: a release counted once (one warpgroup's), the current k-tile's stage
 * freed, or two groups left in flight: each refills a stage a wgmma still reads. */
Test(wgmma_protocol, plain_early_release_is_caught)
{
    wg_proto p = proto_of(V_PLAIN);
    cr_assert_eq(p.empty_count, 2u);
    p.empty_count = 1;
    expect_caught(V_PLAIN, &p, "overwrite");
    p = proto_of(V_PLAIN);
    p.retired = plain_retired_too_early;
    expect_caught(V_PLAIN, &p, "overwrite");
    p = proto_of(V_PLAIN);
    p.wait_pending = TB_WG_PLAIN_MMA_IN_FLIGHT + 1;
    expect_caught(V_PLAIN, &p, "overwrite");
    p = proto_of(V_PLAIN);
    p.empty_parity = empty_parity_flipped;
    expect_caught(V_PLAIN, &p, "overwrite");
}

/* A barrier that expects two producer arrivals never completes: a deadlock, not a hang. */
Test(wgmma_protocol, full_count_two_deadlocks)
{
    wg_proto p = proto_of(V_PERSISTENT);
    p.full_count = 2;
    expect_caught(V_PERSISTENT, &p, "deadlock");
}

/* ---- the data path: one tile's MMAs through the kernels' descriptor helpers --------------- */

typedef void (*descs_fn)(uint32_t a_tile, uint32_t b_tile, int kk, int a_kmajor, int b_kmajor,
                         uint64_t *da, uint64_t *db);

static uint16_t bf16_of_int(int v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16); /* small integers are exact in bf16 */
}

static float float_of_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Element (row, k) of the K-major operand a wgmma descriptor names, as the hardware forms its
 * address: 8-row groups SBO bytes apart, 128-byte rows, address bits 4-6 XOR bits 7-9. */
static float desc_elem(const uint8_t *smem, uint64_t desc, int row, int k)
{
    const uint32_t start = (uint32_t)(desc & 0x3FFF) << 4;
    const uint32_t sbo = (uint32_t)((desc >> 32) & 0x3FFF) << 4;
    cr_assert_eq((unsigned)(desc >> 62), TB_WG_SWIZZLE_128B);
    uint32_t a = start + (uint32_t)(row / 8) * sbo + (uint32_t)(row % 8) * 128 + (uint32_t)k * 2;
    a ^= ((a >> 7) & 7u) << 4;
    uint16_t h;
    memcpy(&h, smem + a, 2);
    return float_of_bf16(h);
}

/* Element (mn, k) of an M/N-major operand (read with the transpose bit): 64-wide blocks LBO
 * bytes apart, 8-k groups SBO bytes apart, 128-byte k rows, the same address swizzle. */
static float desc_elem_mn(const uint8_t *smem, uint64_t desc, int mn, int k)
{
    const uint32_t start = (uint32_t)(desc & 0x3FFF) << 4;
    const uint32_t lbo = (uint32_t)((desc >> 16) & 0x3FFF) << 4;
    const uint32_t sbo = (uint32_t)((desc >> 32) & 0x3FFF) << 4;
    cr_assert_eq((unsigned)(desc >> 62), TB_WG_SWIZZLE_128B);
    uint32_t a = start + (uint32_t)(mn / 64) * lbo + (uint32_t)(k / 8) * sbo +
                 (uint32_t)(k % 8) * 128 + (uint32_t)(mn % 64) * 2;
    a ^= ((a >> 7) & 7u) << 4;
    uint16_t h;
    memcpy(&h, smem + a, 2);
    return float_of_bf16(h);
}

#define EMU_SMEM (TB_WG_WS_STAGES * TB_WG_WS_STAGE_BYTES + 1024)

/* A 128 x 256 tile of C = A B^T with K = KT x 64 run as the warp-specialized kernels run it:
 * TMA boxes written through the swizzle into the ring's stages (tb_wg_ws_stage_a/b, the B
 * boxes of tb_wg_ws_b_box), each consumer's k16 steps through `descs` (the kernels'
 * tb_wg_mma_descs unless a test breaks it) into m64n256k16 accumulators, placed in C by the
 * accumulator fragment. Returns the number of wrong elements against the reference. */
static int emulate_tile(descs_fn descs, int layout, int stages, int cluster, int KT,
                        uint64_t seed)
{
    const int M = TB_WG_BM, N = TB_WG_WS_BN, K = KT * TB_WG_BK;
    const int a_kmajor = tb_mm_a_kmajor(layout), b_kmajor = tb_mm_b_kmajor(layout);
    int *A = malloc(sizeof(int) * (size_t)M * K), *B = malloc(sizeof(int) * (size_t)N * K);
    for (int i = 0; i < M * K; i++)
        A[i] = (int)(tb_mix64(seed * 2 + 0 + (uint64_t)i * 0x100000001ull) % 9) - 4;
    for (int i = 0; i < N * K; i++)
        B[i] = (int)(tb_mix64(seed * 2 + 1 + (uint64_t)i * 0x100000001ull) % 9) - 4;
    uint8_t *smem = calloc(EMU_SMEM, 1);
    const uint32_t s0 = 1024;
    float *acc = calloc((size_t)TB_WG_WS_CONSUMERS * 128 * 128, sizeof(float)); /* [cw][t][i] */
    for (int kt = 0; kt < KT; kt++) {
        const uint32_t s = tb_wg_stage((uint32_t)kt, stages);
        const uint32_t sa = tb_wg_ws_stage_a(s0, s), sb = tb_wg_ws_stage_b(s0, s);
        for (int r = 0; r < M; r++) /* the A box */
            for (int k = 0; k < TB_WG_BK; k++) {
                uint16_t h = bf16_of_int(A[r * K + kt * TB_WG_BK + k]);
                memcpy(smem + sa + (a_kmajor ? tb_wg_sw128_offset(r, k) : tb_wg_mn_offset(r, k)),
                       &h, 2);
            }
        for (int rank = 0; rank < cluster; rank++) /* every rank's B boxes land here */
            for (int j = 0; j < tb_wg_ws_b_boxes(cluster); j++) {
                const int box = tb_wg_ws_b_box(cluster, rank, j);
                const uint32_t dst = sb + (uint32_t)box * TB_WG_BOX_BYTES;
                for (int r = 0; r < TB_WG_BOX_ROWS; r++)
                    for (int k = 0; k < TB_WG_BK; k++) {
                        const int n = box * TB_WG_BOX_ROWS + r;
                        uint16_t h = bf16_of_int(B[n * K + kt * TB_WG_BK + k]);
                        memcpy(smem + dst +
                                   (b_kmajor ? tb_wg_sw128_offset(r, k) : tb_wg_mn_offset(r, k)),
                               &h, 2);
                    }
            }
        for (int cw = 0; cw < TB_WG_WS_CONSUMERS; cw++)
            for (int kk = 0; kk < TB_WG_BK; kk += 16) {
                uint64_t da, db;
                descs(tb_wg_warpgroup_a(sa, cw), sb, kk, a_kmajor, b_kmajor, &da, &db);
                /* m64n256k16: D (64 x 256) += A (64 x 16) B (256 x 16)^T, into the fragment */
                for (int t = 0; t < 128; t++)
                    for (int i = 0; i < N / 2; i++) {
                        int row, col;
                        tb_wg_acc_pos(t, i, &row, &col);
                        float d = 0;
                        for (int k = 0; k < 16; k++)
                            d += (a_kmajor ? desc_elem(smem, da, row, k)
                                           : desc_elem_mn(smem, da, row, k)) *
                                 (b_kmajor ? desc_elem(smem, db, col, k)
                                           : desc_elem_mn(smem, db, col, k));
                        acc[((size_t)cw * 128 + t) * 128 + i] += d;
                    }
            }
    }
    int wrong = 0;
    for (int cw = 0; cw < TB_WG_WS_CONSUMERS; cw++)
        for (int t = 0; t < 128; t++)
            for (int i = 0; i < N / 2; i++) {
                int row, col;
                tb_wg_acc_pos(t, i, &row, &col);
                const int m = cw * TB_WG_WARPGROUP_ROWS + row;
                long want = 0;
                for (int k = 0; k < K; k++)
                    want += (long)A[m * K + k] * B[col * K + k];
                wrong += acc[((size_t)cw * 128 + t) * 128 + i] != (float)want;
            }
    free(A);
    free(B);
    free(smem);
    free(acc);
    return wrong;
}

Test(wgmma_protocol, tile_through_the_descriptors_is_exact, .timeout = 600)
{
    int wrong = emulate_tile(tb_wg_mma_descs_layout, TB_MM_FWD, TB_WG_WS_STAGES, 1, 5, 1);
    cr_assert_eq(wrong, 0, "wgmma_ws: %d of %d elements of the tile wrong", wrong,
                 TB_WG_BM * TB_WG_WS_BN);
    for (int layout = TB_MM_FWD; layout <= TB_MM_WGRAD; layout++) {
        wrong = emulate_tile(tb_wg_mma_descs_layout, layout, TB_WG_CLUSTER_STAGES,
                             TB_WG_CLUSTER_SIZE, 4, 2 + (uint64_t)layout);
        cr_assert_eq(wrong, 0, "wgmma_cluster, layout %d: %d of %d elements of the tile wrong",
                     layout, wrong, TB_WG_BM * TB_WG_WS_BN);
    }
}

static void descs_swapped(uint32_t a_tile, uint32_t b_tile, int kk, int a_kmajor, int b_kmajor,
                          uint64_t *da, uint64_t *db)
{
    tb_wg_mma_descs_layout(a_tile, b_tile, kk, a_kmajor, b_kmajor, db, da);
}

/* An M/N-major operand read through a K-major descriptor (the layout ignored). */
static void descs_all_kmajor(uint32_t a_tile, uint32_t b_tile, int kk, int a_kmajor,
                             int b_kmajor, uint64_t *da, uint64_t *db)
{
    (void)a_kmajor, (void)b_kmajor;
    tb_wg_mma_descs(a_tile, b_tile, kk, da, db);
}

Test(wgmma_protocol, gradient_layouts_through_kmajor_descriptors_are_caught, .timeout = 600)
{
    for (int layout = TB_MM_DGRAD; layout <= TB_MM_WGRAD; layout++) {
        const int wrong = emulate_tile(descs_all_kmajor, layout, TB_WG_CLUSTER_STAGES,
                                       TB_WG_CLUSTER_SIZE, 2, 5);
        fprintf(stderr, "wgmma tile emulation, layout %d read K-major: %d of %d elements wrong\n",
                layout, wrong, TB_WG_BM * TB_WG_WS_BN);
        cr_assert_gt(wrong, TB_WG_BM * TB_WG_WS_BN / 2);
    }
}

Test(wgmma_protocol, swapped_descriptors_are_caught, .timeout = 600)
{
    const int wrong = emulate_tile(descs_swapped, TB_MM_FWD, TB_WG_WS_STAGES, 1, 2, 3);
    fprintf(stderr, "wgmma tile emulation, A and B descriptors swapped: %d of %d elements wrong\n",
            wrong, TB_WG_BM * TB_WG_WS_BN);
    cr_assert_gt(wrong, TB_WG_BM * TB_WG_WS_BN / 2);
}
