/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpack-init, PID 1 of every vmpack guest. Static and linked with libc alone, because the
 * initramfs carries no shared libraries. The host side of its configuration and messages
 * is described in guest-protocol.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Limits on the configuration, which comes from the host and is not trusted. */
#define INIT_ARGS_MAX 4096
#define INIT_ENV_MAX 4096
#define INIT_SHARES_MAX 64
#define INIT_USER_NAME_MAX 32
#define INIT_PATH_MAX 4096

typedef struct init_share {
        char *tag;
        bool writable;
        char *path;
} init_share;

typedef struct init_config {
        unsigned version;
        char *hostname;
        char *root;
        char *data;
        uid_t uid;
        char *user;
        char *home;
        char *cwd;
        char **argv; /* NULL-terminated */
        size_t argc;
        char **env; /* NULL-terminated "NAME=VALUE" */
        size_t n_env;
        init_share *shares;
        size_t n_shares;
        bool net;
        char net_address[16]; /* dotted IPv4 */
        unsigned net_prefix;
        char net_gateway[16]; /* empty when none */
        char net_dns[16];     /* empty when none */
        bool display;         /* display=wayland: the app runs under sway or cage */
        char *compositor_socket; /* sway's IPC socket, set by init_setup_display() */
        bool audio;           /* audio=1: the VM has a sound card for the app */
        bool virgl;           /* gpu=virgl: virtio-gpu has 3D, so wlroots renders with OpenGL ES */
        bool debug;
} init_config;

/* Parse the "key=value" configuration text (size bytes, not NUL-terminated) into c,
 * filling defaults and validating every field. On failure, returns -1 and writes a
 * message naming the line and key into error. */
int init_config_parse(const char *text, size_t size, init_config *c, char *error, size_t error_size);
void init_config_free(init_config *c);

/* agent.c: the VM log, which is /dev/console. */
extern bool init_debug;
void init_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void init_debug_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* agent.c: the virtio-serial ports to the host. */
typedef struct init_ports {
        int agent;
        int stdin_port;
        int stdout_port;
        int stderr_port;
} init_ports;

extern init_ports init_port_fds;
/* Wait up to timeout_ms for the agent, stdin, stdout and stderr ports to appear and open
 * the ones found. Returns 0 when at least the agent port is open. */
int init_ports_open(int timeout_ms);
void init_agent_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void init_agent_send_error(int status, const char *reason, const char *message);
/* Write s as a JSON string, quotes included, into out, cut to fit out_size. */
void init_json_quote(const char *s, char *out, size_t out_size);

typedef enum init_request {
        INIT_REQUEST_NONE,
        INIT_REQUEST_TERMINATE,
        INIT_REQUEST_POWEROFF,
} init_request;

/* Read what is available on the agent port (non-blocking) and return the next complete
 * request, INIT_REQUEST_NONE when there is none. Sets *disconnected when the port reads
 * end-of-file, which happens while no host is connected (after a restore, for one). */
init_request init_agent_read(bool *disconnected);

/* Report a failure: one "vmpack-init: ..." line on the console, an error event on the
 * agent port when it is open, then power off. Never returns. */
_Noreturn void init_fail(int status, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Wait up to VP_POWEROFF_ACK_TIMEOUT_S for the host's poweroff request unless it has come
 * already, then sync and power off. Never returns. */
_Noreturn void init_poweroff(void);

/* modules.c */
void init_load_modules(const char *list_path);

/* mounts.c */
void init_mount_early(void);
void init_mount_root(const init_config *c);
void init_switch_root(void);
void init_mount_shares(const init_config *c);
void init_mount_data(const init_config *c);
int init_mkdir_p(const char *path, mode_t mode);
/* display.c: read the first line of a file, such as a sysfs attribute, into out without
 * its newline. Returns false when the file cannot be read or is empty. */
bool init_read_line(const char *path, char *out, size_t out_size);
/* Wait up to timeout_ms for path to exist. Returns 0 when it does. */
int init_wait_for_path(const char *path, int timeout_ms);

/* net.c */
void init_set_hostname(const init_config *c);
void init_network(const init_config *c);

/* display.c: a graphical app. init_setup_display() prepares its devices and runtime
 * directory and replaces the argv with the compositor's, which starts the app through the
 * status wrapper: sway when the image has it, else cage. The environment gets
 * init_display_environment, XDG_RUNTIME_DIR=/run/user/UID and under sway SWAYSOCK, unless
 * the configuration sets them. */
#define INIT_DISPLAY_ENVIRONMENT_SIZE 6
extern const char *const init_display_environment[INIT_DISPLAY_ENVIRONMENT_SIZE];
void init_setup_display(init_config *c);
/* The process group of the status wrapper and the app, which excludes the compositor:
 * the pid of the wrapper, or 0 when there is none. */
pid_t init_display_app_group(pid_t compositor);
/* The app's exit status as the status wrapper recorded it, else compositor_status. */
int init_display_app_status(int compositor_status);
/* The status wrapper is a copy of this binary that the compositor starts in place of the
 * app: it runs the app, waits for it and records its exit status for init, because cage
 * 0.1.4 exits with 0 whatever the app's status. Under sway ("--sway") it reads the app's
 * argv from a file and sends sway "exit" once the app has exited. */
bool init_is_status_wrapper(const char *argv0);
int init_status_wrapper_main(int argc, char **argv);

/* sway.c: send one command over sway's IPC socket and wait for the reply. With
 * need_reply, fail unless the reply reports success; without, a missing reply is fine,
 * as for "exit". Returns 0, or -1 with errno set. */
int init_sway_command(const char *socket_path, const char *command, bool need_reply);
/* Follow the host's window: listen for the kernel's DRM hotplug events, and after each
 * burst set sway's output to the connector's new preferred mode. init_resize_fd() is the
 * socket to poll (-1 when listening failed), init_resize_read() reads it and
 * init_resize_tick() acts once the burst has settled. */
void init_resize_watch(const char *socket_path);
int init_resize_fd(void);
void init_resize_read(void);
void init_resize_tick(void);
/* Watch sway's window events, and at the first window focus call
 * init_keyboard_warmup_run(). init_focus_tick() subscribes once sway listens,
 * init_focus_fd() is the socket to poll (-1 before or after) and init_focus_read() reads
 * it. */
void init_focus_tick(void);
int init_focus_fd(void);
void init_focus_read(void);

/* keyboard.c: init_keyboard_warmup_arm() names the virtio keyboard's event node, and
 * init_keyboard_warmup_run() writes one Shift press and release to it, once. */
void init_keyboard_warmup_arm(const char *node);
void init_keyboard_warmup_run(void);

/* audio.c: wait for the sound card's playback node and give /dev/snd to the user. A
 * missing card is logged, and the app runs without sound. */
void init_setup_audio(const init_config *c);

/* clipboard.c: when the VM has the SPICE agent port (clipboard=on-request) and the image
 * has spice-vdagent, link /dev/virtio-ports/com.redhat.spice.0 and start spice-vdagentd.
 * Returns the command that starts the session agent as the user, for an exec line of the
 * sway configuration (freed by the caller). Returns NULL when no agent runs: without the
 * port, or without spice-vdagent or sway in the image, the last two logged. */
char *init_setup_clipboard(const init_config *c, bool under_sway);

/* app.c */
void init_setup_user(const init_config *c);
/* Start the app, copy its output, handle requests and signals until it exits. Returns
 * its exit status as a shell reports it. */
int init_run_app(const init_config *c, uint64_t *stdout_bytes, uint64_t *stderr_bytes);
