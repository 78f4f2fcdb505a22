/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "instance.h"

#include "paths.h"
#include "subprocess.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define METADATA_MAX_BYTES (64 * 1024)

bool vp_instance_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > VP_INSTANCE_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
                        return false;
        }
        return true;
}

char *vp_instance_path(const char *name, const char *file)
{
        _cleanup_free_ char *sub = file ? vp_strdup_printf("instances/%s/%s", name, file)
                                        : vp_strdup_printf("instances/%s", name);

        return sub ? vp_path(VP_DIR_DATA, sub) : NULL;
}

void vp_format_utc(time_t t, char ret[32])
{
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(ret, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* mkfs.ext4 lives in /usr/sbin, which is not on every user's PATH. */
static const char *mkfs_program(void)
{
        return vp_spawn_program_exists("mkfs.ext4") ? "mkfs.ext4" : "/usr/sbin/mkfs.ext4";
}

/* Make data.qcow2: an ext4 filesystem built on a sparse raw file, then converted, because
 * mkfs.ext4 cannot write into a qcow2 container. The root directory belongs to owner_uid so
 * the app can write its home. */
static int make_data_volume(const char *directory, uint64_t size, unsigned owner_uid, vp_error *err)
{
        _cleanup_free_ char *raw = vp_strdup_printf("%s/data.raw.tmp", directory);
        _cleanup_free_ char *qcow2_tmp = vp_strdup_printf("%s/data.qcow2.tmp", directory);
        _cleanup_free_ char *qcow2 = vp_strdup_printf("%s/data.qcow2", directory);
        _cleanup_free_ char *owner = vp_strdup_printf("root_owner=%u:%u", owner_uid, owner_uid);
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!raw || !qcow2_tmp || !qcow2 || !owner)
                return vp_error_set(err, -ENOMEM, "out of memory");

        fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "creating %s", raw);
        if (ftruncate(fd, (off_t) size) < 0) {
                r = vp_error_set_errno(err, -errno, "sizing %s to %llu bytes", raw, (unsigned long long) size);
                unlink(raw);
                return r;
        }

        char *mkfs[] = { (char *) mkfs_program(), "-q", "-F", "-t", "ext4", "-L", "data", "-E", owner, raw, NULL };
        char *convert[] = { "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow2_tmp, NULL };
        r = vp_spawn_check(mkfs, NULL, err);
        r = r ?: vp_spawn_check(convert, NULL, err);
        unlink(raw);
        if (r == 0 && rename(qcow2_tmp, qcow2) < 0)
                r = vp_error_set_errno(err, -errno, "renaming %s", qcow2_tmp);
        if (r < 0) {
                unlink(qcow2_tmp);
                return vp_error_prefix(err, "making the data volume");
        }
        return 0;
}

int vp_instance_create(const vp_instance_create_options *o, bool *ret_reused_data, json_t **ret, vp_error *err)
{
        _cleanup_free_ char *directory = vp_instance_path(o->name, NULL);
        _cleanup_free_ char *metadata_path = vp_instance_path(o->name, "instance.json");
        _cleanup_free_ char *data_path = vp_instance_path(o->name, "data.qcow2");
        _cleanup_free_ char *text = NULL;
        const char *workspace = o->workspace ? o->workspace : VP_INSTANCE_DEFAULT_WORKSPACE;
        uint64_t size = o->data_size ? o->data_size : VP_INSTANCE_DEFAULT_DATA_SIZE;
        bool reused = false;
        char created[32];
        int r;

        if (!vp_instance_name_valid(o->name))
                return vp_error_set(err, -EINVAL,
                                    "invalid instance name '%s' (1 to 64 of A-Z a-z 0-9 . _ -, starting with a "
                                    "letter or digit)",
                                    o->name);
        if (!vp_instance_name_valid(workspace))
                return vp_error_set(err, -EINVAL, "invalid workspace name '%s' (same rule as instance names)",
                                    workspace);
        if (size < VP_INSTANCE_MIN_DATA_SIZE || size > VP_INSTANCE_MAX_DATA_SIZE)
                return vp_error_set(err, -EINVAL, "data volume size %llu bytes is out of range (16 MiB to 1 TiB)",
                                    (unsigned long long) size);
        if (!directory || !metadata_path || !data_path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        if (access(metadata_path, F_OK) == 0)
                return vp_error_set(err, -EEXIST, "instance '%s' already exists", o->name);
        r = vp_mkdir_p(directory, 0700, err);
        if (r < 0)
                return r;

        if (access(data_path, F_OK) == 0)
                reused = true;
        else {
                r = make_data_volume(directory, size, o->owner_uid, err);
                if (r < 0)
                        return vp_error_prefix(err, "instance '%s'", o->name);
        }

        vp_format_utc(time(NULL), created);
        json_t *metadata = json_pack("{s:s, s:s, s:s?, s:s, s:s}", "name", o->name, "image", o->image_digest,
                                     "image_name", o->image_name, "workspace", workspace, "created", created);
        text = metadata ? json_dumps(metadata, JSON_INDENT(2)) : NULL;
        if (!text) {
                json_decref(metadata);
                return vp_error_set(err, -ENOMEM, "out of memory");
        }
        r = vp_write_file_atomic(metadata_path, text, strlen(text), 0644, err);
        if (r < 0) {
                json_decref(metadata);
                return r;
        }

        if (ret_reused_data)
                *ret_reused_data = reused;
        if (ret)
                *ret = metadata;
        else
                json_decref(metadata);
        return 0;
}

int vp_instance_load(const char *name, json_t **ret, vp_error *err)
{
        _cleanup_free_ char *path = vp_instance_path(name, "instance.json");
        _cleanup_free_ char *text = NULL;
        json_error_t json_error;
        int r;

        if (!vp_instance_name_valid(name))
                return vp_error_set(err, -EINVAL, "invalid instance name '%s'", name);
        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = vp_read_file(path, METADATA_MAX_BYTES, &text, NULL, err);
        if (r < 0)
                return r == -ENOENT ? vp_error_set(err, r, "instance '%s' not found", name) : r;

        json_t *metadata = json_loads(text, 0, &json_error);
        if (!json_is_object(metadata) || !json_is_string(json_object_get(metadata, "image"))) {
                json_decref(metadata);
                return vp_error_set(err, -EBADMSG, "%s: invalid instance metadata (line %d: %s)", path,
                                    json_error.line, metadata ? "\"image\" is missing" : json_error.text);
        }
        *ret = metadata;
        return 0;
}

int vp_instance_remove(const char *name, bool purge, vp_error *err)
{
        _cleanup_free_ char *directory = vp_instance_path(name, NULL);
        static const char *const files[] = { "instance.json", "app.log", "app.log.1", "console.log" };

        if (!vp_instance_name_valid(name))
                return vp_error_set(err, -EINVAL, "invalid instance name '%s'", name);
        if (!directory)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (purge)
                return vp_rm_rf(directory, err);

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *path = vp_instance_path(name, files[i]);
                if (!path)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                if (unlink(path) < 0 && errno != ENOENT)
                        return vp_error_set_errno(err, -errno, "removing %s", path);
        }
        return 0;
}
