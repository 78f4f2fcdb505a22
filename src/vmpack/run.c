/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_run(int argc, char **argv)
{
        fprintf(stderr, "vmpack run: not implemented yet\n");
        return 1;
}
