/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Print the guest kernel (uncompressed vmlinux) and the initramfs built around an init
 * binary, one path per line, for integration scripts that start QEMU themselves.
 * Usage: guest-files INIT [VMLINUZ]
 */
#include "initramfs.h"
#include "kernel.h"

int main(int argc, char **argv)
{
        _cleanup_kernel_ vp_kernel *kernel = NULL;
        _cleanup_free_ char *vmlinux = NULL, *initramfs = NULL;
        vp_error err = { 0 };

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: guest-files INIT [VMLINUZ]\n");
                return 2;
        }
        if (vp_kernel_find(argc == 3 ? argv[2] : NULL, &kernel, &err) < 0 ||
            vp_kernel_get_vmlinux(kernel, &vmlinux, &err) < 0 ||
            vp_initramfs_get(kernel, argv[1], &initramfs, &err) < 0) {
                fprintf(stderr, "guest-files: %s\n", err.message);
                return 1;
        }
        printf("%s\n%s\n", vmlinux, initramfs);
        return 0;
}
