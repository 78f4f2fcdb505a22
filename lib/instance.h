/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Instances on disk: a named install of an image, under VP_DIR_DATA/instances/<name>/:
 *   instance.json   {"name", "image" (the image digest), "image_name", "workspace", "created"}
 *   data.qcow2      the private data volume: an ext4 filesystem, mounted at the app user's
 *                   home in the guest, so files written there survive restarts
 *   app.log         the app's stdout and stderr of the current or last run (size-capped)
 *   console.log     the guest console of the current or last run
 *   vmstate         a suspended VM's saved memory and device state (QEMU migration stream)
 *   vmstate.json    what that state depends on, and the app's argv and shared files
 * Uninstalling without purge removes instance.json and keeps data.qcow2; installing the
 * same name again reuses that volume.
 */
#pragma once

#include "util.h"

#include <jansson.h>

#define VP_INSTANCE_NAME_MAX 64
/* The saved state of a suspended instance, in its directory. */
#define VP_INSTANCE_STATE_FILE "vmstate"
#define VP_INSTANCE_DEFAULT_WORKSPACE "default"
#define VP_INSTANCE_DEFAULT_DATA_SIZE (1024ULL * 1024 * 1024)
/* ext4 needs a few MiB for its journal and metadata; below this mkfs.ext4 fails or the
 * volume has no room left for the app. */
#define VP_INSTANCE_MIN_DATA_SIZE (16ULL * 1024 * 1024)
#define VP_INSTANCE_MAX_DATA_SIZE (1024ULL * 1024 * 1024 * 1024)

/* True when name is 1 to 64 characters of [A-Za-z0-9._-] starting with a letter or digit.
 * Workspace names follow the same rule. */
bool vp_instance_name_valid(const char *name);

/* VP_DIR_DATA/instances/<name>, or with file appended when file is not NULL. */
char *vp_instance_path(const char *name, const char *file);

typedef struct vp_instance_create_options {
        const char *name;
        const char *image_digest;
        const char *image_name; /* may be NULL */
        const char *workspace;  /* NULL: VP_INSTANCE_DEFAULT_WORKSPACE */
        uint64_t data_size;     /* bytes; 0: VP_INSTANCE_DEFAULT_DATA_SIZE */
        unsigned owner_uid;     /* owner of the ext4 root directory, the app's uid in the guest */
} vp_instance_create_options;

/*
 * Create the instance directory with its data volume and instance.json, which is written
 * last, so a failure leaves no instance that rmi would count. -EEXIST when
 * instance.json exists. A data.qcow2 left by an uninstall without purge is kept and reused
 * (*ret_reused_data set). Returns the metadata written in *ret (may be NULL).
 */
int vp_instance_create(const vp_instance_create_options *options, bool *ret_reused_data, json_t **ret,
                       vp_error *err);

/* Read instance.json. -ENOENT when the instance does not exist. */
int vp_instance_load(const char *name, json_t **ret, vp_error *err);

/* Remove instance.json and the logs; with purge, the whole directory with the data volume. */
int vp_instance_remove(const char *name, bool purge, vp_error *err);

/* Format a time in ISO 8601 UTC with seconds ("2026-12-04T21:30:00Z"). */
void vp_format_utc(time_t t, char ret[32]);
