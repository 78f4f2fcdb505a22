/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image store: read-only squashfs root filesystems, content-addressed by the SHA-256 of
 * the squashfs file, under VP_DIR_DATA/images/:
 *   images/<digest>/rootfs.sqfs    the image
 *   images/<digest>/image.json     metadata (name, recipe, recipe digest, size, build time,
 *                                  package versions, exec, resources, permissions)
 *   names/<name>                   symlink to ../images/<digest>
 *   recipes/<recipe digest>        symlink to ../images/<digest> (build cache)
 *   logs/                          build logs
 * Every change is a rename(2) of a complete file or link, so a crash leaves either the old
 * or the new state, never half an image.
 */
#pragma once

#include "util.h"

#include <jansson.h>
#include <time.h>

typedef struct vp_image {
        char *name;
        char *digest;      /* sha256 hex of rootfs.sqfs */
        char *directory;   /* images/<digest> */
        char *rootfs_path; /* images/<digest>/rootfs.sqfs */
        uint64_t size;     /* bytes of rootfs.sqfs */
        json_t *metadata;  /* contents of image.json */
} vp_image;

vp_image *vp_image_free(vp_image *image);
static inline void vp_image_freep(vp_image **image)
{
        vp_image_free(*image);
}
#define _cleanup_image_ _cleanup_(vp_image_freep)

/* Look up an image by name, by full digest, or by a unique digest prefix of 12 or more characters. */
int vp_store_find_image(const char *name_or_digest, vp_image **ret, vp_error *err);
/* All named images, sorted by name. */
int vp_store_list_images(vp_image ***ret, size_t *ret_count, vp_error *err);
