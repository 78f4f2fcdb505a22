/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's decoding of guest agent lines and of QMP output (lib/vmrun-loop.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "vmrun-internal.h"

static void agent_ready_event(void **state)
{
        vp_agent_event e;

        assert_int_equal(vp_agent_decode("{\"event\":\"ready\"}", &e), 0);
        assert_int_equal(e.type, VP_AGENT_EVENT_READY);
        assert_null(e.message);
}

static void agent_exit_event(void **state)
{
        vp_agent_event e;

        assert_int_equal(vp_agent_decode("{\"event\":\"exit\",\"status\":3,\"stdout_bytes\":1234,"
                                         "\"stderr_bytes\":9223372036854775807}",
                                         &e),
                         0);
        assert_int_equal(e.type, VP_AGENT_EVENT_EXIT);
        assert_int_equal(e.status, 3);
        assert_int_equal(e.stdout_bytes, 1234);
        assert_int_equal(e.stderr_bytes, INT64_MAX);
        assert_null(e.message);
}

static void agent_exit_rejects_bad_fields(void **state)
{
        static const char *const lines[] = {
                "{\"event\":\"exit\",\"status\":256,\"stdout_bytes\":0,\"stderr_bytes\":0}",
                "{\"event\":\"exit\",\"status\":-1,\"stdout_bytes\":0,\"stderr_bytes\":0}",
                "{\"event\":\"exit\",\"status\":0,\"stdout_bytes\":-1,\"stderr_bytes\":0}",
                "{\"event\":\"exit\",\"status\":0,\"stdout_bytes\":0}",
                "{\"event\":\"exit\",\"status\":\"0\",\"stdout_bytes\":0,\"stderr_bytes\":0}",
                "{\"event\":\"exit\",\"status\":0.5,\"stdout_bytes\":0,\"stderr_bytes\":0}",
        };
        vp_agent_event e = { .status = 42 };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                assert_int_equal(vp_agent_decode(lines[i], &e), -EBADMSG);
                assert_int_equal(e.status, 42);
        }
}

static void agent_error_event(void **state)
{
        vp_agent_event e;

        assert_int_equal(vp_agent_decode("{\"event\":\"error\",\"status\":127,\"reason\":\"app-not-found\","
                                         "\"message\":\"/usr/bin/app: not found\"}",
                                         &e),
                         0);
        assert_int_equal(e.type, VP_AGENT_EVENT_ERROR);
        assert_int_equal(e.status, 127);
        assert_string_equal(e.message, "/usr/bin/app: not found");
        free(e.message);
}

static void agent_error_defaults(void **state)
{
        vp_agent_event e;

        /* Without a valid status the VM failed. Without a message the reason is named. */
        assert_int_equal(vp_agent_decode("{\"event\":\"error\",\"status\":0,\"reason\":\"config\"}", &e), 0);
        assert_int_equal(e.status, VP_STATUS_VM_FAILURE);
        assert_string_equal(e.message, "vmpack-init failed (reason: config)");
        free(e.message);

        assert_int_equal(vp_agent_decode("{\"event\":\"error\"}", &e), 0);
        assert_string_equal(e.message, "vmpack-init failed (reason: none given)");
        free(e.message);
}

static void agent_error_message_cut(void **state)
{
        char line[3000];
        vp_agent_event e;

        int n = snprintf(line, sizeof(line), "{\"event\":\"error\",\"status\":1,\"message\":\"");
        memset(line + n, 'x', 2000);
        strcpy(line + n + 2000, "\"}");

        assert_int_equal(vp_agent_decode(line, &e), 0);
        assert_int_equal(strlen(e.message), 1024);
        free(e.message);
}

static void agent_rejects_malformed(void **state)
{
        static const char *const lines[] = {
                "",
                "not json",
                "[\"ready\"]",
                "{\"event\":1}",
                "{\"event\":\"reboot\"}",
                "{\"request\":\"ready\"}",
                "{\"event\":\"ready\"",
        };
        vp_agent_event e = { .type = VP_AGENT_EVENT_NONE };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                assert_int_equal(vp_agent_decode(lines[i], &e), -EBADMSG);
                assert_int_equal(e.type, VP_AGENT_EVENT_NONE);
        }
}

static void qmp_counts_returns(void **state)
{
        assert_int_equal(vp_qmp_count_returns(""), 0);
        assert_int_equal(vp_qmp_count_returns("{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n"), 0);
        assert_int_equal(vp_qmp_count_returns("{\"return\": {}}\r\n"), 1);
        assert_int_equal(vp_qmp_count_returns("{\"return\": {}}\r\n{\"timestamp\": {\"seconds\": 1}, "
                                              "\"event\": \"SHUTDOWN\"}\r\n{\"return\": {}}\r\n"),
                         2);
        assert_int_equal(vp_qmp_count_returns("{\"error\": {\"class\": \"CommandNotFound\"}}\r\n"), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(agent_ready_event),
                cmocka_unit_test(agent_exit_event),
                cmocka_unit_test(agent_exit_rejects_bad_fields),
                cmocka_unit_test(agent_error_event),
                cmocka_unit_test(agent_error_defaults),
                cmocka_unit_test(agent_error_message_cut),
                cmocka_unit_test(agent_rejects_malformed),
                cmocka_unit_test(qmp_counts_returns),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
