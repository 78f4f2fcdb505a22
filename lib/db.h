/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpackd's state in SQLite: the installed instances with their current state, and an
 * event table that records every install, uninstall and state change with the caller's
 * uid and pid. Events outlive their instance, as an audit log. The journal is WAL and each
 * change is one transaction, so a crash leaves the state before or after a change.
 *
 * Instance states: "stopped", "running", "stopping", "suspended" (the VM's state is saved in
 * the instance directory and QEMU is not running). Reads return jansson objects, the
 * shape the API replies with (see docs/api.md).
 */
#pragma once

#include "util.h"

#include <jansson.h>
#include <sys/types.h>

typedef struct vp_db vp_db;

#define VP_DB_FILE "vmpackd.db"

/* Who asked for a change: the API caller's SO_PEERCRED, or the daemon itself (uid and pid
 * of vmpackd) for changes it makes on its own, such as a VM that exited. */
typedef struct vp_db_caller {
        uid_t uid;
        pid_t pid;
} vp_db_caller;

typedef struct vp_db_instance {
        const char *name;
        const char *image;      /* image digest */
        const char *image_name; /* the name the image was installed by; may be NULL */
        const char *workspace;
        const char *created;    /* ISO 8601 UTC, as in instance.json */
        uid_t owner_uid;
} vp_db_instance;

/* Open (and create when missing) the database at path. */
int vp_db_open(const char *path, vp_db **ret, vp_error *err);
vp_db *vp_db_close(vp_db *db);
static inline void vp_db_closep(vp_db **db)
{
        vp_db_close(*db);
}
#define _cleanup_db_ _cleanup_(vp_db_closep)

/* Insert a stopped instance and its "installed" event; -EEXIST when the name is taken. */
int vp_db_add_instance(vp_db *db, const vp_db_instance *instance, const vp_db_caller *caller, vp_error *err);
/* Delete the instance and record "uninstalled" (detail: "purged" or "data kept"). */
int vp_db_remove_instance(vp_db *db, const char *name, bool purged, const vp_db_caller *caller, vp_error *err);

/*
 * Set the instance's state and record the change as an event. "running" stores pid and the
 * start time and clears the last exit; "stopped" and "suspended" clear pid and store
 * exit_status (-1 when unknown) and reason as the last exit. reason may be NULL.
 */
int vp_db_set_state(vp_db *db, const char *name, const char *state, pid_t pid, int exit_status,
                    const char *reason, const vp_db_caller *caller, vp_error *err);

/* One instance as an object: name, image, image_name, workspace, created, owner_uid, state,
 * pid, started_ms, stopped_ms, exit_status, exit_reason (null where unset). -ENOENT when
 * missing. */
int vp_db_get_instance(vp_db *db, const char *name, json_t **ret, vp_error *err);
/* Every instance, sorted by name, as an array of the objects above. */
int vp_db_list_instances(vp_db *db, json_t **ret, vp_error *err);
/* The instance's last limit events, oldest first: time_ms, event, detail, caller_uid, caller_pid. */
int vp_db_list_events(vp_db *db, const char *name, unsigned limit, json_t **ret, vp_error *err);

int64_t vp_db_now_ms(void);

/*
 * The audit log: every authorization decision of vmpackd that it records, and events such
 * as a VM that started or stopped. Triggers make the table append-only: an UPDATE or DELETE
 * of a row aborts, and no function here edits or deletes rows.
 */
#define VP_AUDIT_ALLOW "allow"
#define VP_AUDIT_DENY "deny"
#define VP_AUDIT_EVENT "event" /* something that happened rather than a decision */

/* Default and maximum number of entries vp_db_audit_list returns. */
#define VP_AUDIT_LIST_DEFAULT 200
#define VP_AUDIT_LIST_MAX 10000

typedef struct vp_audit_entry {
        int64_t time_ms; /* 0: now */
        uid_t caller_uid;
        pid_t caller_pid;
        const char *caller_name; /* the caller's login name at the time; may be NULL */
        const char *instance;    /* may be NULL */
        /* The instance's owner, so its owner can read the entry. -1: the owner_uid of the
         * instance row at write time, or NULL when there is no instance or no row. */
        int64_t owner_uid;
        const char *action;   /* method ("Install", "Start", ...) or event ("vm-started", ...) */
        const char *decision; /* VP_AUDIT_ALLOW, VP_AUDIT_DENY or VP_AUDIT_EVENT */
        const char *reason;   /* may be NULL */
        json_t *detail;       /* stored as compact JSON text; may be NULL; not stolen */
} vp_audit_entry;

typedef struct vp_audit_filter {
        int64_t since_ms;       /* entries at or after this time; 0: all */
        const char *instance;   /* NULL: every instance, and entries without one */
        int64_t visible_to_uid; /* entries where this uid is the caller or the instance's owner; -1: all */
        unsigned limit;         /* the newest entries up to this many; 0: VP_AUDIT_LIST_DEFAULT */
} vp_audit_filter;

/* Append one entry. -EINVAL when action or decision is missing or decision is unknown. */
int vp_db_audit_add(vp_db *db, const vp_audit_entry *entry, vp_error *err);
/*
 * List the entries that match filter, oldest first, as an array of objects: id, time_ms,
 * caller_uid, caller_pid, caller_name, instance, owner_uid, action, decision, reason and
 * detail (the stored JSON value, null where unset). A limit above VP_AUDIT_LIST_MAX is
 * lowered to it.
 */
int vp_db_audit_list(vp_db *db, const vp_audit_filter *filter, json_t **ret, vp_error *err);
