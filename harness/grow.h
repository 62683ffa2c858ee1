/* grow.h - the one way the harness grows an array. */
#ifndef TB_GROW_H
#define TB_GROW_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns items resized to hold at least `need` elements of `elem` bytes, doubling *cap
 * (from 64) as needed and updating it; items itself when it is large enough. Returns NULL
 * when memory runs out, leaving items and *cap as they were. */
void *tb_grow(void *items, size_t *cap, size_t need, size_t elem);

#ifdef __cplusplus
}
#endif
#endif
