/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack list [OPTIONS]\n\n"
              "List installed instances with their image, workspace and state.\n\n"
              "Options:\n"
              "      --json    print a JSON array of instance objects (see docs/api.md, List)\n"
              "  -h, --help    show this help\n",
              out);
}

int verb_list(int argc, char **argv)
{
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool as_json = false;
        json_t *reply = NULL, *item;
        size_t i;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        as_json = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("list", argv, "h", options);
                }
        }
        if (optind < argc) {
                vp_log_error("list: unexpected argument '%s'", argv[optind]);
                return 2;
        }

        int r = vp_daemon_call("list", "List", NULL, &reply);
        if (r != 0)
                return r;
        json_t *instances = json_object_get(reply, "instances");
        if (as_json) {
                vp_print_json(instances);
        } else {
                printf("%-24s %-20s %-12s %-9s %s\n", "NAME", "IMAGE", "WORKSPACE", "STATE", "CREATED");
                json_array_foreach(instances, i, item) {
                        const char *image_name = vp_json_string(item, "image_name", NULL);
                        char digest[13];
                        snprintf(digest, sizeof(digest), "%s", vp_json_string(item, "image", "-"));
                        printf("%-24s %-20s %-12s %-9s %s\n", vp_json_string(item, "name", "-"),
                               image_name ? image_name : digest, vp_json_string(item, "workspace", "-"),
                               vp_json_string(item, "state", "-"), vp_json_string(item, "created", "-"));
                }
        }
        json_decref(reply);
        return 0;
}
