/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>
#include <time.h>

#define FOLLOW_POLL_MS 500

static void print_help(FILE *out)
{
        fputs("Usage: vmpack logs [OPTIONS] NAME\n\n"
              "Print the app output (stdout and stderr) of the instance's current or last run.\n"
              "vmpackd caps each log (8 MiB by default) and keeps the previous part as app.log.1\n"
              "in the instance directory.\n\n"
              "Options:\n"
              "  -f, --follow  keep printing new output until the instance stops\n"
              "  -h, --help    show this help\n",
              out);
}

int verb_logs(int argc, char **argv)
{
        static const struct option options[] = {
                { "follow", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct timespec pause = { .tv_nsec = FOLLOW_POLL_MS * 1000000L };
        bool follow = false;
        json_int_t offset = 0;
        int c;

        while ((c = getopt_long(argc, argv, "fh", options, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        follow = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("logs", argv, "fh", options);
                }
        }
        if (argc - optind != 1) {
                vp_log_error("logs: expected one instance NAME (run 'vmpack list')");
                return 2;
        }

        for (;;) {
                json_t *reply = NULL;
                json_t *parameters = json_pack("{s:s, s:I}", "name", argv[optind], "offset", offset);
                int r = vp_daemon_call("logs", "Logs", parameters, &reply);
                json_decref(parameters);
                if (r != 0)
                        return r;

                json_t *text = json_object_get(reply, "text");
                json_int_t next = json_integer_value(json_object_get(reply, "offset"));
                json_int_t size = json_integer_value(json_object_get(reply, "size"));
                bool running = json_is_true(json_object_get(reply, "running"));
                fwrite(json_string_value(text), 1, json_string_length(text), stdout);
                fflush(stdout);
                json_decref(reply);

                bool more = next < size;
                offset = next;
                if (!more && (!follow || !running))
                        return 0;
                if (!more)
                        nanosleep(&pause, NULL);
        }
}
