/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "client.h"

#include "config.h"
#include "paths.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

/* How long a client waits for a daemon it started to listen. */
#define DAEMON_START_TIMEOUT_MS 10000

static bool system_mode(void)
{
        const char *value = getenv("VMPACK_SYSTEM");

        return value && strcmp(value, "1") == 0;
}

/* A socket path set in the environment, e.g. by tests that run their own system daemon. */
static const char *socket_override(void)
{
        const char *value = getenv("VMPACK_SOCKET");

        return value && value[0] ? value : NULL;
}

char *vp_client_socket_path(void)
{
        if (socket_override())
                return strdup(socket_override());
        if (system_mode())
                return strdup(VP_API_SYSTEM_SOCKET);
        return vp_path(VP_DIR_RUNTIME, VP_API_SOCKET_NAME);
}

static int connect_socket(const char *path, int *ret_fd, vp_error *err)
{
        struct sockaddr_un address = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(address.sun_path))
                return vp_error_set(err, -ENAMETOOLONG, "socket path %s is too long (max %zu bytes)", path,
                                    sizeof(address.sun_path) - 1);
        strcpy(address.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "socket");
        if (connect(fd, (struct sockaddr *) &address, sizeof(address)) < 0)
                return vp_error_set_errno(err, -errno, "connecting to vmpackd at %s", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* vmpackd next to this binary: in the build tree src/vmpackd/, once installed the same
 * directory. VMPACKD overrides both. */
static char *find_daemon(void)
{
        char self[4096];
        ssize_t n;

        if (getenv("VMPACKD"))
                return strdup(getenv("VMPACKD"));
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                if (vp_str_startswith(self, VP_BUILD_ROOT "/"))
                        return strdup(VP_BUILD_ROOT "/src/vmpackd/vmpackd");
                char *slash = strrchr(self, '/');
                if (slash) {
                        strcpy(slash + 1, "vmpackd");
                        if (access(self, X_OK) == 0)
                                return strdup(self);
                }
        }
        return strdup("vmpackd");
}

/* Start the session daemon detached from this process: its own session, output appended to
 * VP_DIR_RUNTIME/vmpackd.log. A second daemon started by a racing client exits at once
 * because the first holds the lock. */
static int start_daemon(vp_error *err)
{
        _cleanup_free_ char *program = find_daemon();
        _cleanup_free_ char *runtime_dir = NULL, *log_path = NULL;
        int r;

        if (!program)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = vp_path_ensure(VP_DIR_RUNTIME, NULL, &runtime_dir, err);
        if (r < 0)
                return r;
        log_path = vp_strdup_printf("%s/vmpackd.log", runtime_dir);
        if (!log_path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        /* The daemon writes its exec error here; a successful exec closes the pipe. */
        int exec_pipe[2];
        if (pipe2(exec_pipe, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "pipe");

        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                close(exec_pipe[0]);
                close(exec_pipe[1]);
                return vp_error_set_errno(err, r, "fork");
        }
        if (pid == 0) {
                close(exec_pipe[0]);
                int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (null_fd < 0 || log_fd < 0 || setsid() < 0)
                        _exit(1);
                /* Fork again so the daemon is not our child and we need not reap it later. */
                pid_t daemon_pid = fork();
                if (daemon_pid != 0)
                        _exit(daemon_pid < 0);
                dup2(null_fd, STDIN_FILENO);
                dup2(log_fd, STDOUT_FILENO);
                dup2(log_fd, STDERR_FILENO);
                execlp(program, program, (char *) NULL);
                int error = errno;
                dprintf(STDERR_FILENO, "vmpack: starting %s failed: %s\n", program, strerror(error));
                (void) !write(exec_pipe[1], &error, sizeof(error));
                _exit(127);
        }
        close(exec_pipe[1]);

        int status, exec_error = 0;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                close(exec_pipe[0]);
                return vp_error_set(err, -ECHILD, "starting %s failed (see %s)", program, log_path);
        }
        /* Returns at the daemon's exec: end of file when it succeeded, the errno when not. */
        ssize_t n;
        while ((n = read(exec_pipe[0], &exec_error, sizeof(exec_error))) < 0 && errno == EINTR)
                ;
        close(exec_pipe[0]);
        if (n == (ssize_t) sizeof(exec_error))
                return vp_error_set(err, -exec_error, "vmpackd exited at start: starting %s failed: %s (log: %s)",
                                    program, strerror(exec_error), log_path);
        return 0;
}

/* True when no daemon holds the lock on VP_DIR_RUNTIME/vmpackd.pid, i.e. the daemon we
 * started has exited. Only meaningful once it had time to take the lock. */
static bool daemon_exited(void)
{
        _cleanup_free_ char *path = vp_path(VP_DIR_RUNTIME, "vmpackd.pid");
        _cleanup_close_ int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -EBADF;

        return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) == 0;
}

/* The last line of the daemon's log, for an error message; NULL when unreadable. */
static char *last_log_line(const char *log_path)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        vp_error ignored = {};

        if (vp_read_file(log_path, 1 << 20, &text, &size, &ignored) < 0)
                return NULL;
        while (size > 0 && text[size - 1] == '\n')
                text[--size] = '\0';
        char *line = strrchr(text, '\n');
        return strdup(line ? line + 1 : text);
}

int vp_client_connect(vp_client *client, vp_error *err)
{
        _cleanup_free_ char *path = vp_client_socket_path();
        _cleanup_free_ char *log_path = vp_path(VP_DIR_RUNTIME, "vmpackd.log");
        int fd = -EBADF, r;

        *client = (vp_client) { .fd = -EBADF };
        if (!path || !log_path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        r = connect_socket(path, &fd, err);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                if (socket_override())
                        return vp_error_prefix(err, "no vmpackd listens on VMPACK_SOCKET");
                if (system_mode())
                        return vp_error_prefix(err, "the system daemon is not running (systemctl start vmpackd)");

                r = start_daemon(err);
                if (r < 0)
                        return r;
                struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
                bool exited = false;
                for (int waited = 0; waited < DAEMON_START_TIMEOUT_MS && !exited; waited += 50) {
                        r = connect_socket(path, &fd, err);
                        if (r != -ENOENT && r != -ECONNREFUSED)
                                break;
                        nanosleep(&pause, NULL);
                        exited = waited >= 500 && daemon_exited();
                }
                if (r == -ENOENT || r == -ECONNREFUSED) {
                        _cleanup_free_ char *line = last_log_line(log_path);
                        return vp_error_set(err, exited ? -ECHILD : -ETIMEDOUT, "vmpackd %s: %s (log: %s)",
                                            exited ? "exited at start" : "did not listen within 10 s",
                                            line ? line : "no log", log_path);
                }
        }
        if (r < 0)
                return r;
        client->fd = fd;
        return 0;
}

void vp_client_close(vp_client *client)
{
        if (client->fd >= 0)
                close(client->fd);
        free(client->buffer);
        *client = (vp_client) { .fd = -EBADF };
}

static int send_all(int fd, const char *data, size_t size, vp_error *err)
{
        while (size > 0) {
                ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return vp_error_set_errno(err, -errno, "sending to vmpackd");
                }
                data += n;
                size -= (size_t) n;
        }
        return 0;
}

/* Read until a NUL arrives; return the message (without NUL) in *ret, owned by client->buffer. */
static int receive_message(vp_client *client, char **ret, size_t *ret_size, vp_error *err)
{
        for (;;) {
                char *nul = client->buffer ? memchr(client->buffer, '\0', client->size) : NULL;
                if (nul) {
                        *ret = client->buffer;
                        *ret_size = (size_t) (nul - client->buffer);
                        return 0;
                }
                if (client->size >= VP_API_MESSAGE_MAX)
                        return vp_error_set(err, -EMSGSIZE, "reply from vmpackd exceeds %d bytes",
                                            VP_API_MESSAGE_MAX);

                char *grown = realloc(client->buffer, client->size + 65536);
                if (!grown)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                client->buffer = grown;
                ssize_t n = recv(client->fd, client->buffer + client->size, 65536, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vp_error_set_errno(err, -errno, "receiving from vmpackd");
                if (n == 0)
                        return vp_error_set(err, -ECONNRESET,
                                            "vmpackd closed the connection before replying (see its log)");
                client->size += (size_t) n;
        }
}

int vp_client_call(vp_client *client, const char *method, json_t *parameters, json_t **ret,
                   vp_api_error *api_error, vp_error *err)
{
        _cleanup_free_ char *request = NULL;
        size_t size = 0, reply_size = 0;
        char *reply = NULL;
        json_t *reply_parameters = NULL;
        int r;

        request = vp_api_encode_request(method, parameters, &size);
        if (!request)
                return vp_error_set(err, -E2BIG, "%s: request is larger than %d bytes or out of memory", method,
                                    VP_API_MESSAGE_MAX);
        r = send_all(client->fd, request, size, err);
        r = r ?: receive_message(client, &reply, &reply_size, err);
        if (r < 0)
                return r;

        *api_error = (vp_api_error) {};
        r = vp_api_decode_reply(reply, reply_size, &reply_parameters, api_error);

        /* Drop the consumed reply and its NUL, keeping any bytes after it. */
        memmove(client->buffer, client->buffer + reply_size + 1, client->size - reply_size - 1);
        client->size -= reply_size + 1;

        if (r < 0)
                return vp_error_set(err, r, "%s", api_error->message);
        if (ret)
                *ret = reply_parameters;
        else
                json_decref(reply_parameters);
        return 0;
}
