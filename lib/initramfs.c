/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "initramfs.h"

#include "cpio.h"
#include "paths.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define MODULES_DEP_MAX (32u * 1024 * 1024)
#define INITRAMFS_MAX (512ull * 1024 * 1024)
/* Deeper than any real dependency chain, so it only stops a cycle in a corrupt modules.dep. */
#define MODULE_DEPTH_MAX 64

/* The modules vmpack-init loads, by name. A required module that is neither built in nor
 * in modules.dep is an error, because the guest cannot boot or talk to the host without it.
 * Modules of a group are listed in /etc/vmpack-init/modules.GROUP, which init loads only when
 * the configuration uses the feature: loading them all costs about 0.3 s of a TCG boot. */
static const struct {
        const char *name;
        const char *group; /* NULL: always loaded, listed in /etc/vmpack-init/modules */
        bool required;
} guest_modules[] = {
        { "virtio_pci", NULL, true },     /* q35 */
        { "virtio_mmio", NULL, true },    /* microvm */
        { "virtio_blk", NULL, true },     /* root image and data volume */
        { "virtio_console", NULL, true }, /* host channel ports */
        { "virtio_rng", NULL, false },
        { "squashfs", NULL, true },
        { "overlay", NULL, true },
        { "qemu_fw_cfg", NULL, true },
        { "9pnet_virtio", "9p", true },
        { "9p", "9p", true },
        /* ext4 and jbd2 load crypto-crc32c through a soft dependency, which modules.dep
         * does not list. */
        { "crc32c_generic", "ext4", false },
        { "ext4", "ext4", true },
        { "virtio_net", "net", true },
        { "af_packet", "net", false },
        /* virtio_gpu pulls in drm, drm_kms_helper, drm_shmem_helper and virtio_dma_buf. Not
         * required, so that a kernel without them still runs headless apps; a graphical app
         * then fails in the guest, waiting for /dev/dri/card0. */
        { "virtio_gpu", "display", false },
        { "virtio_input", "display", false },
        { "evdev", "display", false },
        /* The sound card QEMU adds with audio=playback: intel-hda with an hda-output or
         * hda-duplex codec, which only the generic codec driver handles. The guest has no
         * modprobe for the controller's request_module() of a codec driver, so the codec
         * driver is loaded first and binds when the controller probes its codecs. Not
         * required: a kernel without them runs the app without a sound card. */
        { "snd_hda_codec_generic", "audio", false },
        { "snd_hda_intel", "audio", false },
};

/* Module list files in the initramfs, in the order init may load them. */
static const char *const module_groups[] = { NULL, "9p", "ext4", "net", "display", "audio" };

/* One line of modules.dep: "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko ...". */
typedef struct module_entry {
        char *name; /* "ext4", '-' turned into '_' as modprobe does */
        char *path; /* relative to the modules directory */
        char **deps; /* paths */
        int state;  /* 0 unvisited, 1 in progress, 2 emitted */
} module_entry;

typedef struct module_table {
        module_entry *entries;
        size_t n_entries;
        char **builtin; /* names */
} module_table;

static void module_table_done(module_table *t)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                free(t->entries[i].name);
                free(t->entries[i].path);
                strv_free(t->entries[i].deps);
        }
        free(t->entries);
        strv_free(t->builtin);
}

/* "kernel/drivers/char/hw_random/virtio-rng.ko.xz" -> "virtio_rng". */
static char *module_name_from_path(const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;

        size_t len = strcspn(base, ".");
        char *name = strndup(base, len);
        if (!name)
                return NULL;
        for (char *p = name; *p; p++)
                if (*p == '-')
                        *p = '_';
        return name;
}

static bool module_path_valid(const char *path)
{
        if (!*path || path[0] == '/' || strstr(path, "..") || strchr(path, '\n'))
                return false;
        return vp_str_endswith(path, ".ko") || vp_str_endswith(path, ".ko.xz") ||
               vp_str_endswith(path, ".ko.zst") || vp_str_endswith(path, ".ko.gz");
}

static int parse_modules_dep_line(module_table *t, char *line, const char *file, unsigned lineno, vp_error *err)
{
        char *colon = strchr(line, ':');

        if (!colon)
                return vp_error_set(err, -EINVAL, "%s:%u: missing ':'", file, lineno);
        *colon = '\0';

        module_entry e = { 0 };
        if (!module_path_valid(line))
                return vp_error_set(err, -EINVAL, "%s:%u: invalid module path '%s'", file, lineno, line);
        e.path = strdup(line);
        e.name = module_name_from_path(line);
        e.deps = strv_new();
        if (!e.path || !e.name || !e.deps)
                goto oom;

        for (char *save = NULL, *dep = strtok_r(colon + 1, " \t", &save); dep; dep = strtok_r(NULL, " \t", &save)) {
                if (!module_path_valid(dep)) {
                        int r = vp_error_set(err, -EINVAL, "%s:%u: invalid dependency path '%s'", file, lineno, dep);
                        free(e.path);
                        free(e.name);
                        strv_free(e.deps);
                        return r;
                }
                if (strv_extend(&e.deps, dep) < 0)
                        goto oom;
        }

        module_entry *grown = realloc(t->entries, (t->n_entries + 1) * sizeof(*grown));
        if (!grown)
                goto oom;
        t->entries = grown;
        t->entries[t->n_entries++] = e;
        return 0;

oom:
        free(e.path);
        free(e.name);
        strv_free(e.deps);
        return vp_error_set(err, -ENOMEM, "out of memory");
}

static int load_modules_dep(module_table *t, const char *modules_dir, vp_error *err)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/modules.dep", modules_dir);
        _cleanup_free_ char *data = NULL;
        unsigned lineno = 0;

        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        int r = vp_read_file(path, MODULES_DEP_MAX, &data, NULL, err);
        if (r < 0)
                return vp_error_prefix(err, "modules");

        for (char *save = NULL, *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                lineno++;
                r = parse_modules_dep_line(t, line, path, lineno, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* modules.builtin lists "kernel/net/packet/af_packet.ko" for each built-in module. A
 * missing file means that no module is known to be built in. */
static int load_modules_builtin(module_table *t, const char *modules_dir, vp_error *err)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/modules.builtin", modules_dir);
        _cleanup_free_ char *data = NULL;

        t->builtin = strv_new();
        if (!path || !t->builtin)
                return vp_error_set(err, -ENOMEM, "out of memory");
        int r = vp_read_file(path, MODULES_DEP_MAX, &data, NULL, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return vp_error_prefix(err, "modules");

        for (char *save = NULL, *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *name = module_name_from_path(line);
                if (strv_push(&t->builtin, name) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

static module_entry *find_by_name(module_table *t, const char *name)
{
        for (size_t i = 0; i < t->n_entries; i++)
                if (strcmp(t->entries[i].name, name) == 0)
                        return &t->entries[i];
        return NULL;
}

static module_entry *find_by_path(module_table *t, const char *path)
{
        for (size_t i = 0; i < t->n_entries; i++)
                if (strcmp(t->entries[i].path, path) == 0)
                        return &t->entries[i];
        return NULL;
}

/* Depth-first, dependencies first: each module is appended after everything it needs. */
static int resolve_module(module_table *t, module_entry *e, unsigned depth, char ***order, vp_error *err)
{
        if (e->state == 2)
                return 0;
        if (e->state == 1 || depth > MODULE_DEPTH_MAX)
                return vp_error_set(err, -ELOOP, "modules.dep: dependency cycle through %s", e->path);
        e->state = 1;

        STRV_FOREACH(dep, e->deps) {
                module_entry *d = find_by_path(t, *dep);
                if (!d)
                        return vp_error_set(err, -ENOENT, "modules.dep: %s needs %s, which has no entry", e->path,
                                            *dep);
                int r = resolve_module(t, d, depth + 1, order, err);
                if (r < 0)
                        return r;
        }

        e->state = 2;
        if (strv_extend(order, e->path) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

/* Resolve every guest module. ret_groups[i] is the group of ret_paths[i] ("" when always
 * loaded): a dependency belongs to the first group that needs it. */
static int resolve_grouped(const char *modules_dir, char ***ret_paths, char ***ret_groups, vp_error *err)
{
        _cleanup_(module_table_done) module_table t = { 0 };
        _cleanup_strv_free_ char **order = strv_new();
        _cleanup_strv_free_ char **groups = strv_new();

        if (!order || !groups)
                return vp_error_set(err, -ENOMEM, "out of memory");
        int r = load_modules_dep(&t, modules_dir, err);
        if (r < 0)
                return r;
        r = load_modules_builtin(&t, modules_dir, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(guest_modules); i++) {
                const char *name = guest_modules[i].name;
                if (strv_contains(t.builtin, name))
                        continue;
                module_entry *e = find_by_name(&t, name);
                if (!e && !guest_modules[i].required)
                        continue;
                if (!e)
                        return vp_error_set(err, -ENOENT,
                                            "kernel module %s is neither built in nor listed in %s/modules.dep; "
                                            "use a kernel that has it",
                                            name, modules_dir);
                r = resolve_module(&t, e, 0, &order, err);
                if (r < 0)
                        return r;
                while (strv_length(groups) < strv_length(order))
                        if (strv_extend(&groups, guest_modules[i].group ? guest_modules[i].group : "") < 0)
                                return vp_error_set(err, -ENOMEM, "out of memory");
        }

        *ret_paths = TAKE_PTR(order);
        *ret_groups = TAKE_PTR(groups);
        return 0;
}

int vp_initramfs_resolve_modules(const char *modules_dir, char ***ret_paths, vp_error *err)
{
        _cleanup_strv_free_ char **groups = NULL;

        return resolve_grouped(modules_dir, ret_paths, &groups, err);
}

/* Digest over the init binary and each module's path, size and modification time, so a
 * rebuilt init or an updated module gives a new cache file. */
static int initramfs_digest(const vp_kernel *k, const char *init_path, char **modules, char **groups,
                            char ret_hex[65], vp_error *err)
{
        char init_hex[65];
        _cleanup_strv_free_ char **parts = strv_new();

        int r = vp_sha256_file(init_path, init_hex, err);
        if (r < 0)
                return vp_error_prefix(err, "initramfs: init");
        if (!parts || strv_extendf(&parts, "init %s", init_hex) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");

        for (size_t i = 0; modules[i]; i++) {
                _cleanup_free_ char *full = vp_strdup_printf("%s/%s", k->modules_dir, modules[i]);
                struct stat st;
                if (!full)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                if (stat(full, &st) < 0)
                        return vp_error_set_errno(err, -errno, "initramfs: module %s", full);
                if (strv_extendf(&parts, "module %s %s %lld %lld", groups[i], modules[i], (long long) st.st_size,
                                 (long long) st.st_mtime) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }

        _cleanup_free_ char *joined = strv_join(parts, "\n");
        if (!joined)
                return vp_error_set(err, -ENOMEM, "out of memory");
        vp_sha256_buffer(joined, strlen(joined), ret_hex);
        return 0;
}

/* Add "a/b/c/" directories for each prefix of path not yet in dirs. */
static int add_parent_directories(vp_cpio *c, char ***dirs, const char *path, vp_error *err)
{
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return vp_error_set(err, -ENOMEM, "out of memory");
        for (char *slash = strchr(copy, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                if (!strv_contains(*dirs, copy)) {
                        int r = vp_cpio_add_directory(c, copy, 0755, err);
                        if (r < 0)
                                return r;
                        if (strv_extend(dirs, copy) < 0)
                                return vp_error_set(err, -ENOMEM, "out of memory");
                }
                *slash = '/';
        }
        return 0;
}

/* Write /etc/vmpack-init/modules or modules.GROUP: the group's module paths in load order. */
static int write_module_list(vp_cpio *c, const vp_kernel *k, char **modules, char **groups, const char *group,
                             vp_error *err)
{
        _cleanup_strv_free_ char **lines = strv_new();
        _cleanup_free_ char *name = group ? vp_strdup_printf("etc/vmpack-init/modules.%s", group)
                                          : strdup("etc/vmpack-init/modules");

        if (!lines || !name)
                return vp_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; modules[i]; i++)
                if (strcmp(groups[i], group ? group : "") == 0 &&
                    strv_extendf(&lines, "/lib/modules/%s/%s\n", k->version, modules[i]) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");

        _cleanup_free_ char *text = strv_join(lines, "");
        if (!text)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return vp_cpio_add_data(c, name, 0644, text, strlen(text), err);
}

static int write_archive(int fd, const vp_kernel *k, const char *init_path, char **modules, char **groups,
                         vp_error *err)
{
        static const char *const mount_points[] = { "dev", "proc", "sys", "run", "tmp", "newroot" };
        _cleanup_cpio_ vp_cpio *c = NULL;
        _cleanup_strv_free_ char **dirs = strv_new();
        int r;

        if (!dirs || vp_cpio_new(fd, INITRAMFS_MAX, &c) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");

        for (size_t i = 0; i < ELEMENTSOF(mount_points); i++) {
                r = vp_cpio_add_directory(c, mount_points[i], 0755, err);
                if (r < 0)
                        return r;
        }
        r = vp_cpio_add_char_device(c, "dev/console", 0600, 5, 1, err);
        if (r < 0)
                return r;
        r = vp_cpio_add_file(c, "init", 0755, init_path, err);
        if (r < 0)
                return r;

        STRV_FOREACH(m, modules) {
                _cleanup_free_ char *name = vp_strdup_printf("lib/modules/%s/%s", k->version, *m);
                _cleanup_free_ char *source = vp_strdup_printf("%s/%s", k->modules_dir, *m);
                if (!name || !source)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                r = add_parent_directories(c, &dirs, name, err);
                if (r < 0)
                        return r;
                r = vp_cpio_add_file(c, name, 0644, source, err);
                if (r < 0)
                        return r;
        }

        r = add_parent_directories(c, &dirs, "etc/vmpack-init/modules", err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(module_groups); i++) {
                r = write_module_list(c, k, modules, groups, module_groups[i], err);
                if (r < 0)
                        return r;
        }

        return vp_cpio_finish(c, err);
}

int vp_initramfs_get(const vp_kernel *k, const char *init_path, char **ret_path, vp_error *err)
{
        _cleanup_strv_free_ char **modules = NULL, **groups = NULL;
        _cleanup_free_ char *dir = NULL, *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        char digest[65];

        int r = resolve_grouped(k->modules_dir, &modules, &groups, err);
        if (r < 0)
                return vp_error_prefix(err, "initramfs");
        r = initramfs_digest(k, init_path, modules, groups, digest, err);
        if (r < 0)
                return r;

        r = vp_path_ensure(VP_DIR_CACHE, "initramfs", &dir, err);
        if (r < 0)
                return vp_error_prefix(err, "initramfs cache");
        /* NOTE: archives for older init binaries or modules stay in the cache (about 5 MB
         * each), because another vmpack process may be about to boot one of them. */
        path = vp_strdup_printf("%s/%s-%.16s.cpio", dir, k->version, digest);
        tmp = vp_strdup_printf("%s/.initramfs.XXXXXX", dir);
        if (!path || !tmp)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (access(path, R_OK) == 0) {
                *ret_path = TAKE_PTR(path);
                return 0;
        }

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "initramfs: %s: cannot create", tmp);
        r = write_archive(fd, k, init_path, modules, groups, err);
        if (r >= 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0))
                r = vp_error_set_errno(err, -errno, "initramfs: %s: cannot write", path);
        if (r < 0) {
                unlink(tmp);
                return vp_error_prefix(err, "initramfs");
        }

        *ret_path = TAKE_PTR(path);
        return 0;
}
