/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ownership helpers, the error record and small string-list and file utilities shared by
 * every part of vmpack. The library never prints: fallible functions return a negative
 * errno and fill a caller-owned vp_error with "outer: inner: cause" context.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _unused_ __attribute__((unused))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p)
{
        free(*(void **) p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Move ownership out of a cleanup variable: the variable is reset so it is not freed. */
#define TAKE_PTR(p)                                                                                        \
        ({                                                                                                 \
                __typeof__(p) _taken = (p);                                                                \
                (p) = NULL;                                                                                \
                _taken;                                                                                    \
        })
#define TAKE_FD(fd)                                                                                        \
        ({                                                                                                 \
                int _taken_fd = (fd);                                                                      \
                (fd) = -EBADF;                                                                             \
                _taken_fd;                                                                                 \
        })

/* Error record: the negative errno and a message such as "build: mmdebstrap: exit status 1". */
typedef struct vp_error {
        int code;
        char message[2048];
} vp_error;

/* Set the error (when err is not NULL) and return code, which must be negative. */
int vp_error_set(vp_error *err, int code, const char *fmt, ...) _printf_(3, 4);
/* Same, with ": <strerror(-code)>" appended. */
int vp_error_set_errno(vp_error *err, int code, const char *fmt, ...) _printf_(3, 4);
/* Prepend "context: " to the message already in err and return err->code. */
int vp_error_prefix(vp_error *err, const char *fmt, ...) _printf_(2, 3);

/* NULL-terminated string vectors. */
char **strv_new(void);
size_t strv_length(char *const *v);
int strv_push(char ***v, char *value);      /* takes ownership of value, even on failure */
int strv_extend(char ***v, const char *value); /* copies value */
int strv_extendf(char ***v, const char *fmt, ...) _printf_(2, 3);
bool strv_contains(char *const *v, const char *value);
char **strv_free(char **v);
char *strv_join(char *const *v, const char *separator);
static inline void strv_freep(char ***v)
{
        strv_free(*v);
}
#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

char *vp_strdup_printf(const char *fmt, ...) _printf_(1, 2);
bool vp_str_startswith(const char *s, const char *prefix);
bool vp_str_endswith(const char *s, const char *suffix);

/* Read a whole file (at most max_size bytes, NUL-terminated). */
int vp_read_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size, vp_error *err);
/* Write data to path through a temporary file and rename(2), so readers never see half a file. */
int vp_write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, vp_error *err);
/* mkdir -p with the given mode for each created directory. */
int vp_mkdir_p(const char *path, mode_t mode, vp_error *err);
/* rm -rf that does not cross mount points or follow symlinks. */
int vp_rm_rf(const char *path, vp_error *err);

/* Lower-case hex SHA-256 of a file or buffer (65 bytes with the NUL). */
int vp_sha256_file(const char *path, char ret_hex[65], vp_error *err);
void vp_sha256_buffer(const void *data, size_t size, char ret_hex[65]);

/* Parse a size such as "512M", "2G", "1048576" (bytes when no suffix unless default_unit is set). */
int vp_parse_size(const char *s, uint64_t default_unit, uint64_t *ret_bytes);
