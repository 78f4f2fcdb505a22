/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "../../src/vmpack-init/init.h"
#include "guest-protocol.h"

static int parse(const char *text, init_config *c, char *error)
{
        return init_config_parse(text, strlen(text), c, error, 256);
}

static void config_minimal_gets_defaults(void **state)
{
        init_config c;
        char error[256] = "";

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=/usr/bin/app\n", &c, error), 0);
        assert_string_equal(c.root, "/dev/vda");
        assert_int_equal(c.argc, 1);
        assert_string_equal(c.argv[0], "/usr/bin/app");
        assert_null(c.argv[1]);
        assert_string_equal(c.hostname, "vmpack");
        assert_string_equal(c.user, "user");
        assert_int_equal(c.uid, 1000);
        assert_string_equal(c.home, "/home/user");
        assert_string_equal(c.cwd, "/home/user");
        assert_null(c.data);
        assert_int_equal(c.n_env, 0);
        assert_int_equal(c.n_shares, 0);
        assert_false(c.net);
        assert_false(c.debug);
        init_config_free(&c);
}

static void config_full_with_escapes(void **state)
{
        init_config c;
        char error[256] = "";
        const char *text = "version=1\n"
                           "hostname=work-fox\n"
                           "root=/dev/vda\n"
                           "data=/dev/vdb\n"
                           "uid=1001\n"
                           "user=alice\n"
                           "home=/home/alice\n"
                           "cwd=/home/alice/src\n"
                           "arg=sh\n"
                           "arg=-c\n"
                           "arg=printf 'a\\\\b\\n'\n"
                           "env=TERM=xterm-256color\n"
                           "env=GREETING=one=two\n"
                           "share=docs:ro:/home/alice/Documents\n"
                           "share=dl:rw:/home/alice/Down:loads\n"
                           "share=dir1:rw:/home/alice/My Files/Über\\nzwei\n"
                           "net=10.0.2.15/24,10.0.2.2,10.0.2.3\n"
                           "debug=1\n";

        assert_int_equal(parse(text, &c, error), 0);
        assert_string_equal(c.hostname, "work-fox");
        assert_string_equal(c.data, "/dev/vdb");
        assert_int_equal(c.uid, 1001);
        assert_string_equal(c.user, "alice");
        assert_string_equal(c.cwd, "/home/alice/src");
        assert_int_equal(c.argc, 3);
        assert_string_equal(c.argv[2], "printf 'a\\b\n'");
        assert_int_equal(c.n_env, 2);
        assert_string_equal(c.env[1], "GREETING=one=two");
        assert_int_equal(c.n_shares, 3);
        assert_string_equal(c.shares[0].tag, "docs");
        assert_false(c.shares[0].writable);
        assert_string_equal(c.shares[0].path, "/home/alice/Documents");
        assert_true(c.shares[1].writable);
        assert_string_equal(c.shares[1].path, "/home/alice/Down:loads");
        assert_string_equal(c.shares[2].tag, "dir1");
        assert_string_equal(c.shares[2].path, "/home/alice/My Files/Über\nzwei");
        assert_true(c.net);
        assert_string_equal(c.net_address, "10.0.2.15");
        assert_int_equal(c.net_prefix, 24);
        assert_string_equal(c.net_gateway, "10.0.2.2");
        assert_string_equal(c.net_dns, "10.0.2.3");
        assert_true(c.debug);
        init_config_free(&c);
}

static void config_net_without_gateway(void **state)
{
        init_config c;
        char error[256] = "";

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\nnet=192.168.7.2/30,,\n", &c, error), 0);
        assert_string_equal(c.net_address, "192.168.7.2");
        assert_int_equal(c.net_prefix, 30);
        assert_string_equal(c.net_gateway, "");
        assert_string_equal(c.net_dns, "");
        init_config_free(&c);
}

static void config_display_wayland(void **state)
{
        init_config c;
        char error[256] = "";

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\ndisplay=wayland\n", &c, error), 0);
        assert_true(c.display);
        init_config_free(&c);

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\ndisplay=none\n", &c, error), 0);
        assert_false(c.display);
        init_config_free(&c);
}

static void config_audio(void **state)
{
        init_config c;
        char error[256] = "";

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\n", &c, error), 0);
        assert_false(c.audio);
        init_config_free(&c);

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\naudio=1\n", &c, error), 0);
        assert_true(c.audio);
        init_config_free(&c);

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\naudio=0\n", &c, error), 0);
        assert_false(c.audio);
        init_config_free(&c);
}

static void config_gpu(void **state)
{
        init_config c;
        char error[256] = "";

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\n", &c, error), 0);
        assert_false(c.virgl);
        init_config_free(&c);

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\ngpu=virgl\n", &c, error), 0);
        assert_true(c.virgl);
        init_config_free(&c);

        assert_int_equal(parse("version=1\nroot=/dev/vda\narg=a\ngpu=none\n", &c, error), 0);
        assert_false(c.virgl);
        init_config_free(&c);
}

static void config_rejects_invalid(void **state)
{
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                { "version=1\nroot=/dev/vda\narg=a\ncolor=blue\n", "line 4: unknown key 'color'" },
                { "root=/dev/vda\narg=a\n", "version is 0" },
                { "version=2\nroot=/dev/vda\narg=a\n", "version is 2" },
                { "version=1\narg=a\n", "missing key 'root'" },
                { "version=1\nroot=/dev/vda\n", "missing key 'arg'" },
                { "version=1\nroot=/dev/vda\narg=\n", "program) is empty" },
                { "version=1\nroot=/dev/vda\narg=a\\t\n", "line 3: key 'arg': invalid backslash escape" },
                { "version=1\nroot=/dev/vda\narg=a\\\n", "invalid backslash escape" },
                { "version=1\nroot=/dev/vda\narg=a\nuid=0\n", "invalid value for key 'uid'" },
                { "version=1\nroot=/dev/vda\narg=a\nuid=12x\n", "invalid value for key 'uid'" },
                { "version=1\nroot=/dev/vda\narg=a\nuser=Root Admin\n", "invalid value for key 'user'" },
                { "version=1\nroot=dev/vda\narg=a\n", "invalid value for key 'root'" },
                { "version=1\nroot=/dev/vda\narg=a\nshare=t:rx:/mnt\n", "invalid value for key 'share'" },
                { "version=1\nroot=/dev/vda\narg=a\nshare=t:ro:/mnt/../etc\n", "invalid value for key 'share'" },
                { "version=1\nroot=/dev/vda\narg=a\nshare=:ro:/mnt\n", "invalid value for key 'share'" },
                { "version=1\nroot=/dev/vda\narg=a\nshare=t:ro:/\n", "invalid value for key 'share'" },
                { "version=1\nroot=/dev/vda\narg=a\nshare=t:ro:/a\\n/../b\n", "invalid value for key 'share'" },
                { "version=1\nroot=/dev/vda\narg=a\nnet=10.0.2.15,10.0.2.2,10.0.2.3\n", "key 'net'" },
                { "version=1\nroot=/dev/vda\narg=a\nnet=10.0.2.15/33,,\n", "key 'net'" },
                { "version=1\nroot=/dev/vda\narg=a\ndisplay=x11\n", "key 'display'" },
                { "version=1\nroot=/dev/vda\narg=a\nnet=10.0.2.300/24,,\n", "key 'net'" },
                { "version=1\nroot=/dev/vda\narg=a\nenv=NOVALUE\n", "invalid value for key 'env'" },
                { "version=1\nroot=/dev/vda\narg=a\nhostname=-bad\n", "invalid value for key 'hostname'" },
                { "version=1\nroot=/dev/vda\narg=a\ndebug=yes\n", "invalid value for key 'debug'" },
                { "version=1\nroot=/dev/vda\narg=a\naudio=playback\n", "invalid value for key 'audio'" },
                { "version=1\nroot=/dev/vda\narg=a\ngpu=vulkan\n", "invalid value for key 'gpu'" },
                { "version=1\nroot=/dev/vda\nno equals sign\n", "line 3: expected key=value" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                init_config c;
                char error[256] = "";

                assert_int_equal(parse(cases[i].text, &c, error), -1);
                if (!strstr(error, cases[i].message))
                        fail_msg("case %zu: expected \"%s\" in \"%s\"", i, cases[i].message, error);
                assert_null(c.root);
                assert_null(c.argv);
        }
}

static void config_rejects_nul_and_oversize(void **state)
{
        init_config c;
        char error[256] = "";
        size_t big = VP_GUEST_CONFIG_MAX + 1;
        char *text = malloc(big);

        assert_int_equal(init_config_parse("version=1\0x", 11, &c, error, sizeof(error)), -1);
        assert_non_null(strstr(error, "NUL byte"));

        memset(text, '\n', big);
        assert_int_equal(init_config_parse(text, big, &c, error, sizeof(error)), -1);
        assert_non_null(strstr(error, "larger than"));
        free(text);
}

static void config_limits_list_lengths(void **state)
{
        init_config c;
        char error[256] = "";
        size_t size = 64 + (INIT_SHARES_MAX + 1) * 32;
        char *text = malloc(size);
        size_t n = (size_t) snprintf(text, size, "version=1\nroot=/dev/vda\narg=a\n");

        for (int i = 0; i <= INIT_SHARES_MAX; i++)
                n += (size_t) snprintf(text + n, size - n, "share=t%d:ro:/mnt/%d\n", i, i);
        assert_int_equal(init_config_parse(text, n, &c, error, sizeof(error)), -1);
        assert_non_null(strstr(error, "key 'share'"));
        free(text);
}

/* Random edits of a valid configuration: the parser must either reject the text or return
 * a configuration that keeps its invariants. Run under AddressSanitizer, this also catches
 * out-of-bounds reads on malformed input. */
static void config_survives_random_edits(void **state)
{
        static const char seed[] = "version=1\nhostname=h\nroot=/dev/vda\ndata=/dev/vdb\nuid=1001\n"
                                   "user=alice\nhome=/home/alice\ncwd=/x\narg=sh\narg=-c\narg=a\\\\b\\n\n"
                                   "env=A=b\nshare=t:ro:/mnt/x\nshare=u:rw:/a:b\n"
                                   "net=10.0.2.15/24,10.0.2.2,10.0.2.3\ndebug=1\n";
        static const char interesting[] = "=:/\\\n,.0";
        char text[sizeof(seed) + 16];
        unsigned random_state = 12345;

        for (int iteration = 0; iteration < 20000; iteration++) {
                size_t size = sizeof(seed) - 1;
                memcpy(text, seed, size);
                for (int edits = 1 + iteration % 6; edits > 0; edits--) {
                        random_state = random_state * 1103515245u + 12345u;
                        size_t position = (random_state >> 8) % size;
                        char byte = (random_state >> 4) & 1 ? (char) (random_state >> 16)
                                                           : interesting[(random_state >> 16) % 8];
                        if ((random_state >> 24) % 3 == 0 && size > 1) {
                                memmove(text + position, text + position + 1, size - position - 1);
                                size--;
                        } else if ((random_state >> 24) % 3 == 1 && size < sizeof(text)) {
                                memmove(text + position + 1, text + position, size - position);
                                text[position] = byte;
                                size++;
                        } else {
                                text[position] = byte;
                        }
                }

                init_config c;
                char error[256];
                if (init_config_parse(text, size, &c, error, sizeof(error)) < 0) {
                        assert_true(error[0] != '\0');
                        continue;
                }
                assert_non_null(c.root);
                assert_true(c.argc > 0 && c.argv[0][0] != '\0');
                assert_null(c.argv[c.argc]);
                assert_true(c.uid > 0);
                assert_non_null(c.home);
                assert_int_equal(c.home[0], '/');
                init_config_free(&c);
        }
}

/* Quote s and check that jansson parses the result back to expected. */
static void assert_json_round_trip(const char *s, const char *expected)
{
        char quoted[256], document[300];
        json_error_t error;

        init_json_quote(s, quoted, sizeof(quoted));
        snprintf(document, sizeof(document), "[%s]", quoted);
        json_t *parsed = json_loads(document, 0, &error);
        if (!parsed)
                fail_msg("jansson rejected %s: %s", document, error.text);
        assert_string_equal(json_string_value(json_array_get(parsed, 0)), expected);
        json_decref(parsed);
}

static void json_quote_escapes_and_utf8(void **state)
{
        assert_json_round_trip("plain", "plain");
        assert_json_round_trip("quote \" backslash \\ newline \n tab \t", "quote \" backslash \\ newline \n tab \t");
        assert_json_round_trip("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        /* Invalid, overlong and surrogate sequences become '?' per byte. */
        assert_json_round_trip("bad \xff\xfe end", "bad ?? end");
        assert_json_round_trip("cut \xc3", "cut ?");
        assert_json_round_trip("overlong \xc0\xaf", "overlong ??");
        assert_json_round_trip("surrogate \xed\xa0\x80", "surrogate ???");
}

static void json_quote_truncates_to_fit(void **state)
{
        char quoted[16];
        char tiny[2] = "x";

        init_json_quote("a long message that does not fit", quoted, sizeof(quoted));
        assert_true(strlen(quoted) < sizeof(quoted));
        assert_int_equal(quoted[0], '"');
        assert_int_equal(quoted[strlen(quoted) - 1], '"');

        /* A multi-byte character is never cut in half. */
        init_json_quote("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", quoted, sizeof(quoted));
        assert_int_equal((strlen(quoted) - 2) % 3, 0);

        init_json_quote("x", tiny, sizeof(tiny));
        assert_string_equal(tiny, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(config_minimal_gets_defaults),
                cmocka_unit_test(config_full_with_escapes),
                cmocka_unit_test(config_display_wayland),
                cmocka_unit_test(config_audio),
                cmocka_unit_test(config_gpu),
                cmocka_unit_test(config_net_without_gateway),
                cmocka_unit_test(config_rejects_invalid),
                cmocka_unit_test(config_rejects_nul_and_oversize),
                cmocka_unit_test(config_limits_list_lengths),
                cmocka_unit_test(config_survives_random_edits),
                cmocka_unit_test(json_quote_escapes_and_utf8),
                cmocka_unit_test(json_quote_truncates_to_fit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
