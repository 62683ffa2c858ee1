// ar_resident.cuh - whether every block of an all-reduce launch can be resident at once.
// The ranks' blocks wait on each other's flags: a block that cannot be scheduled until
// another finishes never is, and the launch spins until the watchdog. The occupancy API
// answers for this kernel's registers, threads and shared memory on the current device.
#ifndef TB_AR_RESIDENT_CUH
#define TB_AR_RESIDENT_CUH

#include "ar_device.cuh"

// *resident: blocks of table[dt * 3 + op] the current device holds at once (blocks per SM
// x SMs); *needed: the launch's blocks (blocks per rank x local ranks).
static inline cudaError_t ar_resident(void (*const table[9])(tb_ar_args), const tb_ar_args *a,
                                      int blocks, int local_ranks, int *resident, int *needed)
{
    *resident = 0;
    *needed = blocks * local_ranks;
    if (a->dtype < 0 || a->dtype > 2 || a->op < 0 || a->op > 2)
        return cudaErrorInvalidValue;
    int dev = 0, sms = 0, per_sm = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess)
        e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, table[a->dtype * 3 + a->op],
                                                          AR_THREADS, 0);
    if (e == cudaSuccess)
        *resident = per_sm * sms;
    return e;
}

#endif
