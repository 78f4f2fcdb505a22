/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>
#include <string.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack override [OPTIONS] NAME\n\n"
              "Narrow what an instance's app gets at its next start, below what its recipe\n"
              "requests. An override can only remove or narrow; the policy decides the rest\n"
              "(see 'vmpack policy show'). New options are added to the stored ones. Without\n"
              "options, print the stored override.\n\n"
              "Options:\n"
              "      --nofilesystem=LOCATION  do not share LOCATION (as written in the recipe,\n"
              "                               e.g. xdg-download or ~/Work)\n"
              "      --filesystem=LOCATION:MODE\n"
              "                               share LOCATION with a narrower MODE (ro, or rw\n"
              "                               instead of create)\n"
              "      --nonetwork              no network interface at all\n"
              "      --nodevice=DEVICE        remove a device: audio, microphone, camera,\n"
              "                               clipboard, gpu or usb\n"
              "      --cpus=N                 at most N virtual CPUs\n"
              "      --memory=SIZE            at most SIZE of guest memory (bytes, or with a\n"
              "                               K, M or G suffix, binary units)\n"
              "      --reset                  drop the stored override first\n"
              "      --json                   print the stored override as a JSON array\n"
              "  -h, --help                   show this help\n",
              out);
}

int verb_override(int argc, char **argv)
{
        static const struct option options[] = {
                { "nofilesystem", required_argument, NULL, 'F' },
                { "filesystem", required_argument, NULL, 'f' },
                { "nonetwork", no_argument, NULL, 'N' },
                { "nodevice", required_argument, NULL, 'D' },
                { "cpus", required_argument, NULL, 'c' },
                { "memory", required_argument, NULL, 'm' },
                { "reset", no_argument, NULL, 'r' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        json_t *list = json_array();
        json_t *reply = NULL;
        bool reset = false, as_json = false;
        int c, index;

        opterr = 0;
        /* The daemon parses and checks the options (lib/policy.c), so they travel as written. */
        while ((c = getopt_long(argc, argv, "h", options, &index)) >= 0) {
                switch (c) {
                case 'F':
                case 'f':
                case 'D':
                case 'c':
                case 'm': {
                        _cleanup_free_ char *option = vp_strdup_printf("--%s=%s", options[index].name, optarg);
                        if (!option || json_array_append_new(list, json_string(option)) < 0) {
                                json_decref(list);
                                vp_log_error("override: out of memory");
                                return 1;
                        }
                        break;
                }
                case 'N':
                        json_array_append_new(list, json_string("--nonetwork"));
                        break;
                case 'r':
                        reset = true;
                        break;
                case 'j':
                        as_json = true;
                        break;
                case 'h':
                        json_decref(list);
                        print_help(stdout);
                        return 0;
                default:
                        json_decref(list);
                        return vp_option_error("override", argv, "h", options);
                }
        }
        if (optind != argc - 1) {
                json_decref(list);
                vp_log_error("override: %s (see 'vmpack override --help')",
                             optind >= argc ? "missing instance NAME" : "too many arguments");
                return 2;
        }

        json_t *parameters = json_pack("{s:s, s:o, s:b}", "name", argv[optind], "options", list, "reset", reset);
        if (!parameters) {
                vp_log_error("override: out of memory");
                return 1;
        }
        int r = vp_daemon_call("override", "Override", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;

        json_t *stored = json_object_get(reply, "override"), *item;
        size_t i;
        if (as_json)
                vp_print_json(stored);
        else if (json_array_size(stored) == 0)
                printf("%s: no override; the app gets what its recipe requests and the policy allows\n",
                       argv[optind]);
        else {
                printf("%s:", argv[optind]);
                json_array_foreach(stored, i, item)
                        printf(" %s", json_string_value(item));
                printf("\n");
        }
        json_decref(reply);
        return 0;
}
