/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmpackd's SQLite state: instances, state changes with their exit reasons, the event log
 * that outlives an uninstall, and the errors for duplicates, missing instances and a
 * database from another schema version. Each test uses a new database in a temporary
 * directory.
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
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
