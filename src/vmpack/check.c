/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "manifest.h"

#include <getopt.h>
#include <string.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack check RECIPE\n\n"
              "Validate a recipe without building it. RECIPE is a recipe directory (apps/NAME, which\n"
              "contains NAME.vmpack) or the .vmpack file itself. On success print a summary and exit 0;\n"
              "on the first error print FILE:LINE, the key, what is wrong and the valid values, and\n"
              "exit 1.\n\n"
              "Options:\n"
              "  -h, --help  show this help\n",
              out);
}

static const char *or_none(const char *s)
{
        return s ? s : "none";
}

static void print_list(const char *label, char *const *items)
{
        _cleanup_free_ char *joined = strv_join(items, " ");

        printf("%-14s %s\n", label, joined && *joined ? joined : "none");
}

static void print_resources(const vp_manifest *m)
{
        printf("%-14s ", "resources:");
        if (m->cpus > 0)
                printf("%u CPUs, ", m->cpus);
        else
                printf("CPUs not set, ");
        if (m->memory_bytes > 0)
                printf("%llu MiB memory\n", (unsigned long long) (m->memory_bytes >> 20));
        else
                printf("memory not set\n");
}

static void print_permissions(const vp_permissions *p)
{
        printf("%-14s ", "filesystems:");
        if (p->n_filesystems == 0)
                printf("none");
        for (size_t i = 0; i < p->n_filesystems; i++)
                printf("%s%s:%s", i > 0 ? " " : "", p->filesystems[i].location,
                       vp_share_mode_to_string(p->filesystems[i].mode));
        putchar('\n');

        printf("%-14s network=%s clipboard=%s audio=%s microphone=%s camera=%s gpu=%s display=%s\n",
               "permissions:", or_none(p->network), or_none(p->clipboard), or_none(p->audio),
               or_none(p->microphone), or_none(p->camera), or_none(p->gpu), or_none(p->display));
        print_list("usb:", p->usb);
}

static void print_summary(const vp_manifest *m)
{
        printf("%-14s %s\n", "recipe:", m->path);
        printf("%-14s %s\n", "image name:", m->name);
        printf("%-14s %s\n", "name:", m->display_name);
        if (m->summary)
                printf("%-14s %s\n", "summary:", m->summary);
        if (m->containerfile) {
                printf("%-14s %s\n", "containerfile:", m->containerfile);
        } else {
                printf("%-14s %s\n", "base:", m->base);
                print_list("packages:", m->packages);
        }
        for (size_t i = 0; i < m->n_files; i++)
                printf("%-14s %s -> %s\n", i == 0 ? "files:" : "", m->files[i].source,
                       m->files[i].destination);
        STRV_FOREACH(command, m->run)
                printf("%-14s %s\n", command == m->run ? "run:" : "", *command);
        printf("%-14s %s\n", "hardened:", m->hardened ? "yes" : "no");
        printf("%-14s %s\n", "exec:", m->exec);
        if (m->icon)
                printf("%-14s %s\n", "icon:", m->icon);
        print_resources(m);
        print_permissions(&m->permissions);
}

int verb_check(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_manifest_ vp_manifest *m = NULL;
        vp_error err = { 0 };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        vp_log_error("check: unknown option '%s' (run 'vmpack check --help')",
                                     argv[optind - 1]);
                        return 2;
                }
        }
        if (argc - optind != 1) {
                vp_log_error(
                        "check: expected one RECIPE (a recipe directory or .vmpack file), got %d arguments",
                        argc - optind);
                return 2;
        }

        if (vp_manifest_load(argv[optind], &m, &err) < 0)
                return vp_fail("check", &err);
        print_summary(m);
        return 0;
}
