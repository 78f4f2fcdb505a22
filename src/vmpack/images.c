/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

int verb_images(int argc, char **argv)
{
        fprintf(stderr, "vmpack images: not implemented yet\n");
        return 1;
}
