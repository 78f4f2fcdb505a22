/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "kernel.h"

#include "paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <lzma.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#define BOOT_DIR "/boot"
#define MODULES_ROOT "/lib/modules"

/* Limits for untrusted kernel files: Debian's vmlinuz is about 8 MB and its vmlinux 60 MB. */
#define VMLINUZ_MAX (256u * 1024 * 1024)
#define VMLINUX_MAX (1024ull * 1024 * 1024)

/* Offsets in the x86 boot protocol's setup header (Documentation/arch/x86/boot.rst). */
#define BZ_SETUP_SECTS 0x1f1
#define BZ_HEADER_MAGIC 0x202 /* "HdrS" */
#define BZ_VERSION 0x206
#define BZ_KERNEL_VERSION 0x20e /* offset of the version string, minus 0x200 */
#define BZ_PAYLOAD_OFFSET 0x248 /* from the start of the protected-mode code, protocol 2.08+ */
#define BZ_PAYLOAD_LENGTH 0x24c
#define BZ_HEADER_END 0x250

vp_kernel *vp_kernel_free(vp_kernel *k)
{
        if (!k)
                return NULL;
        free(k->version);
        free(k->vmlinuz);
        free(k->modules_dir);
        free(k);
        return NULL;
}

static uint16_t le16(const unsigned char *p)
{
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int check_bzimage(const char *path, const unsigned char *data, size_t size, vp_error *err)
{
        if (size < BZ_HEADER_END || memcmp(data + BZ_HEADER_MAGIC, "HdrS", 4) != 0)
                return vp_error_set(err, -ENOEXEC, "%s: not a bzImage kernel (no \"HdrS\" boot header)", path);
        return 0;
}

/* Read the version from the bzImage header: the string starts with the release
 * ("6.1.0-57-amd64 (debian-kernel@...) #1 SMP ..."), which is what /lib/modules uses. */
static int bzimage_read_version(const char *path, char **ret, vp_error *err)
{
        unsigned char header[BZ_HEADER_END], text[256];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return vp_error_set_errno(err, -errno, "kernel %s", path);

        ssize_t n = pread(fd, header, sizeof(header), 0);
        if (n < 0)
                return vp_error_set_errno(err, -errno, "kernel %s: read failed", path);
        int r = check_bzimage(path, header, (size_t) n, err);
        if (r < 0)
                return r;

        off_t offset = (off_t) le16(header + BZ_KERNEL_VERSION) + 0x200;
        n = pread(fd, text, sizeof(text) - 1, offset);
        if (n <= 0)
                return vp_error_set(err, -ENOEXEC, "kernel %s: version string at offset %lld is missing",
                                    path, (long long) offset);
        text[n] = '\0';

        size_t len = strcspn((char *) text, " ");
        if (len == 0 || len >= 128)
                return vp_error_set(err, -ENOEXEC, "kernel %s: no version string in the boot header", path);
        for (size_t i = 0; i < len; i++)
                if (text[i] < 0x21 || text[i] > 0x7e || text[i] == '/')
                        return vp_error_set(err, -ENOEXEC, "kernel %s: invalid version string in the boot header",
                                            path);

        char *version = strndup((char *) text, len);
        if (!version)
                return vp_error_set(err, -ENOMEM, "out of memory");
        *ret = version;
        return 0;
}

static bool modules_dir_usable(const char *dir)
{
        _cleanup_free_ char *dep = vp_strdup_printf("%s/modules.dep", dir);

        return dep && access(dep, R_OK) == 0;
}

static int kernel_new(const char *version, const char *vmlinuz, const char *modules_dir, vp_kernel **ret)
{
        vp_kernel *k = calloc(1, sizeof(*k));

        if (!k)
                return -ENOMEM;
        k->version = strdup(version);
        k->vmlinuz = strdup(vmlinuz);
        k->modules_dir = strdup(modules_dir);
        if (!k->version || !k->vmlinuz || !k->modules_dir) {
                vp_kernel_free(k);
                return -ENOMEM;
        }
        *ret = k;
        return 0;
}

/* VMPACK_MODULES_DIR names the module directory of an override kernel itself (the
 * directory with modules.dep), for kernels whose modules are not installed in /lib/modules. */
static int find_override(const char *path, vp_kernel **ret, vp_error *err)
{
        _cleanup_free_ char *version = NULL, *modules_dir = NULL;
        const char *env_modules = getenv("VMPACK_MODULES_DIR");

        int r = bzimage_read_version(path, &version, err);
        if (r < 0)
                return r;

        modules_dir = env_modules && *env_modules ? strdup(env_modules)
                                                  : vp_strdup_printf(MODULES_ROOT "/%s", version);
        if (!modules_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!modules_dir_usable(modules_dir))
                return vp_error_set(err, -ENOENT,
                                    "kernel %s (version %s): no modules.dep in %s; install its modules or set "
                                    "VMPACK_MODULES_DIR",
                                    path, version, modules_dir);

        if (kernel_new(version, path, modules_dir, ret) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

/* The newest /boot/vmlinuz-VERSION, by strverscmp(3), that has /lib/modules/VERSION. */
static int find_installed(vp_kernel **ret, vp_error *err)
{
        _cleanup_free_ char *best = NULL;
        DIR *d = opendir(BOOT_DIR);

        if (!d)
                return vp_error_set_errno(err, -errno, "%s", BOOT_DIR);
        for (struct dirent *de; (de = readdir(d));) {
                const char *version = de->d_name + strlen("vmlinuz-");
                if (!vp_str_startswith(de->d_name, "vmlinuz-") || !*version)
                        continue;
                _cleanup_free_ char *modules_dir = vp_strdup_printf(MODULES_ROOT "/%s", version);
                if (!modules_dir || !modules_dir_usable(modules_dir))
                        continue;
                if (best && strverscmp(version, best) <= 0)
                        continue;
                free(best);
                best = strdup(version);
                if (!best)
                        break;
        }
        closedir(d);

        if (!best)
                return vp_error_set(err, -ENOENT,
                                    "no kernel found: no " BOOT_DIR "/vmlinuz-VERSION has " MODULES_ROOT
                                    "/VERSION/modules.dep; install linux-image-amd64 or name a kernel "
                                    "with --kernel or VMPACK_KERNEL");

        _cleanup_free_ char *vmlinuz = vp_strdup_printf(BOOT_DIR "/vmlinuz-%s", best);
        _cleanup_free_ char *modules_dir = vp_strdup_printf(MODULES_ROOT "/%s", best);
        if (!vmlinuz || !modules_dir || kernel_new(best, vmlinuz, modules_dir, ret) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

int vp_kernel_find(const char *override, vp_kernel **ret, vp_error *err)
{
        if (!override || !*override)
                override = getenv("VMPACK_KERNEL");
        if (override && *override)
                return find_override(override, ret, err);
        return find_installed(ret, err);
}

/* Where the compressed payload starts: the setup header's payload_offset when the boot
 * protocol has it (2.08+), else the first known compression magic after the setup code. */
static int find_payload(const char *path, const unsigned char *data, size_t size, size_t *ret_offset,
                        size_t *ret_length, vp_error *err)
{
        int r = check_bzimage(path, data, size, err);
        if (r < 0)
                return r;

        unsigned setup_sects = data[BZ_SETUP_SECTS] ? data[BZ_SETUP_SECTS] : 4;
        size_t pm_start = ((size_t) setup_sects + 1) * 512;
        if (pm_start >= size)
                return vp_error_set(err, -ENOEXEC, "kernel %s: truncated (setup code ends past the file)", path);

        if (le16(data + BZ_VERSION) >= 0x0208) {
                size_t offset = pm_start + le32(data + BZ_PAYLOAD_OFFSET);
                size_t length = le32(data + BZ_PAYLOAD_LENGTH);
                if (offset >= size || length == 0 || length > size - offset)
                        return vp_error_set(err, -ENOEXEC,
                                            "kernel %s: truncated or corrupt (payload of %zu bytes at offset %zu, "
                                            "file has %zu bytes)",
                                            path, length, offset, size);
                *ret_offset = offset;
                *ret_length = length;
                return 0;
        }

        static const unsigned char xz_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
        static const unsigned char zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };
        for (size_t i = pm_start; i + sizeof(xz_magic) <= size; i++)
                if (memcmp(data + i, xz_magic, sizeof(xz_magic)) == 0 ||
                    memcmp(data + i, zstd_magic, sizeof(zstd_magic)) == 0) {
                        *ret_offset = i;
                        *ret_length = size - i;
                        return 0;
                }
        return vp_error_set(err, -ENOEXEC, "kernel %s: no xz or zstd payload found", path);
}

static int write_all(int fd, const void *data, size_t size)
{
        const char *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

static const char *lzma_error_name(lzma_ret ret)
{
        switch (ret) {
        case LZMA_DATA_ERROR:
                return "corrupt data";
        case LZMA_BUF_ERROR:
                return "unexpected end of input";
        case LZMA_FORMAT_ERROR:
                return "not an xz stream";
        case LZMA_OPTIONS_ERROR:
                return "unsupported options";
        case LZMA_MEM_ERROR:
                return "out of memory";
        default:
                return "liblzma error";
        }
}

static void lzma_endp(lzma_stream *s)
{
        lzma_end(s);
}

static int decompress_xz(const char *path, const unsigned char *in, size_t in_size, int out_fd, vp_error *err)
{
        _cleanup_(lzma_endp) lzma_stream s = LZMA_STREAM_INIT;
        _cleanup_free_ uint8_t *buf = malloc(1 << 20);
        uint64_t total = 0;

        if (!buf)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
                return vp_error_set(err, -ENOMEM, "kernel %s: cannot start the xz decoder", path);

        s.next_in = in;
        s.avail_in = in_size;
        for (;;) {
                s.next_out = buf;
                s.avail_out = 1 << 20;
                lzma_ret ret = lzma_code(&s, LZMA_FINISH);
                size_t produced = (1 << 20) - s.avail_out;

                total += produced;
                if (total > VMLINUX_MAX)
                        return vp_error_set(err, -EFBIG, "kernel %s: uncompressed kernel larger than %llu bytes",
                                            path, (unsigned long long) VMLINUX_MAX);
                int r = write_all(out_fd, buf, produced);
                if (r < 0)
                        return vp_error_set_errno(err, r, "kernel %s: writing the uncompressed kernel failed", path);

                if (ret == LZMA_STREAM_END)
                        return 0;
                if (ret != LZMA_OK)
                        return vp_error_set(err, -ENOEXEC, "kernel %s: the xz payload is corrupt or truncated (%s)",
                                            path, lzma_error_name(ret));
        }
}

static void zstd_freep(ZSTD_DStream **s)
{
        ZSTD_freeDStream(*s);
}

static int decompress_zstd(const char *path, const unsigned char *in, size_t in_size, int out_fd, vp_error *err)
{
        _cleanup_(zstd_freep) ZSTD_DStream *s = ZSTD_createDStream();
        _cleanup_free_ uint8_t *buf = malloc(ZSTD_DStreamOutSize());
        ZSTD_inBuffer input = { in, in_size, 0 };
        uint64_t total = 0;

        if (!s || !buf)
                return vp_error_set(err, -ENOMEM, "out of memory");

        for (;;) {
                ZSTD_outBuffer output = { buf, ZSTD_DStreamOutSize(), 0 };
                size_t ret = ZSTD_decompressStream(s, &output, &input);
                if (ZSTD_isError(ret))
                        return vp_error_set(err, -ENOEXEC, "kernel %s: the zstd payload is corrupt: %s", path,
                                            ZSTD_getErrorName(ret));

                total += output.pos;
                if (total > VMLINUX_MAX)
                        return vp_error_set(err, -EFBIG, "kernel %s: uncompressed kernel larger than %llu bytes",
                                            path, (unsigned long long) VMLINUX_MAX);
                int r = write_all(out_fd, buf, output.pos);
                if (r < 0)
                        return vp_error_set_errno(err, r, "kernel %s: writing the uncompressed kernel failed", path);

                if (ret == 0)
                        return 0;
                if (input.pos == input.size && output.pos < output.size)
                        return vp_error_set(err, -ENOEXEC, "kernel %s: the zstd payload is truncated", path);
        }
}

static int decompress_payload(const char *path, const unsigned char *p, size_t n, int out_fd, vp_error *err)
{
        static const struct {
                const char *name;
                unsigned char magic[6];
                size_t magic_size;
        } unsupported[] = {
                { "gzip", { 0x1f, 0x8b }, 2 },
                { "bzip2", { 'B', 'Z', 'h' }, 3 },
                { "lzma", { 0x5d, 0x00, 0x00 }, 3 },
                { "lzo", { 0x89, 'L', 'Z', 'O' }, 4 },
                { "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
        };

        if (n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
                return decompress_xz(path, p, n, out_fd, err);
        if (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
                return decompress_zstd(path, p, n, out_fd, err);

        for (size_t i = 0; i < ELEMENTSOF(unsupported); i++)
                if (n >= unsupported[i].magic_size && memcmp(p, unsupported[i].magic, unsupported[i].magic_size) == 0)
                        return vp_error_set(err, -ENOTSUP,
                                            "kernel %s: %s-compressed payload is not supported (only xz and "
                                            "zstd); use a kernel built with CONFIG_KERNEL_XZ or CONFIG_KERNEL_ZSTD",
                                            path, unsupported[i].name);
        return vp_error_set(err, -ENOEXEC, "kernel %s: unknown payload compression", path);
}

static int check_elf(const char *path, int fd, vp_error *err)
{
        unsigned char ident[5];

        if (pread(fd, ident, sizeof(ident), 0) != (ssize_t) sizeof(ident) || memcmp(ident, "\x7f" "ELF", 4) != 0)
                return vp_error_set(err, -ENOEXEC, "kernel %s: the decompressed payload is not an ELF file", path);
        if (ident[4] != 2)
                return vp_error_set(err, -ENOEXEC, "kernel %s: the decompressed payload is not a 64-bit ELF file",
                                    path);
        return 0;
}

/* Decompress k->vmlinuz's payload into a temporary file in dir and rename it to target. */
static int extract_vmlinux(const vp_kernel *k, const char *dir, const char *target, vp_error *err)
{
        _cleanup_free_ char *data = NULL;
        _cleanup_free_ char *tmp = vp_strdup_printf("%s/.vmlinux.XXXXXX", dir);
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0, offset = 0, length = 0;

        if (!tmp)
                return vp_error_set(err, -ENOMEM, "out of memory");

        int r = vp_read_file(k->vmlinuz, VMLINUZ_MAX, &data, &size, err);
        if (r < 0)
                return vp_error_prefix(err, "kernel");
        r = find_payload(k->vmlinuz, (unsigned char *) data, size, &offset, &length, err);
        if (r < 0)
                return r;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s: cannot create", tmp);

        r = decompress_payload(k->vmlinuz, (unsigned char *) data + offset, length, fd, err);
        if (r >= 0)
                r = check_elf(k->vmlinuz, fd, err);
        if (r >= 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, target) < 0))
                r = vp_error_set_errno(err, -errno, "%s: cannot write", target);
        if (r < 0)
                unlink(tmp);
        return r;
}

/* The identity of the vmlinuz a cached vmlinux came from: its path, size and modification
 * time. A kernel rebuilt under the same version, or another file with the same version
 * string, gets a new extraction. */
static char *source_stamp(const vp_kernel *k)
{
        struct stat st;

        if (stat(k->vmlinuz, &st) < 0)
                return NULL;
        return vp_strdup_printf("%s\n%lld %lld.%09ld\n", k->vmlinuz, (long long) st.st_size,
                                (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static bool cached_vmlinux_valid(const vp_kernel *k, const char *path, const char *stamp_path)
{
        _cleanup_free_ char *expected = source_stamp(k), *stamp = NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (!expected || fd < 0 || vp_read_file(stamp_path, 8192, &stamp, NULL, NULL) < 0)
                return false;
        return strcmp(stamp, expected) == 0 && check_elf(path, fd, NULL) == 0;
}

int vp_kernel_get_vmlinux(const vp_kernel *k, char **ret_path, vp_error *err)
{
        _cleanup_free_ char *sub = vp_strdup_printf("kernels/%s", k->version);
        _cleanup_free_ char *dir = NULL, *path = NULL, *stamp_path = NULL, *stamp = NULL;

        if (!sub)
                return vp_error_set(err, -ENOMEM, "out of memory");
        int r = vp_path_ensure(VP_DIR_CACHE, sub, &dir, err);
        if (r < 0)
                return vp_error_prefix(err, "kernel cache");
        path = vp_strdup_printf("%s/vmlinux", dir);
        stamp_path = vp_strdup_printf("%s/vmlinux.source", dir);
        if (!path || !stamp_path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        if (!cached_vmlinux_valid(k, path, stamp_path)) {
                r = extract_vmlinux(k, dir, path, err);
                if (r < 0)
                        return r;
                stamp = source_stamp(k);
                if (!stamp)
                        return vp_error_set_errno(err, -errno, "kernel %s", k->vmlinuz);
                r = vp_write_file_atomic(stamp_path, stamp, strlen(stamp), 0644, err);
                if (r < 0)
                        return vp_error_prefix(err, "kernel cache");
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}
