/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The image store on a temporary VMPACK_DATA_DIR, with small files standing in for squashfs
 * images: the store only hashes, renames and links them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

static char data_dir[] = "/tmp/vmpack-test-store.XXXXXX";

static int setup(void **state)
{
        if (!mkdtemp(data_dir))
                return -1;
        setenv("VMPACK_DATA_DIR", data_dir, 1);
        return 0;
}

static int teardown(void **state)
{
        return vp_rm_rf(data_dir, NULL);
}

/* Stage an "image" whose rootfs.sqfs contains content, and add it under name. */
static void add_image(const char *name, const char *content, const char *recipe_digest, vp_image **ret)
{
        _cleanup_free_ char *staging = NULL, *rootfs = NULL;
        json_t *metadata = json_pack("{s:s}", "name", name);
        vp_error err = {};

        assert_int_equal(vp_store_make_staging(&staging, &err), 0);
        rootfs = vp_strdup_printf("%s/rootfs.sqfs", staging);
        assert_int_equal(vp_write_file_atomic(rootfs, content, strlen(content), 0644, &err), 0);
        assert_int_equal(vp_store_add_image(staging, name, recipe_digest, metadata, ret, &err), 0);
        json_decref(metadata);
        assert_int_equal(access(staging, F_OK), -1);
}

static char *data_path(const char *sub)
{
        return vp_strdup_printf("%s/%s", data_dir, sub);
}

static void image_name_rules(void **state)
{
        assert_true(vp_image_name_valid("pdftotext"));
        assert_true(vp_image_name_valid("a"));
        assert_true(vp_image_name_valid("my-app_2.0"));
        assert_false(vp_image_name_valid(""));
        assert_false(vp_image_name_valid("-app"));
        assert_false(vp_image_name_valid(".app"));
        assert_false(vp_image_name_valid("App"));
        assert_false(vp_image_name_valid("a/b"));
        assert_false(vp_image_name_valid(".."));
        assert_false(vp_image_name_valid("a b"));
        char long_name[66];
        memset(long_name, 'a', 65);
        long_name[65] = '\0';
        assert_false(vp_image_name_valid(long_name));
        long_name[64] = '\0';
        assert_true(vp_image_name_valid(long_name));
}

static void add_and_find_image(void **state)
{
        _cleanup_image_ vp_image *added = NULL, *by_name = NULL, *by_prefix = NULL, *by_recipe = NULL;
        char expected[65], recipe[65];
        vp_error err = {};

        vp_sha256_buffer("image one", 9, expected);
        vp_sha256_buffer("recipe one", 10, recipe);
        add_image("one", "image one", recipe, &added);
        assert_string_equal(added->digest, expected);
        assert_string_equal(added->name, "one");
        assert_int_equal(added->size, 9);
        assert_int_equal(json_integer_value(json_object_get(added->metadata, "size")), 9);
        assert_string_equal(json_string_value(json_object_get(added->metadata, "digest")), expected);

        assert_int_equal(vp_store_find_image("one", &by_name, &err), 0);
        assert_string_equal(by_name->digest, expected);
        assert_true(vp_str_endswith(by_name->rootfs_path, "/rootfs.sqfs"));

        char prefix[13];
        memcpy(prefix, expected, 12);
        prefix[12] = '\0';
        assert_int_equal(vp_store_find_image(prefix, &by_prefix, &err), 0);
        assert_string_equal(by_prefix->digest, expected);

        assert_int_equal(vp_store_find_recipe(recipe, &by_recipe, &err), 0);
        assert_string_equal(by_recipe->digest, expected);
}

static void find_rejects_bad_lookups(void **state)
{
        vp_image *image = NULL;
        vp_error err = {};

        assert_int_equal(vp_store_find_image("missing", &image, &err), -ENOENT);
        assert_non_null(strstr(err.message, "no image named 'missing'"));
        assert_int_equal(vp_store_find_image("../etc", &image, &err), -EINVAL);
        assert_non_null(strstr(err.message, "invalid image name"));
        /* Too short to be a digest prefix, and no such name. */
        assert_int_equal(vp_store_find_image("abcdef", &image, &err), -ENOENT);
        assert_int_equal(vp_store_find_recipe("not-hex", &image, &err), -EINVAL);
        assert_null(image);
}

static void same_content_shares_directory(void **state)
{
        _cleanup_image_ vp_image *first = NULL, *second = NULL;
        vp_image **images = NULL;
        size_t count = 0;
        vp_error err = {};

        add_image("twin-a", "same bytes", NULL, &first);
        add_image("twin-b", "same bytes", NULL, &second);
        assert_string_equal(first->digest, second->digest);
        assert_string_equal(second->name, "twin-b");

        assert_int_equal(vp_store_list_images(&images, &count, &err), 0);
        bool seen_a = false, seen_b = false;
        for (size_t i = 0; i < count; i++) {
                seen_a |= strcmp(images[i]->name, "twin-a") == 0;
                seen_b |= strcmp(images[i]->name, "twin-b") == 0;
                if (i > 0)
                        assert_true(strcmp(images[i - 1]->name, images[i]->name) < 0);
        }
        for (size_t i = 0; i < count; i++)
                vp_image_free(images[i]);
        free(images);
        assert_true(seen_a);
        assert_true(seen_b);
}

static void remove_keeps_shared_image(void **state)
{
        _cleanup_image_ vp_image *a = NULL, *b = NULL;
        _cleanup_free_ char *image_dir = NULL;
        bool removed = true;
        vp_error err = {};

        add_image("keep-a", "shared image", NULL, &a);
        add_image("keep-b", "shared image", NULL, &b);
        image_dir = vp_strdup_printf("%s/images/%s", data_dir, a->digest);

        assert_int_equal(vp_store_remove_name("keep-a", false, &removed, &err), 0);
        assert_false(removed);
        assert_int_equal(access(image_dir, F_OK), 0);

        assert_int_equal(vp_store_remove_name("keep-b", false, &removed, &err), 0);
        assert_true(removed);
        assert_int_equal(access(image_dir, F_OK), -1);

        assert_int_equal(vp_store_remove_name("keep-b", false, &removed, &err), -ENOENT);
        assert_non_null(strstr(err.message, "no image named 'keep-b'"));
}

static void remove_drops_recipe_links(void **state)
{
        _cleanup_image_ vp_image *image = NULL;
        _cleanup_free_ char *link = NULL;
        char recipe[65];
        vp_image *cached = NULL;
        vp_error err = {};

        vp_sha256_buffer("recipe two", 10, recipe);
        add_image("cached", "cached image", recipe, &image);
        link = vp_strdup_printf("%s/recipes/%s", data_dir, recipe);
        assert_int_equal(access(link, F_OK), 0);

        assert_int_equal(vp_store_remove_name("cached", false, NULL, &err), 0);
        assert_int_equal(faccessat(AT_FDCWD, link, F_OK, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(vp_store_find_recipe(recipe, &cached, &err), -ENOENT);
}

static void remove_checks_instances(void **state)
{
        _cleanup_image_ vp_image *image = NULL;
        _cleanup_free_ char *instance_dir = data_path("instances/work");
        _cleanup_free_ char *instance_json = data_path("instances/work/instance.json");
        _cleanup_free_ char *json = NULL;
        _cleanup_strv_free_ char **users = NULL;
        bool removed = false;
        vp_error err = {};

        add_image("used", "used image", NULL, &image);
        json = vp_strdup_printf("{\"name\": \"work\", \"image\": \"%s\"}\n", image->digest);
        assert_int_equal(vp_mkdir_p(instance_dir, 0700, &err), 0);
        assert_int_equal(vp_write_file_atomic(instance_json, json, strlen(json), 0644, &err), 0);

        assert_int_equal(vp_store_list_image_users(image->digest, &users, &err), 0);
        assert_int_equal(strv_length(users), 1);
        assert_string_equal(users[0], "work");

        assert_int_equal(vp_store_remove_name("used", false, &removed, &err), -EBUSY);
        assert_non_null(strstr(err.message, "used by instance(s) work"));
        assert_int_equal(access(image->directory, F_OK), 0);

        assert_int_equal(vp_store_remove_name("used", true, &removed, &err), 0);
        assert_true(removed);
        assert_int_equal(access(image->directory, F_OK), -1);
        assert_int_equal(vp_rm_rf(instance_dir, &err), 0);
}

static void corrupt_instance_blocks_removal(void **state)
{
        _cleanup_image_ vp_image *image = NULL;
        _cleanup_free_ char *instance_dir = data_path("instances/broken");
        _cleanup_free_ char *instance_json = data_path("instances/broken/instance.json");
        vp_error err = {};

        add_image("guarded", "guarded image", NULL, &image);
        assert_int_equal(vp_mkdir_p(instance_dir, 0700, &err), 0);
        assert_int_equal(vp_write_file_atomic(instance_json, "{not json", 9, 0644, &err), 0);

        assert_int_equal(vp_store_remove_name("guarded", false, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "invalid JSON"));
        assert_int_equal(access(image->directory, F_OK), 0);
        assert_int_equal(vp_rm_rf(instance_dir, &err), 0);
        assert_int_equal(vp_store_remove_name("guarded", false, NULL, &err), 0);
}

static void renamed_image_is_released(void **state)
{
        _cleanup_image_ vp_image *old = NULL, *new = NULL, *kept = NULL, *replacement = NULL;
        _cleanup_free_ char *recipe_link = NULL;
        _cleanup_free_ char *instance_dir = data_path("instances/pinned");
        _cleanup_free_ char *instance_json = data_path("instances/pinned/instance.json");
        _cleanup_free_ char *json = NULL;
        char recipe[65];
        vp_error err = {};

        /* A name moved to a new image releases the old one and its recipe links. */
        vp_sha256_buffer("recipe three", 12, recipe);
        add_image("moving", "old content", recipe, &old);
        recipe_link = vp_strdup_printf("%s/recipes/%s", data_dir, recipe);
        add_image("moving", "new content", NULL, &new);
        assert_int_equal(access(old->directory, F_OK), -1);
        assert_int_equal(faccessat(AT_FDCWD, recipe_link, F_OK, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(access(new->directory, F_OK), 0);

        /* An image that an instance uses stays when its name moves. */
        add_image("pinned", "pinned content", NULL, &kept);
        json = vp_strdup_printf("{\"image\": \"%s\"}", kept->digest);
        assert_int_equal(vp_mkdir_p(instance_dir, 0700, &err), 0);
        assert_int_equal(vp_write_file_atomic(instance_json, json, strlen(json), 0644, &err), 0);
        add_image("pinned", "replacement content", NULL, &replacement);
        assert_int_equal(access(kept->directory, F_OK), 0);

        /* vp_store_set_name() releases the same way. */
        assert_int_equal(vp_store_set_name("moving", replacement->digest, &err), 0);
        assert_int_equal(access(new->directory, F_OK), -1);
        assert_int_equal(access(replacement->directory, F_OK), 0);

        /* Once the instance is gone, releasing deletes the unnamed image. */
        assert_int_equal(vp_store_release_image(kept->digest, &err), 0);
        assert_int_equal(access(kept->directory, F_OK), 0);
        assert_int_equal(vp_rm_rf(instance_dir, &err), 0);
        assert_int_equal(vp_store_release_image(kept->digest, &err), 0);
        assert_int_equal(access(kept->directory, F_OK), -1);
        /* A named image stays. */
        assert_int_equal(vp_store_release_image(replacement->digest, &err), 0);
        assert_int_equal(access(replacement->directory, F_OK), 0);

        assert_int_equal(vp_store_remove_name("moving", false, NULL, &err), 0);
        assert_int_equal(vp_store_remove_name("pinned", false, NULL, &err), 0);
}

static void ambiguous_digest_prefix(void **state)
{
        _cleanup_free_ char *images = data_path("images");
        vp_error err = {};
        vp_image *image = NULL;

        /* Two directories that share a 12-digit prefix (made by hand: real digests rarely do). */
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *dir = vp_strdup_printf("%s/%s%052d", images, "aaaaaaaaaaaa", i);
                assert_int_equal(vp_mkdir_p(dir, 0700, &err), 0);
        }
        assert_int_equal(vp_store_find_image("aaaaaaaaaaaa", &image, &err), -EINVAL);
        assert_non_null(strstr(err.message, "matches 2 images"));
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *dir = vp_strdup_printf("%s/%s%052d", images, "aaaaaaaaaaaa", i);
                assert_int_equal(vp_rm_rf(dir, &err), 0);
        }
}

static void build_logs_are_unique(void **state)
{
        _cleanup_free_ char *first = NULL, *second = NULL;
        int first_fd = -1, second_fd = -1;
        vp_error err = {};

        assert_int_equal(vp_store_open_log("app", &first, &first_fd, &err), 0);
        assert_int_equal(vp_store_open_log("app", &second, &second_fd, &err), 0);
        assert_string_not_equal(first, second);
        assert_true(vp_str_endswith(first, ".log"));
        close(first_fd);
        close(second_fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(image_name_rules),
                cmocka_unit_test(add_and_find_image),
                cmocka_unit_test(find_rejects_bad_lookups),
                cmocka_unit_test(same_content_shares_directory),
                cmocka_unit_test(remove_keeps_shared_image),
                cmocka_unit_test(remove_drops_recipe_links),
                cmocka_unit_test(remove_checks_instances),
                cmocka_unit_test(corrupt_instance_blocks_removal),
                cmocka_unit_test(renamed_image_is_released),
                cmocka_unit_test(ambiguous_digest_prefix),
                cmocka_unit_test(build_logs_are_unique),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
