/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sha2.h>
#include <string.h>
#include <sys/stat.h>

static _printf_(4, 0) int error_vset(vp_error *err, int code, bool with_errno, const char *fmt, va_list ap)
{
        if (!err)
                return code;

        err->code = code;
        int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
        if (with_errno && n >= 0 && (size_t) n < sizeof(err->message))
                snprintf(err->message + n, sizeof(err->message) - n, ": %s", strerror(-code));
        return code;
}

int vp_error_set(vp_error *err, int code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_vset(err, code, false, fmt, ap);
        va_end(ap);
        return code;
}

int vp_error_set_errno(vp_error *err, int code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return code;
}

int vp_error_prefix(vp_error *err, const char *fmt, ...)
{
        char prefix[512], joined[sizeof(err->message)];
        va_list ap;

        if (!err)
                return -EIO;

        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        snprintf(joined, sizeof(joined), "%s: %s", prefix, err->message);
        memcpy(err->message, joined, sizeof(joined));
        return err->code;
}

char **strv_new(void)
{
        return calloc(1, sizeof(char *));
}

size_t strv_length(char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        return n;
}

int strv_push(char ***v, char *value)
{
        size_t n = strv_length(*v);
        char **grown;

        if (!value)
                return -ENOMEM;
        grown = realloc(*v, (n + 2) * sizeof(char *));
        if (!grown) {
                free(value);
                return -ENOMEM;
        }
        grown[n] = value;
        grown[n + 1] = NULL;
        *v = grown;
        return 0;
}

int strv_extend(char ***v, const char *value)
{
        return strv_push(v, strdup(value));
}

int strv_extendf(char ***v, const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return strv_push(v, s);
}

bool strv_contains(char *const *v, const char *value)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], value) == 0)
                        return true;
        return false;
}

char **strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
        return NULL;
}

char *strv_join(char *const *v, const char *separator)
{
        size_t len = 1, seplen = strlen(separator);
        char *out, *p;

        for (size_t i = 0; v && v[i]; i++)
                len += strlen(v[i]) + seplen;
        out = malloc(len);
        if (!out)
                return NULL;
        p = out;
        *p = '\0';
        for (size_t i = 0; v && v[i]; i++) {
                if (i > 0)
                        p = stpcpy(p, separator);
                p = stpcpy(p, v[i]);
        }
        return out;
}

char *vp_strdup_printf(const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

bool vp_str_startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool vp_str_endswith(const char *s, const char *suffix)
{
        size_t ls = strlen(s), lx = strlen(suffix);

        return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int vp_read_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size, vp_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        size_t size = 0, allocated = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s", path);

        for (;;) {
                if (allocated - size < 4096) {
                        size_t want = allocated ? allocated * 2 : 8192;
                        char *grown = realloc(data, want + 1);
                        if (!grown)
                                return vp_error_set(err, -ENOMEM, "%s: out of memory", path);
                        data = grown;
                        allocated = want;
                }
                ssize_t n = read(fd, data + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return vp_error_set_errno(err, -errno, "%s: read failed", path);
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max_size)
                        return vp_error_set(err, -EFBIG, "%s: larger than the limit of %zu bytes", path,
                                            max_size);
        }
        if (!data) {
                data = malloc(1);
                if (!data)
                        return vp_error_set(err, -ENOMEM, "%s: out of memory", path);
        }
        data[size] = '\0';

        *ret_data = TAKE_PTR(data);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int vp_write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, vp_error *err)
{
        _cleanup_free_ char *tmp = vp_strdup_printf("%s.tmp.%d", path, (int) getpid());
        _cleanup_close_ int fd = -EBADF;
        const char *p = data;

        if (!tmp)
                return vp_error_set(err, -ENOMEM, "out of memory");

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s: cannot create", tmp);

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        unlink(tmp);
                        return vp_error_set_errno(err, r, "%s: write failed", tmp);
                }
                p += n;
                size -= (size_t) n;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                int r = -errno;
                unlink(tmp);
                return vp_error_set_errno(err, r, "%s: cannot replace", path);
        }
        return 0;
}

int vp_mkdir_p(const char *path, mode_t mode, vp_error *err)
{
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return vp_error_set(err, -ENOMEM, "out of memory");

        for (char *p = copy + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;
                *p = '\0';
                if (mkdir(copy, mode) < 0 && errno != EEXIST)
                        return vp_error_set_errno(err, -errno, "%s: cannot create directory", copy);
                *p = saved;
                if (saved == '\0')
                        break;
        }

        struct stat st;
        if (stat(path, &st) < 0)
                return vp_error_set_errno(err, -errno, "%s", path);
        if (!S_ISDIR(st.st_mode))
                return vp_error_set(err, -ENOTDIR, "%s: exists and is not a directory", path);
        return 0;
}

static int rm_rf_at(int parent_fd, const char *name, dev_t dev, vp_error *err)
{
        struct stat st;

        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : vp_error_set_errno(err, -errno, "%s", name);

        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
                        return vp_error_set_errno(err, -errno, "%s: cannot remove", name);
                return 0;
        }
        if (st.st_dev != dev)
                return vp_error_set(err, -EXDEV, "%s: is a mount point, not removing it", name);

        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s", name);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return vp_error_set_errno(err, -errno, "%s", name);
        }
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                r = rm_rf_at(dirfd(d), de->d_name, dev, err);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return vp_error_prefix(err, "%s", name);
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return vp_error_set_errno(err, -errno, "%s: cannot remove directory", name);
        return 0;
}

int vp_rm_rf(const char *path, vp_error *err)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : vp_error_set_errno(err, -errno, "%s", path);
        return rm_rf_at(AT_FDCWD, path, st.st_dev, err);
}

int vp_sha256_file(const char *path, char ret_hex[65], vp_error *err)
{
        char buf[SHA256_DIGEST_STRING_LENGTH];

        if (!SHA256File(path, buf))
                return vp_error_set_errno(err, -errno, "%s: cannot compute digest", path);
        memcpy(ret_hex, buf, 65);
        return 0;
}

void vp_sha256_buffer(const void *data, size_t size, char ret_hex[65])
{
        char buf[SHA256_DIGEST_STRING_LENGTH];

        SHA256Data(data, size, buf);
        memcpy(ret_hex, buf, 65);
}

int vp_parse_size(const char *s, uint64_t default_unit, uint64_t *ret_bytes)
{
        char *end = NULL;
        uint64_t unit = default_unit ? default_unit : 1;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;

        if (*end) {
                static const struct {
                        const char *suffix;
                        uint64_t factor;
                } suffixes[] = {
                        { "K", 1ULL << 10 }, { "KiB", 1ULL << 10 }, { "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
                        { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 }, { "T", 1ULL << 40 }, { "TiB", 1ULL << 40 },
                        { "B", 1 },
                };
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                        if (strcmp(end, suffixes[i].suffix) == 0) {
                                unit = suffixes[i].factor;
                                found = true;
                                break;
                        }
                if (!found)
                        return -EINVAL;
        }
        if (n > UINT64_MAX / unit)
                return -ERANGE;
        *ret_bytes = (uint64_t) n * unit;
        return 0;
}
