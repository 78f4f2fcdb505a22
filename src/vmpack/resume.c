/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack resume NAME\n\n"
              "Start a suspended instance from its saved state and wait until the app runs again.\n"
              "The saved state is deleted once the guest runs. A state that no longer matches the\n"
              "image, the guest kernel, the initramfs or QEMU is refused and kept: discard it with\n"
              "'vmpack stop NAME', then 'vmpack start NAME' boots the app afresh.\n\n"
              "Options:\n"
              "  -h, --help    show this help\n",
              out);
}

int verb_resume(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        json_t *reply = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("resume", argv, "h", options);
                }
        }
        if (argc - optind != 1) {
                vp_log_error("resume: expected one instance NAME (run 'vmpack list')");
                return 2;
        }

        json_t *parameters = json_pack("{s:s}", "name", argv[optind]);
        int r = vp_daemon_call("resume", "Resume", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;
        printf("Resumed %s\n", argv[optind]);
        json_decref(reply);
        return 0;
}
