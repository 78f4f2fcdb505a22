/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack stop [OPTIONS] NAME\n\n"
              "Stop a running instance gracefully and wait until its VM has ended: the app gets\n"
              "SIGTERM (and SIGKILL 10 s later), then the VM powers off. QEMU is told to quit when\n"
              "the VM still runs after the timeout, and killed 5 s after that.\n\n"
              "Options:\n"
              "      --timeout SECONDS  wait before QEMU is told to quit (default: 20; 1 to 3600)\n"
              "  -h, --help             show this help\n",
              out);
}

int verb_stop(int argc, char **argv)
{
        static const struct option options[] = {
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        long timeout = 0;
        char *end;
        json_t *reply = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 't':
                        errno = 0;
                        timeout = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || timeout < 1 || timeout > 3600) {
                                vp_log_error("stop: --timeout '%s' is invalid (valid: 1 to 3600 seconds)", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("stop", argv, "h", options);
                }
        }
        if (argc - optind != 1) {
                vp_log_error("stop: expected one instance NAME (run 'vmpack ps')");
                return 2;
        }

        json_t *parameters = json_pack("{s:s}", "name", argv[optind]);
        if (timeout)
                json_object_set_new(parameters, "timeout", json_integer(timeout));
        int r = vp_daemon_call("stop", "Stop", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;
        printf("Stopped %s: %s\n", argv[optind],
               vp_json_string(json_object_get(reply, "instance"), "exit_reason", "no reason recorded"));
        json_decref(reply);
        return 0;
}
