/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Golden-file tests of the rendered QEMU command line. Each file under data/qemu/ contains one
 * argument per line. To accept a deliberate change, run the test with VP_UPDATE_GOLDEN=1
 * and review the diff of the data files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "qemu.h"

/* A spec like the runner's for a headless app: microvm, TCG, root disk, four ports. */
static vp_vm_spec base_spec(void)
{
        vp_vm_spec spec = {
                .machine = VP_MACHINE_MICROVM,
                .accel = VP_ACCEL_TCG,
                .cpus = 1,
                .memory_mib = 256,
                .headless = true,
                .kernel = "/cache/kernels/6.1.0-57-amd64/vmlinux",
                .initrd = "/cache/initramfs/6.1.0-57-amd64-0123456789ab.cpio",
                .cmdline = "console=ttyS0 quiet panic=-1 rdinit=/init tsc_early_khz=2596130",
                .console_log = "/run/vmpack/run-abc/console.log",
                .qmp_socket = "/run/vmpack/run-abc/qmp.sock",
                .rng = true,
                .config_file = "/run/vmpack/run-abc/config",
        };

        spec.disks[spec.n_disks++] = (vp_vm_disk) { .path = "/data/images/d1/rootfs.sqfs", .readonly = true };
        spec.ports[spec.n_ports++] = (vp_vm_port) { .name = "io.bheem.agent", .fd = 5 };
        spec.ports[spec.n_ports++] = (vp_vm_port) { .name = "io.bheem.stdin", .fd = 6 };
        spec.ports[spec.n_ports++] = (vp_vm_port) { .name = "io.bheem.stdout", .fd = 7 };
        spec.ports[spec.n_ports++] = (vp_vm_port) { .name = "io.bheem.stderr", .fd = 8 };
        return spec;
}

static void check_golden(const vp_vm_spec *spec, const char *name)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/qemu/%s.args", VP_TEST_DATA, name);
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *expected = NULL;
        vp_error err = {};

        assert_int_equal(vp_qemu_render(spec, &argv, &err), 0);
        _cleanup_free_ char *joined = strv_join(argv, "\n");
        _cleanup_free_ char *actual = vp_strdup_printf("%s\n", joined);

        if (getenv("VP_UPDATE_GOLDEN")) {
                assert_int_equal(vp_write_file_atomic(path, actual, strlen(actual), 0644, &err), 0);
                return;
        }
        assert_int_equal(vp_read_file(path, 1 << 20, &expected, NULL, &err), 0);
        assert_string_equal(actual, expected);
}

static void render_headless_none(void **state)
{
        vp_vm_spec spec = base_spec();

        check_golden(&spec, "headless-none");
}

/* A writable data volume passes host write errors such as ENOSPC to the guest
 * (werror=report), because QEMU's default pauses the VM and leaves it hung. */
static void render_data_volume(void **state)
{
        vp_vm_spec spec = base_spec();

        spec.disks[spec.n_disks++] = (vp_vm_disk) { .path = "/data/instances/a/data.qcow2", .format = "qcow2" };
        check_golden(&spec, "data-volume");
}

static void render_uplink(void **state)
{
        vp_vm_spec spec = base_spec();

        spec.network = VP_VM_NETWORK_UPLINK;
        spec.memory_mib = 1024;
        spec.cpus = 2;
        check_golden(&spec, "uplink");
}

static void render_shares_ro_rw(void **state)
{
        vp_vm_spec spec = base_spec();

        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "file1", .host_path = "/run/x/files/1", .readonly = true };
        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "file2", .host_path = "/run/x/files/2", .readonly = false };
        check_golden(&spec, "shares-ro-rw");
}

/* Folder shares as vmrun.c builds them: QEMU opens the caller's descriptors through
 * /proc/self/fd, after the files' staging directory. */
static void render_shares_folders(void **state)
{
        vp_vm_spec spec = base_spec();

        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "file1", .host_path = "/run/x/files/1", .readonly = true };
        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "dir1", .host_path = "/proc/self/fd/9", .readonly = true };
        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "dir2", .host_path = "/proc/self/fd/10", .readonly = false };
        check_golden(&spec, "shares-folders");
}

static void render_q35_kvm(void **state)
{
        vp_vm_spec spec = base_spec();
        const char *extra[] = { "-trace", "virtio_blk_*", NULL };

        spec.machine = VP_MACHINE_Q35;
        spec.accel = VP_ACCEL_KVM;
        spec.cmdline = "console=ttyS0 quiet panic=-1 rdinit=/init";
        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "file1", .host_path = "/run/x/files/1", .readonly = true };
        spec.network = VP_VM_NETWORK_UPLINK;
        spec.extra_args = extra;
        check_golden(&spec, "q35-kvm");
}

static void render_escapes_commas(void **state)
{
        vp_vm_spec spec = base_spec();

        spec.disks[0].path = "/data/a,b/rootfs.sqfs";
        spec.console_log = "/run/a,b/console.log";
        spec.qmp_socket = "/run/a,b/qmp.sock";
        spec.config_file = "/run/a,b/config";
        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "file1", .host_path = "/run/a,,b/1", .readonly = true };
        /* -append takes the whole value: a comma there is not a separator. */
        spec.cmdline = "console=ttyS0 foo=a,b";
        check_golden(&spec, "escape-commas");
}

/* A graphical app as the runner renders it: q35 and a virtio GPU, keyboard and tablet. */
static vp_vm_spec gui_spec(void)
{
        vp_vm_spec spec = base_spec();

        spec.machine = VP_MACHINE_Q35;
        spec.cmdline = "console=ttyS0 quiet panic=-1 rdinit=/init";
        spec.memory_mib = 1024;
        spec.headless = false;
        spec.gpu = true;
        spec.name = "[work] Fox,1";
        return spec;
}

static bool argv_contains(char **argv, const char *needle)
{
        STRV_FOREACH(a, argv)
                if (strstr(*a, needle))
                        return true;
        return false;
}

static void render_gui_none(void **state)
{
        vp_vm_spec spec = gui_spec();
        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = {};

        check_golden(&spec, "gui-none");

        /* Without their permissions: no sound device, no agent port, no SPICE server. */
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_false(argv_contains(argv, "audiodev"));
        assert_false(argv_contains(argv, "hda"));
        assert_false(argv_contains(argv, "vdagent"));
        assert_false(argv_contains(argv, "com.redhat.spice.0"));
        assert_false(argv_contains(argv, "-spice"));
        assert_false(argv_contains(argv, "usb"));
}

static void render_gui_audio(void **state)
{
        vp_vm_spec spec = gui_spec();
        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = {};

        spec.display = VP_DISPLAY_GTK;
        spec.audio = true;
        check_golden(&spec, "gui-audio");

        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_true(argv_contains(argv, "hda-output,audiodev=audio0,mixer=off"));
        assert_false(argv_contains(argv, "hda-duplex"));
        assert_false(argv_contains(argv, "vdagent"));
}

static void render_gui_microphone(void **state)
{
        vp_vm_spec spec = gui_spec();
        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = {};

        spec.display = VP_DISPLAY_SDL;
        spec.audio = true;
        spec.microphone = true;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_true(argv_contains(argv, "hda-duplex,audiodev=audio0,mixer=off"));
        assert_false(argv_contains(argv, "hda-output"));
}

static void render_gui_audio_driver(void **state)
{
        vp_vm_spec spec = gui_spec();
        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = {};

        spec.audio = true;
        spec.audio_driver = "none";
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_true(argv_contains(argv, "none,id=audio0"));
        assert_false(argv_contains(argv, "pa,id=audio0"));

        spec.audio_driver = "alsa,dev=x";
        assert_int_equal(vp_qemu_render(&spec, &(char **) { NULL }, &err), -EINVAL);
        assert_non_null(strstr(err.message, "alsa"));
}

static void render_gui_audio_server(void **state)
{
        vp_vm_spec spec = gui_spec();
        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = {};

        /* The server goes into the option, with a comma in its path doubled. */
        spec.audio = true;
        spec.audio_server = "unix:/run/user/1000/a,b/native";
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_true(argv_contains(argv, "pa,id=audio0,server=unix:/run/user/1000/a,,b/native"));
        argv = strv_free(argv);

        /* The none driver discards the sound and takes no server. */
        spec.audio_driver = "none";
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_true(argv_contains(argv, "none,id=audio0"));
        assert_false(argv_contains(argv, "server=unix"));
}

static void render_gui_clipboard(void **state)
{
        vp_vm_spec spec = gui_spec();
        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = {};

        spec.display = VP_DISPLAY_SPICE;
        spec.spice_socket = "/run/vmpack/run-abc/spice.sock";
        spec.clipboard = true;
        check_golden(&spec, "gui-clipboard");

        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_false(argv_contains(argv, "audiodev"));
        argv = strv_free(argv);

        /* A local window gets QEMU's own agent instead of the SPICE client's. */
        spec.display = VP_DISPLAY_GTK;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_true(argv_contains(argv, "qemu-vdagent,id=vdagent,name=vdagent,clipboard=on"));
        assert_false(argv_contains(argv, "spicevmc"));
}

static void render_gui_virgl(void **state)
{
        static const struct {
                vp_display display;
                const char *option; /* the -display or -spice value */
        } cases[] = {
                { VP_DISPLAY_NONE, "egl-headless,rendernode=/dev/dri/renderD128" },
                { VP_DISPLAY_GTK, "gtk,gl=on" },
                { VP_DISPLAY_SDL, "sdl,gl=on" },
                { VP_DISPLAY_SPICE, "unix=on,addr=/run/vmpack/run-abc/spice.sock,disable-ticketing=on,agent-mouse=off,gl=on,"
                                    "rendernode=/dev/dri/renderD128" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                vp_vm_spec spec = gui_spec();
                _cleanup_strv_free_ char **argv = NULL;
                vp_error err = {};

                spec.display = cases[i].display;
                spec.spice_socket = "/run/vmpack/run-abc/spice.sock";
                spec.render_node = "/dev/dri/renderD128";
                assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
                assert_true(argv_contains(argv, cases[i].option));
                assert_true(argv_contains(argv, "virtio-gpu-gl-pci"));
                assert_false(argv_contains(argv, "virtio-gpu-pci"));
        }

        /* Without a render node: plain virtio-gpu and no OpenGL display. */
        vp_vm_spec spec = gui_spec();
        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = {};
        spec.display = VP_DISPLAY_GTK;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        assert_true(argv_contains(argv, "virtio-gpu-pci"));
        assert_true(argv_contains(argv, "gtk"));
        assert_false(argv_contains(argv, "virtio-gpu-gl-pci"));

        /* A relative render node, or one without a GPU, is a bad spec. */
        spec.render_node = "dri/renderD128";
        assert_int_equal(vp_qemu_render(&spec, &(char **) { NULL }, &err), -EINVAL);
        assert_non_null(strstr(err.message, "render node"));
        spec = base_spec();
        spec.render_node = "/dev/dri/renderD128";
        assert_int_equal(vp_qemu_render(&spec, &(char **) { NULL }, &err), -EINVAL);
}

static void render_gui_rejects_bad_specs(void **state)
{
        vp_vm_spec spec;
        char **argv = NULL;
        vp_error err = {};

        spec = gui_spec();
        spec.machine = VP_MACHINE_MICROVM;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_non_null(strstr(err.message, "q35"));

        spec = gui_spec();
        spec.display = VP_DISPLAY_SPICE;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_non_null(strstr(err.message, "SPICE"));

        spec = gui_spec();
        spec.microphone = true;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_non_null(strstr(err.message, "microphone"));

        spec = base_spec();
        spec.audio = true;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_non_null(strstr(err.message, "GPU"));

        spec = gui_spec();
        spec.headless = true;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_null(argv);
}

static void escape_doubles_commas(void **state)
{
        _cleanup_free_ char *a = vp_qemu_escape("a,b,,c");
        _cleanup_free_ char *b = vp_qemu_escape("");
        _cleanup_free_ char *c = vp_qemu_escape(",");

        assert_string_equal(a, "a,,b,,,,c");
        assert_string_equal(b, "");
        assert_string_equal(c, ",,");
}

static void render_rejects_auto_accel(void **state)
{
        vp_vm_spec spec = base_spec();
        char **argv = NULL;
        vp_error err = {};

        spec.accel = VP_ACCEL_AUTO;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_null(argv);
        assert_non_null(strstr(err.message, "auto"));
}

static void render_rejects_bad_values(void **state)
{
        vp_vm_spec spec;
        char **argv = NULL;
        vp_error err = {};

        spec = base_spec();
        spec.cpus = 0;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);

        spec = base_spec();
        spec.memory_mib = 16;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);

        spec = base_spec();
        spec.kernel = NULL;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);

        spec = base_spec();
        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "bad,tag", .host_path = "/x" };
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_non_null(strstr(err.message, "bad,tag"));

        spec = base_spec();
        spec.ports[0].fd = -1;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_null(argv);
}

static void render_limits_microvm_devices(void **state)
{
        vp_vm_spec spec = base_spec();
        char **argv = NULL;
        vp_error err = {};

        /* Disk, serial and rng take 3 of the 24 virtio-mmio slots: 21 shares fit, 22 do not. */
        for (int i = 0; i < 21; i++)
                spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "t", .host_path = "/x", .readonly = true };
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        argv = strv_free(argv);

        spec.shares[spec.n_shares++] = (vp_vm_share) { .tag = "t", .host_path = "/x", .readonly = true };
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), -EINVAL);
        assert_non_null(strstr(err.message, "q35"));

        spec.machine = VP_MACHINE_Q35;
        assert_int_equal(vp_qemu_render(&spec, &argv, &err), 0);
        strv_free(argv);
}

static void names_round_trip(void **state)
{
        vp_machine machine;
        vp_accel accel;
        vp_vm_network network;

        assert_int_equal(vp_machine_from_string("q35", &machine), 0);
        assert_int_equal(machine, VP_MACHINE_Q35);
        assert_int_equal(vp_machine_from_string("pc", &machine), -EINVAL);
        assert_int_equal(vp_accel_from_string("auto", &accel), 0);
        assert_int_equal(accel, VP_ACCEL_AUTO);
        assert_int_equal(vp_accel_from_string("KVM", &accel), -EINVAL);
        assert_int_equal(vp_vm_network_from_string("uplink", &network), 0);
        assert_string_equal(vp_vm_network_to_string(network), "uplink");

        vp_display display;
        assert_int_equal(vp_display_from_string("spice", &display), 0);
        assert_int_equal(display, VP_DISPLAY_SPICE);
        assert_string_equal(vp_display_to_string(VP_DISPLAY_GTK), "gtk");
        assert_int_equal(vp_display_from_string("vnc", &display), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(render_headless_none),
                cmocka_unit_test(render_data_volume),
                cmocka_unit_test(render_uplink),
                cmocka_unit_test(render_shares_ro_rw),
                cmocka_unit_test(render_shares_folders),
                cmocka_unit_test(render_q35_kvm),
                cmocka_unit_test(render_escapes_commas),
                cmocka_unit_test(render_gui_none),
                cmocka_unit_test(render_gui_audio),
                cmocka_unit_test(render_gui_microphone),
                cmocka_unit_test(render_gui_audio_driver),
                cmocka_unit_test(render_gui_audio_server),
                cmocka_unit_test(render_gui_clipboard),
                cmocka_unit_test(render_gui_virgl),
                cmocka_unit_test(render_gui_rejects_bad_specs),
                cmocka_unit_test(escape_doubles_commas),
                cmocka_unit_test(render_rejects_auto_accel),
                cmocka_unit_test(render_rejects_bad_values),
                cmocka_unit_test(render_limits_microvm_devices),
                cmocka_unit_test(names_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
