/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cpio.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define NEWC_MAGIC "070701"
#define NEWC_HEADER_SIZE 110
/* The name of the entry that ends an archive: the kernel stops unpacking at the first one. */
static const char trailer_name[] = "TRAILER!!!";

struct vp_cpio {
        int fd;
        uint64_t offset;
        uint64_t max_size;
        uint32_t next_inode;
        bool finished;
};

int vp_cpio_new(int fd, uint64_t max_size, vp_cpio **ret)
{
        vp_cpio *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->fd = fd;
        c->max_size = max_size;
        c->next_inode = 1;
        *ret = c;
        return 0;
}

vp_cpio *vp_cpio_free(vp_cpio *c)
{
        free(c);
        return NULL;
}

uint64_t vp_cpio_size(const vp_cpio *c)
{
        return c->offset;
}

static size_t pad4(uint64_t n)
{
        return (size_t) ((4 - (n & 3)) & 3);
}

static int write_bytes(vp_cpio *c, const void *data, size_t size, vp_error *err)
{
        const char *p = data;

        while (size > 0) {
                ssize_t n = write(c->fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return vp_error_set_errno(err, -errno, "cpio: write failed");
                }
                p += n;
                size -= (size_t) n;
                c->offset += (uint64_t) n;
        }
        return 0;
}

static int write_padding(vp_cpio *c, vp_error *err)
{
        static const char zeros[4];

        return write_bytes(c, zeros, pad4(c->offset), err);
}

static int check_name(const char *name, vp_error *err)
{
        size_t len = strlen(name);

        if (len == 0 || len > VP_CPIO_NAME_MAX)
                return vp_error_set(err, -EINVAL, "cpio: invalid entry name '%s' (1 to %d bytes)", name,
                                    VP_CPIO_NAME_MAX);

        for (const char *p = name; *p;) {
                size_t n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return vp_error_set(err, -EINVAL,
                                            "cpio: invalid entry name '%s' (empty, '.' or '..' component)", name);
                p += n;
                if (*p == '/')
                        p++;
                if (!*p && p[-1] == '/')
                        return vp_error_set(err, -EINVAL, "cpio: invalid entry name '%s' (trailing slash)", name);
        }
        return 0;
}

/* Write one header and the padded name. The caller writes size bytes of data after it. */
static int write_header(vp_cpio *c, const char *name, mode_t mode, uint64_t size, unsigned rdev_major,
                        unsigned rdev_minor, vp_error *err)
{
        char header[NEWC_HEADER_SIZE + 1];

        if (c->finished)
                return vp_error_set(err, -EINVAL, "cpio: archive already finished");
        while (*name == '/')
                name++;
        int r = check_name(name, err);
        if (r < 0)
                return r;
        if (name != trailer_name && strcmp(name, trailer_name) == 0)
                return vp_error_set(err, -EINVAL,
                                    "cpio: invalid entry name '%s' (reserved for the end of the archive)", name);
        if (size > VP_CPIO_FILE_MAX)
                return vp_error_set(err, -EFBIG, "cpio: '%s' is %llu bytes, more than the format's %u", name,
                                    (unsigned long long) size, VP_CPIO_FILE_MAX);

        size_t name_size = strlen(name) + 1;
        uint64_t entry_size = NEWC_HEADER_SIZE + name_size + pad4(NEWC_HEADER_SIZE + name_size) + size + pad4(size);
        if (c->offset + entry_size > c->max_size)
                return vp_error_set(err, -EFBIG, "cpio: adding '%s' makes the archive larger than %llu bytes", name,
                                    (unsigned long long) c->max_size);

        snprintf(header, sizeof(header),
                 NEWC_MAGIC "%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                 c->next_inode++,             /* ino */
                 (unsigned) mode,             /* mode */
                 0u,                          /* uid */
                 0u,                          /* gid */
                 S_ISDIR(mode) ? 2u : 1u,     /* nlink */
                 0u,                          /* mtime */
                 (unsigned) size,             /* filesize */
                 0u,                          /* devmajor */
                 0u,                          /* devminor */
                 rdev_major,                  /* rdevmajor */
                 rdev_minor,                  /* rdevminor */
                 (unsigned) name_size,        /* namesize, NUL included */
                 0u);                         /* check */

        r = write_bytes(c, header, NEWC_HEADER_SIZE, err);
        if (r >= 0)
                r = write_bytes(c, name, name_size, err);
        if (r >= 0)
                r = write_padding(c, err);
        return r;
}

int vp_cpio_add_directory(vp_cpio *c, const char *name, mode_t mode, vp_error *err)
{
        return write_header(c, name, S_IFDIR | (mode & 07777), 0, 0, 0, err);
}

int vp_cpio_add_data(vp_cpio *c, const char *name, mode_t mode, const void *data, size_t size, vp_error *err)
{
        int r = write_header(c, name, S_IFREG | (mode & 07777), size, 0, 0, err);
        if (r < 0)
                return r;
        r = write_bytes(c, data, size, err);
        if (r < 0)
                return r;
        return write_padding(c, err);
}

int vp_cpio_add_file(vp_cpio *c, const char *name, mode_t mode, const char *source_path, vp_error *err)
{
        _cleanup_close_ int fd = open(source_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        char buf[65536];

        if (fd < 0)
                return vp_error_set_errno(err, -errno, "cpio: %s", source_path);
        if (fstat(fd, &st) < 0)
                return vp_error_set_errno(err, -errno, "cpio: %s", source_path);
        if (!S_ISREG(st.st_mode))
                return vp_error_set(err, -EINVAL, "cpio: %s: not a regular file", source_path);

        int r = write_header(c, name, S_IFREG | (mode & 07777), (uint64_t) st.st_size, 0, 0, err);
        if (r < 0)
                return r;

        uint64_t left = (uint64_t) st.st_size;
        while (left > 0) {
                ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vp_error_set_errno(err, -errno, "cpio: %s: read failed", source_path);
                if (n == 0)
                        return vp_error_set(err, -EIO, "cpio: %s: file shrank while it was read", source_path);
                r = write_bytes(c, buf, (size_t) n, err);
                if (r < 0)
                        return r;
                left -= (uint64_t) n;
        }
        return write_padding(c, err);
}

int vp_cpio_add_symlink(vp_cpio *c, const char *name, const char *target, vp_error *err)
{
        size_t len = strlen(target);

        if (len == 0 || len > VP_CPIO_NAME_MAX)
                return vp_error_set(err, -EINVAL, "cpio: invalid symlink target for '%s' (1 to %d bytes)", name,
                                    VP_CPIO_NAME_MAX);
        int r = write_header(c, name, S_IFLNK | 0777, len, 0, 0, err);
        if (r < 0)
                return r;
        r = write_bytes(c, target, len, err);
        if (r < 0)
                return r;
        return write_padding(c, err);
}

int vp_cpio_add_char_device(vp_cpio *c, const char *name, mode_t mode, unsigned major, unsigned minor,
                            vp_error *err)
{
        return write_header(c, name, S_IFCHR | (mode & 07777), 0, major, minor, err);
}

int vp_cpio_finish(vp_cpio *c, vp_error *err)
{
        int r = write_header(c, trailer_name, 0, 0, 0, 0, err);
        if (r < 0)
                return r;
        c->finished = true;
        return 0;
}
