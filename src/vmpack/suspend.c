/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>
#include <string.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack suspend NAME\n"
              "       vmpack suspend --all\n\n"
              "Save a running instance's memory and device state in its directory and stop its\n"
              "QEMU. 'vmpack resume NAME' continues the app where it was. The state is refused on\n"
              "resume when the image, the guest kernel, the initramfs or QEMU changed since.\n"
              "An instance that shares host files cannot be suspended.\n\n"
              "Options:\n"
              "      --all     suspend every running instance, e.g. before a host update\n"
              "  -h, --help    show this help\n",
              out);
}

static int suspend_one(const char *name)
{
        json_t *reply = NULL;
        json_t *parameters = json_pack("{s:s}", "name", name);
        int r = vp_daemon_call("suspend", "Suspend", parameters, &reply);

        json_decref(parameters);
        if (r != 0)
                return r;
        printf("Suspended %s\n", name);
        json_decref(reply);
        return 0;
}

static int suspend_all(void)
{
        json_t *reply = NULL, *item;
        size_t i;
        int result = 0;

        int r = vp_daemon_call("suspend", "Ps", NULL, &reply);
        if (r != 0)
                return r;
        json_array_foreach(json_object_get(reply, "instances"), i, item) {
                const char *name = json_string_value(json_object_get(item, "name"));
                const char *state = json_string_value(json_object_get(item, "state"));
                if (!name || !state || strcmp(state, "running") != 0)
                        continue;
                r = suspend_one(name);
                if (r != 0)
                        result = r;
        }
        json_decref(reply);
        return result;
}

int verb_suspend(int argc, char **argv)
{
        static const struct option options[] = {
                { "all", no_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool all = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'a':
                        all = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("suspend", argv, "h", options);
                }
        }
        if (all && argc - optind == 0)
                return suspend_all();
        if (all || argc - optind != 1) {
                vp_log_error("suspend: expected one instance NAME or --all (run 'vmpack ps')");
                return 2;
        }
        return suspend_one(argv[optind]);
}
