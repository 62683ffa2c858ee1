/* membw_ref.h - what each STREAM operation computes, shared by the host reference, the host
 * implementation and the device check, so all three agree bit for bit. */
#ifndef TB_MEMBW_REF_H
#define TB_MEMBW_REF_H

#include <math.h>

#include "../tb_random.h"

enum { TB_MEMBW_COPY = 0, TB_MEMBW_SCALE = 1, TB_MEMBW_ADD = 2, TB_MEMBW_TRIAD = 3 };

/* STREAM's scalar */
#define TB_MEMBW_SCALAR 3.0f

/* copy z = x; scale z = s*x; add z = x + y; triad z = x + s*y, one fused multiply-add (fmaf
 * is correctly rounded on host and device alike). */
TB_HD float tb_membw_expected(int op, float x, float y, float s)
{
    switch (op) {
    case TB_MEMBW_SCALE: return s * x;
    case TB_MEMBW_ADD: return x + y;
    case TB_MEMBW_TRIAD: return fmaf(s, y, x);
    default: return x;
    }
}

#endif
