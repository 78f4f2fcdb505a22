/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Exec line of a recipe: splitting it into argv and expanding its file field codes. */
#include "manifest.h"

#include <string.h>

/*
 * The quoting rules of the Desktop Entry Specification 1.5, "The Exec key": arguments are
 * separated by spaces; inside double quotes, backslash escapes '"', '`', '$' and '\'. Outside
 * quotes a backslash escapes the next character, as in a shell. Field codes stay in place for
 * vp_exec_expand().
 */
int vp_exec_split(const char *exec, char ***ret_argv, vp_error *err)
{
        _cleanup_strv_free_ char **argv = strv_new();
        _cleanup_free_ char *word = malloc(strlen(exec) + 1);
        const char *s = exec;

        if (!argv || !word)
                return vp_error_set(err, -ENOMEM, "out of memory");

        for (;;) {
                bool quoted = false;
                size_t len = 0;

                s += strspn(s, " \t");
                if (!*s)
                        break;
                while (*s && (quoted || (*s != ' ' && *s != '\t'))) {
                        if (*s == '"') {
                                quoted = !quoted;
                                s++;
                        } else if (*s == '\\' && quoted) {
                                if (s[1] && strchr("\"`$\\", s[1])) {
                                        word[len++] = s[1];
                                        s += 2;
                                } else {
                                        word[len++] = *s++;
                                }
                        } else if (*s == '\\') {
                                if (!s[1])
                                        return vp_error_set(err, -EINVAL,
                                                            "a backslash at the end of the line");
                                word[len++] = s[1];
                                s += 2;
                        } else {
                                word[len++] = *s++;
                        }
                }
                if (quoted)
                        return vp_error_set(err, -EINVAL, "unterminated double quote");
                if (strv_push(&argv, strndup(word, len)) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }

        *ret_argv = TAKE_PTR(argv);
        return 0;
}

/* Append arg with %f/%u replaced by file (removed when file is NULL) and %% by %. */
static int expand_word(const char *arg, const char *file, char ***argv, vp_error *err)
{
        size_t file_len = file ? strlen(file) : 0, len = 0;
        _cleanup_free_ char *word = NULL;

        /* Every %f/%u can grow to the file's length, and there are at most strlen(arg) / 2 of them. */
        word = malloc(strlen(arg) + (strlen(arg) / 2) * file_len + 1);
        if (!word)
                return vp_error_set(err, -ENOMEM, "out of memory");

        for (const char *s = arg; *s; s++) {
                if (*s != '%') {
                        word[len++] = *s;
                        continue;
                }
                s++;
                if (*s == '%') {
                        word[len++] = '%';
                } else if (*s == 'f' || *s == 'u') {
                        if (file_len > 0)
                                memcpy(word + len, file, file_len);
                        len += file_len;
                } else if (*s == 'F' || *s == 'U') {
                        return vp_error_set(err, -EINVAL,
                                            "%%%c must be an argument on its own, found in '%s'", *s, arg);
                } else if (*s == '\0') {
                        return vp_error_set(err, -EINVAL, "'%%' at the end of '%s'", arg);
                } else {
                        return vp_error_set(err, -EINVAL, "unsupported field code '%%%c' in '%s'", *s, arg);
                }
        }
        return strv_push(argv, strndup(word, len)) < 0 ? vp_error_set(err, -ENOMEM, "out of memory") : 0;
}

static bool is_file_code(char c)
{
        return c == 'f' || c == 'u' || c == 'F' || c == 'U';
}

/* Count %f %u %F %U in argv, skipping %%. */
static size_t count_file_codes(char *const *argv, bool *ret_single)
{
        size_t n = 0;

        *ret_single = false;
        for (size_t i = 0; argv[i]; i++)
                for (const char *s = argv[i]; (s = strchr(s, '%')) && s[1]; s += 2)
                        if (is_file_code(s[1])) {
                                n++;
                                if (s[1] == 'f' || s[1] == 'u')
                                        *ret_single = true;
                        }
        return n;
}

int vp_exec_expand(char *const *argv, char *const *files, char ***ret_argv, vp_error *err)
{
        _cleanup_strv_free_ char **result = strv_new();
        size_t n_files = strv_length(files);
        bool single;
        size_t n_codes = count_file_codes(argv, &single);
        int r;

        if (!result)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (single && n_files > 1)
                return vp_error_set(err, -E2BIG,
                                    "the app takes one file (%%f or %%u in Exec) but %zu were given",
                                    n_files);

        for (size_t i = 0; argv[i]; i++) {
                if (strcmp(argv[i], "%F") == 0 || strcmp(argv[i], "%U") == 0) {
                        for (size_t k = 0; k < n_files; k++)
                                if (strv_extend(&result, files[k]) < 0)
                                        return vp_error_set(err, -ENOMEM, "out of memory");
                        continue;
                }
                /* The Desktop Entry Specification requires removing a file field code without a file. */
                if (n_files == 0 && (strcmp(argv[i], "%f") == 0 || strcmp(argv[i], "%u") == 0))
                        continue;
                r = expand_word(argv[i], n_files > 0 ? files[0] : NULL, &result, err);
                if (r < 0)
                        return r;
        }

        if (n_codes == 0)
                for (size_t k = 0; k < n_files; k++)
                        if (strv_extend(&result, files[k]) < 0)
                                return vp_error_set(err, -ENOMEM, "out of memory");

        *ret_argv = TAKE_PTR(result);
        return 0;
}
