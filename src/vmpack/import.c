/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_import(int argc, char **argv)
{
        fprintf(stderr, "vmpack import: not implemented yet\n");
        return 1;
}
