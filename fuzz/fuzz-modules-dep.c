/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module dependency resolution, vp_initramfs_resolve_modules(), on arbitrary modules.dep
 * text. The input up to the first NUL byte is modules.dep. The rest, when there is a NUL, is
 * modules.builtin, which is otherwise absent. */
#include "fuzz.h"

#include "initramfs.h"

#include <string.h>

static ssize_t index_of(char **paths, const char *path, size_t length)
{
        for (size_t i = 0; paths[i]; i++)
                if (strlen(paths[i]) == length && memcmp(paths[i], path, length) == 0)
                        return (ssize_t) i;
        return -1;
}

/* Check that every dependency that modules.dep lists for a returned module comes before it.
 * The resolver uses the first line of a module that appears twice, and so does this check. */
static void check_order(char **paths, const char *dep_text)
{
        _cleanup_free_ char *seen = calloc(strv_length(paths) + 1, 1);
        FUZZ_CHECK(seen);

        for (const char *line = dep_text; *line;) {
                size_t line_length = strcspn(line, "\n");
                const char *colon = memchr(line, ':', line_length);
                if (colon) {
                        ssize_t self = index_of(paths, line, (size_t) (colon - line));
                        if (self >= 0 && !seen[self]) {
                                seen[self] = 1;
                                const char *end = line + line_length;
                                for (const char *dep = colon + 1; dep < end;) {
                                        dep += strspn(dep, " \t");
                                        size_t n = strcspn(dep, " \t\n");
                                        if (dep + n > end)
                                                n = (size_t) (end - dep);
                                        if (n > 0) {
                                                ssize_t at = index_of(paths, dep, n);
                                                FUZZ_CHECK(at >= 0 && at < self);
                                        }
                                        dep += n;
                                }
                        }
                }
                line += line_length;
                if (*line == '\n')
                        line++;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *dir = fuzz_temp_dir();
        const uint8_t *nul = memchr(data, '\0', size);
        size_t dep_size = nul ? (size_t) (nul - data) : size;

        fuzz_write_file(dir, "modules.dep", data, dep_size);
        _cleanup_free_ char *builtin = vp_strdup_printf("%s/modules.builtin", dir);
        FUZZ_CHECK(builtin);
        if (nul)
                fuzz_write_file(dir, "modules.builtin", nul + 1, size - dep_size - 1);
        else
                (void) unlink(builtin);

        _cleanup_strv_free_ char **paths = NULL;
        vp_error err = { 0 };
        int r = vp_initramfs_resolve_modules(dir, &paths, &err);
        if (r < 0) {
                FUZZ_CHECK(err.code == r && err.message[0] != '\0');
                FUZZ_CHECK(paths == NULL);
                return 0;
        }

        /* Each module is listed once, with a relative path that stays inside the modules
         * directory. */
        FUZZ_CHECK(paths);
        STRV_FOREACH(p, paths) {
                FUZZ_CHECK(**p != '\0' && **p != '/' && !strstr(*p, ".."));
                for (char **q = paths; q < p; q++)
                        FUZZ_CHECK(strcmp(*p, *q) != 0);
        }
        _cleanup_free_ char *dep_text = fuzz_string(data, dep_size);
        check_order(paths, dep_text);
        return 0;
}
