/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <lzma.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "kernel.h"

#define FAKE_VERSION "6.1.0-99-test"

static char work_dir[] = "/tmp/test-kernel.XXXXXX";
static char elf_image[4096];

static int setup(void **state)
{
        vp_error err = { 0 };
        char path[600];

        if (!mkdtemp(work_dir))
                return -1;
        snprintf(path, sizeof(path), "%s/modules", work_dir);
        if (vp_mkdir_p(path, 0755, &err) < 0)
                return -1;
        snprintf(path, sizeof(path), "%s/modules/modules.dep", work_dir);
        if (vp_write_file_atomic(path, "", 0, 0644, &err) < 0)
                return -1;
        snprintf(path, sizeof(path), "%s/modules", work_dir);
        setenv("VMPACK_MODULES_DIR", path, 1);
        snprintf(path, sizeof(path), "%s/cache", work_dir);
        setenv("VMPACK_CACHE_DIR", path, 1);
        unsetenv("VMPACK_KERNEL");

        /* A stand-in for vmlinux: the 64-bit ELF magic, then a pattern. */
        memcpy(elf_image, "\x7f" "ELF\x02\x01\x01", 7);
        for (size_t i = 16; i < sizeof(elf_image); i++)
                elf_image[i] = (char) (i * 7);
        return 0;
}

static int teardown(void **state)
{
        vp_rm_rf(work_dir, NULL);
        unsetenv("VMPACK_MODULES_DIR");
        unsetenv("VMPACK_CACHE_DIR");
        return 0;
}

/* Write a minimal bzImage: setup header with "HdrS", protocol 2.15, the version string,
 * and the payload right after one setup sector. payload_length may differ from size to
 * describe a truncated file. */
static char *write_bzimage(const char *name, const void *payload, size_t size, uint32_t payload_length)
{
        unsigned char *image = calloc(1, 1024 + size);
        char *path = NULL;
        vp_error err = { 0 };

        assert_non_null(image);
        image[0x1f1] = 1;
        memcpy(image + 0x202, "HdrS", 4);
        image[0x206] = 0x0f;
        image[0x207] = 0x02;
        image[0x20e] = 0x00; /* version string at 0x100 + 0x200 */
        image[0x20f] = 0x01;
        strcpy((char *) image + 0x300, FAKE_VERSION " (test@example) #1 SMP");
        memcpy(image + 0x24c, &payload_length, 4); /* little-endian host */
        memcpy(image + 1024, payload, size);

        assert_true(asprintf(&path, "%s/%s", work_dir, name) > 0);
        assert_int_equal(vp_write_file_atomic(path, image, 1024 + size, 0644, &err), 0);
        free(image);
        return path;
}

static size_t compress_zstd(const void *in, size_t size, void *out, size_t out_size)
{
        size_t n = ZSTD_compress(out, out_size, in, size, 3);

        assert_false(ZSTD_isError(n));
        return n;
}

static size_t compress_xz(const void *in, size_t size, uint8_t *out, size_t out_size)
{
        size_t n = 0;

        assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, size, out, &n, out_size), LZMA_OK);
        return n;
}

/* Find and extract the kernel at path; returns 0 or the error of the failing step. */
static int extract(const char *path, char **ret_vmlinux, vp_error *err)
{
        _cleanup_kernel_ vp_kernel *k = NULL;

        int r = vp_kernel_find(path, &k, err);
        if (r < 0)
                return r;
        assert_string_equal(k->version, FAKE_VERSION);
        return vp_kernel_get_vmlinux(k, ret_vmlinux, err);
}

static void assert_file_equals_elf(const char *path)
{
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        vp_error err = { 0 };

        assert_int_equal(vp_read_file(path, 1 << 20, &data, &size, &err), 0);
        assert_int_equal(size, sizeof(elf_image));
        assert_memory_equal(data, elf_image, size);
}

static void extract_zstd_payload(void **state)
{
        uint8_t payload[8192];
        _cleanup_free_ char *vmlinux = NULL;
        vp_error err = { 0 };
        size_t n = compress_zstd(elf_image, sizeof(elf_image), payload, sizeof(payload));
        _cleanup_free_ char *path = write_bzimage("zstd.bz", payload, n, (uint32_t) n);

        assert_int_equal(extract(path, &vmlinux, &err), 0);
        assert_true(vp_str_endswith(vmlinux, "/kernels/" FAKE_VERSION "/vmlinux"));
        assert_file_equals_elf(vmlinux);
        unlink(vmlinux);
}

static void extract_xz_payload(void **state)
{
        uint8_t payload[8192];
        _cleanup_free_ char *vmlinux = NULL;
        vp_error err = { 0 };
        size_t n = compress_xz(elf_image, sizeof(elf_image), payload, sizeof(payload));
        /* The kernel's build appends the uncompressed size after the xz stream. */
        memcpy(payload + n, "\x00\x10\x00\x00", 4);
        _cleanup_free_ char *path = write_bzimage("xz.bz", payload, n + 4, (uint32_t) n + 4);

        assert_int_equal(extract(path, &vmlinux, &err), 0);
        assert_file_equals_elf(vmlinux);

        /* Second call: the cached file, not a new extraction. */
        struct stat before, after;
        _cleanup_free_ char *again = NULL;
        assert_int_equal(stat(vmlinux, &before), 0);
        assert_int_equal(extract(path, &again, &err), 0);
        assert_int_equal(stat(again, &after), 0);
        assert_int_equal(before.st_ino, after.st_ino);
        unlink(vmlinux);
}

/* Two files with the same version string each get their own extraction. */
static void extract_follows_source_file(void **state)
{
        uint8_t payload[8192];
        _cleanup_free_ char *first = NULL, *second = NULL, *again = NULL;
        vp_error err = { 0 };
        size_t n = compress_zstd(elf_image, sizeof(elf_image), payload, sizeof(payload));
        _cleanup_free_ char *original = write_bzimage("original.bz", payload, n, (uint32_t) n);

        elf_image[100] ^= 0xff;
        n = compress_zstd(elf_image, sizeof(elf_image), payload, sizeof(payload));
        _cleanup_free_ char *rebuilt = write_bzimage("rebuilt.bz", payload, n, (uint32_t) n);

        assert_int_equal(extract(rebuilt, &first, &err), 0);
        assert_file_equals_elf(first);

        elf_image[100] ^= 0xff;
        assert_int_equal(extract(original, &second, &err), 0);
        assert_string_equal(first, second);
        assert_file_equals_elf(second);

        assert_int_equal(extract(original, &again, &err), 0);
        assert_file_equals_elf(again);
        unlink(again);
}

static void extract_rejects_gzip_payload(void **state)
{
        _cleanup_free_ char *vmlinux = NULL;
        vp_error err = { 0 };
        _cleanup_free_ char *path = write_bzimage("gzip.bz", "\x1f\x8b\x08\x00rest", 8, 8);

        assert_int_equal(extract(path, &vmlinux, &err), -ENOTSUP);
        assert_non_null(strstr(err.message, "gzip-compressed payload is not supported"));
        assert_null(vmlinux);
}

static void extract_rejects_truncated_file(void **state)
{
        uint8_t payload[8192];
        _cleanup_free_ char *vmlinux = NULL;
        vp_error err = { 0 };
        size_t n = compress_xz(elf_image, sizeof(elf_image), payload, sizeof(payload));

        /* The header promises more payload than the file has. */
        _cleanup_free_ char *cut = write_bzimage("cut.bz", payload, n / 2, (uint32_t) n);
        assert_int_equal(extract(cut, &vmlinux, &err), -ENOEXEC);
        assert_non_null(strstr(err.message, "truncated or corrupt"));

        /* A consistent header over a cut xz stream. */
        _cleanup_free_ char *short_stream = write_bzimage("short.bz", payload, n / 2, (uint32_t) (n / 2));
        assert_int_equal(extract(short_stream, &vmlinux, &err), -ENOEXEC);
        assert_non_null(strstr(err.message, "xz payload is corrupt or truncated"));
        assert_null(vmlinux);
}

static void extract_rejects_corrupt_stream(void **state)
{
        uint8_t payload[8192];
        _cleanup_free_ char *vmlinux = NULL;
        vp_error err = { 0 };
        size_t n = compress_zstd(elf_image, sizeof(elf_image), payload, sizeof(payload));

        for (size_t i = 8; i < n; i++)
                payload[i] ^= 0x5a;
        _cleanup_free_ char *path = write_bzimage("corrupt.bz", payload, n, (uint32_t) n);
        assert_int_equal(extract(path, &vmlinux, &err), -ENOEXEC);
        assert_non_null(strstr(err.message, "zstd payload"));
}

static void extract_rejects_non_elf_payload(void **state)
{
        uint8_t payload[256];
        _cleanup_free_ char *vmlinux = NULL;
        vp_error err = { 0 };
        size_t n = compress_zstd("not an ELF file", 15, payload, sizeof(payload));
        _cleanup_free_ char *path = write_bzimage("text.bz", payload, n, (uint32_t) n);

        assert_int_equal(extract(path, &vmlinux, &err), -ENOEXEC);
        assert_non_null(strstr(err.message, "not an ELF file"));

        /* No temporary file is left behind in the cache. */
        char dir[600];
        snprintf(dir, sizeof(dir), "%s/cache/kernels/" FAKE_VERSION, work_dir);
        DIR *d = opendir(dir);
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                assert_false(vp_str_startswith(de->d_name, ".vmlinux."));
        closedir(d);
}

static void find_rejects_garbage_file(void **state)
{
        _cleanup_kernel_ vp_kernel *k = NULL;
        _cleanup_free_ char *path = NULL;
        vp_error err = { 0 };
        char garbage[2048];

        memset(garbage, 'x', sizeof(garbage));
        assert_true(asprintf(&path, "%s/garbage", work_dir) > 0);
        assert_int_equal(vp_write_file_atomic(path, garbage, sizeof(garbage), 0644, &err), 0);

        assert_int_equal(vp_kernel_find(path, &k, &err), -ENOEXEC);
        assert_non_null(strstr(err.message, "not a bzImage"));
        assert_null(k);

        assert_int_equal(vp_kernel_find("/nonexistent/vmlinuz", &k, &err), -ENOENT);
        assert_non_null(strstr(err.message, "/nonexistent/vmlinuz"));
}

static void find_override_needs_modules(void **state)
{
        _cleanup_kernel_ vp_kernel *k = NULL;
        vp_error err = { 0 };
        _cleanup_free_ char *path = write_bzimage("nomods.bz", "x", 1, 1);
        char *saved = strdup(getenv("VMPACK_MODULES_DIR"));

        setenv("VMPACK_MODULES_DIR", "/nonexistent/modules", 1);
        assert_int_equal(vp_kernel_find(path, &k, &err), -ENOENT);
        assert_non_null(strstr(err.message, "no modules.dep in /nonexistent/modules"));
        setenv("VMPACK_MODULES_DIR", saved, 1);
        free(saved);

        /* VMPACK_KERNEL names the kernel when no override is passed. */
        setenv("VMPACK_KERNEL", path, 1);
        assert_int_equal(vp_kernel_find(NULL, &k, &err), 0);
        assert_string_equal(k->version, FAKE_VERSION);
        assert_string_equal(k->vmlinuz, path);
        unsetenv("VMPACK_KERNEL");
}

/* The host's own kernel, when it has one: found, and its payload extracted to an ELF. */
static void host_kernel_extracts(void **state)
{
        _cleanup_kernel_ vp_kernel *k = NULL;
        _cleanup_free_ char *vmlinux = NULL;
        vp_error err = { 0 };
        char *saved = strdup(getenv("VMPACK_MODULES_DIR"));

        unsetenv("VMPACK_MODULES_DIR");
        int r = vp_kernel_find(NULL, &k, &err);
        setenv("VMPACK_MODULES_DIR", saved, 1);
        free(saved);
        if (r == -ENOENT)
                skip();
        assert_int_equal(r, 0);
        assert_true(vp_str_startswith(k->vmlinuz, "/boot/vmlinuz-"));

        assert_int_equal(vp_kernel_get_vmlinux(k, &vmlinux, &err), 0);
        _cleanup_close_ int fd = open(vmlinux, O_RDONLY | O_CLOEXEC);
        char magic[4];
        assert_int_equal(read(fd, magic, 4), 4);
        assert_memory_equal(magic, "\x7f" "ELF", 4);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(extract_zstd_payload),
                cmocka_unit_test(extract_xz_payload),
                cmocka_unit_test(extract_follows_source_file),
                cmocka_unit_test(extract_rejects_gzip_payload),
                cmocka_unit_test(extract_rejects_truncated_file),
                cmocka_unit_test(extract_rejects_corrupt_stream),
                cmocka_unit_test(extract_rejects_non_elf_payload),
                cmocka_unit_test(find_rejects_garbage_file),
                cmocka_unit_test(find_override_needs_modules),
                cmocka_unit_test(host_kernel_extracts),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
