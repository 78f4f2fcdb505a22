/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_rmi(int argc, char **argv)
{
        fprintf(stderr, "vmpack rmi: not implemented yet\n");
        return 1;
}
