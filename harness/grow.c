#include "grow.h"

#include <stdlib.h>

void *tb_grow(void *items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return items;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(items, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}
