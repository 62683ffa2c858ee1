#include "keyindex.h"

#include <stdlib.h>
#include <string.h>

void tb_keyindex_init(tb_keyindex *ix)
{
    memset(ix, 0, sizeof *ix);
}

uint64_t tb_keyindex_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t slot_of(tb_keyindex *ix, const char *key, size_t len, uint64_t h)
{
    size_t mask = ix->cap - 1, s = (size_t)(h ^ (h >> 32)) & mask;
    for (;;) {
        ix->probes++;
        if (!ix->keys[s])
            return s;
        if (ix->hashes[s] == h && ix->lens[s] == len) {
            ix->probes++;
            if (memcmp(ix->keys[s], key, len) == 0)
                return s;
        }
        s = (s + 1) & mask;
    }
}

size_t tb_keyindex_get(tb_keyindex *ix, const char *key, size_t len)
{
    if (!ix->cap)
        return TB_KEYINDEX_NONE;
    size_t s = slot_of(ix, key, len, tb_keyindex_hash(key, len));
    return ix->keys[s] ? ix->values[s] : TB_KEYINDEX_NONE;
}

static int resize(tb_keyindex *ix, size_t cap)
{
    tb_keyindex nx = {0};
    nx.cap = cap;
    nx.keys = calloc(cap, sizeof *nx.keys);
    nx.lens = malloc(cap * sizeof *nx.lens);
    nx.hashes = malloc(cap * sizeof *nx.hashes);
    nx.values = malloc(cap * sizeof *nx.values);
    if (!nx.keys || !nx.lens || !nx.hashes || !nx.values) {
        tb_keyindex_free(&nx);
        return -1;
    }
    nx.probes = ix->probes;
    for (size_t i = 0; i < ix->cap; i++) {
        if (!ix->keys[i])
            continue;
        size_t mask = cap - 1, s = (size_t)(ix->hashes[i] ^ (ix->hashes[i] >> 32)) & mask;
        while (nx.keys[s])
            s = (s + 1) & mask;
        nx.keys[s] = ix->keys[i];
        nx.lens[s] = ix->lens[i];
        nx.hashes[s] = ix->hashes[i];
        nx.values[s] = ix->values[i];
    }
    nx.n = ix->n;
    tb_keyindex_free(ix);
    *ix = nx;
    return 0;
}

size_t tb_keyindex_put(tb_keyindex *ix, const char *key, size_t len, size_t value)
{
    if (2 * (ix->n + 1) > ix->cap && resize(ix, ix->cap ? 2 * ix->cap : 64))
        return TB_KEYINDEX_NONE;
    uint64_t h = tb_keyindex_hash(key, len);
    size_t s = slot_of(ix, key, len, h);
    if (ix->keys[s])
        return ix->values[s];
    ix->keys[s] = key;
    ix->lens[s] = len;
    ix->hashes[s] = h;
    ix->values[s] = value;
    ix->n++;
    return value;
}

void tb_keyindex_free(tb_keyindex *ix)
{
    free(ix->keys);
    free(ix->lens);
    free(ix->hashes);
    free(ix->values);
    ix->keys = NULL;
    ix->lens = NULL;
    ix->hashes = NULL;
    ix->values = NULL;
    ix->cap = ix->n = 0;
}
