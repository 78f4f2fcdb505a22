/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmrun-internal.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>

static int write_proc_file(const char *path, const char *text)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                return -errno;
        return 0;
}

/*
 * Enter a new user and mount namespace in which this process's uid and gid are
 * VP_RUN_GUEST_UID. Through 9p with security_model=none the guest gets owners as QEMU's
 * stat(2) reports them, and the guest kernel checks mode bits against them. Mapping the
 * host user to the app's uid makes the user's own files appear owned by the app, so a
 * 0600 file is readable and a --rw file writable by it, while QEMU keeps exactly the host
 * user's access rights (no capabilities survive the exec, because the mapped uid is not 0).
 * NOTE: a file owned by another host user appears owned by 65534 (the overflow uid), so
 * the app gets only its "other" permission bits, and --rw on it fails in the guest.
 */
static int enter_namespaces(char *error, size_t error_size)
{
        uid_t uid = geteuid();
        gid_t gid = getegid();
        char map[64];
        int r;

        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
                snprintf(error, error_size, "unshare(CLONE_NEWUSER|CLONE_NEWNS): %s (are user namespaces "
                         "disabled? see /proc/sys/user/max_user_namespaces)", strerror(errno));
                return -errno;
        }

        snprintf(map, sizeof(map), "%d %u 1\n", VP_RUN_GUEST_UID, (unsigned) uid);
        r = write_proc_file("/proc/self/uid_map", map);
        if (r == 0)
                r = write_proc_file("/proc/self/setgroups", "deny");
        if (r == 0) {
                snprintf(map, sizeof(map), "%d %u 1\n", VP_RUN_GUEST_UID, (unsigned) gid);
                r = write_proc_file("/proc/self/gid_map", map);
        }
        if (r < 0) {
                snprintf(error, error_size, "user namespace id map: %s", strerror(-r));
                return r;
        }

        /* Mounts made from here on stay in this namespace and vanish with QEMU. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                snprintf(error, error_size, "make mounts private: %s", strerror(errno));
                return -errno;
        }
        return 0;
}

/*
 * Build the staging tree that 9p exports: a tmpfs with one directory per file, each
 * holding a bind mount of that file alone under its own name, so the guest cannot see the
 * file's siblings. The tmpfs is then made read-only, so the guest cannot add files to it.
 */
static int stage_files(const vp_run_options *o, const char *staging, char *error, size_t error_size)
{
        if (mount("vmpack-files", staging, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") < 0) {
                snprintf(error, error_size, "mount tmpfs on %s: %s", staging, strerror(errno));
                return -errno;
        }

        for (size_t i = 0; o->files && o->files[i]; i++) {
                const char *host = o->files[i];
                const char *slash = strrchr(host, '/');
                const char *base = slash ? slash + 1 : host;
                char dir[4096], target[8192];

                snprintf(dir, sizeof(dir), "%s/%zu", staging, i + 1);
                snprintf(target, sizeof(target), "%s/%s", dir, base);
                if (mkdir(dir, 0755) < 0) {
                        snprintf(error, error_size, "mkdir %s: %s", dir, strerror(errno));
                        return -errno;
                }

                int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0) {
                        snprintf(error, error_size, "create %s: %s", target, strerror(errno));
                        return -errno;
                }
                close(fd);

                if (mount(host, target, NULL, MS_BIND, NULL) < 0) {
                        snprintf(error, error_size, "bind mount %s: %s", host, strerror(errno));
                        return -errno;
                }
                if (!o->files_writable &&
                    mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
                        snprintf(error, error_size, "make %s read-only: %s", host, strerror(errno));
                        return -errno;
                }
        }

        if (mount(NULL, staging, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0) {
                snprintf(error, error_size, "make %s read-only: %s", staging, strerror(errno));
                return -errno;
        }
        return 0;
}

/* Runs in the forked child. Reports a setup failure as text on error_fd; on success the
 * CLOEXEC error_fd closes at exec and the parent reads end-of-file. */
void vp_run_exec_qemu(const run_context *ctx, char **argv, const int *keep_fds, size_t n_keep, int error_fd)
{
        const vp_run_options *o = ctx->options;
        char error[1024] = "";

        /* The port sockets are inherited through exec by number: clear CLOEXEC on them only. */
        for (size_t i = 0; i < n_keep; i++)
                fcntl(keep_fds[i], F_SETFD, 0);
        /* Shared folders too: QEMU opens each through /proc/self/fd/N, a magic link that
         * reopens the same directory even inside the user namespace. They stay the
         * caller's, so the parent never closes them. */
        for (size_t i = 0; i < o->n_folders; i++)
                fcntl(o->folders[i].fd, F_SETFD, 0);

        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);

        /* Ctrl-C on the terminal must reach vmpack only, which requests that the guest stop
         * the app. QEMU in the terminal's process group would quit at once. */
        setpgid(0, 0);

        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
                dup2(null_fd, STDIN_FILENO);
                dup2(null_fd, STDOUT_FILENO);
        }
        /* QEMU's warnings and errors go to a log that a failure message quotes. */
        int log_fd = open(ctx->qemu_log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log_fd >= 0)
                dup2(log_fd, STDERR_FILENO);

        if (enter_namespaces(error, sizeof(error)) < 0 || stage_files(o, ctx->staging_dir, error, sizeof(error)) < 0) {
                (void) !write(error_fd, error, strlen(error));
                _exit(VP_STATUS_VM_FAILURE);
        }

        /* QEMU must not outlive vmpack, even when vmpack is killed with SIGKILL. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                _exit(VP_STATUS_VM_FAILURE);

        /* GTK's accessibility bridge and SDL connect to the session bus. Without
         * DBUS_SESSION_BUS_ADDRESS (an ssh -X session, Xvfb), GLib and libdbus run
         * dbus-launch to find one, and QEMU's seccomp filter (spawn=deny) kills QEMU with
         * SIGSYS for it. libdbus's "disabled:" address fails at once instead. */
        if (!getenv("DBUS_SESSION_BUS_ADDRESS")) {
                setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:", 1);
                setenv("NO_AT_BRIDGE", "1", 1);
        }

        execvp(argv[0], argv);
        snprintf(error, sizeof(error), "exec %s: %s (is QEMU installed? run scripts/setup)", argv[0], strerror(errno));
        (void) !write(error_fd, error, strlen(error));
        _exit(VP_STATUS_VM_FAILURE);
}
