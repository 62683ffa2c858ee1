/* keyindex.h - a hash map from a string key to a row index (open addressing, FNV-1a), so that
 * matching rows by their case key costs O(1) expected per row and a table over N rows is
 * built in O(N).
 *
 * Promise: tb_keyindex_put and tb_keyindex_get visit O(1) slots per call on average, at any
 * size (the table is kept at most half full); each slot visited and each key comparison is
 * counted in `probes`, so a test can assert that the work per row does not grow with the
 * number of rows. Keys are not copied: the caller keeps every key's text alive and unchanged
 * while the index is in use. */
#ifndef TB_KEYINDEX_H
#define TB_KEYINDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_KEYINDEX_NONE ((size_t)-1)

typedef struct {
    const char **keys;    /* per slot: the key, or NULL for an empty slot */
    size_t *lens;
    uint64_t *hashes;
    size_t *values;
    size_t cap;           /* slots: a power of 2, or 0 before the first put */
    size_t n;             /* keys stored */
    unsigned long long probes; /* slots visited and keys compared, over the index's life */
} tb_keyindex;

/* An empty index (no memory held until the first put). */
void tb_keyindex_init(tb_keyindex *ix);

/* The value stored under key (len bytes, not necessarily terminated), or TB_KEYINDEX_NONE. */
size_t tb_keyindex_get(tb_keyindex *ix, const char *key, size_t len);

/* Stores value under key unless the key is there already. Returns the value now stored
 * under the key (the earlier one when it was there), or TB_KEYINDEX_NONE when host memory
 * runs out (the index is unchanged then). */
size_t tb_keyindex_put(tb_keyindex *ix, const char *key, size_t len, size_t value);

void tb_keyindex_free(tb_keyindex *ix);

/* FNV-1a of len bytes: the hash the index uses. */
uint64_t tb_keyindex_hash(const char *key, size_t len);

#ifdef __cplusplus
}
#endif
#endif
