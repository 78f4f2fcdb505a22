/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util.h"

static void size_suffixes(void **state)
{
        uint64_t bytes = 0;

        assert_int_equal(vp_parse_size("512M", 0, &bytes), 0);
        assert_int_equal(bytes, 512ULL << 20);
        assert_int_equal(vp_parse_size("2G", 0, &bytes), 0);
        assert_int_equal(bytes, 2ULL << 30);
        assert_int_equal(vp_parse_size("64", 1 << 20, &bytes), 0);
        assert_int_equal(bytes, 64ULL << 20);
        assert_int_equal(vp_parse_size("1KiB", 0, &bytes), 0);
        assert_int_equal(bytes, 1024);
}

static void size_rejects_garbage(void **state)
{
        uint64_t bytes = 7;

        assert_int_equal(vp_parse_size("", 0, &bytes), -EINVAL);
        assert_int_equal(vp_parse_size("-1M", 0, &bytes), -EINVAL);
        assert_int_equal(vp_parse_size("12X", 0, &bytes), -EINVAL);
        assert_int_equal(vp_parse_size("M", 0, &bytes), -EINVAL);
        assert_int_equal(vp_parse_size("99999999999999999999T", 0, &bytes), -EINVAL);
        assert_int_equal(vp_parse_size("99999999999T", 0, &bytes), -ERANGE);
        assert_int_equal(bytes, 7);
}

static void strv_join_and_contains(void **state)
{
        _cleanup_strv_free_ char **v = NULL;
        _cleanup_free_ char *joined = NULL;

        assert_int_equal(strv_extend(&v, "a"), 0);
        assert_int_equal(strv_extendf(&v, "b%d", 2), 0);
        assert_int_equal(strv_length(v), 2);
        assert_true(strv_contains(v, "b2"));
        assert_false(strv_contains(v, "c"));
        joined = strv_join(v, ";");
        assert_string_equal(joined, "a;b2");
}

static void error_prefix_nests(void **state)
{
        vp_error err = { 0 };

        assert_int_equal(vp_error_set(&err, -ENOENT, "inner %s", "cause"), -ENOENT);
        assert_int_equal(vp_error_prefix(&err, "outer"), -ENOENT);
        assert_string_equal(err.message, "outer: inner cause");
        assert_int_equal(vp_error_set_errno(&err, -ENOENT, "x"), -ENOENT);
        assert_string_equal(err.message, "x: No such file or directory");
}

static void sha256_known_value(void **state)
{
        char hex[65];

        vp_sha256_buffer("abc", 3, hex);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(size_suffixes),
                cmocka_unit_test(size_rejects_garbage),
                cmocka_unit_test(strv_join_and_contains),
                cmocka_unit_test(error_prefix_nests),
                cmocka_unit_test(sha256_known_value),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
