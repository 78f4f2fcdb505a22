/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpackd.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#define RECEIVE_CHUNK 65536
#define DISCARD_MAX (16 * 1024 * 1024)

static void queue_output(connection *c, char *message, size_t size)
{
        if (!message) {
                /* Encoding fails only when out of memory or the reply exceeds the limit. */
                message = vp_api_encode_error(VP_API_ERROR_FAILED, "reply too large or out of memory", &size);
                if (!message) {
                        c->close_after = true;
                        return;
                }
        }
        char *grown = realloc(c->output, c->output_size + size);
        if (!grown) {
                free(message);
                c->close_after = true;
                return;
        }
        memcpy(grown + c->output_size, message, size);
        c->output = grown;
        c->output_size += size;
        free(message);
}

void server_reply(connection *c, json_t *parameters)
{
        size_t size = 0;
        char *message = vp_api_encode_reply(parameters, &size);

        queue_output(c, message, size);
}

void server_reply_error(connection *c, const char *name, const char *message)
{
        size_t size = 0;
        char *text = vp_api_encode_error(name, message, &size);

        queue_output(c, text, size);
}

void server_accept(daemon_state *d)
{
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        socklen_t length = sizeof(struct ucred);
        size_t slot = MAX_CONNECTIONS;

        if (fd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_message(NULL, "accept failed: %s", strerror(errno));
                return;
        }
        for (size_t i = 0; i < MAX_CONNECTIONS; i++)
                if (!d->connections[i]) {
                        slot = i;
                        break;
                }
        connection *c = slot < MAX_CONNECTIONS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
                log_message(NULL, "rejecting a client: %d connections are open (max %d)", MAX_CONNECTIONS,
                            MAX_CONNECTIONS);
                close(fd);
                return;
        }
        c->fd = fd;
        c->last_active_ms = vp_db_now_ms();
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &length) < 0) {
                log_message(NULL, "SO_PEERCRED failed: %s; closing the connection", strerror(errno));
                close(fd);
                free(c);
                return;
        }
        d->connections[slot] = c;

        /* The session socket lies in a 0700 directory; this check also covers a socket
         * path that a test or an administrator moved somewhere less private. */
        if (!d->system_mode && c->peer.uid != d->uid && c->peer.uid != 0) {
                log_message(NULL, "rejecting uid %u (pid %d): this session daemon serves uid %u", c->peer.uid,
                            c->peer.pid, d->uid);
                server_reply_error(c, VP_API_ERROR_PERMISSION_DENIED,
                                   "this vmpackd serves only its own user; use the system daemon");
                c->close_after = true;
        }
}

void server_close_connection(daemon_state *d, connection *c)
{
        for (size_t i = 0; i < MAX_CONNECTIONS; i++)
                if (d->connections[i] == c)
                        d->connections[i] = NULL;
        /* A run may still list c as a waiter for its Stop reply. */
        for (size_t i = 0; i < MAX_RUNS; i++) {
                instance_run *run = d->runs[i];
                for (size_t j = 0; run && j < run->n_waiters; j++)
                        if (run->waiters[j] == c)
                                run->waiters[j] = NULL;
        }
        close(c->fd);
        free(c->user_name);
        free(c->input);
        free(c->output);
        free(c);
}

int server_close_idle(daemon_state *d)
{
        int64_t now = vp_db_now_ms(), next = -1;

        for (size_t i = 0; i < MAX_CONNECTIONS; i++) {
                connection *c = d->connections[i];
                if (!c || c->waiting || c->output_size > 0)
                        continue;
                int64_t left = c->last_active_ms + CONNECTION_IDLE_TIMEOUT_S * 1000 - now;
                if (left <= 0) {
                        log_message(NULL, "closing the connection of uid %u pid %d: idle for %d s", c->peer.uid,
                                    c->peer.pid, CONNECTION_IDLE_TIMEOUT_S);
                        server_close_connection(d, c);
                        continue;
                }
                if (next < 0 || left < next)
                        next = left;
        }
        return (int) next;
}

/* Decode and dispatch each complete message in the input buffer. */
static void process_input(daemon_state *d, connection *c)
{
        while (!c->waiting && !c->close_after && !c->discarding) {
                char *nul = memchr(c->input, '\0', c->input_size);
                if (!nul)
                        break;
                size_t size = (size_t) (nul - c->input);
                vp_api_request request = {};
                vp_api_error error = {};

                if (vp_api_decode_request(c->input, size, &request, &error) < 0) {
                        log_message(NULL, "uid %u pid %d: rejected request: %s: %s", c->peer.uid, c->peer.pid,
                                    error.name, error.message);
                        server_reply_error(c, error.name, error.message);
                } else {
                        methods_dispatch(d, c, &request);
                        vp_api_request_clear(&request);
                }
                memmove(c->input, nul + 1, c->input_size - size - 1);
                c->input_size -= size + 1;
        }

        if (c->input_size >= VP_API_MESSAGE_MAX) {
                log_message(NULL, "uid %u pid %d: message exceeds %d bytes; closing the connection", c->peer.uid,
                            c->peer.pid, VP_API_MESSAGE_MAX);
                server_reply_error(c, VP_API_ERROR_MESSAGE_TOO_LARGE,
                                   "message exceeds 1048576 bytes without a NUL terminator");
                c->input_size = 0;
                c->discarding = 1;
        }
}

/* After an oversized message, read and drop what the client still sends until it reads
 * the error and closes: closing a socket with unread input would reset the connection and
 * lose the error reply. Gives up after DISCARD_MAX bytes. */
static bool discard_input(connection *c)
{
        char buffer[RECEIVE_CHUNK];
        ssize_t n = recv(c->fd, buffer, sizeof(buffer), 0);

        if (n < 0)
                return errno == EAGAIN || errno == EINTR;
        c->discarding += (uint64_t) n;
        return n > 0 && c->discarding < DISCARD_MAX;
}

static bool receive(daemon_state *d, connection *c)
{
        if (c->discarding)
                return discard_input(c);
        if (c->input_size + RECEIVE_CHUNK > VP_API_MESSAGE_MAX + RECEIVE_CHUNK)
                return true;
        char *grown = realloc(c->input, c->input_size + RECEIVE_CHUNK);
        if (!grown)
                return false;
        c->input = grown;

        ssize_t n = recv(c->fd, c->input + c->input_size, RECEIVE_CHUNK, 0);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR;
        if (n == 0) {
                /* The client may half-close after its last request: reply, then close. */
                c->close_after = true;
                return true;
        }
        c->input_size += (size_t) n;
        c->last_active_ms = vp_db_now_ms();
        process_input(d, c);
        return true;
}

static bool flush_output(connection *c)
{
        while (c->output_sent < c->output_size) {
                ssize_t n = send(c->fd, c->output + c->output_sent, c->output_size - c->output_sent,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR;
                c->output_sent += (size_t) n;
        }
        free(c->output);
        c->output = NULL;
        c->output_size = c->output_sent = 0;
        if (c->discarding)
                shutdown(c->fd, SHUT_WR);
        return !c->close_after || c->waiting;
}

bool server_handle_connection(daemon_state *d, connection *c, short revents)
{
        bool keep = true;

        if (revents & POLLIN)
                keep = receive(d, c);
        else if (revents & (POLLERR | POLLHUP))
                /* The peer is gone, e.g. a client that stopped waiting for its Stop reply:
                 * nothing can reach it, and POLLHUP would wake every poll() until closed. */
                keep = false;
        if (keep && c->output_size > 0)
                keep = flush_output(c);
        else if (keep && c->close_after && !c->waiting)
                keep = false;

        if (!keep)
                server_close_connection(d, c);
        return keep;
}
