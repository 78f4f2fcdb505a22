/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's guest console log: its size cap and the tail shown when a VM fails
 * (lib/vmrun-loop.c, lib/vmrun.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmrun-internal.h"

static char *temp_file(int *ret_fd)
{
        char *path = strdup("/tmp/test-console-XXXXXX");

        assert_non_null(path);
        *ret_fd = mkstemp(path);
        assert_true(*ret_fd >= 0);
        return path;
}

static char *read_file(const char *path, size_t *ret_size)
{
        struct stat st;
        int fd = open(path, O_RDONLY);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        char *data = malloc((size_t) st.st_size + 1);
        assert_non_null(data);
        assert_int_equal(read(fd, data, (size_t) st.st_size), st.st_size);
        data[st.st_size] = '\0';
        close(fd);
        *ret_size = (size_t) st.st_size;
        return data;
}

/* Byte i of the test stream: a pattern that differs at each offset modulo 251. */
static char stream_byte(uint64_t i)
{
        return (char) ('a' + (i % 251) % 26);
}

static void write_stream(vm_attempt *a, uint64_t total, size_t chunk)
{
        char *buffer = malloc(chunk);
        uint64_t done = 0;

        assert_non_null(buffer);
        while (done < total) {
                size_t n = total - done < chunk ? (size_t) (total - done) : chunk;
                for (size_t i = 0; i < n; i++)
                        buffer[i] = stream_byte(done + i);
                vp_run_console_append(a, buffer, n);
                done += n;
        }
        free(buffer);
}

static void check_cap(uint64_t total, size_t chunk)
{
        int fd;
        char *path = temp_file(&fd);
        vm_attempt a = { .console_log_fd = fd, .console_ring = malloc(VP_CONSOLE_LOG_TAIL) };
        size_t size;

        assert_non_null(a.console_ring);
        write_stream(&a, total, chunk);
        vp_run_console_flush(&a);
        char *data = read_file(path, &size);

        uint64_t left_out = total > VP_CONSOLE_LOG_HEAD + VP_CONSOLE_LOG_TAIL
                                    ? total - VP_CONSOLE_LOG_HEAD - VP_CONSOLE_LOG_TAIL
                                    : 0;
        char marker[128] = "";
        if (left_out)
                snprintf(marker, sizeof(marker),
                         "\n[vmpack: %" PRIu64 " bytes of console output left out]\n", left_out);
        assert_int_equal(size, total - left_out + strlen(marker));

        /* The head, the marker, then the stream's last bytes. */
        size_t head = total < VP_CONSOLE_LOG_HEAD ? (size_t) total : VP_CONSOLE_LOG_HEAD;
        for (size_t i = 0; i < head; i++)
                assert_int_equal(data[i], stream_byte(i));
        assert_memory_equal(data + head, marker, strlen(marker));
        size_t tail = size - head - strlen(marker);
        for (size_t i = 0; i < tail; i++)
                assert_int_equal(data[head + strlen(marker) + i], stream_byte(total - tail + i));

        free(data);
        free(a.console_ring);
        close(fd);
        unlink(path);
        free(path);
}

static void console_log_small_is_whole(void **state)
{
        check_cap(1000, 100);
        check_cap(VP_CONSOLE_LOG_HEAD + 1000, 4096);
}

static void console_log_flood_is_capped(void **state)
{
        check_cap(VP_CONSOLE_LOG_HEAD + VP_CONSOLE_LOG_TAIL, 65536);
        check_cap(3 * 1024 * 1024 + 17, 65536);
        check_cap(3 * 1024 * 1024 + 17, 1000);
        /* One write longer than the ring. */
        check_cap(2 * 1024 * 1024, 1024 * 1024);
}

static void console_log_flushed_twice(void **state)
{
        int fd;
        char *path = temp_file(&fd);
        vm_attempt a = { .console_log_fd = fd, .console_ring = malloc(VP_CONSOLE_LOG_TAIL) };
        size_t size;

        assert_non_null(a.console_ring);
        write_stream(&a, 2 * 1024 * 1024, 65536);
        vp_run_console_flush(&a);
        vp_run_console_append(&a, "end\n", 4);
        vp_run_console_flush(&a);
        char *data = read_file(path, &size);
        assert_true(size < VP_CONSOLE_LOG_HEAD + VP_CONSOLE_LOG_TAIL + 128);
        assert_memory_equal(data + size - 4, "end\n", 4);
        free(data);
        free(a.console_ring);
        close(fd);
        unlink(path);
        free(path);
}

static char *console_with(const char *text)
{
        int fd;
        char *path = temp_file(&fd);

        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        char *tail = vp_run_console_tail(path);
        unlink(path);
        free(path);
        return tail;
}

static void console_tail_keeps_panic_line(void **state)
{
        char text[8192] = "";

        for (int i = 0; i < 10; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "boot line %d\r\n", i);
        strcat(text, "[    1.2] Run /init as init process\r\n");
        strcat(text, "[    1.3] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000\r\n");
        for (int i = 0; i < 40; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "register line %d\r\n", i);

        char *tail = console_with(text);
        assert_non_null(tail);
        assert_non_null(strstr(tail, "Run /init as init process"));
        assert_non_null(strstr(tail, "Kernel panic - not syncing: Attempted to kill init!"));
        assert_non_null(strstr(tail, "\n...\n"));
        assert_null(strstr(tail, "boot line 9"));
        assert_null(strstr(tail, "register line 19\r"));
        assert_non_null(strstr(tail, "register line 20\r"));
        assert_non_null(strstr(tail, "register line 39"));
        free(tail);
}

static void console_tail_without_panic(void **state)
{
        char text[8192] = "";

        for (int i = 0; i < 40; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "line %d\n", i);
        char *tail = console_with(text);
        assert_non_null(tail);
        assert_null(strstr(tail, "..."));
        assert_null(strstr(tail, "line 19\n"));
        assert_non_null(strstr(tail, "line 20\n"));

        /* A panic line inside the tail is not repeated. */
        strcat(text, "Kernel panic - not syncing: test\n");
        for (int i = 0; i < 5; i++)
                strcat(text, "after\n");
        free(tail);
        tail = console_with(text);
        assert_non_null(tail);
        assert_null(strstr(tail, "..."));
        assert_ptr_equal(strstr(tail, "Kernel panic"), strrchr(tail, 'K'));
        free(tail);

        assert_null(console_with(""));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(console_log_small_is_whole),
                cmocka_unit_test(console_log_flood_is_capped),
                cmocka_unit_test(console_log_flushed_twice),
                cmocka_unit_test(console_tail_keeps_panic_line),
                cmocka_unit_test(console_tail_without_panic),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
