/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "build.h"
#include "manifest.h"
#include "progress.h"
#include "subprocess.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack build [OPTIONS] RECIPE\n\n"
              "Build an app image from a recipe: a directory apps/NAME or its NAME.vmpack file.\n"
              "Package lists are installed with mmdebstrap, Containerfiles are built with podman\n"
              "(or docker), and the root filesystem is stored as a zstd squashfs named NAME.\n"
              "An unchanged recipe reuses its cached image.\n\n"
              "Options:\n"
              "  --rebuild   build even when an image of this exact recipe is cached\n"
              "              (default: reuse the cached image)\n"
              "  -f, --force replace an image NAME that another recipe built or that was\n"
              "              imported (default: fail); a rebuild of the same recipe always\n"
              "              replaces its own image\n"
              "  -h, --help  show this help\n\n"
              "Environment:\n"
              "  SOURCE_DATE_EPOCH  seconds since 1970 used for file times; with it, two builds\n"
              "                     from the same mirror state give byte-identical images\n"
              "  VMPACK_DATA_DIR    image store (default $XDG_DATA_HOME/vmpack)\n"
              "  VMPACK_CACHE_DIR   downloaded Debian packages, kept for the next build\n"
              "                     (default $XDG_CACHE_HOME/vmpack)\n\n"
              "Exit status: 0 on success, 1 when the build failed or NAME is taken (see --force),\n"
              "2 on a usage error, 130 when interrupted.\n",
              out);
}

static void on_signal(int sig)
{
        vp_spawn_cancel(sig);
}

/* SIGINT and SIGTERM stop the running tool; the build then removes its staging directory
 * and fails with -EINTR. No SA_RESTART, so blocking calls return EINTR and see the flag. */
static void install_signal_handlers(void)
{
        struct sigaction sa = { .sa_handler = on_signal };

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
}

int verb_build(int argc, char **argv)
{
        static const struct option options[] = {
                { "rebuild", no_argument, NULL, 'r' },
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_manifest_ vp_manifest *manifest = NULL;
        _cleanup_image_ vp_image *image = NULL;
        _cleanup_image_ vp_image *old = NULL;
        bool force = false;
        _cleanup_progress_ vp_progress *progress = NULL;
        vp_build_options opts = {};
        vp_error err = {};
        bool cached = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "fh", options, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        opts.rebuild = true;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("build", argv, "fh", options);
                }
        }
        if (optind != argc - 1) {
                vp_log_error("build: expected one RECIPE (a directory apps/NAME or a .vmpack file)");
                return 2;
        }

        r = vp_manifest_load(argv[optind], &manifest, &err);
        if (r < 0)
                return vp_fail("build", &err);

        /* Building over a name that another recipe (or an import) made would lose that image. */
        old = vp_find_named_image(manifest->name);
        if (old && !force) {
                const char *old_recipe = json_string_value(
                        json_object_get(json_object_get(old->metadata, "recipe"), "path"));
                if (!old_recipe || strcmp(old_recipe, manifest->path) != 0) {
                        vp_log_error("build: image %s exists (%.12s, %s %s): use --force to replace it, or "
                                     "rename the recipe",
                                     old->name, old->digest, old_recipe ? "built from" : "imported, not built",
                                     old_recipe ? old_recipe : "from a recipe");
                        return 1;
                }
        }

        progress = vp_progress_new(stderr);
        if (!progress) {
                vp_log_error("build: out of memory");
                return 1;
        }
        opts.progress = progress;
        install_signal_handlers();

        r = vp_build_recipe(manifest, &opts, &image, &cached, &err);
        if (r < 0) {
                vp_fail("build", &err);
                return r == -EINTR ? 130 : 1;
        }

        char size[32];
        vp_format_size(image->size, size, sizeof(size));
        printf("%s %s %.12s (%s)\n", cached ? "Cached" : "Built", image->name, image->digest, size);
        if (old && strcmp(old->digest, image->digest) != 0)
                vp_report_replaced(image->name, old);
        return 0;
}
