/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "keyfile.h"

#include <ini.h>
#include <string.h>

/*
 * How a keyfile is read. libinih 55 as Debian builds it has a 200-byte line buffer, treats
 * " ;" as the start of an inline comment, accepts ':' as well as '=' and joins indented lines
 * to the previous value. Any of these would silently change a package list or a Run command.
 * So read_line() hands inih one line at a time in a normalized form ("[Section]" or "Key=")
 * and keeps the raw line, and handle_key(), which inih calls for each key line, takes the value
 * from the raw line. Counting lines here also gives every message its line number, which this
 * inih build does not pass to the handler.
 */

typedef struct reader {
        vp_keyfile *kf;
        const vp_keyfile_ops *ops;
        void *userdata;
} reader;

static int verror_at(vp_keyfile *kf, unsigned line, const char *fmt, va_list ap) _printf_(3, 0);
static int verror_at(vp_keyfile *kf, unsigned line, const char *fmt, va_list ap)
{
        char message[sizeof(kf->err->message)];

        vsnprintf(message, sizeof(message), fmt, ap);
        kf->r = vp_error_set(kf->err, -EINVAL, "%s:%u: %s", kf->filename, line, message);
        return kf->r;
}

int vp_keyfile_error_at(vp_keyfile *kf, unsigned line, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = verror_at(kf, line, fmt, ap);
        va_end(ap);
        return r;
}

int vp_keyfile_error(vp_keyfile *kf, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = verror_at(kf, kf->line, fmt, ap);
        va_end(ap);
        return r;
}

int vp_keyfile_key_errorv(vp_keyfile *kf, const char *key, const char *valid, const char *fmt, va_list ap)
{
        char message[sizeof(kf->err->message)];

        vsnprintf(message, sizeof(message), fmt, ap);
        if (valid)
                return vp_keyfile_error(kf, "key '%s': %s (valid: %s)", key, message, valid);
        return vp_keyfile_error(kf, "key '%s': %s", key, message);
}

int vp_keyfile_oom(vp_keyfile *kf)
{
        kf->r = vp_error_set(kf->err, -ENOMEM, "%s: out of memory", kf->filename);
        return kf->r;
}

const char *vp_keyfile_shorten(const char *s, char buf[static VP_KEYFILE_SHORT_SIZE])
{
        if (strlen(s) <= 80)
                return s;
        snprintf(buf, VP_KEYFILE_SHORT_SIZE, "%.77s...", s);
        return buf;
}

int vp_keyfile_split_list(const char *value, size_t max_items, char ***ret)
{
        _cleanup_strv_free_ char **items = strv_new();
        _cleanup_free_ char *item = malloc(strlen(value) + 1);
        size_t len = 0, n = 0;

        if (!items || !item)
                return -ENOMEM;

        for (const char *s = value;; s++) {
                if (*s == '\\' && s[1] == ';') {
                        item[len++] = ';';
                        s++;
                        continue;
                }
                if (*s != ';' && *s != '\0') {
                        item[len++] = *s;
                        continue;
                }

                size_t start = 0;
                while (start < len && (item[start] == ' ' || item[start] == '\t'))
                        start++;
                while (len > start && (item[len - 1] == ' ' || item[len - 1] == '\t'))
                        len--;
                if (len > start) {
                        if (++n > max_items)
                                return -E2BIG;
                        if (strv_push(&items, strndup(item + start, len - start)) < 0)
                                return -ENOMEM;
                }
                len = 0;
                if (*s == '\0')
                        break;
        }

        *ret = TAKE_PTR(items);
        return 0;
}

const char *vp_keyfile_find_duplicate(char *const *items)
{
        for (size_t i = 0; items[i]; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(items[i], items[j]) == 0)
                                return items[i];
        return NULL;
}

static char *strip(char *s)
{
        size_t n;

        s += strspn(s, " \t");
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
        return s;
}

/* Reject control characters other than tab, and invalid UTF-8 sequences. */
static int check_text(vp_keyfile *kf, const char *line)
{
        const unsigned char *s = (const unsigned char *) line;

        for (size_t i = 0; s[i];) {
                size_t extra;
                uint32_t min;

                if (s[i] < 0x80) {
                        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                                return vp_keyfile_error(
                                        kf, "invalid control character 0x%02x (a %s is UTF-8 text)", s[i],
                                        kf->kind);
                        i++;
                        continue;
                } else if ((s[i] & 0xe0) == 0xc0) {
                        extra = 1, min = 0x80;
                } else if ((s[i] & 0xf0) == 0xe0) {
                        extra = 2, min = 0x800;
                } else if ((s[i] & 0xf8) == 0xf0) {
                        extra = 3, min = 0x10000;
                } else {
                        return vp_keyfile_error(kf, "invalid UTF-8 byte 0x%02x at column %zu", s[i], i + 1);
                }

                uint32_t c = s[i] & (0x3f >> extra);
                for (size_t k = 1; k <= extra; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return vp_keyfile_error(kf, "invalid UTF-8 sequence at column %zu", i + 1);
                        c = (c << 6) | (s[i + k] & 0x3f);
                }
                if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return vp_keyfile_error(kf, "invalid UTF-8 sequence at column %zu", i + 1);
                i += extra + 1;
        }
        return 0;
}

static int read_section_line(reader *rd, char *line, char *out, int out_size)
{
        vp_keyfile *kf = rd->kf;
        char buf[VP_KEYFILE_SHORT_SIZE];
        size_t n = strlen(line);
        int r;

        if (line[n - 1] != ']')
                return vp_keyfile_error(kf, "section header '%s' does not end with ']'",
                                        vp_keyfile_shorten(line, buf));
        line[n - 1] = '\0';
        const char *name = line + 1;

        r = rd->ops->section(rd->userdata, name);
        if (r < 0)
                return r;

        /* The callback accepts only names that fit inih's line buffer. */
        snprintf(out, out_size, "[%s]\n", name);
        return 0;
}

static int read_key_line(reader *rd, char *line, char *out, int out_size)
{
        vp_keyfile *kf = rd->kf;
        char buf[VP_KEYFILE_SHORT_SIZE];
        char *equals = strchr(line, '=');

        if (!equals)
                return vp_keyfile_error(
                        kf, "expected Key=value, [Section] or a comment starting with '#', found '%s'",
                        vp_keyfile_shorten(line, buf));
        *equals = '\0';
        kf->key = strip(line);
        kf->value = strip(equals + 1);

        if (!*kf->key)
                return vp_keyfile_error(kf, "missing key name before '='");
        kf->key_number = rd->ops->key(rd->userdata, kf->key);
        if (kf->key_number < 0)
                return kf->key_number;

        /* Known keys are short, so the normalized line always fits inih's buffer. */
        snprintf(out, out_size, "%s=\n", kf->key);
        return 0;
}

/* ini_reader: return the next line in the form described at the top of this file. */
static char *read_line(char *out, int out_size, void *userdata)
{
        reader *rd = userdata;
        vp_keyfile *kf = rd->kf;
        const char *end;
        size_t n;

        if (kf->r < 0 || !*kf->next)
                return NULL;

        end = strchrnul(kf->next, '\n');
        n = (size_t) (end - kf->next);
        kf->line++;
        if (n > VP_KEYFILE_MAX_LINE) {
                vp_keyfile_error(kf, "line is longer than %d bytes", VP_KEYFILE_MAX_LINE);
                return NULL;
        }
        free(kf->raw);
        kf->key = kf->value = NULL;
        kf->raw = strndup(kf->next, n);
        if (!kf->raw) {
                vp_keyfile_oom(kf);
                return NULL;
        }
        kf->next = *end ? end + 1 : end;

        if (n > 0 && kf->raw[n - 1] == '\r')
                kf->raw[--n] = '\0';
        char *line = kf->raw;
        if (kf->line == 1 && vp_str_startswith(line, "\xef\xbb\xbf"))
                line += 3;
        if (check_text(kf, line) < 0)
                return NULL;

        line = strip(line);
        if (!*line || *line == '#' || *line == ';')
                snprintf(out, out_size, "\n");
        else if (*line == '[') {
                if (read_section_line(rd, line, out, out_size) < 0)
                        return NULL;
        } else if (read_key_line(rd, line, out, out_size) < 0)
                return NULL;
        return out;
}

/* ini_handler: parse one value. read_line() has checked the section and the key. */
static int handle_key(void *userdata, const char *unused_section _unused_, const char *key,
                      const char *unused_value _unused_)
{
        reader *rd = userdata;
        vp_keyfile *kf = rd->kf;

        if (kf->r < 0)
                return 0;
        if (!kf->key || strcmp(kf->key, key) != 0) {
                vp_keyfile_error(kf, "key '%s': internal parser error", key);
                return 0;
        }
        return rd->ops->value(rd->userdata, kf->key_number, kf->value) < 0 ? 0 : 1;
}

int vp_keyfile_parse(vp_keyfile *kf, const char *text, const vp_keyfile_ops *ops, void *userdata)
{
        reader rd = { .kf = kf, .ops = ops, .userdata = userdata };
        int r;

        kf->next = text;
        kf->line = 0;
        kf->r = 0;
        r = ini_parse_stream(read_line, &rd, handle_key, &rd);
        free(kf->raw);
        kf->raw = NULL;
        kf->key = kf->value = NULL;
        if (kf->r < 0)
                return kf->r;
        if (r == -2)
                return vp_keyfile_oom(kf);
        if (r != 0)
                return vp_error_set(kf->err, -EINVAL, "%s:%d: cannot parse this line", kf->filename, r);
        return 0;
}
