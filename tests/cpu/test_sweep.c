#include <criterion/criterion.h>
#include <string.h>

#include "sweep.h"

static tb_sweep parse_ok(const char *spec)
{
    tb_sweep s;
    tb_err err = {{0}};
    tb_status st = tb_sweep_parse(spec, "--bytes", 1, &s, &err);
    cr_assert_eq(st, TB_OK, "'%s' should parse: %s", spec, err.msg);
    return s;
}

Test(sweep, list)
{
    tb_sweep s = parse_ok("4096,8192");
    cr_assert_eq(s.count, 2);
    cr_assert_eq(s.values[0], 4096);
    cr_assert_eq(s.values[1], 8192);
    tb_sweep_free(&s);
}

Test(sweep, geometric_8_to_8G)
{
    tb_sweep s = parse_ok("8:8G:x2");
    cr_assert_eq(s.count, 31); /* 2^3 .. 2^33 */
    cr_assert_eq(s.values[0], 8);
    cr_assert_eq(s.values[1], 16);
    cr_assert_eq(s.values[30], 8LL << 30);
    tb_sweep_free(&s);
}

Test(sweep, geometric_stops_at_or_below_end)
{
    tb_sweep s = parse_ok("3:100:x3");
    cr_assert_eq(s.count, 4); /* 3 9 27 81 */
    cr_assert_eq(s.values[3], 81);
    tb_sweep_free(&s);
}

Test(sweep, arithmetic)
{
    tb_sweep s = parse_ok("1K:64K:+1K");
    cr_assert_eq(s.count, 64);
    cr_assert_eq(s.values[0], 1024);
    cr_assert_eq(s.values[1], 2048);
    cr_assert_eq(s.values[63], 65536);
    tb_sweep_free(&s);
}

Test(sweep, suffixes_are_binary_and_case_insensitive)
{
    tb_sweep s = parse_ok("1K,1k,1M,2g,1T,7");
    cr_assert_eq(s.count, 6);
    cr_assert_eq(s.values[0], 1024);
    cr_assert_eq(s.values[1], 1024);
    cr_assert_eq(s.values[2], 1048576);
    cr_assert_eq(s.values[3], 2LL << 30);
    cr_assert_eq(s.values[4], 1LL << 40);
    cr_assert_eq(s.values[5], 7);
    tb_sweep_free(&s);
}

Test(sweep, ranges_inside_lists)
{
    tb_sweep s = parse_ok("1K:4K:x2,16K");
    cr_assert_eq(s.count, 4);
    cr_assert_eq(s.values[2], 4096);
    cr_assert_eq(s.values[3], 16384);
    tb_sweep_free(&s);
}

Test(sweep, single_point_range)
{
    tb_sweep s = parse_ok("8:8:x2");
    cr_assert_eq(s.count, 1);
    cr_assert_eq(s.values[0], 8);
    tb_sweep_free(&s);
}

Test(sweep, plain_numbers_reject_suffixes)
{
    tb_sweep s;
    tb_err err;
    cr_assert_eq(tb_sweep_parse("4K", "--heads", 0, &s, &err), TB_USAGE);
    cr_assert(strstr(err.msg, "'4K'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "--heads"), "%s", err.msg);
}

/* Each bad input fails with TB_USAGE and a message naming the option and the bad text. */
static void expect_bad(const char *spec, const char *named)
{
    tb_sweep s;
    tb_err err = {{0}};
    tb_status st = tb_sweep_parse(spec, "--bytes", 1, &s, &err);
    cr_assert_eq(st, TB_USAGE, "'%s' must be rejected", spec);
    cr_assert_eq(s.count, 0);
    cr_assert_null(s.values);
    cr_assert(strstr(err.msg, "--bytes"), "message names the option: %s", err.msg);
    cr_assert(strstr(err.msg, named), "message names '%s': %s", named, err.msg);
}

Test(sweep, zero) { expect_bad("0", "'0'"); }
Test(sweep, negative) { expect_bad("-1", "'-1'"); }
Test(sweep, start_above_end) { expect_bad("8:4:x2", "'8:4:x2'"); }
Test(sweep, factor_one) { expect_bad("1:8:x1", "'1:8:x1'"); }
Test(sweep, factor_zero) { expect_bad("8:8G:x0", "'8:8G:x0'"); }
Test(sweep, unknown_suffix) { expect_bad("12Q", "'12Q'"); }
Test(sweep, float_exponent) { expect_bad("1e30", "'1e30'"); }
Test(sweep, overflowing_digits) { expect_bad("99999999999999999999", "too large"); }
Test(sweep, overflowing_suffix) { expect_bad("8388608T", "too large"); }
Test(sweep, empty) { expect_bad("", "empty"); }
Test(sweep, empty_item) { expect_bad("1,,2", "empty item"); }
Test(sweep, fraction) { expect_bad("1.5K", "'1.5K'"); }
Test(sweep, missing_step) { expect_bad("4:8", "'4:8'"); }
Test(sweep, bad_step) { expect_bad("8:16:y2", "'y2'"); }
Test(sweep, zero_step) { expect_bad("1:8:+0", "'0'"); }
Test(sweep, too_many_points) { expect_bad("1:1G:+1", "more than"); }

Test(sweep, format_size)
{
    char b[32];
    cr_assert_str_eq(tb_sweep_format_size(4096, b, sizeof b), "4K");
    cr_assert_str_eq(tb_sweep_format_size(1536, b, sizeof b), "1536");
    cr_assert_str_eq(tb_sweep_format_size(3 << 20, b, sizeof b), "3M");
    cr_assert_str_eq(tb_sweep_format_size(1LL << 32, b, sizeof b), "4G");
    cr_assert_str_eq(tb_sweep_format_size(1LL << 42, b, sizeof b), "4T");
    cr_assert_str_eq(tb_sweep_format_size(8, b, sizeof b), "8");
}
