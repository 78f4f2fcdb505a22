/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One handler per API method. The decoder (lib/api.c) has already checked every parameter's
 * presence and type, so handlers check only values: names, sizes, state. */
#include "vmpackd.h"

#include "config.h"
#include "instance.h"
#include "manifest.h"
#include "store.h"
#include "vmrun.h"

#include <signal.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define INFO_EVENTS 20
#define LOGS_DEFAULT_BYTES (64 * 1024)
#define LOGS_MAX_BYTES (512 * 1024)

static const char *string_parameter(const vp_api_request *request, const char *name)
{
        return json_string_value(json_object_get(request->parameters, name));
}

/* The "session" parameter of Start and Resume as "NAME=VALUE" strings in *ret, NULL when
 * absent. Only a caller of the daemon's own uid gets its session: the system daemon's
 * QEMU, which runs as root, opens no window in another user's session. Replies with an
 * error and returns false when the parameter is invalid. */
static bool session_parameter(daemon_state *d, connection *c, const vp_api_request *request, char ***ret)
{
        json_t *session = json_object_get(request->parameters, "session");
        vp_error err = {};

        *ret = NULL;
        if (!session || json_is_null(session) || c->peer.uid != d->uid)
                return true;
        if (vp_api_session_to_strv(session, ret, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_INVALID_PARAMETER, err.message);
                return false;
        }
        return true;
}

static vp_db_caller caller_of(const connection *c)
{
        return (vp_db_caller) { .uid = c->peer.uid, .pid = c->peer.pid };
}

/* Map a library error to an API error name. */
static const char *error_name(int code)
{
        switch (code) {
        case -ENOENT:
                return VP_API_ERROR_INSTANCE_NOT_FOUND;
        case -EEXIST:
                return VP_API_ERROR_INSTANCE_EXISTS;
        case -EINVAL:
                return VP_API_ERROR_INVALID_PARAMETER;
        case -EPERM:
        case -EACCES:
                return VP_API_ERROR_PERMISSION_DENIED;
        default:
                return VP_API_ERROR_FAILED;
        }
}

/* Reply to a failed operation. -ENOENT here means a missing file or program, not a missing
 * instance, so it maps to Failed. */
static void reply_failure(connection *c, const char *instance, const char *method, const vp_error *err)
{
        log_message(instance, "%s for uid %u failed: %s", method, c->peer.uid, err->message);
        server_reply_error(c, err->code == -ENOENT ? VP_API_ERROR_FAILED : error_name(err->code), err->message);
}

json_t *methods_instance_json(daemon_state *d, const char *name)
{
        json_t *object = NULL;
        vp_error err = {};

        if (vp_db_get_instance(d->db, name, &object, &err) < 0)
                return NULL;
        instance_run *run = supervise_find(d, name);
        if (run)
                supervise_describe(run, object);
        return object;
}

/* Look the instance up and check that the caller may call method on it: its owner or an
 * administrator (see lib/role.h). Replies with an error, and records a denial in the audit
 * log, and returns NULL otherwise. */
static json_t *authorize(daemon_state *d, connection *c, const char *method, const char *name)
{
        json_t *object = NULL;
        vp_error err = {};

        if (vp_db_get_instance(d->db, name, &object, &err) < 0) {
                server_reply_error(c, error_name(err.code), err.message);
                return NULL;
        }
        uid_t owner = (uid_t) json_integer_value(json_object_get(object, "owner_uid"));
        if (!audit_check_owner(d, c, method, name, owner)) {
                json_decref(object);
                return NULL;
        }
        return object;
}

static bool is_suspended(json_t *object)
{
        const char *state = json_string_value(json_object_get(object, "state"));

        return state && strcmp(state, "suspended") == 0;
}

/* Delete a suspended instance's saved state and mark it stopped, with why in the events. */
static int discard_saved_state(daemon_state *d, const char *name, const char *action, const vp_db_caller *caller,
                               vp_error *err)
{
        _cleanup_free_ char *state_path = vp_instance_path(name, VP_INSTANCE_STATE_FILE);
        _cleanup_free_ char *reason = vp_strdup_printf("saved state discarded by %s from uid %u (pid %d)", action,
                                                       caller->uid, caller->pid);

        if (!state_path || !reason)
                return vp_error_set(err, -ENOMEM, "out of memory");
        int r = vp_run_discard_state(state_path, err);
        if (r < 0)
                return r;
        log_message(name, "%s", reason);
        return vp_db_set_state(d->db, name, "stopped", 0, -1, reason, caller, err);
}

static void method_get_info(daemon_state *d, connection *c, const vp_api_request *request)
{
        json_t *reply = json_pack("{s:s, s:s, s:i, s:i}", "version", VP_VERSION, "mode",
                                  d->system_mode ? "system" : "session", "pid", (int) getpid(), "uid",
                                  (int) d->uid);

        server_reply(c, reply);
        json_decref(reply);
}

static void method_install(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        const char *image_name = string_parameter(request, "image");
        const char *workspace = string_parameter(request, "workspace");
        json_t *data_size = json_object_get(request->parameters, "data_size");
        _cleanup_image_ vp_image *image = NULL;
        vp_db_caller caller = caller_of(c);
        bool reused = false;
        vp_error err = {};
        char message[512];

        if (!vp_instance_name_valid(name)) {
                snprintf(message, sizeof(message),
                         "invalid instance name '%.100s' (1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter "
                         "or digit)",
                         name);
                server_reply_error(c, VP_API_ERROR_INVALID_PARAMETER, message);
                return;
        }
        if (workspace && !vp_instance_name_valid(workspace)) {
                snprintf(message, sizeof(message), "invalid workspace name '%.100s' (same rule as instance names)",
                         workspace);
                server_reply_error(c, VP_API_ERROR_INVALID_PARAMETER, message);
                return;
        }
        json_t *existing = NULL;
        if (vp_db_get_instance(d->db, name, &existing, &err) == 0) {
                json_decref(existing);
                snprintf(message, sizeof(message), "instance '%s' already exists (see 'vmpack info %s')", name,
                         name);
                server_reply_error(c, VP_API_ERROR_INSTANCE_EXISTS, message);
                return;
        }
        if (vp_store_find_image(image_name, &image, &err) < 0) {
                server_reply_error(c, err.code == -ENOENT ? VP_API_ERROR_IMAGE_NOT_FOUND : VP_API_ERROR_FAILED,
                                   err.message);
                return;
        }
        if (!grant_check_install(d, c, name, workspace, image))
                return;

        vp_instance_create_options options = {
                .name = name,
                .image_digest = image->digest,
                .image_name = image->name,
                .workspace = workspace,
                .data_size = data_size ? (uint64_t) json_integer_value(data_size) : 0,
                .owner_uid = VP_RUN_GUEST_UID,
        };
        json_t *metadata = NULL;
        if (vp_instance_create(&options, &reused, &metadata, &err) < 0) {
                reply_failure(c, name, "Install", &err);
                return;
        }

        vp_db_instance row = {
                .name = name,
                .image = image->digest,
                .image_name = image->name,
                .workspace = json_string_value(json_object_get(metadata, "workspace")),
                .created = json_string_value(json_object_get(metadata, "created")),
                .owner_uid = c->peer.uid,
        };
        int r = vp_db_add_instance(d->db, &row, &caller, &err);
        json_decref(metadata);
        if (r < 0) {
                vp_error ignored = {};
                vp_instance_remove(name, false, &ignored);
                reply_failure(c, name, "Install", &err);
                return;
        }

        log_message(name, "installed from image %s (%.12s) for uid %u%s", image->name ? image->name : "-",
                    image->digest, c->peer.uid, reused ? ", reusing its kept data volume" : "");
        json_t *detail = json_pack("{s:s?, s:s, s:s?, s:b}", "image", image->name, "digest", image->digest,
                                   "workspace", workspace, "reused_data", reused);
        audit_allow(d, c, "Install", name, NULL, detail);
        json_decref(detail);
        json_t *object = methods_instance_json(d, name);
        json_t *reply = json_pack("{s:o, s:b}", "instance", object ? object : json_null(), "reused_data", reused);
        server_reply(c, reply);
        json_decref(reply);
}

/* Purge the data volume that an uninstall without purge kept, when no instance has the
 * name. Its owner is not recorded, so only administrators may do this. Returns true when
 * it replied. */
static bool purge_kept_data(daemon_state *d, connection *c, const char *name)
{
        _cleanup_free_ char *data_path = vp_instance_path(name, "data.qcow2");
        _cleanup_free_ char *directory = vp_instance_path(name, NULL);
        json_t *existing = NULL;
        vp_error err = {};

        if (!vp_instance_name_valid(name) || !data_path || !directory || access(data_path, F_OK) < 0)
                return false;
        if (vp_db_get_instance(d->db, name, &existing, &err) == 0) {
                json_decref(existing);
                return false;
        }
        if (c->role != VP_ROLE_ADMIN) {
                audit_deny(d, c, "Uninstall", name, NULL,
                           "uid %u (%s) may not purge the kept data of uninstalled instance '%s': only members "
                           "of group %s may, because the data's owner is no longer recorded",
                           c->peer.uid, c->user_name ? c->user_name : "no passwd entry", name,
                           VP_ROLE_GROUP_ADMINS);
                return true;
        }
        json_t *detail = json_pack("{s:b, s:b}", "purge", true, "kept_data_only", true);
        audit_allow(d, c, "Uninstall", name, NULL, detail);
        json_decref(detail);
        if (vp_rm_rf(directory, &err) < 0) {
                reply_failure(c, name, "Uninstall", &err);
                return true;
        }
        log_message(name, "kept data purged by uid %u", c->peer.uid);
        json_t *reply = json_pack("{s:b}", "purged", true);
        server_reply(c, reply);
        json_decref(reply);
        return true;
}

static void method_uninstall(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        bool purge = json_is_true(json_object_get(request->parameters, "purge"));
        vp_db_caller caller = caller_of(c);
        vp_error err = {};
        char message[256];

        if (purge && purge_kept_data(d, c, name))
                return;
        json_t *object = authorize(d, c, "Uninstall", name);
        if (!object)
                return;
        _cleanup_free_ char *digest = strdup(json_string_value(json_object_get(object, "image")) ?: "");
        bool suspended = is_suspended(object);
        json_decref(object);
        if (supervise_find(d, name)) {
                snprintf(message, sizeof(message), "instance '%s' is running: run 'vmpack stop %s' first", name,
                         name);
                server_reply_error(c, VP_API_ERROR_INSTANCE_RUNNING, message);
                return;
        }
        json_t *detail = json_pack("{s:b}", "purge", purge);
        audit_allow(d, c, "Uninstall", name, NULL, detail);
        json_decref(detail);
        if (suspended && discard_saved_state(d, name, "Uninstall", &caller, &err) < 0) {
                reply_failure(c, name, "Uninstall", &err);
                return;
        }
        if (vp_db_remove_instance(d->db, name, purge, &caller, &err) < 0 ||
            vp_instance_remove(name, purge, &err) < 0) {
                reply_failure(c, name, "Uninstall", &err);
                return;
        }
        log_message(name, "uninstalled by uid %u (%s)", c->peer.uid, purge ? "data purged" : "data kept");

        /* An image that lost its last name while this instance used it goes with its last user. */
        if (digest && digest[0] && vp_store_release_image(digest, &err) < 0)
                log_message(name, "releasing image %.12s failed: %s", digest, err.message);
        json_t *reply = json_pack("{s:b}", "purged", purge);
        server_reply(c, reply);
        json_decref(reply);
}

static void method_list(daemon_state *d, connection *c, const vp_api_request *request, bool running_only)
{
        json_t *instances = NULL, *item, *out = json_array();
        vp_error err = {};
        size_t i;

        if (!out || vp_db_list_instances(d->db, &instances, &err) < 0) {
                json_decref(out);
                reply_failure(c, NULL, "List", &err);
                return;
        }
        json_array_foreach(instances, i, item) {
                const char *name = json_string_value(json_object_get(item, "name"));
                uid_t owner = (uid_t) json_integer_value(json_object_get(item, "owner_uid"));
                if (!vp_role_may_act_on(c->role, c->peer.uid, owner))
                        continue;
                instance_run *run = supervise_find(d, name);
                if (running_only && !run)
                        continue;
                if (run)
                        supervise_describe(run, item);
                json_array_append(out, item);
        }
        json_decref(instances);
        json_t *reply = json_pack("{s:o}", "instances", out);
        server_reply(c, reply);
        json_decref(reply);
}

static void method_info(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        _cleanup_free_ char *directory = vp_instance_path(name, NULL);
        _cleanup_free_ char *data_path = vp_instance_path(name, "data.qcow2");
        json_t *events = NULL;
        vp_error err = {};
        struct stat st;

        json_t *object = authorize(d, c, "Info", name);
        if (!object)
                return;
        instance_run *run = supervise_find(d, name);
        if (run)
                supervise_describe(run, object);
        if (vp_db_list_events(d->db, name, INFO_EVENTS, &events, &err) < 0)
                log_message(name, "Info: %s", err.message);
        json_object_set_new(object, "events", events ? events : json_array());
        json_object_set_new(object, "directory", directory ? json_string(directory) : json_null());
        json_object_set_new(object, "data_path", data_path ? json_string(data_path) : json_null());
        json_object_set_new(object, "data_allocated_bytes",
                            data_path && stat(data_path, &st) == 0 ? json_integer((json_int_t) st.st_blocks * 512)
                                                                   : json_null());
        json_t *reply = json_pack("{s:o}", "instance", object);
        server_reply(c, reply);
        json_decref(reply);
}

/* Build the app's argv: the entrypoint or the image's Exec, with each argument that names a
 * shared file replaced by its guest path. Files not named in arguments are appended. */
static int make_app_argv(json_t *metadata, const vp_api_request *request, char ***ret_argv, char ***ret_files,
                         vp_error *err)
{
        const char *entrypoint = string_parameter(request, "entrypoint");
        json_t *arguments = json_object_get(request->parameters, "arguments");
        json_t *files = json_object_get(request->parameters, "files");
        _cleanup_strv_free_ char **shared = strv_new();
        _cleanup_strv_free_ char **args = strv_new();
        _cleanup_strv_free_ char **exec = strv_new();
        size_t i;
        json_t *item;

        if (!shared || !args || !exec)
                return vp_error_set(err, -ENOMEM, "out of memory");

        json_array_foreach(files, i, item) {
                const char *path = json_string_value(item);
                struct stat st;
                if (path[0] != '/')
                        return vp_error_set(err, -EINVAL, "file '%s' must be an absolute path", path);
                if (stat(path, &st) < 0)
                        return vp_error_set(err, -EINVAL, "file %s: %s", path, strerror(errno));
                if (!S_ISREG(st.st_mode))
                        return vp_error_set(err, -EINVAL, "file %s is not a regular file", path);
                if (strv_extend(&shared, path) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }

        bool *used = calloc(strv_length(shared) + 1, sizeof(bool));
        if (!used)
                return vp_error_set(err, -ENOMEM, "out of memory");
        json_array_foreach(arguments, i, item) {
                const char *argument = json_string_value(item);
                char *value = NULL;
                for (size_t j = 0; shared[j] && !value; j++)
                        if (strcmp(shared[j], argument) == 0) {
                                value = vp_run_guest_file_path(j, shared[j]);
                                used[j] = true;
                        }
                if (!value)
                        value = strdup(argument);
                if (!value || strv_push(&args, value) < 0) {
                        free(used);
                        return vp_error_set(err, -ENOMEM, "out of memory");
                }
        }
        for (size_t j = 0; shared[j]; j++) {
                char *value = used[j] ? NULL : vp_run_guest_file_path(j, shared[j]);
                if (!used[j] && (!value || strv_push(&args, value) < 0)) {
                        free(used);
                        return vp_error_set(err, -ENOMEM, "out of memory");
                }
        }
        free(used);

        if (entrypoint) {
                _cleanup_strv_free_ char **argv = strv_new();
                if (!argv || strv_extend(&argv, entrypoint) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                STRV_FOREACH(a, args)
                        if (strv_extend(&argv, *a) < 0)
                                return vp_error_set(err, -ENOMEM, "out of memory");
                *ret_argv = TAKE_PTR(argv);
                *ret_files = TAKE_PTR(shared);
                return 0;
        }

        json_array_foreach(json_object_get(metadata, "exec"), i, item)
                if (!json_is_string(item) || strv_extend(&exec, json_string_value(item)) < 0)
                        return vp_error_set(err, -EINVAL, "image.json: \"exec\" must be an array of strings");
        if (!exec[0])
                return vp_error_set(err, -EINVAL, "the image has no Exec command: pass an entrypoint "
                                                  "('vmpack start --entrypoint PROGRAM')");
        int r = vp_exec_expand(exec, args, ret_argv, err);
        if (r < 0)
                return r;
        *ret_files = TAKE_PTR(shared);
        return 0;
}

static void method_start(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        _cleanup_free_ char *data_path = vp_instance_path(name, "data.qcow2");
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_strv_free_ char **session = NULL;
        _cleanup_image_ vp_image *image = NULL;
        vp_db_caller caller = caller_of(c);
        instance_grant grant = {};
        instance_run *run = NULL;
        vp_error err = {};
        char message[512];

        if (!session_parameter(d, c, request, &session))
                return;
        json_t *object = authorize(d, c, "Start", name);
        if (!object)
                return;
        const char *digest = json_string_value(json_object_get(object, "image"));
        if (supervise_find(d, name)) {
                snprintf(message, sizeof(message), "instance '%s' is already running", name);
                server_reply_error(c, VP_API_ERROR_INSTANCE_RUNNING, message);
                goto out;
        }
        if (is_suspended(object)) {
                snprintf(message, sizeof(message),
                         "instance '%s' is suspended: resume it with 'vmpack resume %s', or discard its saved "
                         "state with 'vmpack stop %s' and start it again",
                         name, name, name);
                server_reply_error(c, VP_API_ERROR_INSTANCE_SUSPENDED, message);
                goto out;
        }
        /* NOTE: the root daemon cannot tell whether the caller may read a host file, so in
         * system mode only root and the daemon's user may share files. */
        if (json_array_size(json_object_get(request->parameters, "files")) > 0 && c->peer.uid != d->uid &&
            c->peer.uid != 0) {
                audit_deny(d, c, "Start", name, json_object_get(request->parameters, "files"),
                           "uid %u may not share host files through the system daemon: only root may, "
                           "until the daemon can check that the caller may read them",
                           c->peer.uid);
                goto out;
        }
        if (vp_store_find_image(digest, &image, &err) < 0) {
                snprintf(message, sizeof(message), "image %.12s of instance '%s' is not in the store (%s): "
                         "reinstall the instance from an existing image",
                         digest, name, err.message);
                server_reply_error(c, VP_API_ERROR_IMAGE_NOT_FOUND, message);
                goto out;
        }
        if (make_app_argv(image->metadata, request, &argv, &files, &err) < 0) {
                reply_failure(c, name, "Start", &err);
                goto out;
        }
        if (!grant_for_instance(d, c, "Start", object, image, &grant))
                goto out;
        supervise_spec spec = {
                .rootfs_path = image->rootfs_path,
                .data_path = data_path,
                .argv = argv,
                .files = files,
                .session = session,
        };
        grant_apply(&grant, &spec);
        json_object_set(grant.detail, "request", request->parameters);
        audit_allow(d, c, "Start", name, NULL, grant.detail);
        if (supervise_start(d, name, &spec, &run, &err) < 0) {
                reply_failure(c, name, "Start", &err);
                goto out;
        }
        if (vp_db_set_state(d->db, name, "running", run->pid, -1, NULL, &caller, &err) < 0)
                log_message(name, "recording the start failed: %s", err.message);
        supervise_release(run);

        json_t *instance = methods_instance_json(d, name);
        json_t *notes = json_array();
        STRV_FOREACH(note, grant.notes)
                json_array_append_new(notes, json_string(*note));
        json_t *reply = json_pack("{s:o, s:o}", "instance", instance ? instance : json_null(), "notes",
                                  notes ? notes : json_array());
        server_reply(c, reply);
        json_decref(reply);
out:
        instance_grant_clear(&grant);
        json_decref(object);
}

/* Stop and Kill reply when the VM has ended: the connection waits on the run. */
static void method_stop(daemon_state *d, connection *c, const vp_api_request *request, bool force)
{
        const char *name = string_parameter(request, "name");
        json_t *timeout = json_object_get(request->parameters, "timeout");
        vp_db_caller caller = caller_of(c);
        char message[256];

        json_t *object = authorize(d, c, force ? "Kill" : "Stop", name);
        if (!object)
                return;
        bool suspended = is_suspended(object);
        json_decref(object);
        instance_run *run = supervise_find(d, name);
        if (!run && suspended) {
                vp_error err = {};
                audit_allow(d, c, force ? "Kill" : "Stop", name, NULL, request->parameters);
                if (discard_saved_state(d, name, force ? "Kill" : "Stop", &caller, &err) < 0) {
                        reply_failure(c, name, force ? "Kill" : "Stop", &err);
                        return;
                }
                json_t *instance = methods_instance_json(d, name);
                json_t *reply = json_pack("{s:o}", "instance", instance ? instance : json_null());
                server_reply(c, reply);
                json_decref(reply);
                return;
        }
        if (!run) {
                snprintf(message, sizeof(message), "instance '%s' is not running", name);
                server_reply_error(c, VP_API_ERROR_INSTANCE_NOT_RUNNING, message);
                return;
        }
        if (timeout && (json_integer_value(timeout) < 1 || json_integer_value(timeout) > 3600)) {
                server_reply_error(c, VP_API_ERROR_INVALID_PARAMETER, "Stop: timeout must be 1 to 3600 seconds");
                return;
        }
        if (run->n_waiters >= MAX_CONNECTIONS) {
                server_reply_error(c, VP_API_ERROR_FAILED, "too many clients wait for this instance");
                return;
        }
        if (!force && run->pending != PENDING_NONE) {
                snprintf(message, sizeof(message), "instance '%s' is being %s: wait for that to finish, or use "
                         "'vmpack kill %s'", name, run->pending == PENDING_SUSPEND ? "suspended" : "resumed", name);
                server_reply_error(c, VP_API_ERROR_FAILED, message);
                return;
        }

        audit_allow(d, c, force ? "Kill" : "Stop", name, NULL, request->parameters);
        if (force)
                supervise_kill(d, run, &caller);
        else
                supervise_stop(d, run, timeout ? (unsigned) json_integer_value(timeout) : STOP_DEFAULT_TIMEOUT_S,
                               &caller);
        run->waiters[run->n_waiters++] = c;
        c->waiting = true;
}

/* Suspend replies when the state is saved and QEMU has ended, or when saving failed and
 * the VM runs on. */
static void method_suspend(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        vp_db_caller caller = caller_of(c);
        char message[512];

        json_t *object = authorize(d, c, "Suspend", name);
        if (!object)
                return;
        bool suspended = is_suspended(object);
        json_decref(object);
        instance_run *run = supervise_find(d, name);
        if (!run) {
                snprintf(message, sizeof(message), "instance '%s' is %s", name,
                         suspended ? "already suspended" : "not running");
                server_reply_error(c, suspended ? VP_API_ERROR_INSTANCE_SUSPENDED : VP_API_ERROR_INSTANCE_NOT_RUNNING,
                                   message);
                return;
        }
        if (run->result_fd < 0) {
                snprintf(message, sizeof(message), "instance '%s' was re-adopted after a vmpackd restart and cannot "
                         "report a suspend: stop it and start it again", name);
                server_reply_error(c, VP_API_ERROR_FAILED, message);
                return;
        }
        if (run->stop_stage > 0 || run->pending != PENDING_NONE) {
                snprintf(message, sizeof(message), "instance '%s' is %s", name,
                         run->stop_stage > 0 ? "stopping" : run->pending == PENDING_SUSPEND ? "already being suspended"
                                                                                          : "being resumed");
                server_reply_error(c, VP_API_ERROR_FAILED, message);
                return;
        }
        if (run->n_waiters >= MAX_CONNECTIONS) {
                server_reply_error(c, VP_API_ERROR_FAILED, "too many clients wait for this instance");
                return;
        }
        audit_allow(d, c, "Suspend", name, NULL, NULL);
        supervise_suspend(d, run, &caller);
        run->waiters[run->n_waiters++] = c;
        c->waiting = true;
}

/* Resume replies once the guest runs again, or with the reason it could not. */
static void method_resume(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        _cleanup_free_ char *data_path = vp_instance_path(name, "data.qcow2");
        _cleanup_free_ char *state_path = vp_instance_path(name, VP_INSTANCE_STATE_FILE);
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_strv_free_ char **session = NULL;
        _cleanup_image_ vp_image *image = NULL;
        vp_db_caller caller = caller_of(c);
        instance_grant grant = {};
        instance_run *run = NULL;
        vp_error err = {};
        char message[512];

        if (!session_parameter(d, c, request, &session))
                return;
        json_t *object = authorize(d, c, "Resume", name);
        if (!object)
                return;
        const char *digest = json_string_value(json_object_get(object, "image"));
        if (supervise_find(d, name)) {
                snprintf(message, sizeof(message), "instance '%s' is running", name);
                server_reply_error(c, VP_API_ERROR_INSTANCE_RUNNING, message);
                goto out;
        }
        if (!is_suspended(object)) {
                snprintf(message, sizeof(message), "instance '%s' is not suspended: start it with 'vmpack start %s'",
                         name, name);
                server_reply_error(c, VP_API_ERROR_INSTANCE_NOT_RUNNING, message);
                goto out;
        }
        if (!data_path || !state_path) {
                server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                goto out;
        }
        if (vp_store_find_image(digest, &image, &err) < 0) {
                snprintf(message, sizeof(message), "image %.12s of suspended instance '%s' is not in the store (%s): "
                         "discard the saved state with 'vmpack stop %s'",
                         digest, name, err.message, name);
                server_reply_error(c, VP_API_ERROR_IMAGE_NOT_FOUND, message);
                goto out;
        }
        /* The policy may have changed since the suspend: the saved VM runs on only if it
         * would still get what it had. */
        if (!grant_for_instance(d, c, "Resume", object, image, &grant))
                goto out;
        if (vp_run_read_saved_app(state_path, &argv, &files, &err) < 0) {
                vp_error_prefix(&err, "saved state of instance '%s' (discard it with 'vmpack stop %s')", name, name);
                reply_failure(c, name, "Resume", &err);
                goto out;
        }
        supervise_spec spec = {
                .rootfs_path = image->rootfs_path,
                .data_path = data_path,
                .argv = argv,
                .files = files[0] ? files : NULL,
                .resume = true,
                .session = session,
        };
        grant_apply(&grant, &spec);
        audit_allow(d, c, "Resume", name, NULL, grant.detail);
        if (supervise_start(d, name, &spec, &run, &err) < 0) {
                reply_failure(c, name, "Resume", &err);
                goto out;
        }
        if (vp_db_set_state(d->db, name, "running", run->pid, -1, "resumed", &caller, &err) < 0)
                log_message(name, "recording the resume failed: %s", err.message);
        supervise_release(run);
        run->waiters[run->n_waiters++] = c;
        c->waiting = true;
out:
        instance_grant_clear(&grant);
        json_decref(object);
}

/* Replace bytes that are not valid UTF-8, and NUL, with '?', because JSON strings must be
 * UTF-8 and NUL frames our messages. */
static void sanitize_utf8(unsigned char *s, size_t size)
{
        for (size_t i = 0; i < size;) {
                unsigned char b = s[i];
                size_t length = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
                bool valid = length > 0 && i + length <= size && b != 0 && b != 0xc0 && b != 0xc1 && b < 0xf5;
                for (size_t k = 1; valid && k < length; k++)
                        valid = (s[i + k] & 0xc0) == 0x80;
                if (!valid) {
                        s[i++] = '?';
                        continue;
                }
                i += length;
        }
}

static void method_logs(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        json_t *offset_value = json_object_get(request->parameters, "offset");
        json_t *max_value = json_object_get(request->parameters, "max_bytes");
        _cleanup_free_ char *path = vp_instance_path(name, "app.log");
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        json_t *object = authorize(d, c, "Logs", name);
        if (!object)
                return;
        json_decref(object);
        instance_run *run = supervise_find(d, name);
        if (run)
                supervise_read_output(d, run);

        uint64_t offset = offset_value ? (uint64_t) json_integer_value(offset_value) : 0;
        uint64_t max = max_value ? (uint64_t) json_integer_value(max_value) : LOGS_DEFAULT_BYTES;
        if (max == 0 || max > LOGS_MAX_BYTES)
                max = LOGS_MAX_BYTES;

        fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        uint64_t size = fd >= 0 && fstat(fd, &st) == 0 ? (uint64_t) st.st_size : 0;
        /* The log was rotated or truncated since the caller's offset: start over. */
        bool restarted = offset > size;
        if (restarted)
                offset = 0;
        uint64_t length = size - offset < max ? size - offset : max;
        text = malloc(length + 1);
        if (!text) {
                server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                return;
        }
        ssize_t n = length > 0 ? pread(fd, text, length, (off_t) offset) : 0;
        if (n < 0)
                n = 0;
        sanitize_utf8((unsigned char *) text, (size_t) n);

        json_t *reply = json_pack("{s:s%, s:I, s:I, s:b, s:b}", "text", text, (size_t) n, "offset",
                                  (json_int_t) (offset + (uint64_t) n), "size", (json_int_t) size, "running",
                                  run != NULL, "restarted", restarted);
        server_reply(c, reply);
        json_decref(reply);
}

/* Room left in a reply for everything but the entries. */
#define AUDIT_REPLY_MARGIN 4096

/* Without options or reset, Override only reads the stored override; that is not audited. */
static void method_override(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *name = string_parameter(request, "name");
        json_t *options = json_object_get(request->parameters, "options");
        bool reset = json_is_true(json_object_get(request->parameters, "reset"));
        _cleanup_image_ vp_image *image = NULL;
        json_t *args = NULL;
        vp_error err = {};
        bool ok;

        json_t *object = authorize(d, c, "Override", name);
        if (!object)
                return;
        if (json_array_size(options) == 0 && !reset)
                ok = grant_get_override(c, name, &args);
        else if (vp_store_find_image(json_string_value(json_object_get(object, "image")), &image, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_IMAGE_NOT_FOUND, err.message);
                ok = false;
        } else
                ok = grant_set_override(d, c, name, object, image, options, reset, &args);
        if (ok) {
                json_t *reply = json_pack("{s:o}", "override", args);
                server_reply(c, reply);
                json_decref(reply);
        }
        json_decref(object);
}

static void method_audit(daemon_state *d, connection *c, const vp_api_request *request)
{
        json_t *since = json_object_get(request->parameters, "since_ms");
        json_t *limit = json_object_get(request->parameters, "limit");
        const char *instance = string_parameter(request, "instance");
        json_t *entries = NULL;
        vp_error err = {};
        char message[256];

        if (limit && (json_integer_value(limit) < 1 || json_integer_value(limit) > VP_AUDIT_LIST_MAX)) {
                snprintf(message, sizeof(message), "Audit: limit must be 1 to %d", VP_AUDIT_LIST_MAX);
                server_reply_error(c, VP_API_ERROR_INVALID_PARAMETER, message);
                return;
        }
        if (instance && !vp_instance_name_valid(instance)) {
                snprintf(message, sizeof(message), "Audit: invalid instance name '%.100s'", instance);
                server_reply_error(c, VP_API_ERROR_INVALID_PARAMETER, message);
                return;
        }
        /* Users read the entries they caused and those about their instances. */
        vp_audit_filter filter = {
                .since_ms = since ? json_integer_value(since) : 0,
                .instance = instance,
                .visible_to_uid = c->role == VP_ROLE_ADMIN ? -1 : (int64_t) c->peer.uid,
                .limit = limit ? (unsigned) json_integer_value(limit) : VP_AUDIT_LIST_DEFAULT,
        };
        if (vp_db_audit_list(d->db, &filter, &entries, &err) < 0) {
                reply_failure(c, NULL, "Audit", &err);
                return;
        }

        /* Keep the newest entries that fit in one message, sized as server_reply() encodes them. */
        size_t total = 0, first = json_array_size(entries);
        while (first > 0) {
                size_t size = json_dumpb(json_array_get(entries, first - 1), NULL, 0, JSON_COMPACT) + 1;
                if (total + size > VP_API_MESSAGE_MAX - AUDIT_REPLY_MARGIN)
                        break;
                total += size;
                first--;
        }
        json_t *kept = json_array();
        for (size_t i = first; kept && i < json_array_size(entries); i++)
                json_array_append(kept, json_array_get(entries, i));
        json_decref(entries);
        if (!kept) {
                server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                return;
        }

        json_t *reply = json_pack("{s:o, s:b}", "entries", kept, "truncated", first > 0);
        server_reply(c, reply);
        json_decref(reply);
}

void methods_dispatch(daemon_state *d, connection *c, const vp_api_request *request)
{
        const char *m = request->method;

        if (!audit_identify(d, c) || !audit_check_method(d, c, m))
                return;
        if (strcmp(m, "GetInfo") == 0)
                method_get_info(d, c, request);
        else if (strcmp(m, "Install") == 0)
                method_install(d, c, request);
        else if (strcmp(m, "Uninstall") == 0)
                method_uninstall(d, c, request);
        else if (strcmp(m, "List") == 0)
                method_list(d, c, request, false);
        else if (strcmp(m, "Info") == 0)
                method_info(d, c, request);
        else if (strcmp(m, "Start") == 0)
                method_start(d, c, request);
        else if (strcmp(m, "Stop") == 0)
                method_stop(d, c, request, false);
        else if (strcmp(m, "Kill") == 0)
                method_stop(d, c, request, true);
        else if (strcmp(m, "Suspend") == 0)
                method_suspend(d, c, request);
        else if (strcmp(m, "Resume") == 0)
                method_resume(d, c, request);
        else if (strcmp(m, "Ps") == 0)
                method_list(d, c, request, true);
        else if (strcmp(m, "Logs") == 0)
                method_logs(d, c, request);
        else if (strcmp(m, "Override") == 0)
                method_override(d, c, request);
        else if (strcmp(m, "Audit") == 0)
                method_audit(d, c, request);
        else
                server_reply_error(c, VP_API_ERROR_METHOD_NOT_FOUND, "method not implemented");
}
