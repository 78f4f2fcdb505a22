/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_check(int argc, char **argv)
{
        fprintf(stderr, "vmpack check: not implemented yet\n");
        return 1;
}
