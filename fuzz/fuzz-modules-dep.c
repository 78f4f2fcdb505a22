/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module dependency resolution, vp_initramfs_resolve_modules(), on arbitrary modules.dep
 * text. The input up to the first NUL byte is modules.dep. The rest, when there is a NUL, is
 * modules.builtin, which is otherwise absent. */
#include "fuzz.h"

#include "initramfs.h"

#include <string.h>

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
        return 0;
}
