/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "accel.h"

#include "paths.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

/* The whole API version 12 has been stable since Linux 2.6.22. */
#define KVM_STABLE_API_VERSION 12

bool vp_kvm_usable(char **ret_reason)
{
        _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                if (ret_reason)
                        *ret_reason = strdup(strerror(errno));
                return false;
        }

        int version = ioctl(fd, KVM_GET_API_VERSION, 0);
        if (version != KVM_STABLE_API_VERSION) {
                if (ret_reason)
                        *ret_reason = version < 0 ? vp_strdup_printf("KVM_GET_API_VERSION: %s", strerror(errno))
                                                  : vp_strdup_printf("KVM API version %d, expected %d", version,
                                                                     KVM_STABLE_API_VERSION);
                return false;
        }
        return true;
}

static char *format_record(const char *kernel_version, const char *qemu_version)
{
        return vp_strdup_printf("kvm=hangs\nkernel=%s\nqemu=%s\n", kernel_version, qemu_version);
}

/* True when the cache file records a KVM hang for exactly this kernel and QEMU. A missing,
 * unreadable or stale file means "not known to hang", so KVM gets probed again. */
static bool kvm_known_to_hang(const char *path, const char *kernel_version, const char *qemu_version)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *expected = format_record(kernel_version, qemu_version);

        if (!expected || vp_read_file(path, 64 * 1024, &text, NULL, NULL) < 0)
                return false;
        return strcmp(text, expected) == 0;
}

int vp_accel_choose(vp_accel requested, const char *kernel_version, const char *qemu_version,
                    vp_accel *ret, char **ret_notice, vp_error *err)
{
        _cleanup_free_ char *reason = NULL;
        _cleanup_free_ char *cache = NULL;
        const char *env = getenv("VMPACK_ACCEL");

        *ret_notice = NULL;
        if (requested == VP_ACCEL_AUTO && env && *env) {
                if (vp_accel_from_string(env, &requested) < 0)
                        return vp_error_set(err, -EINVAL, "VMPACK_ACCEL='%s' is invalid (valid: kvm, tcg, auto)",
                                            env);
        }

        if (requested == VP_ACCEL_TCG) {
                *ret = VP_ACCEL_TCG;
                return 0;
        }

        if (!vp_kvm_usable(&reason)) {
                if (requested == VP_ACCEL_KVM)
                        return vp_error_set(err, -ENODEV,
                                            "KVM was requested but /dev/kvm is not usable: %s (use --accel tcg "
                                            "or auto; for access, join the group that owns /dev/kvm)",
                                            reason ? reason : "unknown reason");
                *ret_notice = vp_strdup_printf("/dev/kvm is not usable (%s); using TCG", reason ? reason : "?");
                *ret = VP_ACCEL_TCG;
                return 0;
        }

        if (requested == VP_ACCEL_KVM) {
                *ret = VP_ACCEL_KVM;
                return 0;
        }

        cache = vp_path(VP_DIR_CACHE, "accel");
        if (!cache)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (kvm_known_to_hang(cache, kernel_version, qemu_version)) {
                *ret_notice = vp_strdup_printf("KVM did not boot kernel %s before (remembered in %s); using TCG "
                                               "(software emulation, slower). Remove that file to try KVM again",
                                               kernel_version, cache);
                *ret = VP_ACCEL_TCG;
                return 0;
        }

        *ret = VP_ACCEL_KVM;
        return 0;
}

int vp_accel_remember_kvm_hang(const char *kernel_version, const char *qemu_version, char **ret_path,
                               vp_error *err)
{
        _cleanup_free_ char *cache_dir = NULL;
        _cleanup_free_ char *record = format_record(kernel_version, qemu_version);
        int r;

        if (!record)
                return vp_error_set(err, -ENOMEM, "out of memory");

        r = vp_path_ensure(VP_DIR_CACHE, NULL, &cache_dir, err);
        if (r < 0)
                return r;

        char *path = vp_strdup_printf("%s/accel", cache_dir);
        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        r = vp_write_file_atomic(path, record, strlen(record), 0644, err);
        if (r < 0) {
                free(path);
                return r;
        }
        *ret_path = path;
        return 0;
}
