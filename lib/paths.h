/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where vmpack keeps things. User mode follows the XDG base directories; every path can be
 * overridden by an environment variable, which the tests use:
 *   VMPACK_DATA_DIR     images and instances   ($XDG_DATA_HOME/vmpack, ~/.local/share/vmpack)
 *   VMPACK_CACHE_DIR    kernels, initramfs     ($XDG_CACHE_HOME/vmpack, ~/.cache/vmpack)
 *   VMPACK_CONFIG_DIR   configuration, policy  ($XDG_CONFIG_HOME/vmpack, ~/.config/vmpack)
 *   VMPACK_RUNTIME_DIR  sockets, running VMs   ($XDG_RUNTIME_DIR/vmpack, else /tmp/vmpack-UID)
 * Helper programs and data files:
 *   VMPACK_INIT         the vmpack-init binary
 *   VMPACK_LIBEXEC_DIR  helper scripts (harden, ...)
 */
#pragma once

#include "util.h"

typedef enum vp_dir {
        VP_DIR_DATA,
        VP_DIR_CACHE,
        VP_DIR_CONFIG,
        VP_DIR_RUNTIME,
} vp_dir;

/* Return a newly allocated path for the directory, optionally joined with sub (may be NULL).
 * The directory is not created. */
char *vp_path(vp_dir dir, const char *sub);
/* Same, and create the directory (not sub's leaf) with mode 0700 if missing. */
int vp_path_ensure(vp_dir dir, const char *sub, char **ret, vp_error *err);

/* Locate a helper shipped with vmpack: the build tree when running from it, else the
 * installed libexec directory. name is e.g. "vmpack-init" or "harden". */
int vp_find_helper(const char *name, char **ret, vp_error *err);
