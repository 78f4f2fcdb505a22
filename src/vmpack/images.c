/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "store.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack images [OPTIONS]\n"
              "       vmpack images --verify [NAME...]\n\n"
              "List the named app images in the store: name, digest (first 12 hex digits),\n"
              "size of the squashfs and build time (UTC).\n\n"
              "Options:\n"
              "  --json      print a JSON array with the full digest, size in bytes and the\n"
              "              image's metadata instead of a table\n"
              "  --verify    hash each image file (or those of the NAMEs) and compare it with\n"
              "              its digest; reads every byte, so it takes a while\n"
              "  -h, --help  show this help\n\n"
              "Exit status: 0 on success, 1 when an image is damaged or missing, 2 on a usage\n"
              "error.\n\n"
              "Environment:\n"
              "  VMPACK_DATA_DIR  image store (default $XDG_DATA_HOME/vmpack)\n",
              out);
}

bool vp_image_reference_valid(const char *reference)
{
        const char *hex = vp_str_startswith(reference, "sha256:") ? reference + strlen("sha256:") : reference;
        size_t length = strlen(hex);

        if (vp_image_name_valid(reference))
                return true;
        return length >= 12 && length <= 64 && strspn(hex, "0123456789abcdef") == length;
}

vp_image *vp_find_named_image(const char *name)
{
        vp_image *image = NULL;
        vp_error ignored = {};

        if (vp_store_find_image(name, &image, &ignored) < 0)
                return NULL;
        if (!image->name || strcmp(image->name, name) != 0) {
                vp_image_free(image);
                return NULL;
        }
        return image;
}

void vp_report_replaced(const char *name, const vp_image *old)
{
        _cleanup_strv_free_ char **users = strv_new();
        _cleanup_strv_free_ char **instances = NULL;
        vp_image **images = NULL;
        size_t n_images = 0;
        vp_error ignored = {};
        struct stat st;

        if (stat(old->directory, &st) < 0) {
                printf("Replaced %s (old image %.12s removed)\n", name, old->digest);
                return;
        }
        if (vp_store_list_images(&images, &n_images, &ignored) == 0) {
                for (size_t i = 0; i < n_images; i++) {
                        if (users && strcmp(images[i]->digest, old->digest) == 0)
                                (void) strv_extend(&users, images[i]->name);
                        vp_image_free(images[i]);
                }
                free(images);
        }
        if (vp_store_list_image_users(old->digest, &instances, &ignored) == 0)
                STRV_FOREACH(s, instances)
                        if (users)
                                (void) strv_extend(&users, *s);
        _cleanup_free_ char *list = users && users[0] ? strv_join(users, ", ") : NULL;
        printf("Replaced %s (old image %.12s kept: used by %s)\n", name, old->digest, list ? list : "?");
}

/* Hash one image file and print "ok" or what is wrong; return 0 when it matches its digest. */
static int verify_image(const vp_image *image)
{
        const char *name = image->name ? image->name : image->digest;
        char digest[65];
        vp_error err = {};

        if (vp_sha256_file(image->rootfs_path, digest, &err) < 0) {
                printf("%-24s %.12s  FAILED: %s\n", name, image->digest, err.message);
                return 1;
        }
        if (strcmp(digest, image->digest) != 0) {
                printf("%-24s %.12s  DAMAGED: %s hashes to %.12s; rebuild it with 'vmpack build --rebuild "
                       "RECIPE' or remove it with 'vmpack rmi %s'\n",
                       name, image->digest, image->rootfs_path, digest, name);
                return 1;
        }
        printf("%-24s %.12s  ok\n", name, image->digest);
        return 0;
}

static int verify_images(char **names, vp_image **images, size_t count)
{
        int status = 0;

        if (!names[0]) {
                for (size_t i = 0; i < count; i++)
                        status |= verify_image(images[i]);
                return status;
        }
        STRV_FOREACH(name, names) {
                _cleanup_image_ vp_image *image = NULL;
                vp_error err = {};
                if (vp_store_find_image(*name, &image, &err) < 0) {
                        vp_fail("images", &err);
                        status = 1;
                        continue;
                }
                status |= verify_image(image);
        }
        return status;
}

static int print_json(vp_image **images, size_t count)
{
        json_t *array = json_array();

        if (!array)
                return 1;
        for (size_t i = 0; i < count; i++) {
                json_t *entry = json_deep_copy(images[i]->metadata);
                if (!entry)
                        entry = json_object();
                json_object_set_new(entry, "name", json_string(images[i]->name));
                json_object_set_new(entry, "digest", json_string(images[i]->digest));
                json_object_set_new(entry, "size", json_integer((json_int_t) images[i]->size));
                json_object_set_new(entry, "rootfs", json_string(images[i]->rootfs_path));
                json_array_append_new(array, entry);
        }
        char *text = json_dumps(array, JSON_INDENT(2));
        json_decref(array);
        if (!text)
                return 1;
        puts(text);
        free(text);
        return 0;
}

int verb_images(int argc, char **argv)
{
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "verify", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vp_image **images = NULL;
        size_t count = 0;
        bool json = false, verify = false;
        vp_error err = {};
        int c, status = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'V':
                        verify = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("images", argv, "h", options);
                }
        }
        if (optind != argc && !verify) {
                vp_log_error("images: unexpected argument '%s'", argv[optind]);
                return 2;
        }

        if (vp_store_list_images(&images, &count, &err) < 0)
                return vp_fail("images", &err);

        if (verify) {
                status = verify_images(argv + optind, images, count);
        } else if (json) {
                status = print_json(images, count);
        } else {
                printf("%-24s %-12s %10s  %s\n", "NAME", "DIGEST", "SIZE", "BUILT");
                for (size_t i = 0; i < count; i++) {
                        char size[32];
                        const char *built = json_string_value(json_object_get(images[i]->metadata, "build_time"));
                        vp_format_size(images[i]->size, size, sizeof(size));
                        printf("%-24s %.12s %10s  %s\n", images[i]->name, images[i]->digest, size,
                               built ? built : "-");
                }
        }

        for (size_t i = 0; i < count; i++)
                vp_image_free(images[i]);
        free(images);
        return status;
}
