/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cpio writer's inputs: entry names, modes, sizes, symlink targets and device numbers
 * from the input, written to a memfd and read back. Every entry that the writer accepted
 * must come back as written and before the trailer, and a rejected entry must write nothing.
 *
 * Input layout: 2 bytes of archive size limit (in 64-byte units), then operations of one
 * selector byte each followed by that operation's fields, until the input runs out.
 */
#include "fuzz.h"

#include "cpio.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define ENTRIES_MAX 64

typedef struct input {
        const uint8_t *data;
        size_t size;
} input;

typedef struct entry {
        char *name; /* as the archive stores it: leading slashes dropped */
        mode_t mode;
        unsigned rdev_major, rdev_minor;
        char *data;
        size_t size;
} entry;

static unsigned take_byte(input *in)
{
        if (in->size == 0)
                return 0;
        in->size--;
        return *in->data++;
}

static unsigned take_u16(input *in)
{
        unsigned high = take_byte(in);
        return high << 8 | take_byte(in);
}

/* Take up to n bytes as a NUL-terminated string. An embedded NUL ends it early. */
static char *take_string(input *in, size_t n)
{
        if (n > in->size)
                n = in->size;
        char *s = fuzz_string(in->data, n);
        in->data += n;
        in->size -= n;
        return s;
}

/* A long name such as "aaa/aaa/..." of about n bytes, to reach the name length limit. */
static char *long_name(size_t n)
{
        char *s = malloc(n + 1);
        FUZZ_CHECK(s);
        for (size_t i = 0; i < n; i++)
                s[i] = i % 4 == 3 ? '/' : 'a';
        s[n] = '\0';
        if (n > 0 && s[n - 1] == '/')
                s[n - 1] = 'a';
        return s;
}

static uint64_t parse_hex(const char *p)
{
        char field[9];

        memcpy(field, p, 8);
        field[8] = '\0';
        return strtoull(field, NULL, 16);
}

static size_t pad4(size_t n)
{
        return (4 - (n & 3)) & 3;
}

/* Read the archive back and compare it with the entries the writer accepted. */
static void check_archive(const char *archive, size_t size, const entry *entries, size_t n_entries)
{
        size_t offset = 0;

        for (size_t i = 0; i <= n_entries; i++) {
                const char *expected_name = i < n_entries ? entries[i].name : "TRAILER!!!";

                FUZZ_CHECK(offset + 110 <= size);
                const char *h = archive + offset;
                FUZZ_CHECK(memcmp(h, "070701", 6) == 0);
                FUZZ_CHECK(parse_hex(h + 6) == i + 1); /* inode numbers count from 1 */
                uint64_t mode = parse_hex(h + 14);
                uint64_t file_size = parse_hex(h + 54);
                uint64_t rdev_major = parse_hex(h + 78);
                uint64_t rdev_minor = parse_hex(h + 86);
                uint64_t name_size = parse_hex(h + 94);
                offset += 110;

                FUZZ_CHECK(name_size == strlen(expected_name) + 1);
                FUZZ_CHECK(offset + name_size <= size);
                FUZZ_CHECK(memcmp(archive + offset, expected_name, name_size) == 0);
                offset += name_size + pad4(110 + name_size);

                if (i == n_entries) {
                        FUZZ_CHECK(mode == 0 && file_size == 0);
                        break;
                }
                FUZZ_CHECK(mode == entries[i].mode);
                FUZZ_CHECK(rdev_major == entries[i].rdev_major && rdev_minor == entries[i].rdev_minor);
                FUZZ_CHECK(file_size == entries[i].size);
                FUZZ_CHECK(offset + file_size <= size);
                FUZZ_CHECK(file_size == 0 || memcmp(archive + offset, entries[i].data, file_size) == 0);
                offset += file_size + pad4(file_size);
        }
        FUZZ_CHECK(offset == size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        input in = { data, size };
        entry entries[ENTRIES_MAX] = { 0 };
        size_t n_entries = 0;
        bool finished = false;
        vp_error err;

        _cleanup_close_ int fd = memfd_create("fuzz-cpio", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        uint64_t max_size = (uint64_t) take_u16(&in) * 64;
        _cleanup_cpio_ vp_cpio *c = NULL;
        FUZZ_CHECK(vp_cpio_new(fd, max_size, &c) == 0);

        while (in.size > 0 && n_entries < ENTRIES_MAX) {
                unsigned op = take_byte(&in) % 7;
                entry e = { 0 };
                _cleanup_free_ char *name = NULL;
                int r;

                if (op == 5)
                        name = long_name(take_u16(&in) % 5000);
                else
                        name = take_string(&in, take_byte(&in));
                mode_t mode = take_u16(&in);
                uint64_t before = vp_cpio_size(c);

                switch (op) {
                case 0:
                        e.mode = S_IFDIR | (mode & 07777);
                        r = vp_cpio_add_directory(c, name, mode, &err);
                        break;
                case 1:
                case 5:
                        e.data = take_string(&in, take_u16(&in));
                        e.size = strlen(e.data);
                        e.mode = S_IFREG | (mode & 07777);
                        r = vp_cpio_add_data(c, name, mode, e.data, e.size, &err);
                        break;
                case 2: {
                        e.data = take_string(&in, take_u16(&in));
                        e.size = strlen(e.data);
                        e.mode = S_IFREG | (mode & 07777);
                        fuzz_write_file(fuzz_temp_dir(), "source", e.data, e.size);
                        _cleanup_free_ char *source = vp_strdup_printf("%s/source", fuzz_temp_dir());
                        FUZZ_CHECK(source);
                        r = vp_cpio_add_file(c, name, mode, source, &err);
                        break;
                }
                case 3:
                        e.data = take_string(&in, take_byte(&in));
                        e.size = strlen(e.data);
                        e.mode = S_IFLNK | 0777;
                        r = vp_cpio_add_symlink(c, name, e.data, &err);
                        break;
                case 4:
                        e.mode = S_IFCHR | (mode & 07777);
                        e.rdev_major = take_byte(&in);
                        e.rdev_minor = take_byte(&in);
                        r = vp_cpio_add_char_device(c, name, mode, e.rdev_major, e.rdev_minor, &err);
                        break;
                default:
                        r = vp_cpio_finish(c, &err);
                        if (r == 0) {
                                FUZZ_CHECK(!finished);
                                finished = true;
                        }
                        free(e.data);
                        continue;
                }

                if (r < 0) {
                        FUZZ_CHECK(err.code == r && err.message[0] != '\0');
                        FUZZ_CHECK(vp_cpio_size(c) == before);
                        free(e.data);
                        continue;
                }
                FUZZ_CHECK(!finished);
                const char *stored = name;
                while (*stored == '/')
                        stored++;
                /* The kernel stops unpacking at the first entry of this name. */
                FUZZ_CHECK(strcmp(stored, "TRAILER!!!") != 0);
                e.name = strdup(stored);
                FUZZ_CHECK(e.name);
                entries[n_entries++] = e;
        }

        if (finished || vp_cpio_finish(c, &err) == 0) {
                uint64_t archive_size = vp_cpio_size(c);
                FUZZ_CHECK(archive_size <= max_size);
                FUZZ_CHECK(archive_size % 4 == 0);
                char *archive = archive_size ? mmap(NULL, archive_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
                FUZZ_CHECK(archive_size == 0 || archive != MAP_FAILED);
                check_archive(archive, archive_size, entries, n_entries);
                if (archive)
                        munmap(archive, archive_size);
        }

        for (size_t i = 0; i < n_entries; i++) {
                free(entries[i].name);
                free(entries[i].data);
        }
        return 0;
}
