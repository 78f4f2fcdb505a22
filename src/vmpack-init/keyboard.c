/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A Shift press and release for the compositor, written to the virtio keyboard's event
 * node, which the kernel passes to every reader as if the device had sent it. The first
 * key that wlroots 0.15 passes to a newly focused client is lost (see init_focus_read()
 * in sway.c), so this one takes its place.
 */
#include "init.h"

#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

static char keyboard_node[64];

void init_keyboard_warmup_arm(const char *node)
{
        snprintf(keyboard_node, sizeof(keyboard_node), "%s", node);
}

static int write_key(int fd, unsigned short code, int value)
{
        struct input_event events[2] = {
                { .type = EV_KEY, .code = code, .value = value },
                { .type = EV_SYN, .code = SYN_REPORT, .value = 0 },
        };

        gettimeofday(&events[0].time, NULL);
        events[1].time = events[0].time;
        return write(fd, events, sizeof(events)) == (ssize_t) sizeof(events) ? 0 : -1;
}

void init_keyboard_warmup_run(void)
{
        if (!keyboard_node[0])
                return;

        int fd = open(keyboard_node, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 || write_key(fd, KEY_LEFTSHIFT, 1) < 0 || write_key(fd, KEY_LEFTSHIFT, 0) < 0)
                init_log("writing a Shift press to %s failed: %m; the first key typed may be lost", keyboard_node);
        else
                init_debug_log("Shift pressed and released on %s", keyboard_node);
        if (fd >= 0)
                close(fd);
        keyboard_node[0] = '\0';
}
