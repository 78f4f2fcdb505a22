/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qemu.h"

#include "guest-protocol.h"

#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>

/* QEMU 7.2's microvm creates 24 virtio-mmio transports; a 25th virtio device fails with
 * "No 'virtio-bus' bus found". */
#define MICROVM_VIRTIO_TRANSPORTS 24

char *vp_qemu_escape(const char *value)
{
        size_t n = strlen(value), commas = 0;

        for (size_t i = 0; i < n; i++)
                if (value[i] == ',')
                        commas++;

        char *out = malloc(n + commas + 1);
        if (!out)
                return NULL;

        char *p = out;
        for (size_t i = 0; i < n; i++) {
                *p++ = value[i];
                if (value[i] == ',')
                        *p++ = ',';
        }
        *p = '\0';
        return out;
}

/* The virtio device model for this machine: microvm has only virtio-mmio ("-device"),
 * q35 uses PCI ("-pci"). */
static const char *virtio_suffix(vp_machine machine)
{
        return machine == VP_MACHINE_MICROVM ? "device" : "pci";
}

static int push_pair(char ***argv, const char *option, char *value)
{
        if (!value)
                return -ENOMEM;
        if (strv_extend(argv, option) < 0) {
                free(value);
                return -ENOMEM;
        }
        return strv_push(argv, value);
}

static bool has_text(const char *s)
{
        return s && *s;
}

static int validate_gui(const vp_vm_spec *spec, vp_error *err)
{
        if ((unsigned) spec->display > VP_DISPLAY_SPICE)
                return vp_error_set(err, -EINVAL, "VM spec: unknown display %d", (int) spec->display);
        if (!spec->gpu) {
                if (spec->audio || spec->microphone || spec->clipboard || has_text(spec->render_node))
                        return vp_error_set(err, -EINVAL,
                                            "VM spec: audio, microphone, clipboard and a render node need a GPU");
                return 0;
        }
        if (spec->machine != VP_MACHINE_Q35)
                return vp_error_set(err, -EINVAL, "VM spec: a GPU needs machine q35, not %s",
                                    vp_machine_to_string(spec->machine));
        if (spec->headless)
                return vp_error_set(err, -EINVAL, "VM spec: a GPU spec sets display, not headless");
        if (spec->display == VP_DISPLAY_SPICE && !has_text(spec->spice_socket))
                return vp_error_set(err, -EINVAL, "VM spec: display spice needs a SPICE socket path");
        if (spec->microphone && !spec->audio)
                return vp_error_set(err, -EINVAL, "VM spec: a microphone needs audio");
        if (spec->audio_driver && strcmp(spec->audio_driver, "pa") != 0 && strcmp(spec->audio_driver, "none") != 0)
                return vp_error_set(err, -EINVAL, "VM spec: audio driver '%s' is invalid (valid: pa, none)",
                                    spec->audio_driver);
        if (has_text(spec->render_node) && spec->render_node[0] != '/')
                return vp_error_set(err, -EINVAL, "VM spec: render node '%s' is not an absolute path",
                                    spec->render_node);
        if (spec->clipboard && spec->n_ports == 0)
                return vp_error_set(err, -EINVAL, "VM spec: the clipboard needs the virtio-serial ports");
        return 0;
}

static int validate(const vp_vm_spec *spec, vp_error *err)
{
        int r;

        if (spec->accel != VP_ACCEL_KVM && spec->accel != VP_ACCEL_TCG)
                return vp_error_set(err, -EINVAL, "VM spec: accelerator must be kvm or tcg, not '%s'",
                                    vp_accel_to_string(spec->accel));
        if (spec->machine != VP_MACHINE_MICROVM && spec->machine != VP_MACHINE_Q35)
                return vp_error_set(err, -EINVAL, "VM spec: unknown machine type %d", (int) spec->machine);
        if (spec->cpus < 1 || spec->cpus > 64)
                return vp_error_set(err, -EINVAL, "VM spec: %u CPUs is out of range (valid: 1 to 64)",
                                    spec->cpus);
        if (spec->memory_mib < 64 || spec->memory_mib > 64 * 1024)
                return vp_error_set(err, -EINVAL,
                                    "VM spec: %" PRIu64 " MiB of memory is out of range (valid: 64 to 65536)",
                                    spec->memory_mib);
        if (!has_text(spec->kernel))
                return vp_error_set(err, -EINVAL, "VM spec: no kernel");
        if (spec->n_disks > VP_VM_MAX_DISKS || spec->n_shares > VP_VM_MAX_SHARES ||
            spec->n_ports > VP_VM_MAX_PORTS)
                return vp_error_set(err, -EINVAL, "VM spec: too many disks, shares or ports");

        for (size_t i = 0; i < spec->n_disks; i++)
                if (!has_text(spec->disks[i].path))
                        return vp_error_set(err, -EINVAL, "VM spec: disk %zu has no path", i);
        for (size_t i = 0; i < spec->n_shares; i++) {
                const vp_vm_share *s = &spec->shares[i];
                if (!has_text(s->host_path) || !has_text(s->tag))
                        return vp_error_set(err, -EINVAL, "VM spec: share %zu has no path or tag", i);
                /* The tag is a device property and a guest mount source: keep it plain. */
                if (strlen(s->tag) > 31 || strspn(s->tag, "abcdefghijklmnopqrstuvwxyz0123456789_-.") !=
                                                   strlen(s->tag))
                        return vp_error_set(err, -EINVAL,
                                            "VM spec: share tag '%s' is invalid (valid: 1 to 31 of a-z 0-9 _ - .)",
                                            s->tag);
        }
        for (size_t i = 0; i < spec->n_ports; i++)
                if (!has_text(spec->ports[i].name) || spec->ports[i].fd < 0)
                        return vp_error_set(err, -EINVAL, "VM spec: port %zu has no name or fd", i);

        r = validate_gui(spec, err);
        if (r < 0)
                return r;

        if (spec->machine == VP_MACHINE_MICROVM) {
                size_t devices = spec->n_disks + spec->n_shares + (spec->n_ports > 0) + spec->rng +
                                 (spec->network != VP_VM_NETWORK_NONE);
                if (devices > MICROVM_VIRTIO_TRANSPORTS)
                        return vp_error_set(err, -EINVAL,
                                            "VM spec: %zu virtio devices exceed microvm's %d slots "
                                            "(share fewer files or use machine q35)",
                                            devices, MICROVM_VIRTIO_TRANSPORTS);
        }
        return 0;
}

static int render_base(const vp_vm_spec *spec, char ***argv)
{
        int r = 0;

        r = r ?: strv_extend(argv, has_text(spec->qemu_binary) ? spec->qemu_binary : VP_QEMU_BINARY);
        r = r ?: strv_extend(argv, "-nodefaults");
        r = r ?: strv_extend(argv, "-no-user-config");
        /* QEMU's seccomp filter: no obsolete syscalls, no setuid, no fork/exec, no
         * scheduler or resource changes. Everything QEMU needs is opened before it starts. */
        r = r ?: push_pair(argv, "-sandbox",
                           strdup("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
        /* A guest reboot (a kernel panic with panic=-1) ends QEMU instead of booting again. */
        r = r ?: strv_extend(argv, "-no-reboot");
        r = r ?: push_pair(argv, "-machine", strdup(vp_machine_to_string(spec->machine)));
        r = r ?: push_pair(argv, "-accel", strdup(vp_accel_to_string(spec->accel)));
        if (spec->accel == VP_ACCEL_KVM)
                r = r ?: push_pair(argv, "-cpu", strdup("host"));
        r = r ?: push_pair(argv, "-smp", vp_strdup_printf("%u", spec->cpus));
        r = r ?: push_pair(argv, "-m", vp_strdup_printf("%" PRIu64, spec->memory_mib));
        if (spec->headless)
                r = r ?: push_pair(argv, "-display", strdup("none"));

        /* -kernel, -initrd and -append take a plain value, not a "key=value" list, so no
         * comma escaping. */
        r = r ?: push_pair(argv, "-kernel", strdup(spec->kernel));
        if (has_text(spec->initrd))
                r = r ?: push_pair(argv, "-initrd", strdup(spec->initrd));
        if (has_text(spec->cmdline))
                r = r ?: push_pair(argv, "-append", strdup(spec->cmdline));
        return r;
}

static int render_disks(const vp_vm_spec *spec, char ***argv)
{
        const char *suffix = virtio_suffix(spec->machine);
        int r = 0;

        for (size_t i = 0; i < spec->n_disks && r == 0; i++) {
                const vp_vm_disk *d = &spec->disks[i];
                _cleanup_free_ char *path = vp_qemu_escape(d->path);
                if (!path)
                        return -ENOMEM;

                /* file.filename= instead of file=: a plain file= value that contains ':'
                 * would be parsed as a protocol prefix such as "nbd:". werror=report
                 * passes a host ENOSPC to the guest as an I/O error; QEMU's default
                 * (enospc) pauses the VM, which then hangs until someone resumes it. */
                r = push_pair(argv, "-drive",
                              vp_strdup_printf("if=none,id=disk%zu,file.driver=file,file.filename=%s,"
                                               "format=%s%s",
                                               i, path, d->format ? d->format : "raw",
                                               d->readonly ? ",readonly=on" : ",werror=report,rerror=report"));
                r = r ?: push_pair(argv, "-device", vp_strdup_printf("virtio-blk-%s,drive=disk%zu", suffix, i));
        }
        return r;
}

static int render_shares(const vp_vm_spec *spec, char ***argv)
{
        const char *suffix = virtio_suffix(spec->machine);
        int r = 0;

        for (size_t i = 0; i < spec->n_shares && r == 0; i++) {
                const vp_vm_share *s = &spec->shares[i];
                _cleanup_free_ char *path = vp_qemu_escape(s->host_path);
                if (!path)
                        return -ENOMEM;

                /* security_model=none: the guest sees the host's owner and mode bits, and
                 * QEMU does not fail when it cannot chown a file the guest creates.
                 * readonly=on makes QEMU itself reject every write with EROFS, whatever the
                 * guest's mount options are. multidevs=remap keeps inode numbers unique
                 * when the export spans file systems, as a bind-mounted file does. */
                r = push_pair(argv, "-fsdev",
                              vp_strdup_printf("local,id=fs%zu,path=%s,security_model=none,multidevs=remap%s", i, path,
                                               s->readonly ? ",readonly=on" : ""));
                r = r ?: push_pair(argv, "-device",
                                   vp_strdup_printf("virtio-9p-%s,fsdev=fs%zu,mount_tag=%s", suffix, i, s->tag));
        }
        return r;
}

static int render_ports(const vp_vm_spec *spec, char ***argv)
{
        int r = 0;

        if (spec->n_ports == 0)
                return 0;

        r = push_pair(argv, "-device", vp_strdup_printf("virtio-serial-%s,id=serial0", virtio_suffix(spec->machine)));
        for (size_t i = 0; i < spec->n_ports && r == 0; i++) {
                _cleanup_free_ char *name = vp_qemu_escape(spec->ports[i].name);
                if (!name)
                        return -ENOMEM;

                r = push_pair(argv, "-chardev", vp_strdup_printf("socket,id=port%zu,fd=%d", i, spec->ports[i].fd));
                r = r ?: push_pair(argv, "-device",
                                   vp_strdup_printf("virtserialport,bus=serial0.0,chardev=port%zu,name=%s", i, name));
        }
        return r;
}

static int render_control(const vp_vm_spec *spec, char ***argv)
{
        int r = 0;

        if (has_text(spec->console_log)) {
                _cleanup_free_ char *path = vp_qemu_escape(spec->console_log);
                if (!path)
                        return -ENOMEM;
                r = r ?: push_pair(argv, "-chardev", vp_strdup_printf("file,id=console,path=%s", path));
                r = r ?: push_pair(argv, "-serial", strdup("chardev:console"));
        }

        if (has_text(spec->qmp_socket)) {
                _cleanup_free_ char *path = vp_qemu_escape(spec->qmp_socket);
                if (!path)
                        return -ENOMEM;
                r = r ?: push_pair(argv, "-chardev",
                                   vp_strdup_printf("socket,id=qmp,path=%s,server=on,wait=off", path));
                r = r ?: push_pair(argv, "-mon", strdup("chardev=qmp,mode=control"));
        }

        if (has_text(spec->config_file)) {
                _cleanup_free_ char *path = vp_qemu_escape(spec->config_file);
                if (!path)
                        return -ENOMEM;
                r = r ?: push_pair(argv, "-fw_cfg", vp_strdup_printf("name=%s,file=%s", VP_FW_CFG_CONFIG, path));
        }
        return r;
}

static int render_devices(const vp_vm_spec *spec, char ***argv)
{
        const char *suffix = virtio_suffix(spec->machine);
        int r = 0;

        if (spec->network == VP_VM_NETWORK_UPLINK) {
                /* Slirp without host forwards: the guest reaches out, nothing reaches in. */
                r = r ?: push_pair(argv, "-netdev", strdup("user,id=net0"));
                r = r ?: push_pair(argv, "-device", vp_strdup_printf("virtio-net-%s,netdev=net0", suffix));
        }

        if (spec->rng) {
                r = r ?: push_pair(argv, "-object", strdup("rng-random,id=rng0,filename=/dev/urandom"));
                r = r ?: push_pair(argv, "-device", vp_strdup_printf("virtio-rng-%s,rng=rng0", suffix));
        }
        return r;
}

/*
 * The screen, input devices, sound and clipboard of a graphical app. Each device is added
 * only when the spec grants it: no sound card without audio, no capture without a
 * microphone, no agent port (so no clipboard) without clipboard.
 */
static int render_gui(const vp_vm_spec *spec, char ***argv)
{
        int r = 0;

        if (!spec->gpu)
                return 0;

        if (has_text(spec->name)) {
                _cleanup_free_ char *name = vp_qemu_escape(spec->name);
                if (!name)
                        return -ENOMEM;
                r = r ?: push_pair(argv, "-name", vp_strdup_printf("guest=%s", name));
        }

        /* With virgl the display must read the guest's frames from OpenGL textures: GTK
         * and SDL windows with gl=on, SPICE with gl=on on the render node, and with no
         * display egl-headless, which keeps QMP screendumps working. */
        bool gl = has_text(spec->render_node);
        _cleanup_free_ char *node = gl ? vp_qemu_escape(spec->render_node) : NULL;
        if (gl && !node)
                return -ENOMEM;

        switch (spec->display) {
        case VP_DISPLAY_NONE:
                r = r ?: push_pair(argv, "-display",
                                   gl ? vp_strdup_printf("egl-headless,rendernode=%s", node) : strdup("none"));
                break;
        case VP_DISPLAY_GTK:
                r = r ?: push_pair(argv, "-display", strdup(gl ? "gtk,gl=on" : "gtk"));
                break;
        case VP_DISPLAY_SDL:
                r = r ?: push_pair(argv, "-display", strdup(gl ? "sdl,gl=on" : "sdl"));
                break;
        case VP_DISPLAY_SPICE: {
                _cleanup_free_ char *path = vp_qemu_escape(spec->spice_socket);
                if (!path)
                        return -ENOMEM;
                /* Only the owner of the runtime directory can reach the socket, so no
                 * ticket (password) is needed. agent-mouse=off keeps the pointer on the
                 * virtio tablet when a clipboard agent is connected. */
                r = r ?: push_pair(argv, "-display", strdup("none"));
                if (gl)
                        r = r ?: push_pair(argv, "-spice",
                                           vp_strdup_printf("unix=on,addr=%s,disable-ticketing=on,agent-mouse=off,gl=on,"
                                                            "rendernode=%s",
                                                            path, node));
                else
                        r = r ?: push_pair(argv, "-spice",
                                           vp_strdup_printf("unix=on,addr=%s,disable-ticketing=on,agent-mouse=off", path));
                break;
        }
        }

        r = r ?: push_pair(argv, "-device", strdup(gl ? "virtio-gpu-gl-pci" : "virtio-gpu-pci"));
        r = r ?: push_pair(argv, "-device", strdup("virtio-keyboard-pci"));
        r = r ?: push_pair(argv, "-device", strdup("virtio-tablet-pci"));

        if (spec->audio) {
                /* QEMU 7.2 has no PipeWire audiodev (8.1 adds one) and no virtio-sound
                 * (8.2 adds it): PulseAudio, which PipeWire's pulse server provides, and
                 * an Intel HDA codec. hda-output has no input, hda-duplex has one.
                 * mixer=off gives the guest no volume control and leaves the volume to the
                 * host's sound server. With QEMU's default mixer=on, the guest's Master
                 * control sets the stream's volume, and the guest kernel (Debian's 6.1)
                 * starts it muted at 0% at every boot, so an app playing through ALSA is
                 * silent until something in the guest unmutes it. */
                const char *driver = has_text(spec->audio_driver) ? spec->audio_driver : "pa";
                if (strcmp(driver, "pa") == 0 && has_text(spec->audio_server)) {
                        _cleanup_free_ char *server = vp_qemu_escape(spec->audio_server);
                        if (!server)
                                return -ENOMEM;
                        r = r ?: push_pair(argv, "-audiodev", vp_strdup_printf("pa,id=audio0,server=%s", server));
                } else {
                        r = r ?: push_pair(argv, "-audiodev", vp_strdup_printf("%s,id=audio0", driver));
                }
                r = r ?: push_pair(argv, "-device", strdup("intel-hda"));
                r = r ?: push_pair(argv, "-device", strdup(spec->microphone ? "hda-duplex,audiodev=audio0,mixer=off"
                                                                            : "hda-output,audiodev=audio0,mixer=off"));
        }

        if (spec->clipboard) {
                /* The SPICE agent protocol on the port that spice-vdagent opens. With a
                 * SPICE display the client's agent takes it (spicevmc). Otherwise QEMU's
                 * own agent joins QEMU's clipboard, which a VNC client shares, and the
                 * GTK window too when QEMU was built with gtk_clipboard.
                 * NOTE: Debian 12's QEMU 7.2 is built without gtk_clipboard, so there a
                 * GTK window does not share the host's clipboard with the guest.
                 * mouse=off keeps the pointer on the virtio tablet: with mouse=on QEMU
                 * sends pointer events through the agent once it connects, and the
                 * guest's agent has no uinput device to pass them on. -spice has
                 * agent-mouse=off for the same reason. */
                if (spec->display == VP_DISPLAY_SPICE)
                        r = r ?: push_pair(argv, "-chardev", strdup("spicevmc,id=vdagent,name=vdagent"));
                else
                        r = r ?: push_pair(argv, "-chardev",
                                           strdup("qemu-vdagent,id=vdagent,name=vdagent,clipboard=on,mouse=off"));
                r = r ?: push_pair(argv, "-device",
                                   strdup("virtserialport,bus=serial0.0,chardev=vdagent,name=com.redhat.spice.0"));
        }
        return r;
}

int vp_qemu_render(const vp_vm_spec *spec, char ***ret_argv, vp_error *err)
{
        _cleanup_strv_free_ char **argv = strv_new();
        int r;

        if (!argv)
                return vp_error_set(err, -ENOMEM, "VM spec: out of memory");

        r = validate(spec, err);
        if (r < 0)
                return r;

        r = render_base(spec, &argv);
        r = r ?: render_disks(spec, &argv);
        r = r ?: render_shares(spec, &argv);
        r = r ?: render_ports(spec, &argv);
        r = r ?: render_control(spec, &argv);
        r = r ?: render_devices(spec, &argv);
        r = r ?: render_gui(spec, &argv);
        for (const char *const *a = spec->extra_args; r == 0 && a && *a; a++)
                r = strv_extend(&argv, *a);
        if (r < 0)
                return vp_error_set(err, r, "VM spec: out of memory");

        *ret_argv = TAKE_PTR(argv);
        return 0;
}

int vp_qemu_get_version(const char *qemu_binary, char **ret, vp_error *err)
{
        const char *binary = has_text(qemu_binary) ? qemu_binary : VP_QEMU_BINARY;
        int pipe_fds[2];
        char buffer[512];
        size_t n = 0;
        int status;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "pipe");

        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipe_fds[0]);
                close(pipe_fds[1]);
                return vp_error_set_errno(err, r, "fork");
        }
        if (pid == 0) {
                dup2(pipe_fds[1], STDOUT_FILENO);
                int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null_fd >= 0) {
                        dup2(null_fd, STDIN_FILENO);
                        dup2(null_fd, STDERR_FILENO);
                }
                execlp(binary, binary, "--version", (char *) NULL);
                _exit(127);
        }

        close(pipe_fds[1]);
        while (n < sizeof(buffer) - 1) {
                ssize_t k = read(pipe_fds[0], buffer + n, sizeof(buffer) - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        close(pipe_fds[0]);
        buffer[n] = '\0';
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;

        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n == 0)
                return vp_error_set(err, -ENOENT,
                                    "%s --version failed (is QEMU installed? run scripts/setup)", binary);

        buffer[strcspn(buffer, "\n")] = '\0';
        char *version = strdup(buffer);
        if (!version)
                return vp_error_set(err, -ENOMEM, "out of memory");
        *ret = version;
        return 0;
}

int vp_host_tsc_khz(unsigned long *ret, vp_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = vp_read_file("/sys/devices/system/cpu/cpu0/tsc_freq_khz", 64, &text, NULL, NULL);
        if (r >= 0) {
                unsigned long khz = strtoul(text, NULL, 10);
                if (khz > 0) {
                        *ret = khz;
                        return 0;
                }
        }

        free(text);
        text = NULL;
        r = vp_read_file("/proc/cpuinfo", 4 * 1024 * 1024, &text, NULL, err);
        if (r < 0)
                return r;

        /* "cpu MHz\t\t: 2596.130" */
        for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (!vp_str_startswith(line, "cpu MHz"))
                        continue;
                char *colon = strchr(line, ':');
                if (!colon)
                        break;
                double mhz = strtod(colon + 1, NULL);
                if (mhz <= 0 || mhz > 100000)
                        break;
                *ret = (unsigned long) (mhz * 1000.0 + 0.5);
                return 0;
        }
        return vp_error_set(err, -ENODATA, "host TSC frequency not found in sysfs or /proc/cpuinfo");
}

static const char *const machine_names[] = {
        [VP_MACHINE_MICROVM] = "microvm",
        [VP_MACHINE_Q35] = "q35",
};

static const char *const accel_names[] = {
        [VP_ACCEL_AUTO] = "auto",
        [VP_ACCEL_KVM] = "kvm",
        [VP_ACCEL_TCG] = "tcg",
};

static const char *const network_names[] = {
        [VP_VM_NETWORK_NONE] = "none",
        [VP_VM_NETWORK_UPLINK] = "uplink",
};

static const char *const display_names[] = {
        [VP_DISPLAY_NONE] = "none",
        [VP_DISPLAY_GTK] = "gtk",
        [VP_DISPLAY_SDL] = "sdl",
        [VP_DISPLAY_SPICE] = "spice",
};

static int lookup(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *vp_machine_to_string(vp_machine machine)
{
        return (size_t) machine < ELEMENTSOF(machine_names) ? machine_names[machine] : "?";
}

int vp_machine_from_string(const char *s, vp_machine *ret)
{
        int i = lookup(machine_names, ELEMENTSOF(machine_names), s);
        if (i < 0)
                return i;
        *ret = (vp_machine) i;
        return 0;
}

const char *vp_accel_to_string(vp_accel accel)
{
        return (size_t) accel < ELEMENTSOF(accel_names) ? accel_names[accel] : "?";
}

int vp_accel_from_string(const char *s, vp_accel *ret)
{
        int i = lookup(accel_names, ELEMENTSOF(accel_names), s);
        if (i < 0)
                return i;
        *ret = (vp_accel) i;
        return 0;
}

const char *vp_vm_network_to_string(vp_vm_network network)
{
        return (size_t) network < ELEMENTSOF(network_names) ? network_names[network] : "?";
}

int vp_vm_network_from_string(const char *s, vp_vm_network *ret)
{
        int i = lookup(network_names, ELEMENTSOF(network_names), s);
        if (i < 0)
                return i;
        *ret = (vp_vm_network) i;
        return 0;
}

const char *vp_display_to_string(vp_display display)
{
        return (size_t) display < ELEMENTSOF(display_names) ? display_names[display] : "?";
}

int vp_display_from_string(const char *s, vp_display *ret)
{
        int i = lookup(display_names, ELEMENTSOF(display_names), s);
        if (i < 0)
                return i;
        *ret = (vp_display) i;
        return 0;
}
