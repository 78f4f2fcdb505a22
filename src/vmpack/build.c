/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_build(int argc, char **argv)
{
        fprintf(stderr, "vmpack build: not implemented yet\n");
        return 1;
}
