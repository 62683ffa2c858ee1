/* cudacheck.h - checks a CUDA runtime call; on failure returns TB_DEVFAIL from the enclosing
 * function with a message naming the call, the error, the file and the line. */
#ifndef TB_CUDACHECK_H
#define TB_CUDACHECK_H

#include <cuda_runtime_api.h>

#include "error.h"

#define TB_CUDA_TRY(call, err)                                                                  \
    do {                                                                                        \
        cudaError_t tb_e_ = (call);                                                             \
        if (tb_e_ != cudaSuccess)                                                               \
            return tb_err_set((err), TB_DEVFAIL, "%s failed: %s (%s) at %s:%d", #call,          \
                              cudaGetErrorName(tb_e_), cudaGetErrorString(tb_e_), __FILE__,     \
                              __LINE__);                                                        \
    } while (0)

#endif
