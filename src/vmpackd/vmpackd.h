/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpackd: owns instances and their running VMs. Roles, one file each:
 *   main.c       options, paths, socket and lock setup, the poll() loop
 *   server.c     client connections: framing, size limit, SO_PEERCRED, replies
 *   methods.c    one handler per API method (see docs/api.md)
 *   audit.c      the caller's role, authorization replies and the audit log
 *   grant.c      policy at Install, Start, Resume and Override: the effective grant and
 *                the folders opened for it
 *   supervise.c  one supervising child per running instance, which calls vp_vm_run()
 *                and saves or loads the VM's state on Suspend and Resume;
 *                the daemon watches it with a pidfd and copies the app's output to the log
 */
#pragma once

#include "api.h"
#include "db.h"
#include "policy.h"
#include "qemu.h"
#include "role.h"
#include "share.h"
#include "store.h"
#include "vmrun.h"
#include "util.h"

#include <jansson.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MAX_CONNECTIONS 64
#define MAX_RUNS 64

/* After "Stop", the app has VP_TERMINATE_GRACE_S to exit before init kills it, and the VM
 * then needs a few seconds to power off. This is the default wait before QEMU gets a quit
 * command. */
#define STOP_DEFAULT_TIMEOUT_S 20
/* After the quit command, the wait before the supervisor and QEMU get SIGKILL. */
#define STOP_QUIT_GRACE_S 5
#define LOG_DEFAULT_MAX_BYTES (8 * 1024 * 1024)
/* A connection that sends nothing for this long, with no reply pending, is closed, so idle
 * clients cannot hold all MAX_CONNECTIONS slots. */
#define CONNECTION_IDLE_TIMEOUT_S 60

typedef struct connection {
        int fd;
        struct ucred peer;
        /* Set by audit_identify() before each request: the role and login name of peer.uid. */
        vp_role role;
        char *user_name; /* NULL when the uid has no passwd entry */
        char *input; /* bytes received that do not yet end in a NUL */
        size_t input_size;
        char *output; /* reply bytes not yet sent */
        size_t output_size, output_sent;
        bool waiting;       /* a Stop or Kill reply is pending: do not read further requests */
        bool close_after;   /* close once output is sent */
        uint64_t discarding; /* > 0: after an oversized message, bytes read and dropped so far */
        int64_t last_active_ms; /* when the connection was accepted or last received bytes */
} connection;

typedef struct instance_run {
        char *name;
        pid_t pid;     /* the supervising child */
        int pidfd;
        int output_fd; /* read end of the app's stdout and stderr; -1 after end of file or adoption */
        int result_fd; /* read end of the child's result line; -1 for an adopted run */
        int status_fd; /* read end of the child's suspend and resume events; -1 when closed */
        int release_fd; /* write end the child waits on before it starts QEMU; -1 once released */
        int log_fd;    /* app.log, O_APPEND */
        uint64_t log_bytes;
        int64_t started_ms;

        /* A Suspend or Resume whose outcome the waiters expect. */
        enum { PENDING_NONE, PENDING_SUSPEND, PENDING_RESUME } pending;
        int stop_stage;           /* 0: none, 1: SIGTERM sent, 2: quit command sent, 3: SIGKILL sent */
        int64_t stop_deadline_ms; /* when the next stage starts */
        char *stop_reason;        /* recorded as the exit reason; NULL: the app exited on its own */
        vp_db_caller stop_caller;
        connection *waiters[MAX_CONNECTIONS];
        size_t n_waiters;
} instance_run;

typedef struct daemon_state {
        vp_db *db;
        const vp_role_lookup *role_lookup; /* NULL: vp_role_lookup_system */
        bool system_mode;
        uid_t uid;
        unsigned idle_exit_s; /* 0: never */
        uint64_t log_max_bytes;
        int listen_fd;
        int signal_fd;
        bool quit;
        int64_t idle_since_ms;
        char *policy_digest; /* of the policy files last read; NULL before the first read */

        connection *connections[MAX_CONNECTIONS];
        instance_run *runs[MAX_RUNS];
} daemon_state;

/* Logging to stderr (the journal under systemd). instance may be NULL. */
void log_message(const char *instance, const char *fmt, ...) _printf_(2, 3);

/* server.c */
void server_accept(daemon_state *d);
/* Handle readable or writable events on c; returns false when the connection was closed. */
bool server_handle_connection(daemon_state *d, connection *c, short revents);
void server_close_connection(daemon_state *d, connection *c);
/* Close idle connections; returns the poll timeout in ms until the next one expires, or -1. */
int server_close_idle(daemon_state *d);
/* Queue a reply or an error for c. parameters is not stolen. */
void server_reply(connection *c, json_t *parameters);
void server_reply_error(connection *c, const char *name, const char *message);

/* methods.c */
void methods_dispatch(daemon_state *d, connection *c, const vp_api_request *request);
json_t *methods_instance_json(daemon_state *d, const char *name);

/* audit.c */
/* Find the role and login name of c's peer for the request about to run. Replies with an
 * error and returns false when the group lookup failed. */
bool audit_identify(daemon_state *d, connection *c);
/* Whether c's caller may call method at all: in system mode a caller without a role may
 * call GetInfo only. Replies PermissionDenied and records the denial otherwise. */
bool audit_check_method(daemon_state *d, connection *c, const char *method);
/* Whether c's caller may act on an instance owned by owner_uid (its owner, or an
 * administrator). Replies PermissionDenied and records the denial otherwise. */
bool audit_check_owner(daemon_state *d, connection *c, const char *method, const char *instance, uid_t owner_uid);
/* Record an allowed request that changes something. reason NULL: the caller's role
 * ("administrator", or "owner" for a user). detail may be NULL and is not stolen. */
void audit_allow(daemon_state *d, const connection *c, const char *action, const char *instance,
                 const char *reason, json_t *detail);
/* Reply PermissionDenied with the formatted message and record it as the denial's reason.
 * The message names who was denied what and why. detail may be NULL and is not stolen. */
void audit_deny(daemon_state *d, connection *c, const char *action, const char *instance, json_t *detail,
                const char *fmt, ...) _printf_(6, 7);
/* Record an event ("vm-started", "vm-stopped", "vm-suspended", "vm-resumed", ...). caller NULL:
 * the daemon itself. reason and detail may be NULL; detail is not stolen. */
void audit_event(daemon_state *d, const vp_db_caller *caller, const char *instance, const char *action,
                 const char *reason, json_t *detail);

/* supervise.c */
instance_run *supervise_find(daemon_state *d, const char *name);
/* What the supervising child boots. Strings are borrowed. */
typedef struct supervise_spec {
        const char *rootfs_path;
        const char *data_path;
        char *const *argv;
        char *const *files;
        unsigned cpus;       /* 0: the vmrun default */
        uint64_t memory_mib; /* 0: the vmrun default */
        bool resume;         /* start from the instance's saved state instead of booting */
        /* display=wayland and what the image's permissions grant with it, see vp_run_options */
        bool gui, audio, microphone, clipboard, virgl;
        const char *window_title; /* "[WORKSPACE] INSTANCE" */
        /* The VM's grant (permissions, shares, devices), recorded in the detail of the
         * "vm-started" audit entry; may be NULL. Borrowed. */
        json_t *grant;
        vp_vm_network network;
        const vp_run_folder *folders; /* opened directories; the child keeps them for QEMU */
        size_t n_folders;
        /* "NAME=VALUE" of the caller's session (vp_api_session_variables) that replace the
         * daemon's own in the VM's environment; NULL: the daemon's */
        char *const *session;
} supervise_spec;

/* Fork the supervising child for the instance and record the run. The child waits for
 * supervise_release(), which the caller calls once the run's pid is in the database, so a
 * daemon killed in between leaves no VM that the next daemon would not adopt. */
int supervise_start(daemon_state *d, const char *name, const supervise_spec *spec, instance_run **ret,
                    vp_error *err);
void supervise_release(instance_run *run);
/* Begin a graceful stop (SIGTERM, then QEMU quit, then SIGKILL after their timeouts). */
void supervise_stop(daemon_state *d, instance_run *run, unsigned timeout_s, const vp_db_caller *caller);
void supervise_kill(daemon_state *d, instance_run *run, const vp_db_caller *caller);
/* Ask the supervisor to save the VM's state and stop QEMU (SIGUSR1). */
void supervise_suspend(daemon_state *d, instance_run *run, const vp_db_caller *caller);
/* Read the child's suspend and resume events and reply to the waiting Suspend or Resume. */
void supervise_read_status(daemon_state *d, instance_run *run);
/* Handle the child's exit (pidfd readable): record the result and reply to the Stop and
 * Kill calls that wait for it. */
void supervise_reap(daemon_state *d, instance_run *run);
void supervise_read_output(daemon_state *d, instance_run *run);
/* Move stop escalations on; returns the poll timeout in ms until the next deadline, or -1. */
int supervise_check_deadlines(daemon_state *d);
/* At start: re-adopt runs whose supervisor is still alive, mark the others stopped. */
void supervise_recover(daemon_state *d);
/* Fill QEMU's pid, RSS and accelerator of a running instance into object. */
void supervise_describe(const instance_run *run, json_t *object);

/* grant.c */
/* What an instance's VM gets: the effective grant and the folders opened for it. */
typedef struct instance_grant {
        vp_grant grant;
        vp_resolved_share *shares; /* n_shares opened folders */
        vp_run_folder *folders;    /* the same, as vp_vm_run() takes them */
        size_t n_shares;
        json_t *detail; /* the grant, its shares and the policy digest, for the audit log */
        char **notes;   /* for the caller, e.g. a granted folder that does not exist; may be NULL */
        char *window_title; /* "[WORKSPACE] INSTANCE" */
} instance_grant;

/* Whether c's caller may install image as instance name in workspace: the workspace
 * exists and allows the image and the caller. Replies and records a denial otherwise. */
bool grant_check_install(daemon_state *d, connection *c, const char *name, const char *workspace,
                         const vp_image *image);
/* Compute the grant of instance (its database object) for image under the current policy
 * and the owner's override, and open its folders as the instance's owner. Replies
 * PermissionDenied naming each permission and rule, records it, and returns false when
 * anything is denied. */
bool grant_for_instance(daemon_state *d, connection *c, const char *action, json_t *instance, const vp_image *image,
                        instance_grant *ret);
void instance_grant_clear(instance_grant *g);
/* Fill the spec's resources, network, display devices, folders, window title and audit
 * detail. */
void grant_apply(const instance_grant *g, supervise_spec *spec);
/* Store the owner's override (options as vmpack override takes them, added to the stored
 * ones unless reset), after checking that it only narrows the image's request. */
bool grant_set_override(daemon_state *d, connection *c, const char *name, json_t *instance, const vp_image *image,
                        json_t *options, bool reset, json_t **ret_args);
/* The stored override as options; an empty array when there is none. */
bool grant_get_override(connection *c, const char *name, json_t **ret_args);
