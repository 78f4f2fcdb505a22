/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Building app images: a recipe's root filesystem comes from mmdebstrap (package lists) or
 * podman/docker (Containerfile), or from a tarball (import). It is packed into a zstd squashfs
 * with tar2sqfs and added to the store (store.h). Every build works in a staging directory
 * under the store and renames it into place at the end, so a failed or interrupted build
 * leaves no image, name or staging directory behind. The full output of every tool goes to
 * a build log under the store's logs/.
 *
 * Reproducibility: with SOURCE_DATE_EPOCH set, two builds of one package-list recipe from the
 * same mirror state give a byte-identical rootfs.sqfs. mmdebstrap clamps mtimes and sorts the
 * tar, and tar2sqfs writes no build time into the superblock.
 */
#pragma once

#include "manifest.h"
#include "progress.h"
#include "store.h"

typedef struct vp_build_options {
        bool rebuild;          /* build even when the recipe digest is cached */
        vp_progress *progress; /* may be NULL */
} vp_build_options;

/* Build (or find in the cache) the image of a recipe and name it m->name. On failure, the
 * message in err names the failed step and its log. *ret_cached (may be NULL) is set to
 * whether the image came from the cache. */
int vp_build_recipe(const vp_manifest *m, const vp_build_options *opts, vp_image **ret, bool *ret_cached,
                    vp_error *err);

/* Make an image named name from a rootfs tarball: plain, gzip, bzip2, xz or zstd (detected
 * from its first bytes). tar_path "-" reads standard input. */
int vp_build_import(const char *tar_path, const char *name, const vp_build_options *opts, vp_image **ret,
                    vp_error *err);

/* SHA-256 over everything a build's result depends on: the recipe text, the Containerfile
 * and the rest of its build context (the recipe directory), the contents of Files sources,
 * the base, the vmpack version and, for package lists, the customize and harden hooks. */
int vp_build_recipe_digest(const vp_manifest *m, char ret_hex[65], vp_error *err);
