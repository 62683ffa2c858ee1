/* mm_storage.h - the element types matmul stores, and reading and rounding them, shared by
 * the device fill/check kernels and the host reference so both see the same values. */
#ifndef TB_MM_STORAGE_H
#define TB_MM_STORAGE_H

#include <stdint.h>

#include "../tb_dtype.h"

enum { TB_MM_F32 = 0, TB_MM_BF16 = 1, TB_MM_F16 = 2, TB_MM_E4M3 = 3 };

/* Element i of an array of the storage type, as fp32 (exact). */
TB_HD float tb_mm_load(int storage, const void *p, int64_t i)
{
    switch (storage) {
    case TB_MM_BF16: return tb_bf16_to_f32(((const uint16_t *)p)[i]);
    case TB_MM_F16: return tb_f16_to_f32(((const uint16_t *)p)[i]);
    case TB_MM_E4M3: return tb_e4m3_to_f32(((const uint8_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

/* x rounded to the storage type (nearest even), as fp32. */
TB_HD float tb_mm_round(int storage, float x)
{
    switch (storage) {
    case TB_MM_BF16: return tb_bf16_to_f32(tb_f32_to_bf16(x));
    case TB_MM_F16: return tb_f16_to_f32(tb_f32_to_f16(x));
    case TB_MM_E4M3: return tb_e4m3_to_f32(tb_f32_to_e4m3(x));
    default: return x;
    }
}

#endif
