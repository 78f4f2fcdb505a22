/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest's filesystems: the squashfs image under a tmpfs overlay as the new root,
 * 9p shares and the data volume. Layout while still in the initramfs:
 *   /overlay/lower   squashfs root image, read-only
 *   /overlay/rw      tmpfs with upper/ and work/ for the overlay
 *   /newroot         the overlay, which becomes /
 */
#include "init.h"

#include "guest-protocol.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROOT_WAIT_MS 5000
#define NINEP_MSIZE (512 * 1024)

int init_mkdir_p(const char *path, mode_t mode)
{
        char copy[INIT_PATH_MAX];

        if (strlen(path) >= sizeof(copy)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        strcpy(copy, path);
        for (char *p = copy + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;
                *p = '\0';
                if (mkdir(copy, mode) < 0 && errno != EEXIST)
                        return -1;
                *p = saved;
                if (!saved)
                        break;
        }
        struct stat st;
        if (stat(path, &st) < 0)
                return -1;
        if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
        }
        return 0;
}

int init_wait_for_path(const char *path, int timeout_ms)
{
        for (int waited = 0;; waited += 10) {
                if (access(path, F_OK) == 0)
                        return 0;
                if (waited >= timeout_ms)
                        return -1;
                usleep(10 * 1000);
        }
}

static int mount_on(const char *source, const char *target, const char *type, unsigned long flags,
                    const char *options)
{
        if (init_mkdir_p(target, 0755) < 0)
                return -1;
        return mount(source, target, type, flags, options);
}

void init_mount_early(void)
{
        static const struct {
                const char *source, *target, *type;
                unsigned long flags;
                const char *options;
        } early[] = {
                { "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
                { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
                { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755" },
                { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" },
                { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
        };

        for (size_t i = 0; i < ELEMENTSOF(early); i++)
                if (mount_on(early[i].source, early[i].target, early[i].type, early[i].flags, early[i].options) < 0 &&
                    errno != EBUSY)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "mounting %s on %s failed: %m",
                                  early[i].type, early[i].target);

        /* /dev/pts and /dev/shm: many programs expect them. */
        mount_on("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
        mount_on("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

void init_mount_root(const init_config *c)
{
        if (init_wait_for_path(c->root, ROOT_WAIT_MS) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_ROOT,
                          "root device %s did not appear within %d ms; check the root disk on the QEMU command line",
                          c->root, ROOT_WAIT_MS);
        if (mount_on(c->root, "/overlay/lower", "squashfs", MS_RDONLY | MS_NODEV, NULL) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_ROOT, "mounting the root image %s (squashfs) failed: %m",
                          c->root);
        if (mount_on("tmpfs", "/overlay/rw", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
            init_mkdir_p("/overlay/rw/upper", 0755) < 0 || init_mkdir_p("/overlay/rw/work", 0755) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_ROOT, "creating the overlay's tmpfs failed: %m");
        if (mount_on("overlay", "/newroot", "overlay", 0,
                     "lowerdir=/overlay/lower,upperdir=/overlay/rw/upper,workdir=/overlay/rw/work") < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_ROOT, "mounting the overlay over %s failed: %m", c->root);
        init_debug_log("root %s mounted read-only under a tmpfs overlay", c->root);
}

/* Delete the initramfs's files so their memory is freed, as util-linux's switch_root does.
 * Only entries on the rootfs device are removed, so mount points stay. */
static void delete_initramfs(int dir_fd, dev_t rootfs_dev)
{
        DIR *d = fdopendir(dir_fd);

        if (!d) {
                close(dir_fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != rootfs_dev)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                delete_initramfs(sub, rootfs_dev);
                        unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
                } else {
                        unlinkat(dirfd(d), de->d_name, 0);
                }
        }
        closedir(d);
}

void init_switch_root(void)
{
        static const char *const moved[] = { "/proc", "/sys", "/dev", "/run", "/tmp" };
        char target[64];
        struct stat st;

        for (size_t i = 0; i < ELEMENTSOF(moved); i++) {
                snprintf(target, sizeof(target), "/newroot%s", moved[i]);
                if (mount_on(moved[i], target, NULL, MS_MOVE, NULL) < 0)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_ROOT, "moving %s into the new root failed: %m",
                                  moved[i]);
        }

        int root_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (chdir("/newroot") < 0 || mount("/newroot", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
            chdir("/") < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_ROOT, "switching to the new root failed: %m");
        if (root_fd >= 0 && fstat(root_fd, &st) == 0)
                delete_initramfs(root_fd, st.st_dev);
        else if (root_fd >= 0)
                close(root_fd);
        init_debug_log("switched to the new root");
}

/* mkdir -p for a share's mount point. Directories it creates inside the home are given to
 * the app's user, so that a share at ~/Work/a leaves ~/Work writable by the app. */
static int make_share_mount_point(const init_config *c, const char *path)
{
        char copy[INIT_PATH_MAX];
        size_t home_length = strlen(c->home);

        if (strlen(path) >= sizeof(copy)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        strcpy(copy, path);
        for (char *p = copy + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;
                *p = '\0';
                if (mkdir(copy, 0755) == 0) {
                        bool in_home = strncmp(copy, c->home, home_length) == 0 && copy[home_length] == '/';
                        if (in_home && chown(copy, c->uid, c->uid) < 0)
                                return -1;
                } else if (errno != EEXIST)
                        return -1;
                *p = saved;
                if (!saved)
                        break;
        }
        struct stat st;
        if (stat(path, &st) < 0)
                return -1;
        if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
        }
        return 0;
}

void init_mount_shares(const init_config *c)
{
        char options[128];

        snprintf(options, sizeof(options), "trans=virtio,version=9p2000.L,msize=%d", NINEP_MSIZE);
        for (size_t i = 0; i < c->n_shares; i++) {
                const init_share *s = &c->shares[i];
                unsigned long flags = MS_NOSUID | MS_NODEV | (s->writable ? 0 : MS_RDONLY);

                if (make_share_mount_point(c, s->path) < 0 || mount(s->tag, s->path, "9p", flags, options) < 0)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_SHARE, "mounting 9p share '%s' on %s failed: %m",
                                  s->tag, s->path);
                init_debug_log("share %s mounted on %s (%s)", s->tag, s->path, s->writable ? "rw" : "ro");
        }
}

void init_mount_data(const init_config *c)
{
        if (!c->data)
                return;
        if (init_wait_for_path(c->data, ROOT_WAIT_MS) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_DATA, "data volume %s did not appear within %d ms",
                          c->data, ROOT_WAIT_MS);
        if (mount_on(c->data, c->home, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_DATA, "mounting data volume %s (ext4) on %s failed: %m",
                          c->data, c->home);
        init_debug_log("data volume %s mounted on %s", c->data, c->home);
}
