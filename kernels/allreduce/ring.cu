// ring.cu - ring all-reduce: n chunks, each cut into pieces; block b of every rank carries
// pieces b, b + blocks, ... round the ring. Reduce-scatter (n - 1 steps): rank r adds what
// rank r - 1 wrote into its staging buffer to its own input and writes the sum into rank
// r + 1's staging buffer (P2P stores), then raises rank r + 1's flag for that step.
// All-gather (n - 1 steps): the reduced piece is written straight into rank r + 1's output.
// Only writes cross the links, and each block's pieces flow independently, so the blocks
// pipeline the ring. Schedules: ar_schedule.h.
//
// Each step: thread 0 polls the flag relaxed and takes one acquire fence once it flips; every
// thread issues 4 loads before its first store (4 vectors when forwarding, 2 of its input and
// 2 of the staging buffer when adding: ar_combine); and
// past one piece per block the pieces grow (up to 8 x 32 KiB) rather than the rounds, since
// each round costs 2n - 2 fenced hand-offs. Flags carried in the data (NCCL's LL128) would
// save the hand-offs' fences, but rest on 128-byte stores arriving whole over NVLink, which
// neither the PTX memory model nor the CPU protocol model can vouch for.
//
// Moves 2 (n - 1) / n x size per rank, bandwidth-optimal like NCCL's ring: meant for large
// sizes. Architecture: any (sm_80+), peer access from each rank to the next. Not yet
// measured.
#include "ar_device.cuh"
#include "ar_resident.cuh"

// a piece's base size: 512 threads x one batch of 16-byte vectors (32 KiB)
#define RING_PIECE_BYTES (AR_THREADS * AR_COMBINE_BATCH * 16)

__device__ __forceinline__ void ring_body(const tb_ar_args *a, int DT, int OP)
{
    const int V = 16 / (DT == TB_AR_F32 ? 4 : 2);
    int rank = a->first_rank + (int)blockIdx.y, n = a->nranks;
    int next = rank + 1 < n ? rank + 1 : 0;
    int b = (int)blockIdx.x, blocks = (int)gridDim.x;
    unsigned *epoch = a->epochs[rank] + b;
    unsigned v = tb_ar_epoch_begin(*epoch);
    int pieces = tb_ar_ring_pieces_for(a->count, n, V, RING_PIECE_BYTES / (DT == TB_AR_F32 ? 4 : 2),
                                       blocks, TB_AR_RING_MAX_MULT);
    int rounds = tb_ar_ring_rounds(pieces, blocks);
    // the previous launch has ended on every rank: its staging buffers may be overwritten
    if (!ar_barrier(a, rank, 0, v))
        return;
    for (int q = 0; q < rounds && q * blocks + b < pieces; q++) {
        int p = q * blocks + b;
        unsigned rv = tb_ar_round_epoch(v, q);
        long long lo, hi;
        // reduce-scatter step 0: this rank's own piece starts the sum
        tb_ar_ring_piece(a->count, n, V, pieces, tb_ar_ring_rs_chunk(rank, 0, n), p, &lo, &hi);
        ar_combine(a->in[rank], NULL, a->scratch[next], NULL, lo, hi, DT, OP);
        ar_send(a, next, tb_ar_ring_send_slot(0), rv);
        for (int k = 1; k < n - 1; k++) { // reduce-scatter step k: slot 1 + k
            tb_ar_ring_piece(a->count, n, V, pieces, tb_ar_ring_rs_chunk(rank, k, n), p, &lo, &hi);
            if (!ar_recv(a, rank, tb_ar_ring_recv_slot(k), rv))
                return;
            ar_combine(a->in[rank], a->scratch[rank], a->scratch[next], NULL, lo, hi, DT, OP);
            ar_send(a, next, tb_ar_ring_send_slot(k), rv);
        }
        // the owned chunk: the last partial sum plus this rank's input, kept and sent on
        tb_ar_ring_piece(a->count, n, V, pieces, tb_ar_ring_owned(rank, n), p, &lo, &hi);
        if (!ar_recv(a, rank, tb_ar_ring_recv_slot(n - 1), rv))
            return;
        ar_combine(a->in[rank], a->scratch[rank], a->out[rank], a->out[next], lo, hi, DT, OP);
        ar_send(a, next, tb_ar_ring_send_slot(n - 1), rv);
        for (int j = 1; j < n - 1; j++) { // all-gather step j: slot n + j
            tb_ar_ring_piece(a->count, n, V, pieces, tb_ar_ring_ag_chunk(rank, j, n), p, &lo, &hi);
            if (!ar_recv(a, rank, tb_ar_ring_recv_slot(n - 1 + j), rv))
                return;
            ar_combine(a->out[rank], NULL, a->out[next], NULL, lo, hi, DT, OP);
            ar_send(a, next, tb_ar_ring_send_slot(n - 1 + j), rv);
        }
        if (!ar_recv(a, rank, tb_ar_ring_recv_slot(2 * n - 2), rv)) // the last chunk from r - 1
            return;
    }
    __syncthreads();
    if (threadIdx.x == 0)
        *epoch = tb_ar_epoch_end(v, rounds);
}

#define RING_KERNEL(NAME, DT, OP)                                                              \
    __global__ void __launch_bounds__(AR_THREADS, 1) NAME(tb_ar_args a)                        \
    {                                                                                          \
        ring_body(&a, DT, OP);                                                                 \
    }
AR_INSTANTIATE(RING_KERNEL, ring)

extern "C" long long tb_ar_ring_piece_elems(int dtype)
{
    return RING_PIECE_BYTES / tb_ar_elem_bytes(dtype);
}

extern "C" int tb_ar_ring_blocks(const tb_ar_args *a, int local_ranks)
{
    // one block per base-size piece, within the cap; the kernel grows the pieces past that
    int pieces = tb_ar_ring_pieces(a->count, a->nranks, tb_ar_vec_elems(a->dtype),
                                   tb_ar_ring_piece_elems(a->dtype));
    return ar_blocks_for((long long)pieces * AR_THREADS, a->sm_count, local_ranks);
}

extern "C" cudaError_t tb_ar_ring(const tb_ar_args *a, int local_ranks, cudaStream_t stream)
{
    return ar_launch(ring_kernels, a, tb_ar_ring_blocks(a, local_ranks), local_ranks, stream);
}

extern "C" cudaError_t tb_ar_ring_resident(const tb_ar_args *a, int local_ranks, int *resident,
                                           int *needed)
{
    return ar_resident(ring_kernels, a, tb_ar_ring_blocks(a, local_ranks), local_ranks,
                       resident, needed);
}
