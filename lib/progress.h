/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Progress of long work (image builds). On a terminal, updates rewrite one status line;
 * otherwise each step and message is a plain line and at most one update line is printed
 * every 5 seconds, so logs and CI output stay readable. The library reports through a vp_progress that the binary
 * creates; a NULL reporter is allowed everywhere and prints nothing.
 */
#pragma once

#include "util.h"

typedef struct vp_progress vp_progress;

/* Create a reporter that writes to out (usually stderr). Returns NULL when out of memory. */
vp_progress *vp_progress_new(FILE *out);
vp_progress *vp_progress_free(vp_progress *p);
static inline void vp_progress_freep(vp_progress **p)
{
        vp_progress_free(*p);
}
#define _cleanup_progress_ _cleanup_(vp_progress_freep)

/* Start step number (1-based) of total, e.g. "[2/5] Installing packages". */
void vp_progress_step(vp_progress *p, unsigned number, unsigned total, const char *fmt, ...) _printf_(4, 5);
/* Detail of the current step, e.g. "34/87 libpoppler126". */
void vp_progress_update(vp_progress *p, const char *fmt, ...) _printf_(2, 3);
/* A message that stays on screen, e.g. a removed file or a result. */
void vp_progress_message(vp_progress *p, const char *fmt, ...) _printf_(2, 3);
/* End the status line, if one is shown. */
void vp_progress_finish(vp_progress *p);
