/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A disposable VM for one app run: boot the image with vmpack-init, stream the app's
 * stdin, stdout and stderr through virtio-serial ports, return its exit status, and leave
 * nothing behind (QEMU reaped, runtime directory removed, its mount namespace gone).
 */
#pragma once

#include "qemu.h"
#include "util.h"

/* The app runs as this uid and gid in the guest; QEMU runs with the host user mapped to
 * the same number so that shared files appear owned by the app. */
#define VP_RUN_GUEST_UID 1000
#define VP_RUN_GUEST_USER "user"
#define VP_RUN_GUEST_HOME "/home/user"
/* A file shared alone appears at VP_RUN_FILES_DIR/<N>/<its basename>, N counted from 1. */
#define VP_RUN_FILES_DIR "/run/vmpack/files"
#define VP_RUN_DEFAULT_MEMORY_MIB 256
#define VP_RUN_DEFAULT_CPUS 1
/* Guest addresses on QEMU's user network (slirp's fixed defaults). */
#define VP_RUN_UPLINK_CONFIG "10.0.2.15/24,10.0.2.2,10.0.2.3"

/* A host directory shared with 9p and mounted at guest_path. QEMU gets fd (through
 * /proc/self/fd), never a path to resolve again. The fd stays the caller's. */
typedef struct vp_run_folder {
        int fd;                /* a directory, e.g. vp_resolved_share.fd (O_PATH is enough) */
        const char *guest_path; /* absolute; mounted after the data volume, so it may lie in the home */
        bool writable;         /* false: read-only in QEMU (readonly=on) and in the guest */
        const char *host_path; /* for messages only */
} vp_run_folder;

typedef struct vp_run_options {
        const char *image_name;  /* for the guest's hostname and messages */
        const char *rootfs_path; /* squashfs image, attached read-only */
        char *const *argv;       /* the app's argv with guest paths in place of shared files */
        char *const *files;      /* host files shared alone, in VP_RUN_FILES_DIR order; may be NULL */
        bool files_writable;     /* share them read-write instead of read-only */
        const char *data_path;   /* qcow2 volume with an ext4 filesystem, attached read-write
                                  * and mounted at VP_RUN_GUEST_HOME; NULL: none */
        const vp_run_folder *folders; /* directory shares, e.g. from vp_share_resolve(); may be NULL */
        size_t n_folders;

        vp_machine machine;
        vp_accel accel;          /* VP_ACCEL_AUTO: see accel.h */
        unsigned cpus;           /* 0: VP_RUN_DEFAULT_CPUS */
        uint64_t memory_mib;     /* 0: VP_RUN_DEFAULT_MEMORY_MIB */
        vp_vm_network network;
        const char *kernel;      /* vmlinuz path, or NULL for the host's kernel */
        unsigned timeout_s;      /* 0: no limit */

        /* A graphical app (display=wayland): machine must be q35. The VM gets virtio-gpu,
         * a virtio keyboard and tablet, and the guest runs the app under its compositor. */
        bool gui;
        vp_display display;       /* with gui: window, SPICE socket (RUNDIR/spice.sock) or none */
        const char *window_title; /* with gui: NULL: the image name */
        bool audio;               /* audio=playback */
        bool microphone;          /* microphone=on; needs audio */
        bool clipboard;           /* clipboard=on-request */
        bool virgl;               /* gpu=virgl: 3D through virglrenderer when the host has a
                                   * DRM render node, else software rendering and a notice */
        /* Create the QEMU monitor (QMP) socket at this path instead of inside the runtime
         * directory, so that a test or debugger can connect to it, e.g. for a screendump.
         * It is removed when the run ends. NULL: private to the run. */
        const char *qmp_path;

        int stdin_fd;            /* forwarded to the app's stdin until end of file; -1: empty stdin */
        int stdout_fd;
        int stderr_fd;
        int signal_fd;           /* signalfd(2) for SIGINT, SIGTERM and SIGHUP, or -1 */
        /* When >= 0, the guest console is copied here as it arrives, in full.
         * NOTE: unlike the run directory's console.log, this copy has no size cap. */
        int console_fd;
        bool debug;              /* ask vmpack-init to log each step to the console */

        /* Called with one-line messages for the user (accelerator choice, the QEMU command
         * line when verbose). May be NULL. */
        void (*notice)(void *userdata, const char *message);
        bool verbose;
        void *userdata;

        /* Suspend and resume. With state_path set, SIGUSR1 on signal_fd saves the running
         * VM's memory and device state to state_path, its fingerprint to state_path.json
         * (see vmrun-suspend.c), and stops QEMU; the result then has suspended set. With
         * resume also set, QEMU starts from that saved state instead of booting, after the
         * fingerprint was checked against this run's image, kernel, initramfs, QEMU and
         * command line. NULL: SIGUSR1 is ignored. */
        const char *state_path;
        bool resume;
        /* Called once a resumed guest runs again, or with a message when a suspend failed
         * and the guest runs on. May be NULL. */
        void (*suspend_event)(void *userdata, bool resumed, const char *error);

        /* When writing to stdout_fd or stderr_fd fails (e.g. EPIPE: its reader is gone),
         * drop that stream's further output and let the app run on. false: stop the app,
         * as SIGPIPE would stop a local writer (for "vmpack run ... | head -1"). */
        bool output_lost_ok;
} vp_run_options;

typedef struct vp_run_result {
        int status;         /* the app's exit status, or one of VP_STATUS_* */
        bool timed_out;     /* timeout_s expired and the VM was stopped */
        int signal;         /* the signal number that stopped the run, 0 if none */
        char *guest_error;  /* message of the guest's {"event":"error"}, or NULL */
        char *console_tail; /* last lines of the console log when the VM failed, or NULL */
        bool suspended;     /* the VM's state was saved to state_path and QEMU stopped: status is 0 */
        bool rootfs_damaged; /* the guest kernel logged "SQUASHFS error": rootfs_path may be damaged */
} vp_run_result;

void vp_run_result_clear(vp_run_result *result);

/* Return the guest path of the index-th (from 0) shared file; NULL when out of memory. */
char *vp_run_guest_file_path(size_t index, const char *host_path);

/*
 * Boot the VM, run the app and wait for the VM to power off. Returns 0 when the run
 * reached an end (result->status set: the app's status, VP_STATUS_TIMEOUT, 128 + signal,
 * or a status from vmpack-init), or a negative errno when the VM could not be set up or
 * QEMU ended without reporting the app's exit; result->console_tail may be set then too.
 */
int vp_vm_run(const vp_run_options *options, vp_run_result *result, vp_error *err);

/* Remove the run directories under VP_DIR_RUNTIME whose run is gone (its process was killed
 * before it could clean up). Returns how many it removed; errors only leave directories. */
int vp_vm_remove_stale_runtime_dirs(void);

/* Read the app's argv and shared files that a saved state at state_path was started with.
 * -ENOENT when there is no saved state. */
int vp_run_read_saved_app(const char *state_path, char ***ret_argv, char ***ret_files, vp_error *err);

/* Delete a saved state and its fingerprint; missing files are not an error. */
int vp_run_discard_state(const char *state_path, vp_error *err);
