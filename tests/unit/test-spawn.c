/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running commands with lib/spawn.c: exit statuses, signals, output lines and the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "subprocess.h"

typedef struct collected {
        char **lines;
} collected;

static void collect_line(const char *line, void *userdata)
{
        collected *c = userdata;

        assert_int_equal(strv_extend(&c->lines, line), 0);
}

static void exit_status_reported(void **state)
{
        char *argv[] = { "sh", "-c", "exit 3", NULL };
        vp_spawn_result result;
        char text[64];
        vp_error err = {};

        assert_int_equal(vp_spawn_run(argv, NULL, &result, &err), 0);
        assert_true(result.exited);
        assert_int_equal(result.exit_status, 3);
        vp_spawn_result_describe(&result, text, sizeof(text));
        assert_string_equal(text, "exit status 3");

        assert_int_equal(vp_spawn_check(argv, NULL, &err), -EIO);
        assert_string_equal(err.message, "sh failed: exit status 3");
}

static void signal_reported(void **state)
{
        char *argv[] = { "sh", "-c", "kill -KILL $$", NULL };
        vp_spawn_result result;
        char text[64];
        vp_error err = {};

        assert_int_equal(vp_spawn_run(argv, NULL, &result, &err), 0);
        assert_false(result.exited);
        assert_int_equal(result.signal, SIGKILL);
        vp_spawn_result_describe(&result, text, sizeof(text));
        assert_non_null(strstr(text, "killed by signal 9"));
}

static void missing_program(void **state)
{
        char *argv[] = { "vmpack-test-no-such-program", NULL };
        vp_error err = {};

        assert_int_equal(vp_spawn_check(argv, NULL, &err), -ENOENT);
        assert_non_null(strstr(err.message, "vmpack-test-no-such-program: command not found"));
}

static void lines_and_log(void **state)
{
        char log_path[] = "/tmp/vmpack-test-spawn.XXXXXX";
        int log_fd = mkstemp(log_path);
        char *argv[] = { "sh", "-c", "printf 'one\\ntwo\\rthree'; echo error >&2; printf 'no newline'", NULL };
        vp_spawn_options opts = VP_SPAWN_OPTIONS_INIT;
        collected c = {};
        _cleanup_free_ char *logged = NULL;
        vp_error err = {};

        assert_true(log_fd >= 0);
        opts.log_fd = log_fd;
        opts.on_line = collect_line;
        opts.userdata = &c;
        assert_int_equal(vp_spawn_check(argv, &opts, &err), 0);

        /* stdout and stderr arrive through separate pipes, so only each stream keeps its order. */
        assert_int_equal(strv_length(c.lines), 4);
        assert_true(strv_contains(c.lines, "one"));
        assert_true(strv_contains(c.lines, "two"));
        assert_true(strv_contains(c.lines, "error"));
        assert_true(strv_contains(c.lines, "threeno newline"));

        assert_int_equal(vp_read_file(log_path, 4096, &logged, NULL, &err), 0);
        assert_non_null(strstr(logged, "one\n"));
        assert_non_null(strstr(logged, "error\n"));
        close(log_fd);
        unlink(log_path);
        strv_free(c.lines);
}

static void stdout_to_fd_and_env(void **state)
{
        char path[] = "/tmp/vmpack-test-spawn-out.XXXXXX";
        int fd = mkstemp(path);
        char *argv[] = { "sh", "-c", "echo \"$VMPACK_TEST_VALUE\"", NULL };
        char *env[] = { "VMPACK_TEST_VALUE=from extra_env", NULL };
        vp_spawn_options opts = VP_SPAWN_OPTIONS_INIT;
        _cleanup_free_ char *output = NULL;
        vp_error err = {};

        assert_true(fd >= 0);
        opts.stdout_fd = fd;
        opts.extra_env = env;
        assert_int_equal(vp_spawn_check(argv, &opts, &err), 0);
        assert_int_equal(vp_read_file(path, 4096, &output, NULL, &err), 0);
        assert_string_equal(output, "from extra_env\n");
        close(fd);
        unlink(path);
}

static void cancel_on_alarm(int sig)
{
        vp_spawn_cancel(SIGTERM);
}

/* Keep last: cancellation cannot be undone in this process. */
static void cancel_stops_running_child(void **state)
{
        char *argv[] = { "sleep", "30", NULL };
        struct sigaction sa = { .sa_handler = cancel_on_alarm };
        vp_spawn_result result = {};
        vp_error err = {};
        time_t start = time(NULL);

        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        alarm(1);
        assert_int_equal(vp_spawn_run(argv, NULL, &result, &err), -EINTR);
        assert_true(time(NULL) - start < 10);
        assert_false(result.exited);
        assert_int_equal(result.signal, SIGTERM);
        assert_non_null(strstr(err.message, "sleep: interrupted by signal 15"));

        /* Later children are not started at all. */
        assert_true(vp_spawn_cancelled());
        assert_int_equal(vp_spawn_run(argv, NULL, &result, &err), -EINTR);
        assert_non_null(strstr(err.message, "not started"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(exit_status_reported),
                cmocka_unit_test(signal_reported),
                cmocka_unit_test(missing_program),
                cmocka_unit_test(lines_and_log),
                cmocka_unit_test(stdout_to_fd_and_env),
                cmocka_unit_test(cancel_stops_running_child),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
