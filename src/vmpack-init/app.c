/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The app: its user, its start without privileges, and PID 1's loop while it runs. */
#include "init.h"

#include "guest-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define APP_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Whether a colon-separated file such as /etc/passwd has a line whose field (0-based)
 * equals value. */
static bool colon_file_has(const char *path, unsigned field, const char *value)
{
        char line[4096];
        bool found = false;
        FILE *f = fopen(path, "re");

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                char *p = line;
                for (unsigned i = 0; i < field && p; i++) {
                        p = strchr(p, ':');
                        if (p)
                                p++;
                }
                if (!p)
                        continue;
                size_t n = strcspn(p, ":\n");
                found = n == strlen(value) && strncmp(p, value, n) == 0;
        }
        fclose(f);
        return found;
}

static void append_line(const char *path, const char *line)
{
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        size_t n = strlen(line);

        if (fd < 0 || write(fd, line, n) != (ssize_t) n)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "appending to %s failed: %m", path);
        close(fd);
}

/* Give the image a user and group with the configured uid (gid the same number) unless it
 * has them, then create the home and hand it to the user. */
void init_setup_user(const init_config *c)
{
        char id[16], line[INIT_PATH_MAX + 128];

        snprintf(id, sizeof(id), "%u", (unsigned) c->uid);
        /* An image exported from an empty container may have no /etc at all. */
        if (init_mkdir_p("/etc", 0755) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "creating /etc failed: %m");

        if (!colon_file_has("/etc/passwd", 2, id)) {
                if (colon_file_has("/etc/passwd", 0, c->user))
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER,
                                  "the image has a user '%s' with a uid other than %s; choose another user name",
                                  c->user, id);
                const char *shell = access("/bin/sh", X_OK) == 0 ? "/bin/sh" : "/usr/sbin/nologin";
                snprintf(line, sizeof(line), "%s:x:%s:%s::%s:%s\n", c->user, id, id, c->home, shell);
                append_line("/etc/passwd", line);
        }
        if (!colon_file_has("/etc/group", 2, id)) {
                if (colon_file_has("/etc/group", 0, c->user))
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER,
                                  "the image has a group '%s' with a gid other than %s; choose another user name",
                                  c->user, id);
                snprintf(line, sizeof(line), "%s:x:%s:\n", c->user, id);
                append_line("/etc/group", line);
        }

        if (init_mkdir_p(c->home, 0755) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "creating home %s failed: %m", c->home);
        if (chown(c->home, c->uid, c->uid) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "chown %s to %s failed: %m", c->home, id);
        init_debug_log("user %s (uid %s), home %s", c->user, id, c->home);
}

/* Failure report from the child to init, through a pipe closed by a successful exec. */
typedef enum child_stage {
        CHILD_STAGE_EXEC,        /* execve failed */
        CHILD_STAGE_SETUP,       /* a step before execve failed */
        CHILD_STAGE_INTERPRETER, /* the file exists but its interpreter or loader does not */
} child_stage;

typedef struct child_failure {
        child_stage stage;
        int error;
        char context[200]; /* the step that failed, or the program */
} child_failure;

_Noreturn static void child_fail(int report_fd, child_stage stage, int error, const char *context)
{
        child_failure f = { .stage = stage, .error = error };

        snprintf(f.context, sizeof(f.context), "%s", context);
        (void) !write(report_fd, &f, sizeof(f));
        _exit(VP_STATUS_VM_FAILURE);
}

static void drop_privileges(const init_config *c, int report_fd)
{
        gid_t gid = c->uid;
        int last_cap = 63;
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

        if (f) {
                if (fscanf(f, "%d", &last_cap) != 1)
                        last_cap = 63;
                fclose(f);
        }
        /* The bounding set needs CAP_SETPCAP to shrink, so it goes before setuid. */
        for (int cap = 0; cap <= last_cap; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        child_fail(report_fd, CHILD_STAGE_SETUP, errno, "dropping the capability bounding set");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                child_fail(report_fd, CHILD_STAGE_SETUP, errno, "clearing ambient capabilities");

        if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0)
                child_fail(report_fd, CHILD_STAGE_SETUP, errno, "setting the group");
        if (setresuid(c->uid, c->uid, c->uid) < 0)
                child_fail(report_fd, CHILD_STAGE_SETUP, errno, "setting the user");

        /* setresuid from root to a non-zero uid already clears the permitted and effective
         * sets. Clearing all three sets again also covers a process with SECBIT_KEEP_CAPS. */
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = { 0 };
        if (syscall(SYS_capset, &header, data) < 0)
                child_fail(report_fd, CHILD_STAGE_SETUP, errno, "clearing capabilities");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(report_fd, CHILD_STAGE_SETUP, errno, "setting no_new_privs");
}

static char **build_environment(const init_config *c)
{
        size_t n = 0;
        char **env = calloc(c->n_env + 6 + ELEMENTSOF(init_display_environment), sizeof(char *));

        if (!env)
                return NULL;
        env[n++] = (char *) "PATH=" APP_PATH;
        if (asprintf(&env[n++], "HOME=%s", c->home) < 0)
                return NULL;
        env[n++] = (char *) "LANG=C.UTF-8";
        if (c->display) {
                for (size_t i = 0; i < ELEMENTSOF(init_display_environment); i++) {
                        const char *e = init_display_environment[i];
                        /* With virgl, wlroots draws through Mesa's virgl driver. */
                        if (c->virgl && strncmp(e, "WLR_RENDERER=", strlen("WLR_RENDERER=")) == 0)
                                e = "WLR_RENDERER=gles2";
                        env[n++] = (char *) e;
                }
                if (asprintf(&env[n++], "XDG_RUNTIME_DIR=/run/user/%u", (unsigned) c->uid) < 0)
                        return NULL;
                if (c->compositor_socket && asprintf(&env[n++], "SWAYSOCK=%s", c->compositor_socket) < 0)
                        return NULL;
        }

        /* A declared variable replaces a default of the same name. */
        for (size_t i = 0; i < c->n_env; i++) {
                size_t name_len = strcspn(c->env[i], "=") + 1;
                size_t j = 0;
                while (j < n && strncmp(env[j], c->env[i], name_len) != 0)
                        j++;
                env[j] = c->env[i];
                if (j == n)
                        n++;
        }
        env[n] = NULL;
        return env;
}

static const char *env_get(char **env, const char *name)
{
        size_t len = strlen(name);

        for (char **e = env; *e; e++)
                if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
                        return *e + len + 1;
        return NULL;
}

/* Call execve(2) and copy path to *found when the file exists, so that a missing
 * interpreter or dynamic loader (also ENOENT) is reported apart from a missing program. */
static int exec_file(const char *path, char **argv, char **env, char *found, size_t found_size)
{
        execve(path, argv, env);
        int error = errno;
        if (error == ENOENT && access(path, F_OK) == 0)
                snprintf(found, found_size, "%s", path);
        return error;
}

/* execvp(3) with the app's PATH rather than init's, and without the shell fallback for
 * ENOEXEC. Returns the errno that decides 126 or 127. */
static int exec_in_path(char **argv, char **env, char *found, size_t found_size)
{
        const char *program = argv[0];

        if (strchr(program, '/'))
                return exec_file(program, argv, env, found, found_size);

        const char *path = env_get(env, "PATH");
        bool saw_eacces = false;
        int other = 0;
        for (const char *p = path ? path : APP_PATH;; p++) {
                size_t n = strcspn(p, ":");
                char full[INIT_PATH_MAX];
                if (snprintf(full, sizeof(full), "%.*s%s%s", (int) n, p, n ? "/" : "", program) < (int) sizeof(full)) {
                        int error = exec_file(full, argv, env, found, found_size);
                        if (error == EACCES)
                                saw_eacces = true;
                        else if (error != ENOENT && error != ENOTDIR)
                                other = error;
                }
                p += n;
                if (!*p)
                        break;
        }
        if (other)
                return other;
        return saw_eacces ? EACCES : ENOENT;
}

_Noreturn static void start_child(const init_config *c, int report_fd, int stdout_fd, int stderr_fd)
{
        int stdin_fd = init_port_fds.stdin_port >= 0 ? init_port_fds.stdin_port
                                                      : open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (setsid() < 0)
                child_fail(report_fd, CHILD_STAGE_SETUP, errno, "setsid");
        if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0)
                child_fail(report_fd, CHILD_STAGE_SETUP, errno, "connecting stdin, stdout and stderr");

        /* PID 1 blocks these to read them through a signalfd, but the app starts with defaults. */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);

        drop_privileges(c, report_fd);
        if (chdir(c->cwd) < 0) {
                char context[INIT_PATH_MAX + 32];
                int error = errno;
                snprintf(context, sizeof(context), "working directory %s", c->cwd);
                child_fail(report_fd, CHILD_STAGE_SETUP, error, context);
        }

        char **env = build_environment(c);
        if (!env)
                child_fail(report_fd, CHILD_STAGE_SETUP, ENOMEM, "building the environment");
        char found[INIT_PATH_MAX] = "";
        int error = exec_in_path(c->argv, env, found, sizeof(found));
        if (found[0])
                child_fail(report_fd, CHILD_STAGE_INTERPRETER, ENOENT, found);
        child_fail(report_fd, CHILD_STAGE_EXEC, error, c->argv[0]);
}

/* The PATH the app was looked up in: a declared PATH, else the default. */
static const char *app_search_path(const init_config *c)
{
        for (size_t i = 0; i < c->n_env; i++)
                if (strncmp(c->env[i], "PATH=", 5) == 0)
                        return c->env[i] + 5;
        return APP_PATH;
}

/* Wait for the exec: the report pipe closes on success and carries a child_failure on
 * failure, which init reports as the shell would (127 not found, 126 not executable). */
static void check_exec(const init_config *c, int report_fd)
{
        child_failure f;
        ssize_t n;

        do
                n = read(report_fd, &f, sizeof(f));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof(f))
                return;

        f.context[sizeof(f.context) - 1] = '\0';
        if (f.stage == CHILD_STAGE_SETUP)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "starting %s as uid %u failed: %s: %s", c->argv[0],
                          (unsigned) c->uid, f.context, strerror(f.error));
        if (f.stage == CHILD_STAGE_INTERPRETER)
                init_fail(VP_STATUS_NOT_EXECUTABLE, VP_REASON_NOT_EXECUTABLE,
                          "app %s: %s exists, but its interpreter (#! line) or dynamic loader is missing from the "
                          "image",
                          c->argv[0], f.context);
        if (f.error == ENOENT || f.error == ENOTDIR)
                init_fail(VP_STATUS_NOT_FOUND, VP_REASON_NOT_FOUND, "app %s: not found in the image (PATH %s)",
                          c->argv[0], app_search_path(c));
        init_fail(VP_STATUS_NOT_EXECUTABLE, VP_REASON_NOT_EXECUTABLE, "app %s: cannot be executed: %s", c->argv[0],
                  strerror(f.error));
}

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy what is in the pipe to the port. Returns -1 at end-of-file or on error. */
static int copy_output(int *pipe_fd, int port_fd, uint64_t *count)
{
        char buf[65536];
        ssize_t n = read(*pipe_fd, buf, sizeof(buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                close(*pipe_fd);
                *pipe_fd = -1;
                return -1;
        }

        /* NOTE: the port is written in blocking mode, so a host that stops reading one
         * port also stalls the other port and the agent requests. */
        int target = port_fd >= 0 ? port_fd : STDERR_FILENO;
        for (ssize_t done = 0; done < n;) {
                ssize_t w = write(target, buf + done, (size_t) (n - done));
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        init_log("writing app output failed: %m; dropping %zd bytes", n - done);
                        break;
                }
                done += w;
                if (port_fd >= 0)
                        *count += (uint64_t) w;
        }
        return 0;
}

/* Send SIGTERM to the app's process group. Under a compositor, only the group of the
 * status wrapper and the app gets it (*app_group), so the compositor exits after the app as
 * it does when the app exits by itself. If that group is not found, the compositor's whole
 * group gets it. */
static void terminate_app(const init_config *c, pid_t pid, pid_t *app_group, long *kill_deadline,
                          const char *reason)
{
        if (*kill_deadline)
                return;
        *app_group = c->display ? init_display_app_group(pid) : 0;
        if (*app_group > 0) {
                init_debug_log("%s: sending SIGTERM to the app's process group %d", reason,
                               (int) *app_group);
                kill(-*app_group, SIGTERM);
        } else {
                init_debug_log("%s: sending SIGTERM to the app", reason);
                kill(-pid, SIGTERM);
                kill(pid, SIGTERM);
        }
        *kill_deadline = now_ms() + VP_TERMINATE_GRACE_S * 1000L;
}

/* Reap every exited child. Returns the app's status once it has exited, -1 before. */
static int reap(pid_t app, int *app_status)
{
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                if (pid == app)
                        *app_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return *app_status;
}

int init_run_app(const init_config *c, uint64_t *stdout_bytes, uint64_t *stderr_bytes)
{
        int report[2], out[2], errp[2];
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

        if (sig_fd < 0 || pipe2(report, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "creating pipes for the app failed: %m");

        pid_t pid = fork();
        if (pid < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "fork failed: %m");
        if (pid == 0) {
                close(report[0]);
                start_child(c, report[1], out[1], errp[1]);
        }
        close(report[1]);
        close(out[1]);
        close(errp[1]);
        check_exec(c, report[0]);
        close(report[0]);
        init_agent_send("{\"event\":\"ready\"}");
        init_debug_log("app %s started as pid %d", c->argv[0], (int) pid);

        fcntl(out[0], F_SETFL, O_NONBLOCK);
        fcntl(errp[0], F_SETFL, O_NONBLOCK);
        int out_fd = out[0], err_fd = errp[0];
        int app_status = -1;
        long kill_deadline = 0, agent_retry = 0;
        pid_t app_group = 0;
        bool killed = false;

        while (reap(pid, &app_status) < 0) {
                struct pollfd pfds[6] = {
                        { .fd = sig_fd, .events = POLLIN },
                        { .fd = out_fd, .events = POLLIN },
                        { .fd = err_fd, .events = POLLIN },
                        { .fd = agent_retry ? -1 : init_port_fds.agent, .events = POLLIN },
                        { .fd = c->compositor_socket ? init_resize_fd() : -1, .events = POLLIN },
                        { .fd = c->compositor_socket ? init_focus_fd() : -1, .events = POLLIN },
                };
                long now = now_ms();
                int timeout = 200;
                if (kill_deadline && !killed && now >= kill_deadline) {
                        init_log("app did not exit %d s after SIGTERM, sending SIGKILL", VP_TERMINATE_GRACE_S);
                        kill(-pid, SIGKILL);
                        kill(pid, SIGKILL);
                        if (app_group > 0)
                                kill(-app_group, SIGKILL);
                        killed = true;
                }
                if (agent_retry && now >= agent_retry)
                        agent_retry = 0;

                if (poll(pfds, ELEMENTSOF(pfds), timeout) < 0 && errno != EINTR)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "poll failed: %m");

                if (pfds[0].revents) {
                        struct signalfd_siginfo si;
                        while (read(sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                                        terminate_app(c, pid, &app_group, &kill_deadline,
                                                      strsignal((int) si.ssi_signo));
                }
                if (pfds[1].revents)
                        copy_output(&out_fd, init_port_fds.stdout_port, stdout_bytes);
                if (pfds[2].revents)
                        copy_output(&err_fd, init_port_fds.stderr_port, stderr_bytes);
                if (pfds[3].revents) {
                        bool disconnected;
                        init_request r;
                        while ((r = init_agent_read(&disconnected)) != INIT_REQUEST_NONE) {
                                if (r == INIT_REQUEST_TERMINATE)
                                        terminate_app(c, pid, &app_group, &kill_deadline,
                                                      "terminate requested by the host");
                                if (r == INIT_REQUEST_POWEROFF) {
                                        init_log("poweroff requested by the host while the app runs");
                                        init_poweroff();
                                }
                        }
                        /* No host on the port (after a restore, say): look again later. */
                        if (disconnected)
                                agent_retry = now_ms() + 200;
                }
                if (pfds[4].revents)
                        init_resize_read();
                if (pfds[5].revents)
                        init_focus_read();
                if (c->compositor_socket) {
                        init_resize_tick();
                        init_focus_tick();
                }
        }

        /* The app has exited: copy what it left in the pipes. A process it left behind may
         * hold the pipes open, so stop at the first empty read rather than at end-of-file. */
        while (out_fd >= 0 && copy_output(&out_fd, init_port_fds.stdout_port, stdout_bytes) == 0) {
                struct pollfd p = { .fd = out_fd, .events = POLLIN };
                if (poll(&p, 1, 0) <= 0)
                        break;
        }
        while (err_fd >= 0 && copy_output(&err_fd, init_port_fds.stderr_port, stderr_bytes) == 0) {
                struct pollfd p = { .fd = err_fd, .events = POLLIN };
                if (poll(&p, 1, 0) <= 0)
                        break;
        }
        init_debug_log("app exited with status %d", app_status);
        return app_status;
}
