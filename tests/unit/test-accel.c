/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Accelerator choice. The result may depend on the host's /dev/kvm, so each test checks
 * the branch that this host takes, and both branches end in a definite result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "accel.h"

#define KERNEL "6.1.0-57-amd64"
#define QEMU "QEMU emulator version 7.2.22"

static int setup_cache(void **state)
{
        char template[] = "/tmp/vmpack-test-accel.XXXXXX";

        if (!mkdtemp(template))
                return -1;
        setenv("VMPACK_CACHE_DIR", template, 1);
        unsetenv("VMPACK_ACCEL");
        *state = strdup(template);
        return 0;
}

static int teardown_cache(void **state)
{
        vp_error err;

        vp_rm_rf(*state, &err);
        free(*state);
        return 0;
}

static void accel_tcg_needs_no_probe(void **state)
{
        vp_accel accel = VP_ACCEL_AUTO;
        char *notice = (char *) "unset";
        vp_error err = {};

        assert_int_equal(vp_accel_choose(VP_ACCEL_TCG, KERNEL, QEMU, &accel, &notice, &err), 0);
        assert_int_equal(accel, VP_ACCEL_TCG);
        assert_null(notice);
}

static void accel_env_overrides_auto(void **state)
{
        vp_accel accel = VP_ACCEL_AUTO;
        char *notice = NULL;
        vp_error err = {};

        setenv("VMPACK_ACCEL", "tcg", 1);
        assert_int_equal(vp_accel_choose(VP_ACCEL_AUTO, KERNEL, QEMU, &accel, &notice, &err), 0);
        assert_int_equal(accel, VP_ACCEL_TCG);
        assert_null(notice);

        setenv("VMPACK_ACCEL", "fast", 1);
        assert_int_equal(vp_accel_choose(VP_ACCEL_AUTO, KERNEL, QEMU, &accel, &notice, &err), -EINVAL);
        assert_non_null(strstr(err.message, "VMPACK_ACCEL='fast'"));
        unsetenv("VMPACK_ACCEL");
}

static void accel_record_selects_tcg(void **state)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *notice = NULL;
        vp_accel accel = VP_ACCEL_AUTO;
        vp_error err = {};

        assert_int_equal(vp_accel_remember_kvm_hang(KERNEL, QEMU, &path, &err), 0);
        assert_true(vp_str_endswith(path, "/accel"));

        assert_int_equal(vp_accel_choose(VP_ACCEL_AUTO, KERNEL, QEMU, &accel, &notice, &err), 0);
        assert_int_equal(accel, VP_ACCEL_TCG);
        assert_non_null(notice);
        if (vp_kvm_usable(NULL))
                assert_non_null(strstr(notice, path));
        else
                assert_non_null(strstr(notice, "/dev/kvm is not usable"));
}

static void accel_stale_record_is_ignored(void **state)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *notice = NULL;
        vp_accel accel = VP_ACCEL_AUTO;
        vp_error err = {};

        assert_int_equal(vp_accel_remember_kvm_hang(KERNEL, "QEMU emulator version 6.0", &path, &err), 0);
        assert_int_equal(vp_accel_choose(VP_ACCEL_AUTO, KERNEL, QEMU, &accel, &notice, &err), 0);
        if (vp_kvm_usable(NULL)) {
                assert_int_equal(accel, VP_ACCEL_KVM);
                assert_null(notice);
        } else {
                assert_int_equal(accel, VP_ACCEL_TCG);
                assert_non_null(notice);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(accel_tcg_needs_no_probe, setup_cache, teardown_cache),
                cmocka_unit_test_setup_teardown(accel_env_overrides_auto, setup_cache, teardown_cache),
                cmocka_unit_test_setup_teardown(accel_record_selects_tcg, setup_cache, teardown_cache),
                cmocka_unit_test_setup_teardown(accel_stale_record_is_ignored, setup_cache, teardown_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
