#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "keyindex.h"

Test(keyindex, finds_what_was_put_and_keeps_the_first_value)
{
    tb_keyindex ix;
    tb_keyindex_init(&ix);
    cr_assert_eq(tb_keyindex_get(&ix, "a", 1), TB_KEYINDEX_NONE, "empty index");
    cr_assert_eq(tb_keyindex_put(&ix, "membw|copy", 10, 7), 7);
    cr_assert_eq(tb_keyindex_put(&ix, "membw|copy", 10, 9), 7, "the first value stays");
    cr_assert_eq(tb_keyindex_get(&ix, "membw|copy", 10), 7);
    cr_assert_eq(tb_keyindex_get(&ix, "membw|cop", 9), TB_KEYINDEX_NONE, "a prefix is no match");
    /* keys are len bytes, not strings: a key may hold a NUL and need no terminator */
    cr_assert_eq(tb_keyindex_put(&ix, "x\0y", 3, 1), 1);
    cr_assert_eq(tb_keyindex_put(&ix, "x\0z", 3, 2), 2);
    cr_assert_eq(tb_keyindex_get(&ix, "x\0yQQQ", 3), 1);
    cr_assert_eq(ix.n, 3);
    tb_keyindex_free(&ix);
    cr_assert_eq(tb_keyindex_get(&ix, "membw|copy", 10), TB_KEYINDEX_NONE, "freed: empty");
}

/* 100,000 keys of one shape (as case keys are) are all found again, at about one or two slots
 * per call: the promise of keyindex.h. */
Test(keyindex, many_similar_keys_cost_a_few_probes_each)
{
    enum { N = 100000 };
    static char keys[N][40];
    tb_keyindex ix;
    tb_keyindex_init(&ix);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "membw|copy|fp32|bytes=%zu|0", 4096 + 64 * i);
        cr_assert_eq(tb_keyindex_put(&ix, keys[i], strlen(keys[i]), i), i);
    }
    unsigned long long before = ix.probes;
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(tb_keyindex_get(&ix, keys[i], strlen(keys[i])), i);
    double per_get = (double)(ix.probes - before) / N;
    cr_assert(per_get >= 2.0 && per_get < 4.0, "%.2f probes per lookup", per_get);
    cr_assert(ix.cap >= 2 * ix.n, "kept at most half full: %zu of %zu", ix.n, ix.cap);
    tb_keyindex_free(&ix);
}
