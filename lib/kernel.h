/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest kernel: the host's newest /boot/vmlinuz-* that has /lib/modules/<version>, or one
 * named by --kernel or VMPACK_KERNEL. Under TCG the uncompressed vmlinux (PVH entry) boots
 * seconds faster, so it is extracted once from the vmlinuz payload and cached under
 * VP_DIR_CACHE/kernels/<version>/.
 */
#pragma once

#include "util.h"

typedef struct vp_kernel {
        char *version;      /* "6.1.0-57-amd64" */
        char *vmlinuz;      /* compressed bzImage */
        char *modules_dir;  /* /lib/modules/<version> */
} vp_kernel;

vp_kernel *vp_kernel_free(vp_kernel *k);
static inline void vp_kernel_freep(vp_kernel **k)
{
        vp_kernel_free(*k);
}
#define _cleanup_kernel_ _cleanup_(vp_kernel_freep)

/* Find the kernel. override (may be NULL) is a vmlinuz path; its version is read from the
 * bzImage header and its modules must exist in /lib/modules/<version> (or VMPACK_MODULES_DIR). */
int vp_kernel_find(const char *override, vp_kernel **ret, vp_error *err);
/* Return the path of the cached uncompressed vmlinux, extracting it first if needed. */
int vp_kernel_get_vmlinux(const vp_kernel *k, char **ret_path, vp_error *err);
