/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>
#include <time.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack info [OPTIONS] NAME\n\n"
              "Show an instance: image, workspace, data volume, state, last exit and its most\n"
              "recent events (installs, starts, stops with the uid and pid that asked).\n\n"
              "Options:\n"
              "      --json    print the instance object (see docs/api.md, Info)\n"
              "  -h, --help    show this help\n",
              out);
}

static void print_time_ms(const char *label, json_t *value)
{
        if (!json_is_integer(value))
                return;
        time_t t = (time_t) (json_integer_value(value) / 1000);
        struct tm tm;
        char text[32];
        gmtime_r(&t, &tm);
        strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%-14s %s\n", label, text);
}

static void print_instance(json_t *instance)
{
        json_t *events = json_object_get(instance, "events"), *event;
        json_t *status = json_object_get(instance, "exit_status");
        size_t i;

        printf("%-14s %s\n", "Name:", vp_json_string(instance, "name", "-"));
        printf("%-14s %s (%s)\n", "Image:", vp_json_string(instance, "image_name", "-"),
               vp_json_string(instance, "image", "-"));
        printf("%-14s %s\n", "Workspace:", vp_json_string(instance, "workspace", "-"));
        printf("%-14s %s\n", "Created:", vp_json_string(instance, "created", "-"));
        printf("%-14s %s\n", "Directory:", vp_json_string(instance, "directory", "-"));
        json_t *allocated = json_object_get(instance, "data_allocated_bytes");
        if (json_is_integer(allocated)) {
                char size[32];
                vp_format_size((uint64_t) json_integer_value(allocated), size, sizeof(size));
                printf("%-14s %s (%s on disk)\n", "Data volume:", vp_json_string(instance, "data_path", "-"), size);
        } else
                printf("%-14s %s\n", "Data volume:", vp_json_string(instance, "data_path", "-"));
        printf("%-14s %s\n", "State:", vp_json_string(instance, "state", "-"));
        print_time_ms("Started:", json_object_get(instance, "started_ms"));
        print_time_ms("Stopped:", json_object_get(instance, "stopped_ms"));
        if (json_is_integer(status))
                printf("%-14s %lld\n", "Exit status:", json_integer_value(status));
        if (json_is_string(json_object_get(instance, "exit_reason")))
                printf("%-14s %s\n", "Exit reason:", vp_json_string(instance, "exit_reason", "-"));

        printf("Events:\n");
        json_array_foreach(events, i, event) {
                time_t t = (time_t) (json_integer_value(json_object_get(event, "time_ms")) / 1000);
                struct tm tm;
                char text[32];
                gmtime_r(&t, &tm);
                strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("  %s %-11s uid %-6lld %s\n", text, vp_json_string(event, "event", "-"),
                       json_integer_value(json_object_get(event, "caller_uid")),
                       vp_json_string(event, "detail", ""));
        }
}

int verb_info(int argc, char **argv)
{
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool as_json = false;
        json_t *reply = NULL;
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
                        return vp_option_error("info", argv, "h", options);
                }
        }
        if (argc - optind != 1) {
                vp_log_error("info: expected one instance NAME (run 'vmpack list')");
                return 2;
        }

        json_t *parameters = json_pack("{s:s}", "name", argv[optind]);
        int r = vp_daemon_call("info", "Info", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;
        if (as_json)
                vp_print_json(json_object_get(reply, "instance"));
        else
                print_instance(json_object_get(reply, "instance"));
        json_decref(reply);
        return 0;
}
