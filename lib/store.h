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
 * or the new state, never half an image. An image is kept while a name or an instance
 * (VP_DIR_DATA/instances/<name>/instance.json) refers to it; recipe links alone do not keep it.
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

/* True when name is a valid image name: [a-z0-9][a-z0-9._-]{0,63}. */
bool vp_image_name_valid(const char *name);

/* The image built from a recipe with this digest (the build cache); -ENOENT when none. */
int vp_store_find_recipe(const char *recipe_digest, vp_image **ret, vp_error *err);

/* Create an empty directory under the store's tmp/ to build in. It lies on the store's file
 * system, so vp_store_add_image() can rename(2) it into place. */
int vp_store_make_staging(char **ret_directory, vp_error *err);

/*
 * Move staging_directory, which must contain rootfs.sqfs, into the store: compute the digest,
 * add "digest" and "size" to metadata, write image.json, rename the directory to
 * images/<digest>, and point names/<name> and, when recipe_digest is not NULL,
 * recipes/<recipe_digest> at it. When images/<digest> already exists (the same bytes built
 * before), the existing directory and its image.json are kept and staging is removed. An
 * image that the name pointed to before is deleted, with its recipe links, when no other name
 * and no instance refers to it.
 */
int vp_store_add_image(const char *staging_directory, const char *name, const char *recipe_digest,
                       json_t *metadata, vp_image **ret, vp_error *err);

/* Point names/<name> at the stored image with this full digest, deleting the image it pointed
 * to before like vp_store_add_image() does. */
int vp_store_set_name(const char *name, const char *digest, vp_error *err);

/* Delete the image with this full digest, with its recipe links, when no name and no
 * instance refers to it any more; otherwise do nothing. Call it after removing an instance. */
int vp_store_release_image(const char *digest, vp_error *err);

/* Create a new build log logs/<name>-<UTC time>.log; return its path and an O_APPEND fd. */
int vp_store_open_log(const char *name, char **ret_path, int *ret_fd, vp_error *err);

/* Names of instances (VP_DIR_DATA/instances/<name>/instance.json) whose "image" is digest. */
int vp_store_list_image_users(const char *digest, char ***ret_instances, vp_error *err);

/*
 * Remove the name. When no other name refers to its image, also remove the image directory
 * and the recipe links (build cache entries) that point to it. Removing the last name of an
 * image that an instance uses fails with -EBUSY unless force is set. *ret_removed_image (may
 * be NULL) is set to whether the image directory was removed.
 */
int vp_store_remove_name(const char *name, bool force, bool *ret_removed_image, vp_error *err);
