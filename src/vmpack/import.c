/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "build.h"
#include "progress.h"
#include "subprocess.h"

#include <getopt.h>
#include <signal.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack import [OPTIONS] TAR NAME\n\n"
              "Make an app image named NAME from a root filesystem tarball (docker export,\n"
              "podman export, mmdebstrap or debootstrap output, ...). The tarball may be plain\n"
              "or compressed with gzip, bzip2, xz or zstd; TAR '-' reads standard input.\n"
              "The image has no Exec line: run it with 'vmpack run --entrypoint PROGRAM'.\n\n"
              "Options:\n"
              "  -h, --help  show this help\n",
              out);
}

static void on_signal(int sig)
{
        vp_spawn_cancel(sig);
}

int verb_import(int argc, char **argv)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_image_ vp_image *image = NULL;
        _cleanup_progress_ vp_progress *progress = NULL;
        struct sigaction sa = { .sa_handler = on_signal };
        vp_build_options opts = {};
        vp_error err = {};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        fputs("Run 'vmpack import --help' for the options.\n", stderr);
                        return 2;
                }
        }
        if (optind != argc - 2) {
                vp_log_error("import: expected TAR and NAME (run 'vmpack import --help')");
                return 2;
        }

        progress = vp_progress_new(stderr);
        if (!progress) {
                vp_log_error("import: out of memory");
                return 1;
        }
        opts.progress = progress;

        /* Same as build: a signal stops the tools and the import removes its staging directory. */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);

        r = vp_build_import(argv[optind], argv[optind + 1], &opts, &image, &err);
        if (r < 0) {
                vp_fail("import", &err);
                return r == -EINTR ? 130 : 1;
        }
        printf("Imported %s %.12s (%.1f MiB)\n", image->name, image->digest,
               (double) image->size / (1024.0 * 1024.0));
        return 0;
}
