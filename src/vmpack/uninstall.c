/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>
#include <string.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack uninstall [OPTIONS] NAME\n\n"
              "Remove the instance NAME and its desktop entry. Its data volume is kept, and\n"
              "installing NAME again reuses it, unless --purge is given.\n\n"
              "Options:\n"
              "      --purge   also delete the data volume; asks for confirmation on a terminal\n"
              "  -y, --yes     do not ask for confirmation\n"
              "  -h, --help    show this help\n\n"
              "Environment:\n"
              "  VMPACK_DATA_DIR     images and instance data (default $XDG_DATA_HOME/vmpack)\n"
              "  VMPACK_CACHE_DIR    guest kernels and initramfs (default $XDG_CACHE_HOME/vmpack)\n"
              "  VMPACK_RUNTIME_DIR  vmpackd's socket and run directories (default\n"
              "                      $XDG_RUNTIME_DIR/vmpack, else /tmp/vmpack-UID)\n"
              "A running vmpackd keeps the directories it started with.\n",
              out);
}

/* Ask on the terminal; true only for an explicit yes. */
static bool confirm(const char *name)
{
        char answer[16] = "";

        fprintf(stderr, "Delete the data of instance '%s' for good? [y/N] ", name);
        fflush(stderr);
        if (!fgets(answer, sizeof(answer), stdin))
                return false;
        return strcmp(answer, "y\n") == 0 || strcmp(answer, "Y\n") == 0 || strcmp(answer, "yes\n") == 0;
}

static void remove_desktop_files(const char *name)
{
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");
        _cleanup_free_ char *base = xdg && xdg[0] == '/' ? strdup(xdg)
                                    : home && home[0] == '/' ? vp_strdup_printf("%s/.local/share", home)
                                                             : NULL;
        static const char *const icon_types[] = { ".svg", ".png", "" };

        if (!base)
                return;
        _cleanup_free_ char *desktop = vp_strdup_printf("%s/applications/vmpack-%s.desktop", base, name);
        if (desktop)
                unlink(desktop);
        for (size_t i = 0; i < ELEMENTSOF(icon_types); i++) {
                _cleanup_free_ char *icon = vp_strdup_printf("%s/icons/vmpack-%s%s", base, name, icon_types[i]);
                if (icon)
                        unlink(icon);
        }
}

int verb_uninstall(int argc, char **argv)
{
        static const struct option options[] = {
                { "purge", no_argument, NULL, 'p' },
                { "yes", no_argument, NULL, 'y' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool purge = false, yes = false;
        int c;

        while ((c = getopt_long(argc, argv, "yh", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        purge = true;
                        break;
                case 'y':
                        yes = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("uninstall", argv, "yh", options);
                }
        }
        if (argc - optind != 1) {
                vp_log_error("uninstall: expected one instance NAME (run 'vmpack list')");
                return 2;
        }
        const char *name = argv[optind];

        if (purge && !yes) {
                if (!isatty(STDIN_FILENO)) {
                        vp_log_error("uninstall: --purge deletes the data of '%s': confirm with -y when not on a "
                                     "terminal",
                                     name);
                        return 2;
                }
                if (!confirm(name)) {
                        fputs("Nothing removed.\n", stderr);
                        return 1;
                }
        }

        json_t *parameters = json_pack("{s:s, s:b}", "name", name, "purge", purge);
        int r = vp_daemon_call("uninstall", "Uninstall", parameters, NULL);
        json_decref(parameters);
        if (r != 0)
                return r;
        remove_desktop_files(name);
        printf("Uninstalled %s (%s)\n", name, purge ? "data deleted" : "data kept");
        return 0;
}
