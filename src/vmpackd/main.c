/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpackd.h"

#include "config.h"
#include "paths.h"

#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#define SESSION_IDLE_EXIT_S 300

/* Under systemd the journal adds time and process; elsewhere we add the time ourselves. */
static bool log_to_journal;

void log_message(const char *instance, const char *fmt, ...)
{
        char stamp[32] = "";
        va_list ap;

        if (!log_to_journal) {
                struct timespec ts;
                struct tm tm;
                clock_gettime(CLOCK_REALTIME, &ts);
                gmtime_r(&ts.tv_sec, &tm);
                strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
        }
        if (instance)
                fprintf(stderr, "%svmpackd[%d] instance/%s: ", stamp, (int) getpid(), instance);
        else
                fprintf(stderr, "%svmpackd[%d]: ", stamp, (int) getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stderr);
}

static void print_help(FILE *out)
{
        fputs("Usage: vmpackd [OPTIONS]\n\n"
              "The vmpack daemon: installs instances, starts and supervises their VMs, and\n"
              "records their state in SQLite. 'vmpack' starts a session daemon on demand.\n\n"
              "Options:\n"
              "      --system               serve all users as root: socket /run/vmpack/vmpackd.sock,\n"
              "                             state in /var/lib/vmpack (default: session mode, socket\n"
              "                             $XDG_RUNTIME_DIR/vmpack/vmpackd.sock)\n"
              "      --idle-exit SECONDS    exit after SECONDS without clients or running VMs;\n"
              "                             0 never exits (default: 300 in session mode, 0 in system mode)\n"
              "      --log-max SIZE         cap of each instance's app.log, in bytes unless suffixed\n"
              "                             K, M or G; the previous log is kept as app.log.1 (default: 8M)\n"
              "  -h, --help                 show this help\n\n"
              "Environment:\n"
              "  VMPACK_SOCKET=PATH         with --system, listen on PATH instead of\n"
              "                             $VMPACK_RUNTIME_DIR/vmpackd.sock (clients take the same variable)\n"
              "  VMPACK_DATA_DIR, VMPACK_CACHE_DIR, VMPACK_CONFIG_DIR, VMPACK_RUNTIME_DIR\n"
              "                             state, cache, configuration and runtime directories\n\n"
              "Access: the system socket is mode 0666 and each request is checked against the\n"
              "caller's uid (SO_PEERCRED): root and group vmpack-admin administer every instance,\n"
              "group vmpack may use its own instances, anyone else may call GetInfo only.\n",
              out);
}

/* System mode keeps everything under the FHS paths, unless the environment overrides them. */
static void use_system_paths(void)
{
        setenv("VMPACK_DATA_DIR", "/var/lib/vmpack", 0);
        setenv("VMPACK_CACHE_DIR", "/var/cache/vmpack", 0);
        setenv("VMPACK_CONFIG_DIR", "/etc/vmpack", 0);
        setenv("VMPACK_RUNTIME_DIR", "/run/vmpack", 0);
}

static int parse_arguments(int argc, char **argv, daemon_state *d)
{
        static const struct option options[] = {
                { "system", no_argument, NULL, 's' },
                { "idle-exit", required_argument, NULL, 'i' },
                { "log-max", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool idle_set = false;
        char *end;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        d->system_mode = true;
                        break;
                case 'i':
                        errno = 0;
                        unsigned long value = strtoul(optarg, &end, 10);
                        if (errno || *end || end == optarg || optarg[0] == '-' || value > 7 * 24 * 3600) {
                                fprintf(stderr, "vmpackd: --idle-exit '%s' is invalid (valid: 0 to 604800)\n",
                                        optarg);
                                return 2;
                        }
                        d->idle_exit_s = (unsigned) value;
                        idle_set = true;
                        break;
                case 'l':
                        if (vp_parse_size(optarg, 1, &d->log_max_bytes) < 0 || d->log_max_bytes < 4096) {
                                fprintf(stderr, "vmpackd: --log-max '%s' is invalid (at least 4096 bytes)\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        fputs("Run 'vmpackd --help' for the options.\n", stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vmpackd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (!idle_set)
                d->idle_exit_s = d->system_mode ? 0 : SESSION_IDLE_EXIT_S;
        return -1;
}

/* Take the lock that makes this the only daemon on its runtime directory and write our pid
 * into it. Returns 0, 1 when another daemon has it, or a negative errno. */
static int take_lock(const char *runtime_dir, int *ret_fd, vp_error *err)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/vmpackd.pid", runtime_dir);
        _cleanup_close_ int fd = -EBADF;

        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "opening %s", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return 1;
                return vp_error_set_errno(err, -errno, "locking %s", path);
        }
        if (ftruncate(fd, 0) < 0 || dprintf(fd, "%d\n", (int) getpid()) < 0)
                return vp_error_set_errno(err, -errno, "writing %s", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int listen_on(const char *path, bool system_mode, int *ret_fd, vp_error *err)
{
        struct sockaddr_un address = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(address.sun_path))
                return vp_error_set(err, -ENAMETOOLONG, "socket path %s is too long (max %zu bytes)", path,
                                    sizeof(address.sun_path) - 1);
        strcpy(address.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "socket");
        /* We hold the lock, so a socket file left here belongs to a daemon that died. */
        unlink(path);
        if (bind(fd, (struct sockaddr *) &address, sizeof(address)) < 0)
                return vp_error_set_errno(err, -errno, "binding %s", path);
        /* Every user may connect to the system daemon; each request is checked against the
         * caller's SO_PEERCRED uid. */
        if (chmod(path, system_mode ? 0666 : 0600) < 0)
                return vp_error_set_errno(err, -errno, "chmod %s", path);
        if (listen(fd, 64) < 0)
                return vp_error_set_errno(err, -errno, "listen on %s", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int make_signal_fd(void)
{
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static bool is_idle(const daemon_state *d)
{
        for (size_t i = 0; i < MAX_CONNECTIONS; i++)
                if (d->connections[i])
                        return false;
        for (size_t i = 0; i < MAX_RUNS; i++)
                if (d->runs[i])
                        return false;
        return true;
}

/* What each pollfd entry stands for. */
typedef struct poll_source {
        enum { SOURCE_LISTEN, SOURCE_SIGNAL, SOURCE_CONNECTION, SOURCE_RUN_EXIT, SOURCE_RUN_OUTPUT, SOURCE_RUN_STATUS } kind;
        void *object;
} poll_source;

static void run_loop(daemon_state *d)
{
        struct pollfd fds[2 + MAX_CONNECTIONS + 3 * MAX_RUNS];
        poll_source sources[ELEMENTSOF(fds)];

        d->idle_since_ms = vp_db_now_ms();
        while (!d->quit) {
                /* Before the pollfd array is built, so it never lists a closed connection. */
                int idle_timeout = server_close_idle(d);
                size_t n = 0;

                fds[n] = (struct pollfd) { .fd = d->listen_fd, .events = POLLIN };
                sources[n++] = (poll_source) { SOURCE_LISTEN, NULL };
                fds[n] = (struct pollfd) { .fd = d->signal_fd, .events = POLLIN };
                sources[n++] = (poll_source) { SOURCE_SIGNAL, NULL };
                for (size_t i = 0; i < MAX_CONNECTIONS; i++) {
                        connection *c = d->connections[i];
                        if (!c)
                                continue;
                        short events = (c->waiting || c->close_after ? 0 : POLLIN) | (c->output_size ? POLLOUT : 0);
                        fds[n] = (struct pollfd) { .fd = c->fd, .events = events };
                        sources[n++] = (poll_source) { SOURCE_CONNECTION, c };
                }
                for (size_t i = 0; i < MAX_RUNS; i++) {
                        instance_run *run = d->runs[i];
                        if (!run)
                                continue;
                        fds[n] = (struct pollfd) { .fd = run->pidfd, .events = POLLIN };
                        sources[n++] = (poll_source) { SOURCE_RUN_EXIT, run };
                        if (run->output_fd >= 0) {
                                fds[n] = (struct pollfd) { .fd = run->output_fd, .events = POLLIN };
                                sources[n++] = (poll_source) { SOURCE_RUN_OUTPUT, run };
                        }
                        if (run->status_fd >= 0) {
                                fds[n] = (struct pollfd) { .fd = run->status_fd, .events = POLLIN };
                                sources[n++] = (poll_source) { SOURCE_RUN_STATUS, run };
                        }
                }

                int timeout = supervise_check_deadlines(d);
                if (idle_timeout >= 0 && (timeout < 0 || idle_timeout < timeout))
                        timeout = idle_timeout;
                if (d->idle_exit_s > 0) {
                        if (!is_idle(d))
                                d->idle_since_ms = vp_db_now_ms();
                        int64_t left = d->idle_since_ms + (int64_t) d->idle_exit_s * 1000 - vp_db_now_ms();
                        if (left <= 0) {
                                log_message(NULL, "idle for %u s with no running VM: exiting", d->idle_exit_s);
                                break;
                        }
                        if (timeout < 0 || left < timeout)
                                timeout = (int) (left > 60000 ? 60000 : left);
                }

                if (poll(fds, n, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_message(NULL, "poll failed: %s", strerror(errno));
                        break;
                }

                /* Handle run events before connections, so a connection closed here is not
                 * used through a stale entry; each entry is checked for a still-live object. */
                for (size_t i = 0; i < n; i++) {
                        if (!fds[i].revents)
                                continue;
                        switch (sources[i].kind) {
                        case SOURCE_LISTEN:
                                server_accept(d);
                                break;
                        case SOURCE_SIGNAL: {
                                struct signalfd_siginfo info;
                                if (read(d->signal_fd, &info, sizeof(info)) == sizeof(info)) {
                                        log_message(NULL, "received signal %u: exiting; running VMs keep running "
                                                          "and are re-adopted at the next start",
                                                    info.ssi_signo);
                                        d->quit = true;
                                }
                                break;
                        }
                        case SOURCE_CONNECTION: {
                                bool live = false;
                                for (size_t j = 0; j < MAX_CONNECTIONS; j++)
                                        live = live || d->connections[j] == sources[i].object;
                                if (live)
                                        server_handle_connection(d, sources[i].object, fds[i].revents);
                                break;
                        }
                        case SOURCE_RUN_OUTPUT:
                        case SOURCE_RUN_STATUS:
                        case SOURCE_RUN_EXIT: {
                                bool live = false;
                                for (size_t j = 0; j < MAX_RUNS; j++)
                                        live = live || d->runs[j] == sources[i].object;
                                if (!live)
                                        break;
                                if (sources[i].kind == SOURCE_RUN_OUTPUT)
                                        supervise_read_output(d, sources[i].object);
                                else if (sources[i].kind == SOURCE_RUN_STATUS)
                                        supervise_read_status(d, sources[i].object);
                                else
                                        supervise_reap(d, sources[i].object);
                                break;
                        }
                        }
                }

                /* Replies queued by a reap go out on the next POLLOUT; flush them now. */
                for (size_t i = 0; i < MAX_CONNECTIONS; i++)
                        if (d->connections[i] && d->connections[i]->output_size)
                                server_handle_connection(d, d->connections[i], 0);
        }
}

int main(int argc, char **argv)
{
        daemon_state d = { .listen_fd = -EBADF, .signal_fd = -EBADF, .log_max_bytes = LOG_DEFAULT_MAX_BYTES };
        _cleanup_free_ char *runtime_dir = NULL, *data_dir = NULL, *db_path = NULL, *socket_path = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        vp_error err = {};
        int r;

        r = parse_arguments(argc, argv, &d);
        if (r >= 0)
                return r;
        log_to_journal = getenv("JOURNAL_STREAM") != NULL;
        d.uid = getuid();
        if (d.system_mode) {
                if (geteuid() != 0) {
                        fputs("vmpackd: --system needs root (run it from the vmpackd.service unit)\n", stderr);
                        return 1;
                }
                use_system_paths();
        }
        umask(0077);

        r = vp_path_ensure(VP_DIR_RUNTIME, NULL, &runtime_dir, &err);
        r = r ?: vp_path_ensure(VP_DIR_DATA, NULL, &data_dir, &err);
        if (r < 0) {
                log_message(NULL, "%s", err.message);
                return 1;
        }
        /* Every user must reach the system socket; vp_path_ensure() made the directory 0700. */
        if (d.system_mode && chmod(runtime_dir, 0755) < 0) {
                log_message(NULL, "chmod 0755 %s failed: %s", runtime_dir, strerror(errno));
                return 1;
        }
        r = take_lock(runtime_dir, &lock_fd, &err);
        if (r == 1) {
                log_message(NULL, "another vmpackd serves %s: exiting", runtime_dir);
                return 0;
        }
        db_path = vp_strdup_printf("%s/%s", data_dir, VP_DB_FILE);
        /* Tests run a system daemon beside the real one on a socket of their own. */
        if (d.system_mode && getenv("VMPACK_SOCKET") && getenv("VMPACK_SOCKET")[0])
                socket_path = strdup(getenv("VMPACK_SOCKET"));
        else
                socket_path = vp_strdup_printf("%s/%s", runtime_dir, VP_API_SOCKET_NAME);
        if (r == 0 && (!db_path || !socket_path))
                r = vp_error_set(&err, -ENOMEM, "out of memory");
        if (r == 0 && socket_path[0] != '/')
                r = vp_error_set(&err, -EINVAL, "VMPACK_SOCKET '%s' is not an absolute path", socket_path);
        r = r ?: vp_db_open(db_path, &d.db, &err);
        r = r ?: listen_on(socket_path, d.system_mode, &d.listen_fd, &err);
        if (r < 0) {
                log_message(NULL, "%s", err.message);
                vp_db_close(d.db);
                return 1;
        }
        d.signal_fd = make_signal_fd();
        if (d.signal_fd < 0) {
                log_message(NULL, "signalfd failed: %s", strerror(-d.signal_fd));
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);

        log_message(NULL, "started in %s mode (version %s), listening on %s, state in %s",
                    d.system_mode ? "system" : "session", VP_VERSION, socket_path, db_path);
        supervise_recover(&d);
        run_loop(&d);

        unlink(socket_path);
        for (size_t i = 0; i < MAX_CONNECTIONS; i++)
                if (d.connections[i])
                        server_close_connection(&d, d.connections[i]);
        close(d.listen_fd);
        close(d.signal_fd);
        vp_db_close(d.db);
        log_message(NULL, "stopped");
        return 0;
}
