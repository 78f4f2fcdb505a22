/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack ps [OPTIONS]\n\n"
              "List running instances: state, QEMU pid, uptime, QEMU's resident memory and the\n"
              "accelerator (kvm or tcg).\n\n"
              "Options:\n"
              "      --json    print a JSON array of instance objects (see docs/api.md, Ps)\n"
              "  -h, --help    show this help\n",
              out);
}

static void format_uptime(long long seconds, char *buffer, size_t size)
{
        if (seconds < 60)
                snprintf(buffer, size, "%llds", seconds);
        else if (seconds < 3600)
                snprintf(buffer, size, "%lldm%02llds", seconds / 60, seconds % 60);
        else
                snprintf(buffer, size, "%lldh%02lldm", seconds / 3600, seconds / 60 % 60);
}

int verb_ps(int argc, char **argv)
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
                        return vp_option_error("ps", argv, "h", options);
                }
        }
        if (optind < argc) {
                vp_log_error("ps: unexpected argument '%s'", argv[optind]);
                return 2;
        }

        int r = vp_daemon_call("ps", "Ps", NULL, &reply);
        if (r != 0)
                return r;
        json_t *instances = json_object_get(reply, "instances");
        if (as_json) {
                vp_print_json(instances);
        } else {
                printf("%-24s %-9s %8s %9s %9s %s\n", "NAME", "STATE", "PID", "UPTIME", "RSS", "ACCEL");
                json_array_foreach(instances, i, item) {
                        char uptime[32], rss[32] = "-", pid[16] = "-";
                        json_t *rss_value = json_object_get(item, "rss_bytes");
                        json_t *pid_value = json_object_get(item, "qemu_pid");
                        format_uptime(json_integer_value(json_object_get(item, "uptime_s")), uptime, sizeof(uptime));
                        if (json_is_integer(rss_value))
                                snprintf(rss, sizeof(rss), "%lldM", json_integer_value(rss_value) >> 20);
                        if (json_is_integer(pid_value))
                                snprintf(pid, sizeof(pid), "%lld", json_integer_value(pid_value));
                        printf("%-24s %-9s %8s %9s %9s %s\n", vp_json_string(item, "name", "-"),
                               vp_json_string(item, "state", "-"), pid, uptime, rss,
                               vp_json_string(item, "accelerator", "-"));
                }
        }
        json_decref(reply);
        return 0;
}
