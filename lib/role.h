/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Roles of vmpackd's callers. The daemon learns the caller's uid from SO_PEERCRED and maps
 * it to a role:
 *   administrator  root and members of group "vmpack-admin": may act on every instance
 *   user           members of group "vmpack": may act on the instances they installed
 *   none           everyone else: may call GetInfo only
 * A session daemon (one per user) makes its own uid, and root, administrators; nobody else
 * can connect to its socket.
 *
 * Group membership counts the primary group and the supplementary groups from the group
 * database (getgrouplist(3)), so a change takes effect on the caller's next request without
 * a new login. The lookups go through a vp_role_lookup, so tests can pass a table instead
 * of real users and groups.
 */
#pragma once

#include "util.h"

#include <sys/types.h>

#define VP_ROLE_GROUP_USERS "vmpack"
#define VP_ROLE_GROUP_ADMINS "vmpack-admin"

typedef enum vp_role {
        VP_ROLE_NONE,
        VP_ROLE_USER,
        VP_ROLE_ADMIN,
} vp_role;

typedef struct vp_role_lookup {
        /* Store the user's login name (malloc'd) in *ret_name. Returns 0, -ENOENT when the
         * uid has no passwd entry, or another negative errno. */
        int (*user_name)(void *userdata, uid_t uid, char **ret_name);
        /* Returns 1 when uid is a member of the named group (primary or supplementary), 0
         * when it is not or the group or user does not exist, or a negative errno. */
        int (*user_in_group)(void *userdata, uid_t uid, const char *group);
        void *userdata;
} vp_role_lookup;

/* Lookups through getpwuid_r(3), getgrnam_r(3) and getgrouplist(3). */
extern const vp_role_lookup vp_role_lookup_system;

/*
 * Find the role of uid. system_mode is false for a session daemon, which runs as
 * daemon_uid. lookup NULL means vp_role_lookup_system. A failed group lookup returns a
 * negative errno with err set, never a role the caller does not have.
 */
int vp_role_of(const vp_role_lookup *lookup, uid_t uid, bool system_mode, uid_t daemon_uid, vp_role *ret,
               vp_error *err);

/* "administrator", "user" or "none". */
const char *vp_role_name(vp_role role);

/* Whether a caller with role and uid may act on an instance owned by owner_uid. */
bool vp_role_may_act_on(vp_role role, uid_t uid, uid_t owner_uid);

/* The user's login name (malloc'd), or NULL when the uid has no passwd entry or on error.
 * lookup NULL means vp_role_lookup_system. */
char *vp_role_user_name(const vp_role_lookup *lookup, uid_t uid);
