/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QEMU backend: a VM spec (pure data) and the pure function that renders it to the
 * argv of qemu-system-x86_64. Deny by default: the argv starts from -nodefaults, so the VM
 * gets no device that the spec does not name. Nothing here starts a process except
 * vp_qemu_get_version().
 */
#pragma once

#include "util.h"

#define VP_QEMU_BINARY "qemu-system-x86_64"

#define VP_VM_MAX_DISKS 8
#define VP_VM_MAX_SHARES 64
#define VP_VM_MAX_PORTS 8

typedef enum vp_machine {
        VP_MACHINE_MICROVM, /* no PCI, no firmware: fastest boot, for headless apps */
        VP_MACHINE_Q35,     /* PCI: for GUI, USB and passthrough */
} vp_machine;

typedef enum vp_accel {
        VP_ACCEL_AUTO, /* resolved by accel.c before rendering; rejected by vp_qemu_render() */
        VP_ACCEL_KVM,
        VP_ACCEL_TCG,
} vp_accel;

typedef enum vp_vm_network {
        VP_VM_NETWORK_NONE,   /* no NIC at all */
        VP_VM_NETWORK_UPLINK, /* QEMU user networking (slirp) behind virtio-net */
} vp_vm_network;

/* Where the guest's screen goes. Only a spec with gpu set has a screen. */
typedef enum vp_display {
        VP_DISPLAY_NONE,  /* no window; QMP screendump still works */
        VP_DISPLAY_GTK,   /* a GTK window (needs Debian's qemu-system-gui) */
        VP_DISPLAY_SDL,   /* an SDL window (needs Debian's qemu-system-gui) */
        VP_DISPLAY_SPICE, /* a SPICE server on spice_socket, for remote-viewer */
} vp_display;

typedef struct vp_vm_disk {
        const char *path;
        bool readonly;
        const char *format; /* QEMU block format, e.g. "qcow2"; NULL: "raw" */
} vp_vm_disk;

/* A host directory exported with virtio-9p under a mount tag. */
typedef struct vp_vm_share {
        const char *tag;
        const char *host_path;
        bool readonly;
} vp_vm_share;

/* A virtio-serial port whose host side is an already connected socket the caller owns. */
typedef struct vp_vm_port {
        const char *name;
        int fd;
} vp_vm_port;

/*
 * Everything that decides the QEMU command line. Strings are borrowed: the spec owns
 * nothing, so a caller fills it from its own storage and tests fill it from literals.
 */
typedef struct vp_vm_spec {
        const char *qemu_binary; /* NULL: VP_QEMU_BINARY, found through PATH */
        vp_machine machine;
        vp_accel accel;
        unsigned cpus;
        uint64_t memory_mib;
        bool headless; /* -display none */

        const char *kernel;
        const char *initrd;  /* may be NULL */
        const char *cmdline; /* may be NULL */

        vp_vm_disk disks[VP_VM_MAX_DISKS];
        size_t n_disks;
        vp_vm_share shares[VP_VM_MAX_SHARES];
        size_t n_shares;
        vp_vm_port ports[VP_VM_MAX_PORTS];
        size_t n_ports;

        const char *console_log; /* serial console written to this file; NULL: no serial port */
        const char *qmp_socket;  /* QMP server socket path; NULL: no QMP */
        vp_vm_network network;
        bool rng;                /* virtio-rng fed from the host's /dev/urandom */
        const char *config_file; /* exposed to the guest as fw_cfg VP_FW_CFG_CONFIG; may be NULL */

        /* Graphical apps (q35 only). gpu adds virtio-gpu, a virtio keyboard and a virtio
         * tablet (an absolute pointer) and no other input device. Audio, microphone and
         * clipboard each need gpu and add their device only when set. */
        bool gpu;
        vp_display display;       /* with gpu: where the screen goes; ignored without gpu */
        const char *name;         /* -name: the window title; NULL: QEMU's default */
        const char *spice_socket; /* VP_DISPLAY_SPICE: unix socket path of the SPICE server */
        bool audio;               /* sound output through PulseAudio (PipeWire's pulse server too) */
        const char *audio_driver; /* with audio: QEMU's audiodev driver; NULL: "pa" ("none" discards) */
        const char *audio_server; /* with the pa driver: the server, in PULSE_SERVER syntax; NULL:
                                   * QEMU's own lookup, which fails unless
                                   * $XDG_RUNTIME_DIR/pulse/pid exists */
        bool microphone;          /* sound input as well; needs audio */
        bool clipboard;           /* the SPICE agent port com.redhat.spice.0 */
        /* gpu=virgl: the host's DRM render node, e.g. /dev/dri/renderD128. The VM then gets
         * virtio-gpu-gl, whose 3D commands virglrenderer runs on the host's GPU, and an
         * OpenGL display. NULL: plain virtio-gpu, and the guest renders in software. */
        const char *render_node;
        const char *const *extra_args; /* NULL-terminated, appended last; may be NULL */
} vp_vm_spec;

/* Render the spec to a NULL-terminated argv (argv[0] is the QEMU binary). Fails with
 * -EINVAL on an incomplete or inconsistent spec, never on host state. */
int vp_qemu_render(const vp_vm_spec *spec, char ***ret_argv, vp_error *err);

/* Return value with every ',' doubled, as QEMU's option parser requires inside
 * "key=value,key=value" arguments. NULL when out of memory. */
char *vp_qemu_escape(const char *value);

/* Return the first line of "qemu-system-x86_64 --version", e.g.
 * "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)". */
int vp_qemu_get_version(const char *qemu_binary, char **ret, vp_error *err);

/* Return the host TSC frequency in kHz (sysfs, else "cpu MHz" of /proc/cpuinfo), for the
 * guest's tsc_early_khz= parameter. */
int vp_host_tsc_khz(unsigned long *ret, vp_error *err);

const char *vp_machine_to_string(vp_machine machine);
int vp_machine_from_string(const char *s, vp_machine *ret);
const char *vp_accel_to_string(vp_accel accel);
int vp_accel_from_string(const char *s, vp_accel *ret);
const char *vp_vm_network_to_string(vp_vm_network network);
int vp_vm_network_from_string(const char *s, vp_vm_network *ret);
const char *vp_display_to_string(vp_display display);
int vp_display_from_string(const char *s, vp_display *ret);
