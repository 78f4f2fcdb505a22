/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running external programs (mmdebstrap, podman, tar2sqfs, ...) without a shell. The child's
 * stdout and stderr go to a log file, to a line callback (for progress), or both. A child runs
 * in its own process group, so vp_spawn_cancel() can stop it and everything it started.
 *
 * Implemented in spawn.c. The header is not called spawn.h because lib/ is on the include
 * path and would hide the C library's <spawn.h>.
 */
#pragma once

#include "util.h"

#include <sys/types.h>

/* Called with each line of the child's output, without the newline. Lines of stdout and
 * stderr come through separate pipes, so they never mix within a line. */
typedef void (*vp_spawn_line_fn)(const char *line, void *userdata);

typedef struct vp_spawn_options {
        char *const *extra_env; /* "KEY=VALUE" entries added to (or replacing) the environment */
        const char *directory;  /* working directory; NULL keeps ours */
        int stdin_fd;           /* -1: /dev/null */
        int stdout_fd;          /* -1: stdout goes where stderr goes (log and line callback) */
        int log_fd;             /* output is appended here; -1: no log */
        vp_spawn_line_fn on_line;
        void *userdata;
} vp_spawn_options;

#define VP_SPAWN_OPTIONS_INIT { .stdin_fd = -1, .stdout_fd = -1, .log_fd = -1 }

/* How a child ended: exit status when it exited, else the signal that killed it. */
typedef struct vp_spawn_result {
        bool exited;
        int exit_status;
        int signal;
} vp_spawn_result;

typedef struct vp_child {
        pid_t pid;
        int output_fd; /* read end of the stdout pipe; -1 when stdout goes to opts->stdout_fd */
        int error_fd;  /* read end of the stderr pipe */
        char *program; /* argv[0], for messages */
} vp_child;

/* Start argv[0] (searched in PATH) with opts (NULL for defaults). Fill *ret on success. */
int vp_spawn_start(char *const *argv, const vp_spawn_options *opts, vp_child *ret, vp_error *err);
/* Read the child's output until EOF (passing lines to opts' callback and log), then reap it.
 * opts must be the options given to vp_spawn_start. */
int vp_spawn_wait(vp_child *child, const vp_spawn_options *opts, vp_spawn_result *ret, vp_error *err);
/* Start and wait. Returns 0 when the child ran, whatever its exit status. */
int vp_spawn_run(char *const *argv, const vp_spawn_options *opts, vp_spawn_result *ret, vp_error *err);
/* Start and wait, and fail with -EIO and "PROGRAM failed: exit status N" unless the child
 * exited with status 0. */
int vp_spawn_check(char *const *argv, const vp_spawn_options *opts, vp_error *err);

/* True when program contains a slash and is executable, or an executable of that name is in
 * a directory of $PATH. */
bool vp_spawn_program_exists(const char *program);

/* Format a result as "exit status N" or "killed by signal N (NAME)". */
void vp_spawn_result_describe(const vp_spawn_result *result, char *buf, size_t size);

/* Ask running and future children to stop: async-signal-safe, for SIGINT and SIGTERM
 * handlers. vp_spawn_wait() then sends the signal to the child's process group, and the
 * functions above fail with -EINTR. */
void vp_spawn_cancel(int sig);
/* True after vp_spawn_cancel(). */
bool vp_spawn_cancelled(void);
