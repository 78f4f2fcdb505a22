/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "config.h"

#include <stdarg.h>
#include <string.h>

static const struct verb {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} verbs[] = {
        { "check", verb_check, "validate a recipe without building it" },
        { "build", verb_build, "build an app image from a recipe" },
        { "import", verb_import, "make an app image from a rootfs tar" },
        { "images", verb_images, "list app images" },
        { "rmi", verb_rmi, "remove an app image" },
        { "run", verb_run, "run an app image in a disposable VM" },
        { "install", verb_install, "install a named instance of an image" },
        { "uninstall", verb_uninstall, "remove an instance (its data is kept unless --purge)" },
        { "list", verb_list, "list installed instances" },
        { "info", verb_info, "show an instance's details and recent events" },
        { "start", verb_start, "start an instance's VM in the background" },
        { "stop", verb_stop, "stop a running instance gracefully" },
        { "kill", verb_kill, "stop a running instance at once" },
        { "suspend", verb_suspend, "save a running instance's state and stop its VM" },
        { "resume", verb_resume, "continue a suspended instance from its saved state" },
        { "ps", verb_ps, "list running instances" },
        { "logs", verb_logs, "print an instance's app output" },
        { "override", verb_override, "narrow what an instance's app gets, below its recipe's request" },
        { "policy", verb_policy, "check or show the policy files that decide what apps may use" },
        { "audit", verb_audit, "show vmpackd's audit log of decisions and VM events" },
};

void vp_log_error(const char *fmt, ...)
{
        va_list ap;

        fputs("vmpack ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void vp_format_size(uint64_t bytes, char *buf, size_t size)
{
        if (bytes >= 1024ULL * 1024 * 1024)
                snprintf(buf, size, "%.1f GiB", (double) bytes / (1024.0 * 1024 * 1024));
        else if (bytes >= 1024ULL * 1024)
                snprintf(buf, size, "%.1f MiB", (double) bytes / (1024.0 * 1024));
        else
                snprintf(buf, size, "%.1f KiB", (double) bytes / 1024.0);
}

int vp_option_error(const char *verb, char **argv, const char *short_options, const struct option *long_options)
{
        const char *arg = argv[optind - 1];

        if (vp_str_startswith(arg, "--")) {
                size_t length = strcspn(arg + 2, "=");
                for (const struct option *o = long_options; o->name; o++)
                        if (strlen(o->name) == length && strncmp(o->name, arg + 2, length) == 0) {
                                fprintf(stderr, "vmpack %s: option '--%s' needs a value (run 'vmpack %s --help')\n",
                                        verb, o->name, verb);
                                return 2;
                        }
                fprintf(stderr, "vmpack %s: unknown option '%.*s' (run 'vmpack %s --help')\n", verb,
                        (int) length + 2, arg, verb);
                return 2;
        }

        const char *letter = optopt ? strchr(short_options, optopt) : NULL;
        if (letter && letter[1] == ':')
                fprintf(stderr, "vmpack %s: option '-%c' needs a value (run 'vmpack %s --help')\n", verb, optopt,
                        verb);
        else if (optopt)
                fprintf(stderr, "vmpack %s: unknown option '-%c' (run 'vmpack %s --help')\n", verb, optopt, verb);
        else
                fprintf(stderr, "vmpack %s: invalid option '%s' (run 'vmpack %s --help')\n", verb, arg, verb);
        return 2;
}

int vp_fail(const char *verb, const vp_error *err)
{
        fprintf(stderr, "vmpack %s: %s\n", verb, err->message);
        return 1;
}

static void print_usage(FILE *out)
{
        fputs("Usage: vmpack COMMAND [OPTIONS...] [ARGS...]\n\n"
              "Build app images and run each app in its own small VM.\n\nCommands:\n",
              out);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
        fputs("\nRun 'vmpack COMMAND --help' for the options of a command.\n\n"
              "Exit status: 0 on success, 1 when the command failed, 2 on a usage error (an\n"
              "unknown option, an invalid option value or name, a missing argument). vmpack run\n"
              "returns the app's status instead (see 'vmpack run --help').\n\n"
              "Environment:\n"
              "  VMPACK_SYSTEM=1     use the system daemon (/run/vmpack/vmpackd.sock) instead of\n"
              "                      the session daemon, which vmpack starts on demand\n"
              "  VMPACK_SOCKET=PATH  connect to the daemon listening on PATH; no daemon is started\n",
              out);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                print_usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                print_usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("vmpack %s\n", VP_VERSION);
                return 0;
        }

        /* Each verb prints its own message for a bad option, with the verb in it. */
        opterr = 0;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].run(argc - 1, argv + 1);

        fprintf(stderr, "vmpack: unknown command '%s' (run 'vmpack --help' for the list)\n", argv[1]);
        return 2;
}
