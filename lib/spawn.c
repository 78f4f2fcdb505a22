/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "subprocess.h"

#include <spawn.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

static volatile sig_atomic_t cancel_signal;

void vp_spawn_cancel(int sig)
{
        cancel_signal = sig;
}

bool vp_spawn_cancelled(void)
{
        return cancel_signal != 0;
}

void vp_spawn_result_describe(const vp_spawn_result *result, char *buf, size_t size)
{
        if (result->exited)
                snprintf(buf, size, "exit status %d", result->exit_status);
        else
                snprintf(buf, size, "killed by signal %d (%s)", result->signal, strsignal(result->signal));
}

/* Our environment with extra "KEY=VALUE" entries added, replacing entries of the same key. */
static char **merge_environment(char *const *extra)
{
        _cleanup_strv_free_ char **env = strv_new();

        if (!env)
                return NULL;
        for (char **e = environ; *e; e++) {
                bool replaced = false;
                const char *eq = strchr(*e, '=');
                size_t key_length = eq ? (size_t) (eq - *e) + 1 : strlen(*e);

                for (char *const *x = extra; x && *x; x++)
                        if (strncmp(*x, *e, key_length) == 0)
                                replaced = true;
                if (!replaced && strv_extend(&env, *e) < 0)
                        return NULL;
        }
        for (char *const *x = extra; x && *x; x++)
                if (strv_extend(&env, *x) < 0)
                        return NULL;
        return TAKE_PTR(env);
}

int vp_spawn_start(char *const *argv, const vp_spawn_options *opts, vp_child *ret, vp_error *err)
{
        static const vp_spawn_options defaults = VP_SPAWN_OPTIONS_INIT;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_close_ int null_fd = -EBADF;
        int output[2] = { -1, -1 };
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        pid_t pid;
        int r;

        if (!opts)
                opts = &defaults;
        if (!argv || !argv[0])
                return vp_error_set(err, -EINVAL, "spawn: empty command");
        if (cancel_signal)
                return vp_error_set(err, -EINTR, "%s: not started, interrupted by signal %d", argv[0],
                                    (int) cancel_signal);

        env = merge_environment(opts->extra_env);
        if (!env)
                return vp_error_set(err, -ENOMEM, "out of memory");

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                return vp_error_set_errno(err, -errno, "/dev/null");
        if (pipe2(output, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "%s: cannot create output pipe", argv[0]);

        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);

        /* dup2() onto the standard descriptors clears O_CLOEXEC there; every other descriptor
         * of ours is O_CLOEXEC and does not reach the child. */
        posix_spawn_file_actions_adddup2(&actions, opts->stdin_fd >= 0 ? opts->stdin_fd : null_fd, 0);
        posix_spawn_file_actions_adddup2(&actions, opts->stdout_fd >= 0 ? opts->stdout_fd : output[1], 1);
        posix_spawn_file_actions_adddup2(&actions, output[1], 2);
        if (opts->directory)
                posix_spawn_file_actions_addchdir_np(&actions, opts->directory);

        /* Own process group: a Ctrl-C on the terminal reaches only vmpack, which then stops the
         * child's whole group and cleans up after it. Default signal handling in the child. */
        sigset_t all, none;
        sigfillset(&all);
        sigemptyset(&none);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

        r = posix_spawnp(&pid, argv[0], &actions, &attr, argv, env);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        close(output[1]);
        if (r != 0) {
                close(output[0]);
                if (r == ENOENT)
                        return vp_error_set(err, -ENOENT, "%s: command not found (scripts/setup installs it)",
                                            argv[0]);
                return vp_error_set_errno(err, -r, "%s: cannot start", argv[0]);
        }

        ret->pid = pid;
        ret->output_fd = output[0];
        ret->program = strdup(argv[0]);
        return 0;
}

static void emit_line(const vp_spawn_options *opts, char *line)
{
        if (opts->on_line)
                opts->on_line(line, opts->userdata);
}

static void write_all(int fd, const char *data, size_t size)
{
        while (size > 0) {
                ssize_t n = write(fd, data, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return; /* NOTE: a full disk loses log lines but not the build result. */
                data += n;
                size -= (size_t) n;
        }
}

/* Copy the child's output to the log and the line callback until EOF. On cancellation, send
 * the signal to the child's process group once and keep reading until it is gone. */
static void pump_output(vp_child *child, const vp_spawn_options *opts)
{
        char line[4096];
        size_t used = 0;
        bool signalled = false;

        for (;;) {
                if (cancel_signal && !signalled) {
                        kill(-child->pid, cancel_signal);
                        signalled = true;
                }

                struct pollfd pfd = { .fd = child->output_fd, .events = POLLIN };
                int n = poll(&pfd, 1, 200);
                if (n < 0 && errno != EINTR)
                        break;
                if (n <= 0)
                        continue;

                char buf[8192];
                ssize_t got = read(child->output_fd, buf, sizeof(buf));
                if (got < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (got <= 0)
                        break;
                if (opts->log_fd >= 0)
                        write_all(opts->log_fd, buf, (size_t) got);

                for (ssize_t i = 0; i < got; i++) {
                        /* Progress bars end lines with '\r': treat it as a line end too. */
                        if (buf[i] == '\n' || buf[i] == '\r' || used == sizeof(line) - 1) {
                                line[used] = '\0';
                                if (used > 0)
                                        emit_line(opts, line);
                                used = 0;
                                if (buf[i] == '\n' || buf[i] == '\r')
                                        continue;
                        }
                        line[used++] = buf[i];
                }
        }
        if (used > 0) {
                line[used] = '\0';
                emit_line(opts, line);
        }
}

int vp_spawn_wait(vp_child *child, const vp_spawn_options *opts, vp_spawn_result *ret, vp_error *err)
{
        static const vp_spawn_options defaults = VP_SPAWN_OPTIONS_INIT;
        _cleanup_free_ char *program = TAKE_PTR(child->program);
        int status;

        if (!opts)
                opts = &defaults;

        pump_output(child, opts);
        close(child->output_fd);
        child->output_fd = -1;

        for (;;) {
                if (waitpid(child->pid, &status, 0) >= 0)
                        break;
                if (errno == EINTR) {
                        if (cancel_signal)
                                kill(-child->pid, cancel_signal);
                        continue;
                }
                return vp_error_set_errno(err, -errno, "%s: cannot wait for process %d",
                                          program ? program : "child", (int) child->pid);
        }

        vp_spawn_result result = {
                .exited = WIFEXITED(status),
                .exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
        };
        if (ret)
                *ret = result;
        if (cancel_signal)
                return vp_error_set(err, -EINTR, "%s: interrupted by signal %d", program ? program : "child",
                                    (int) cancel_signal);
        return 0;
}

int vp_spawn_run(char *const *argv, const vp_spawn_options *opts, vp_spawn_result *ret, vp_error *err)
{
        vp_child child;
        int r = vp_spawn_start(argv, opts, &child, err);

        if (r < 0)
                return r;
        return vp_spawn_wait(&child, opts, ret, err);
}

int vp_spawn_check(char *const *argv, const vp_spawn_options *opts, vp_error *err)
{
        vp_spawn_result result;
        char description[128];
        int r = vp_spawn_run(argv, opts, &result, err);

        if (r < 0)
                return r;
        if (result.exited && result.exit_status == 0)
                return 0;
        vp_spawn_result_describe(&result, description, sizeof(description));
        return vp_error_set(err, -EIO, "%s failed: %s", argv[0], description);
}
