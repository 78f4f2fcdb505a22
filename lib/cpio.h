/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A writer for cpio "newc" archives (the format the kernel unpacks as an initramfs).
 * Output is deterministic: every entry has mtime 0, uid and gid 0, and inode numbers
 * counted from 1 in the order of the calls, so the same calls give the same bytes.
 */
#pragma once

#include "util.h"

#include <sys/types.h>

/* Largest entry the format can describe: the size field is 8 hex digits. */
#define VP_CPIO_FILE_MAX 0xffffffffu
/* Maximum length of an entry name, NUL excluded. */
#define VP_CPIO_NAME_MAX 4095

typedef struct vp_cpio vp_cpio;

/* Start an archive written to fd (not closed by the writer). max_size bounds the whole
 * archive in bytes, and an entry that would pass it fails with -EFBIG. */
int vp_cpio_new(int fd, uint64_t max_size, vp_cpio **ret);
vp_cpio *vp_cpio_free(vp_cpio *c);
static inline void vp_cpio_freep(vp_cpio **c)
{
        vp_cpio_free(*c);
}
#define _cleanup_cpio_ _cleanup_(vp_cpio_freep)

/* Names are paths inside the archive such as "etc/vmpack-init/modules". A leading slash is
 * dropped, and names with empty, "." or ".." components are rejected, as is "TRAILER!!!", the
 * name of the entry that ends an archive. mode contains the permission bits only, because the
 * writer adds the file type. */
int vp_cpio_add_directory(vp_cpio *c, const char *name, mode_t mode, vp_error *err);
int vp_cpio_add_data(vp_cpio *c, const char *name, mode_t mode, const void *data, size_t size, vp_error *err);
/* Copy the regular file at source_path, which must not shrink while it is read. */
int vp_cpio_add_file(vp_cpio *c, const char *name, mode_t mode, const char *source_path, vp_error *err);
int vp_cpio_add_symlink(vp_cpio *c, const char *name, const char *target, vp_error *err);
/* A character device node such as "dev/console" (5, 1). */
int vp_cpio_add_char_device(vp_cpio *c, const char *name, mode_t mode, unsigned major, unsigned minor,
                            vp_error *err);
/* Write the TRAILER!!! entry. The archive is complete only after this returns 0. */
int vp_cpio_finish(vp_cpio *c, vp_error *err);
/* Bytes written so far. */
uint64_t vp_cpio_size(const vp_cpio *c);
