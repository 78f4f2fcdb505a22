/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy at the points where an instance gets something. Install checks that the workspace
 * exists and allows the image and the owner. At Start and Resume the effective grant decides
 * the VM's devices, network, resources and folders, and any denial rejects the start.
 * Override lets an owner narrow what the recipe requests.
 *
 * The policy files are read again for every such request, so an administrator's edit
 * takes effect at the next start without a reload command. The digest of the files read is
 * compared with the last one seen, and a change is recorded in the audit log.
 */
#include "vmpackd.h"

#include "instance.h"
#include "share.h"

#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#define OVERRIDE_FILE "override.json"

/* Read the policy. A broken policy grants nothing: reply PermissionDenied and return NULL.
 * Records "policy-loaded" at the daemon's first read and "policy-changed" when the
 * files' digest differs from the last read. */
static vp_policy *load_policy(daemon_state *d, connection *c, const char *action, const char *instance)
{
        _cleanup_free_ char *directory = vp_policy_directory(d->system_mode);
        vp_policy *policy = NULL;
        vp_error err = {};

        if (!directory) {
                server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                return NULL;
        }
        if (vp_policy_load(directory, &policy, &err) < 0) {
                audit_deny(d, c, action, instance, NULL,
                           "the policy is invalid, so nothing is granted: %s (an administrator can run "
                           "'vmpack policy check')",
                           err.message);
                return NULL;
        }

        const char *digest = vp_policy_digest(policy);
        if (!d->policy_digest || strcmp(d->policy_digest, digest) != 0) {
                json_t *detail = json_pack("{s:s, s:s, s:b}", "directory", directory, "digest", digest, "builtin",
                                           vp_policy_is_builtin(policy));
                json_t *files = json_array();
                for (char *const *f = vp_policy_files(policy); f && *f; f++)
                        json_array_append_new(files, json_string(*f));
                if (detail)
                        json_object_set_new(detail, "files", files);
                else
                        json_decref(files);
                audit_event(d, NULL, NULL, d->policy_digest ? "policy-changed" : "policy-loaded",
                            vp_policy_is_builtin(policy) ? "no policy directory: the built-in policy applies" : NULL,
                            detail);
                json_decref(detail);
                free(d->policy_digest);
                d->policy_digest = strdup(digest);
        }
        return policy;
}

/* The override an instance's owner set, or NULL when there is none. */
static int load_override(const char *name, vp_override **ret, vp_error *err)
{
        _cleanup_free_ char *path = vp_instance_path(name, OVERRIDE_FILE);
        json_error_t json_error;

        *ret = NULL;
        if (!path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        json_t *json = json_load_file(path, 0, &json_error);
        if (!json) {
                if (access(path, F_OK) < 0 && errno == ENOENT)
                        return 0;
                return vp_error_set(err, -EINVAL, "%s: %s (line %d)", path, json_error.text, json_error.line);
        }
        int r = vp_override_from_json(json, ret, err);
        json_decref(json);
        if (r < 0)
                return vp_error_prefix(err, "%s", path);
        return 0;
}

/* The image's request: its permissions, CPUs and memory from image.json. */
static int read_request(json_t *metadata, vp_permissions *ret_ask, unsigned *ret_cpus, uint64_t *ret_memory,
                        vp_error *err)
{
        json_t *resources = json_object_get(metadata, "resources");
        json_t *cpus = json_object_get(resources, "cpus");
        json_t *memory = json_object_get(resources, "memory_bytes");

        *ret_cpus = json_is_integer(cpus) && json_integer_value(cpus) > 0 ? (unsigned) json_integer_value(cpus) : 0;
        *ret_memory = json_is_integer(memory) && json_integer_value(memory) > 0
                              ? (uint64_t) json_integer_value(memory)
                              : 0;
        int r = vp_permissions_from_json(json_object_get(metadata, "permissions"), ret_ask, err);
        if (r < 0)
                return vp_error_prefix(err, "image.json");
        return 0;
}

static json_t *denials_json(const vp_grant *grant)
{
        json_t *json = vp_grant_to_json(grant);
        json_t *denials = json_incref(json_object_get(json, "denials"));

        json_decref(json);
        return denials;
}

bool grant_check_install(daemon_state *d, connection *c, const char *name, const char *workspace,
                         const vp_image *image)
{
        _cleanup_policy_ vp_policy *policy = load_policy(d, c, "Install", name);
        vp_permissions ask = {};
        vp_grant grant = {};
        unsigned cpus;
        uint64_t memory;
        vp_error err = {};
        bool ok = false;

        if (!policy)
                return false;
        if (read_request(image->metadata, &ask, &cpus, &memory, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                return false;
        }
        vp_grant_request request = {
                .workspace = workspace,
                .image = image->name,
                .uid = c->peer.uid,
                .ask = &ask,
                .cpus = cpus,
                .memory_bytes = memory,
        };
        if (vp_grant_compute(policy, &request, &grant, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                goto out;
        }
        /* Install rejects only the workspace, the image and the user. Permissions, the
         * display included, are decided at each start under the policy of that time. */
        for (size_t i = 0; i < grant.n_denials; i++) {
                const vp_denial *denial = &grant.denials[i];
                if (strcmp(denial->permission, "workspace") != 0 && strcmp(denial->permission, "image") != 0 &&
                    strcmp(denial->permission, "user") != 0)
                        continue;
                json_t *detail = denials_json(&grant);
                audit_deny(d, c, "Install", name, detail, "%s '%s' may not be installed in workspace '%s': %s",
                           image->name ? image->name : "image", name, grant.workspace, denial->rule);
                json_decref(detail);
                goto out;
        }
        ok = true;
out:
        vp_grant_clear(&grant);
        vp_permissions_clear(&ask);
        return ok;
}

void instance_grant_clear(instance_grant *g)
{
        for (size_t i = 0; i < g->n_shares; i++)
                vp_resolved_share_clear(&g->shares[i]);
        free(g->shares);
        free(g->folders);
        vp_grant_clear(&g->grant);
        json_decref(g->detail);
        strv_free(g->notes);
        free(g->window_title);
        *g = (instance_grant) {};
}

/* Find the owner whose folders an instance shares. The daemon's own user keeps the $HOME
 * of the vmpack that started the daemon, as 'vmpack run' does. Other owners get the home
 * of their passwd entry. */
static int owner_of(daemon_state *d, json_t *instance, vp_share_user *ret, char **ret_home, vp_error *err)
{
        uid_t uid = (uid_t) json_integer_value(json_object_get(instance, "owner_uid"));
        const char *environment_home = getenv("HOME");
        struct passwd entry, *found = NULL;
        char buffer[4096];

        int r = getpwuid_r(uid, &entry, buffer, sizeof(buffer), &found);
        if (r != 0 || !found)
                return vp_error_set(err, r ? -r : -ENOENT, "the instance's owner uid %u has no passwd entry, so its "
                                    "folders cannot be found", uid);
        bool own = uid == d->uid && environment_home && environment_home[0] == '/';
        *ret_home = strdup(own ? environment_home : found->pw_dir);
        if (!*ret_home)
                return vp_error_set(err, -ENOMEM, "out of memory");
        *ret = (vp_share_user) { .uid = uid, .gid = found->pw_gid, .home = *ret_home };
        return 0;
}

/* Open the granted folders as the instance's owner. A missing folder without :create is
 * left out with a note, because an app without its Videos folder still runs. Every other
 * failure rejects the start. */
static bool open_folders(daemon_state *d, connection *c, const char *action, const char *name, json_t *instance,
                         instance_grant *g)
{
        const vp_permissions *p = &g->grant.permissions;
        _cleanup_free_ char *home = NULL;
        json_t *shares = json_array();
        vp_share_user user;
        vp_error err = {};

        json_object_set_new(g->detail, "shares", shares);
        if (p->n_filesystems == 0)
                return true;
        if (owner_of(d, instance, &user, &home, &err) < 0) {
                audit_deny(d, c, action, name, g->detail, "%s", err.message);
                return false;
        }
        g->shares = calloc(p->n_filesystems, sizeof(*g->shares));
        g->folders = calloc(p->n_filesystems, sizeof(*g->folders));
        if (!g->shares || !g->folders) {
                server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                return false;
        }
        for (size_t i = 0; i < p->n_filesystems; i++) {
                const vp_fs_permission *fs = &p->filesystems[i];
                vp_resolved_share *share = &g->shares[g->n_shares];

                *share = (vp_resolved_share) { .fd = -EBADF };
                /* NOTE: the system daemon's QEMU runs as root without capabilities, so it can
                 * read only what others may read in another user's folder, and write nothing
                 * there. Running QEMU as the instance's owner would lift this. */
                if (user.uid != d->uid && vp_share_mode_writable(fs->mode)) {
                        audit_deny(d, c, action, name, g->detail,
                                   "filesystems=%s:%s: the system daemon cannot share uid %u's folders read-write "
                                   "yet; start with it read-only: vmpack override %s --filesystem=%s:ro",
                                   fs->location, vp_share_mode_to_string(fs->mode), user.uid, name, fs->location);
                        return false;
                }
                const char *root = g->grant.filesystem_roots ? g->grant.filesystem_roots[i] : NULL;
                int r = vp_share_resolve_within_as(&user, root, fs->location, fs->mode, NULL, share, &err);
                if (r == -ENOENT && fs->mode != VP_SHARE_CREATE) {
                        json_array_append_new(shares, json_pack("{s:s, s:s, s:s, s:s}", "location", fs->location,
                                                                "mode", vp_share_mode_to_string(fs->mode), "home",
                                                                user.home, "skipped", err.message));
                        char *note = vp_strdup_printf("%s not shared: %s in home %s", fs->location, err.message,
                                                      user.home);
                        (void) strv_push(&g->notes, note);
                        continue;
                }
                if (r < 0) {
                        audit_deny(d, c, action, name, g->detail, "filesystems=%s:%s: %s", fs->location,
                                   vp_share_mode_to_string(fs->mode), err.message);
                        return false;
                }
                g->folders[g->n_shares] = (vp_run_folder) {
                        .fd = share->fd,
                        .guest_path = share->guest_path,
                        .writable = vp_share_mode_writable(fs->mode),
                        .host_path = share->host_path,
                };
                g->n_shares++;
                json_array_append_new(shares, json_pack("{s:s, s:s, s:s, s:s, s:b}", "location", fs->location, "mode",
                                                        vp_share_mode_to_string(fs->mode), "host_path",
                                                        share->host_path, "guest_path", share->guest_path, "created",
                                                        share->created));
        }
        return true;
}

/* Devices the grant names that this version cannot attach yet. Refusing is safer than
 * starting the app without a device it was promised. */
static const char *unsupported_device(const vp_permissions *p, const char **ret_option)
{
        if (p->camera && strcmp(p->camera, "on") == 0) {
                *ret_option = "--nodevice=camera";
                return "camera=on: camera passthrough is not implemented yet";
        }
        if (p->usb && p->usb[0]) {
                *ret_option = "--nodevice=usb";
                return "usb=: USB passthrough is not implemented yet";
        }
        if (p->network && strcmp(p->network, "none") != 0 && strcmp(p->network, "uplink") != 0) {
                *ret_option = "--nonetwork";
                return "network VMs are not implemented yet, so only network=uplink can be attached";
        }
        return NULL;
}

bool grant_for_instance(daemon_state *d, connection *c, const char *action, json_t *instance, const vp_image *image,
                        instance_grant *ret)
{
        const char *name = json_string_value(json_object_get(instance, "name"));
        _cleanup_policy_ vp_policy *policy = load_policy(d, c, action, name);
        _cleanup_override_ vp_override *override = NULL;
        vp_permissions ask = {};
        unsigned cpus;
        uint64_t memory;
        const char *option = NULL;
        vp_error err = {};
        bool ok = false;

        *ret = (instance_grant) {};
        if (!policy)
                return false;
        if (read_request(image->metadata, &ask, &cpus, &memory, &err) < 0 || load_override(name, &override, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                goto out;
        }
        vp_grant_request request = {
                .workspace = json_string_value(json_object_get(instance, "workspace")),
                .image = json_string_value(json_object_get(instance, "image_name")),
                .uid = (uid_t) json_integer_value(json_object_get(instance, "owner_uid")),
                .ask = &ask,
                .cpus = cpus,
                .memory_bytes = memory,
                .override = override,
        };
        if (vp_grant_compute(policy, &request, &ret->grant, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                goto out;
        }
        ret->detail = vp_grant_to_json(&ret->grant);
        /* The window title names the workspace and the instance: "[work] WorkFox". */
        ret->window_title = request.workspace ? vp_strdup_printf("[%s] %s", request.workspace, name) : strdup(name);
        if (!ret->detail || !ret->window_title) {
                server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                goto out;
        }
        json_object_set_new(ret->detail, "policy_digest", json_string(vp_policy_digest(policy)));
        if (ret->grant.n_denials > 0) {
                _cleanup_free_ char *message = vp_grant_denial_message(&ret->grant, name);
                audit_deny(d, c, action, name, ret->detail, "%s", message ? message : "out of memory");
                goto out;
        }
        const char *unsupported = unsupported_device(&ret->grant.permissions, &option);
        if (unsupported) {
                audit_deny(d, c, action, name, ret->detail, "%s; start without it: vmpack override %s %s", unsupported,
                           name, option);
                goto out;
        }
        ok = open_folders(d, c, action, name, instance, ret);
out:
        vp_permissions_clear(&ask);
        if (!ok)
                instance_grant_clear(ret);
        return ok;
}

static bool granted(const char *value, const char *expected)
{
        return value && strcmp(value, expected) == 0;
}

void grant_apply(const instance_grant *g, supervise_spec *spec)
{
        const vp_permissions *p = &g->grant.permissions;

        spec->cpus = g->grant.cpus;
        spec->memory_mib = g->grant.memory_bytes >> 20;
        spec->network = granted(p->network, "uplink") ? VP_VM_NETWORK_UPLINK : VP_VM_NETWORK_NONE;
        spec->gui = granted(p->display, "wayland");
        spec->audio = spec->gui && granted(p->audio, "playback");
        spec->microphone = spec->audio && granted(p->microphone, "on");
        spec->clipboard = spec->gui && granted(p->clipboard, "on-request");
        spec->virgl = spec->gui && granted(p->gpu, "virgl");
        spec->folders = g->folders;
        spec->n_folders = g->n_shares;
        spec->grant = g->detail;
        spec->window_title = g->window_title;
}

bool grant_set_override(daemon_state *d, connection *c, const char *name, json_t *instance, const vp_image *image,
                        json_t *options, bool reset, json_t **ret_args)
{
        _cleanup_free_ char *path = vp_instance_path(name, OVERRIDE_FILE);
        _cleanup_free_ char *temporary = vp_instance_path(name, OVERRIDE_FILE ".tmp");
        _cleanup_override_ vp_override *override = NULL;
        _cleanup_strv_free_ char **args = strv_new();
        vp_permissions ask = {};
        unsigned cpus;
        uint64_t memory;
        vp_error err = {};
        bool ok = false;
        size_t i;
        json_t *item;

        *ret_args = NULL;
        if (!path || !temporary || !args) {
                server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                return false;
        }
        if (read_request(image->metadata, &ask, &cpus, &memory, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                goto out;
        }
        /* Without reset, new options add to the stored ones. */
        if (!reset && load_override(name, &override, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                goto out;
        }
        json_array_foreach(options, i, item)
                if (strv_extend(&args, json_string_value(item)) < 0) {
                        server_reply_error(c, VP_API_ERROR_FAILED, "out of memory");
                        goto out;
                }
        if (args[0] && vp_override_parse(args, &override, &err) < 0) {
                server_reply_error(c, VP_API_ERROR_INVALID_PARAMETER, err.message);
                goto out;
        }
        /* A widening attempt is a denial like any other, so it is recorded. */
        if (args[0] && vp_override_check(override, &ask, cpus, memory, &err) < 0) {
                json_t *detail = json_pack("{s:O}", "options", options);
                audit_deny(d, c, "Override", name, detail, "%s", err.message);
                json_decref(detail);
                goto out;
        }

        if (!override) {
                if (unlink(path) < 0 && errno != ENOENT) {
                        vp_error_set_errno(&err, -errno, "remove %s", path);
                        server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                        goto out;
                }
                *ret_args = json_array();
        } else {
                json_t *json = vp_override_to_json(override);
                int r = json ? json_dump_file(json, temporary, JSON_INDENT(2) | JSON_SORT_KEYS) : -1;
                json_decref(json);
                if (r < 0 || rename(temporary, path) < 0) {
                        unlink(temporary);
                        server_reply_error(c, VP_API_ERROR_FAILED, "writing the override failed");
                        goto out;
                }
                _cleanup_strv_free_ char **stored = vp_override_to_args(override);
                *ret_args = json_array();
                STRV_FOREACH(a, stored)
                        json_array_append_new(*ret_args, json_string(*a));
        }
        json_t *detail = json_pack("{s:O, s:b}", "override", *ret_args, "reset", reset);
        audit_allow(d, c, "Override", name, NULL, detail);
        json_decref(detail);
        ok = true;
out:
        vp_permissions_clear(&ask);
        return ok;
}

bool grant_get_override(connection *c, const char *name, json_t **ret_args)
{
        _cleanup_override_ vp_override *override = NULL;
        vp_error err = {};

        *ret_args = json_array();
        if (load_override(name, &override, &err) < 0) {
                json_decref(*ret_args);
                *ret_args = NULL;
                server_reply_error(c, VP_API_ERROR_FAILED, err.message);
                return false;
        }
        if (override) {
                _cleanup_strv_free_ char **stored = vp_override_to_args(override);
                STRV_FOREACH(a, stored)
                        json_array_append_new(*ret_args, json_string(*a));
        }
        return true;
}
