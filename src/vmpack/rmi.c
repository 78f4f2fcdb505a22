/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "store.h"

#include <getopt.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack rmi [OPTIONS] NAME...\n\n"
              "Remove image names. An image whose last name is removed is deleted, with its\n"
              "build cache entries, unless an instance still uses it.\n\n"
              "Options:\n"
              "  --force     remove the image even while instances use it\n"
              "              (default: refuse and list those instances)\n"
              "  -h, --help  show this help\n\n"
              "Environment:\n"
              "  VMPACK_DATA_DIR  image store (default $XDG_DATA_HOME/vmpack)\n",
              out);
}

int verb_rmi(int argc, char **argv)
{
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool force = false;
        int c, status = 0;

        while ((c = getopt_long(argc, argv, "fh", options, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("rmi", argv, "fh", options);
                }
        }
        if (optind >= argc) {
                vp_log_error("rmi: expected at least one image NAME (run 'vmpack images' for the list)");
                return 2;
        }

        for (int i = optind; i < argc; i++) {
                vp_error err = {};
                bool removed_image = false;

                if (!vp_image_name_valid(argv[i])) {
                        vp_log_error("rmi: invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63})", argv[i]);
                        status = 2;
                        continue;
                }
                if (vp_store_remove_name(argv[i], force, &removed_image, &err) < 0) {
                        status = vp_fail("rmi", &err);
                        continue;
                }
                printf("Removed %s%s\n", argv[i], removed_image ? " and its image" : " (image kept: other names use it)");
        }
        return status;
}
