/* The TRAINBENCH_TEST_FAULT names: each parses to its kind, arguments are checked, and a bad
 * value is a usage error naming it and the accepted names. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"

Test(fault, absent_is_none)
{
    tb_fault f;
    cr_assert_eq(tb_fault_parse(NULL, &f, NULL), TB_OK);
    cr_assert_eq(f.kind, TB_FAULT_NONE);
    cr_assert_eq(tb_fault_parse("", &f, NULL), TB_OK);
    cr_assert_eq(f.kind, TB_FAULT_NONE);
    cr_assert_not(tb_fault_is(NULL, TB_FAULT_SLOW));
}

Test(fault, every_name_round_trips)
{
    for (int k = 1; k < TB_FAULT_KIND_COUNT; k++) {
        char text[64];
        snprintf(text, sizeof text, "%s%s", tb_fault_name((tb_fault_kind)k),
                 k == TB_FAULT_SLOW ? ":10"
                 : k == TB_FAULT_SLOW_RANK || k == TB_FAULT_SLOW_DEVICE ? ":1" : "");
        tb_fault f;
        tb_err err;
        cr_assert_eq(tb_fault_parse(text, &f, &err), TB_OK, "%s: %s", text, err.msg);
        cr_assert_eq(f.kind, (tb_fault_kind)k, "%s", text);
        cr_assert(tb_fault_is(&f, (tb_fault_kind)k));
    }
}

Test(fault, arguments)
{
    tb_fault f;
    cr_assert_eq(tb_fault_parse("late-corruption", &f, NULL), TB_OK);
    cr_assert_eq(f.late_after, TB_FAULT_LATE_DEFAULT);
    cr_assert_eq(tb_fault_parse("late-corruption:7", &f, NULL), TB_OK);
    cr_assert_eq(f.late_after, 7);
    cr_assert_eq(tb_fault_parse("slow:100", &f, NULL), TB_OK);
    cr_assert_float_eq(f.slow_pct, 100.0, 1e-12);
    cr_assert_eq(tb_fault_parse("slow:2.5", &f, NULL), TB_OK);
    cr_assert_float_eq(f.slow_pct, 2.5, 1e-12);
    cr_assert_eq(tb_fault_parse("slow-rank:3", &f, NULL), TB_OK);
    cr_assert_eq(f.kind, TB_FAULT_SLOW_RANK);
    cr_assert_eq(f.target, 3);
    cr_assert_eq(tb_fault_parse("slow-device:0", &f, NULL), TB_OK);
    cr_assert_eq(f.kind, TB_FAULT_SLOW_DEVICE);
    cr_assert_eq(f.target, 0);
    cr_assert_float_eq(f.slow_pct, 100.0, 1e-12);
}

Test(fault, bad_values_name_themselves)
{
    const char *bad[] = {"attn-drop",  "slow",         "slow:0", "slow:-5", "slow:x",
                         "slow:10%",   "late-corruption:-1", "late-corruption:2x",
                         "attn-scale:3", "ATTN-SCALE", " attn-scale", "slow-rank", "slow-rank:-1",
                         "slow-rank:x", "slow-device", "slow-device:1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tb_fault f;
        tb_err err;
        cr_assert_eq(tb_fault_parse(bad[i], &f, &err), TB_USAGE, "%s accepted", bad[i]);
        cr_assert_eq(f.kind, TB_FAULT_NONE);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        cr_assert(strstr(err.msg, quoted), "%s", err.msg);
        cr_assert(strstr(err.msg, "TRAINBENCH_TEST_FAULT"), "%s", err.msg);
        cr_assert(strstr(err.msg, "mm-drop-kslice"), "%s", err.msg);
    }
}
