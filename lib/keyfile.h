/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The keyfile reader of recipes (manifest.c) and policy files (policy.c). A keyfile has
 * "[Section]" headers, "Key=value" lines and comments starting with '#' or ';' at the start of
 * a line. It is UTF-8 text without control characters other than tab, with lines of at most
 * VP_KEYFILE_MAX_LINE bytes, LF or CR LF line ends and an optional byte order mark.
 *
 * The reader counts lines and checks the text and the shape of each line. The caller checks
 * section and key names and parses values in callbacks. Every message reads "FILE:LINE: ...".
 * The first error is recorded in the vp_keyfile, so a callback reports an error with the
 * functions below and returns their result.
 *
 * The reader hands inih one normalized line at a time, so the callbacks must accept only
 * section and key names that fit inih's line buffer (INI_MAX_LINE, 200 bytes in inih 55).
 */
#pragma once

#include "util.h"

#include <stdarg.h>

#define VP_KEYFILE_MAX_LINE 65536
/* The buffer vp_keyfile_shorten() needs: 80 bytes, "..." and the NUL. */
#define VP_KEYFILE_SHORT_SIZE 84

typedef struct vp_keyfile_ops {
        /* Check NAME of a "[NAME]" line and make it the current section. */
        int (*section)(void *userdata, const char *name);
        /* Check that KEY of a "KEY=value" line is valid in the current section, and return a
         * number >= 0 for it. */
        int (*key)(void *userdata, const char *key);
        /* Parse the value of the key that key() numbered. The value is trimmed of spaces and
         * tabs and may be empty. */
        int (*value)(void *userdata, int key, const char *value);
} vp_keyfile_ops;

typedef struct vp_keyfile {
        /* Set by the caller. */
        const char *filename; /* as the caller spelled it, for messages */
        const char *kind;     /* what the text is, for messages: "recipe", "policy file" */
        vp_error *err;

        unsigned line; /* the line being read, from 1 */
        int r;         /* the first error, after which reading stops */

        /* Private to keyfile.c. */
        const char *next; /* text not read yet */
        char *raw;        /* the current line, without the newline */
        const char *key;  /* the key and the value on the current line, in raw */
        const char *value;
        int key_number;
} vp_keyfile;

/*
 * Read text, calling ops with userdata for each section header and key line. Returns 0, or
 * the first error as a negative errno with kf->err set.
 */
int vp_keyfile_parse(vp_keyfile *kf, const char *text, const vp_keyfile_ops *ops, void *userdata);

/* Record "FILE:LINE: MESSAGE" for the current line, or for line, and return -EINVAL. */
int vp_keyfile_error(vp_keyfile *kf, const char *fmt, ...) _printf_(2, 3);
int vp_keyfile_error_at(vp_keyfile *kf, unsigned line, const char *fmt, ...) _printf_(3, 4);
/* "FILE:LINE: key 'KEY': MESSAGE (valid: VALID)" for the current line; no "(valid: ...)" when
 * valid is NULL. */
int vp_keyfile_key_errorv(vp_keyfile *kf, const char *key, const char *valid, const char *fmt, va_list ap)
        _printf_(4, 0);
/* Record "FILE: out of memory" and return -ENOMEM. */
int vp_keyfile_oom(vp_keyfile *kf);

/* s, or its first 77 bytes and "..." in buf when it is longer than 80 bytes, for quoting a
 * value in a message without filling the error record. */
const char *vp_keyfile_shorten(const char *s, char buf[static VP_KEYFILE_SHORT_SIZE]);

/*
 * Split a list value at ';'. "\;" is a literal semicolon, other backslashes stay as they are,
 * items are trimmed of spaces and tabs and empty items skipped, so a trailing ';' is allowed.
 * Returns -E2BIG when there are more than max_items items, or -ENOMEM.
 */
int vp_keyfile_split_list(const char *value, size_t max_items, char ***ret);
/* The first item equal to an earlier one, compared as written, or NULL. */
const char *vp_keyfile_find_duplicate(char *const *items);
