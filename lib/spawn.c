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

bool vp_spawn_program_exists(const char *program)
{
        if (strchr(program, '/'))
                return access(program, X_OK) == 0;

        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
        if (!copy)
                return true; /* let posix_spawnp() decide */
        char *saveptr = NULL;
        for (char *dir = strtok_r(copy, ":", &saveptr); dir; dir = strtok_r(NULL, ":", &saveptr)) {
                _cleanup_free_ char *candidate = vp_strdup_printf("%s/%s", dir, program);
                if (!candidate || access(candidate, X_OK) == 0)
                        return true;
        }
        return false;
}

int vp_spawn_start(char *const *argv, const vp_spawn_options *opts, vp_child *ret, vp_error *err)
{
        static const vp_spawn_options defaults = VP_SPAWN_OPTIONS_INIT;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_close_ int null_fd = -EBADF;
        int output[2] = { -1, -1 }, errors[2] = { -1, -1 };
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

        /* Look the program up here: posix_spawnp() reports a missing program only where the C
         * library can pass the exec error back (glibc can, valgrind's emulation cannot). */
        if (!vp_spawn_program_exists(argv[0]))
                return vp_error_set(err, -ENOENT, "%s: command not found (scripts/setup installs it)", argv[0]);

        env = merge_environment(opts->extra_env);
        if (!env)
                return vp_error_set(err, -ENOMEM, "out of memory");

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                return vp_error_set_errno(err, -errno, "/dev/null");
        if (pipe2(errors, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "%s: cannot create output pipe", argv[0]);
        if (opts->stdout_fd < 0 && pipe2(output, O_CLOEXEC) < 0) {
                r = -errno;
                close(errors[0]);
                close(errors[1]);
                return vp_error_set_errno(err, r, "%s: cannot create output pipe", argv[0]);
        }

        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);

        /* dup2() onto the standard descriptors clears O_CLOEXEC there; every other descriptor
         * of ours is O_CLOEXEC and does not reach the child. */
        posix_spawn_file_actions_adddup2(&actions, opts->stdin_fd >= 0 ? opts->stdin_fd : null_fd, 0);
        posix_spawn_file_actions_adddup2(&actions, opts->stdout_fd >= 0 ? opts->stdout_fd : output[1], 1);
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2);
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
        close(errors[1]);
        if (output[1] >= 0)
                close(output[1]);
        if (r != 0) {
                close(errors[0]);
                if (output[0] >= 0)
                        close(output[0]);
                if (r == ENOENT)
                        return vp_error_set(err, -ENOENT, "%s: command not found (scripts/setup installs it)",
                                            argv[0]);
                return vp_error_set_errno(err, -r, "%s: cannot start", argv[0]);
        }

        ret->pid = pid;
        ret->output_fd = output[0];
        ret->error_fd = errors[0];
        ret->program = strdup(argv[0]);
        return 0;
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

/* One output pipe of a child and its partial last line. */
typedef struct output_stream {
        int fd;
        char line[4096];
        size_t used;
} output_stream;

static void flush_line(output_stream *stream, const vp_spawn_options *opts)
{
        stream->line[stream->used] = '\0';
        if (stream->used > 0) {
                if (opts->log_fd >= 0) {
                        write_all(opts->log_fd, stream->line, stream->used);
                        write_all(opts->log_fd, "\n", 1);
                }
                if (opts->on_line)
                        opts->on_line(stream->line, opts->userdata);
        }
        stream->used = 0;
}

/* Read what is available on one stream. Returns false at EOF or on a read error. */
static bool read_stream(output_stream *stream, const vp_spawn_options *opts)
{
        char buf[8192];
        ssize_t got = read(stream->fd, buf, sizeof(buf));

        if (got < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (got <= 0)
                return false;
        for (ssize_t i = 0; i < got; i++) {
                /* Progress bars end lines with '\r': treat it as a line end too. */
                if (buf[i] == '\n' || buf[i] == '\r') {
                        flush_line(stream, opts);
                        continue;
                }
                if (stream->used == sizeof(stream->line) - 1)
                        flush_line(stream, opts);
                stream->line[stream->used++] = buf[i];
        }
        return true;
}

/* Copy the child's stdout and stderr, line by line, to the log and the line callback until
 * both reach EOF. On cancellation, send the signal to the child's process group once and keep
 * reading until it is gone. */
static void pump_output(vp_child *child, const vp_spawn_options *opts)
{
        output_stream streams[2] = { { .fd = child->output_fd }, { .fd = child->error_fd } };
        bool signalled = false;

        for (;;) {
                struct pollfd pfds[2];
                nfds_t count = 0;

                if (cancel_signal && !signalled) {
                        kill(-child->pid, cancel_signal);
                        signalled = true;
                }
                for (size_t i = 0; i < ELEMENTSOF(streams); i++)
                        if (streams[i].fd >= 0)
                                pfds[count++] = (struct pollfd){ .fd = streams[i].fd, .events = POLLIN };
                if (count == 0)
                        break;

                int n = poll(pfds, count, 200);
                if (n < 0 && errno != EINTR)
                        break;
                if (n <= 0)
                        continue;

                for (nfds_t p = 0; p < count; p++) {
                        if (!(pfds[p].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        for (size_t i = 0; i < ELEMENTSOF(streams); i++)
                                if (streams[i].fd == pfds[p].fd && !read_stream(&streams[i], opts)) {
                                        flush_line(&streams[i], opts);
                                        streams[i].fd = -1;
                                }
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(streams); i++)
                flush_line(&streams[i], opts);
}

int vp_spawn_wait(vp_child *child, const vp_spawn_options *opts, vp_spawn_result *ret, vp_error *err)
{
        static const vp_spawn_options defaults = VP_SPAWN_OPTIONS_INIT;
        _cleanup_free_ char *program = TAKE_PTR(child->program);
        int status;

        if (!opts)
                opts = &defaults;

        pump_output(child, opts);
        if (child->output_fd >= 0)
                close(child->output_fd);
        close(child->error_fd);
        child->output_fd = child->error_fd = -1;

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
