/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmrun-internal.h"

#include "accel.h"

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

/* After the exit event: how long to wait for the announced output bytes. */
#define DRAIN_TIMEOUT_MS 5000
/* After "poweroff" (or init's own power-off): how long QEMU may take to exit. */
#define POWEROFF_TIMEOUT_MS 10000
/* After "terminate": init sends SIGKILL after VP_TERMINATE_GRACE_S, then reports. */
#define TERMINATE_TIMEOUT_MS ((VP_TERMINATE_GRACE_S + 5) * 1000)
/* After QMP "quit": how long before SIGKILL. */
#define QUIT_TIMEOUT_MS 5000

int64_t vp_run_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
        a->quit_deadline = vp_run_now_ms() + QUIT_TIMEOUT_MS;

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
                answers += vp_qmp_count_returns(greeting);
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
                a->terminate_deadline = vp_run_now_ms() + TERMINATE_TIMEOUT_MS;
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

size_t vp_qmp_count_returns(const char *text)
{
        size_t count = 0;

        for (const char *p = text; (p = strstr(p, "\"return\"")); p++)
                count++;
        return count;
}

int vp_agent_decode(const char *line, vp_agent_event *ret)
{
        json_error_t json_error;
        _cleanup_(json_decrefp) json_t *message = json_loads(line, 0, &json_error);
        vp_agent_event e = { .type = VP_AGENT_EVENT_NONE };
        json_int_t status, out_bytes, err_bytes;

        if (!json_is_object(message))
                return -EBADMSG;

        const char *event = json_string_value(json_object_get(message, "event"));
        if (!event)
                return -EBADMSG;

        if (strcmp(event, "ready") == 0) {
                e.type = VP_AGENT_EVENT_READY;
        } else if (strcmp(event, "exit") == 0) {
                if (json_int(message, "status", 0, 255, &status) < 0 ||
                    json_int(message, "stdout_bytes", 0, INT64_MAX, &out_bytes) < 0 ||
                    json_int(message, "stderr_bytes", 0, INT64_MAX, &err_bytes) < 0)
                        return -EBADMSG;
                e.type = VP_AGENT_EVENT_EXIT;
                e.status = (int) status;
                e.stdout_bytes = (uint64_t) out_bytes;
                e.stderr_bytes = (uint64_t) err_bytes;
        } else if (strcmp(event, "error") == 0) {
                if (json_int(message, "status", 1, 255, &status) < 0)
                        status = VP_STATUS_VM_FAILURE;
                const char *text = json_string_value(json_object_get(message, "message"));
                const char *reason = json_string_value(json_object_get(message, "reason"));
                e.type = VP_AGENT_EVENT_ERROR;
                e.status = (int) status;
                e.message = text ? strndup(text, 1024)
                                 : vp_strdup_printf("vmpack-init failed (reason: %.64s)",
                                                    reason ? reason : "none given");
                if (!e.message)
                        return -ENOMEM;
        } else {
                return -EBADMSG;
        }

        *ret = e;
        return 0;
}

/* Handle one line from the guest agent. The guest is untrusted: anything malformed is
 * ignored rather than trusted. */
static void agent_handle_line(vm_attempt *a, const char *line)
{
        vp_agent_event e;

        if (vp_agent_decode(line, &e) < 0)
                return;

        if (e.type == VP_AGENT_EVENT_READY) {
                a->ready = true;
        } else if (e.type == VP_AGENT_EVENT_EXIT && !a->exited) {
                a->exited = true;
                a->status = e.status;
                a->expected_out[0] = e.stdout_bytes;
                a->expected_out[1] = e.stderr_bytes;
                a->drain_deadline = vp_run_now_ms() + DRAIN_TIMEOUT_MS;
        } else if (e.type == VP_AGENT_EVENT_ERROR && !a->exited) {
                a->exited = true;
                a->status = e.status;
                free(a->guest_error);
                a->guest_error = TAKE_PTR(e.message);
                a->drain_deadline = vp_run_now_ms() + DRAIN_TIMEOUT_MS;
        }
        free(e.message);
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

int vp_run_open_console(const run_context *ctx, vm_attempt *a, vp_error *err)
{
        unlink(ctx->console_pipe_path);
        if (mkfifo(ctx->console_pipe_path, 0600) < 0)
                return vp_error_set_errno(err, -errno, "creating the console FIFO %s",
                                          ctx->console_pipe_path);
        /* Opened read-write, so that this open does not wait for a writer and reads never
         * see end of file. QEMU's open does not block either, because a reader exists. */
        a->console_fd = open(ctx->console_pipe_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (a->console_fd < 0)
                return vp_error_set_errno(err, -errno, "opening the console FIFO %s",
                                          ctx->console_pipe_path);
        /* Room for a boot's messages while the loop is busy, e.g. waiting for QMP. Without
         * room, QEMU's vCPU waits for the write: the guest slows down, nothing is lost. */
        (void) fcntl(a->console_fd, F_SETPIPE_SZ, 1024 * 1024);

        a->console_log_fd = open(ctx->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (a->console_log_fd < 0)
                return vp_error_set_errno(err, -errno, "creating the console log %s", ctx->console_path);
        a->console_ring = malloc(VP_CONSOLE_LOG_TAIL);
        if (!a->console_ring)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

void vp_run_console_flush(vm_attempt *a)
{
        uint64_t past_head = a->console_bytes - VP_CONSOLE_LOG_HEAD;
        char marker[128] = "";
        off_t offset = VP_CONSOLE_LOG_HEAD;
        int n = 0;

        if (a->console_bytes <= VP_CONSOLE_LOG_HEAD)
                return; /* everything is in the head already */
        if (past_head > a->console_ring_len)
                n = snprintf(marker, sizeof(marker),
                             "\n[vmpack: %" PRIu64 " bytes of console output left out]\n",
                             past_head - a->console_ring_len);
        size_t oldest =
                (a->console_ring_pos + VP_CONSOLE_LOG_TAIL - a->console_ring_len) % VP_CONSOLE_LOG_TAIL;
        size_t first = a->console_ring_len < VP_CONSOLE_LOG_TAIL - oldest ? a->console_ring_len
                                                                         : VP_CONSOLE_LOG_TAIL - oldest;
        struct iovec parts[3] = {
                { .iov_base = marker, .iov_len = (size_t) n },
                { .iov_base = a->console_ring + oldest, .iov_len = first },
                { .iov_base = a->console_ring, .iov_len = a->console_ring_len - first },
        };
        ssize_t k = pwritev(a->console_log_fd, parts, 3, offset);
        if (k >= 0)
                (void) !ftruncate(a->console_log_fd, offset + k);
        a->console_ring_dirty = false;
        a->console_flush_ms = vp_run_now_ms();
}

void vp_run_console_append(vm_attempt *a, const char *data, size_t n)
{
        if (a->console_bytes < VP_CONSOLE_LOG_HEAD) {
                size_t k = VP_CONSOLE_LOG_HEAD - a->console_bytes;
                if (k > n)
                        k = n;
                (void) !pwrite(a->console_log_fd, data, k, (off_t) a->console_bytes);
                a->console_bytes += k;
                data += k;
                n -= k;
        }
        if (n == 0)
                return;
        a->console_bytes += n;
        if (n > VP_CONSOLE_LOG_TAIL) {
                data += n - VP_CONSOLE_LOG_TAIL;
                n = VP_CONSOLE_LOG_TAIL;
        }
        while (n > 0) {
                size_t k = VP_CONSOLE_LOG_TAIL - a->console_ring_pos;
                if (k > n)
                        k = n;
                memcpy(a->console_ring + a->console_ring_pos, data, k);
                a->console_ring_pos = (a->console_ring_pos + k) % VP_CONSOLE_LOG_TAIL;
                a->console_ring_len = a->console_ring_len + k > VP_CONSOLE_LOG_TAIL ? VP_CONSOLE_LOG_TAIL
                                                                                    : a->console_ring_len + k;
                data += k;
                n -= k;
        }
        a->console_ring_dirty = true;
}

/* Copy what QEMU wrote to the console FIFO into the capped log, and in full to
 * options->console_fd. Reads at most 1 MiB per call, so that a flood does not starve the
 * other streams. With final set, it reads everything and writes the log's tail at once. */
static void console_pump(vm_attempt *a, bool final)
{
        int console_out = a->ctx->options->console_fd;
        char buffer[65536];
        ssize_t n;

        if (a->console_fd < 0)
                return;
        for (int i = 0; final || i < 16; i++) {
                n = read(a->console_fd, buffer, sizeof(buffer));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (console_out >= 0)
                        (void) !write(console_out, buffer, (size_t) n);
                vp_run_console_append(a, buffer, (size_t) n);
        }
        if (a->console_ring_dirty && (final || vp_run_now_ms() - a->console_flush_ms >= 1000))
                vp_run_console_flush(a);
}

/* SIGUSR1: save the VM's state and quit QEMU (vmrun-suspend.c). */
static void handle_suspend(vm_attempt *a)
{
        const vp_run_options *o = a->ctx->options;
        vp_error err = {};

        if (!o->state_path || a->suspended || a->quit_sent)
                return;
        if (!a->ready || a->exited || a->terminate_sent)
                vp_error_set(&err, -EBUSY, "suspend: the app is not running (it is starting or stopping)");
        else if (vp_run_suspend(a, a->ctx->fingerprint, &err) == 0) {
                qmp_quit(a);
                return;
        }
        if (o->suspend_event)
                o->suspend_event(o->userdata, false, err.message);
}

static void handle_signal(vm_attempt *a)
{
        struct signalfd_siginfo info;
        const vp_run_options *o = a->ctx->options;

        if (read(o->signal_fd, &info, sizeof(info)) != sizeof(info))
                return;
        if (info.ssi_signo == SIGUSR1) {
                handle_suspend(a);
                return;
        }
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
        int64_t now = vp_run_now_ms();

        if (!a->ready && !a->exited && !a->quit_sent) {
                int64_t limit = a->accel == VP_ACCEL_KVM ? VP_KVM_BOOT_WATCHDOG_S : VP_RUN_TCG_BOOT_TIMEOUT_S;
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

int vp_run_event_loop(vm_attempt *a)
{
        const vp_run_options *o = a->ctx->options;
        int wait_status = 0;

        for (;;) {
                struct pollfd fds[9];
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
                if (a->console_fd >= 0)
                        fds[n++] = (struct pollfd) { .fd = a->console_fd, .events = POLLIN };
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
                /* The host side closed an output stream (e.g. "vmpack run ... | head -1"), so
                 * stop the app, as SIGPIPE would stop a local writer. With output_lost_ok
                 * the stream's output is dropped instead (write_all stops writing). */
                if ((a->out[0].broken || a->out[1].broken) && !o->output_lost_ok && a->ready && !a->exited &&
                    !a->terminate_sent)
                        request_stop(a);
                if (o->stdin_fd < 0 && !a->stdin_eof) {
                        a->stdin_eof = true;
                        stdin_pump(a, 0, 0);
                }
                console_pump(a, false);

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
        console_pump(a, true);
        return wait_status;
}
