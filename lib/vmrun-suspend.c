/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Suspend and resume of a running VM through QEMU's migration stream.
 *
 * Suspend: QMP "stop", then the write end of a pipe goes to QEMU with "getfd", and
 * "migrate fd:NAME" writes the stream into it. "zstd -1", started here and not by QEMU,
 * compresses the stream into STATE.tmp, which is renamed when QEMU reports "completed" and
 * zstd has exited. QEMU starts no process, so its "-sandbox spawn=deny" stays in force
 * (exec: migration would need it lifted).
 * STATE.json beside it contains the fingerprint, the app's argv and files, and the output byte
 * counts already delivered.
 *
 * Resume: the same command line plus "-incoming fd:N" on a pipe that "zstd -d" fills from
 * the state file, then "cont",
 * because a guest saved while paused comes back paused. The fingerprint is compared first,
 * so a state is never loaded into a VM whose image, kernel, initramfs, QEMU or devices
 * differ: QEMU would load it into a different machine and corrupt the guest.
 */
#include "vmrun-internal.h"

#include "instance.h"
#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#define STATE_FORMAT_VERSION 1
#define STATE_INFO_MAX (1024 * 1024)
#define QMP_MESSAGE_MAX 65536
/* bench/resume measured 0.6 s to save and 0.6 s to resume a 256 MiB guest under TCG;
 * these limits leave room for large guests on a slow disk. */
#define MIGRATE_TIMEOUT_MS (300 * 1000)
#define QMP_CONNECT_TIMEOUT_MS (30 * 1000)
#define MIGRATE_POLL_MS 20
#define STATE_FD_NAME "vmpack-state"

typedef struct qmp_client {
        int fd;
        char buffer[QMP_MESSAGE_MAX];
        size_t length;
} qmp_client;

static void qmp_close(qmp_client *q)
{
        if (q->fd >= 0)
                close(q->fd);
        q->fd = -1;
}

/* Read one message (QMP sends one JSON object per line). */
static int qmp_read(qmp_client *q, json_t **ret, vp_error *err)
{
        for (;;) {
                char *newline = memchr(q->buffer, '\n', q->length);
                if (newline) {
                        *newline = '\0';
                        json_t *message = json_loads(q->buffer, 0, NULL);
                        size_t used = (size_t) (newline - q->buffer) + 1;
                        memmove(q->buffer, q->buffer + used, q->length - used);
                        q->length -= used;
                        if (!json_is_object(message)) {
                                json_decref(message);
                                return vp_error_set(err, -EBADMSG, "QMP sent a message that is not a JSON object");
                        }
                        *ret = message;
                        return 0;
                }
                if (q->length == sizeof(q->buffer))
                        return vp_error_set(err, -EMSGSIZE, "QMP message longer than %d bytes", QMP_MESSAGE_MAX);
                ssize_t n = recv(q->fd, q->buffer + q->length, sizeof(q->buffer) - q->length, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vp_error_set_errno(err, -errno, "reading from QMP");
                if (n == 0)
                        return vp_error_set(err, -ECONNRESET, "QEMU closed its QMP socket (it exited)");
                q->length += (size_t) n;
        }
}

/* Run one command; arguments is stolen and may be NULL. pass_fd >= 0 goes along as
 * SCM_RIGHTS, as "getfd" expects. Events that arrive before the reply are skipped. */
static int qmp_execute(qmp_client *q, const char *command, json_t *arguments, int pass_fd, json_t **ret_return,
                       vp_error *err)
{
        json_t *request = json_pack("{s:s}", "execute", command);
        _cleanup_free_ char *text = NULL;

        if (request && arguments)
                json_object_set_new(request, "arguments", arguments);
        else
                json_decref(arguments);
        text = request ? json_dumps(request, JSON_COMPACT) : NULL;
        json_decref(request);
        if (!text)
                return vp_error_set(err, -ENOMEM, "out of memory");

        _cleanup_free_ char *line = vp_strdup_printf("%s\n", text);
        if (!line)
                return vp_error_set(err, -ENOMEM, "out of memory");
        struct iovec iov = { .iov_base = line, .iov_len = strlen(line) };
        union {
                struct cmsghdr header;
                char space[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (pass_fd >= 0) {
                message.msg_control = control.space;
                message.msg_controllen = sizeof(control.space);
                struct cmsghdr *c = CMSG_FIRSTHDR(&message);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        if (sendmsg(q->fd, &message, MSG_NOSIGNAL) != (ssize_t) iov.iov_len)
                return vp_error_set_errno(err, -errno, "sending QMP command %s", command);

        for (;;) {
                json_t *reply = NULL;
                int r = qmp_read(q, &reply, err);
                if (r < 0)
                        return vp_error_prefix(err, "QMP command %s", command);
                json_t *error = json_object_get(reply, "error");
                if (error) {
                        const char *description = json_string_value(json_object_get(error, "desc"));
                        r = vp_error_set(err, -EIO, "QMP command %s failed: %s", command,
                                         description ? description : "no description");
                        json_decref(reply);
                        return r;
                }
                json_t *value = json_object_get(reply, "return");
                if (value) {
                        if (ret_return)
                                *ret_return = json_incref(value);
                        json_decref(reply);
                        return 0;
                }
                json_decref(reply); /* an event */
        }
}

/* Connect to QEMU's QMP socket, retrying while QEMU starts, and leave command mode on. */
static int qmp_open(const char *path, pid_t qemu_pid, qmp_client *q, vp_error *err)
{
        struct sockaddr_un address = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = 30 };
        int64_t deadline = vp_run_now_ms() + QMP_CONNECT_TIMEOUT_MS;
        json_t *greeting = NULL;

        q->fd = -1;
        q->length = 0;
        if (strlen(path) >= sizeof(address.sun_path))
                return vp_error_set(err, -ENAMETOOLONG, "QMP socket path %s is too long", path);
        strcpy(address.sun_path, path);

        for (;;) {
                q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (q->fd < 0)
                        return vp_error_set_errno(err, -errno, "socket");
                if (connect(q->fd, (struct sockaddr *) &address, sizeof(address)) == 0)
                        break;
                int saved = errno;
                qmp_close(q);
                if (kill(qemu_pid, 0) < 0 || waitpid(qemu_pid, NULL, WNOHANG) == qemu_pid)
                        return vp_error_set(err, -ECHILD, "QEMU exited before its QMP socket opened");
                if (vp_run_now_ms() > deadline)
                        return vp_error_set_errno(err, -saved, "connecting to QMP socket %s", path);
                poll(NULL, 0, 20);
        }
        setsockopt(q->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(q->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

        int r = qmp_read(q, &greeting, err);
        json_decref(greeting);
        if (r < 0) {
                qmp_close(q);
                return vp_error_prefix(err, "QMP greeting");
        }
        r = qmp_execute(q, "qmp_capabilities", NULL, -1, NULL, err);
        if (r < 0)
                qmp_close(q);
        return r;
}

/* The status of "query-status" or "query-migrate", or NULL when out of memory. */
static char *qmp_query_status(qmp_client *q, const char *command, char **ret_error, vp_error *err)
{
        json_t *value = NULL;
        int r = qmp_execute(q, command, NULL, -1, &value, err);

        if (r < 0)
                return NULL;
        const char *status = json_string_value(json_object_get(value, "status"));
        const char *error = json_string_value(json_object_get(value, "error-desc"));
        char *result = strdup(status ? status : "");
        if (ret_error)
                *ret_error = error ? strdup(error) : NULL;
        json_decref(value);
        if (!result)
                vp_error_set(err, -ENOMEM, "out of memory");
        return result;
}

/* --- fingerprint -------------------------------------------------------------------------- */

/* A file's path, size and modification time: the digest of a 30 MB vmlinux would cost more
 * than the resume it guards. */
static json_t *file_identity(const char *path)
{
        struct stat st;

        if (!path)
                return json_null();
        if (stat(path, &st) < 0)
                return json_pack("{s:s, s:b}", "path", path, "missing", true);
        return json_pack("{s:s, s:I, s:I}", "path", path, "size", (json_int_t) st.st_size, "mtime_ns",
                         (json_int_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
}

/* Join argv with spaces, with the per-run runtime directory and "fd=N" numbers masked,
 * because they differ between two runs of the same VM. */
static char *masked_command_line(const run_context *ctx, char *const *argv)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        size_t dir_length = strlen(ctx->runtime_dir);
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; argv[i]; i++) {
                if (i > 0)
                        fputc(' ', f);
                for (const char *p = argv[i]; *p;) {
                        if (strncmp(p, ctx->runtime_dir, dir_length) == 0) {
                                fputs("$RUNTIME_DIR", f);
                                p += dir_length;
                        } else if (strncmp(p, "fd=", 3) == 0 && p[3] >= '0' && p[3] <= '9') {
                                fputs("fd=N", f);
                                p += 3;
                                while (*p >= '0' && *p <= '9')
                                        p++;
                        } else {
                                fputc(*p++, f);
                        }
                }
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

int vp_run_fingerprint(const run_context *ctx, vp_accel accel, char *const *argv, json_t **ret, vp_error *err)
{
        const vp_run_options *o = ctx->options;
        _cleanup_free_ char *command_line = masked_command_line(ctx, argv);

        if (!command_line)
                return vp_error_set(err, -ENOMEM, "out of memory");
        json_t *fingerprint = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s?, s:s}", "qemu_version", ctx->qemu_version,
                                        "accelerator", vp_accel_to_string(accel), "kernel",
                                        file_identity(ctx->vmlinux), "initramfs", file_identity(ctx->initrd),
                                        "image", file_identity(o->rootfs_path), "data", o->data_path,
                                        "command_line", command_line);
        if (!fingerprint)
                return vp_error_set(err, -ENOMEM, "out of memory");
        *ret = fingerprint;
        return 0;
}

static const char *fingerprint_label(const char *key)
{
        static const struct {
                const char *key, *label;
        } labels[] = {
                { "qemu_version", "QEMU version" },
                { "accelerator", "accelerator" },
                { "kernel", "guest kernel (vmlinux)" },
                { "initramfs", "initramfs" },
                { "image", "image" },
                { "data", "data volume path" },
                { "command_line", "QEMU command line (machine, memory, CPUs or devices)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(labels); i++)
                if (strcmp(labels[i].key, key) == 0)
                        return labels[i].label;
        return key;
}

static char *state_info_path(const char *state_path)
{
        return vp_strdup_printf("%s.json", state_path);
}

static int load_state_info(const char *state_path, json_t **ret, vp_error *err)
{
        _cleanup_free_ char *path = state_info_path(state_path);
        _cleanup_free_ char *text = NULL;
        json_error_t json_error;
        size_t size = 0;

        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        int r = vp_read_file(path, STATE_INFO_MAX, &text, &size, err);
        if (r < 0)
                return r;
        json_t *info = json_loadb(text, size, 0, &json_error);
        if (!json_is_object(info) ||
            json_integer_value(json_object_get(info, "version")) != STATE_FORMAT_VERSION ||
            !json_is_object(json_object_get(info, "fingerprint"))) {
                json_decref(info);
                return vp_error_set(err, -EBADMSG, "%s is not a saved-state description of version %d", path,
                                    STATE_FORMAT_VERSION);
        }
        *ret = info;
        return 0;
}

/* Where a message should start showing two values: at the word (after a space or comma)
 * in which they first differ, so a long command line shows the changed option. */
static size_t difference_start(const char *a, const char *b)
{
        size_t i = 0;

        while (a[i] && a[i] == b[i])
                i++;
        while (i > 0 && a[i - 1] != ' ' && a[i - 1] != ',')
                i--;
        return i;
}

int vp_run_check_saved_state(const run_context *ctx, json_t *fingerprint, uint64_t ret_out_bytes[2],
                             bool *ret_compressed, vp_error *err)
{
        const char *state_path = ctx->options->state_path;
        _cleanup_(json_decrefp) json_t *info = NULL;
        const char *key;
        json_t *value;
        struct stat st;

        int r = load_state_info(state_path, &info, err);
        if (r < 0)
                return r;
        if (stat(state_path, &st) < 0)
                return vp_error_set_errno(err, -errno, "saved state %s", state_path);

        json_t *saved = json_object_get(info, "fingerprint");
        json_object_foreach(fingerprint, key, value) {
                json_t *old = json_object_get(saved, key);
                if (old && json_equal(old, value))
                        continue;
                _cleanup_free_ char *old_text = old ? json_dumps(old, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                _cleanup_free_ char *new_text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
                size_t skip = old_text && new_text ? difference_start(old_text, new_text) : 0;
                return vp_error_set(err, -ESTALE,
                                    "saved state %s does not match this VM: the %s changed since it was saved "
                                    "(saved: %s%.160s; now: %s%.160s). Resuming would corrupt the guest: undo "
                                    "the change, or discard the saved state",
                                    state_path, fingerprint_label(key), skip ? "..." : "",
                                    old_text ? old_text + skip : "nothing", skip ? "..." : "",
                                    new_text ? new_text + skip : "?");
        }

        const char *compression = json_string_value(json_object_get(info, "compression"));
        if (compression && strcmp(compression, "zstd") != 0)
                return vp_error_set(err, -EBADMSG, "saved state %s has unknown compression '%.32s'", state_path,
                                    compression);
        *ret_compressed = compression != NULL;

        json_t *bytes = json_object_get(info, "output_bytes");
        for (size_t i = 0; i < 2; i++) {
                json_t *v = json_array_get(bytes, i);
                ret_out_bytes[i] = json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t) json_integer_value(v)
                                                                                   : 0;
        }
        return 0;
}

/* --- suspend ------------------------------------------------------------------------------ */

static json_t *string_array(char *const *v)
{
        json_t *array = json_array();

        for (size_t i = 0; array && v && v[i]; i++)
                json_array_append_new(array, json_string(v[i]));
        return array;
}

/* Take in what the guest wrote before it stopped, so the saved byte counts are exact. */
static void drain_outputs(vm_attempt *a)
{
        char buffer[65536];

        for (int i = 0; i < 2; i++) {
                output_stream *s = &a->out[i];
                ssize_t n;
                while (s->fd >= 0 && (n = recv(s->fd, buffer, sizeof(buffer), MSG_DONTWAIT)) > 0) {
                        s->bytes += (uint64_t) n;
                        if (!s->broken && write(s->target_fd, buffer, (size_t) n) != n)
                                s->broken = true;
                }
        }
}

static int write_state_info(vm_attempt *a, json_t *fingerprint, uint64_t state_bytes, vp_error *err)
{
        const vp_run_options *o = a->ctx->options;
        _cleanup_free_ char *path = state_info_path(o->state_path);
        char saved[32];

        vp_format_utc(time(NULL), saved);
        json_t *info = json_pack("{s:i, s:s, s:s, s:I, s:O, s:{s:o, s:o}, s:[I, I]}", "version", STATE_FORMAT_VERSION,
                                 "saved", saved, "compression", "zstd", "state_bytes", (json_int_t) state_bytes, "fingerprint",
                                 fingerprint, "app", "argv", string_array(o->argv), "files",
                                 string_array(o->files), "output_bytes", (json_int_t) a->out[0].bytes,
                                 (json_int_t) a->out[1].bytes);
        _cleanup_free_ char *text = info ? json_dumps(info, JSON_INDENT(2)) : NULL;
        json_decref(info);
        if (!path || !text)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return vp_write_file_atomic(path, text, strlen(text), 0600, err);
}

/* Migrate through a pipe into "zstd -1", which writes fd, and wait for the end of both;
 * returns the compressed size. */
static int migrate_to(qmp_client *q, int fd, uint64_t *ret_bytes, vp_error *err)
{
        char *const argv[] = { "zstd", "-1", "-q", "-c", NULL };
        vp_spawn_options spawn = VP_SPAWN_OPTIONS_INIT;
        vp_spawn_result result = {};
        vp_child child = { .pid = -1 };
        int pipe_fds[2];
        int r;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "pipe");
        spawn.stdin_fd = pipe_fds[0];
        spawn.stdout_fd = fd;
        r = vp_spawn_start(argv, &spawn, &child, err);
        close(pipe_fds[0]);
        if (r < 0) {
                close(pipe_fds[1]);
                return r;
        }

        /* QEMU keeps its own copy of the write end: zstd reads end of file once QEMU closes
         * it after the migration. */
        r = qmp_execute(q, "getfd", json_pack("{s:s}", "fdname", STATE_FD_NAME), pipe_fds[1], NULL, err);
        close(pipe_fds[1]);
        r = r ?: qmp_execute(q, "migrate", json_pack("{s:s}", "uri", "fd:" STATE_FD_NAME), -1, NULL, err);

        int64_t deadline = vp_run_now_ms() + MIGRATE_TIMEOUT_MS;
        while (r == 0) {
                _cleanup_free_ char *error = NULL;
                _cleanup_free_ char *status = qmp_query_status(q, "query-migrate", &error, err);
                if (!status)
                        r = err->code;
                else if (strcmp(status, "completed") == 0)
                        break;
                else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0)
                        r = vp_error_set(err, -EIO, "saving the VM state %s: %s", status,
                                         error ? error : "QEMU gave no reason");
                else if (vp_run_now_ms() > deadline) {
                        vp_error ignored = {};
                        (void) qmp_execute(q, "migrate_cancel", NULL, -1, NULL, &ignored);
                        r = vp_error_set(err, -ETIMEDOUT, "saving the VM state took longer than %d s",
                                         MIGRATE_TIMEOUT_MS / 1000);
                } else
                        poll(NULL, 0, MIGRATE_POLL_MS);
        }

        if (r < 0) {
                /* QEMU may still hold the pipe (a "getfd" that no migration used), so zstd
                 * would never read end of file. */
                vp_error ignored = {};
                (void) qmp_execute(q, "closefd", json_pack("{s:s}", "fdname", STATE_FD_NAME), -1, NULL, &ignored);
                kill(child.pid, SIGKILL);
                (void) vp_spawn_wait(&child, &spawn, &result, &ignored);
                return r;
        }
        r = vp_spawn_wait(&child, &spawn, &result, err);
        if (r < 0)
                return r;
        if (!result.exited || result.exit_status != 0)
                return vp_error_set(err, -EIO, "zstd failed compressing the VM state (%s %d)",
                                    result.exited ? "exit status" : "signal",
                                    result.exited ? result.exit_status : result.signal);

        struct stat st;
        if (fsync(fd) < 0 || fstat(fd, &st) < 0)
                return vp_error_set_errno(err, -errno, "writing the saved state");
        *ret_bytes = (uint64_t) st.st_size;
        return 0;
}

/* Start "zstd -d" on the compressed state file and return the pipe's read end for QEMU's
 * -incoming fd:N. */
int vp_run_start_decompress(const char *state_path, vp_child *ret_child, vp_error *err)
{
        char *const argv[] = { "zstd", "-d", "-q", "-c", NULL };
        vp_spawn_options spawn = VP_SPAWN_OPTIONS_INIT;
        _cleanup_close_ int state_fd = open(state_path, O_RDONLY | O_CLOEXEC);
        int pipe_fds[2];

        if (state_fd < 0)
                return vp_error_set_errno(err, -errno, "opening saved state %s", state_path);
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "pipe");
        spawn.stdin_fd = state_fd;
        spawn.stdout_fd = pipe_fds[1];
        int r = vp_spawn_start(argv, &spawn, ret_child, err);
        close(pipe_fds[1]);
        if (r < 0) {
                close(pipe_fds[0]);
                return r;
        }
        return pipe_fds[0];
}

void vp_run_stop_decompress(vp_child *child)
{
        vp_spawn_options spawn = VP_SPAWN_OPTIONS_INIT;
        vp_spawn_result result;
        vp_error ignored = {};

        if (child->pid <= 0)
                return;
        /* QEMU has read the whole stream by now, or failed; zstd's status adds nothing. */
        kill(child->pid, SIGKILL);
        (void) vp_spawn_wait(child, &spawn, &result, &ignored);
        child->pid = -1;
}

int vp_run_suspend(vm_attempt *a, json_t *fingerprint, vp_error *err)
{
        const vp_run_options *o = a->ctx->options;
        _cleanup_free_ char *tmp_path = vp_strdup_printf("%s.tmp", o->state_path);
        qmp_client q = { .fd = -1 };
        uint64_t state_bytes = 0;
        int r;

        if (!tmp_path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!fingerprint)
                return vp_error_set(err, -EINVAL, "no fingerprint for this VM");

        _cleanup_close_ int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "creating %s", tmp_path);

        r = qmp_open(a->ctx->qmp_path, a->pid, &q, err);
        if (r < 0)
                goto fail;
        r = qmp_execute(&q, "stop", NULL, -1, NULL, err);
        if (r < 0)
                goto fail;
        drain_outputs(a);

        r = migrate_to(&q, fd, &state_bytes, err);
        if (r < 0)
                goto cont;
        if (rename(tmp_path, o->state_path) < 0) {
                r = vp_error_set_errno(err, -errno, "renaming %s", tmp_path);
                goto cont;
        }
        r = write_state_info(a, fingerprint, state_bytes, err);
        if (r < 0) {
                unlink(o->state_path);
                goto cont;
        }
        qmp_close(&q);
        a->suspended = true;
        return 0;

cont: {
        /* Keep the first error: the guest runs on as if nothing happened. */
        vp_error ignored = {};
        (void) qmp_execute(&q, "cont", NULL, -1, NULL, &ignored);
}
fail:
        qmp_close(&q);
        unlink(tmp_path);
        return vp_error_prefix(err, "suspend");
}

/* --- resume ------------------------------------------------------------------------------- */

/* Whether "zstd -d" has exited with an error, without reaping it (vp_run_stop_decompress
 * does). QEMU 7.2 stays in "inmigrate" when its incoming stream ends before the first
 * byte of a state, so the decompressor's failure is the only sign of a damaged file. */
static int check_decompressor(const run_context *ctx, vp_error *err)
{
        siginfo_t info = {};

        if (ctx->decompressor.pid <= 0)
                return 0;
        if (waitid(P_PID, (id_t) ctx->decompressor.pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 ||
            info.si_pid == 0)
                return 0;
        if (info.si_code == CLD_EXITED && info.si_status == 0)
                return 0;

        char message[256] = "";
        int fd = ctx->decompressor.error_fd;
        if (fd >= 0) {
                ssize_t n = read(fd, message, sizeof(message) - 1);
                n = n > 0 ? (ssize_t) strcspn(message, "\n") : 0;
                while (n > 0 && (message[n - 1] == ' ' || message[n - 1] == '\r'))
                        n--;
                message[n] = '\0';
        }
        if (info.si_code == CLD_EXITED)
                return vp_error_set(err, -EBADMSG,
                                    "the saved state %s is damaged: zstd failed to decompress it "
                                    "(exit status %d%s%s). Stop the instance to discard the state, "
                                    "then start it again",
                                    ctx->options->state_path, info.si_status, message[0] ? ": " : "", message);
        return vp_error_set(err, -EIO, "zstd was killed by signal %d while decompressing the saved state %s",
                            info.si_status, ctx->options->state_path);
}

int vp_run_resume_continue(vm_attempt *a, vp_error *err)
{
        qmp_client q = { .fd = -1 };
        int64_t deadline = vp_run_now_ms() + MIGRATE_TIMEOUT_MS;
        int r;

        r = qmp_open(a->ctx->qmp_path, a->pid, &q, err);
        if (r < 0)
                return vp_error_prefix(err, "resume");
        for (;;) {
                _cleanup_free_ char *status = qmp_query_status(&q, "query-status", NULL, err);
                if (!status) {
                        r = err->code;
                        goto out;
                }
                if (strcmp(status, "inmigrate") != 0)
                        break;
                r = check_decompressor(a->ctx, err);
                if (r < 0)
                        goto out;
                if (vp_run_now_ms() > deadline) {
                        r = vp_error_set(err, -ETIMEDOUT, "loading the saved state took longer than %d s",
                                         MIGRATE_TIMEOUT_MS / 1000);
                        goto out;
                }
                poll(NULL, 0, MIGRATE_POLL_MS);
        }
        r = qmp_execute(&q, "cont", NULL, -1, NULL, err);
out:
        qmp_close(&q);
        return r < 0 ? vp_error_prefix(err, "resume") : 0;
}

/* --- saved state on disk ------------------------------------------------------------------ */

static char **strings_from(json_t *array)
{
        char **v = strv_new();
        json_t *item;
        size_t i;

        json_array_foreach(array, i, item) {
                if (!v || !json_is_string(item) || strv_extend(&v, json_string_value(item)) < 0)
                        return strv_free(v);
        }
        return v;
}

int vp_run_read_saved_app(const char *state_path, char ***ret_argv, char ***ret_files, vp_error *err)
{
        _cleanup_(json_decrefp) json_t *info = NULL;

        int r = load_state_info(state_path, &info, err);
        if (r < 0)
                return r;
        json_t *app = json_object_get(info, "app");
        char **argv = strings_from(json_object_get(app, "argv"));
        char **files = strings_from(json_object_get(app, "files"));
        if (!argv || !files || !argv[0]) {
                strv_free(argv);
                strv_free(files);
                return vp_error_set(err, -EBADMSG, "%s.json has no valid app argv", state_path);
        }
        *ret_argv = argv;
        *ret_files = files;
        return 0;
}

int vp_run_discard_state(const char *state_path, vp_error *err)
{
        _cleanup_free_ char *info = state_info_path(state_path);
        _cleanup_free_ char *tmp = vp_strdup_printf("%s.tmp", state_path);

        if (!info || !tmp)
                return vp_error_set(err, -ENOMEM, "out of memory");
        /* The description goes first: without it, a leftover state file is never loaded. */
        if (unlink(info) < 0 && errno != ENOENT)
                return vp_error_set_errno(err, -errno, "deleting %s", info);
        if (unlink(state_path) < 0 && errno != ENOENT)
                return vp_error_set_errno(err, -errno, "deleting %s", state_path);
        if (unlink(tmp) < 0 && errno != ENOENT)
                return vp_error_set_errno(err, -errno, "deleting %s", tmp);
        return 0;
}
