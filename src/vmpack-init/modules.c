/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel modules from the initramfs, loaded in the order the host resolved. */
#include "init.h"

#include "guest-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

static bool ends_with(const char *s, const char *suffix)
{
        size_t ls = strlen(s), lx = strlen(suffix);

        return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static void load_module(const char *path)
{
        /* The kernel decompresses .ko.xz, .ko.zst and .ko.gz itself when it was built with
         * the matching CONFIG_MODULE_DECOMPRESS option. Debian 12 ships plain .ko files. */
        int flags = ends_with(path, ".ko") ? 0 : MODULE_INIT_COMPRESSED_FILE;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_MODULE, "kernel module %s: cannot open: %m", path);
        int r = (int) syscall(SYS_finit_module, fd, "", flags);
        int saved = errno;
        close(fd);
        if (r < 0 && saved != EEXIST) {
                errno = saved;
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_MODULE, "kernel module %s: loading failed: %m", path);
        }
        init_debug_log("loaded %s", path);
}

void init_load_modules(const char *list_path)
{
        char line[INIT_PATH_MAX];
        FILE *f = fopen(list_path, "re");

        if (!f)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_MODULE, "%s: cannot open the module list: %m", list_path);
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (line[0] == '\0' || line[0] == '#')
                        continue;
                load_module(line);
        }
        fclose(f);
}
