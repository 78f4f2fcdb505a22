/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "initramfs.h"

/* A fake modules tree shaped like Debian 6.1's: virtio_ring and virtio under most drivers,
 * a hyphenated virtio-rng, 9p over 9pnet, ext4 with its helpers, af_packet built in. */
static const char modules_dep[] =
        "kernel/drivers/virtio/virtio_ring.ko:\n"
        "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
        "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko "
        "kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio.ko\n"
        "kernel/fs/squashfs/squashfs.ko:\n"
        "kernel/fs/overlayfs/overlay.ko:\n"
        "kernel/net/9p/9pnet.ko:\n"
        "kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko\n"
        "kernel/drivers/firmware/qemu_fw_cfg.ko:\n"
        "kernel/lib/crc16.ko:\n"
        "kernel/fs/jbd2/jbd2.ko:\n"
        "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/jbd2/jbd2.ko\n"
        "kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/gpu/drm/drm.ko:\n"
        "kernel/drivers/gpu/drm/drm_kms_helper.ko: kernel/drivers/gpu/drm/drm.ko\n"
        "kernel/drivers/gpu/drm/drm_shmem_helper.ko: kernel/drivers/gpu/drm/drm.ko\n"
        "kernel/drivers/virtio/virtio_dma_buf.ko:\n"
        "kernel/drivers/gpu/drm/virtio/virtio-gpu.ko: kernel/drivers/virtio/virtio_dma_buf.ko "
        "kernel/drivers/gpu/drm/drm_shmem_helper.ko kernel/drivers/gpu/drm/drm_kms_helper.ko "
        "kernel/drivers/gpu/drm/drm.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio_input.ko: kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/input/evdev.ko:\n"
        "kernel/sound/soundcore.ko:\n"
        "kernel/sound/core/snd.ko: kernel/sound/soundcore.ko\n"
        "kernel/sound/core/snd-timer.ko: kernel/sound/core/snd.ko\n"
        "kernel/sound/core/snd-pcm.ko: kernel/sound/core/snd-timer.ko kernel/sound/core/snd.ko\n"
        "kernel/sound/hda/snd-hda-core.ko: kernel/sound/core/snd-pcm.ko kernel/sound/core/snd.ko\n"
        "kernel/sound/pci/hda/snd-hda-codec.ko: kernel/sound/hda/snd-hda-core.ko kernel/sound/core/snd-pcm.ko\n"
        "kernel/sound/pci/hda/snd-hda-codec-generic.ko: kernel/sound/pci/hda/snd-hda-codec.ko "
        "kernel/sound/core/snd-pcm.ko\n"
        "kernel/sound/hda/snd-intel-dspcfg.ko: kernel/sound/hda/snd-hda-core.ko\n"
        "kernel/sound/pci/hda/snd-hda-intel.ko: kernel/sound/hda/snd-intel-dspcfg.ko "
        "kernel/sound/pci/hda/snd-hda-codec.ko kernel/sound/core/snd-pcm.ko\n"
        "kernel/sound/pci/hda/snd-hda-codec-realtek.ko: kernel/sound/pci/hda/snd-hda-codec-generic.ko\n"
        "kernel/drivers/unrelated.ko:\n";

static const char modules_builtin[] = "kernel/net/packet/af_packet.ko\n";

static void write_text(const char *dir, const char *name, const char *text)
{
        char path[512];
        vp_error err = { 0 };

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        assert_int_equal(vp_mkdir_p(path, 0755, &err), 0);
        *slash = '/';
        assert_int_equal(vp_write_file_atomic(path, text, strlen(text), 0644, &err), 0);
}

/* Create the tree with one small file per module in modules.dep. */
static char *make_tree(const char *dep, const char *builtin)
{
        char *dir = strdup("/tmp/test-initramfs.XXXXXX");

        assert_non_null(mkdtemp(dir));
        write_text(dir, "modules.dep", dep);
        if (builtin)
                write_text(dir, "modules.builtin", builtin);

        char *copy = strdup(dep);
        for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line[strcspn(line, ":")] = '\0';
                write_text(dir, line, line);
        }
        free(copy);
        return dir;
}

static void remove_tree(char *dir)
{
        vp_rm_rf(dir, NULL);
        free(dir);
}

static ssize_t index_of(char **v, const char *suffix)
{
        for (size_t i = 0; v[i]; i++)
                if (vp_str_endswith(v[i], suffix))
                        return (ssize_t) i;
        return -1;
}

static void resolve_orders_dependencies_first(void **state)
{
        _cleanup_strv_free_ char **paths = NULL;
        vp_error err = { 0 };
        char *dir = make_tree(modules_dep, modules_builtin);

        assert_int_equal(vp_initramfs_resolve_modules(dir, &paths, &err), 0);

        /* Every module once, each after what it needs. */
        assert_int_equal(strv_length(paths), 34);
        assert_true(index_of(paths, "/virtio_ring.ko") < index_of(paths, "/virtio.ko"));
        assert_true(index_of(paths, "/virtio.ko") < index_of(paths, "/virtio_pci.ko"));
        assert_true(index_of(paths, "/virtio_pci_modern_dev.ko") < index_of(paths, "/virtio_pci.ko"));
        assert_true(index_of(paths, "/9pnet.ko") < index_of(paths, "/9pnet_virtio.ko"));
        assert_true(index_of(paths, "/crc16.ko") < index_of(paths, "/ext4.ko"));
        assert_true(index_of(paths, "/jbd2.ko") < index_of(paths, "/ext4.ko"));
        assert_true(index_of(paths, "/drm.ko") < index_of(paths, "/drm_kms_helper.ko"));
        assert_true(index_of(paths, "/drm_shmem_helper.ko") < index_of(paths, "/virtio-gpu.ko"));
        assert_true(index_of(paths, "/virtio_dma_buf.ko") < index_of(paths, "/virtio-gpu.ko"));
        assert_true(index_of(paths, "/evdev.ko") >= 0);
        assert_true(index_of(paths, "/virtio-rng.ko.xz") >= 0);
        assert_true(index_of(paths, "/snd-hda-codec-generic.ko") < index_of(paths, "/snd-hda-intel.ko"));
        assert_int_equal(index_of(paths, "/snd-hda-codec-realtek.ko"), -1);
        assert_int_equal(index_of(paths, "/unrelated.ko"), -1);
        assert_int_equal(index_of(paths, "af_packet.ko"), -1);
        assert_string_equal(paths[0], "kernel/drivers/virtio/virtio_pci_modern_dev.ko");
        remove_tree(dir);
}

static void resolve_skips_builtin_modules(void **state)
{
        _cleanup_strv_free_ char **paths = NULL;
        vp_error err = { 0 };
        char *dir = make_tree(modules_dep, "kernel/fs/squashfs/squashfs.ko\nkernel/fs/overlayfs/overlay.ko\n");

        assert_int_equal(vp_initramfs_resolve_modules(dir, &paths, &err), 0);
        assert_int_equal(index_of(paths, "/squashfs.ko"), -1);
        assert_int_equal(index_of(paths, "/overlay.ko"), -1);
        remove_tree(dir);
}

static void resolve_missing_required_module(void **state)
{
        _cleanup_strv_free_ char **paths = NULL;
        vp_error err = { 0 };
        char *dir = make_tree("kernel/fs/squashfs/squashfs.ko:\n", NULL);

        assert_int_equal(vp_initramfs_resolve_modules(dir, &paths, &err), -ENOENT);
        assert_non_null(strstr(err.message, "kernel module virtio_pci is neither built in nor listed"));
        assert_null(paths);
        remove_tree(dir);
}

static void resolve_detects_cycle(void **state)
{
        _cleanup_strv_free_ char **paths = NULL;
        vp_error err = { 0 };
        char *dir = make_tree("kernel/a.ko: kernel/b.ko\n"
                              "kernel/b.ko: kernel/a.ko\n"
                              "kernel/virtio_pci.ko: kernel/a.ko\n",
                              NULL);

        assert_int_equal(vp_initramfs_resolve_modules(dir, &paths, &err), -ELOOP);
        assert_non_null(strstr(err.message, "dependency cycle"));
        remove_tree(dir);
}

static void resolve_rejects_bad_lines(void **state)
{
        static const char *const bad[] = {
                "kernel/virtio_pci.ko kernel/a.ko\n",         /* no colon */
                "/abs/virtio_pci.ko:\n",                      /* absolute path */
                "kernel/../../etc/virtio_pci.ko:\n",          /* escapes the tree */
                "kernel/virtio_pci.ko: kernel/notamodule\n",  /* dependency without .ko */
                "kernel/virtio_pci.ko: kernel/missing.ko\n",  /* dependency without a line */
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_strv_free_ char **paths = NULL;
                vp_error err = { 0 };
                char *dir = make_tree("", NULL);
                write_text(dir, "modules.dep", bad[i]);

                int r = vp_initramfs_resolve_modules(dir, &paths, &err);
                assert_true(r == -EINVAL || r == -ENOENT);
                assert_non_null(strstr(err.message, "modules.dep"));
                remove_tree(dir);
        }
}

/* Random edits of modules.dep: resolution either fails with a message or returns each path
 * once, relative and ending in a module suffix. */
static void resolve_survives_random_edits(void **state)
{
        static const char interesting[] = ":/ .\nko";
        char *dir = make_tree(modules_dep, modules_builtin);
        char text[sizeof(modules_dep) + 16];
        unsigned random_state = 4242;

        for (int iteration = 0; iteration < 300; iteration++) {
                size_t size = sizeof(modules_dep) - 1;
                memcpy(text, modules_dep, size);
                for (int edits = 1 + iteration % 4; edits > 0; edits--) {
                        random_state = random_state * 1103515245u + 12345u;
                        size_t position = (random_state >> 8) % size;
                        char byte = (random_state >> 4) & 1 ? (char) (random_state >> 16)
                                                           : interesting[(random_state >> 16) % 8];
                        if ((random_state >> 24) % 2 == 0 && size > 1) {
                                memmove(text + position, text + position + 1, size - position - 1);
                                size--;
                        } else {
                                text[position] = byte ? byte : 'x';
                        }
                }
                text[size] = '\0';
                write_text(dir, "modules.dep", text);

                _cleanup_strv_free_ char **paths = NULL;
                vp_error err = { 0 };
                if (vp_initramfs_resolve_modules(dir, &paths, &err) < 0) {
                        assert_true(err.message[0] != '\0');
                        continue;
                }
                for (size_t i = 0; paths[i]; i++) {
                        assert_true(paths[i][0] != '/');
                        assert_null(strstr(paths[i], ".."));
                        assert_true(vp_str_endswith(paths[i], ".ko") || vp_str_endswith(paths[i], ".ko.xz") ||
                                    vp_str_endswith(paths[i], ".ko.zst") || vp_str_endswith(paths[i], ".ko.gz"));
                        for (size_t j = 0; j < i; j++)
                                assert_string_not_equal(paths[i], paths[j]);
                }
        }
        remove_tree(dir);
}

static void resolve_missing_modules_dep(void **state)
{
        _cleanup_strv_free_ char **paths = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_initramfs_resolve_modules("/nonexistent/modules", &paths, &err), -ENOENT);
        assert_non_null(strstr(err.message, "/nonexistent/modules/modules.dep"));
}

static char *run_capture(const char *command)
{
        char *out = calloc(1, 65536);
        FILE *p = popen(command, "r");

        assert_non_null(p);
        size_t n = fread(out, 1, 65535, p);
        out[n] = '\0';
        assert_int_equal(pclose(p), 0);
        return out;
}

static void get_builds_and_caches_archive(void **state)
{
        _cleanup_free_ char *path = NULL, *again = NULL, *rebuilt = NULL;
        vp_error err = { 0 };
        char *tree = make_tree(modules_dep, modules_builtin);
        char *cache = strdup("/tmp/test-initramfs-cache.XXXXXX");
        char init_path[600], command[800];
        vp_kernel k = { .version = (char *) "6.1.0-test", .modules_dir = tree };

        if (access("/usr/bin/cpio", X_OK) < 0)
                skip();
        assert_non_null(mkdtemp(cache));
        setenv("VMPACK_CACHE_DIR", cache, 1);
        snprintf(init_path, sizeof(init_path), "%s/fake-init", cache);
        write_text(cache, "fake-init", "#!/bin/true\n");

        assert_int_equal(vp_initramfs_get(&k, init_path, &path, &err), 0);
        assert_non_null(strstr(path, "/initramfs/6.1.0-test-"));
        assert_true(vp_str_endswith(path, ".cpio"));

        /* The archive has /init, the module list in load order and the modules themselves. */
        snprintf(command, sizeof(command), "cpio --quiet -it < %s", path);
        char *listing = run_capture(command);
        assert_non_null(strstr(listing, "\ninit\n"));
        assert_non_null(strstr(listing, "dev/console\n"));
        assert_non_null(strstr(listing, "lib/modules/6.1.0-test/kernel/fs/ext4/ext4.ko\n"));
        assert_non_null(strstr(listing, "etc/vmpack-init/modules\n"));
        free(listing);

        snprintf(command, sizeof(command), "cpio --quiet -i --to-stdout etc/vmpack-init/modules < %s", path);
        char *list = run_capture(command);
        assert_true(vp_str_startswith(list, "/lib/modules/6.1.0-test/kernel/drivers/virtio/virtio_pci_modern_dev.ko\n"));
        assert_non_null(strstr(list, "/lib/modules/6.1.0-test/kernel/drivers/char/hw_random/virtio-rng.ko.xz\n"));
        assert_null(strstr(list, "ext4"));
        assert_null(strstr(list, "9p"));
        free(list);

        /* Feature groups list only what the always-loaded modules do not bring. */
        snprintf(command, sizeof(command), "cpio --quiet -i --to-stdout etc/vmpack-init/modules.9p < %s", path);
        list = run_capture(command);
        assert_string_equal(list, "/lib/modules/6.1.0-test/kernel/net/9p/9pnet.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/net/9p/9pnet_virtio.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/fs/9p/9p.ko\n");
        free(list);
        snprintf(command, sizeof(command), "cpio --quiet -i --to-stdout etc/vmpack-init/modules.ext4 < %s", path);
        list = run_capture(command);
        assert_string_equal(list, "/lib/modules/6.1.0-test/kernel/lib/crc16.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/fs/jbd2/jbd2.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/fs/ext4/ext4.ko\n");
        free(list);
        snprintf(command, sizeof(command), "cpio --quiet -i --to-stdout etc/vmpack-init/modules.net < %s", path);
        list = run_capture(command);
        assert_string_equal(list, "/lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko\n");
        free(list);
        /* The generic codec driver before the controller, which binds its codecs at probe. */
        snprintf(command, sizeof(command), "cpio --quiet -i --to-stdout etc/vmpack-init/modules.audio < %s", path);
        list = run_capture(command);
        assert_string_equal(list, "/lib/modules/6.1.0-test/kernel/sound/soundcore.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/core/snd.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/core/snd-timer.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/core/snd-pcm.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/hda/snd-hda-core.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/pci/hda/snd-hda-codec.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/pci/hda/snd-hda-codec-generic.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/hda/snd-intel-dspcfg.ko\n"
                                  "/lib/modules/6.1.0-test/kernel/sound/pci/hda/snd-hda-intel.ko\n");
        free(list);

        /* Same inputs: the cached file. A changed init: a new file. */
        assert_int_equal(vp_initramfs_get(&k, init_path, &again, &err), 0);
        assert_string_equal(path, again);
        write_text(cache, "fake-init", "#!/bin/false\n");
        assert_int_equal(vp_initramfs_get(&k, init_path, &rebuilt, &err), 0);
        assert_string_not_equal(path, rebuilt);

        unsetenv("VMPACK_CACHE_DIR");
        remove_tree(tree);
        remove_tree(cache);
}

static void get_reports_missing_init(void **state)
{
        _cleanup_free_ char *path = NULL;
        vp_error err = { 0 };
        char *tree = make_tree(modules_dep, modules_builtin);
        vp_kernel k = { .version = (char *) "6.1.0-test", .modules_dir = tree };

        assert_int_equal(vp_initramfs_get(&k, "/nonexistent/vmpack-init", &path, &err), -ENOENT);
        assert_non_null(strstr(err.message, "/nonexistent/vmpack-init"));
        assert_null(path);
        remove_tree(tree);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(resolve_orders_dependencies_first),
                cmocka_unit_test(resolve_skips_builtin_modules),
                cmocka_unit_test(resolve_missing_required_module),
                cmocka_unit_test(resolve_detects_cycle),
                cmocka_unit_test(resolve_rejects_bad_lines),
                cmocka_unit_test(resolve_survives_random_edits),
                cmocka_unit_test(resolve_missing_modules_dep),
                cmocka_unit_test(get_builds_and_caches_archive),
                cmocka_unit_test(get_reports_missing_init),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
