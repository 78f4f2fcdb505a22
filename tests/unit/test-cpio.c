/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cpio.h"

/* One parsed newc header. */
typedef struct entry {
        unsigned ino, mode, uid, gid, nlink, mtime, size, rdev_major, rdev_minor;
        char name[256];
        char data[256];
} entry;

static unsigned hex8(const char *p)
{
        char field[9];

        memcpy(field, p, 8);
        field[8] = '\0';
        return (unsigned) strtoul(field, NULL, 16);
}

/* Parse the archive back, checking magic and 4-byte alignment; returns the entry count. */
static size_t parse_archive(const char *buf, size_t size, entry *entries, size_t max)
{
        size_t off = 0, n = 0;

        while (off + 110 <= size && n < max) {
                const char *h = buf + off;
                entry *e = &entries[n++];

                memset(e, 0, sizeof(*e));

                assert_memory_equal(h, "070701", 6);
                e->ino = hex8(h + 6);
                e->mode = hex8(h + 14);
                e->uid = hex8(h + 22);
                e->gid = hex8(h + 30);
                e->nlink = hex8(h + 38);
                e->mtime = hex8(h + 46);
                e->size = hex8(h + 54);
                e->rdev_major = hex8(h + 78);
                e->rdev_minor = hex8(h + 86);
                unsigned name_size = hex8(h + 94);
                assert_true(name_size > 0 && name_size < sizeof(e->name));
                memcpy(e->name, h + 110, name_size);
                assert_int_equal(e->name[name_size - 1], '\0');

                off += 110 + name_size;
                off = (off + 3) & ~(size_t) 3;
                assert_true(off + e->size <= size);
                memcpy(e->data, buf + off, e->size < sizeof(e->data) ? e->size : sizeof(e->data) - 1);
                off += e->size;
                off = (off + 3) & ~(size_t) 3;
                if (strcmp(e->name, "TRAILER!!!") == 0)
                        break;
        }
        assert_int_equal(off, size);
        return n;
}

/* Write a small archive into a memfd; returns its bytes. */
static char *write_sample(size_t *ret_size)
{
        vp_error err = { 0 };
        vp_cpio *c = NULL;
        char source[] = "/tmp/test-cpio-source.XXXXXX";
        int src = mkstemp(source);
        int fd = memfd_create("cpio", MFD_CLOEXEC);

        assert_true(src >= 0 && fd >= 0);
        assert_int_equal(write(src, "from a file\n", 12), 12);
        close(src);

        assert_int_equal(vp_cpio_new(fd, 1 << 20, &c), 0);
        assert_int_equal(vp_cpio_add_directory(c, "/etc", 0755, &err), 0);
        assert_int_equal(vp_cpio_add_data(c, "etc/motd", 0644, "hello", 5, &err), 0);
        assert_int_equal(vp_cpio_add_file(c, "etc/copied", 0600, source, &err), 0);
        assert_int_equal(vp_cpio_add_symlink(c, "etc/link", "motd", &err), 0);
        assert_int_equal(vp_cpio_add_char_device(c, "console", 0600, 5, 1, &err), 0);
        assert_int_equal(vp_cpio_finish(c, &err), 0);
        vp_cpio_free(c);
        unlink(source);

        off_t size = lseek(fd, 0, SEEK_END);
        char *buf = malloc((size_t) size);
        assert_non_null(buf);
        assert_int_equal(pread(fd, buf, (size_t) size, 0), size);
        close(fd);
        *ret_size = (size_t) size;
        return buf;
}

static void cpio_headers_round_trip(void **state)
{
        entry e[8];
        size_t size;
        char *buf = write_sample(&size);

        assert_int_equal(size % 4, 0);
        assert_int_equal(parse_archive(buf, size, e, 8), 6);

        assert_string_equal(e[0].name, "etc");
        assert_int_equal(e[0].mode, S_IFDIR | 0755);
        assert_int_equal(e[0].nlink, 2);
        assert_string_equal(e[1].name, "etc/motd");
        assert_int_equal(e[1].mode, S_IFREG | 0644);
        assert_int_equal(e[1].size, 5);
        assert_string_equal(e[1].data, "hello");
        assert_string_equal(e[2].name, "etc/copied");
        assert_string_equal(e[2].data, "from a file\n");
        assert_string_equal(e[3].name, "etc/link");
        assert_int_equal(e[3].mode, S_IFLNK | 0777);
        assert_string_equal(e[3].data, "motd");
        assert_string_equal(e[4].name, "console");
        assert_int_equal(e[4].mode, S_IFCHR | 0600);
        assert_int_equal(e[4].rdev_major, 5);
        assert_int_equal(e[4].rdev_minor, 1);
        assert_string_equal(e[5].name, "TRAILER!!!");

        for (size_t i = 0; i < 5; i++) {
                assert_int_equal(e[i].ino, i + 1);
                assert_int_equal(e[i].mtime, 0);
                assert_int_equal(e[i].uid, 0);
                assert_int_equal(e[i].gid, 0);
        }
        free(buf);
}

static void cpio_output_deterministic(void **state)
{
        size_t size1, size2;
        char *a = write_sample(&size1);
        char *b = write_sample(&size2);

        assert_int_equal(size1, size2);
        assert_memory_equal(a, b, size1);
        free(a);
        free(b);
}

/* The system's GNU cpio must read the archive and list the same names. */
static void cpio_system_tool_lists(void **state)
{
        char path[] = "/tmp/test-cpio-archive.XXXXXX", command[256], listing[512] = "";
        size_t size;

        if (access("/usr/bin/cpio", X_OK) < 0)
                skip();
        char *buf = write_sample(&size);
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, size), (ssize_t) size);
        close(fd);
        free(buf);

        snprintf(command, sizeof(command), "cpio --quiet -it < %s", path);
        FILE *p = popen(command, "r");
        assert_non_null(p);
        size_t n = fread(listing, 1, sizeof(listing) - 1, p);
        listing[n] = '\0';
        assert_int_equal(pclose(p), 0);
        unlink(path);
        assert_string_equal(listing, "etc\netc/motd\netc/copied\netc/link\nconsole\n");
}

static void cpio_rejects_bad_names(void **state)
{
        static const char *const bad[] = { "", "/", "a/../b", "a//b", "a/", "./a", "..", "a/." };
        vp_error err = { 0 };
        vp_cpio *c = NULL;
        int fd = memfd_create("cpio", MFD_CLOEXEC);

        assert_int_equal(vp_cpio_new(fd, 1 << 20, &c), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(vp_cpio_add_data(c, bad[i], 0644, "x", 1, &err), -EINVAL);
        assert_non_null(strstr(err.message, "invalid entry name"));
        assert_int_equal(vp_cpio_size(c), 0);
        assert_int_equal(vp_cpio_add_symlink(c, "l", "", &err), -EINVAL);
        vp_cpio_free(c);
        close(fd);
}

static void cpio_enforces_size_limit(void **state)
{
        static char big[4096];
        vp_error err = { 0 };
        vp_cpio *c = NULL;
        int fd = memfd_create("cpio", MFD_CLOEXEC);

        assert_int_equal(vp_cpio_new(fd, 2048, &c), 0);
        assert_int_equal(vp_cpio_add_data(c, "small", 0644, big, 100, &err), 0);
        assert_int_equal(vp_cpio_add_data(c, "big", 0644, big, sizeof(big), &err), -EFBIG);
        assert_non_null(strstr(err.message, "larger than 2048 bytes"));
        vp_cpio_free(c);
        close(fd);
}

static void cpio_rejects_non_regular_source(void **state)
{
        vp_error err = { 0 };
        vp_cpio *c = NULL;
        int fd = memfd_create("cpio", MFD_CLOEXEC);

        assert_int_equal(vp_cpio_new(fd, 1 << 20, &c), 0);
        assert_int_equal(vp_cpio_add_file(c, "dir", 0644, "/tmp", &err), -EINVAL);
        assert_int_equal(vp_cpio_add_file(c, "missing", 0644, "/nonexistent/file", &err), -ENOENT);
        assert_int_equal(vp_cpio_finish(c, &err), 0);
        assert_int_equal(vp_cpio_add_directory(c, "late", 0755, &err), -EINVAL);
        vp_cpio_free(c);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(cpio_headers_round_trip),
                cmocka_unit_test(cpio_output_deterministic),
                cmocka_unit_test(cpio_system_tool_lists),
                cmocka_unit_test(cpio_rejects_bad_names),
                cmocka_unit_test(cpio_enforces_size_limit),
                cmocka_unit_test(cpio_rejects_non_regular_source),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
