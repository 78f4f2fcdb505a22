/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "progress.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

/* Plain-line mode prints an update at most this often. */
#define PLAIN_UPDATE_INTERVAL_NS (5ULL * 1000 * 1000 * 1000)

struct vp_progress {
        FILE *out;
        bool terminal;
        bool line_shown; /* a status line without a newline is on screen */
        char step[256];
        uint64_t last_plain_update_ns;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static unsigned terminal_width(FILE *out)
{
        struct winsize ws;

        if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
                return ws.ws_col;
        return 80;
}

vp_progress *vp_progress_new(FILE *out)
{
        vp_progress *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->out = out;
        p->terminal = isatty(fileno(out));
        return p;
}

vp_progress *vp_progress_free(vp_progress *p)
{
        if (p) {
                vp_progress_finish(p);
                free(p);
        }
        return NULL;
}

static void clear_status_line(vp_progress *p)
{
        if (p->line_shown) {
                fputs("\r\033[K", p->out);
                p->line_shown = false;
        }
}

void vp_progress_step(vp_progress *p, unsigned number, unsigned total, const char *fmt, ...)
{
        char text[200];
        va_list ap;

        if (!p)
                return;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        snprintf(p->step, sizeof(p->step), "[%u/%u] %s", number, total, text);

        clear_status_line(p);
        fprintf(p->out, "%s\n", p->step);
        fflush(p->out);
        p->last_plain_update_ns = now_ns();
}

void vp_progress_update(vp_progress *p, const char *fmt, ...)
{
        char text[512], line[1024];
        va_list ap;

        if (!p)
                return;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        snprintf(line, sizeof(line), "%s: %s", p->step, text);

        if (p->terminal) {
                /* Cut to the terminal width so the line never wraps and '\r' can rewrite it. */
                unsigned width = terminal_width(p->out) - 1;
                if (strlen(line) > width)
                        line[width] = '\0';
                fprintf(p->out, "\r\033[K%s", line);
                p->line_shown = true;
        } else {
                uint64_t now = now_ns();
                if (now - p->last_plain_update_ns < PLAIN_UPDATE_INTERVAL_NS)
                        return;
                p->last_plain_update_ns = now;
                fprintf(p->out, "%s\n", line);
        }
        fflush(p->out);
}

void vp_progress_message(vp_progress *p, const char *fmt, ...)
{
        va_list ap;

        if (!p)
                return;
        clear_status_line(p);
        va_start(ap, fmt);
        vfprintf(p->out, fmt, ap);
        va_end(ap);
        fputc('\n', p->out);
        fflush(p->out);
}

void vp_progress_finish(vp_progress *p)
{
        if (p && p->line_shown) {
                clear_status_line(p);
                fflush(p->out);
        }
}
