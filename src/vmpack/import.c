/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "build.h"
#include "progress.h"
#include "subprocess.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack import [OPTIONS] TAR NAME\n\n"
              "Make an app image named NAME from a root filesystem tarball (docker export,\n"
              "podman export, mmdebstrap or debootstrap output, ...). The tarball may be plain\n"
              "or compressed with gzip, bzip2, xz or zstd; TAR '-' reads standard input.\n"
              "The image has no Exec line: run it with 'vmpack run --entrypoint PROGRAM'.\n"
              "An existing NAME is kept unless --force is given.\n\n"
              "Options:\n"
              "  -f, --force  replace an existing image NAME; its old image is removed unless\n"
              "               another name or an instance uses it (default: fail)\n"
              "  -h, --help   show this help\n\n"
              "Environment:\n"
              "  VMPACK_DATA_DIR  image store, which also holds the staging directory\n"
              "                   (default $XDG_DATA_HOME/vmpack)\n\n"
              "Exit status: 0 on success, 1 when the import failed or NAME exists, 2 on a usage\n"
              "error, 130 when interrupted.\n",
              out);
}

static void on_signal(int sig)
{
        vp_spawn_cancel(sig);
}

int verb_import(int argc, char **argv)
{
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_image_ vp_image *image = NULL;
        _cleanup_image_ vp_image *old = NULL;
        bool force = false;
        _cleanup_progress_ vp_progress *progress = NULL;
        struct sigaction sa = { .sa_handler = on_signal };
        vp_build_options opts = {};
        vp_error err = {};
        int c, r;

        while ((c = getopt_long(argc, argv, "fh", options, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("import", argv, "fh", options);
                }
        }
        if (optind != argc - 2) {
                vp_log_error("import: expected TAR and NAME (run 'vmpack import --help')");
                return 2;
        }

        old = vp_find_named_image(argv[optind + 1]);
        if (old && !force) {
                vp_log_error("import: image %s exists (%.12s): use --force to replace it, or choose another NAME",
                             old->name, old->digest);
                return 1;
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
        char size[32];
        vp_format_size(image->size, size, sizeof(size));
        printf("Imported %s %.12s (%s)\n", image->name, image->digest, size);
        if (old && strcmp(old->digest, image->digest) != 0)
                vp_report_replaced(image->name, old);
        return 0;
}
