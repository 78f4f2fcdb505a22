/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "db.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

struct vp_db {
        sqlite3 *handle;
};

/* Bumped when a table changes; vp_db_open rejects a database with another version. A new
 * table needs no bump: its CREATE TABLE IF NOT EXISTS adds it to an older database. */
#define SCHEMA_VERSION 1

static const char schema[] =
        "CREATE TABLE IF NOT EXISTS instances ("
        "  name TEXT PRIMARY KEY,"
        "  image TEXT NOT NULL,"
        "  image_name TEXT,"
        "  workspace TEXT NOT NULL,"
        "  created TEXT NOT NULL,"
        "  owner_uid INTEGER NOT NULL,"
        "  state TEXT NOT NULL DEFAULT 'stopped',"
        "  pid INTEGER,"
        "  started_ms INTEGER,"
        "  stopped_ms INTEGER,"
        "  exit_status INTEGER,"
        "  exit_reason TEXT);"
        "CREATE TABLE IF NOT EXISTS events ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  instance TEXT NOT NULL,"
        "  time_ms INTEGER NOT NULL,"
        "  event TEXT NOT NULL,"
        "  detail TEXT,"
        "  caller_uid INTEGER,"
        "  caller_pid INTEGER);"
        "CREATE INDEX IF NOT EXISTS events_instance ON events (instance, id);"
        "CREATE TABLE IF NOT EXISTS audit ("
        "  id INTEGER PRIMARY KEY,"
        "  time_ms INTEGER NOT NULL,"
        "  caller_uid INTEGER NOT NULL,"
        "  caller_pid INTEGER,"
        "  caller_name TEXT,"
        "  instance TEXT,"
        "  owner_uid INTEGER,"
        "  action TEXT NOT NULL,"
        "  decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny', 'event')),"
        "  reason TEXT,"
        "  detail TEXT);"
        "CREATE INDEX IF NOT EXISTS audit_time ON audit (time_ms);"
        "CREATE INDEX IF NOT EXISTS audit_instance ON audit (instance, id);"
        /* Append-only: vmpackd never edits the log, and these make SQLite reject edits too.
         * Someone who can write the database file can still drop the triggers. */
        "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
        "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
        "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
        "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

int64_t vp_db_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_fail(vp_db *db, vp_error *err, const char *operation)
{
        int code = sqlite3_errcode(db->handle);
        int r = code == SQLITE_BUSY || code == SQLITE_LOCKED ? -EBUSY
                : code == SQLITE_CONSTRAINT                ? -EEXIST
                : code == SQLITE_FULL                      ? -ENOSPC
                                                           : -EIO;
        return vp_error_set(err, r, "state database: %s: %s", operation, sqlite3_errmsg(db->handle));
}

static int exec_sql(vp_db *db, const char *sql, vp_error *err)
{
        if (sqlite3_exec(db->handle, sql, NULL, NULL, NULL) != SQLITE_OK)
                return db_fail(db, err, sql);
        return 0;
}

vp_db *vp_db_close(vp_db *db)
{
        if (!db)
                return NULL;
        sqlite3_close(db->handle);
        free(db);
        return NULL;
}

static int read_user_version(vp_db *db, int *ret, vp_error *err)
{
        sqlite3_stmt *stmt = NULL;

        if (sqlite3_prepare_v2(db->handle, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
                return db_fail(db, err, "PRAGMA user_version");
        *ret = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
        sqlite3_finalize(stmt);
        return 0;
}

int vp_db_open(const char *path, vp_db **ret, vp_error *err)
{
        _cleanup_db_ vp_db *db = calloc(1, sizeof(*db));
        int version = 0, r;

        if (!db)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (sqlite3_open_v2(path, &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK)
                return vp_error_set(err, -EIO, "opening state database %s: %s", path,
                                    db->handle ? sqlite3_errmsg(db->handle) : "out of memory");
        sqlite3_busy_timeout(db->handle, 5000);

        r = exec_sql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
        r = r ?: read_user_version(db, &version, err);
        if (r < 0)
                return vp_error_prefix(err, "%s", path);
        if (version != 0 && version != SCHEMA_VERSION)
                return vp_error_set(err, -EPROTO,
                                    "state database %s has schema version %d, this vmpackd knows %d: move it "
                                    "away to start afresh",
                                    path, version, SCHEMA_VERSION);

        r = exec_sql(db, "BEGIN IMMEDIATE", err);
        r = r ?: exec_sql(db, schema, err);
        r = r ?: exec_sql(db, "PRAGMA user_version=1", err);
        r = r ?: exec_sql(db, "COMMIT", err);
        if (r < 0) {
                sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
                return vp_error_prefix(err, "%s", path);
        }

        *ret = TAKE_PTR(db);
        return 0;
}

/* Prepare sql and bind the arguments described by types: 's' text (NULL binds NULL),
 * 'i' int64, 'n' int64 bound as NULL when negative. */
static int prepare(vp_db *db, sqlite3_stmt **ret, vp_error *err, const char *sql, const char *types, ...)
{
        sqlite3_stmt *stmt = NULL;
        va_list ap;

        if (sqlite3_prepare_v2(db->handle, sql, -1, &stmt, NULL) != SQLITE_OK)
                return db_fail(db, err, "prepare");

        va_start(ap, types);
        for (int i = 0; types[i]; i++) {
                int rc;
                if (types[i] == 's') {
                        const char *s = va_arg(ap, const char *);
                        rc = s ? sqlite3_bind_text(stmt, i + 1, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(stmt, i + 1);
                } else {
                        int64_t v = va_arg(ap, int64_t);
                        rc = types[i] == 'n' && v < 0 ? sqlite3_bind_null(stmt, i + 1)
                                                      : sqlite3_bind_int64(stmt, i + 1, v);
                }
                if (rc != SQLITE_OK) {
                        va_end(ap);
                        sqlite3_finalize(stmt);
                        return db_fail(db, err, "bind");
                }
        }
        va_end(ap);
        *ret = stmt;
        return 0;
}

/* Run a statement that returns no rows; finalizes it. Sets *ret_changes when not NULL. */
static int step_done(vp_db *db, sqlite3_stmt *stmt, int *ret_changes, vp_error *err, const char *operation)
{
        int rc = sqlite3_step(stmt);
        int r = rc == SQLITE_DONE ? 0 : db_fail(db, err, operation);

        sqlite3_finalize(stmt);
        if (r == 0 && ret_changes)
                *ret_changes = sqlite3_changes(db->handle);
        return r;
}

static int add_event(vp_db *db, const char *name, const char *event, const char *detail, const vp_db_caller *caller,
                     vp_error *err)
{
        sqlite3_stmt *stmt;
        int r = prepare(db, &stmt, err,
                        "INSERT INTO events (instance, time_ms, event, detail, caller_uid, caller_pid) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        "sissii", name, vp_db_now_ms(), event, detail, (int64_t) caller->uid,
                        (int64_t) caller->pid);
        return r < 0 ? r : step_done(db, stmt, NULL, err, "recording event");
}

static int commit_or_rollback(vp_db *db, int r, vp_error *err)
{
        if (r < 0) {
                sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        return exec_sql(db, "COMMIT", err);
}

int vp_db_add_instance(vp_db *db, const vp_db_instance *instance, const vp_db_caller *caller, vp_error *err)
{
        sqlite3_stmt *stmt;
        int r = exec_sql(db, "BEGIN IMMEDIATE", err);

        if (r < 0)
                return r;
        r = prepare(db, &stmt, err,
                    "INSERT INTO instances (name, image, image_name, workspace, created, owner_uid) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    "sssssi", instance->name, instance->image, instance->image_name, instance->workspace,
                    instance->created, (int64_t) instance->owner_uid);
        r = r ?: step_done(db, stmt, NULL, err, "adding instance");
        if (r == -EEXIST)
                vp_error_set(err, r, "instance '%s' already exists", instance->name);
        r = r ?: add_event(db, instance->name, "installed", instance->image, caller, err);
        return commit_or_rollback(db, r, err);
}

int vp_db_remove_instance(vp_db *db, const char *name, bool purged, const vp_db_caller *caller, vp_error *err)
{
        sqlite3_stmt *stmt;
        int changes = 0;
        int r = exec_sql(db, "BEGIN IMMEDIATE", err);

        if (r < 0)
                return r;
        r = prepare(db, &stmt, err, "DELETE FROM instances WHERE name = ?", "s", name);
        r = r ?: step_done(db, stmt, &changes, err, "removing instance");
        if (r == 0 && changes == 0)
                r = vp_error_set(err, -ENOENT, "instance '%s' not found", name);
        r = r ?: add_event(db, name, "uninstalled", purged ? "purged" : "data kept", caller, err);
        return commit_or_rollback(db, r, err);
}

int vp_db_set_state(vp_db *db, const char *name, const char *state, pid_t pid, int exit_status,
                    const char *reason, const vp_db_caller *caller, vp_error *err)
{
        sqlite3_stmt *stmt;
        int changes = 0;
        int64_t now = vp_db_now_ms();
        int r = exec_sql(db, "BEGIN IMMEDIATE", err);

        if (r < 0)
                return r;
        if (strcmp(state, "running") == 0)
                r = prepare(db, &stmt, err,
                            "UPDATE instances SET state = ?, pid = ?, started_ms = ?, stopped_ms = NULL, "
                            "exit_status = NULL, exit_reason = NULL WHERE name = ?",
                            "siis", state, (int64_t) pid, now, name);
        else if (strcmp(state, "stopped") == 0 || strcmp(state, "suspended") == 0)
                r = prepare(db, &stmt, err,
                            "UPDATE instances SET state = ?, pid = NULL, stopped_ms = ?, exit_status = ?, "
                            "exit_reason = ? WHERE name = ?",
                            "sinss", state, now, (int64_t) exit_status, reason, name);
        else
                r = prepare(db, &stmt, err, "UPDATE instances SET state = ? WHERE name = ?", "ss", state, name);
        r = r ?: step_done(db, stmt, &changes, err, "updating state");
        if (r == 0 && changes == 0)
                r = vp_error_set(err, -ENOENT, "instance '%s' not found", name);
        r = r ?: add_event(db, name, state, reason, caller, err);
        return commit_or_rollback(db, r, err);
}

static json_t *column_json(sqlite3_stmt *stmt, int i)
{
        switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
                return json_integer(sqlite3_column_int64(stmt, i));
        case SQLITE_TEXT:
                return json_string((const char *) sqlite3_column_text(stmt, i));
        default:
                return json_null();
        }
}

/* Collect every row of stmt as an object keyed by column name; finalizes stmt. */
static int rows_to_json(vp_db *db, sqlite3_stmt *stmt, json_t **ret, vp_error *err)
{
        json_t *rows = json_array();
        int rc;

        if (!rows) {
                sqlite3_finalize(stmt);
                return vp_error_set(err, -ENOMEM, "out of memory");
        }
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                json_t *row = json_object();
                for (int i = 0; row && i < sqlite3_column_count(stmt); i++)
                        json_object_set_new(row, sqlite3_column_name(stmt, i), column_json(stmt, i));
                if (!row || json_array_append_new(rows, row) < 0) {
                        rc = SQLITE_NOMEM;
                        break;
                }
        }
        if (rc != SQLITE_DONE) {
                int r = db_fail(db, err, "reading");
                sqlite3_finalize(stmt);
                json_decref(rows);
                return r;
        }
        sqlite3_finalize(stmt);
        *ret = rows;
        return 0;
}

#define INSTANCE_COLUMNS                                                                                   \
        "name, image, image_name, workspace, created, owner_uid, state, pid, started_ms, stopped_ms, "    \
        "exit_status, exit_reason"

int vp_db_get_instance(vp_db *db, const char *name, json_t **ret, vp_error *err)
{
        sqlite3_stmt *stmt;
        json_t *rows = NULL;
        int r = prepare(db, &stmt, err, "SELECT " INSTANCE_COLUMNS " FROM instances WHERE name = ?", "s", name);

        r = r ?: rows_to_json(db, stmt, &rows, err);
        if (r < 0)
                return r;
        if (json_array_size(rows) == 0) {
                json_decref(rows);
                return vp_error_set(err, -ENOENT, "instance '%s' not found (run 'vmpack list')", name);
        }
        *ret = json_incref(json_array_get(rows, 0));
        json_decref(rows);
        return 0;
}

int vp_db_list_instances(vp_db *db, json_t **ret, vp_error *err)
{
        sqlite3_stmt *stmt;
        int r = prepare(db, &stmt, err, "SELECT " INSTANCE_COLUMNS " FROM instances ORDER BY name", "");

        return r ?: rows_to_json(db, stmt, ret, err);
}

int vp_db_list_events(vp_db *db, const char *name, unsigned limit, json_t **ret, vp_error *err)
{
        sqlite3_stmt *stmt;
        int r = prepare(db, &stmt, err,
                        "SELECT time_ms, event, detail, caller_uid, caller_pid FROM ("
                        "  SELECT id, time_ms, event, detail, caller_uid, caller_pid FROM events"
                        "  WHERE instance = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
                        "si", name, (int64_t) limit);

        return r ?: rows_to_json(db, stmt, ret, err);
}

int vp_db_audit_add(vp_db *db, const vp_audit_entry *entry, vp_error *err)
{
        _cleanup_free_ char *detail = NULL;
        sqlite3_stmt *stmt;

        if (!entry->action || !entry->action[0] || !entry->decision)
                return vp_error_set(err, -EINVAL, "audit entry without an action or a decision");
        if (strcmp(entry->decision, VP_AUDIT_ALLOW) != 0 && strcmp(entry->decision, VP_AUDIT_DENY) != 0 &&
            strcmp(entry->decision, VP_AUDIT_EVENT) != 0)
                return vp_error_set(err, -EINVAL, "invalid audit decision '%s' (valid: allow, deny, event)",
                                    entry->decision);
        if (entry->detail) {
                detail = json_dumps(entry->detail, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
                if (!detail)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }

        /* An owner_uid of -1 binds NULL, so COALESCE takes the instance row's owner. */
        int r = prepare(db, &stmt, err,
                        "INSERT INTO audit (time_ms, caller_uid, caller_pid, caller_name, instance, owner_uid, "
                        "action, decision, reason, detail) VALUES (?1, ?2, ?3, ?4, ?5, "
                        "COALESCE(?6, (SELECT owner_uid FROM instances WHERE name = ?5)), ?7, ?8, ?9, ?10)",
                        "iiissnssss", entry->time_ms > 0 ? entry->time_ms : vp_db_now_ms(),
                        (int64_t) entry->caller_uid, (int64_t) entry->caller_pid, entry->caller_name,
                        entry->instance, entry->owner_uid, entry->action, entry->decision, entry->reason,
                        detail);
        return r < 0 ? r : step_done(db, stmt, NULL, err, "recording audit entry");
}

/* Replace each row's detail text by the JSON value it encodes. */
static void parse_audit_details(json_t *rows)
{
        size_t i;
        json_t *row;

        json_array_foreach(rows, i, row) {
                const char *text = json_string_value(json_object_get(row, "detail"));
                json_t *value = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
                if (value)
                        json_object_set_new(row, "detail", value);
        }
}

int vp_db_audit_list(vp_db *db, const vp_audit_filter *filter, json_t **ret, vp_error *err)
{
        unsigned limit = filter->limit == 0                ? VP_AUDIT_LIST_DEFAULT
                         : filter->limit > VP_AUDIT_LIST_MAX ? VP_AUDIT_LIST_MAX
                                                             : filter->limit;
        json_t *rows = NULL;
        sqlite3_stmt *stmt;

        int r = prepare(db, &stmt, err,
                        "SELECT id, time_ms, caller_uid, caller_pid, caller_name, instance, owner_uid, action, "
                        "decision, reason, detail FROM ("
                        "  SELECT * FROM audit WHERE time_ms >= ?1"
                        "  AND (?2 IS NULL OR instance = ?2)"
                        "  AND (?3 < 0 OR caller_uid = ?3 OR owner_uid = ?3)"
                        "  ORDER BY id DESC LIMIT ?4) ORDER BY id",
                        "isii", filter->since_ms, filter->instance, filter->visible_to_uid, (int64_t) limit);
        r = r ?: rows_to_json(db, stmt, &rows, err);
        if (r < 0)
                return r;
        parse_audit_details(rows);
        *ret = rows;
        return 0;
}
