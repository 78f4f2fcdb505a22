/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM log, the virtio-serial ports and the agent's JSON lines. */
#include "init.h"

#include "guest-protocol.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

/* How long a message waits for a host to connect to the agent port. */
#define AGENT_WRITE_TIMEOUT_MS (VP_POWEROFF_ACK_TIMEOUT_S * 1000)
/* How long the stdin, stdout and stderr ports may lag behind the agent port. */
#define OTHER_PORTS_WAIT_MS 500

bool init_debug;
/* Set once the host has sent {"request":"poweroff"}, which init_poweroff() then need not wait for. */
static bool poweroff_requested;
init_ports init_port_fds = { -1, -1, -1, -1 };

static __attribute__((format(printf, 1, 0))) void log_v(const char *fmt, va_list ap)
{
        char line[1024];
        int n = snprintf(line, sizeof(line), "vmpack-init: ");

        vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
        n = (int) strlen(line);
        line[n++] = '\n';
        /* stderr is /dev/console, which the kernel opens for PID 1 before it starts. */
        (void) !write(STDERR_FILENO, line, (size_t) n);
}

void init_log(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_v(fmt, ap);
        va_end(ap);
}

/* Debug lines start with the time since the kernel started, in seconds, to show where a
 * boot spends its time. */
void init_debug_log(const char *fmt, ...)
{
        char line[1024];
        struct timespec ts;
        va_list ap;

        if (!init_debug)
                return;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        int n = snprintf(line, sizeof(line), "[%ld.%03ld] ", (long) ts.tv_sec, ts.tv_nsec / 1000000);
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t) n, fmt, ap);
        va_end(ap);
        init_log("%s", line);
}

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write to the non-blocking agent port. A port without a connected host (before the host
 * connects after a restore, say) does not accept data, so wait for it, but only so long. */
static int write_all(int fd, const char *p, size_t size)
{
        long deadline = now_ms() + AGENT_WRITE_TIMEOUT_MS;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                        long left = deadline - now_ms();
                        if (left <= 0) {
                                errno = ETIMEDOUT;
                                return -1;
                        }
                        poll(&pfd, 1, (int) (left < 100 ? left : 100));
                        continue;
                }
                if (n <= 0)
                        return -1;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

void init_agent_send(const char *fmt, ...)
{
        char line[VP_AGENT_LINE_MAX];
        va_list ap;

        if (init_port_fds.agent < 0)
                return;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(line) - 1)
                return;
        line[n++] = '\n';
        if (write_all(init_port_fds.agent, line, (size_t) n) < 0)
                init_log("writing to the agent port failed: %m");
}

void init_agent_send_error(int status, const char *reason, const char *message)
{
        char quoted[VP_AGENT_LINE_MAX / 2];

        init_json_quote(message, quoted, sizeof(quoted));
        init_agent_send("{\"event\":\"error\",\"status\":%d,\"reason\":\"%s\",\"message\":%s}", status, reason,
                        quoted);
}

/* "/sys/class/virtio-ports/vport0p1/name" contains "io.bheem.agent". */
static int find_port(const char *port_name, char *ret_dev, size_t size)
{
        DIR *d = opendir("/sys/class/virtio-ports");

        if (!d)
                return -1;
        int r = -1;
        for (struct dirent *de; r < 0 && (de = readdir(d));) {
                char path[512], name[256];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t n = read(fd, name, sizeof(name) - 1);
                close(fd);
                if (n <= 0)
                        continue;
                name[n] = '\0';
                name[strcspn(name, "\n")] = '\0';
                if (strcmp(name, port_name) == 0) {
                        snprintf(ret_dev, size, "/dev/%s", de->d_name);
                        r = 0;
                }
        }
        closedir(d);
        return r;
}

static int open_port(const char *name, int flags, int *fd)
{
        char dev[300];

        if (*fd >= 0)
                return 0;
        if (find_port(name, dev, sizeof(dev)) < 0)
                return -1;
        /* devtmpfs creates the node shortly after the port's sysfs entry. */
        if (init_wait_for_path(dev, 1000) < 0)
                return -1;
        *fd = open(dev, flags | O_CLOEXEC | O_NOCTTY);
        if (*fd < 0) {
                init_log("cannot open port %s (%s): %m", name, dev);
                return -1;
        }
        init_debug_log("port %s is %s", name, dev);
        return 0;
}

int init_ports_open(int timeout_ms)
{
        long deadline = now_ms() + timeout_ms;

        for (;;) {
                int missing = 0;
                bool had_agent = init_port_fds.agent >= 0;
                missing += open_port(VP_PORT_AGENT, O_RDWR | O_NONBLOCK, &init_port_fds.agent) < 0;
                /* QEMU announces all ports together, so once the agent port is there the others
                 * follow at once or were not configured. */
                if (!had_agent && init_port_fds.agent >= 0 && deadline > now_ms() + OTHER_PORTS_WAIT_MS)
                        deadline = now_ms() + OTHER_PORTS_WAIT_MS;
                missing += open_port(VP_PORT_STDIN, O_RDONLY, &init_port_fds.stdin_port) < 0;
                missing += open_port(VP_PORT_STDOUT, O_WRONLY, &init_port_fds.stdout_port) < 0;
                missing += open_port(VP_PORT_STDERR, O_WRONLY, &init_port_fds.stderr_port) < 0;
                if (missing == 0 || now_ms() >= deadline)
                        break;
                usleep(10 * 1000);
        }
        return init_port_fds.agent >= 0 ? 0 : -1;
}

static char agent_buffer[VP_AGENT_LINE_MAX];
static size_t agent_buffered;
static bool agent_discarding; /* inside a line longer than VP_AGENT_LINE_MAX */

/* Accepts {"request":"NAME"} with any whitespace between tokens. */
static init_request parse_request(const char *line)
{
        char compact[VP_AGENT_LINE_MAX];
        size_t n = 0;

        for (const char *p = line; *p && n + 1 < sizeof(compact); p++)
                if (*p != ' ' && *p != '\t' && *p != '\r')
                        compact[n++] = *p;
        compact[n] = '\0';

        if (strcmp(compact, "{\"request\":\"terminate\"}") == 0)
                return INIT_REQUEST_TERMINATE;
        if (strcmp(compact, "{\"request\":\"poweroff\"}") == 0) {
                poweroff_requested = true;
                return INIT_REQUEST_POWEROFF;
        }
        init_log("ignoring unknown agent message (%zu bytes)", strlen(line));
        return INIT_REQUEST_NONE;
}

static init_request take_buffered_request(void)
{
        for (;;) {
                char *nl = memchr(agent_buffer, '\n', agent_buffered);
                if (!nl)
                        return INIT_REQUEST_NONE;

                *nl = '\0';
                size_t used = (size_t) (nl - agent_buffer) + 1;
                init_request r = agent_discarding ? INIT_REQUEST_NONE : parse_request(agent_buffer);
                agent_discarding = false;
                memmove(agent_buffer, nl + 1, agent_buffered - used);
                agent_buffered -= used;
                if (r != INIT_REQUEST_NONE)
                        return r;
        }
}

init_request init_agent_read(bool *disconnected)
{
        *disconnected = false;
        init_request r = take_buffered_request();
        if (r != INIT_REQUEST_NONE || init_port_fds.agent < 0)
                return r;

        ssize_t n = read(init_port_fds.agent, agent_buffer + agent_buffered, sizeof(agent_buffer) - agent_buffered);
        if (n == 0)
                *disconnected = true;
        if (n <= 0)
                return INIT_REQUEST_NONE;
        agent_buffered += (size_t) n;

        r = take_buffered_request();
        if (r == INIT_REQUEST_NONE && agent_buffered == sizeof(agent_buffer)) {
                init_log("agent message longer than %d bytes, discarding it", VP_AGENT_LINE_MAX);
                agent_buffered = 0;
                agent_discarding = true;
        }
        return r;
}

_Noreturn void init_poweroff(void)
{
        long deadline = now_ms() + VP_POWEROFF_ACK_TIMEOUT_S * 1000L;

        while (init_port_fds.agent >= 0 && !poweroff_requested) {
                long left = deadline - now_ms();
                if (left <= 0) {
                        init_log("no poweroff request from the host within %d s, powering off",
                                 VP_POWEROFF_ACK_TIMEOUT_S);
                        break;
                }

                bool disconnected;
                if (init_agent_read(&disconnected) == INIT_REQUEST_POWEROFF) {
                        init_debug_log("poweroff requested by the host");
                        break;
                }
                struct pollfd pfd = { .fd = init_port_fds.agent, .events = POLLIN };
                /* A disconnected port polls as POLLHUP at once, so sleep instead of spinning. */
                if (disconnected)
                        usleep(100 * 1000);
                else
                        poll(&pfd, 1, (int) (left < 200 ? left : 200));
        }

        sync();
        reboot(RB_POWER_OFF);
        /* Only reached if reboot(2) failed. PID 1 exiting panics the kernel, and with
         * panic=-1 and QEMU's -no-reboot that also ends the VM. */
        init_log("power-off failed: %m");
        _exit(1);
}

_Noreturn void init_fail(int status, const char *reason, const char *fmt, ...)
{
        char message[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);

        init_log("%s", message);
        /* A failure before the ports were looked up: try once more without waiting, so the
         * host still gets the reason when virtio_console is loaded. */
        if (init_port_fds.agent < 0)
                init_ports_open(0);
        init_agent_send_error(status, reason, message);
        init_poweroff();
}
