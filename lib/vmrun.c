/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmrun.h"

#include "accel.h"
#include "guest-protocol.h"
#include "initramfs.h"
#include "kernel.h"
#include "paths.h"

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

/* How long a TCG boot may take before the app starts. A vmlinux boot takes 2 to 3 s under
 * TCG on a 2-core development machine; this leaves room for a loaded host. */
#define TCG_BOOT_TIMEOUT_S 120
/* After the exit event: how long to wait for the announced output bytes. */
#define DRAIN_TIMEOUT_MS 5000
/* After "poweroff" (or init's own power-off): how long QEMU may take to exit. */
#define POWEROFF_TIMEOUT_MS 10000
/* After "terminate": init sends SIGKILL after VP_TERMINATE_GRACE_S, then reports. */
#define TERMINATE_TIMEOUT_MS ((VP_TERMINATE_GRACE_S + 5) * 1000)
/* After QMP "quit": how long before SIGKILL. */
#define QUIT_TIMEOUT_MS 5000
#define CONSOLE_TAIL_LINES 20

enum port_index {
        PORT_AGENT,
        PORT_STDIN,
        PORT_STDOUT,
        PORT_STDERR,
        N_PORTS,
};

static const char *const port_names[N_PORTS] = {
        [PORT_AGENT] = VP_PORT_AGENT,
        [PORT_STDIN] = VP_PORT_STDIN,
        [PORT_STDOUT] = VP_PORT_STDOUT,
        [PORT_STDERR] = VP_PORT_STDERR,
};

/* Why one boot attempt ended. */
typedef enum attempt_end {
        ATTEMPT_DONE,     /* result->status is final */
        ATTEMPT_KVM_HANG, /* KVM did not reach "ready" in time: retry under TCG */
} attempt_end;

/* State shared by the attempts of one run. */
typedef struct run_context {
        const vp_run_options *options;
        char *runtime_dir;
        char *config_path;
        char *console_path;
        char *qmp_path;
        char *qemu_log_path; /* QEMU's stderr */
        char *staging_dir;
        char *vmlinux;
        char *initrd;
        char *kernel_version;
        char *qemu_version;
        unsigned long tsc_khz;
} run_context;

static void notify(const vp_run_options *o, const char *fmt, ...) _printf_(2, 3);
static void notify(const vp_run_options *o, const char *fmt, ...)
{
        char message[4096];
        va_list ap;

        if (!o->notice)
                return;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        o->notice(o->userdata, message);
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vp_run_result_clear(vp_run_result *result)
{
        free(result->guest_error);
        free(result->console_tail);
        *result = (vp_run_result) {};
}

char *vp_run_guest_file_path(size_t index, const char *host_path)
{
        const char *slash = strrchr(host_path, '/');
        const char *base = slash ? slash + 1 : host_path;

        return vp_strdup_printf("%s/%zu/%s", VP_RUN_FILES_DIR, index + 1, base);
}

/* --- guest configuration ------------------------------------------------------------ */

/* Append "key=value\n" with the escapes of guest-protocol.h. */
static int config_append(FILE *f, const char *key, const char *value)
{
        fprintf(f, "%s=", key);
        for (const char *p = value; *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else
                        fputc(*p, f);
        }
        fputc('\n', f);
        return ferror(f) ? -EIO : 0;
}

/* A hostname from the image name: a-z, 0-9 and '-', at most 63 characters. */
static void make_hostname(const char *image_name, char ret[64])
{
        const char *slash = strrchr(image_name, '/');
        const char *name = slash ? slash + 1 : image_name;
        size_t n = 0;

        for (const char *p = name; *p && *p != '.' && n < 63; p++) {
                char c = *p;
                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
                        ret[n++] = c;
                else
                        ret[n++] = '-';
        }
        if (n == 0)
                memcpy(ret, "app", (n = 3));
        ret[n] = '\0';
}

static int write_config(run_context *ctx, vp_error *err)
{
        const vp_run_options *o = ctx->options;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        char hostname[64], number[32];
        int r = 0;

        FILE *f = open_memstream(&text, &size);
        if (!f)
                return vp_error_set_errno(err, -errno, "open_memstream");

        make_hostname(o->image_name ? o->image_name : "app", hostname);
        snprintf(number, sizeof(number), "%d", VP_GUEST_CONFIG_VERSION);
        r = r ?: config_append(f, "version", number);
        r = r ?: config_append(f, "hostname", hostname);
        r = r ?: config_append(f, "root", "/dev/vda");
        snprintf(number, sizeof(number), "%d", VP_RUN_GUEST_UID);
        r = r ?: config_append(f, "uid", number);
        r = r ?: config_append(f, "user", VP_RUN_GUEST_USER);
        r = r ?: config_append(f, "home", VP_RUN_GUEST_HOME);
        r = r ?: config_append(f, "cwd", VP_RUN_GUEST_HOME);
        STRV_FOREACH(a, (char **) o->argv)
                r = r ?: config_append(f, "arg", *a);

        for (size_t i = 0; o->files && o->files[i]; i++) {
                _cleanup_free_ char *share = vp_strdup_printf("file%zu:%s:%s/%zu", i + 1,
                                                              o->files_writable ? "rw" : "ro",
                                                              VP_RUN_FILES_DIR, i + 1);
                r = r ?: (share ? config_append(f, "share", share) : -ENOMEM);
        }

        if (o->network == VP_VM_NETWORK_UPLINK)
                r = r ?: config_append(f, "net", VP_RUN_UPLINK_CONFIG);
        if (o->debug)
                r = r ?: config_append(f, "debug", "1");

        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r < 0)
                return vp_error_set_errno(err, r, "guest configuration");
        if (size > VP_GUEST_CONFIG_MAX)
                return vp_error_set(err, -E2BIG, "guest configuration is %zu bytes (max %d): shorten the arguments",
                                    size, VP_GUEST_CONFIG_MAX);

        return vp_write_file_atomic(ctx->config_path, text, size, 0600, err);
}

/* --- the QEMU child: private namespaces, staged files, exec ---------------------------- */

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
 * VP_RUN_GUEST_UID. Through 9p with security_model=none the guest sees owners as QEMU's
 * stat(2) reports them, and the guest kernel checks mode bits against them. Mapping the
 * host user to the app's uid makes the user's own files appear owned by the app, so a
 * 0600 file is readable and a --rw file writable by it, while QEMU keeps exactly the host
 * user's access rights (no capabilities survive the exec, because the mapped uid is not 0).
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
_noreturn_ static void exec_qemu(const run_context *ctx, char **argv, const int *keep_fds, size_t n_keep,
                                 int error_fd)
{
        const vp_run_options *o = ctx->options;
        char error[1024] = "";

        /* The port sockets are inherited through exec by number: clear CLOEXEC on them only. */
        for (size_t i = 0; i < n_keep; i++)
                fcntl(keep_fds[i], F_SETFD, 0);

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

        execvp(argv[0], argv);
        snprintf(error, sizeof(error), "exec %s: %s (is QEMU installed? run scripts/setup)", argv[0], strerror(errno));
        (void) !write(error_fd, error, strlen(error));
        _exit(VP_STATUS_VM_FAILURE);
}

/* --- the event loop --------------------------------------------------------------------- */

typedef struct output_stream {
        int fd;         /* our end of the port socket, -1 once closed */
        int target_fd;  /* where the bytes go */
        uint64_t bytes; /* received so far */
        bool broken;    /* target_fd failed (e.g. EPIPE): keep counting, stop writing */
} output_stream;

typedef struct vm_attempt {
        run_context *ctx;
        vp_accel accel;
        pid_t pid;
        int pidfd;
        int port_fds[N_PORTS];
        int console_fd;

        char agent_line[VP_AGENT_LINE_MAX];
        size_t agent_len;
        bool agent_overflow;

        output_stream out[2];
        char stdin_buffer[65536];
        size_t stdin_len, stdin_off;
        bool stdin_eof;
        int stdin_half_closed_fd;

        bool ready, exited, poweroff_sent, quit_sent, killed, terminate_sent;
        uint64_t expected_out[2];
        int status;
        int signals;
        int first_signal;
        bool timed_out;
        bool boot_timed_out;
        char *guest_error;

        int64_t start_ms, drain_deadline, poweroff_deadline, terminate_deadline, quit_deadline;
} vm_attempt;

static void write_all(output_stream *s, const char *data, size_t n)
{
        while (n > 0 && !s->broken) {
                ssize_t k = write(s->target_fd, data, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        s->broken = true;
                        break;
                }
                data += k;
                n -= (size_t) k;
        }
}

static void agent_send(vm_attempt *a, const char *request)
{
        char line[128];
        int n = snprintf(line, sizeof(line), "{\"request\":\"%s\"}\n", request);

        if (a->port_fds[PORT_AGENT] >= 0)
                (void) !send(a->port_fds[PORT_AGENT], line, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Send QMP "quit", or SIGKILL when the QMP socket does not respond. */
static void qmp_quit(vm_attempt *a)
{
        static const char commands[] = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";
        struct sockaddr_un address = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = 2 };
        char greeting[4096];

        if (a->quit_sent)
                return;
        a->quit_sent = true;
        a->quit_deadline = now_ms() + QUIT_TIMEOUT_MS;

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || strlen(a->ctx->qmp_path) >= sizeof(address.sun_path))
                goto kill;
        strcpy(address.sun_path, a->ctx->qmp_path);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &address, sizeof(address)) < 0)
                goto kill;
        if (recv(fd, greeting, sizeof(greeting), 0) <= 0)
                goto kill;
        if (send(fd, commands, sizeof(commands) - 1, MSG_NOSIGNAL) != (ssize_t) sizeof(commands) - 1)
                goto kill;
        /* Wait for both responses, or the close as QEMU exits, because QEMU drops commands
         * it has not read yet when the client disconnects. */
        for (int answers = 0; answers < 2;) {
                ssize_t n = recv(fd, greeting, sizeof(greeting) - 1, 0);
                if (n <= 0)
                        return;
                greeting[n] = '\0';
                for (char *p = greeting; (p = strstr(p, "\"return\"")); p++)
                        answers++;
        }
        return;
kill:
        kill(a->pid, SIGKILL);
        a->killed = true;
}

static void request_stop(vm_attempt *a)
{
        if (a->ready && !a->exited && !a->terminate_sent) {
                agent_send(a, "terminate");
                a->terminate_sent = true;
                a->terminate_deadline = now_ms() + TERMINATE_TIMEOUT_MS;
        } else if (!a->ready || a->exited) {
                qmp_quit(a);
        }
}

static int json_int(json_t *object, const char *key, json_int_t min, json_int_t max, json_int_t *ret)
{
        json_t *v = json_object_get(object, key);

        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return -EBADMSG;
        *ret = json_integer_value(v);
        return 0;
}

/* Handle one line from the guest agent. The guest is untrusted: anything malformed is
 * ignored rather than trusted. */
static void agent_handle_line(vm_attempt *a, const char *line)
{
        json_error_t json_error;
        json_t *message = json_loads(line, 0, &json_error);
        json_int_t status, out_bytes, err_bytes;

        if (!json_is_object(message))
                goto done;

        const char *event = json_string_value(json_object_get(message, "event"));
        if (!event)
                goto done;

        if (strcmp(event, "ready") == 0) {
                a->ready = true;
        } else if (strcmp(event, "exit") == 0 && !a->exited) {
                if (json_int(message, "status", 0, 255, &status) < 0 ||
                    json_int(message, "stdout_bytes", 0, INT64_MAX, &out_bytes) < 0 ||
                    json_int(message, "stderr_bytes", 0, INT64_MAX, &err_bytes) < 0)
                        goto done;
                a->exited = true;
                a->status = (int) status;
                a->expected_out[0] = (uint64_t) out_bytes;
                a->expected_out[1] = (uint64_t) err_bytes;
                a->drain_deadline = now_ms() + DRAIN_TIMEOUT_MS;
        } else if (strcmp(event, "error") == 0 && !a->exited) {
                if (json_int(message, "status", 1, 255, &status) < 0)
                        status = VP_STATUS_VM_FAILURE;
                const char *text = json_string_value(json_object_get(message, "message"));
                const char *reason = json_string_value(json_object_get(message, "reason"));
                a->exited = true;
                a->status = (int) status;
                free(a->guest_error);
                a->guest_error = text ? strndup(text, 1024)
                                      : vp_strdup_printf("vmpack-init failed (reason: %.64s)",
                                                         reason ? reason : "none given");
                a->drain_deadline = now_ms() + DRAIN_TIMEOUT_MS;
        }
done:
        json_decref(message);
}

static void agent_read(vm_attempt *a)
{
        char buffer[4096];
        ssize_t n = recv(a->port_fds[PORT_AGENT], buffer, sizeof(buffer), MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                close(a->port_fds[PORT_AGENT]);
                a->port_fds[PORT_AGENT] = -1;
                return;
        }

        for (ssize_t i = 0; i < n; i++) {
                char c = buffer[i];
                if (c == '\n') {
                        a->agent_line[a->agent_len] = '\0';
                        if (!a->agent_overflow)
                                agent_handle_line(a, a->agent_line);
                        a->agent_len = 0;
                        a->agent_overflow = false;
                } else if (a->agent_len + 1 < sizeof(a->agent_line)) {
                        a->agent_line[a->agent_len++] = c;
                } else {
                        a->agent_overflow = true;
                }
        }
}

static void output_read(output_stream *s)
{
        char buffer[65536];
        ssize_t n = recv(s->fd, buffer, sizeof(buffer), MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                close(s->fd);
                s->fd = -1;
                return;
        }
        s->bytes += (uint64_t) n;
        write_all(s, buffer, (size_t) n);
}

static void stdin_pump(vm_attempt *a, short revents_in, short revents_port)
{
        const vp_run_options *o = a->ctx->options;
        int port = a->port_fds[PORT_STDIN];

        if (port < 0)
                return;

        if (a->stdin_len == 0 && !a->stdin_eof && (revents_in & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = read(o->stdin_fd, a->stdin_buffer, sizeof(a->stdin_buffer));
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0)
                        a->stdin_eof = true;
                else {
                        a->stdin_len = (size_t) n;
                        a->stdin_off = 0;
                }
        }

        if (a->stdin_len > 0 && (revents_port & POLLOUT)) {
                ssize_t n = send(port, a->stdin_buffer + a->stdin_off, a->stdin_len - a->stdin_off,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0) {
                        a->stdin_off += (size_t) n;
                        if (a->stdin_off == a->stdin_len)
                                a->stdin_len = a->stdin_off = 0;
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        a->stdin_eof = true;
                        a->stdin_len = 0;
                }
        }

        /* Half-close and keep the socket open until QEMU exits: QEMU then reads what is
         * buffered, then end-of-file, and the guest's read of the port returns 0. A full
         * close would raise POLLHUP on QEMU's end, and QEMU drops unread bytes on hang-up. */
        if (a->stdin_eof && a->stdin_len == 0) {
                shutdown(port, SHUT_WR);
                a->stdin_half_closed_fd = port;
                a->port_fds[PORT_STDIN] = -1;
        }
}

static void console_copy(vm_attempt *a)
{
        char buffer[16384];
        ssize_t n;

        if (a->ctx->options->console_fd < 0)
                return;
        /* QEMU creates the log file some time after it starts. */
        if (a->console_fd < 0)
                a->console_fd = open(a->ctx->console_path, O_RDONLY | O_CLOEXEC);
        if (a->console_fd < 0)
                return;
        while ((n = read(a->console_fd, buffer, sizeof(buffer))) > 0)
                (void) !write(a->ctx->options->console_fd, buffer, (size_t) n);
}

static void handle_signal(vm_attempt *a)
{
        struct signalfd_siginfo info;
        const vp_run_options *o = a->ctx->options;

        if (read(o->signal_fd, &info, sizeof(info)) != sizeof(info))
                return;
        a->signals++;
        if (a->signals == 1)
                a->first_signal = (int) info.ssi_signo;
        if (a->signals == 1)
                request_stop(a);
        else
                qmp_quit(a);
}

/* Move the state machine on by the clock: drain, power off, escalate. */
static void check_deadlines(vm_attempt *a)
{
        const vp_run_options *o = a->ctx->options;
        int64_t now = now_ms();

        if (!a->ready && !a->exited && !a->quit_sent) {
                int64_t limit = a->accel == VP_ACCEL_KVM ? VP_KVM_BOOT_WATCHDOG_S : TCG_BOOT_TIMEOUT_S;
                if (now - a->start_ms > limit * 1000) {
                        a->boot_timed_out = true;
                        kill(a->pid, SIGKILL);
                        a->killed = a->quit_sent = true;
                        a->quit_deadline = now + QUIT_TIMEOUT_MS;
                }
        }

        if (o->timeout_s > 0 && !a->timed_out && !a->exited && now - a->start_ms > (int64_t) o->timeout_s * 1000) {
                a->timed_out = true;
                request_stop(a);
        }

        if (a->exited && !a->poweroff_sent) {
                bool drained = a->out[0].bytes >= a->expected_out[0] && a->out[1].bytes >= a->expected_out[1];
                if (drained || now > a->drain_deadline) {
                        agent_send(a, "poweroff");
                        a->poweroff_sent = true;
                        a->poweroff_deadline = now + POWEROFF_TIMEOUT_MS;
                }
        }

        if ((a->poweroff_sent && now > a->poweroff_deadline) ||
            (a->terminate_sent && !a->exited && now > a->terminate_deadline))
                qmp_quit(a);

        if (a->quit_sent && !a->killed && now > a->quit_deadline) {
                kill(a->pid, SIGKILL);
                a->killed = true;
        }
}

static int poll_timeout(const vm_attempt *a)
{
        /* Deadlines are checked at this tick; 100 ms keeps escalation prompt and costs
         * nothing measurable. */
        return 100;
}

/* Run the loop until QEMU exits; returns QEMU's wait status. */
static int event_loop(vm_attempt *a)
{
        const vp_run_options *o = a->ctx->options;
        int wait_status = 0;

        for (;;) {
                struct pollfd fds[8];
                size_t n = 0;
                int idx_signal = -1, idx_pid = -1, idx_agent = -1, idx_out = -1, idx_err = -1, idx_in = -1,
                    idx_port_in = -1;

                if (o->signal_fd >= 0) {
                        idx_signal = (int) n;
                        fds[n++] = (struct pollfd) { .fd = o->signal_fd, .events = POLLIN };
                }
                idx_pid = (int) n;
                fds[n++] = (struct pollfd) { .fd = a->pidfd, .events = POLLIN };
                if (a->port_fds[PORT_AGENT] >= 0) {
                        idx_agent = (int) n;
                        fds[n++] = (struct pollfd) { .fd = a->port_fds[PORT_AGENT], .events = POLLIN };
                }
                if (a->out[0].fd >= 0) {
                        idx_out = (int) n;
                        fds[n++] = (struct pollfd) { .fd = a->out[0].fd, .events = POLLIN };
                }
                if (a->out[1].fd >= 0) {
                        idx_err = (int) n;
                        fds[n++] = (struct pollfd) { .fd = a->out[1].fd, .events = POLLIN };
                }
                if (a->port_fds[PORT_STDIN] >= 0) {
                        if (a->stdin_len == 0 && !a->stdin_eof && o->stdin_fd >= 0) {
                                idx_in = (int) n;
                                fds[n++] = (struct pollfd) { .fd = o->stdin_fd, .events = POLLIN };
                        }
                        if (a->stdin_len > 0) {
                                idx_port_in = (int) n;
                                fds[n++] = (struct pollfd) { .fd = a->port_fds[PORT_STDIN], .events = POLLOUT };
                        }
                }

                int k = poll(fds, n, poll_timeout(a));
                if (k < 0 && errno != EINTR)
                        break;

                if (k > 0) {
                        if (idx_signal >= 0 && fds[idx_signal].revents)
                                handle_signal(a);
                        if (idx_agent >= 0 && fds[idx_agent].revents)
                                agent_read(a);
                        if (idx_out >= 0 && fds[idx_out].revents)
                                output_read(&a->out[0]);
                        if (idx_err >= 0 && fds[idx_err].revents)
                                output_read(&a->out[1]);
                        stdin_pump(a, idx_in >= 0 ? fds[idx_in].revents : 0,
                                   idx_port_in >= 0 ? fds[idx_port_in].revents : 0);
                }
                if (o->stdin_fd < 0 && !a->stdin_eof) {
                        a->stdin_eof = true;
                        stdin_pump(a, 0, 0);
                }
                console_copy(a);

                if (fds[idx_pid].revents) {
                        if (waitpid(a->pid, &wait_status, 0) == a->pid)
                                break;
                }
                check_deadlines(a);
        }

        /* QEMU is gone: collect what is still buffered in the sockets. */
        while (a->port_fds[PORT_AGENT] >= 0)
                agent_read(a);
        for (int i = 0; i < 2; i++)
                while (a->out[i].fd >= 0)
                        output_read(&a->out[i]);
        console_copy(a);
        return wait_status;
}

/* --- one boot attempt --------------------------------------------------------------------- */

static void attempt_close(vm_attempt *a)
{
        for (int i = 0; i < N_PORTS; i++)
                if (a->port_fds[i] >= 0)
                        close(a->port_fds[i]);
        for (int i = 0; i < 2; i++)
                if (a->out[i].fd >= 0)
                        close(a->out[i].fd);
        if (a->stdin_half_closed_fd >= 0)
                close(a->stdin_half_closed_fd);
        if (a->pidfd >= 0)
                close(a->pidfd);
        if (a->console_fd >= 0)
                close(a->console_fd);
        free(a->guest_error);
}

/* Return the last max_lines lines of a log file (at most 16 KiB), or NULL. */
static char *read_tail(const char *path, int max_lines)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buffer[16384];
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return NULL;
        off_t start = st.st_size > (off_t) sizeof(buffer) - 1 ? st.st_size - (off_t) sizeof(buffer) + 1 : 0;
        ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, start);
        if (n <= 0)
                return NULL;
        buffer[n] = '\0';

        while (n > 0 && (buffer[n - 1] == '\n' || buffer[n - 1] == ' '))
                buffer[--n] = '\0';
        char *p = buffer + n;
        int lines = 0;
        while (p > buffer) {
                if (p[-1] == '\n' && ++lines >= max_lines)
                        break;
                p--;
        }
        return *p ? strdup(p) : NULL;
}

static int render_spec(const run_context *ctx, vp_accel accel, const int *qemu_fds, char ***ret_argv,
                       char **ret_cmdline, vp_error *err)
{
        const vp_run_options *o = ctx->options;
        _cleanup_free_ char *cmdline = NULL;
        vp_vm_spec spec = {
                .machine = o->machine,
                .accel = accel,
                .cpus = o->cpus ? o->cpus : VP_RUN_DEFAULT_CPUS,
                .memory_mib = o->memory_mib ? o->memory_mib : VP_RUN_DEFAULT_MEMORY_MIB,
                .headless = true,
                .kernel = ctx->vmlinux,
                .initrd = ctx->initrd,
                .console_log = ctx->console_path,
                .qmp_socket = ctx->qmp_path,
                .network = o->network,
                .rng = true,
                .config_file = ctx->config_path,
        };
        _cleanup_strv_free_ char **share_paths = strv_new();
        char share_tags[VP_VM_MAX_SHARES][16];

        /* microvm has no HPET or PM timer: without the TSC frequency the kernel sometimes
         * hangs calibrating it. */
        if (o->machine == VP_MACHINE_MICROVM)
                cmdline = vp_strdup_printf("console=ttyS0 quiet panic=-1 rdinit=/init tsc_early_khz=%lu",
                                           ctx->tsc_khz);
        else
                cmdline = strdup("console=ttyS0 quiet panic=-1 rdinit=/init");
        if (!cmdline)
                return vp_error_set(err, -ENOMEM, "out of memory");
        spec.cmdline = cmdline;

        spec.disks[spec.n_disks++] = (vp_vm_disk) { .path = o->rootfs_path, .readonly = true };

        for (size_t i = 0; o->files && o->files[i]; i++) {
                if (i >= VP_VM_MAX_SHARES)
                        return vp_error_set(err, -E2BIG, "too many files to share (max %d)", VP_VM_MAX_SHARES);
                /* The staging tmpfs is mounted only inside QEMU's mount namespace. */
                if (!share_paths || strv_extendf(&share_paths, "%s/%zu", ctx->staging_dir, i + 1) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                snprintf(share_tags[i], sizeof(share_tags[i]), "file%zu", i + 1);
                spec.shares[spec.n_shares++] = (vp_vm_share) {
                        .tag = share_tags[i],
                        .host_path = share_paths[i],
                        .readonly = !o->files_writable,
                };
        }

        for (int i = 0; i < N_PORTS; i++)
                spec.ports[spec.n_ports++] = (vp_vm_port) { .name = port_names[i], .fd = qemu_fds[i] };

        int r = vp_qemu_render(&spec, ret_argv, err);
        if (r < 0)
                return r;
        *ret_cmdline = TAKE_PTR(cmdline);
        return 0;
}

static void notify_command_line(const vp_run_options *o, char **argv)
{
        _cleanup_free_ char *line = strv_join(argv, " ");

        if (o->verbose && line)
                notify(o, "QEMU command line: %s", line);
}

static int attempt_run(run_context *ctx, vp_accel accel, vp_run_result *result, attempt_end *ret_end,
                       char **ret_kvm_failure, vp_error *err)
{
        const vp_run_options *o = ctx->options;
        vm_attempt a = {
                .ctx = ctx,
                .accel = accel,
                .pid = -1,
                .pidfd = -1,
                .console_fd = -1,
                .stdin_half_closed_fd = -1,
                .port_fds = { -1, -1, -1, -1 },
        };
        int qemu_fds[N_PORTS] = { -1, -1, -1, -1 };
        int error_pipe[2] = { -1, -1 };
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *cmdline = NULL;
        int r;

        for (int i = 0; i < N_PORTS; i++) {
                int pair[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
                        r = vp_error_set_errno(err, -errno, "socketpair");
                        goto out;
                }
                a.port_fds[i] = pair[0];
                qemu_fds[i] = pair[1];
        }
        a.out[0] = (output_stream) { .fd = a.port_fds[PORT_STDOUT], .target_fd = o->stdout_fd };
        a.out[1] = (output_stream) { .fd = a.port_fds[PORT_STDERR], .target_fd = o->stderr_fd };
        a.port_fds[PORT_STDOUT] = a.port_fds[PORT_STDERR] = -1;

        r = render_spec(ctx, accel, qemu_fds, &argv, &cmdline, err);
        if (r < 0)
                goto out;
        notify_command_line(o, argv);

        /* A fresh console log per attempt, so a failure shows this attempt's lines. */
        unlink(ctx->console_path);
        unlink(ctx->qmp_path);

        if (pipe2(error_pipe, O_CLOEXEC) < 0) {
                r = vp_error_set_errno(err, -errno, "pipe");
                goto out;
        }

        a.pid = fork();
        if (a.pid < 0) {
                r = vp_error_set_errno(err, -errno, "fork");
                goto out;
        }
        if (a.pid == 0) {
                close(error_pipe[0]);
                exec_qemu(ctx, argv, qemu_fds, N_PORTS, error_pipe[1]);
        }
        a.start_ms = now_ms();
        close(error_pipe[1]);
        error_pipe[1] = -1;
        for (int i = 0; i < N_PORTS; i++) {
                close(qemu_fds[i]);
                qemu_fds[i] = -1;
        }

        a.pidfd = (int) syscall(SYS_pidfd_open, a.pid, 0);
        if (a.pidfd < 0) {
                r = vp_error_set_errno(err, -errno, "pidfd_open");
                kill(a.pid, SIGKILL);
                waitpid(a.pid, NULL, 0);
                goto out;
        }

        /* End-of-file here means exec succeeded; text is the child's setup error. */
        char child_error[1024];
        ssize_t n = read(error_pipe[0], child_error, sizeof(child_error) - 1);
        if (n > 0) {
                child_error[n] = '\0';
                waitpid(a.pid, NULL, 0);
                r = vp_error_set(err, -EIO, "starting QEMU: %s", child_error);
                goto out;
        }

        int wait_status = event_loop(&a);
        if (o->verbose && o->console_fd >= 0) {
                _cleanup_free_ char *qemu_messages = read_tail(ctx->qemu_log_path, 50);
                if (qemu_messages)
                        dprintf(o->console_fd, "%s\n", qemu_messages);
        }

        if (accel == VP_ACCEL_KVM && !a.ready && !a.exited && !a.first_signal) {
                /* KVM failed when the watchdog fired, or when QEMU died naming KVM (a nested
                 * hypervisor can reject -cpu host, e.g. "failed to set MSR"). Any other early
                 * death is reported as it is, so a bad kernel does not mark KVM as broken. */
                _cleanup_free_ char *qemu_error = read_tail(ctx->qemu_log_path, 3);
                if (a.boot_timed_out || (qemu_error && strcasestr(qemu_error, "kvm"))) {
                        *ret_kvm_failure = a.boot_timed_out
                                                   ? vp_strdup_printf("within %d s", VP_KVM_BOOT_WATCHDOG_S)
                                                   : vp_strdup_printf("(QEMU: %s)", strtok(qemu_error, "\n"));
                        *ret_end = ATTEMPT_KVM_HANG;
                        r = 0;
                        goto out;
                }
        }

        *ret_end = ATTEMPT_DONE;
        result->signal = a.first_signal;
        result->timed_out = a.timed_out;
        result->guest_error = TAKE_PTR(a.guest_error);

        if (a.timed_out) {
                result->status = VP_STATUS_TIMEOUT;
        } else if (a.exited) {
                result->status = a.status;
        } else if (a.first_signal) {
                result->status = 128 + a.first_signal;
        } else {
                result->console_tail = read_tail(ctx->console_path, CONSOLE_TAIL_LINES);
                _cleanup_free_ char *qemu_error = read_tail(ctx->qemu_log_path, 1);
                if (a.boot_timed_out)
                        r = vp_error_set(err, -ETIMEDOUT,
                                         "the guest did not start the app within %d s; VM stopped "
                                         "(run with -v to see the guest console)",
                                         TCG_BOOT_TIMEOUT_S);
                else if (WIFSIGNALED(wait_status))
                        r = vp_error_set(err, -EIO, "QEMU was killed by signal %d before the app exited",
                                         WTERMSIG(wait_status));
                else if (WEXITSTATUS(wait_status) != 0 && qemu_error)
                        r = vp_error_set(err, -EIO, "QEMU failed with exit status %d: %s", WEXITSTATUS(wait_status),
                                         qemu_error);
                else
                        r = vp_error_set(err, -EIO,
                                         "QEMU exited with status %d before the app exited "
                                         "(the guest crashed or failed to boot)",
                                         WEXITSTATUS(wait_status));
                goto out;
        }
        r = 0;
out:
        for (int i = 0; i < N_PORTS; i++)
                if (qemu_fds[i] >= 0)
                        close(qemu_fds[i]);
        if (error_pipe[0] >= 0)
                close(error_pipe[0]);
        if (error_pipe[1] >= 0)
                close(error_pipe[1]);
        attempt_close(&a);
        return r;
}

/* --- setup and teardown ------------------------------------------------------------------- */

static void context_free(run_context *ctx)
{
        if (ctx->runtime_dir) {
                vp_error ignored;
                (void) vp_rm_rf(ctx->runtime_dir, &ignored);
        }
        free(ctx->runtime_dir);
        free(ctx->config_path);
        free(ctx->console_path);
        free(ctx->qmp_path);
        free(ctx->qemu_log_path);
        free(ctx->staging_dir);
        free(ctx->vmlinux);
        free(ctx->initrd);
        free(ctx->kernel_version);
        free(ctx->qemu_version);
}

static int prepare_kernel(run_context *ctx, vp_error *err)
{
        _cleanup_kernel_ vp_kernel *kernel = NULL;
        _cleanup_free_ char *init = NULL;
        int r;

        r = vp_kernel_find(ctx->options->kernel, &kernel, err);
        if (r < 0)
                return vp_error_prefix(err, "guest kernel");
        r = vp_kernel_get_vmlinux(kernel, &ctx->vmlinux, err);
        if (r < 0)
                return vp_error_prefix(err, "guest kernel %s", kernel->vmlinuz);
        r = vp_find_helper("vmpack-init", &init, err);
        if (r < 0)
                return r;
        r = vp_initramfs_get(kernel, init, &ctx->initrd, err);
        if (r < 0)
                return vp_error_prefix(err, "initramfs");

        ctx->kernel_version = strdup(kernel->version);
        if (!ctx->kernel_version)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

static int prepare_runtime_dir(run_context *ctx, vp_error *err)
{
        _cleanup_free_ char *base = NULL;
        int r;

        r = vp_path_ensure(VP_DIR_RUNTIME, NULL, &base, err);
        if (r < 0)
                return r;

        ctx->runtime_dir = vp_strdup_printf("%s/run-XXXXXX", base);
        if (!ctx->runtime_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!mkdtemp(ctx->runtime_dir)) {
                r = vp_error_set_errno(err, -errno, "create a runtime directory in %s", base);
                free(ctx->runtime_dir);
                ctx->runtime_dir = NULL;
                return r;
        }

        ctx->config_path = vp_strdup_printf("%s/config", ctx->runtime_dir);
        ctx->console_path = vp_strdup_printf("%s/console.log", ctx->runtime_dir);
        ctx->qmp_path = vp_strdup_printf("%s/qmp.sock", ctx->runtime_dir);
        ctx->qemu_log_path = vp_strdup_printf("%s/qemu.log", ctx->runtime_dir);
        ctx->staging_dir = vp_strdup_printf("%s/files", ctx->runtime_dir);
        if (!ctx->config_path || !ctx->console_path || !ctx->qmp_path || !ctx->qemu_log_path ||
            !ctx->staging_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");

        /* A unix socket path is limited to 107 bytes. */
        if (strlen(ctx->qmp_path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return vp_error_set(err, -ENAMETOOLONG,
                                    "runtime directory %s is too long for a socket path (set VMPACK_RUNTIME_DIR "
                                    "to a shorter one)",
                                    base);
        if (mkdir(ctx->staging_dir, 0700) < 0)
                return vp_error_set_errno(err, -errno, "mkdir %s", ctx->staging_dir);
        return 0;
}

static int check_inputs(const vp_run_options *o, vp_error *err)
{
        struct stat st;

        if (!o->argv || !o->argv[0])
                return vp_error_set(err, -EINVAL, "no program to run (the image has no exec command: "
                                                  "use --entrypoint PROGRAM)");
        if (stat(o->rootfs_path, &st) < 0)
                return vp_error_set_errno(err, -errno, "image %s", o->rootfs_path);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return vp_error_set(err, -EINVAL, "image %s is not a file", o->rootfs_path);

        for (size_t i = 0; o->files && o->files[i]; i++) {
                if (o->files[i][0] != '/')
                        return vp_error_set(err, -EINVAL, "shared file '%s' is not an absolute path", o->files[i]);
                if (stat(o->files[i], &st) < 0)
                        return vp_error_set_errno(err, -errno, "shared file %s", o->files[i]);
                if (!S_ISREG(st.st_mode))
                        return vp_error_set(err, -EINVAL, "shared file %s is not a regular file", o->files[i]);
        }
        return 0;
}

int vp_vm_run(const vp_run_options *options, vp_run_result *result, vp_error *err)
{
        run_context ctx = { .options = options };
        _cleanup_free_ char *notice = NULL;
        _cleanup_free_ char *kvm_failure = NULL;
        vp_accel accel;
        attempt_end end = ATTEMPT_DONE;
        int r;

        *result = (vp_run_result) {};

        r = check_inputs(options, err);
        if (r < 0)
                goto out;
        r = prepare_kernel(&ctx, err);
        if (r < 0)
                goto out;
        r = vp_qemu_get_version(NULL, &ctx.qemu_version, err);
        if (r < 0)
                goto out;
        r = vp_host_tsc_khz(&ctx.tsc_khz, err);
        if (r < 0)
                goto out;

        r = vp_accel_choose(options->accel, ctx.kernel_version, ctx.qemu_version, &accel, &notice, err);
        if (r < 0)
                goto out;
        if (notice)
                notify(options, "%s", notice);

        r = prepare_runtime_dir(&ctx, err);
        if (r < 0)
                goto out;
        r = write_config(&ctx, err);
        if (r < 0)
                goto out;

        r = attempt_run(&ctx, accel, result, &end, &kvm_failure, err);
        if (r == 0 && end == ATTEMPT_KVM_HANG) {
                _cleanup_free_ char *cache = NULL;
                vp_error cache_error = {};

                r = vp_accel_remember_kvm_hang(ctx.kernel_version, ctx.qemu_version, &cache, &cache_error);
                notify(options,
                       "KVM did not boot the guest %s; using TCG (software emulation, slower). %s %s",
                       kvm_failure ? kvm_failure : "", r == 0 ? "Remembered in" : "Not remembered:",
                       r == 0 ? cache : cache_error.message);
                r = attempt_run(&ctx, VP_ACCEL_TCG, result, &end, &kvm_failure, err);
        }
out:
        context_free(&ctx);
        return r;
}
