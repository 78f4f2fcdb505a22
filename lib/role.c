/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "role.h"
#include "policy.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>

/* Upper bound on the groups of one user that the lookup reads; getgrouplist(3) reports
 * more as an error rather than a silent truncation. */
#define MAX_USER_GROUPS 65536

/* A reentrant name service lookup such as getpwuid_r(3): fill entry for key, with its strings
 * in buffer, and set *found. Returns 0 or an errno value, ERANGE when buffer is too small. */
typedef int (*nss_lookup)(const void *key, void *entry, char *buffer, size_t size, bool *found);

static int passwd_by_uid(const void *key, void *entry, char *buffer, size_t size, bool *found)
{
        struct passwd *result = NULL;
        int r = getpwuid_r(*(const uid_t *) key, entry, buffer, size, &result);

        *found = result != NULL;
        return r;
}

static int group_by_gid(const void *key, void *entry, char *buffer, size_t size, bool *found)
{
        struct group *result = NULL;
        int r = getgrgid_r(*(const gid_t *) key, entry, buffer, size, &result);

        *found = result != NULL;
        return r;
}

static int group_by_name(const void *key, void *entry, char *buffer, size_t size, bool *found)
{
        struct group *result = NULL;
        int r = getgrnam_r(key, entry, buffer, size, &result);

        *found = result != NULL;
        return r;
}

/* Run lookup with a buffer that grows until the entry fits. The entry's strings point into
 * *ret_buffer. Returns -ENOENT when there is no entry. */
static int nss_read(nss_lookup lookup, const void *key, void *entry, char **ret_buffer)
{
        size_t size = 1024;

        for (;;) {
                _cleanup_free_ char *buffer = malloc(size);
                bool found = false;
                if (!buffer)
                        return -ENOMEM;
                int r = lookup(key, entry, buffer, size, &found);
                if (r == ERANGE && size < 1024 * 1024) {
                        size *= 2;
                        continue;
                }
                if (r != 0)
                        return -r;
                if (!found)
                        return -ENOENT;
                *ret_buffer = TAKE_PTR(buffer);
                return 0;
        }
}

/* The groups of the user with passwd entry pw, the primary group included, as getgrouplist(3)
 * lists them. */
static int user_groups(const struct passwd *pw, gid_t **ret_gids, int *ret_count)
{
        _cleanup_free_ gid_t *groups = NULL;
        int count = 64;

        /* getgrouplist(3) returns -1 and sets count to the number needed when the array
         * is too small. */
        for (;;) {
                int capacity = count;
                free(groups);
                groups = calloc((size_t) capacity, sizeof(gid_t));
                if (!groups)
                        return -ENOMEM;
                if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &count) >= 0)
                        break;
                if (count <= capacity) /* failed without asking for more room */
                        return -EIO;
                if (count > MAX_USER_GROUPS)
                        return -E2BIG;
        }

        *ret_gids = TAKE_PTR(groups);
        *ret_count = count;
        return 0;
}

static int system_user_name(void *userdata _unused_, uid_t uid, char **ret_name)
{
        _cleanup_free_ char *buffer = NULL;
        struct passwd pw;
        int r = nss_read(passwd_by_uid, &uid, &pw, &buffer);

        if (r < 0)
                return r;
        char *name = strdup(pw.pw_name);
        if (!name)
                return -ENOMEM;
        *ret_name = name;
        return 0;
}

static int system_user_in_group(void *userdata _unused_, uid_t uid, const char *group)
{
        _cleanup_free_ char *group_buffer = NULL, *passwd_buffer = NULL;
        _cleanup_free_ gid_t *groups = NULL;
        struct group gr;
        struct passwd pw;
        int count;

        int r = nss_read(group_by_name, group, &gr, &group_buffer);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = nss_read(passwd_by_uid, &uid, &pw, &passwd_buffer);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (pw.pw_gid == gr.gr_gid)
                return 1;

        r = user_groups(&pw, &groups, &count);
        if (r < 0)
                return r;
        for (int i = 0; i < count; i++)
                if (groups[i] == gr.gr_gid)
                        return 1;
        return 0;
}

/* The vp_user_lookup of policy grants (lib/policy.h), through the same databases. */
int vp_user_lookup_system(uid_t uid, char **ret_name, char ***ret_groups, void *userdata _unused_)
{
        _cleanup_strv_free_ char **names = strv_new();
        _cleanup_free_ char *passwd_buffer = NULL, *name = NULL;
        _cleanup_free_ gid_t *groups = NULL;
        struct passwd pw;
        int count, r;

        if (!names)
                return -ENOMEM;
        r = nss_read(passwd_by_uid, &uid, &pw, &passwd_buffer);
        if (r < 0)
                return r;
        name = strdup(pw.pw_name);
        if (!name)
                return -ENOMEM;

        r = user_groups(&pw, &groups, &count);
        if (r < 0)
                return r;
        for (int i = 0; i < count; i++) {
                _cleanup_free_ char *group_buffer = NULL;
                struct group gr;

                /* A gid without a group entry has no name to match Users= against. */
                r = nss_read(group_by_gid, &groups[i], &gr, &group_buffer);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (!strv_contains(names, gr.gr_name) && strv_extend(&names, gr.gr_name) < 0)
                        return -ENOMEM;
        }

        *ret_name = TAKE_PTR(name);
        *ret_groups = TAKE_PTR(names);
        return 0;
}

const vp_role_lookup vp_role_lookup_system = {
        .user_name = system_user_name,
        .user_in_group = system_user_in_group,
};

int vp_role_of(const vp_role_lookup *lookup, uid_t uid, bool system_mode, uid_t daemon_uid, vp_role *ret,
               vp_error *err)
{
        int r;

        if (!lookup)
                lookup = &vp_role_lookup_system;
        if (uid == 0 || (!system_mode && uid == daemon_uid)) {
                *ret = VP_ROLE_ADMIN;
                return 0;
        }
        /* A session daemon serves its own user only; the socket's directory keeps others out. */
        if (!system_mode) {
                *ret = VP_ROLE_NONE;
                return 0;
        }

        r = lookup->user_in_group(lookup->userdata, uid, VP_ROLE_GROUP_ADMINS);
        if (r < 0)
                return vp_error_set_errno(err, r, "looking up whether uid %u is in group %s", uid,
                                          VP_ROLE_GROUP_ADMINS);
        if (r > 0) {
                *ret = VP_ROLE_ADMIN;
                return 0;
        }
        r = lookup->user_in_group(lookup->userdata, uid, VP_ROLE_GROUP_USERS);
        if (r < 0)
                return vp_error_set_errno(err, r, "looking up whether uid %u is in group %s", uid,
                                          VP_ROLE_GROUP_USERS);
        *ret = r > 0 ? VP_ROLE_USER : VP_ROLE_NONE;
        return 0;
}

const char *vp_role_name(vp_role role)
{
        switch (role) {
        case VP_ROLE_ADMIN:
                return "administrator";
        case VP_ROLE_USER:
                return "user";
        case VP_ROLE_NONE:
                break;
        }
        return "none";
}

bool vp_role_may_act_on(vp_role role, uid_t uid, uid_t owner_uid)
{
        return role == VP_ROLE_ADMIN || (role == VP_ROLE_USER && uid == owner_uid);
}

char *vp_role_user_name(const vp_role_lookup *lookup, uid_t uid)
{
        char *name = NULL;

        if (!lookup)
                lookup = &vp_role_lookup_system;
        if (lookup->user_name(lookup->userdata, uid, &name) < 0)
                return NULL;
        return name;
}
