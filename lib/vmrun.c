/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmrun-internal.h"

#include "accel.h"
#include "guest-protocol.h"
#include "initramfs.h"
#include "kernel.h"
#include "paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#define CONSOLE_TAIL_LINES 20
/* How far back from the console log's end vp_run_console_tail() looks for a kernel panic line. */
#define CONSOLE_PANIC_SCAN_BYTES (64 * 1024)

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

/* Find the first DRM render node that this user can open read-write, for virglrenderer in
 * QEMU. Sets *ret to its path, or NULL when there is none. Returns 0, or -ENOMEM. */
static int find_render_node(char **ret)
{
        *ret = NULL;
        /* The kernel numbers render nodes from 128, one per GPU. */
        for (int minor = 128; minor < 192; minor++) {
                char path[32];
                snprintf(path, sizeof(path), "/dev/dri/renderD%d", minor);
                int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        continue;
                close(fd);
                *ret = strdup(path);
                return *ret ? 0 : -ENOMEM;
        }
        return 0;
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
        /* The data volume is the second disk that render_spec() attaches. */
        if (o->data_path)
                r = r ?: config_append(f, "data", "/dev/vdb");
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
        /* The guest path is the rest of the line after the second ':', so it may contain
         * ':' too; config_append() escapes newlines and backslashes. */
        for (size_t i = 0; i < o->n_folders; i++) {
                _cleanup_free_ char *share = vp_strdup_printf("dir%zu:%s:%s", i + 1,
                                                              o->folders[i].writable ? "rw" : "ro",
                                                              o->folders[i].guest_path);
                r = r ?: (share ? config_append(f, "share", share) : -ENOMEM);
        }

        if (o->network == VP_VM_NETWORK_UPLINK)
                r = r ?: config_append(f, "net", VP_RUN_UPLINK_CONFIG);
        if (o->gui)
                r = r ?: config_append(f, "display", "wayland");
        /* render_spec() adds the sound card only to a graphical VM. */
        if (o->gui && o->audio)
                r = r ?: config_append(f, "audio", "1");
        if (o->gui && ctx->render_node)
                r = r ?: config_append(f, "gpu", "virgl");
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
        if (a->console_log_fd >= 0)
                close(a->console_log_fd);
        free(a->console_ring);
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

char *vp_run_console_tail(const char *path)
{
        static const char panic_marker[] = "Kernel panic - not syncing";
        _cleanup_free_ char *tail = read_tail(path, CONSOLE_TAIL_LINES);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buffer = NULL;
        const size_t size = CONSOLE_PANIC_SCAN_BYTES;
        struct stat st;

        if (!tail || fd < 0 || fstat(fd, &st) < 0 || !(buffer = malloc(size + 1)))
                return TAKE_PTR(tail);
        off_t start = st.st_size > (off_t) size ? st.st_size - (off_t) size : 0;
        ssize_t n = pread(fd, buffer, size, start);
        if (n <= 0)
                return TAKE_PTR(tail);
        buffer[n] = '\0';
        /* The console may hold NUL bytes; search only the text after the last one. */
        char *text = buffer;
        for (char *p = buffer; p < buffer + n; p++)
                if (*p == '\0')
                        text = p + 1;

        char *panic = NULL;
        for (char *p = text; (p = strstr(p, panic_marker)); p++)
                panic = p;
        if (!panic)
                return TAKE_PTR(tail);
        char *line_end = strchr(panic, '\n');
        size_t line_end_off = line_end ? (size_t) (line_end - text) : strlen(text);
        /* Is the panic line already part of the tail? */
        char *tail_start = text + strlen(text);
        while (tail_start > text && (tail_start[-1] == '\n' || tail_start[-1] == ' '))
                tail_start--;
        size_t tail_len = strlen(tail);
        if ((size_t) (tail_start - text) < tail_len || (size_t) (tail_start - text) - tail_len <= line_end_off)
                return TAKE_PTR(tail);

        char *from = panic;
        while (from > text && from[-1] != '\n')
                from--;
        if (from > text) {
                from--;
                while (from > text && from[-1] != '\n')
                        from--;
        }
        return vp_strdup_printf("%.*s\n...\n%s", (int) (text + line_end_off - from), from, tail);
}

/* Whether the file at path contains needle (shorter than 256 bytes); false when it cannot
 * be read. */
static bool file_contains(const char *path, const char *needle)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t len = strlen(needle), kept = 0;
        char buffer[65536 + 256];
        ssize_t n;

        if (fd < 0 || len == 0 || len >= 256)
                return false;
        while ((n = read(fd, buffer + kept, sizeof(buffer) - kept)) > 0) {
                size_t have = kept + (size_t) n;
                if (memmem(buffer, have, needle, len))
                        return true;
                /* Keep the last len - 1 bytes: the needle may straddle two reads. */
                kept = have < len - 1 ? have : len - 1;
                memmove(buffer, buffer + have - kept, kept);
        }
        return false;
}

/* Connect to a unix socket and close it again: 0 when a server listens, else -errno. A
 * server that died leaves its socket file behind, which fails with -ECONNREFUSED. */
static int probe_unix_socket(const char *path)
{
        struct sockaddr_un address = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(address.sun_path))
                return -ENAMETOOLONG;
        memcpy(address.sun_path, path, strlen(path) + 1);

        /* Non-blocking, so that a full listen backlog cannot stall the run: connect then
         * fails with EAGAIN, and a server is there. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &address, sizeof(address)) < 0 && errno != EAGAIN)
                return -errno;
        return 0;
}

/* The socket path of a PulseAudio server address that names exactly one unix socket
 * ("unix:PATH" or "/PATH"), else NULL. */
static const char *pulse_unix_path(const char *server)
{
        const char *path = vp_str_startswith(server, "unix:") ? server + strlen("unix:") : server;

        if (path[0] != '/' || strpbrk(path, " \t\n"))
                return NULL;
        return path;
}

/*
 * Find the PulseAudio server for QEMU's pa audiodev (PipeWire's pulse server counts):
 * PULSE_SERVER, else the socket $XDG_RUNTIME_DIR/pulse/native when it exists. QEMU gets it
 * as server=, because without that option QEMU 7.2 connects only when
 * $XDG_RUNTIME_DIR/pulse/pid exists, and PULSE_SERVER alone does not help. A server that is
 * one unix socket must accept a connection, because QEMU does not start when its server
 * is unreachable. Without a usable server, sets *ret to NULL and *ret_reason to a sentence
 * for the user.
 */
static int find_pulse_server(char **ret, char **ret_reason)
{
        const char *environment_server = getenv("PULSE_SERVER");
        const char *runtime_dir = getenv("XDG_RUNTIME_DIR");
        bool from_environment = environment_server && *environment_server;
        _cleanup_free_ char *server = NULL;
        _cleanup_free_ char *reason = NULL;

        if (from_environment) {
                server = strdup(environment_server);
                if (!server)
                        return -ENOMEM;
        } else if (runtime_dir && *runtime_dir) {
                _cleanup_free_ char *native = vp_strdup_printf("%s/pulse/native", runtime_dir);
                if (!native)
                        return -ENOMEM;
                if (access(native, F_OK) == 0) {
                        server = vp_strdup_printf("unix:%s", native);
                        if (!server)
                                return -ENOMEM;
                }
        }

        if (server) {
                const char *path = pulse_unix_path(server);
                int r = path ? probe_unix_socket(path) : 0;
                if (r == 0) {
                        *ret = TAKE_PTR(server);
                        *ret_reason = NULL;
                        return 0;
                }
                reason = vp_strdup_printf("the PulseAudio server %s (from %s) does not accept connections (%s)", server,
                                          from_environment ? "PULSE_SERVER" : "$XDG_RUNTIME_DIR/pulse/native",
                                          strerror(-r));
        } else {
                reason = strdup("no PulseAudio or PipeWire server found (PULSE_SERVER, "
                                "$XDG_RUNTIME_DIR/pulse/native)");
        }
        if (!reason)
                return -ENOMEM;
        *ret = NULL;
        *ret_reason = TAKE_PTR(reason);
        return 0;
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
                /* QEMU writes the console into a FIFO that vmrun copies to the capped
                 * console_path (vp_run_open_console()). */
                .console_log = ctx->console_pipe_path,
                .qmp_socket = ctx->qmp_path,
                .network = o->network,
                .rng = true,
                .config_file = ctx->config_path,
        };
        _cleanup_strv_free_ char **share_paths = strv_new();
        char share_tags[VP_VM_MAX_SHARES][16];
        size_t n_files = 0;
        _cleanup_free_ char *spice_path = NULL;

        if (o->gui) {
                spec.headless = false;
                spec.gpu = true;
                spec.display = o->display;
                spec.name = o->window_title ? o->window_title : o->image_name;
                spec.audio = o->audio;
                spec.microphone = o->microphone;
                if (o->audio) {
                        spec.audio_server = ctx->audio_server;
                        if (!ctx->audio_server)
                                spec.audio_driver = "none";
                }
                spec.clipboard = o->clipboard;
                spec.render_node = ctx->render_node;
                if (o->display == VP_DISPLAY_SPICE) {
                        spice_path = vp_strdup_printf("%s/spice.sock", ctx->runtime_dir);
                        if (!spice_path)
                                return vp_error_set(err, -ENOMEM, "out of memory");
                        if (strlen(spice_path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                                return vp_error_set(err, -ENAMETOOLONG,
                                                    "SPICE socket path %s is too long (set VMPACK_RUNTIME_DIR "
                                                    "to a shorter directory)",
                                                    spice_path);
                        spec.spice_socket = spice_path;
                }
        }

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
        if (o->data_path)
                spec.disks[spec.n_disks++] = (vp_vm_disk) { .path = o->data_path, .format = "qcow2" };

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
                n_files++;
        }

        /* QEMU opens each folder through its inherited descriptor (vp_run_exec_qemu()
         * clears CLOEXEC on it), so the path the caller resolved is never looked up again. */
        for (size_t i = 0; i < o->n_folders; i++) {
                size_t index = n_files + i;
                if (index >= VP_VM_MAX_SHARES)
                        return vp_error_set(err, -E2BIG, "too many files and folders to share (max %d)",
                                            VP_VM_MAX_SHARES);
                if (!share_paths || strv_extendf(&share_paths, "/proc/self/fd/%d", o->folders[i].fd) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                snprintf(share_tags[index], sizeof(share_tags[index]), "dir%zu", i + 1);
                spec.shares[spec.n_shares++] = (vp_vm_share) {
                        .tag = share_tags[index],
                        .host_path = share_paths[index],
                        .readonly = !o->folders[i].writable,
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

/* Fork the child that becomes QEMU and wait until its exec succeeded. Closes the n_fds
 * qemu_fds, which the child inherits, in the parent. */
static int start_qemu(run_context *ctx, vm_attempt *a, char **argv, int *qemu_fds, size_t n_fds, vp_error *err)
{
        _cleanup_close_ int error_read = -EBADF;
        int error_pipe[2];
        char child_error[1024];

        if (pipe2(error_pipe, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "pipe");
        error_read = error_pipe[0];

        a->pid = fork();
        if (a->pid < 0) {
                close(error_pipe[1]);
                return vp_error_set_errno(err, -errno, "fork");
        }
        if (a->pid == 0) {
                close(error_pipe[0]);
                vp_run_exec_qemu(ctx, argv, qemu_fds, n_fds, error_pipe[1]);
        }
        a->start_ms = vp_run_now_ms();
        close(error_pipe[1]);
        for (size_t i = 0; i < n_fds; i++) {
                close(qemu_fds[i]);
                qemu_fds[i] = -1;
        }

        a->pidfd = (int) syscall(SYS_pidfd_open, a->pid, 0);
        if (a->pidfd < 0) {
                int r = vp_error_set_errno(err, -errno, "pidfd_open");
                kill(a->pid, SIGKILL);
                waitpid(a->pid, NULL, 0);
                return r;
        }

        /* End-of-file here means exec succeeded; text is the child's setup error. */
        ssize_t n = read(error_read, child_error, sizeof(child_error) - 1);
        if (n > 0) {
                child_error[n] = '\0';
                waitpid(a->pid, NULL, 0);
                return vp_error_set(err, -EIO, "starting QEMU: %s", child_error);
        }
        return 0;
}

/*
 * Return why KVM failed this attempt, or NULL when the attempt shows no KVM failure.
 * KVM failed when the watchdog fired, or when QEMU died naming KVM (a nested hypervisor
 * can reject -cpu host, e.g. "failed to set MSR"). Any other early death is reported as it
 * is, so a bad kernel does not mark KVM as broken.
 */
static char *kvm_failure_reason(const run_context *ctx, const vm_attempt *a)
{
        if (a->accel != VP_ACCEL_KVM || a->ready || a->exited || a->first_signal)
                return NULL;
        if (a->boot_timed_out)
                return vp_strdup_printf("within %d s", VP_KVM_BOOT_WATCHDOG_S);

        _cleanup_free_ char *qemu_error = read_tail(ctx->qemu_log_path, 3);
        if (!qemu_error || !strcasestr(qemu_error, "kvm"))
                return NULL;
        return vp_strdup_printf("(QEMU: %s)", strtok(qemu_error, "\n"));
}

/* Turn the finished attempt into the run's result, or into an error when QEMU ended
 * without the app's exit status. */
static int collect_result(const run_context *ctx, vm_attempt *a, int wait_status, vp_run_result *result,
                          vp_error *err)
{
        result->signal = a->first_signal;
        result->timed_out = a->timed_out;
        result->guest_error = TAKE_PTR(a->guest_error);

        if (a->suspended) {
                result->suspended = true;
                result->status = 0;
                return 0;
        }
        if (a->timed_out) {
                result->status = VP_STATUS_TIMEOUT;
                return 0;
        }
        if (a->exited) {
                result->status = a->status;
                return 0;
        }
        if (a->first_signal) {
                result->status = 128 + a->first_signal;
                return 0;
        }

        result->console_tail = vp_run_console_tail(ctx->console_path);
        _cleanup_free_ char *qemu_error = read_tail(ctx->qemu_log_path, 1);
        if (a->boot_timed_out)
                return vp_error_set(err, -ETIMEDOUT,
                                    "the guest did not start the app within %d s; VM stopped "
                                    "(run with -v to see the guest console)",
                                    VP_RUN_TCG_BOOT_TIMEOUT_S);
        if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGSYS)
                return vp_error_set(err, -EIO,
                                    "QEMU was killed by signal %d (SIGSYS) before the app exited: its seccomp "
                                    "sandbox (-sandbox) blocked a system call, such as starting another program",
                                    SIGSYS);
        if (WIFSIGNALED(wait_status))
                return vp_error_set(err, -EIO, "QEMU was killed by signal %d before the app exited",
                                    WTERMSIG(wait_status));
        if (WEXITSTATUS(wait_status) != 0 && qemu_error && strstr(qemu_error, "gtk initialization failed")) {
                const char *display = getenv("DISPLAY");
                return vp_error_set(err, -EIO,
                                    "QEMU failed with exit status %d: %s (is the X server at DISPLAY=%s running, "
                                    "and may this user connect to it? --display none runs without a window)",
                                    WEXITSTATUS(wait_status), qemu_error, display ? display : "");
        }
        if (WEXITSTATUS(wait_status) != 0 && qemu_error)
                return vp_error_set(err, -EIO, "QEMU failed with exit status %d: %s", WEXITSTATUS(wait_status),
                                    qemu_error);
        /* Closing QEMU's window, or its Machine > Quit, ends QEMU at once with status 0.
         * NOTE: the app gets no SIGTERM then, so it cannot save its work. */
        const vp_run_options *o = ctx->options;
        if (WEXITSTATUS(wait_status) == 0 && o->gui && (o->display == VP_DISPLAY_GTK || o->display == VP_DISPLAY_SDL))
                return vp_error_set(err, -EIO,
                                    "QEMU quit before the app exited: its window was closed, or the guest "
                                    "crashed (the guest console log tells which)");
        return vp_error_set(err, -EIO,
                            "QEMU exited with status %d before the app exited "
                            "(the guest crashed or failed to boot)",
                            WEXITSTATUS(wait_status));
}

/* Record the fingerprint for a later suspend and, when resuming, check the saved one and
 * add "-incoming fd:N" on the state file to argv and qemu_fds. */
static int prepare_state(run_context *ctx, vp_accel accel, char ***argv, int *qemu_fds, size_t *n_qemu_fds,
                         uint64_t saved_out_bytes[2], vp_error *err)
{
        const vp_run_options *o = ctx->options;

        json_decref(ctx->fingerprint);
        ctx->fingerprint = NULL;
        int r = vp_run_fingerprint(ctx, accel, *argv, &ctx->fingerprint, err);
        if (r < 0 || !o->resume)
                return r;

        bool compressed = false;
        r = vp_run_check_saved_state(ctx, ctx->fingerprint, saved_out_bytes, &compressed, err);
        if (r < 0)
                return r;
        vp_run_stop_decompress(&ctx->decompressor);
        int fd = compressed ? vp_run_start_decompress(o->state_path, &ctx->decompressor, err)
                            : open(o->state_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && !compressed)
                return vp_error_set_errno(err, -errno, "opening saved state %s", o->state_path);
        if (fd < 0)
                return fd;
        qemu_fds[(*n_qemu_fds)++] = fd;
        if (strv_extend(argv, "-incoming") < 0 || strv_extendf(argv, "fd:%d", fd) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

/* Continue a guest that QEMU loads from the saved state. The app already runs, so the
 * attempt starts "ready", with the output counts it had when it was saved. The state is
 * deleted once the guest runs: loading it again after the data volume changed would
 * corrupt the guest's filesystem. */
static int resume_guest(run_context *ctx, vm_attempt *a, const uint64_t saved_out_bytes[2], vp_error *err)
{
        const vp_run_options *o = ctx->options;
        vp_error discard_error = {};

        int r = vp_run_resume_continue(a, err);
        vp_run_stop_decompress(&ctx->decompressor);
        if (r < 0) {
                kill(a->pid, SIGKILL);
                waitpid(a->pid, NULL, 0);
                _cleanup_free_ char *qemu_error = read_tail(ctx->qemu_log_path, 2);
                _cleanup_free_ char *message = strdup(err->message);
                if (qemu_error && message)
                        vp_error_set(err, r, "%s (QEMU: %s)", message, qemu_error);
                return r;
        }
        a->ready = true;
        a->out[0].bytes = saved_out_bytes[0];
        a->out[1].bytes = saved_out_bytes[1];
        if (vp_run_discard_state(o->state_path, &discard_error) < 0)
                notify(o, "%s", discard_error.message);
        if (o->suspend_event)
                o->suspend_event(o->userdata, true, NULL);
        return 0;
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
                .console_log_fd = -1,
                .stdin_half_closed_fd = -1,
                .port_fds = { -1, -1, -1, -1 },
        };
        /* The port sockets, and the saved state's file when resuming. */
        int qemu_fds[N_PORTS + 1] = { -1, -1, -1, -1, -1 };
        size_t n_qemu_fds = N_PORTS;
        uint64_t saved_out_bytes[2] = { 0, 0 };
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
        if (o->state_path) {
                r = prepare_state(ctx, accel, &argv, qemu_fds, &n_qemu_fds, saved_out_bytes, err);
                if (r < 0)
                        goto out;
        }
        notify_command_line(o, argv);

        /* A fresh console log per attempt, so a failure shows this attempt's lines. */
        r = vp_run_open_console(ctx, &a, err);
        if (r < 0)
                goto out;
        unlink(ctx->qmp_path);

        r = start_qemu(ctx, &a, argv, qemu_fds, n_qemu_fds, err);
        if (r < 0)
                goto out;
        if (o->state_path && o->resume) {
                r = resume_guest(ctx, &a, saved_out_bytes, err);
                if (r < 0)
                        goto out;
        }

        int wait_status = vp_run_event_loop(&a);
        if (o->verbose && o->console_fd >= 0) {
                _cleanup_free_ char *qemu_messages = read_tail(ctx->qemu_log_path, 50);
                if (qemu_messages)
                        dprintf(o->console_fd, "%s\n", qemu_messages);
        }

        *ret_kvm_failure = kvm_failure_reason(ctx, &a);
        if (*ret_kvm_failure) {
                *ret_end = ATTEMPT_KVM_HANG;
                r = 0;
                goto out;
        }

        *ret_end = ATTEMPT_DONE;
        r = collect_result(ctx, &a, wait_status, result, err);
        /* The guest kernel logs this when it reads a damaged block or table of the root
         * filesystem, and the app sees only I/O errors.
         * NOTE: only the capped log is searched, so an error in its left-out middle is missed. */
        if (file_contains(ctx->console_path, "SQUASHFS error")) {
                result->rootfs_damaged = true;
                notify(o,
                       "image %s may be damaged: the guest kernel logged \"SQUASHFS error\" reading %s. "
                       "Check it with \"vmpack images --verify\"",
                       o->image_name ? o->image_name : o->rootfs_path, o->rootfs_path);
        }
out:
        for (size_t i = 0; i < ELEMENTSOF(qemu_fds); i++)
                if (qemu_fds[i] >= 0)
                        close(qemu_fds[i]);
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
        if (ctx->runtime_lock_fd >= 0)
                close(ctx->runtime_lock_fd);
        free(ctx->runtime_dir);
        if (ctx->options->qmp_path && ctx->qmp_path)
                (void) unlink(ctx->qmp_path);
        free(ctx->config_path);
        free(ctx->console_path);
        free(ctx->console_pipe_path);
        free(ctx->qmp_path);
        free(ctx->qemu_log_path);
        free(ctx->staging_dir);
        free(ctx->vmlinux);
        free(ctx->initrd);
        free(ctx->kernel_version);
        free(ctx->qemu_version);
        free(ctx->render_node);
        free(ctx->audio_server);
        json_decref(ctx->fingerprint);
        vp_run_stop_decompress(&ctx->decompressor);
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

/*
 * Each run directory holds a file "lock" that its run keeps flock()ed until it ends. The
 * file is created and locked as "lock.new", then renamed, so a "lock" that is free means
 * that the run which made it is gone (killed with SIGKILL, or its machine crashed).
 */
#define RUNTIME_LOCK "lock"

int vp_vm_remove_stale_runtime_dirs(void)
{
        _cleanup_free_ char *base = vp_path(VP_DIR_RUNTIME, NULL);
        DIR *dir;
        struct dirent *entry;
        int removed = 0;

        if (!base || !(dir = opendir(base)))
                return 0;
        while ((entry = readdir(dir))) {
                if (!vp_str_startswith(entry->d_name, "run-"))
                        continue;

                _cleanup_free_ char *path = vp_strdup_printf("%s/%s", base, entry->d_name);
                _cleanup_free_ char *lock = vp_strdup_printf("%s/%s/%s", base, entry->d_name, RUNTIME_LOCK);
                if (!path || !lock)
                        break;
                /* A directory without "lock" is being set up, or was made by an older vmpack: keep it. */
                _cleanup_close_ int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue;

                vp_error ignored = {};
                if (vp_rm_rf(path, &ignored) == 0)
                        removed++;
        }
        closedir(dir);
        return removed;
}

/* Create runtime_dir/lock and hold a flock on it until context_free(). */
static int lock_runtime_dir(run_context *ctx, vp_error *err)
{
        _cleanup_free_ char *new_path = vp_strdup_printf("%s/%s.new", ctx->runtime_dir, RUNTIME_LOCK);
        _cleanup_free_ char *path = vp_strdup_printf("%s/%s", ctx->runtime_dir, RUNTIME_LOCK);

        if (!new_path || !path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        ctx->runtime_lock_fd = open(new_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (ctx->runtime_lock_fd < 0)
                return vp_error_set_errno(err, -errno, "create %s", new_path);
        if (flock(ctx->runtime_lock_fd, LOCK_EX | LOCK_NB) < 0)
                return vp_error_set_errno(err, -errno, "lock %s", new_path);
        if (rename(new_path, path) < 0)
                return vp_error_set_errno(err, -errno, "rename %s to %s", new_path, path);
        return 0;
}

static int prepare_runtime_dir(run_context *ctx, vp_error *err)
{
        _cleanup_free_ char *base = NULL;
        int r;

        r = vp_path_ensure(VP_DIR_RUNTIME, NULL, &base, err);
        if (r < 0)
                return r;
        (void) vp_vm_remove_stale_runtime_dirs();

        ctx->runtime_dir = vp_strdup_printf("%s/run-XXXXXX", base);
        if (!ctx->runtime_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!mkdtemp(ctx->runtime_dir)) {
                r = vp_error_set_errno(err, -errno, "create a runtime directory in %s", base);
                free(ctx->runtime_dir);
                ctx->runtime_dir = NULL;
                return r;
        }
        r = lock_runtime_dir(ctx, err);
        if (r < 0)
                return r;

        ctx->config_path = vp_strdup_printf("%s/config", ctx->runtime_dir);
        ctx->console_path = vp_strdup_printf("%s/console.log", ctx->runtime_dir);
        ctx->console_pipe_path = vp_strdup_printf("%s/console.pipe", ctx->runtime_dir);
        ctx->qmp_path = ctx->options->qmp_path ? strdup(ctx->options->qmp_path)
                                               : vp_strdup_printf("%s/qmp.sock", ctx->runtime_dir);
        ctx->qemu_log_path = vp_strdup_printf("%s/qemu.log", ctx->runtime_dir);
        ctx->staging_dir = vp_strdup_printf("%s/files", ctx->runtime_dir);
        if (!ctx->config_path || !ctx->console_path || !ctx->console_pipe_path || !ctx->qmp_path ||
            !ctx->qemu_log_path || !ctx->staging_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");

        /* A unix socket path is limited to 107 bytes. */
        if (ctx->options->qmp_path) {
                struct stat st;
                if (strlen(ctx->qmp_path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                        return vp_error_set(err, -ENAMETOOLONG, "QMP socket path %s is too long (max %zu bytes)",
                                            ctx->qmp_path, sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
                /* The path is replaced at each boot attempt: never replace anything but a socket. */
                if (lstat(ctx->qmp_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
                        r = vp_error_set(err, -EEXIST, "QMP socket path %s exists and is not a socket",
                                         ctx->qmp_path);
                        free(ctx->qmp_path);
                        ctx->qmp_path = NULL;
                        return r;
                }
        }
        if (strlen(ctx->qmp_path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return vp_error_set(err, -ENAMETOOLONG,
                                    "runtime directory %s is too long for a socket path (set VMPACK_RUNTIME_DIR "
                                    "to a shorter one)",
                                    base);
        if (mkdir(ctx->staging_dir, 0700) < 0)
                return vp_error_set_errno(err, -errno, "mkdir %s", ctx->staging_dir);
        return 0;
}

/*
 * Check the squashfs superblock, so that a damaged image is named on the host instead of
 * failing as "mounting /dev/vda" in the guest. The layout is in Linux's
 * fs/squashfs/squashfs_fs.h: magic "hsqs" at offset 0, major version 4 at offset 28 and
 * bytes_used at offset 40, all little-endian.
 * NOTE: this reads 96 bytes and hashes nothing, so damage past the superblock still fails
 * only in the guest.
 */
static int check_squashfs(const vp_run_options *o, const struct stat *st, vp_error *err)
{
        const char *problem = NULL;
        uint8_t super[96];

        _cleanup_close_ int fd = open(o->rootfs_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "image %s", o->rootfs_path);
        ssize_t n = pread(fd, super, sizeof(super), 0);
        if (n < 0)
                return vp_error_set_errno(err, -errno, "read image %s", o->rootfs_path);

        uint64_t bytes_used = 0;
        for (int i = 7; i >= 0 && n == sizeof(super); i--)
                bytes_used = bytes_used << 8 | super[40 + i];
        if (n < (ssize_t) sizeof(super))
                problem = "it is shorter than a squashfs superblock";
        else if (memcmp(super, "hsqs", 4) != 0)
                problem = "it does not start with the squashfs magic \"hsqs\"";
        else if ((super[28] | super[29] << 8) != 4)
                problem = "its squashfs major version is not 4";
        else if (S_ISREG(st->st_mode) && bytes_used > (uint64_t) st->st_size)
                problem = "it is shorter than its superblock says (truncated)";
        if (!problem)
                return 0;

        /* A store image has a name that differs from its file path. */
        if (o->image_name && strcmp(o->image_name, o->rootfs_path) != 0)
                return vp_error_set(err, -EINVAL,
                                    "image file %s is damaged, not a valid squashfs image: %s. Rebuild it "
                                    "with 'vmpack build --rebuild RECIPE' (or 'vmpack import --force') or "
                                    "remove it with 'vmpack rmi %s'",
                                    o->rootfs_path, problem, o->image_name);
        return vp_error_set(err, -EINVAL, "not a valid squashfs image: %s", problem);
}

static bool guest_path_valid(const char *path)
{
        if (path[0] != '/' || strlen(path) >= 4096)
                return false;
        for (const char *s = path; (s = strchr(s, '/'));) {
                s++;
                size_t n = strcspn(s, "/");
                if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
        }
        return true;
}

static bool path_is_or_is_inside(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Folder shares: open directories at distinct, non-nested guest paths. A share inside
 * another would need its mount point created inside the other share, on the host. */
static int check_folders(const vp_run_options *o, vp_error *err)
{
        struct stat st;

        if (o->n_folders > 0 && !o->folders)
                return vp_error_set(err, -EINVAL, "%zu folders to share but no list", o->n_folders);
        for (size_t i = 0; i < o->n_folders; i++) {
                const vp_run_folder *f = &o->folders[i];
                const char *name = f->host_path;
                if (!name)
                        name = f->guest_path ? f->guest_path : "?";

                if (f->fd <= STDERR_FILENO || fstat(f->fd, &st) < 0)
                        return vp_error_set(err, -EBADF, "shared folder %s: invalid file descriptor %d", name, f->fd);
                if (!S_ISDIR(st.st_mode))
                        return vp_error_set(err, -ENOTDIR, "shared folder %s is not a directory", name);
                if (!f->guest_path || !guest_path_valid(f->guest_path) || strcmp(f->guest_path, "/") == 0)
                        return vp_error_set(err, -EINVAL,
                                            "shared folder %s: guest path '%s' is invalid (absolute, no empty, "
                                            "'.' or '..' component)",
                                            name, f->guest_path ? f->guest_path : "");
                if (o->files && o->files[0] && (path_is_or_is_inside(f->guest_path, VP_RUN_FILES_DIR) ||
                                                path_is_or_is_inside(VP_RUN_FILES_DIR, f->guest_path)))
                        return vp_error_set(err, -EINVAL, "shared folder %s: guest path %s overlaps the shared files at %s",
                                            name, f->guest_path, VP_RUN_FILES_DIR);
                for (size_t j = 0; j < i; j++) {
                        const char *other = o->folders[j].guest_path;
                        if (path_is_or_is_inside(f->guest_path, other) || path_is_or_is_inside(other, f->guest_path))
                                return vp_error_set(err, -EINVAL,
                                                    "shared folders %s and %s overlap in the VM; share only one of them",
                                                    f->guest_path, other);
                }
        }
        return 0;
}

static int check_inputs(const vp_run_options *o, vp_error *err)
{
        struct stat st;
        int r;

        if (!o->argv || !o->argv[0])
                return vp_error_set(err, -EINVAL, "no program to run (the image has no exec command: "
                                                  "use --entrypoint PROGRAM)");
        if (stat(o->rootfs_path, &st) < 0)
                return vp_error_set_errno(err, -errno, "image %s", o->rootfs_path);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return vp_error_set(err, -EINVAL, "image %s is not a file", o->rootfs_path);
        r = check_squashfs(o, &st, err);
        if (r < 0)
                return r;
        if (o->gui && o->machine != VP_MACHINE_Q35)
                return vp_error_set(err, -EINVAL, "a graphical app needs machine q35, not %s",
                                    vp_machine_to_string(o->machine));

        for (size_t i = 0; o->files && o->files[i]; i++) {
                if (o->files[i][0] != '/')
                        return vp_error_set(err, -EINVAL, "shared file '%s' is not an absolute path", o->files[i]);
                if (stat(o->files[i], &st) < 0)
                        return vp_error_set_errno(err, -errno, "shared file %s", o->files[i]);
                if (!S_ISREG(st.st_mode))
                        return vp_error_set(err, -EINVAL, "shared file %s is not a regular file", o->files[i]);
        }
        return check_folders(o, err);
}

/* Return true when the caller asked for KVM by name (--accel kvm or VMPACK_ACCEL=kvm), which
 * rules out the fallback to TCG. */
static bool kvm_requested(const vp_run_options *o)
{
        const char *env = getenv("VMPACK_ACCEL");
        vp_accel from_env;

        if (o->accel != VP_ACCEL_AUTO)
                return o->accel == VP_ACCEL_KVM;
        return env && *env && vp_accel_from_string(env, &from_env) == 0 && from_env == VP_ACCEL_KVM;
}

int vp_vm_run(const vp_run_options *options, vp_run_result *result, vp_error *err)
{
        run_context ctx = { .options = options, .runtime_lock_fd = -1, .decompressor = { .pid = -1 } };
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

        /* Chosen once, so that a retry under TCG keeps the choice and its notice. */
        if (options->gui && options->audio) {
                _cleanup_free_ char *reason = NULL;
                r = find_pulse_server(&ctx.audio_server, &reason);
                if (r < 0)
                        goto out;
                if (!ctx.audio_server)
                        notify(options, "%s: the app's sound is discarded", reason);
        }

        if (options->gui && options->virgl) {
                r = find_render_node(&ctx.render_node);
                if (r < 0)
                        goto out;
                if (!ctx.render_node)
                        notify(options, "gpu=virgl: no DRM render node (/dev/dri/renderD*) that this user can "
                                        "open, so the guest renders in software");
        }

        r = prepare_runtime_dir(&ctx, err);
        if (r < 0)
                goto out;
        if (options->gui && options->display == VP_DISPLAY_SPICE)
                notify(options, "the screen is on the SPICE socket %s/spice.sock (remote-viewer spice+unix://%s/spice.sock)",
                       ctx.runtime_dir, ctx.runtime_dir);
        r = write_config(&ctx, err);
        if (r < 0)
                goto out;

        r = attempt_run(&ctx, accel, result, &end, &kvm_failure, err);
        /* A server that is not a unix socket was not probed, and QEMU exits at start when
         * it cannot reach it: run again without sound rather than fail. */
        if (r < 0 && ctx.audio_server && strstr(err->message, "Could not init `pa' audio driver")) {
                notify(options, "the PulseAudio server %s (from %s) did not accept QEMU: the app's sound is discarded",
                       ctx.audio_server, getenv("PULSE_SERVER") ? "PULSE_SERVER" : "$XDG_RUNTIME_DIR/pulse/native");
                free(ctx.audio_server);
                ctx.audio_server = NULL;
                *err = (vp_error) {};
                r = attempt_run(&ctx, accel, result, &end, &kvm_failure, err);
        }
        if (r == 0 && end == ATTEMPT_KVM_HANG) {
                _cleanup_free_ char *cache = NULL;
                vp_error cache_error = {};

                r = vp_accel_remember_kvm_hang(ctx.kernel_version, ctx.qemu_version, &cache, &cache_error);
                if (kvm_requested(options)) {
                        r = vp_error_set(err, -ENODEV,
                                         "KVM did not boot the guest %s, and --accel kvm does not fall back "
                                         "(use --accel auto or tcg to run under TCG)",
                                         kvm_failure ? kvm_failure : "");
                        goto out;
                }
                notify(options,
                       "KVM did not boot the guest %s; using TCG (software emulation, slower). %s %s",
                       kvm_failure ? kvm_failure : "", r == 0 ? "Remembered in" : "Not remembered:",
                       r == 0 ? cache : cache_error.message);

                _cleanup_free_ char *ignored_reason = NULL;
                r = attempt_run(&ctx, VP_ACCEL_TCG, result, &end, &ignored_reason, err);
        }
out:
        context_free(&ctx);
        return r;
}
