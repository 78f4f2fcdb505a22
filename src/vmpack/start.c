/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "api.h"
#include "guest-protocol.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define WAIT_POLL_MS 500

static void print_help(FILE *out)
{
        fputs("Usage: vmpack start [OPTIONS] NAME [ARGS | FILES ...]\n\n"
              "Start the instance NAME in its VM, in the background, supervised by vmpackd.\n"
              "The app runs the image's Exec command with ARGS; each ARG that names an existing\n"
              "host file is shared alone and replaced by its path in the guest. The app's output\n"
              "goes to its log ('vmpack logs NAME').\n\n"
              "Options:\n"
              "      --entrypoint PROGRAM  run PROGRAM with ARGS instead of the image's Exec command\n"
              "      --wait                wait until the VM stops and exit with the app's status\n"
              "                            (125 when the VM failed)\n"
              "  -h, --help                show this help\n\n"
              "Environment:\n"
              "  VMPACK_DATA_DIR     images and instance data (default $XDG_DATA_HOME/vmpack)\n"
              "  VMPACK_CACHE_DIR    guest kernels and initramfs (default $XDG_CACHE_HOME/vmpack)\n"
              "  VMPACK_RUNTIME_DIR  vmpackd's socket and run directories (default\n"
              "                      $XDG_RUNTIME_DIR/vmpack, else /tmp/vmpack-UID)\n"
              "A running vmpackd keeps the directories it started with.\n",
              out);
}

/* Each argument that names an existing regular file becomes its absolute path, and that
 * path is added to files. */
static int collect_arguments(char **args, json_t *arguments, json_t *files)
{
        struct stat st;

        STRV_FOREACH(arg, args) {
                if (stat(*arg, &st) < 0 || !S_ISREG(st.st_mode)) {
                        json_array_append_new(arguments, json_string(*arg));
                        continue;
                }
                _cleanup_free_ char *cwd = (*arg)[0] == '/' ? NULL : getcwd(NULL, 0);
                _cleanup_free_ char *absolute = cwd ? vp_strdup_printf("%s/%s", cwd, *arg) : strdup(*arg);
                if (!absolute)
                        return -ENOMEM;
                json_array_append_new(arguments, json_string(absolute));
                json_array_append_new(files, json_string(absolute));
        }
        return 0;
}

/* Poll Info until the instance is stopped; return its exit status as vmpack run would. */
static int wait_stopped(const char *name)
{
        json_t *parameters = json_pack("{s:s}", "name", name);
        struct timespec pause = { .tv_nsec = WAIT_POLL_MS * 1000000L };

        for (;;) {
                json_t *reply = NULL;
                int r = vp_daemon_call("start", "Info", parameters, &reply);
                if (r != 0) {
                        json_decref(parameters);
                        return VP_STATUS_VM_FAILURE;
                }
                json_t *instance = json_object_get(reply, "instance");
                if (strcmp(vp_json_string(instance, "state", ""), "stopped") == 0) {
                        json_t *status = json_object_get(instance, "exit_status");
                        int result = json_is_integer(status) && json_integer_value(status) >= 0
                                             ? (int) json_integer_value(status)
                                             : VP_STATUS_VM_FAILURE;
                        fprintf(stderr, "vmpack start: %s stopped: %s\n", name,
                                vp_json_string(instance, "exit_reason", "no reason recorded"));
                        json_decref(reply);
                        json_decref(parameters);
                        return result;
                }
                json_decref(reply);
                nanosleep(&pause, NULL);
        }
}

int verb_start(int argc, char **argv)
{
        static const struct option options[] = {
                { "entrypoint", required_argument, NULL, 'e' },
                { "wait", no_argument, NULL, 'w' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *entrypoint = NULL;
        bool wait = false;
        json_t *reply = NULL;
        int c;

        /* "+": options end at NAME, so the app's own options pass through. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'e':
                        entrypoint = optarg;
                        break;
                case 'w':
                        wait = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("start", argv, "+h", options);
                }
        }
        if (optind >= argc) {
                vp_log_error("start: missing instance NAME (run 'vmpack list')");
                return 2;
        }
        const char *name = argv[optind];

        json_t *arguments = json_array(), *files = json_array();
        if (collect_arguments(argv + optind + 1, arguments, files) < 0) {
                vp_log_error("start: out of memory");
                return 1;
        }
        json_t *parameters = json_pack("{s:s, s:o, s:o}", "name", name, "arguments", arguments, "files", files);
        if (entrypoint)
                json_object_set_new(parameters, "entrypoint", json_string(entrypoint));
        /* The window and the sound go to this session, not to the one vmpackd started in. */
        json_object_set_new(parameters, "session", vp_api_session_from_environment());
        int r = vp_daemon_call("start", "Start", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;
        json_t *note;
        size_t i;
        json_array_foreach(json_object_get(reply, "notes"), i, note)
                fprintf(stderr, "vmpack start: note: %s\n", json_string_value(note));
        json_decref(reply);

        if (wait)
                return wait_stopped(name);
        printf("Started %s (see 'vmpack logs %s')\n", name, name);
        return 0;
}
