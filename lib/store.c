/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store.h"

#include "paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

/* image.json and instance.json are small; anything larger is not ours. */
#define METADATA_MAX_BYTES (16U * 1024 * 1024)
#define DIGEST_PREFIX_MIN 12

vp_image *vp_image_free(vp_image *image)
{
        if (!image)
                return NULL;
        free(image->name);
        free(image->digest);
        free(image->directory);
        free(image->rootfs_path);
        json_decref(image->metadata);
        free(image);
        return NULL;
}

bool vp_image_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 64)
                return false;
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0]))
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static bool is_hex(const char *s, size_t min, size_t max)
{
        size_t n = strlen(s);

        return n >= min && n <= max && strspn(s, "0123456789abcdef") == n;
}

/* Path under the data directory, creating the directory sub (not a file). */
static int store_dir(const char *sub, char **ret, vp_error *err)
{
        return vp_path_ensure(VP_DIR_DATA, sub, ret, err);
}

/* Read a link written by this store ("../images/<digest>") and return the digest. */
static int read_link_digest(const char *link_path, char ret_digest[65], vp_error *err)
{
        char target[256];
        ssize_t n = readlink(link_path, target, sizeof(target) - 1);

        if (n < 0)
                return vp_error_set_errno(err, -errno, "%s", link_path);
        target[n] = '\0';
        if (!vp_str_startswith(target, "../images/") || !is_hex(target + strlen("../images/"), 64, 64))
                return vp_error_set(err, -EINVAL, "%s: unexpected link target '%s' (not written by vmpack?)",
                                    link_path, target);
        memcpy(ret_digest, target + strlen("../images/"), 65);
        return 0;
}

static int load_json(const char *path, json_t **ret, vp_error *err)
{
        _cleanup_free_ char *text = NULL;
        json_error_t json_error;
        int r = vp_read_file(path, METADATA_MAX_BYTES, &text, NULL, err);

        if (r < 0)
                return r;
        json_t *value = json_loads(text, 0, &json_error);
        if (!value || !json_is_object(value)) {
                json_decref(value);
                return vp_error_set(err, -EBADMSG, "%s:%d: invalid JSON: %s", path, json_error.line,
                                    json_error.text);
        }
        *ret = value;
        return 0;
}

static int load_image(const char *digest, const char *name, vp_image **ret, vp_error *err)
{
        _cleanup_image_ vp_image *image = calloc(1, sizeof(*image));
        _cleanup_free_ char *images = NULL, *json_path = NULL;
        struct stat st;
        int r;

        if (!image)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = store_dir("images", &images, err);
        if (r < 0)
                return r;

        image->digest = strdup(digest);
        image->directory = vp_strdup_printf("%s/%s", images, digest);
        image->rootfs_path = vp_strdup_printf("%s/%s/rootfs.sqfs", images, digest);
        json_path = vp_strdup_printf("%s/%s/image.json", images, digest);
        if (!image->digest || !image->directory || !image->rootfs_path || !json_path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        if (stat(image->rootfs_path, &st) < 0)
                return vp_error_set_errno(err, -errno, "image %.12s: %s", digest, image->rootfs_path);
        image->size = (uint64_t) st.st_size;

        r = load_json(json_path, &image->metadata, err);
        if (r < 0)
                return vp_error_prefix(err, "image %.12s", digest);

        if (!name)
                name = json_string_value(json_object_get(image->metadata, "name"));
        image->name = strdup(name ? name : "");
        if (!image->name)
                return vp_error_set(err, -ENOMEM, "out of memory");

        *ret = TAKE_PTR(image);
        return 0;
}

static int find_by_name(const char *name, vp_image **ret, vp_error *err)
{
        _cleanup_free_ char *names = NULL, *link_path = NULL;
        char digest[65];
        int r = store_dir("names", &names, err);

        if (r < 0)
                return r;
        link_path = vp_strdup_printf("%s/%s", names, name);
        if (!link_path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = read_link_digest(link_path, digest, err);
        if (r < 0)
                return r;
        return load_image(digest, name, ret, err);
}

static int find_by_digest_prefix(const char *prefix, vp_image **ret, vp_error *err)
{
        _cleanup_free_ char *images = NULL;
        char match[65] = "";
        unsigned matches = 0;
        int r = store_dir("images", &images, err);

        if (r < 0)
                return r;
        DIR *d = opendir(images);
        if (!d)
                return vp_error_set_errno(err, -errno, "%s", images);
        for (struct dirent *de; (de = readdir(d));) {
                if (!is_hex(de->d_name, 64, 64) || !vp_str_startswith(de->d_name, prefix))
                        continue;
                memcpy(match, de->d_name, 65);
                matches++;
        }
        closedir(d);

        if (matches == 0)
                return vp_error_set(err, -ENOENT, "no image with digest %s", prefix);
        if (matches > 1)
                return vp_error_set(err, -EINVAL, "digest prefix %s matches %u images; give more characters",
                                    prefix, matches);
        return load_image(match, NULL, ret, err);
}

int vp_store_find_image(const char *name_or_digest, vp_image **ret, vp_error *err)
{
        const char *s = name_or_digest;
        int r;

        if (vp_str_startswith(s, "sha256:"))
                s += strlen("sha256:");

        if (vp_image_name_valid(name_or_digest)) {
                r = find_by_name(name_or_digest, ret, err);
                if (r != -ENOENT)
                        return r;
        }
        if (is_hex(s, DIGEST_PREFIX_MIN, 64))
                return find_by_digest_prefix(s, ret, err);
        if (!vp_image_name_valid(name_or_digest))
                return vp_error_set(err, -EINVAL,
                                    "invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63}, or a digest "
                                    "of 12 to 64 hex digits)",
                                    name_or_digest);
        return vp_error_set(err, -ENOENT, "no image named '%s' (run 'vmpack images' for the list)",
                            name_or_digest);
}

static int name_filter(const struct dirent *de)
{
        return vp_image_name_valid(de->d_name);
}

int vp_store_list_images(vp_image ***ret, size_t *ret_count, vp_error *err)
{
        _cleanup_free_ char *names = NULL;
        struct dirent **entries = NULL;
        vp_image **images = NULL;
        size_t count = 0;
        int r = store_dir("names", &names, err);

        if (r < 0)
                return r;
        int n = scandir(names, &entries, name_filter, alphasort);
        if (n < 0)
                return vp_error_set_errno(err, -errno, "%s", names);

        images = calloc((size_t) n + 1, sizeof(*images));
        if (!images)
                r = vp_error_set(err, -ENOMEM, "out of memory");
        for (int i = 0; i < n && r >= 0; i++) {
                r = find_by_name(entries[i]->d_name, &images[count], err);
                if (r >= 0)
                        count++;
        }
        for (int i = 0; i < n; i++)
                free(entries[i]);
        free(entries);

        if (r < 0) {
                for (size_t i = 0; i < count; i++)
                        vp_image_free(images[i]);
                free(images);
                return r;
        }
        *ret = images;
        *ret_count = count;
        return 0;
}

int vp_store_find_recipe(const char *recipe_digest, vp_image **ret, vp_error *err)
{
        _cleanup_free_ char *recipes = NULL, *link_path = NULL;
        char digest[65];
        int r;

        if (!is_hex(recipe_digest, 64, 64))
                return vp_error_set(err, -EINVAL, "invalid recipe digest '%s'", recipe_digest);
        r = store_dir("recipes", &recipes, err);
        if (r < 0)
                return r;
        link_path = vp_strdup_printf("%s/%s", recipes, recipe_digest);
        if (!link_path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = read_link_digest(link_path, digest, err);
        if (r < 0)
                return r;
        return load_image(digest, NULL, ret, err);
}

int vp_store_make_staging(char **ret_directory, vp_error *err)
{
        _cleanup_free_ char *tmp = NULL, *directory = NULL;
        int r = store_dir("tmp", &tmp, err);

        if (r < 0)
                return r;
        directory = vp_strdup_printf("%s/build-XXXXXX", tmp);
        if (!directory)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!mkdtemp(directory))
                return vp_error_set_errno(err, -errno, "%s: cannot create build directory", tmp);
        *ret_directory = TAKE_PTR(directory);
        return 0;
}

/* Exclusive lock on the store for changes of names, recipe links and image directories.
 * Returns the locked fd; closing it releases the lock. */
static int lock_store(vp_error *err)
{
        _cleanup_free_ char *path = NULL;
        int r = vp_path_ensure(VP_DIR_DATA, NULL, &path, err);

        if (r < 0)
                return r;
        _cleanup_free_ char *lock_path = vp_strdup_printf("%s/lock", path);
        if (!lock_path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s", lock_path);
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        r = -errno;
                        close(fd);
                        return vp_error_set_errno(err, r, "%s: cannot lock", lock_path);
                }
        }
        return fd;
}

/* Point directory/name at ../images/<digest>, replacing an older link atomically. */
static int set_link(const char *directory, const char *name, const char *digest, vp_error *err)
{
        _cleanup_free_ char *target = vp_strdup_printf("../images/%s", digest);
        _cleanup_free_ char *path = vp_strdup_printf("%s/%s", directory, name);
        _cleanup_free_ char *tmp = vp_strdup_printf("%s/.%s.tmp.%d", directory, name, (int) getpid());

        if (!target || !path || !tmp)
                return vp_error_set(err, -ENOMEM, "out of memory");
        (void) unlink(tmp);
        if (symlink(target, tmp) < 0)
                return vp_error_set_errno(err, -errno, "%s: cannot create link", tmp);
        if (rename(tmp, path) < 0) {
                int r = -errno;
                unlink(tmp);
                return vp_error_set_errno(err, r, "%s: cannot replace link", path);
        }
        return 0;
}

static int links_to_digest(const char *directory, const char *digest, bool only_count, vp_error *err);

/* Delete an image that nothing refers to any more: no name and no instance. Its recipe links
 * go with it, so every stored image stays reachable through a name or an instance. Call
 * with the store locked. */
static int release_image(const char *digest, vp_error *err)
{
        _cleanup_free_ char *names = vp_path(VP_DIR_DATA, "names");
        _cleanup_free_ char *recipes = vp_path(VP_DIR_DATA, "recipes");
        _cleanup_free_ char *image_dir = vp_path(VP_DIR_DATA, "images");
        _cleanup_strv_free_ char **users = NULL;
        _cleanup_free_ char *directory = NULL;
        int r;

        if (!names || !recipes || !image_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = links_to_digest(names, digest, true, err);
        if (r != 0)
                return r < 0 ? r : 0;
        r = vp_store_list_image_users(digest, &users, err);
        if (r < 0)
                return r;
        if (users[0])
                return 0;

        r = links_to_digest(recipes, digest, false, err);
        if (r < 0)
                return r;
        directory = vp_strdup_printf("%s/%s", image_dir, digest);
        if (!directory)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return vp_rm_rf(directory, err);
}

/* Point names/<name> at digest. The image the name pointed to before is deleted when nothing
 * else refers to it. Call with the store locked. */
static int point_name(const char *names, const char *name, const char *digest, vp_error *err)
{
        _cleanup_free_ char *link_path = vp_strdup_printf("%s/%s", names, name);
        char old_digest[65] = "";
        int r;

        if (!link_path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (read_link_digest(link_path, old_digest, NULL) < 0)
                old_digest[0] = '\0';

        r = set_link(names, name, digest, err);
        if (r < 0)
                return r;
        if (old_digest[0] && strcmp(old_digest, digest) != 0)
                return release_image(old_digest, err);
        return 0;
}

int vp_store_add_image(const char *staging_directory, const char *name, const char *recipe_digest,
                       json_t *metadata, vp_image **ret, vp_error *err)
{
        _cleanup_free_ char *rootfs = NULL, *json_path = NULL, *images = NULL, *names = NULL;
        _cleanup_free_ char *recipes = NULL, *final = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        char digest[65];
        struct stat st;
        int r;

        if (!vp_image_name_valid(name))
                return vp_error_set(err, -EINVAL, "invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63})",
                                    name);

        rootfs = vp_strdup_printf("%s/rootfs.sqfs", staging_directory);
        json_path = vp_strdup_printf("%s/image.json", staging_directory);
        if (!rootfs || !json_path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (stat(rootfs, &st) < 0)
                return vp_error_set_errno(err, -errno, "%s", rootfs);
        r = vp_sha256_file(rootfs, digest, err);
        if (r < 0)
                return r;

        if (json_object_set_new(metadata, "digest", json_string(digest)) < 0 ||
            json_object_set_new(metadata, "size", json_integer((json_int_t) st.st_size)) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (json_dump_file(metadata, json_path, JSON_INDENT(2)) < 0)
                return vp_error_set(err, -EIO, "%s: cannot write image metadata", json_path);

        if ((r = store_dir("images", &images, err)) < 0 || (r = store_dir("names", &names, err)) < 0 ||
            (r = store_dir("recipes", &recipes, err)) < 0)
                return r;
        final = vp_strdup_printf("%s/%s", images, digest);
        if (!final)
                return vp_error_set(err, -ENOMEM, "out of memory");

        lock_fd = lock_store(err);
        if (lock_fd < 0)
                return lock_fd;

        if (rename(staging_directory, final) < 0) {
                if (errno != EEXIST && errno != ENOTEMPTY)
                        return vp_error_set_errno(err, -errno, "%s: cannot move into the store as %s",
                                                  staging_directory, final);
                /* The same bytes are stored already: keep that image and its metadata. */
                r = vp_rm_rf(staging_directory, err);
                if (r < 0)
                        return r;
        }

        r = point_name(names, name, digest, err);
        if (r < 0)
                return r;
        if (recipe_digest) {
                r = set_link(recipes, recipe_digest, digest, err);
                if (r < 0)
                        return r;
        }
        close(TAKE_FD(lock_fd));

        if (!ret)
                return 0;
        return load_image(digest, name, ret, err);
}

int vp_store_set_name(const char *name, const char *digest, vp_error *err)
{
        _cleanup_free_ char *names = NULL, *images = NULL, *directory = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        struct stat st;
        int r;

        if (!vp_image_name_valid(name))
                return vp_error_set(err, -EINVAL, "invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63})",
                                    name);
        if (!is_hex(digest, 64, 64))
                return vp_error_set(err, -EINVAL, "invalid image digest '%s'", digest);
        if ((r = store_dir("names", &names, err)) < 0 || (r = store_dir("images", &images, err)) < 0)
                return r;
        directory = vp_strdup_printf("%s/%s", images, digest);
        if (!directory)
                return vp_error_set(err, -ENOMEM, "out of memory");

        lock_fd = lock_store(err);
        if (lock_fd < 0)
                return lock_fd;
        if (stat(directory, &st) < 0)
                return vp_error_set_errno(err, -errno, "image %.12s", digest);
        return point_name(names, name, digest, err);
}

int vp_store_release_image(const char *digest, vp_error *err)
{
        _cleanup_close_ int lock_fd = -EBADF;

        if (!is_hex(digest, 64, 64))
                return vp_error_set(err, -EINVAL, "invalid image digest '%s'", digest);
        lock_fd = lock_store(err);
        if (lock_fd < 0)
                return lock_fd;
        return release_image(digest, err);
}

int vp_store_open_log(const char *name, char **ret_path, int *ret_fd, vp_error *err)
{
        _cleanup_free_ char *logs = NULL, *path = NULL;
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        int r = store_dir("logs", &logs, err);

        if (r < 0)
                return r;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);

        for (unsigned attempt = 0; attempt < 100; attempt++) {
                free(path);
                path = attempt == 0 ? vp_strdup_printf("%s/%s-%s.log", logs, name, stamp)
                                    : vp_strdup_printf("%s/%s-%s-%u.log", logs, name, stamp, attempt);
                if (!path)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        *ret_path = TAKE_PTR(path);
                        *ret_fd = fd;
                        return 0;
                }
                if (errno != EEXIST)
                        return vp_error_set_errno(err, -errno, "%s: cannot create build log", path);
        }
        return vp_error_set(err, -EEXIST, "%s: too many build logs with this time stamp", logs);
}

int vp_store_list_image_users(const char *digest, char ***ret_instances, vp_error *err)
{
        _cleanup_free_ char *instances_dir = vp_path(VP_DIR_DATA, "instances");
        _cleanup_strv_free_ char **users = strv_new();

        if (!instances_dir || !users)
                return vp_error_set(err, -ENOMEM, "out of memory");

        DIR *d = opendir(instances_dir);
        if (!d) {
                if (errno != ENOENT)
                        return vp_error_set_errno(err, -errno, "%s", instances_dir);
                *ret_instances = TAKE_PTR(users);
                return 0;
        }
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = vp_strdup_printf("%s/%s/instance.json", instances_dir, de->d_name);
                json_t *instance = NULL;
                if (!path) {
                        r = vp_error_set(err, -ENOMEM, "out of memory");
                        break;
                }
                if (access(path, F_OK) < 0)
                        continue;
                /* An unreadable instance might use the image: fail rather than guess. */
                r = load_json(path, &instance, err);
                if (r < 0)
                        break;
                const char *image = json_string_value(json_object_get(instance, "image"));
                bool uses = image && strcmp(image, digest) == 0;
                json_decref(instance);
                if (uses && strv_extend(&users, de->d_name) < 0) {
                        r = vp_error_set(err, -ENOMEM, "out of memory");
                        break;
                }
        }
        closedir(d);
        if (r < 0)
                return r;
        *ret_instances = TAKE_PTR(users);
        return 0;
}

/* Remove every link in directory that points to the image digest. When only_count is set,
 * remove nothing and return how many there are. */
static int links_to_digest(const char *directory, const char *digest, bool only_count, vp_error *err)
{
        int count = 0;
        DIR *d = opendir(directory);

        if (!d)
                return errno == ENOENT ? 0 : vp_error_set_errno(err, -errno, "%s", directory);
        for (struct dirent *de; (de = readdir(d));) {
                char target[65];
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = vp_strdup_printf("%s/%s", directory, de->d_name);
                if (!path) {
                        closedir(d);
                        return vp_error_set(err, -ENOMEM, "out of memory");
                }
                if (read_link_digest(path, target, NULL) < 0 || strcmp(target, digest) != 0)
                        continue;
                count++;
                if (!only_count && unlink(path) < 0 && errno != ENOENT) {
                        int r = -errno;
                        closedir(d);
                        return vp_error_set_errno(err, r, "%s: cannot remove", path);
                }
        }
        closedir(d);
        return count;
}

int vp_store_remove_name(const char *name, bool force, bool *ret_removed_image, vp_error *err)
{
        _cleanup_free_ char *names = NULL, *recipes = NULL, *images = NULL;
        _cleanup_free_ char *link_path = NULL, *image_dir = NULL;
        _cleanup_strv_free_ char **users = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        char digest[65];
        int r;

        if (!vp_image_name_valid(name))
                return vp_error_set(err, -EINVAL, "invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63})",
                                    name);
        if ((r = store_dir("names", &names, err)) < 0 || (r = store_dir("recipes", &recipes, err)) < 0 ||
            (r = store_dir("images", &images, err)) < 0)
                return r;
        link_path = vp_strdup_printf("%s/%s", names, name);
        if (!link_path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        lock_fd = lock_store(err);
        if (lock_fd < 0)
                return lock_fd;

        r = read_link_digest(link_path, digest, err);
        if (r == -ENOENT)
                return vp_error_set(err, -ENOENT, "no image named '%s' (run 'vmpack images' for the list)", name);
        if (r < 0)
                return r;

        /* Other names keep the image, so instances do not matter then. */
        r = links_to_digest(names, digest, true, err);
        if (r < 0)
                return r;
        if (r > 1) {
                if (unlink(link_path) < 0)
                        return vp_error_set_errno(err, -errno, "%s: cannot remove", link_path);
                if (ret_removed_image)
                        *ret_removed_image = false;
                return 0;
        }

        r = vp_store_list_image_users(digest, &users, err);
        if (r < 0)
                return r;
        if (users[0] && !force) {
                _cleanup_free_ char *list = strv_join(users, ", ");
                return vp_error_set(err, -EBUSY,
                                    "image '%s' (%.12s) is used by instance(s) %s; remove them first, or use "
                                    "--force to remove the image anyway",
                                    name, digest, list ? list : "?");
        }

        if (unlink(link_path) < 0)
                return vp_error_set_errno(err, -errno, "%s: cannot remove", link_path);
        r = links_to_digest(recipes, digest, false, err);
        if (r < 0)
                return r;
        image_dir = vp_strdup_printf("%s/%s", images, digest);
        if (!image_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = vp_rm_rf(image_dir, err);
        if (r < 0)
                return r;
        if (ret_removed_image)
                *ret_removed_image = true;
        return 0;
}
