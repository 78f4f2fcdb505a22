/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_kill(int argc, char **argv)
{
        static const char help[] = "Usage: vmpack kill NAME\n\n"
                                   "Stop a running instance at once: its QEMU is killed with SIGKILL, the app gets no\n"
                                   "chance to save. Files the app had not yet written to its home may be lost.\n\n"
                                   "Options:\n"
                                   "  -h, --help    show this help\n";

        return vp_instance_verb(argc, argv, help, "Kill", "ps", "Killed");
}
