/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON string encoding for the agent's messages, which the host parses with jansson. */
#include "init.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p, or 0 for an invalid, overlong or surrogate
 * sequence, which a strict JSON parser such as jansson rejects. */
static size_t utf8_sequence_length(const unsigned char *p)
{
        size_t n;
        uint32_t value;

        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                n = 2;
                value = p[0] & 0x1fu;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                n = 3;
                value = p[0] & 0x0fu;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                n = 4;
                value = p[0] & 0x07u;
        } else {
                return 0;
        }

        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                value = value << 6 | (p[i] & 0x3fu);
        }
        if (n == 3 && (value < 0x800 || (value >= 0xd800 && value <= 0xdfff)))
                return 0;
        if (n == 4 && (value < 0x10000 || value > 0x10ffff))
                return 0;
        return n;
}

void init_json_quote(const char *s, char *out, size_t out_size)
{
        size_t n = 0;

        if (out_size < 3) {
                if (out_size)
                        out[0] = '\0';
                return;
        }
        out[n++] = '"';
        for (const unsigned char *p = (const unsigned char *) s; *p && n + 8 < out_size; p++) {
                if (*p == '"' || *p == '\\') {
                        out[n++] = '\\';
                        out[n++] = (char) *p;
                } else if (*p < 0x20 || *p == 0x7f) {
                        n += (size_t) snprintf(out + n, out_size - n, "\\u%04x", *p);
                } else if (*p < 0x80) {
                        out[n++] = (char) *p;
                } else {
                        /* JSON must be UTF-8: an invalid byte (from a file name, say) becomes '?'. */
                        size_t len = utf8_sequence_length(p);
                        if (len == 0) {
                                out[n++] = '?';
                                continue;
                        }
                        memcpy(out + n, p, len);
                        n += len;
                        p += len - 1;
                }
        }
        out[n++] = '"';
        out[n] = '\0';
}
