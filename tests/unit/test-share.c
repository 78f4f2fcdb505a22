/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Folder share resolution on a temporary tree under /mnt (a guest path under /tmp would
 * be a guest system directory), with VMPACK_DATA_DIR and VMPACK_RUNTIME_DIR inside it.
 * Where /mnt is not writable the tree is under /tmp and the absolute-path cases skip.
 * The bind mount cases run in a private mount namespace and are skipped without root, as
 * is the resolution as another user.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "share.h"
#include "vmrun.h"

static char base[64];
static char home[4096];
static bool private_mounts;
static bool absolute_paths; /* base is outside the guest's system directories */

static char *base_path(const char *sub)
{
        return vp_strdup_printf("%s/%s", base, sub);
}

static char *home_path(const char *sub)
{
        return vp_strdup_printf("%s/%s", home, sub);
}

static void make_dir(const char *path)
{
        assert_int_equal(vp_mkdir_p(path, 0755, NULL), 0);
}

static void make_home_dir(const char *sub)
{
        _cleanup_free_ char *path = home_path(sub);
        make_dir(path);
}

static void write_home_file(const char *sub, const char *text)
{
        _cleanup_free_ char *path = home_path(sub);
        assert_int_equal(vp_write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
}

static void make_home_symlink(const char *sub, const char *target)
{
        _cleanup_free_ char *path = home_path(sub);
        assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
        snprintf(base, sizeof(base), "/mnt/vmpack-test-share.XXXXXX");
        absolute_paths = mkdtemp(base) != NULL;
        if (!absolute_paths) {
                snprintf(base, sizeof(base), "/tmp/vmpack-test-share.XXXXXX");
                if (!mkdtemp(base))
                        return -1;
        }
        chmod(base, 0755);
        snprintf(home, sizeof(home), "%s/home/alice", base);
        _cleanup_free_ char *data = base_path("data"), *runtime = base_path("runtime");
        if (vp_mkdir_p(home, 0755, NULL) < 0 || vp_mkdir_p(data, 0755, NULL) < 0 ||
            vp_mkdir_p(runtime, 0755, NULL) < 0)
                return -1;
        setenv("VMPACK_DATA_DIR", data, 1);
        setenv("VMPACK_RUNTIME_DIR", runtime, 1);
        /* Bind mounts made by the tests vanish with this namespace. */
        private_mounts = geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
                         mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
        return 0;
}

static int teardown(void **state)
{
        _cleanup_free_ char *bind = home_path("rootbind"), *etc = home_path("etcbind");
        umount2(bind, MNT_DETACH);
        umount2(etc, MNT_DETACH);
        return vp_rm_rf(base, NULL);
}

static int resolve(const char *location, vp_share_mode mode, vp_resolved_share *share, vp_error *err)
{
        vp_share_user user = { .uid = geteuid(), .gid = getegid(), .home = home };

        *share = (vp_resolved_share) { .fd = -EBADF };
        return vp_share_resolve(&user, location, mode, NULL, share, err);
}

/* Expect location to be rejected with code and a message containing text. */
static void expect_rejected(const char *location, vp_share_mode mode, int code, const char *text)
{
        vp_resolved_share share;
        vp_error err = {};

        int r = resolve(location, mode, &share, &err);
        if (r != code)
                fail_msg("'%s': expected %d, got %d (%s)", location, code, r, err.message);
        if (!strstr(err.message, text))
                fail_msg("'%s': message '%s' lacks '%s'", location, err.message, text);
        assert_int_equal(share.fd, -EBADF);
}

static void home_folder_resolves(void **state)
{
        vp_resolved_share share;
        vp_error err = {};
        struct stat st;

        make_home_dir("Work");
        assert_int_equal(resolve("~/Work", VP_SHARE_RW, &share, &err), 0);
        _cleanup_free_ char *expected = home_path("Work");
        assert_string_equal(share.host_path, expected);
        assert_string_equal(share.guest_path, VP_RUN_GUEST_HOME "/Work");
        assert_int_equal(share.mode, VP_SHARE_RW);
        assert_false(share.created);
        assert_int_equal(fstat(share.fd, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_ino, share.ino);
        assert_int_equal(st.st_dev, share.dev);
        assert_true(fcntl(share.fd, F_GETFD) & FD_CLOEXEC);
        vp_resolved_share_clear(&share);
        vp_resolved_share_clear(&share);
        assert_int_equal(share.fd, -EBADF);
}

/* A home reached through a symbolic link, like /home -> /usr/home, is made canonical once. */
static void home_behind_symlink_resolves(void **state)
{
        vp_resolved_share share = { .fd = -EBADF };
        vp_error err = {};

        make_home_dir("Linked");
        _cleanup_free_ char *link = base_path("homes-link"), *target = base_path("home");
        assert_int_equal(symlink(target, link), 0);
        _cleanup_free_ char *linked_home = vp_strdup_printf("%s/alice", link);
        vp_share_user user = { .uid = geteuid(), .gid = getegid(), .home = linked_home };

        if (vp_share_resolve(&user, "~/Linked", VP_SHARE_RO, NULL, &share, &err) != 0)
                fail_msg("%s", err.message);
        _cleanup_free_ char *canonical = home_path("Linked");
        assert_string_equal(share.host_path, canonical);
        assert_string_equal(share.guest_path, VP_RUN_GUEST_HOME "/Linked");
        vp_resolved_share_clear(&share);
}

static void missing_folder_rejected(void **state)
{
        expect_rejected("~/Missing", VP_SHARE_RO, -ENOENT, "folder ~/Missing does not exist (use :create");
        expect_rejected("~/Missing", VP_SHARE_RW, -ENOENT, "use :create to create it");
}

static void create_makes_folder(void **state)
{
        vp_resolved_share share;
        vp_error err = {};
        struct stat st;

        make_home_dir("Existing");
        assert_int_equal(resolve("~/Existing/New/Deeper", VP_SHARE_CREATE, &share, &err), 0);
        assert_true(share.created);
        assert_string_equal(share.guest_path, VP_RUN_GUEST_HOME "/Existing/New/Deeper");
        _cleanup_free_ char *path = home_path("Existing/New/Deeper");
        assert_string_equal(share.host_path, path);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0077, 0);
        vp_resolved_share_clear(&share);

        /* A second :create finds the folder and creates nothing. */
        assert_int_equal(resolve("~/Existing/New/Deeper", VP_SHARE_CREATE, &share, &err), 0);
        assert_false(share.created);
        vp_resolved_share_clear(&share);
}

static void create_rejects_planted_symlink(void **state)
{
        struct stat st;

        /* A dangling link inside the home: mkdirat fails with EEXIST and the link is not
         * followed, so "Target" is never created. */
        make_home_symlink("Planted", "Target");
        expect_rejected("~/Planted/sub", VP_SHARE_CREATE, -ELOOP, "is a symbolic link");
        _cleanup_free_ char *target = home_path("Target");
        assert_int_equal(lstat(target, &st), -1);

        /* A dangling link that leaves the home. */
        _cleanup_free_ char *outside = base_path("outside/missing");
        make_home_symlink("PlantedOut", outside);
        expect_rejected("~/PlantedOut/sub", VP_SHARE_CREATE, -EXDEV, "leads outside the home");
        assert_int_equal(lstat(outside, &st), -1);
}

static void symlink_escape_rejected(void **state)
{
        make_home_symlink("Downloads", "/etc");
        expect_rejected("xdg-download", VP_SHARE_RO, -EXDEV, "leads outside the home");
        expect_rejected("~/Downloads", VP_SHARE_RO, -EXDEV, "leads outside the home");

        /* A link in the middle of the path. */
        make_home_symlink("middle", "/etc");
        expect_rejected("~/middle/ssh", VP_SHARE_RO, -EXDEV, "leads outside the home");

        /* Another user's folder, through a relative and an absolute link. */
        _cleanup_free_ char *bob = base_path("home/bob/Work");
        make_dir(bob);
        make_home_symlink("bob-relative", "../bob/Work");
        make_home_symlink("bob-absolute", bob);
        expect_rejected("~/bob-relative", VP_SHARE_RO, -EXDEV, "leads outside the home");
        expect_rejected("~/bob-absolute", VP_SHARE_RW, -EXDEV, "leads outside the home");
}

static int resolve_within(const char *root, const char *location, vp_share_mode mode, vp_resolved_share *share,
                          vp_error *err)
{
        vp_share_user user = { .uid = geteuid(), .gid = getegid(), .home = home };

        *share = (vp_resolved_share) { .fd = -EBADF };
        return vp_share_resolve_within(&user, root, location, mode, NULL, share, err);
}

/* A link inside the folder that the policy allows may not lead elsewhere in the home. */
static void symlink_out_of_root_rejected(void **state)
{
        vp_resolved_share share;
        vp_error err = {};

        make_home_dir("Work/Project/sub");
        make_home_dir(".ssh");
        make_home_symlink("Work/evil", "../.ssh");
        make_home_symlink("Work/inside", "Project/sub");

        assert_int_equal(resolve_within("~/Work", "~/Work/evil", VP_SHARE_RO, &share, &err), -EXDEV);
        assert_non_null(strstr(err.message, "leads outside ~/Work"));
        assert_int_equal(share.fd, -EBADF);

        assert_int_equal(resolve_within("~/Work", "~/Work/inside", VP_SHARE_RO, &share, &err), 0);
        _cleanup_free_ char *target = home_path("Work/Project/sub");
        assert_string_equal(share.host_path, target);
        assert_string_equal(share.guest_path, VP_RUN_GUEST_HOME "/Work/inside");
        vp_resolved_share_clear(&share);

        assert_int_equal(resolve_within("~/Work", "~/Work", VP_SHARE_RO, &share, &err), 0);
        vp_resolved_share_clear(&share);

        assert_int_equal(resolve_within("~/Work", "~/Workshop", VP_SHARE_RO, &share, &err), -EINVAL);
        assert_non_null(strstr(err.message, "is not inside"));
        assert_int_equal(resolve_within("xdg-download", "~/Downloads/x", VP_SHARE_RO, &share, &err), -EINVAL);

        /* :create makes the allowed folder and the folder below it. */
        assert_int_equal(resolve_within("~/New", "~/New/Deeper", VP_SHARE_CREATE, &share, &err), 0);
        assert_true(share.created);
        vp_resolved_share_clear(&share);
}

static void symlink_inside_home_allowed(void **state)
{
        vp_resolved_share share;
        vp_error err = {};

        make_home_dir("data/Pictures");
        make_home_symlink("Pics", "data/Pictures");
        assert_int_equal(resolve("~/Pics", VP_SHARE_RO, &share, &err), 0);
        _cleanup_free_ char *target = home_path("data/Pictures");
        assert_string_equal(share.host_path, target);
        assert_string_equal(share.guest_path, VP_RUN_GUEST_HOME "/Pics");
        vp_resolved_share_clear(&share);
}

static void dot_components_rejected(void **state)
{
        make_home_dir("a/b");
        expect_rejected("~/../..", VP_SHARE_RO, -EINVAL, "'..' are not allowed");
        expect_rejected("~/a/../b", VP_SHARE_RO, -EINVAL, "'..' are not allowed");
        expect_rejected("~/./a", VP_SHARE_RO, -EINVAL, "'..' are not allowed");
        expect_rejected("/mnt/../etc", VP_SHARE_RO, -EINVAL, "'..' are not allowed");
        expect_rejected("~//a", VP_SHARE_RO, -EINVAL, "empty path component");
        expect_rejected("~/a/", VP_SHARE_RO, -EINVAL, "empty path component");
        expect_rejected("", VP_SHARE_RO, -EINVAL, "empty");
        expect_rejected("Work", VP_SHARE_RO, -EINVAL, "valid: xdg-desktop");
        expect_rejected("xdg-unknown", VP_SHARE_RO, -EINVAL, "valid: xdg-desktop");
}

static void root_and_home_rejected(void **state)
{
        expect_rejected("/", VP_SHARE_RO, -EPERM, "root directory");
        expect_rejected("~", VP_SHARE_RO, -EINVAL, "whole home");
        expect_rejected("~/", VP_SHARE_RO, -EINVAL, "whole home");
        expect_rejected("home", VP_SHARE_RW, -EINVAL, "whole home");
        /* The home through its absolute path, and a parent of it. */
        if (!absolute_paths)
                return;
        expect_rejected(home, VP_SHARE_RO, -EPERM, "is");
        _cleanup_free_ char *homes = base_path("home");
        expect_rejected(homes, VP_SHARE_RO, -EPERM, "contains");
}

static void guest_system_paths_rejected(void **state)
{
        expect_rejected("/etc", VP_SHARE_RO, -EINVAL, "system directory in the VM");
        expect_rejected("/usr/share", VP_SHARE_RO, -EINVAL, "/usr is a system directory");
        expect_rejected("/proc/self", VP_SHARE_RO, -EINVAL, "/proc is a system directory");
        expect_rejected("/var/tmp/x", VP_SHARE_RW, -EINVAL, "/var is a system directory");
        expect_rejected("/tmp", VP_SHARE_RW, -EINVAL, "/tmp is a system directory");
        expect_rejected("/home", VP_SHARE_RO, -EINVAL, "hide the app's home");
        expect_rejected(VP_RUN_GUEST_HOME, VP_SHARE_RO, -EINVAL, "hide the app's home");
        /* Nothing is created for a rejected path. */
        struct stat st;
        expect_rejected("/usr/vmpack-test-share-never", VP_SHARE_CREATE, -EINVAL, "system directory");
        assert_int_equal(lstat("/usr/vmpack-test-share-never", &st), -1);
}

static void absolute_folder_resolves(void **state)
{
        if (!absolute_paths)
                skip();
        vp_resolved_share share;
        vp_error err = {};

        _cleanup_free_ char *dir = base_path("srv/data"), *link = base_path("srv/link");
        make_dir(dir);
        assert_int_equal(symlink("data", link), 0);
        assert_int_equal(resolve(dir, VP_SHARE_RO, &share, &err), 0);
        assert_string_equal(share.host_path, dir);
        assert_string_equal(share.guest_path, dir);
        vp_resolved_share_clear(&share);

        /* Any symbolic link in an absolute path is rejected, even a harmless one. */
        expect_rejected(link, VP_SHARE_RO, -ELOOP, "contains a symbolic link");

        _cleanup_free_ char *created = base_path("srv/new/folder");
        assert_int_equal(resolve(created, VP_SHARE_CREATE, &share, &err), 0);
        assert_true(share.created);
        assert_string_equal(share.host_path, created);
        vp_resolved_share_clear(&share);
}

static void store_and_runtime_rejected(void **state)
{
        if (!absolute_paths)
                skip();
        _cleanup_free_ char *data = base_path("data"), *images = base_path("data/images"),
                           *instance = base_path("data/instances/app-1"), *runtime = base_path("runtime");
        make_dir(images);
        make_dir(instance);

        expect_rejected(data, VP_SHARE_RO, -EPERM, "is");
        expect_rejected(images, VP_SHARE_RO, -EPERM, "is inside");
        expect_rejected(instance, VP_SHARE_RW, -EPERM, "is inside");
        expect_rejected(runtime, VP_SHARE_RW, -EPERM, "is");
        /* A parent of the data directory exposes it too. */
        expect_rejected(base, VP_SHARE_RO, -EPERM, "contains");

        /* :create inside a forbidden directory creates nothing. */
        struct stat st;
        _cleanup_free_ char *inside = base_path("data/images/new");
        expect_rejected(inside, VP_SHARE_CREATE, -EPERM, "is inside");
        assert_int_equal(lstat(inside, &st), -1);
}

static void data_dir_in_home_rejected(void **state)
{
        _cleanup_free_ char *data = home_path(".local/share/vmpack");
        _cleanup_free_ char *saved = strdup(getenv("VMPACK_DATA_DIR"));
        make_dir(data);
        setenv("VMPACK_DATA_DIR", data, 1);

        expect_rejected("~/.local", VP_SHARE_RW, -EPERM, "contains");
        expect_rejected("~/.local/share/vmpack/images", VP_SHARE_CREATE, -EPERM, "is inside");

        setenv("VMPACK_DATA_DIR", saved, 1);
}

static void caller_forbidden_rejected(void **state)
{
        vp_share_user user = { .uid = geteuid(), .gid = getegid(), .home = home };
        vp_resolved_share share = { .fd = -EBADF };
        vp_error err = {};

        make_home_dir("Secret/inner");
        _cleanup_free_ char *secret = home_path("Secret");
        const char *const forbidden[] = { secret, NULL };
        assert_int_equal(vp_share_resolve(&user, "~/Secret/inner", VP_SHARE_RO, forbidden, &share, &err), -EPERM);
        assert_non_null(strstr(err.message, "is inside"));
        assert_int_equal(vp_share_resolve(&user, "~/Secret", VP_SHARE_RO, forbidden, &share, &err), -EPERM);
        assert_int_equal(share.fd, -EBADF);
}

static void bind_mounts_rejected(void **state)
{
        if (!private_mounts)
                skip();

        make_home_dir("rootbind");
        make_home_dir("etcbind");
        _cleanup_free_ char *rootbind = home_path("rootbind"), *etcbind = home_path("etcbind");
        assert_int_equal(mount("/", rootbind, NULL, MS_BIND, NULL), 0);
        assert_int_equal(mount("/etc", etcbind, NULL, MS_BIND, NULL), 0);

        expect_rejected("~/rootbind", VP_SHARE_RO, -EPERM, "is /");
        expect_rejected("~/etcbind", VP_SHARE_RO, -EPERM, "is /etc");
        expect_rejected("~/etcbind/apt", VP_SHARE_RO, -EPERM, "is inside /etc");
}

static void non_directory_rejected(void **state)
{
        write_home_file("notes.txt", "text\n");
        expect_rejected("~/notes.txt", VP_SHARE_RO, -ENOTDIR, "is not a directory");
        expect_rejected("~/notes.txt/sub", VP_SHARE_CREATE, -ENOTDIR, "not a directory");
}

static void unusual_names_resolve(void **state)
{
        static const char *const names[] = { "My Files", "Über ñ 写真", "line\nbreak", "colon:in:name", "tab\there" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                vp_resolved_share share;
                vp_error err = {};
                _cleanup_free_ char *location = vp_strdup_printf("~/%s", names[i]);
                _cleanup_free_ char *guest = vp_strdup_printf(VP_RUN_GUEST_HOME "/%s", names[i]);
                _cleanup_free_ char *host = home_path(names[i]);

                if (resolve(location, VP_SHARE_CREATE, &share, &err) != 0)
                        fail_msg("%s", err.message);
                assert_string_equal(share.guest_path, guest);
                assert_string_equal(share.host_path, host);
                vp_resolved_share_clear(&share);
                assert_int_equal(resolve(location, VP_SHARE_RO, &share, &err), 0);
                vp_resolved_share_clear(&share);
        }
}

static void write_user_dirs(const char *text)
{
        make_home_dir(".config");
        write_home_file(".config/user-dirs.dirs", text);
}

static void expect_xdg(const char *name, const char *expected)
{
        _cleanup_free_ char *dir = NULL;
        vp_error err = {};

        if (vp_share_xdg_dir(home, name, &dir, &err) != 0)
                fail_msg("%s: %s", name, err.message);
        assert_string_equal(dir, expected);
}

static void expect_xdg_invalid(const char *name, const char *text)
{
        _cleanup_free_ char *dir = NULL;
        vp_error err = {};

        assert_int_equal(vp_share_xdg_dir(home, name, &dir, &err), -EINVAL);
        if (!strstr(err.message, text))
                fail_msg("%s: message '%s' lacks '%s'", name, err.message, text);
        assert_null(dir);
}

static void user_dirs_parsed(void **state)
{
        _cleanup_free_ char *path = home_path(".config/user-dirs.dirs");
        unlink(path);

        /* Missing file: the English defaults. */
        expect_xdg("xdg-download", "Downloads");
        expect_xdg("xdg-documents", "Documents");
        expect_xdg("xdg-desktop", "Desktop");
        expect_xdg("xdg-music", "Music");
        expect_xdg("xdg-pictures", "Pictures");
        expect_xdg("xdg-videos", "Videos");
        expect_xdg_invalid("xdg-templates", "not an xdg-* folder name");

        _cleanup_free_ char *text = vp_strdup_printf(
                "# This file is written by xdg-user-dirs-update\n"
                "XDG_DESKTOP_DIR=\"$HOME/Bureau\"\n"
                "  XDG_DOWNLOAD_DIR=\"$HOME/Téléchargements\"\n"
                "XDG_MUSIC_DIR=\"$HOME/My \\\"Music\\\"\"\n"
                "XDG_PICTURES_DIR=\"%s/Images\"\n"
                "this is not an assignment\n"
                "XDG_VIDEOS_DIR=\"$HOME/Old\"\n"
                "XDG_VIDEOS_DIR=\"$HOME/Films/Récents\"\n",
                home);
        write_user_dirs(text);
        expect_xdg("xdg-desktop", "Bureau");
        expect_xdg("xdg-download", "Téléchargements");
        expect_xdg("xdg-music", "My \"Music\"");
        expect_xdg("xdg-pictures", "Images");
        expect_xdg("xdg-videos", "Films/Récents");
        expect_xdg("xdg-documents", "Documents");

        /* A FIFO in its place is rejected without blocking. */
        unlink(path);
        assert_int_equal(mkfifo(path, 0644), 0);
        expect_xdg_invalid("xdg-download", "not a regular file");
        unlink(path);

        write_user_dirs("XDG_DOWNLOAD_DIR=$HOME/Downloads\n");
        expect_xdg_invalid("xdg-download", "not double-quoted");
        write_user_dirs("XDG_DOWNLOAD_DIR=\"$HOME/Downloads\n");
        expect_xdg_invalid("xdg-download", "no closing quote");
        write_user_dirs("XDG_DOWNLOAD_DIR=\"$HOME/Downloads\" trailing\n");
        expect_xdg_invalid("xdg-download", "text after it");
        write_user_dirs("XDG_DOWNLOAD_DIR=\"/etc\"\n");
        expect_xdg_invalid("xdg-download", "outside the home");
        write_user_dirs("XDG_DOWNLOAD_DIR=\"$HOMEX/Downloads\"\n");
        expect_xdg_invalid("xdg-download", "outside the home");
        write_user_dirs("XDG_DOWNLOAD_DIR=\"$HOME\"\n");
        expect_xdg_invalid("xdg-download", "disabled");
        write_user_dirs("XDG_DOWNLOAD_DIR=\"$HOME/../bob\"\n");
        expect_xdg_invalid("xdg-download", "'..' are not allowed");
        write_user_dirs("XDG_DOWNLOAD_DIR=\"`rm -rf /`\"\n");
        expect_xdg_invalid("xdg-download", "outside the home");

        /* The resolved share uses the folder from the file, at its own guest path. */
        vp_resolved_share share;
        vp_error err = {};
        write_user_dirs("XDG_DOCUMENTS_DIR=\"$HOME/Dokumente\"\n");
        make_home_dir("Dokumente");
        assert_int_equal(resolve("xdg-documents", VP_SHARE_RO, &share, &err), 0);
        assert_string_equal(share.guest_path, VP_RUN_GUEST_HOME "/Dokumente");
        vp_resolved_share_clear(&share);
        unlink(path);
}

static void guest_path_computed(void **state)
{
        _cleanup_free_ char *download = NULL, *work = NULL, *srv = NULL, *usr = NULL;
        vp_error err = {};

        assert_int_equal(vp_share_guest_path("xdg-download", &download, &err), 0);
        assert_string_equal(download, VP_RUN_GUEST_HOME "/Downloads");
        assert_int_equal(vp_share_guest_path("~/Work/a b", &work, &err), 0);
        assert_string_equal(work, VP_RUN_GUEST_HOME "/Work/a b");
        assert_int_equal(vp_share_guest_path("/srv/x", &srv, &err), 0);
        assert_string_equal(srv, "/srv/x");
        assert_int_equal(vp_share_guest_path("/usr/lib", &usr, &err), -EINVAL);
        assert_null(usr);
}

static void resolve_as_other_user(void **state)
{
        if (geteuid() != 0)
                skip();

        /* The user "nobody" (uid 65534), with a home in the test tree. */
        vp_share_user user = { .uid = 65534, .gid = 65534 };
        _cleanup_free_ char *nobody_home = base_path("home/nobody"), *work = base_path("home/nobody/Work"),
                           *locked = base_path("home/nobody/Locked");
        make_dir(work);
        make_dir(locked);
        assert_int_equal(chown(nobody_home, 65534, 65534), 0);
        assert_int_equal(chmod(nobody_home, 0700), 0);
        assert_int_equal(chown(work, 65534, 65534), 0);
        assert_int_equal(chmod(locked, 0700), 0); /* owned by root, so uid 65534 cannot enter it */
        user.home = nobody_home;

        vp_resolved_share share = { .fd = -EBADF };
        vp_error err = {};
        if (vp_share_resolve_as(&user, "~/Work", VP_SHARE_RW, NULL, &share, &err) != 0)
                fail_msg("%s", err.message);
        assert_string_equal(share.host_path, work);
        assert_string_equal(share.guest_path, VP_RUN_GUEST_HOME "/Work");
        assert_true(share.fd >= 0);
        vp_resolved_share_clear(&share);

        /* :create makes the folder as the user. */
        struct stat st;
        _cleanup_free_ char *made = base_path("home/nobody/Work/made");
        assert_int_equal(vp_share_resolve_as(&user, "~/Work/made", VP_SHARE_CREATE, NULL, &share, &err), 0);
        assert_true(share.created);
        assert_int_equal(stat(made, &st), 0);
        assert_int_equal(st.st_uid, 65534);
        vp_resolved_share_clear(&share);

        /* The user's rights apply, not root's. */
        assert_int_equal(vp_share_resolve_as(&user, "~/Locked/sub", VP_SHARE_CREATE, NULL, &share, &err), -EACCES);
        assert_int_equal(share.fd, -EBADF);
        _cleanup_free_ char *sub = base_path("home/nobody/Locked/sub");
        assert_int_equal(lstat(sub, &st), -1);

        /* The same checks as a direct resolution, with the child's message. */
        assert_int_equal(vp_share_resolve_as(&user, "~/../alice", VP_SHARE_RO, NULL, &share, &err), -EINVAL);
        assert_non_null(strstr(err.message, "'..' are not allowed"));
        assert_int_equal(vp_share_resolve_as(&user, "~/Missing", VP_SHARE_RO, NULL, &share, &err), -ENOENT);
        assert_non_null(strstr(err.message, "does not exist"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(home_folder_resolves),
                cmocka_unit_test(home_behind_symlink_resolves),
                cmocka_unit_test(missing_folder_rejected),
                cmocka_unit_test(create_makes_folder),
                cmocka_unit_test(create_rejects_planted_symlink),
                cmocka_unit_test(symlink_escape_rejected),
                cmocka_unit_test(symlink_out_of_root_rejected),
                cmocka_unit_test(symlink_inside_home_allowed),
                cmocka_unit_test(dot_components_rejected),
                cmocka_unit_test(root_and_home_rejected),
                cmocka_unit_test(guest_system_paths_rejected),
                cmocka_unit_test(absolute_folder_resolves),
                cmocka_unit_test(store_and_runtime_rejected),
                cmocka_unit_test(data_dir_in_home_rejected),
                cmocka_unit_test(caller_forbidden_rejected),
                cmocka_unit_test(bind_mounts_rejected),
                cmocka_unit_test(non_directory_rejected),
                cmocka_unit_test(unusual_names_resolve),
                cmocka_unit_test(user_dirs_parsed),
                cmocka_unit_test(guest_path_computed),
                cmocka_unit_test(resolve_as_other_user),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
