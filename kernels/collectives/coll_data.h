/* coll_data.h - the collectives beside all-reduce: their size conventions, the expected result
 * of every output element, and which part of a chunk each block moves. Shared by the kernels,
 * the host implementation, the benchmark and the CPU tests.
 *
 * Inputs are all-reduce's (ar_data.h): rank r's input element i is tb_ar_input(seed, r, i), a
 * small integer, so every result is exact in fp32, bf16 and fp16 and is compared bit for bit.
 *
 * A chunk is what one rank sends to one other rank: `chunk` elements. With n ranks:
 *   allgather      in: chunk       out: n x chunk (block s from rank s); in place, in is
 *                                  block r of rank r's out
 *   reducescatter  in: n x chunk   out: chunk (block r of the reduction over ranks); in
 *                                  place, out is block r of rank r's in
 *   alltoall       in: n x chunk   out: n x chunk (block s of out = block r of rank s's in)
 *   broadcast      in: chunk       out: chunk (the root's in)
 *   sendrecv       in: chunk       out: chunk (rank r - 1's in)
 * The size of a case (nccl-tests' convention, so algbw and busbw read the same) names the whole
 * buffer for allgather, reducescatter and alltoall (chunk = size / element / n, rounded down),
 * and one rank's buffer for broadcast and sendrecv (chunk = size / element). */
#ifndef TB_COLL_DATA_H
#define TB_COLL_DATA_H

#include "../allreduce/ar_data.h"
#include "../allreduce/ar_schedule.h"

enum {
    TB_COLL_ALLGATHER = 0,
    TB_COLL_REDUCESCATTER = 1,
    TB_COLL_ALLTOALL = 2,
    TB_COLL_BROADCAST = 3,
    TB_COLL_SENDRECV = 4,
    TB_COLL_COUNT = 5
};

/* Whether the size of a case names the whole buffer (n chunks) rather than one chunk. */
TB_HD int tb_coll_size_is_whole(int coll)
{
    return coll == TB_COLL_ALLGATHER || coll == TB_COLL_REDUCESCATTER || coll == TB_COLL_ALLTOALL;
}

/* The chunk of a case of `bytes` bytes of elem_bytes elements over n ranks (0: the size holds
 * less than one element per rank). */
TB_HD long long tb_coll_chunk(int coll, long long bytes, int elem_bytes, int n)
{
    long long count = bytes / elem_bytes;
    return tb_coll_size_is_whole(coll) ? count / n : count;
}

/* The bytes algbw counts: the whole buffer (n chunks) or one chunk, in whole elements. */
TB_HD long long tb_coll_counted_bytes(int coll, long long chunk, int elem_bytes, int n)
{
    return chunk * elem_bytes * (tb_coll_size_is_whole(coll) ? n : 1);
}

/* nccl-tests' bus-bandwidth factor: (n - 1) / n, 1 for broadcast and sendrecv. */
TB_HD double tb_coll_bus_factor(int coll, int n)
{
    return coll == TB_COLL_BROADCAST || coll == TB_COLL_SENDRECV ? 1.0 : (double)(n - 1) / n;
}

/* Elements of a rank's input and output buffers. */
TB_HD long long tb_coll_in_count(int coll, long long chunk, int n)
{
    return coll == TB_COLL_REDUCESCATTER || coll == TB_COLL_ALLTOALL ? chunk * n : chunk;
}

TB_HD long long tb_coll_out_count(int coll, long long chunk, int n)
{
    return coll == TB_COLL_ALLGATHER || coll == TB_COLL_ALLTOALL ? chunk * n : chunk;
}

/* The exact value of element i of rank `rank`'s output. */
TB_HD int tb_coll_expected(int coll, uint64_t seed, int n, int rank, int op, int root,
                           long long chunk, long long i)
{
    switch (coll) {
    case TB_COLL_ALLGATHER:
        return tb_ar_input(seed, (int)(i / chunk), i % chunk);
    case TB_COLL_REDUCESCATTER:
        return tb_ar_expected(seed, n, op, (long long)rank * chunk + i);
    case TB_COLL_ALLTOALL:
        return tb_ar_input(seed, (int)(i / chunk), (long long)rank * chunk + i % chunk);
    case TB_COLL_BROADCAST:
        return tb_ar_input(seed, root, i);
    default:
        return tb_ar_input(seed, rank == 0 ? n - 1 : rank - 1, i);
    }
}

/* The part [*lo, *hi) of a chunk that block b of `blocks` moves, in whole vectors of vec
 * elements (the last part may end with a partial vector); the same part of every chunk, so
 * block b of every rank handles the same elements. */
TB_HD void tb_coll_part(long long chunk, int vec, int blocks, int b, long long *lo, long long *hi)
{
    tb_ar_split(chunk, blocks, vec, b, lo, hi);
}

/* The rank whose chunk a rank takes at step p (0 .. n - 1): itself first, then round the
 * ranks, so the ranks do not all read one peer at once. */
TB_HD int tb_coll_peer(int rank, int p, int n)
{
    return rank + p < n ? rank + p : rank + p - n;
}

#endif
