/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_resume(int argc, char **argv)
{
        static const char help[] = "Usage: vmpack resume NAME\n\n"
                                   "Start a suspended instance from its saved state and wait until the app runs again.\n"
                                   "The saved state is deleted once the guest runs. A state that no longer matches the\n"
                                   "image, the guest kernel, the initramfs or QEMU is refused and kept: discard it with\n"
                                   "'vmpack stop NAME', then 'vmpack start NAME' boots the app afresh.\n\n"
                                   "Options:\n"
                                   "  -h, --help    show this help\n";

        return vp_instance_verb(argc, argv, help, "Resume", "list", "Resumed");
}
