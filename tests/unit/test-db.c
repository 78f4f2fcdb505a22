/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpackd's SQLite state: instances, state changes with their exit reasons, the event log
 * that outlives an uninstall, and the errors for duplicates, missing instances and a
 * database from another schema version, and the append-only audit log with its filters and
 * visibility. Each test uses a new database in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <string.h>

#include "db.h"

typedef struct fixture {
        char directory[64];
        char path[128];
        vp_db *db;
} fixture;

static const vp_db_caller caller = { .uid = 1000, .pid = 4242 };

static const vp_db_instance instance_a = {
        .name = "a1",
        .image = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .image_name = "shell",
        .workspace = "default",
        .created = "2026-12-04T21:00:00Z",
        .owner_uid = 1000,
};

static int setup(void **state)
{
        fixture *f = calloc(1, sizeof(*f));
        vp_error err = {};

        if (!f)
                return -1;
        strcpy(f->directory, "/tmp/vmpack-test-db.XXXXXX");
        if (!mkdtemp(f->directory))
                return -1;
        snprintf(f->path, sizeof(f->path), "%s/state.db", f->directory);
        if (vp_db_open(f->path, &f->db, &err) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture *f = *state;
        vp_error err = {};

        vp_db_close(f->db);
        vp_rm_rf(f->directory, &err);
        free(f);
        return 0;
}

static const char *member_string(json_t *object, const char *key)
{
        return json_string_value(json_object_get(object, key));
}

static void db_add_and_get(void **state)
{
        fixture *f = *state;
        json_t *object = NULL;
        vp_error err = {};

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        assert_int_equal(vp_db_get_instance(f->db, "a1", &object, &err), 0);
        assert_string_equal(member_string(object, "image"), instance_a.image);
        assert_string_equal(member_string(object, "image_name"), "shell");
        assert_string_equal(member_string(object, "state"), "stopped");
        assert_int_equal(json_integer_value(json_object_get(object, "owner_uid")), 1000);
        assert_true(json_is_null(json_object_get(object, "pid")));
        json_decref(object);
}

static void db_duplicate_rejected(void **state)
{
        fixture *f = *state;
        vp_error err = {};

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), -EEXIST);
        assert_non_null(strstr(err.message, "a1"));
}

static void db_missing_instance(void **state)
{
        fixture *f = *state;
        json_t *object = NULL;
        vp_error err = {};

        assert_int_equal(vp_db_get_instance(f->db, "nope", &object, &err), -ENOENT);
        assert_null(object);
        assert_int_equal(vp_db_set_state(f->db, "nope", "running", 1, -1, NULL, &caller, &err), -ENOENT);
        assert_int_equal(vp_db_remove_instance(f->db, "nope", false, &caller, &err), -ENOENT);
}

static void db_state_changes(void **state)
{
        fixture *f = *state;
        json_t *object = NULL;
        vp_error err = {};

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        assert_int_equal(vp_db_set_state(f->db, "a1", "running", 777, -1, NULL, &caller, &err), 0);
        assert_int_equal(vp_db_get_instance(f->db, "a1", &object, &err), 0);
        assert_string_equal(member_string(object, "state"), "running");
        assert_int_equal(json_integer_value(json_object_get(object, "pid")), 777);
        assert_true(json_is_integer(json_object_get(object, "started_ms")));
        json_decref(object);

        assert_int_equal(vp_db_set_state(f->db, "a1", "stopped", 0, 3, "exited with status 3", &caller, &err), 0);
        assert_int_equal(vp_db_get_instance(f->db, "a1", &object, &err), 0);
        assert_string_equal(member_string(object, "state"), "stopped");
        assert_true(json_is_null(json_object_get(object, "pid")));
        assert_int_equal(json_integer_value(json_object_get(object, "exit_status")), 3);
        assert_string_equal(member_string(object, "exit_reason"), "exited with status 3");
        json_decref(object);

        /* A new start clears the last exit. */
        assert_int_equal(vp_db_set_state(f->db, "a1", "running", 778, -1, NULL, &caller, &err), 0);
        assert_int_equal(vp_db_get_instance(f->db, "a1", &object, &err), 0);
        assert_true(json_is_null(json_object_get(object, "exit_status")));
        assert_true(json_is_null(json_object_get(object, "exit_reason")));
        json_decref(object);
}

static void db_suspended_state(void **state)
{
        fixture *f = *state;
        json_t *object = NULL;
        vp_error err = {};

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        assert_int_equal(vp_db_set_state(f->db, "a1", "running", 777, -1, NULL, &caller, &err), 0);
        assert_int_equal(vp_db_set_state(f->db, "a1", "suspended", 0, -1, "VM state saved", &caller, &err), 0);
        assert_int_equal(vp_db_get_instance(f->db, "a1", &object, &err), 0);
        assert_string_equal(member_string(object, "state"), "suspended");
        assert_true(json_is_null(json_object_get(object, "pid")));
        assert_true(json_is_null(json_object_get(object, "exit_status")));
        assert_string_equal(member_string(object, "exit_reason"), "VM state saved");
        assert_true(json_is_integer(json_object_get(object, "stopped_ms")));
        json_decref(object);
}

static void db_events_outlive_uninstall(void **state)
{
        fixture *f = *state;
        json_t *events = NULL, *instances = NULL;
        vp_error err = {};

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        assert_int_equal(vp_db_set_state(f->db, "a1", "running", 1, -1, NULL, &caller, &err), 0);
        assert_int_equal(vp_db_set_state(f->db, "a1", "stopped", 0, -1, "killed", &caller, &err), 0);
        assert_int_equal(vp_db_remove_instance(f->db, "a1", true, &caller, &err), 0);

        assert_int_equal(vp_db_list_instances(f->db, &instances, &err), 0);
        assert_int_equal(json_array_size(instances), 0);
        json_decref(instances);

        assert_int_equal(vp_db_list_events(f->db, "a1", 10, &events, &err), 0);
        assert_int_equal(json_array_size(events), 4);
        assert_string_equal(member_string(json_array_get(events, 0), "event"), "installed");
        assert_string_equal(member_string(json_array_get(events, 2), "detail"), "killed");
        assert_string_equal(member_string(json_array_get(events, 3), "event"), "uninstalled");
        assert_string_equal(member_string(json_array_get(events, 3), "detail"), "purged");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(events, 3), "caller_pid")), 4242);
        json_decref(events);

        /* The limit keeps the newest events, oldest first. */
        assert_int_equal(vp_db_list_events(f->db, "a1", 2, &events, &err), 0);
        assert_int_equal(json_array_size(events), 2);
        assert_string_equal(member_string(json_array_get(events, 0), "event"), "stopped");
        json_decref(events);
}

static void db_list_sorted(void **state)
{
        fixture *f = *state;
        vp_db_instance b = instance_a, a = instance_a;
        json_t *instances = NULL;
        vp_error err = {};

        b.name = "b2";
        a.name = "A0";
        assert_int_equal(vp_db_add_instance(f->db, &b, &caller, &err), 0);
        assert_int_equal(vp_db_add_instance(f->db, &a, &caller, &err), 0);
        assert_int_equal(vp_db_list_instances(f->db, &instances, &err), 0);
        assert_int_equal(json_array_size(instances), 2);
        assert_string_equal(member_string(json_array_get(instances, 0), "name"), "A0");
        assert_string_equal(member_string(json_array_get(instances, 1), "name"), "b2");
        json_decref(instances);
}

static void db_reopen_keeps_state(void **state)
{
        fixture *f = *state;
        json_t *object = NULL;
        vp_error err = {};

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        f->db = vp_db_close(f->db);
        assert_int_equal(vp_db_open(f->path, &f->db, &err), 0);
        assert_int_equal(vp_db_get_instance(f->db, "a1", &object, &err), 0);
        json_decref(object);
}

static void db_other_schema_rejected(void **state)
{
        fixture *f = *state;
        sqlite3 *raw = NULL;
        vp_db *db = NULL;
        vp_error err = {};

        f->db = vp_db_close(f->db);
        assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(raw);

        assert_int_equal(vp_db_open(f->path, &db, &err), -EPROTO);
        assert_null(db);
        assert_non_null(strstr(err.message, "schema version 99"));
}

static void add_audit(vp_db *db, int64_t time_ms, uid_t uid, const char *instance, int64_t owner_uid,
                      const char *action, const char *decision)
{
        vp_audit_entry entry = {
                .time_ms = time_ms,
                .caller_uid = uid,
                .caller_pid = 77,
                .caller_name = uid == 1000 ? "alice" : NULL,
                .instance = instance,
                .owner_uid = owner_uid,
                .action = action,
                .decision = decision,
                .reason = "test",
        };
        vp_error err = {};

        assert_int_equal(vp_db_audit_add(db, &entry, &err), 0);
}

static json_t *list_audit(vp_db *db, int64_t since_ms, const char *instance, int64_t visible_to_uid,
                          unsigned limit)
{
        vp_audit_filter filter = {
                .since_ms = since_ms,
                .instance = instance,
                .visible_to_uid = visible_to_uid,
                .limit = limit,
        };
        json_t *entries = NULL;
        vp_error err = {};

        assert_int_equal(vp_db_audit_list(db, &filter, &entries, &err), 0);
        assert_true(json_is_array(entries));
        return entries;
}

static void audit_add_and_list(void **state)
{
        fixture *f = *state;
        json_t *detail = json_pack("{s:b, s:[s]}", "network", true, "shares", "/home/alice/doc");
        vp_audit_entry entry = {
                .caller_uid = 1000,
                .caller_pid = 4242,
                .caller_name = "alice",
                .instance = "a1",
                .owner_uid = -1,
                .action = "Start",
                .decision = VP_AUDIT_ALLOW,
                .reason = "owner",
                .detail = detail,
        };
        vp_error err = {};
        int64_t before = vp_db_now_ms();

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        assert_int_equal(vp_db_audit_add(f->db, &entry, &err), 0);
        entry.instance = NULL;
        entry.action = "GetInfo";
        entry.decision = VP_AUDIT_DENY;
        entry.detail = NULL;
        entry.caller_name = NULL;
        assert_int_equal(vp_db_audit_add(f->db, &entry, &err), 0);

        json_t *entries = list_audit(f->db, 0, NULL, -1, 0);
        assert_int_equal(json_array_size(entries), 2);
        json_t *first = json_array_get(entries, 0);
        assert_string_equal(member_string(first, "action"), "Start");
        assert_string_equal(member_string(first, "decision"), "allow");
        assert_string_equal(member_string(first, "caller_name"), "alice");
        assert_string_equal(member_string(first, "instance"), "a1");
        assert_string_equal(member_string(first, "reason"), "owner");
        /* owner_uid -1 took the instance row's owner. */
        assert_int_equal(json_integer_value(json_object_get(first, "owner_uid")), 1000);
        assert_int_equal(json_integer_value(json_object_get(first, "caller_pid")), 4242);
        assert_true(json_integer_value(json_object_get(first, "time_ms")) >= before);
        assert_true(json_equal(json_object_get(first, "detail"), detail));

        json_t *second = json_array_get(entries, 1);
        assert_true(json_is_null(json_object_get(second, "instance")));
        assert_true(json_is_null(json_object_get(second, "owner_uid")));
        assert_true(json_is_null(json_object_get(second, "caller_name")));
        assert_true(json_is_null(json_object_get(second, "detail")));
        assert_true(json_integer_value(json_object_get(second, "id")) >
                    json_integer_value(json_object_get(first, "id")));
        json_decref(entries);
        json_decref(detail);
}

static void audit_invalid_entry(void **state)
{
        fixture *f = *state;
        vp_audit_entry entry = { .caller_uid = 1000, .owner_uid = -1, .action = "Start", .decision = "maybe" };
        vp_error err = {};

        assert_int_equal(vp_db_audit_add(f->db, &entry, &err), -EINVAL);
        assert_non_null(strstr(err.message, "maybe"));
        entry.decision = NULL;
        assert_int_equal(vp_db_audit_add(f->db, &entry, &err), -EINVAL);
        entry.decision = VP_AUDIT_EVENT;
        entry.action = NULL;
        assert_int_equal(vp_db_audit_add(f->db, &entry, &err), -EINVAL);

        json_t *entries = list_audit(f->db, 0, NULL, -1, 0);
        assert_int_equal(json_array_size(entries), 0);
        json_decref(entries);
}

static void audit_filters(void **state)
{
        fixture *f = *state;

        add_audit(f->db, 1000, 1000, "a1", 1000, "Install", VP_AUDIT_ALLOW);
        add_audit(f->db, 2000, 1000, "b2", 1000, "Install", VP_AUDIT_ALLOW);
        add_audit(f->db, 3000, 0, "a1", 1000, "vm-started", VP_AUDIT_EVENT);
        add_audit(f->db, 4000, 0, "a1", 1000, "vm-stopped", VP_AUDIT_EVENT);

        json_t *entries = list_audit(f->db, 2000, NULL, -1, 0);
        assert_int_equal(json_array_size(entries), 3);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(entries, 0), "time_ms")), 2000);
        json_decref(entries);

        entries = list_audit(f->db, 0, "a1", -1, 0);
        assert_int_equal(json_array_size(entries), 3);
        json_decref(entries);

        /* The limit keeps the newest entries, still oldest first. */
        entries = list_audit(f->db, 0, NULL, -1, 2);
        assert_int_equal(json_array_size(entries), 2);
        assert_string_equal(member_string(json_array_get(entries, 0), "action"), "vm-started");
        assert_string_equal(member_string(json_array_get(entries, 1), "action"), "vm-stopped");
        json_decref(entries);

        entries = list_audit(f->db, 5000, NULL, -1, 0);
        assert_int_equal(json_array_size(entries), 0);
        json_decref(entries);
}

static void audit_visibility(void **state)
{
        fixture *f = *state;

        add_audit(f->db, 1000, 1000, "a1", 1000, "Install", VP_AUDIT_ALLOW); /* alice's own */
        add_audit(f->db, 2000, 0, "a1", 1000, "vm-started", VP_AUDIT_EVENT); /* on alice's instance */
        add_audit(f->db, 3000, 1001, "a1", 1000, "Stop", VP_AUDIT_DENY);     /* bob denied on alice's */
        add_audit(f->db, 4000, 0, "root1", 0, "Install", VP_AUDIT_ALLOW);    /* root's */
        add_audit(f->db, 5000, 1000, "root1", 0, "Info", VP_AUDIT_DENY);     /* alice denied on root's */
        add_audit(f->db, 6000, 1001, NULL, -1, "List", VP_AUDIT_DENY);       /* bob, no instance */

        json_t *entries = list_audit(f->db, 0, NULL, 1000, 0);
        assert_int_equal(json_array_size(entries), 4);
        size_t i;
        json_t *entry;
        json_array_foreach(entries, i, entry) {
                json_int_t caller_uid = json_integer_value(json_object_get(entry, "caller_uid"));
                json_t *owner = json_object_get(entry, "owner_uid");
                assert_true(caller_uid == 1000 || (json_is_integer(owner) && json_integer_value(owner) == 1000));
        }
        json_decref(entries);

        entries = list_audit(f->db, 0, NULL, 1001, 0);
        assert_int_equal(json_array_size(entries), 2);
        json_decref(entries);

        entries = list_audit(f->db, 0, NULL, 4242, 0);
        assert_int_equal(json_array_size(entries), 0);
        json_decref(entries);

        entries = list_audit(f->db, 0, NULL, -1, 0);
        assert_int_equal(json_array_size(entries), 6);
        json_decref(entries);
}

static void audit_owner_recorded_at_write_time(void **state)
{
        fixture *f = *state;
        vp_error err = {};

        assert_int_equal(vp_db_add_instance(f->db, &instance_a, &caller, &err), 0);
        add_audit(f->db, 1000, 0, "a1", -1, "vm-started", VP_AUDIT_EVENT);
        assert_int_equal(vp_db_remove_instance(f->db, "a1", true, &caller, &err), 0);
        /* A later instance of the same name belongs to someone else. */
        vp_db_instance other = instance_a;
        other.owner_uid = 1001;
        assert_int_equal(vp_db_add_instance(f->db, &other, &caller, &err), 0);
        add_audit(f->db, 2000, 0, "a1", -1, "vm-started", VP_AUDIT_EVENT);

        json_t *entries = list_audit(f->db, 0, NULL, 1000, 0);
        assert_int_equal(json_array_size(entries), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(entries, 0), "time_ms")), 1000);
        json_decref(entries);
}

static void audit_update_and_delete_refused(void **state)
{
        fixture *f = *state;
        sqlite3 *raw = NULL;
        char *message = NULL;

        add_audit(f->db, 1000, 1000, "a1", 1000, "Stop", VP_AUDIT_DENY);
        assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "UPDATE audit SET decision = 'allow'", NULL, NULL, &message),
                         SQLITE_CONSTRAINT);
        assert_non_null(message);
        assert_non_null(strstr(message, "append-only"));
        sqlite3_free(message);
        message = NULL;
        assert_int_equal(sqlite3_exec(raw, "DELETE FROM audit", NULL, NULL, &message), SQLITE_CONSTRAINT);
        assert_non_null(strstr(message, "append-only"));
        sqlite3_free(message);
        sqlite3_close(raw);

        json_t *entries = list_audit(f->db, 0, NULL, -1, 0);
        assert_int_equal(json_array_size(entries), 1);
        assert_string_equal(member_string(json_array_get(entries, 0), "decision"), "deny");
        json_decref(entries);
}

static void audit_limit_capped(void **state)
{
        fixture *f = *state;

        for (int i = 0; i < VP_AUDIT_LIST_DEFAULT + 5; i++)
                add_audit(f->db, 1000 + i, 1000, "a1", 1000, "Start", VP_AUDIT_ALLOW);
        json_t *entries = list_audit(f->db, 0, NULL, -1, 0);
        assert_int_equal(json_array_size(entries), VP_AUDIT_LIST_DEFAULT);
        json_decref(entries);
        entries = list_audit(f->db, 0, NULL, -1, VP_AUDIT_LIST_MAX * 10);
        assert_int_equal(json_array_size(entries), VP_AUDIT_LIST_DEFAULT + 5);
        json_decref(entries);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(db_add_and_get, setup, teardown),
                cmocka_unit_test_setup_teardown(db_duplicate_rejected, setup, teardown),
                cmocka_unit_test_setup_teardown(db_missing_instance, setup, teardown),
                cmocka_unit_test_setup_teardown(db_state_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(db_suspended_state, setup, teardown),
                cmocka_unit_test_setup_teardown(db_events_outlive_uninstall, setup, teardown),
                cmocka_unit_test_setup_teardown(db_list_sorted, setup, teardown),
                cmocka_unit_test_setup_teardown(db_reopen_keeps_state, setup, teardown),
                cmocka_unit_test_setup_teardown(db_other_schema_rejected, setup, teardown),
                cmocka_unit_test_setup_teardown(audit_add_and_list, setup, teardown),
                cmocka_unit_test_setup_teardown(audit_invalid_entry, setup, teardown),
                cmocka_unit_test_setup_teardown(audit_filters, setup, teardown),
                cmocka_unit_test_setup_teardown(audit_visibility, setup, teardown),
                cmocka_unit_test_setup_teardown(audit_owner_recorded_at_write_time, setup, teardown),
                cmocka_unit_test_setup_teardown(audit_update_and_delete_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(audit_limit_capped, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
