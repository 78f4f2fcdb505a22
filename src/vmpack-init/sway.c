/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sway as the kiosk compositor, and the guest's screen following the host's window.
 *
 * When the host's window changes size, QEMU's virtio-gpu offers the new size as the
 * connector's preferred mode and raises a display-change event. The guest kernel then
 * sends a DRM hotplug uevent. wlroots 0.15 (Debian 12) would not take the new mode even if
 * it saw the event (it re-reads modes only when a connector reconnects), and the guest has
 * no udevd to pass the event on anyway. So init listens for the kernel's uevents itself,
 * makes the kernel probe the connector again, reads the new preferred mode and sets it
 * through sway's IPC as a custom mode.
 */
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DRM_SYSFS "/sys/class/drm"
/* A window being dragged produces a burst of events: act once it has paused. */
#define RESIZE_SETTLE_MS 150
/* sway may not listen yet when the first event comes: try again this often. */
#define RESIZE_RETRY_MS 500
#define IPC_TIMEOUT_S 2
#define IPC_MAGIC "i3-ipc"
#define IPC_HEADER_SIZE (sizeof(IPC_MAGIC) - 1 + 2 * sizeof(uint32_t))
#define IPC_RUN_COMMAND 0
#define IPC_SUBSCRIBE 2
#define IPC_EVENT_WINDOW 0x80000003u
#define FOCUS_BUFFER_SIZE 65536
#define IPC_REPLY_MAX 4096
#define UEVENT_BUFFER_SIZE 8192
#define CVT_WIDTH_STEP 8
/* Limits on a size taken from the host's window: a smaller screen leaves no room for an
 * app, and a larger one would cost the software renderer too much memory. */
#define SCREEN_MIN_WIDTH 320
#define SCREEN_MIN_HEIGHT 200
#define SCREEN_MAX 8192

static int uevent_fd = -1;
static int focus_fd = -1;
static bool focus_seen;
static char focus_buffer[FOCUS_BUFFER_SIZE];
static size_t focus_length;
static long resize_due;
static unsigned current_width, current_height;
static char ipc_socket_path[108];

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int write_all(int fd, const void *data, size_t size)
{
        const char *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

static int read_all(int fd, void *data, size_t size)
{
        char *p = data;

        while (size > 0) {
                ssize_t n = read(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0)
                        errno = ECONNRESET;
                if (n <= 0)
                        return -1;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* True when the JSON text has "key": value, value written as JSON (true, "focus"). sway's
 * replies and events are flat enough for this. */
static bool json_has(const char *json, const char *key, const char *value)
{
        char quoted[64];

        snprintf(quoted, sizeof(quoted), "\"%s\"", key);
        for (const char *p = strstr(json, quoted); p; p = strstr(p + 1, quoted)) {
                const char *v = p + strlen(quoted);
                v += strspn(v, " \t\r\n");
                if (*v++ != ':')
                        continue;
                v += strspn(v, " \t\r\n");
                if (strncmp(v, value, strlen(value)) == 0)
                        return true;
        }
        return false;
}

/* Connect to sway's IPC socket with send and receive timeouts. Returns the socket, or -1
 * with errno set. */
static int ipc_connect(const char *socket_path)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        struct timeval timeout = { .tv_sec = IPC_TIMEOUT_S };

        if (strlen(socket_path) >= sizeof(addr.sun_path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        strcpy(addr.sun_path, socket_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
        if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
                int error = errno;
                close(fd);
                errno = error;
                return -1;
        }
        return fd;
}

/* Send one IPC message: the magic, the payload's length and type, and the payload. */
static int ipc_send(int fd, uint32_t type, const char *payload)
{
        char header[IPC_HEADER_SIZE];
        uint32_t length = (uint32_t) strlen(payload);

        memcpy(header, IPC_MAGIC, sizeof(IPC_MAGIC) - 1);
        memcpy(header + sizeof(IPC_MAGIC) - 1, &length, sizeof(length));
        memcpy(header + sizeof(IPC_MAGIC) - 1 + sizeof(length), &type, sizeof(type));
        if (write_all(fd, header, sizeof(header)) < 0 || write_all(fd, payload, length) < 0)
                return -1;
        return 0;
}

int init_sway_command(const char *socket_path, const char *command, bool need_reply)
{
        char header[IPC_HEADER_SIZE];
        uint32_t length;
        char reply[IPC_REPLY_MAX + 1];

        int fd = ipc_connect(socket_path);
        if (fd < 0)
                return -1;
        if (ipc_send(fd, IPC_RUN_COMMAND, command) < 0)
                goto fail;

        /* Wait for the reply even when it does not matter: sway 1.7 drops a client whose
         * socket has hung up without reading what it sent. */
        if (read_all(fd, header, sizeof(header)) < 0) {
                if (!need_reply) {
                        close(fd);
                        return 0;
                }
                goto fail;
        }
        if (memcmp(header, IPC_MAGIC, sizeof(IPC_MAGIC) - 1) != 0) {
                errno = EPROTO;
                goto fail;
        }
        memcpy(&length, header + sizeof(IPC_MAGIC) - 1, sizeof(length));
        size_t keep = length < IPC_REPLY_MAX ? length : IPC_REPLY_MAX;
        if (read_all(fd, reply, keep) < 0)
                goto fail;
        reply[keep] = '\0';
        close(fd);
        if (!need_reply)
                return 0;
        if (!json_has(reply, "success", "true")) {
                init_log("sway rejected '%s': %s", command, reply);
                errno = EINVAL;
                return -1;
        }
        return 0;

fail:;
        int error = errno;
        close(fd);
        errno = error;
        return -1;
}

/* Find the first connected connector, make the kernel probe it again and read its
 * preferred mode, which the kernel lists first. The connector's sysfs name is
 * "card0-Virtual-1"; sway names the output after the part following "cardN-". */
static bool probe_preferred_mode(char *output, size_t output_size, unsigned *width, unsigned *height)
{
        DIR *d = opendir(DRM_SYSFS);
        struct dirent *e;
        bool found = false;

        if (!d)
                return false;
        while (!found && (e = readdir(d))) {
                char path[INIT_PATH_MAX], text[64];
                const char *dash = strchr(e->d_name, '-');
                if (strncmp(e->d_name, "card", 4) != 0 || !dash)
                        continue;

                snprintf(path, sizeof(path), DRM_SYSFS "/%s/status", e->d_name);
                if (!init_read_line(path, text, sizeof(text)) || strcmp(text, "connected") != 0)
                        continue;
                /* Writing "detect" makes the kernel probe the connector, which reads the new
                 * preferred mode from virtio-gpu. Through the DRM ioctl only the DRM master,
                 * sway, may request a probe. */
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "detect", 6) != 6)
                        init_debug_log("writing 'detect' to %s failed: %m", path);
                if (fd >= 0)
                        close(fd);

                snprintf(path, sizeof(path), DRM_SYSFS "/%s/modes", e->d_name);
                if (!init_read_line(path, text, sizeof(text)) || sscanf(text, "%ux%u", width, height) != 2)
                        continue;
                snprintf(output, output_size, "%s", dash + 1);
                found = true;
        }
        closedir(d);
        return found;
}

void init_resize_watch(const char *socket_path)
{
        struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };
        char output[64];

        snprintf(ipc_socket_path, sizeof(ipc_socket_path), "%s", socket_path);
        uevent_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
        if (uevent_fd < 0 || bind(uevent_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
                init_log("listening for display changes failed: %m; the screen keeps its size");
                if (uevent_fd >= 0)
                        close(uevent_fd);
                uevent_fd = -1;
                return;
        }
        /* sway starts at the preferred mode: later changes are compared with it. */
        if (probe_preferred_mode(output, sizeof(output), &current_width, &current_height))
                init_debug_log("display %s starts at %ux%u", output, current_width, current_height);
}

int init_resize_fd(void)
{
        return uevent_fd;
}

/* A DRM hotplug uevent reads "change@/devices/.../drm/card0\0ACTION=change\0...
 * SUBSYSTEM=drm\0HOTPLUG=1\0...". */
static bool is_drm_hotplug(const char *message, size_t size)
{
        bool drm = false, hotplug = false;

        for (size_t i = 0; i < size; i += strlen(message + i) + 1) {
                if (strcmp(message + i, "SUBSYSTEM=drm") == 0)
                        drm = true;
                else if (strcmp(message + i, "HOTPLUG=1") == 0)
                        hotplug = true;
        }
        return drm && hotplug;
}

void init_resize_read(void)
{
        char buffer[UEVENT_BUFFER_SIZE + 1];
        ssize_t n;

        while ((n = recv(uevent_fd, buffer, UEVENT_BUFFER_SIZE, 0)) > 0) {
                buffer[n] = '\0';
                if (is_drm_hotplug(buffer, (size_t) n)) {
                        init_debug_log("display change event");
                        resize_due = now_ms() + RESIZE_SETTLE_MS;
                }
        }
}

void init_resize_tick(void)
{
        char output[64], command[128];
        unsigned width, height;

        if (!resize_due || now_ms() < resize_due)
                return;
        resize_due = 0;
        if (!probe_preferred_mode(output, sizeof(output), &width, &height)) {
                init_debug_log("display change: no connected output with a mode");
                return;
        }
        /* wlroots 0.15 makes a custom mode with CVT timings, whose width is a multiple of 8,
         * and sway 1.7 crashed on a width that was not (900x625). */
        width = width / CVT_WIDTH_STEP * CVT_WIDTH_STEP;
        if (width < SCREEN_MIN_WIDTH || height < SCREEN_MIN_HEIGHT || width > SCREEN_MAX || height > SCREEN_MAX) {
                init_log("display change to %ux%u ignored: the screen must be %ux%u to %ux%u", width, height,
                         SCREEN_MIN_WIDTH, SCREEN_MIN_HEIGHT, SCREEN_MAX, SCREEN_MAX);
                return;
        }
        if (width == current_width && height == current_height)
                return;

        /* The connector's mode list in wlroots is the one read when sway started, so the new
         * size is set as a custom mode. */
        snprintf(command, sizeof(command), "output %s mode --custom %ux%u", output, width, height);
        if (init_sway_command(ipc_socket_path, command, true) < 0) {
                if (errno == ENOENT || errno == ECONNREFUSED) {
                        resize_due = now_ms() + RESIZE_RETRY_MS;
                        return;
                }
                init_log("setting the display to %ux%u failed: %m", width, height);
                return;
        }
        init_debug_log("display %s set to %ux%u", output, width, height);
        current_width = width;
        current_height = height;
}

/*
 * The first key that a wlroots 0.15 compositor passes to a newly focused client is lost,
 * with those that follow it for about half a second: under TCG, typing "abcdefghij" into
 * foot gave "fghij". A Shift press after the window had appeared let the same line arrive
 * whole, and one before did not. So init subscribes to sway's window events, and at the
 * first focus sends the Shift through keyboard.c.
 */
int init_focus_fd(void)
{
        return focus_fd;
}

static void focus_stop(void)
{
        if (focus_fd >= 0)
                close(focus_fd);
        focus_fd = -1;
        focus_seen = true;
}

void init_focus_tick(void)
{
        if (focus_seen || focus_fd >= 0 || !ipc_socket_path[0])
                return;
        /* sway's socket appears a moment after sway starts: try again at the next tick. */
        int fd = ipc_connect(ipc_socket_path);
        if (fd < 0)
                return;
        if (ipc_send(fd, IPC_SUBSCRIBE, "[\"window\"]") < 0) {
                close(fd);
                return;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        focus_fd = fd;
        focus_length = 0;
}

void init_focus_read(void)
{
        ssize_t n;

        while ((n = read(focus_fd, focus_buffer + focus_length, sizeof(focus_buffer) - 1 - focus_length)) > 0)
                focus_length += (size_t) n;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                focus_stop();
                return;
        }

        while (focus_length >= IPC_HEADER_SIZE) {
                uint32_t length, type;
                if (memcmp(focus_buffer, IPC_MAGIC, sizeof(IPC_MAGIC) - 1) != 0) {
                        init_log("sway sent an IPC message without its magic: no longer watching the focus");
                        focus_stop();
                        return;
                }
                memcpy(&length, focus_buffer + sizeof(IPC_MAGIC) - 1, sizeof(length));
                memcpy(&type, focus_buffer + sizeof(IPC_MAGIC) - 1 + sizeof(length), sizeof(type));
                if (length > sizeof(focus_buffer) - 1 - IPC_HEADER_SIZE) {
                        init_log("sway sent an IPC message of %u bytes: no longer watching the focus", length);
                        focus_stop();
                        return;
                }
                if (focus_length < IPC_HEADER_SIZE + length)
                        return;

                char *payload = focus_buffer + IPC_HEADER_SIZE;
                char saved = payload[length];
                payload[length] = '\0';
                bool focused = type == IPC_EVENT_WINDOW && json_has(payload, "change", "\"focus\"");
                bool rejected = type == IPC_SUBSCRIBE && !json_has(payload, "success", "true");
                payload[length] = saved;
                if (rejected)
                        init_log("sway rejected the subscription to window events");
                if (focused) {
                        init_debug_log("the app's window has the focus");
                        init_keyboard_warmup_run();
                }
                if (focused || rejected) {
                        focus_stop();
                        return;
                }
                memmove(focus_buffer, focus_buffer + IPC_HEADER_SIZE + length,
                        focus_length - IPC_HEADER_SIZE - length);
                focus_length -= IPC_HEADER_SIZE + length;
        }
}
