/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Authorization of requests by role, and the audit log. Every request first gets the
 * caller's role (lib/role.h) from its SO_PEERCRED uid. Denials are replied to and recorded
 * here, while handlers record the allowed requests that change something and the events
 * that follow them. A failure to write the audit log is logged and does not fail the
 * request.
 */
#include "vmpackd.h"

#include <stdarg.h>
#include <string.h>

/* Methods that a caller without a role may call in system mode. */
static bool method_open_to_all(const char *method)
{
        return strcmp(method, "GetInfo") == 0;
}

static void add_entry(daemon_state *d, const vp_audit_entry *entry)
{
        vp_error err = {};

        if (vp_db_audit_add(d->db, entry, &err) < 0)
                log_message(entry->instance, "recording audit entry %s %s for uid %u failed: %s", entry->action,
                            entry->decision, entry->caller_uid, err.message);
}

bool audit_identify(daemon_state *d, connection *c)
{
        vp_error err = {};
        vp_role role;

        /* NOTE: the passwd and group lookups run in the poll loop, so a slow name service
         * (e.g. LDAP through NSS) delays every client while it answers. */
        free(c->user_name);
        c->user_name = vp_role_user_name(d->role_lookup, c->peer.uid);
        c->role = VP_ROLE_NONE;
        if (vp_role_of(d->role_lookup, c->peer.uid, d->system_mode, d->uid, &role, &err) < 0) {
                log_message(NULL, "uid %u pid %d: %s", c->peer.uid, c->peer.pid, err.message);
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                return false;
        }
        c->role = role;
        return true;
}

/* "uid 1000 (alice)", or "uid 1000" when the uid has no passwd entry. */
static void describe_caller(const connection *c, char *buffer, size_t size)
{
        if (c->user_name)
                snprintf(buffer, size, "uid %u (%s)", c->peer.uid, c->user_name);
        else
                snprintf(buffer, size, "uid %u", c->peer.uid);
}

bool audit_check_method(daemon_state *d, connection *c, const char *method)
{
        char who[128];

        if (c->role != VP_ROLE_NONE || method_open_to_all(method))
                return true;
        describe_caller(c, who, sizeof(who));
        if (d->system_mode)
                audit_deny(d, c, method, NULL, NULL,
                           "%s is not in group %s or %s: ask an administrator to add you", who,
                           VP_ROLE_GROUP_USERS, VP_ROLE_GROUP_ADMINS);
        else
                audit_deny(d, c, method, NULL, NULL, "%s may not use the session daemon of uid %u", who, d->uid);
        return false;
}

bool audit_check_owner(daemon_state *d, connection *c, const char *method, const char *instance, uid_t owner_uid)
{
        _cleanup_free_ char *owner_name = NULL;
        char who[128], owner[128];

        if (vp_role_may_act_on(c->role, c->peer.uid, owner_uid))
                return true;
        describe_caller(c, who, sizeof(who));
        owner_name = vp_role_user_name(d->role_lookup, owner_uid);
        if (owner_name)
                snprintf(owner, sizeof(owner), "uid %u (%s)", owner_uid, owner_name);
        else
                snprintf(owner, sizeof(owner), "uid %u", owner_uid);
        audit_deny(d, c, method, instance, NULL,
                   "%s may not %s instance '%s': it belongs to %s, and only its owner and members of group %s "
                   "may act on it",
                   who, method, instance, owner, VP_ROLE_GROUP_ADMINS);
        return false;
}

/* Record a decision on a request of the caller on connection c. */
static void add_request_entry(daemon_state *d, const connection *c, const char *action, const char *instance,
                              const char *decision, const char *reason, json_t *detail)
{
        vp_audit_entry entry = {
                .caller_uid = c->peer.uid,
                .caller_pid = c->peer.pid,
                .caller_name = c->user_name,
                .instance = instance,
                .owner_uid = -1,
                .action = action,
                .decision = decision,
                .reason = reason,
                .detail = detail,
        };

        add_entry(d, &entry);
}

void audit_allow(daemon_state *d, const connection *c, const char *action, const char *instance,
                 const char *reason, json_t *detail)
{
        if (!reason)
                reason = c->role == VP_ROLE_ADMIN ? "administrator" : "owner";
        add_request_entry(d, c, action, instance, VP_AUDIT_ALLOW, reason, detail);
}

void audit_deny(daemon_state *d, connection *c, const char *action, const char *instance, json_t *detail,
                const char *fmt, ...)
{
        char message[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);

        log_message(instance, "denied %s to uid %u (pid %d): %s", action, c->peer.uid, c->peer.pid, message);
        add_request_entry(d, c, action, instance, VP_AUDIT_DENY, message, detail);
        server_reply_error(c, VP_API_ERROR_PERMISSION_DENIED, message);
}

void audit_event(daemon_state *d, const vp_db_caller *caller, const char *instance, const char *action,
                 const char *reason, json_t *detail)
{
        vp_db_caller self = { .uid = d->uid, .pid = getpid() };
        _cleanup_free_ char *name = NULL;

        if (!caller)
                caller = &self;
        name = vp_role_user_name(d->role_lookup, caller->uid);
        vp_audit_entry entry = {
                .caller_uid = caller->uid,
                .caller_pid = caller->pid,
                .caller_name = name,
                .instance = instance,
                .owner_uid = -1,
                .action = action,
                .decision = VP_AUDIT_EVENT,
                .reason = reason,
                .detail = detail,
        };

        add_entry(d, &entry);
}
