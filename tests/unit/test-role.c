/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Roles from uids: a table of users and their groups replaces the passwd and group
 * databases, so the tests need no real users. Covers root, the two groups, both at once,
 * neither, an unknown uid, a failing lookup, session mode and who may act on an instance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "role.h"

typedef struct table_user {
        uid_t uid;
        const char *name;
        const char *groups[3]; /* primary and supplementary, by name */
} table_user;

static const table_user users[] = {
        { 1000, "alice", { "alice", "vmpack" } },
        { 1001, "bob", { "bob" } },
        { 1002, "carol", { "carol", "vmpack-admin" } },
        { 1003, "dave", { "vmpack", "vmpack-admin" } },
        { 1004, "erin", { "vmpack" } }, /* vmpack as the primary group */
        { 1005, "frank", { "vmpackers", "vmpack-admins" } },
};

/* A uid whose group lookup fails, as when the group database is unreachable. */
#define FAILING_UID 1666

static const table_user *find_user(uid_t uid)
{
        for (size_t i = 0; i < ELEMENTSOF(users); i++)
                if (users[i].uid == uid)
                        return &users[i];
        return NULL;
}

static int table_user_name(void *userdata, uid_t uid, char **ret_name)
{
        int *calls = userdata;
        const table_user *user = find_user(uid);

        (*calls)++;
        if (!user)
                return -ENOENT;
        *ret_name = strdup(user->name);
        return *ret_name ? 0 : -ENOMEM;
}

static int table_user_in_group(void *userdata, uid_t uid, const char *group)
{
        int *calls = userdata;
        const table_user *user = find_user(uid);

        (*calls)++;
        if (uid == FAILING_UID)
                return -EIO;
        if (!user)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(user->groups) && user->groups[i]; i++)
                if (strcmp(user->groups[i], group) == 0)
                        return 1;
        return 0;
}

static int lookup_calls;
static const vp_role_lookup table_lookup = {
        .user_name = table_user_name,
        .user_in_group = table_user_in_group,
        .userdata = &lookup_calls,
};

static void role_system_mode_table(void **state _unused_)
{
        static const struct {
                uid_t uid;
                vp_role expected;
        } cases[] = {
                { 0, VP_ROLE_ADMIN },     /* root needs no group */
                { 1000, VP_ROLE_USER },   /* supplementary vmpack */
                { 1001, VP_ROLE_NONE },   /* no vmpack group */
                { 1002, VP_ROLE_ADMIN },  /* vmpack-admin only */
                { 1003, VP_ROLE_ADMIN },  /* both groups: the higher role */
                { 1004, VP_ROLE_USER },   /* primary group vmpack */
                { 1005, VP_ROLE_NONE },   /* similar group names do not count */
                { 4242, VP_ROLE_NONE },   /* no passwd entry */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                vp_role role = VP_ROLE_ADMIN;
                vp_error err = {};
                assert_int_equal(vp_role_of(&table_lookup, cases[i].uid, true, 0, &role, &err), 0);
                if (role != cases[i].expected)
                        fail_msg("uid %u: role %s, expected %s", cases[i].uid, vp_role_name(role),
                                 vp_role_name(cases[i].expected));
        }
}

static void role_lookup_failure(void **state _unused_)
{
        vp_role role = VP_ROLE_USER;
        vp_error err = {};

        assert_int_equal(vp_role_of(&table_lookup, FAILING_UID, true, 0, &role, &err), -EIO);
        assert_int_equal(role, VP_ROLE_USER); /* untouched on failure */
        assert_non_null(strstr(err.message, "1666"));
        assert_non_null(strstr(err.message, "vmpack-admin"));
}

static void role_session_mode(void **state _unused_)
{
        vp_role role = VP_ROLE_NONE;
        vp_error err = {};

        /* The daemon's own user is its administrator without any group. */
        assert_int_equal(vp_role_of(&table_lookup, 1001, false, 1001, &role, &err), 0);
        assert_int_equal(role, VP_ROLE_ADMIN);
        assert_int_equal(vp_role_of(&table_lookup, 0, false, 1001, &role, &err), 0);
        assert_int_equal(role, VP_ROLE_ADMIN);

        /* Group members of another user get nothing from a session daemon, and the
         * groups are not even looked up. */
        lookup_calls = 0;
        assert_int_equal(vp_role_of(&table_lookup, 1002, false, 1001, &role, &err), 0);
        assert_int_equal(role, VP_ROLE_NONE);
        assert_int_equal(vp_role_of(&table_lookup, 1000, false, 1001, &role, &err), 0);
        assert_int_equal(role, VP_ROLE_NONE);
        assert_int_equal(lookup_calls, 0);
}

static void role_system_mode_daemon_uid(void **state _unused_)
{
        vp_role role = VP_ROLE_ADMIN;
        vp_error err = {};

        /* In system mode only root and the groups count, even for the daemon's uid. */
        assert_int_equal(vp_role_of(&table_lookup, 1001, true, 1001, &role, &err), 0);
        assert_int_equal(role, VP_ROLE_NONE);
}

static void role_may_act_on(void **state _unused_)
{
        assert_true(vp_role_may_act_on(VP_ROLE_ADMIN, 1002, 1000));
        assert_true(vp_role_may_act_on(VP_ROLE_ADMIN, 0, 1000));
        assert_true(vp_role_may_act_on(VP_ROLE_USER, 1000, 1000));
        assert_false(vp_role_may_act_on(VP_ROLE_USER, 1000, 1004));
        assert_false(vp_role_may_act_on(VP_ROLE_USER, 1000, 0));
        assert_false(vp_role_may_act_on(VP_ROLE_NONE, 1001, 1001));
}

static void role_names(void **state _unused_)
{
        assert_string_equal(vp_role_name(VP_ROLE_ADMIN), "administrator");
        assert_string_equal(vp_role_name(VP_ROLE_USER), "user");
        assert_string_equal(vp_role_name(VP_ROLE_NONE), "none");
}

static void role_user_name(void **state _unused_)
{
        char *name = vp_role_user_name(&table_lookup, 1000);

        assert_non_null(name);
        assert_string_equal(name, "alice");
        free(name);
        assert_null(vp_role_user_name(&table_lookup, 4242));
}

static void role_system_lookup_root(void **state _unused_)
{
        char *name = vp_role_user_name(NULL, 0);
        vp_role role = VP_ROLE_NONE;
        vp_error err = {};

        /* uid 0 is "root" in every passwd database this builds on. */
        assert_non_null(name);
        assert_string_equal(name, "root");
        free(name);
        assert_int_equal(vp_role_of(NULL, 0, true, 0, &role, &err), 0);
        assert_int_equal(role, VP_ROLE_ADMIN);

        /* A uid without a passwd entry is in no group and has no role. */
        assert_int_equal(vp_role_of(NULL, 2147483600, true, 0, &role, &err), 0);
        assert_int_equal(role, VP_ROLE_NONE);
        assert_int_equal(vp_role_lookup_system.user_in_group(NULL, 0, "vmpack-no-such-group"), 0);
        assert_int_equal(vp_role_lookup_system.user_in_group(NULL, 0, "root"), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(role_system_mode_table),
                cmocka_unit_test(role_lookup_failure),
                cmocka_unit_test(role_session_mode),
                cmocka_unit_test(role_system_mode_daemon_uid),
                cmocka_unit_test(role_may_act_on),
                cmocka_unit_test(role_names),
                cmocka_unit_test(role_user_name),
                cmocka_unit_test(role_system_lookup_root),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
