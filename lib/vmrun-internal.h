/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals of vp_vm_run() shared by its three files: vmrun.c (setup, boot attempts,
 * results), vmrun-child.c (the forked child that becomes QEMU) and vmrun-loop.c (the event
 * loop between the host's streams and the guest's ports).
 */
#pragma once

#include "guest-protocol.h"
#include "subprocess.h"
#include "vmrun.h"

#include <jansson.h>

#include <sys/types.h>

/* How long a TCG boot may take before the app starts. A vmlinux boot takes 2 to 3 s under
 * TCG on a 2-core development machine; this leaves room for a loaded host. */
#define VP_RUN_TCG_BOOT_TIMEOUT_S 120

enum port_index {
        PORT_AGENT,
        PORT_STDIN,
        PORT_STDOUT,
        PORT_STDERR,
        N_PORTS,
};

/* State shared by the attempts of one run. */
typedef struct run_context {
        const vp_run_options *options;
        char *runtime_dir;
        int runtime_lock_fd; /* flock held on runtime_dir/lock for the run's lifetime; -1 when none */
        char *config_path;
        char *console_path;      /* the capped console log that vmrun writes (vmrun-loop.c) */
        char *console_pipe_path; /* the FIFO that QEMU writes the serial console to */
        char *qmp_path;
        char *qemu_log_path; /* QEMU's stderr */
        char *staging_dir;
        char *vmlinux;
        char *initrd;
        char *kernel_version;
        char *qemu_version;
        unsigned long tsc_khz;
        char *render_node; /* gpu=virgl: the host's render node for virglrenderer; NULL: none */
        char *audio_server; /* audio=playback: QEMU's PulseAudio server; NULL: the "none" driver */
        json_t *fingerprint; /* of the current attempt, when options->state_path is set */
        vp_child decompressor; /* "zstd -d" feeding a resumed QEMU; pid -1 when none */
} run_context;

typedef struct output_stream {
        int fd;         /* our end of the port socket, -1 once closed */
        int target_fd;  /* where the bytes go */
        uint64_t bytes; /* received so far */
        bool broken;    /* target_fd failed (e.g. EPIPE): keep counting, stop writing */
} output_stream;

typedef struct vm_attempt {
        run_context *ctx;
        vp_accel accel;
        pid_t pid;
        int pidfd;
        int port_fds[N_PORTS];
        int console_fd;     /* read end of the console FIFO (opened read-write, so never EOF) */
        int console_log_fd; /* console_path */
        uint64_t console_bytes; /* read from the FIFO so far */
        char *console_ring;     /* the last VP_CONSOLE_LOG_TAIL bytes after the log's head */
        size_t console_ring_len, console_ring_pos;
        bool console_ring_dirty;
        int64_t console_flush_ms;

        char agent_line[VP_AGENT_LINE_MAX];
        size_t agent_len;
        bool agent_overflow;

        output_stream out[2];
        char stdin_buffer[65536];
        size_t stdin_len, stdin_off;
        bool stdin_eof;
        int stdin_half_closed_fd;

        bool ready, exited, poweroff_sent, quit_sent, killed, terminate_sent;
        uint64_t expected_out[2];
        int status;
        int signals;
        int first_signal;
        bool timed_out;
        bool boot_timed_out;
        char *guest_error;
        bool suspended; /* the state was saved and QEMU was sent "quit" */

        int64_t start_ms, drain_deadline, poweroff_deadline, terminate_deadline, quit_deadline;
} vm_attempt;

/* One message from the guest agent, decoded but not yet applied to a vm_attempt. */
typedef enum vp_agent_event_type {
        VP_AGENT_EVENT_NONE,
        VP_AGENT_EVENT_READY,
        VP_AGENT_EVENT_EXIT,
        VP_AGENT_EVENT_ERROR,
} vp_agent_event_type;

typedef struct vp_agent_event {
        vp_agent_event_type type;
        int status;            /* EXIT: 0-255; ERROR: 1-255, VP_STATUS_VM_FAILURE when not given */
        uint64_t stdout_bytes; /* EXIT: bytes the app wrote to its stdout */
        uint64_t stderr_bytes;
        char *message; /* ERROR: the guest's message cut to 1024 bytes, or one naming the reason; owned */
} vp_agent_event;

/* Decode one line (NUL-terminated, newline removed) from the agent port, which the guest
 * controls. Returns -EBADMSG for anything that is not a known, well-formed event and
 * -ENOMEM, and writes *ret only on success. */
int vp_agent_decode(const char *line, vp_agent_event *ret);

/* Count the "return" keys in QMP output, that is the successful responses it contains. */
size_t vp_qmp_count_returns(const char *text);

/* Fork target: enter private namespaces, stage the shared files and exec QEMU. Reports a
 * setup failure as text on error_fd; keep_fds are the port sockets QEMU inherits. */
_noreturn_ void vp_run_exec_qemu(const run_context *ctx, char **argv, const int *keep_fds, size_t n_keep,
                                 int error_fd);

/* The console log keeps the first VP_CONSOLE_LOG_HEAD bytes of the serial console and the
 * last VP_CONSOLE_LOG_TAIL bytes after them, with a line between them that says how many
 * bytes were left out. A guest kernel or PID 1 can write about 1 MB/s to the console. */
#define VP_CONSOLE_LOG_HEAD (256 * 1024)
#define VP_CONSOLE_LOG_TAIL (256 * 1024)

/* Create the console FIFO and log for an attempt and open them into a. */
int vp_run_open_console(const run_context *ctx, vm_attempt *a, vp_error *err);
/* Add console output to a->console_log_fd: into the head while it has room, else into the
 * ring of the last bytes, which vp_run_console_flush() writes after the head. */
void vp_run_console_append(vm_attempt *a, const char *data, size_t n);
void vp_run_console_flush(vm_attempt *a);
/* The last lines of the console log at path. When the log has a kernel panic line before
 * them, that line and the one before it come first, followed by "...": the register dump
 * and call trace after a panic are longer than the tail. NULL when empty. */
char *vp_run_console_tail(const char *path);

/* Run the event loop until QEMU exits; return QEMU's wait status. */
int vp_run_event_loop(vm_attempt *a);

int64_t vp_run_now_ms(void);

/* vmrun-suspend.c */

/* Describe what a saved state depends on: QEMU version, kernel, initramfs, image and the
 * QEMU command line argv (without -incoming), with run-specific paths and fd numbers
 * masked. */
int vp_run_fingerprint(const run_context *ctx, vp_accel accel, char *const *argv, json_t **ret, vp_error *err);
/* Check the fingerprint saved beside options->state_path against this run's one. Fails
 * with -ESTALE and a message naming what changed. Fills the output byte counts the app
 * had written when the state was saved, and whether the state is zstd-compressed. */
int vp_run_check_saved_state(const run_context *ctx, json_t *fingerprint, uint64_t ret_out_bytes[2],
                             bool *ret_compressed, vp_error *err);
/* Start "zstd -d" on a compressed state; returns the read end of its output pipe. */
int vp_run_start_decompress(const char *state_path, vp_child *ret_child, vp_error *err);
/* Kill and reap the decompressor, if one runs. */
void vp_run_stop_decompress(vp_child *child);
/* Pause the guest, save its state to options->state_path and write the fingerprint file.
 * On failure the guest runs on. */
int vp_run_suspend(vm_attempt *a, json_t *fingerprint, vp_error *err);
/* Wait until QEMU started with -incoming has loaded the state, then continue the guest. */
int vp_run_resume_continue(vm_attempt *a, vp_error *err);
