/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One supervising child per running instance. The child is a fork of vmpackd that calls
 * vp_vm_run() (which starts QEMU as its own child with PR_SET_PDEATHSIG, so QEMU dies with
 * it) and writes one JSON line with the result to a pipe before it exits. The app's stdout
 * and stderr come through another pipe, which the daemon copies to app.log with a size cap.
 * A stop is SIGTERM to the child, on which vp_vm_run() sends the guest a terminate request
 * for the app. A second SIGTERM makes it quit QEMU, and SIGKILL ends both. SIGUSR1 makes
 * it save the VM's state to VP_INSTANCE_STATE_FILE and quit QEMU (a suspend). A third pipe
 * carries one line per suspend or resume event: "resumed" or "suspend-failed MESSAGE".
 */
#include "vmpackd.h"

#include "accel.h"
#include "instance.h"
#include "paths.h"
#include "vmrun.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The supervising child's process name, checked when a restarted daemon re-adopts it. */
#define SUPERVISOR_COMM "vmpackd-vm"
#define RESULT_MAX 8192

instance_run *supervise_find(daemon_state *d, const char *name)
{
        for (size_t i = 0; i < MAX_RUNS; i++)
                if (d->runs[i] && strcmp(d->runs[i]->name, name) == 0)
                        return d->runs[i];
        return NULL;
}

static void run_free(instance_run *run)
{
        if (!run)
                return;
        if (run->pidfd >= 0)
                close(run->pidfd);
        if (run->output_fd >= 0)
                close(run->output_fd);
        if (run->result_fd >= 0)
                close(run->result_fd);
        if (run->status_fd >= 0)
                close(run->status_fd);
        if (run->release_fd >= 0)
                close(run->release_fd);
        if (run->log_fd >= 0)
                close(run->log_fd);
        free(run->stop_reason);
        free(run->name);
        free(run);
}

static instance_run *run_new(const char *name)
{
        instance_run *run = calloc(1, sizeof(*run));

        if (!run)
                return NULL;
        *run = (instance_run) {
                .pidfd = -EBADF, .output_fd = -EBADF, .result_fd = -EBADF, .status_fd = -EBADF, .log_fd = -EBADF,
                .release_fd = -EBADF,
        };
        run->name = strdup(name);
        if (!run->name) {
                free(run);
                return NULL;
        }
        return run;
}

static int add_run(daemon_state *d, instance_run *run)
{
        for (size_t i = 0; i < MAX_RUNS; i++)
                if (!d->runs[i]) {
                        d->runs[i] = run;
                        return 0;
                }
        return -EBUSY;
}

static void remove_run(daemon_state *d, instance_run *run)
{
        for (size_t i = 0; i < MAX_RUNS; i++)
                if (d->runs[i] == run)
                        d->runs[i] = NULL;
        run_free(run);
}

/* --- the supervising child ------------------------------------------------------------- */

static void child_notice(void *userdata, const char *message)
{
        int console_fd = *(int *) userdata;

        dprintf(console_fd, "vmpackd: %s\n", message);
}

/* Write one event line to the daemon (fd 6 in the child). */
static void child_suspend_event(void *userdata, bool resumed, const char *error)
{
        (void) userdata;
        if (resumed)
                dprintf(6, "resumed\n");
        else
                dprintf(6, "suspend-failed %.1000s\n", error ? error : "unknown error");
}

static _noreturn_ void child_main(const char *name, const supervise_spec *spec, int output_fd, int result_fd,
                                  int console_fd)
{
        _cleanup_free_ char *state_path = vp_instance_path(name, VP_INSTANCE_STATE_FILE);
        vp_run_options options = {
                .image_name = name,
                .rootfs_path = spec->rootfs_path,
                .data_path = spec->data_path,
                .argv = spec->argv,
                .files = spec->files,
                .cpus = spec->cpus,
                .memory_mib = spec->memory_mib,
                .machine = VP_MACHINE_MICROVM,
                .accel = VP_ACCEL_AUTO,
                .network = spec->network,
                .stdin_fd = -1,
                .stdout_fd = output_fd,
                .stderr_fd = output_fd,
                .output_lost_ok = true,
                .console_fd = console_fd,
                .notice = child_notice,
                .userdata = &console_fd,
                .state_path = state_path,
                .resume = spec->resume,
                .suspend_event = child_suspend_event,
                .gui = spec->gui,
                .audio = spec->audio,
                .microphone = spec->microphone,
                .clipboard = spec->clipboard,
                .virgl = spec->virgl,
                .window_title = spec->window_title,
        };
        vp_run_folder folders[VP_VM_MAX_SHARES];
        vp_run_result result = {};
        vp_error err = {};
        sigset_t set;

        /* supervise_start() moved the folders' descriptors to 7, 8, ... */
        for (size_t i = 0; i < spec->n_folders; i++) {
                folders[i] = spec->folders[i];
                folders[i].fd = 7 + (int) i;
        }
        options.folders = spec->n_folders ? folders : NULL;
        options.n_folders = spec->n_folders;

        /* The caller's session replaces the daemon's, which is that of whichever vmpack
         * started the daemon: the window and the sound go where the caller is. */
        if (spec->session) {
                for (const char *const *variable = vp_api_session_variables; *variable; variable++)
                        unsetenv(*variable);
                for (char *const *entry = spec->session; *entry; entry++) {
                        _cleanup_free_ char *copy = strdup(*entry);
                        char *equals = copy ? strchr(copy, '=') : NULL;
                        if (equals) {
                                *equals = '\0';
                                setenv(copy, equals + 1, 1);
                        }
                }
        }

        /* A graphical app needs q35. It gets a window when the session (the caller's, or
         * else the daemon's) has DISPLAY or WAYLAND_DISPLAY. Without either, as for the
         * system daemon, the VM gets no window. */
        if (spec->gui) {
                options.machine = VP_MACHINE_Q35;
                options.display = getenv("DISPLAY") || getenv("WAYLAND_DISPLAY") ? VP_DISPLAY_GTK : VP_DISPLAY_NONE;
        }

        prctl(PR_SET_NAME, SUPERVISOR_COMM);
        /* The daemon's signal handling is inherited: keep SIGTERM, SIGINT and SIGUSR1
         * blocked for vp_vm_run's signalfd, and unblock the rest. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_SETMASK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        options.signal_fd = signalfd(-1, &set, SFD_CLOEXEC);

        int r = vp_vm_run(&options, &result, &err);

        json_t *line = json_pack("{s:i, s:b, s:b, s:i, s:s?, s:s?, s:s?}", "status", r < 0 ? -1 : result.status,
                                 "timed_out", result.timed_out, "suspended", r == 0 && result.suspended,
                                 "signal", result.signal, "error",
                                 r < 0 ? err.message : NULL, "guest_error", result.guest_error, "console_tail",
                                 r < 0 ? result.console_tail : NULL);
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (text)
                (void) !write(result_fd, text, strnlen(text, RESULT_MAX - 1));
        _exit(r < 0 ? 1 : 0);
}

static int open_log(const char *name, const char *file, int flags, vp_error *err)
{
        _cleanup_free_ char *path = vp_instance_path(name, file);
        int fd;

        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "opening %s", path);
        return fd;
}

/* Record a booted VM with what it was given: the grant when the caller passed one, and
 * the resources and devices of the spec. */
static void audit_vm_started(daemon_state *d, const char *name, const supervise_spec *spec, pid_t pid)
{
        json_t *detail = json_pack("{s:O?, s:i, s:I, s:b, s:b, s:b, s:b, s:b, s:i, s:i}", "grant", spec->grant,
                                   "cpus", (int) spec->cpus, "memory_mib", (json_int_t) spec->memory_mib, "gui",
                                   spec->gui, "audio", spec->audio, "microphone", spec->microphone, "clipboard",
                                   spec->clipboard, "virgl", spec->virgl, "files", (int) (spec->files ? strv_length(spec->files) : 0),
                                   "supervisor_pid", (int) pid);

        audit_event(d, NULL, name, "vm-started", NULL, detail);
        json_decref(detail);
}

int supervise_start(daemon_state *d, const char *name, const supervise_spec *spec, instance_run **ret,
                    vp_error *err)
{
        instance_run *run = run_new(name);
        _cleanup_close_ int console_fd = -EBADF;
        int output_pipe[2] = { -1, -1 }, result_pipe[2] = { -1, -1 }, status_pipe[2] = { -1, -1 };
        int release_pipe[2] = { -1, -1 };
        struct stat st;
        int r;

        if (!run)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (add_run(d, run) < 0) {
                run_free(run);
                return vp_error_set(err, -EBUSY, "%d instances are running (max %d)", MAX_RUNS, MAX_RUNS);
        }

        console_fd = open_log(name, "console.log", O_TRUNC, err);
        if (console_fd < 0) {
                r = console_fd;
                goto fail;
        }
        /* A resumed app continues its output, so its log continues too. */
        run->log_fd = open_log(name, "app.log", spec->resume ? O_APPEND : O_APPEND | O_TRUNC, err);
        if (run->log_fd < 0) {
                r = run->log_fd;
                goto fail;
        }
        run->log_bytes = fstat(run->log_fd, &st) == 0 ? (uint64_t) st.st_size : 0;

        if (pipe2(output_pipe, O_CLOEXEC) < 0 || pipe2(result_pipe, O_CLOEXEC) < 0 ||
            pipe2(status_pipe, O_CLOEXEC) < 0 || pipe2(release_pipe, O_CLOEXEC) < 0) {
                r = vp_error_set_errno(err, -errno, "pipe");
                goto fail;
        }

        run->pid = fork();
        if (run->pid < 0) {
                r = vp_error_set_errno(err, -errno, "fork");
                goto fail;
        }
        if (run->pid == 0) {
                /* Wait until the daemon has recorded this run (supervise_release()). A daemon
                 * that dies first closes the pipe, so no VM starts that the next daemon could
                 * not adopt. */
                char go = 0;
                close(release_pipe[1]);
                while (read(release_pipe[0], &go, 1) < 0 && errno == EINTR)
                        ;
                if (go != 1)
                        _exit(1);
                close(release_pipe[0]);

                /* Keep only the pipes' write ends and the console: the client sockets and the
                 * listening socket must close when the daemon closes them.
                 * The opened folders follow them from descriptor 7 on. */
                size_t n = 4 + spec->n_folders;
                int fds[4 + VP_VM_MAX_SHARES], moved[4 + VP_VM_MAX_SHARES];
                if (spec->n_folders > VP_VM_MAX_SHARES)
                        _exit(1);
                fds[0] = output_pipe[1];
                fds[1] = result_pipe[1];
                fds[2] = console_fd;
                fds[3] = status_pipe[1];
                for (size_t i = 0; i < spec->n_folders; i++)
                        fds[4 + i] = spec->folders[i].fd;
                for (size_t i = 0; i < n; i++)
                        if ((moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 1024)) < 0)
                                _exit(1);
                for (size_t i = 0; i < n; i++)
                        if (dup3(moved[i], 3 + (int) i, O_CLOEXEC) < 0)
                                _exit(1);
                syscall(SYS_close_range, 3 + n, ~0U, 0);
                child_main(name, spec, 3, 4, 5);
        }

        close(output_pipe[1]);
        close(result_pipe[1]);
        close(status_pipe[1]);
        close(release_pipe[0]);
        run->release_fd = release_pipe[1];
        run->output_fd = output_pipe[0];
        run->result_fd = result_pipe[0];
        run->status_fd = status_pipe[0];
        fcntl(run->output_fd, F_SETFL, O_NONBLOCK);
        fcntl(run->result_fd, F_SETFL, O_NONBLOCK);
        fcntl(run->status_fd, F_SETFL, O_NONBLOCK);
        if (spec->resume)
                run->pending = PENDING_RESUME;
        run->started_ms = vp_db_now_ms();
        run->pidfd = (int) syscall(SYS_pidfd_open, run->pid, 0);
        if (run->pidfd < 0) {
                r = vp_error_set_errno(err, -errno, "pidfd_open");
                kill(run->pid, SIGKILL);
                waitpid(run->pid, NULL, 0);
                remove_run(d, run);
                return r;
        }

        log_message(name, "%s (supervisor pid %d)", spec->resume ? "resuming" : "started", run->pid);
        /* A resume is recorded once the guest runs again, in supervise_read_status(). */
        if (!spec->resume)
                audit_vm_started(d, name, spec, run->pid);
        *ret = run;
        return 0;

fail:
        for (int i = 0; i < 2; i++) {
                if (output_pipe[i] >= 0)
                        close(output_pipe[i]);
                if (result_pipe[i] >= 0)
                        close(result_pipe[i]);
                if (status_pipe[i] >= 0)
                        close(status_pipe[i]);
                if (release_pipe[i] >= 0)
                        close(release_pipe[i]);
        }
        remove_run(d, run);
        return r;
}

void supervise_release(instance_run *run)
{
        char go = 1;

        if (run->release_fd < 0)
                return;
        if (write(run->release_fd, &go, 1) != 1)
                log_message(run->name, "releasing the supervisor failed: %s", strerror(errno));
        close(run->release_fd);
        run->release_fd = -EBADF;
}

/* --- stop, kill, exit ------------------------------------------------------------------- */

void supervise_stop(daemon_state *d, instance_run *run, unsigned timeout_s, const vp_db_caller *caller)
{
        vp_error err = {};

        if (run->stop_stage > 0)
                return;
        free(run->stop_reason);
        run->stop_reason = vp_strdup_printf("stopped by uid %u (pid %d)", caller->uid, caller->pid);
        run->stop_caller = *caller;
        run->stop_stage = 1;
        run->stop_deadline_ms = vp_db_now_ms() + (int64_t) timeout_s * 1000;
        kill(run->pid, SIGTERM);
        log_message(run->name, "stopping: app asked to terminate, QEMU quits after %u s", timeout_s);
        if (vp_db_set_state(d->db, run->name, "stopping", 0, -1, run->stop_reason, caller, &err) < 0)
                log_message(run->name, "%s", err.message);
}

void supervise_kill(daemon_state *d, instance_run *run, const vp_db_caller *caller)
{
        free(run->stop_reason);
        run->stop_reason = vp_strdup_printf("killed by uid %u (pid %d)", caller->uid, caller->pid);
        run->stop_caller = *caller;
        run->stop_stage = 3;
        run->stop_deadline_ms = 0;
        if (run->pending == PENDING_SUSPEND)
                run->pending = PENDING_NONE;
        /* QEMU has PR_SET_PDEATHSIG set to SIGKILL, so it dies with its supervisor. */
        kill(run->pid, SIGKILL);
        log_message(run->name, "killing supervisor pid %d and its QEMU", run->pid);
}

void supervise_suspend(daemon_state *d, instance_run *run, const vp_db_caller *caller)
{
        free(run->stop_reason);
        run->stop_reason = vp_strdup_printf("suspended by uid %u (pid %d)", caller->uid, caller->pid);
        run->stop_caller = *caller;
        run->pending = PENDING_SUSPEND;
        kill(run->pid, SIGUSR1);
        log_message(run->name, "suspending: saving the VM state");
}

static void reply_waiters(daemon_state *d, instance_run *run, const char *error)
{
        json_t *instance = error ? NULL : methods_instance_json(d, run->name);

        for (size_t i = 0; i < run->n_waiters; i++) {
                connection *c = run->waiters[i];
                if (!c)
                        continue;
                c->waiting = false;
                if (instance) {
                        json_t *reply = json_pack("{s:O}", "instance", instance);
                        server_reply(c, reply);
                        json_decref(reply);
                } else
                        server_reply_error(c, VP_API_ERROR_FAILED, error ? error : "instance state could not be read");
        }
        run->n_waiters = 0;
        json_decref(instance);
}

void supervise_read_status(daemon_state *d, instance_run *run)
{
        char buffer[2048];
        ssize_t n;

        if (run->status_fd < 0)
                return;
        /* The child writes each line with one write of less than PIPE_BUF bytes, so a read
         * returns whole lines. */
        while ((n = read(run->status_fd, buffer, sizeof(buffer) - 1)) > 0) {
                buffer[n] = '\0';
                for (char *line = buffer, *end; *line; line = end) {
                        end = line + strcspn(line, "\n");
                        if (*end)
                                *end++ = '\0';
                        if (strcmp(line, "resumed") == 0 && run->pending == PENDING_RESUME) {
                                log_message(run->name, "resumed from the saved state");
                                audit_event(d, NULL, run->name, "vm-resumed", "resumed from the saved state",
                                            NULL);
                                run->pending = PENDING_NONE;
                                reply_waiters(d, run, NULL);
                        } else if (strncmp(line, "suspend-failed ", 15) == 0 && run->pending == PENDING_SUSPEND) {
                                log_message(run->name, "suspend failed, the VM runs on: %s", line + 15);
                                audit_event(d, &run->stop_caller, run->name, "vm-suspend-failed", line + 15,
                                            NULL);
                                run->pending = PENDING_NONE;
                                free(run->stop_reason);
                                run->stop_reason = NULL;
                                reply_waiters(d, run, line + 15);
                        }
                }
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                close(run->status_fd);
                run->status_fd = -EBADF;
        }
}

int supervise_check_deadlines(daemon_state *d)
{
        int64_t now = vp_db_now_ms(), next = -1;

        for (size_t i = 0; i < MAX_RUNS; i++) {
                instance_run *run = d->runs[i];
                if (!run || run->stop_stage == 0 || run->stop_stage == 3)
                        continue;
                if (now >= run->stop_deadline_ms) {
                        if (run->stop_stage == 1) {
                                log_message(run->name, "app did not exit in time: telling QEMU to quit");
                                kill(run->pid, SIGTERM);
                                run->stop_stage = 2;
                                run->stop_deadline_ms = now + STOP_QUIT_GRACE_S * 1000;
                        } else {
                                log_message(run->name, "QEMU did not quit in time: sending SIGKILL");
                                kill(run->pid, SIGKILL);
                                run->stop_stage = 3;
                                continue;
                        }
                }
                if (next < 0 || run->stop_deadline_ms - now < next)
                        next = run->stop_deadline_ms - now;
        }
        return next < 0 ? -1 : (int) (next > 60000 ? 60000 : next);
}

/* Rename app.log to app.log.1 and start a new one, so the logs of an instance never exceed
 * twice the cap. */
static void rotate_log(daemon_state *d, instance_run *run)
{
        _cleanup_free_ char *path = vp_instance_path(run->name, "app.log");
        _cleanup_free_ char *old = vp_instance_path(run->name, "app.log.1");
        vp_error err = {};

        if (!path || !old || rename(path, old) < 0) {
                /* Writing on past the cap beats losing output; retry at the next cap. */
                log_message(run->name, "rotating app.log failed: %s; it grows past the cap", strerror(errno));
                run->log_bytes = 0;
                return;
        }
        int fd = open_log(run->name, "app.log", O_APPEND | O_TRUNC, &err);
        if (fd < 0) {
                /* The old fd still writes to app.log.1, so no output is lost. */
                log_message(run->name, "%s", err.message);
                run->log_bytes = 0;
                return;
        }
        close(run->log_fd);
        run->log_fd = fd;
        run->log_bytes = 0;
}

void supervise_read_output(daemon_state *d, instance_run *run)
{
        char buffer[65536];
        ssize_t n;

        if (run->output_fd < 0)
                return;
        while ((n = read(run->output_fd, buffer, sizeof(buffer))) > 0) {
                /* Fill app.log up to the cap, rotate, and go on with the rest of the chunk. */
                for (size_t done = 0; done < (size_t) n;) {
                        if (run->log_bytes >= d->log_max_bytes)
                                rotate_log(d, run);
                        uint64_t space = run->log_bytes < d->log_max_bytes ? d->log_max_bytes - run->log_bytes : 0;
                        size_t length = (size_t) n - done;
                        if (space > 0 && length > space)
                                length = (size_t) space;
                        ssize_t written = write(run->log_fd, buffer + done, length);
                        if (written <= 0) {
                                log_message(run->name, "writing app.log failed: %s; dropping %zu bytes",
                                            written < 0 ? strerror(errno) : "no progress", (size_t) n - done);
                                break;
                        }
                        done += (size_t) written;
                        run->log_bytes += (uint64_t) written;
                }
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                close(run->output_fd);
                run->output_fd = -EBADF;
        }
}

/* True when the instance has a complete saved state: the description is written last. */
static bool has_saved_state(const char *name)
{
        _cleanup_free_ char *state_path = vp_instance_path(name, VP_INSTANCE_STATE_FILE);
        _cleanup_free_ char *info_path = vp_instance_path(name, VP_INSTANCE_STATE_FILE ".json");

        return state_path && info_path && access(state_path, F_OK) == 0 && access(info_path, F_OK) == 0;
}

/* Turn the child's result line and wait status into the exit status and reason. */
static char *describe_exit(instance_run *run, int wait_status, int *ret_status, bool *ret_suspended)
{
        char text[RESULT_MAX];
        ssize_t n = run->result_fd >= 0 ? read(run->result_fd, text, sizeof(text) - 1) : -1;
        json_t *result = NULL;

        *ret_status = -1;
        if (n > 0) {
                text[n] = '\0';
                result = json_loads(text, 0, NULL);
        }

        if (!result) {
                /* A re-adopted supervisor has no result pipe, but a complete saved state shows
                 * that it finished a suspend that the previous daemon started. */
                if (run->result_fd < 0 && has_saved_state(run->name)) {
                        *ret_suspended = true;
                        return strdup("VM state saved while vmpackd was not watching");
                }
                if (run->result_fd < 0)
                        return strdup("the VM ended while vmpackd was not watching; exit status unknown");
                if (WIFSIGNALED(wait_status))
                        return vp_strdup_printf("supervisor killed by signal %d", WTERMSIG(wait_status));
                return vp_strdup_printf("supervisor exited with status %d without a result",
                                        WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
        }

        int status = (int) json_integer_value(json_object_get(result, "status"));
        const char *error = json_string_value(json_object_get(result, "error"));
        const char *guest_error = json_string_value(json_object_get(result, "guest_error"));
        const char *tail = json_string_value(json_object_get(result, "console_tail"));
        char *reason;

        int signal_number = (int) json_integer_value(json_object_get(result, "signal"));

        *ret_suspended = json_is_true(json_object_get(result, "suspended"));
        if (*ret_suspended)
                reason = strdup("VM state saved");
        else if (error)
                reason = vp_strdup_printf("VM failed: %s%s%s", error, tail ? "; console: " : "", tail ? tail : "");
        else if (signal_number > 0 && status == 128 + signal_number)
                reason = vp_strdup_printf("VM ended before the app exited (status %d, as for signal %d)", status,
                                          signal_number);
        else if (json_is_true(json_object_get(result, "timed_out")))
                reason = vp_strdup_printf("timed out (status %d)", status);
        else if (guest_error)
                reason = vp_strdup_printf("exited with status %d: %s", status, guest_error);
        else
                reason = vp_strdup_printf("exited with status %d", status);
        *ret_status = status;
        json_decref(result);
        return reason;
}

/* Delete what a suspend that did not finish may have written, e.g. when the VM was killed
 * while its state was being saved. */
static void discard_leftover_state(const char *name)
{
        _cleanup_free_ char *state_path = vp_instance_path(name, VP_INSTANCE_STATE_FILE);
        vp_error err = {};

        if (state_path && vp_run_discard_state(state_path, &err) < 0)
                log_message(name, "%s", err.message);
}

/* The state a run that ended leaves its instance in, and the reason recorded for it. */
static const char *end_state(instance_run *run, bool suspended, char **reason)
{
        if (suspended)
                return "suspended";
        if (run->pending != PENDING_RESUME)
                return "stopped";

        /* A failed resume keeps the saved state (it is deleted only once the guest runs),
         * so the instance stays suspended and can be resumed after the cause is fixed. */
        _cleanup_free_ char *state_path = vp_instance_path(run->name, VP_INSTANCE_STATE_FILE);
        if (!state_path || access(state_path, F_OK) < 0)
                return "stopped";
        char *prefixed = vp_strdup_printf("resume failed: %s", *reason ? *reason : "");
        if (prefixed) {
                free(*reason);
                *reason = prefixed;
        }
        return "suspended";
}

void supervise_reap(daemon_state *d, instance_run *run)
{
        vp_db_caller self = { .uid = d->uid, .pid = getpid() };
        vp_error err = {};
        int wait_status = 0, status;
        bool suspended = false;

        /* An adopted run is not our child, so we cannot wait for it: its readable pidfd means it ended. */
        if (run->result_fd >= 0 && waitpid(run->pid, &wait_status, WNOHANG) == 0)
                return;
        supervise_read_output(d, run);
        supervise_read_status(d, run);

        _cleanup_free_ char *exit_reason = describe_exit(run, wait_status, &status, &suspended);
        if (run->pending == PENDING_SUSPEND && !suspended) {
                /* The VM ended on its own while the suspend was on its way. */
                free(run->stop_reason);
                run->stop_reason = NULL;
        }
        char *reason = run->stop_reason ? vp_strdup_printf("%s; %s", run->stop_reason, exit_reason ? exit_reason : "")
                                        : TAKE_PTR(exit_reason);
        const vp_db_caller *caller = run->stop_reason ? &run->stop_caller : &self;
        const char *state = end_state(run, suspended, &reason);
        if (strcmp(state, "stopped") == 0)
                discard_leftover_state(run->name);

        log_message(run->name, "%s: %s", state, reason ? reason : "(out of memory)");
        if (vp_db_set_state(d->db, run->name, state, 0, suspended ? -1 : status, reason, caller, &err) < 0)
                log_message(run->name, "recording the end of the run failed: %s", err.message);
        json_t *detail = json_pack("{s:s, s:i}", "state", state, "exit_status", suspended ? -1 : status);
        audit_event(d, caller, run->name,
                    suspended                             ? "vm-suspended"
                    : run->pending == PENDING_RESUME      ? "vm-resume-failed"
                                                          : "vm-stopped",
                    reason, detail);
        json_decref(detail);

        /* A killed supervisor could not remove its run directory: remove it before Kill replies. */
        int stale = vp_vm_remove_stale_runtime_dirs();
        if (stale > 0)
                log_message(run->name, "removed %d run directories left by ended runs", stale);

        /* A Resume still waiting learns why the guest did not come back. */
        const char *resume_error = NULL;
        if (run->pending == PENDING_RESUME)
                resume_error = reason ? reason : "resume failed";
        reply_waiters(d, run, resume_error);
        free(reason);
        remove_run(d, run);
}

/* --- restart recovery ------------------------------------------------------------------- */

/* True when pid is a supervising child of a vmpackd with our executable. */
static bool is_supervisor(pid_t pid)
{
        char path[64], comm[32] = "", exe[4096], self[4096];
        _cleanup_fclose_ FILE *f = NULL;

        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        f = fopen(path, "re");
        if (!f || !fgets(comm, sizeof(comm), f))
                return false;
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, SUPERVISOR_COMM) != 0)
                return false;

        snprintf(path, sizeof(path), "/proc/%d/exe", pid);
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        ssize_t m = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0 || m <= 0)
                return false;
        exe[n] = self[m] = '\0';
        return strcmp(exe, self) == 0;
}

void supervise_recover(daemon_state *d)
{
        vp_db_caller self = { .uid = d->uid, .pid = getpid() };
        json_t *instances = NULL, *item;
        vp_error err = {};
        size_t i;

        if (vp_db_list_instances(d->db, &instances, &err) < 0) {
                log_message(NULL, "recovery: %s", err.message);
                return;
        }
        json_array_foreach(instances, i, item) {
                const char *name = json_string_value(json_object_get(item, "name"));
                const char *state = json_string_value(json_object_get(item, "state"));
                pid_t pid = (pid_t) json_integer_value(json_object_get(item, "pid"));
                int pidfd = -EBADF;

                if (!name || !state || strcmp(state, "stopped") == 0 || strcmp(state, "suspended") == 0)
                        continue;
                if (pid > 0 && is_supervisor(pid))
                        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);

                instance_run *run = pidfd >= 0 ? run_new(name) : NULL;
                if (run && add_run(d, run) == 0) {
                        run->pid = pid;
                        run->pidfd = pidfd;
                        run->started_ms = json_integer_value(json_object_get(item, "started_ms"));
                        /* NOTE: an adopted run's output goes nowhere, because its pipe was
                         * the previous daemon's, and its exit status is lost. */
                        log_message(name, "re-adopted running VM (supervisor pid %d); its app output is "
                                          "no longer logged",
                                    pid);
                        continue;
                }
                if (pidfd >= 0)
                        close(pidfd);
                free(run ? run->name : NULL);
                free(run);
                if (has_saved_state(name)) {
                        /* A suspend that finished after its daemon had gone. */
                        log_message(name, "marked suspended: its VM state was saved while vmpackd was not running");
                        if (vp_db_set_state(d->db, name, "suspended", 0, -1,
                                            "VM state saved while vmpackd was not running", &self, &err) < 0)
                                log_message(name, "%s", err.message);
                        audit_event(d, NULL, name, "vm-suspended", "VM state saved while vmpackd was not running",
                                    NULL);
                        continue;
                }
                log_message(name, "marked stopped: its supervisor (pid %d) is gone after a vmpackd restart", pid);
                if (vp_db_set_state(d->db, name, "stopped", 0, -1,
                                    "lost: the VM ended while vmpackd was not running", &self, &err) < 0)
                        log_message(name, "%s", err.message);
                audit_event(d, NULL, name, "vm-stopped", "lost: the VM ended while vmpackd was not running", NULL);
        }
        json_decref(instances);
}

/* --- ps ------------------------------------------------------------------------------- */

/* The first child of pid (QEMU under the supervisor), or 0. */
static pid_t first_child(pid_t pid)
{
        char path[64];
        _cleanup_fclose_ FILE *f = NULL;
        int child = 0;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
        f = fopen(path, "re");
        if (!f || fscanf(f, "%d", &child) != 1)
                return 0;
        return (pid_t) child;
}

static long long read_rss_bytes(pid_t pid)
{
        char path[64], line[256];
        _cleanup_fclose_ FILE *f = NULL;
        long long kib;

        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %lld kB", &kib) == 1)
                        return kib * 1024;
        return -1;
}

/* The accelerator from QEMU's "-accel tcg,..." argument. */
static char *read_accelerator(pid_t pid)
{
        char path[64];
        _cleanup_free_ char *cmdline = NULL;
        size_t size = 0;
        vp_error err = {};

        snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
        if (vp_read_file(path, 1 << 20, &cmdline, &size, &err) < 0)
                return NULL;
        for (char *p = cmdline; p < cmdline + size; p += strlen(p) + 1)
                if (strcmp(p, "-accel") == 0 && p + strlen(p) + 1 < cmdline + size) {
                        char *value = p + strlen(p) + 1;
                        return strndup(value, strcspn(value, ","));
                }
        return NULL;
}

void supervise_describe(const instance_run *run, json_t *object)
{
        pid_t qemu = first_child(run->pid);
        _cleanup_free_ char *accelerator = qemu > 0 ? read_accelerator(qemu) : NULL;
        long long rss = qemu > 0 ? read_rss_bytes(qemu) : -1;

        json_object_set_new(object, "supervisor_pid", json_integer(run->pid));
        json_object_set_new(object, "qemu_pid", qemu > 0 ? json_integer(qemu) : json_null());
        json_object_set_new(object, "rss_bytes", rss >= 0 ? json_integer(rss) : json_null());
        json_object_set_new(object, "accelerator", accelerator ? json_string(accelerator) : json_null());
        json_object_set_new(object, "uptime_s", json_integer((vp_db_now_ms() - run->started_ms) / 1000));
}
