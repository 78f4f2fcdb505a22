/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "paths.h"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

static const struct {
        const char *override;
        const char *xdg;
        const char *home_fallback;
} dir_sources[] = {
        [VP_DIR_DATA] = { "VMPACK_DATA_DIR", "XDG_DATA_HOME", ".local/share" },
        [VP_DIR_CACHE] = { "VMPACK_CACHE_DIR", "XDG_CACHE_HOME", ".cache" },
        [VP_DIR_CONFIG] = { "VMPACK_CONFIG_DIR", "XDG_CONFIG_HOME", ".config" },
        [VP_DIR_RUNTIME] = { "VMPACK_RUNTIME_DIR", "XDG_RUNTIME_DIR", NULL },
};

static char *base_path(vp_dir dir)
{
        const char *v = getenv(dir_sources[dir].override);
        if (v && *v == '/')
                return strdup(v);

        v = getenv(dir_sources[dir].xdg);
        if (v && *v == '/')
                return vp_strdup_printf("%s/vmpack", v);

        if (dir == VP_DIR_RUNTIME)
                return vp_strdup_printf("/tmp/vmpack-%u", (unsigned) getuid());

        const char *home = getenv("HOME");
        if (!home || *home != '/')
                home = "/";
        return vp_strdup_printf("%s/%s/vmpack", strcmp(home, "/") == 0 ? "" : home,
                                dir_sources[dir].home_fallback);
}

char *vp_path(vp_dir dir, const char *sub)
{
        _cleanup_free_ char *base = base_path(dir);

        if (!base)
                return NULL;
        if (!sub || !*sub)
                return TAKE_PTR(base);
        return vp_strdup_printf("%s/%s", base, sub);
}

int vp_path_ensure(vp_dir dir, const char *sub, char **ret, vp_error *err)
{
        _cleanup_free_ char *base = base_path(dir);
        _cleanup_free_ char *full = NULL;

        if (!base)
                return vp_error_set(err, -ENOMEM, "out of memory");
        full = sub && *sub ? vp_strdup_printf("%s/%s", base, sub) : strdup(base);
        if (!full)
                return vp_error_set(err, -ENOMEM, "out of memory");

        int r = vp_mkdir_p(full, 0700, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(full);
        return 0;
}

/* True when this process is the vmpack binary inside the meson build tree. */
static bool running_from_build_tree(void)
{
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n <= 0)
                return false;
        self[n] = '\0';
        return vp_str_startswith(self, VP_BUILD_ROOT "/");
}

int vp_find_helper(const char *name, char **ret, vp_error *err)
{
        _cleanup_free_ char *path = NULL;

        if (strcmp(name, "vmpack-init") == 0 && getenv("VMPACK_INIT"))
                path = strdup(getenv("VMPACK_INIT"));
        else if (getenv("VMPACK_LIBEXEC_DIR"))
                path = vp_strdup_printf("%s/%s", getenv("VMPACK_LIBEXEC_DIR"), name);
        else if (running_from_build_tree())
                path = strcmp(name, "vmpack-init") == 0
                               ? strdup(VP_BUILD_ROOT "/src/vmpack-init/vmpack-init")
                               : vp_strdup_printf("%s/libexec/%s", VP_SOURCE_ROOT, name);
        else
                path = vp_strdup_printf("%s/%s", VP_LIBEXECDIR, name);
        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        if (access(path, X_OK) < 0)
                return vp_error_set_errno(err, -errno, "helper '%s' not found at %s (is vmpack installed?)",
                                          name, path);
        *ret = TAKE_PTR(path);
        return 0;
}
