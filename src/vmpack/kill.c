/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack kill NAME\n\n"
              "Stop a running instance at once: its QEMU is killed with SIGKILL, the app gets no\n"
              "chance to save. Files the app had not yet written to its home may be lost.\n\n"
              "Options:\n"
              "  -h, --help    show this help\n",
              out);
}

int verb_kill(int argc, char **argv)
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
                        return vp_option_error("kill", argv, "h", options);
                }
        }
        if (argc - optind != 1) {
                vp_log_error("kill: expected one instance NAME (run 'vmpack ps')");
                return 2;
        }

        json_t *parameters = json_pack("{s:s}", "name", argv[optind]);
        int r = vp_daemon_call("kill", "Kill", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;
        printf("Killed %s\n", argv[optind]);
        json_decref(reply);
        return 0;
}
