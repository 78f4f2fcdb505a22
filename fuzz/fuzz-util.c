/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fuzz.h"

#include "util.h"

#include <fcntl.h>
#include <string.h>

static char *temp_dir;

char *fuzz_string(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);

        FUZZ_CHECK(s);
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

static void remove_temp_dir(void)
{
        vp_error err;

        if (temp_dir)
                (void) vp_rm_rf(temp_dir, &err);
}

const char *fuzz_temp_dir(void)
{
        if (temp_dir)
                return temp_dir;

        const char *tmp = getenv("TMPDIR");
        temp_dir = vp_strdup_printf("%s/vmpack-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        FUZZ_CHECK(temp_dir);
        FUZZ_CHECK(mkdtemp(temp_dir));
        atexit(remove_temp_dir);
        return temp_dir;
}

void fuzz_write_file(const char *dir, const char *name, const void *data, size_t size)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/%s", dir, name);
        FUZZ_CHECK(path);

        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(write(fd, data, size) == (ssize_t) size);
}
