/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The initramfs every guest boots: vmpack-init as /init plus the kernel modules it needs,
 * resolved through modules.dep and listed in load order in /etc/vmpack-init/modules (always
 * loaded) and modules.9p, modules.ext4 and modules.net (loaded when the guest configuration
 * has shares, a data volume or a network).
 * Written as cpio newc by cpio.c and cached under
 * VP_DIR_CACHE/initramfs/<kernel version>-<init digest prefix>.cpio.
 */
#pragma once

#include "kernel.h"
#include "util.h"

/* Return the module paths, relative to modules_dir, that the guest loads: the modules
 * vmpack-init needs and their dependencies from modules.dep, dependencies first. Modules
 * listed in modules.builtin are left out. */
int vp_initramfs_resolve_modules(const char *modules_dir, char ***ret_paths, vp_error *err);

/* Return the path of the cached initramfs for this kernel and init binary, building it if needed. */
int vp_initramfs_get(const vp_kernel *k, const char *init_path, char **ret_path, vp_error *err);
