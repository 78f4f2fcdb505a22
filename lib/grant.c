/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Grant computation: the recipe's request intersected with a workspace, [Limits] and an override. */
#include "policy-internal.h"

#include <inttypes.h>
#include <string.h>

typedef struct grant_context {
        const vp_policy *policy;
        const policy_scope *workspace;
        vp_grant *grant;
} grant_context;

/* A scope's name in rule texts: "workspace 'work'" or "[Limits]". */
static void scope_title(const policy_scope *scope, char *buf, size_t size)
{
        if (scope->name)
                snprintf(buf, size, "workspace '%s'", scope->name);
        else
                snprintf(buf, size, "[Limits]");
}

static int add_denial(vp_grant *grant, const char *permission, const char *requested, const char *source,
                      const char *option, const char *fmt, ...) _printf_(6, 7);
static int add_denial(vp_grant *grant, const char *permission, const char *requested, const char *source,
                      const char *option, const char *fmt, ...)
{
        vp_denial *denials = reallocarray(grant->denials, grant->n_denials + 1, sizeof(vp_denial));
        char *rule = NULL;
        va_list ap;

        if (!denials)
                return -ENOMEM;
        grant->denials = denials;

        va_start(ap, fmt);
        if (vasprintf(&rule, fmt, ap) < 0)
                rule = NULL;
        va_end(ap);

        vp_denial *d = &denials[grant->n_denials];
        *d = (vp_denial) {
                .permission = strdup(permission),
                .requested = strdup(requested),
                .rule = rule,
                .source = source ? strdup(source) : NULL,
                .option = option ? strdup(option) : NULL,
        };
        grant->n_denials++;
        if (!d->permission || !d->requested || !d->rule || (source && !d->source) || (option && !d->option))
                return -ENOMEM;
        return 0;
}

/* Record that scope has no rule for key, or that its rule does not allow the request. */
static int deny_by_scope(grant_context *c, const policy_scope *scope, policy_key key, const char *requested,
                         const char *allowed, const char *option)
{
        const char *name = policy_key_names[key];
        char title[128];

        scope_title(scope, title, sizeof(title));
        if (!scope->sources[key]) {
                if (!scope->name)
                        return add_denial(c->grant, name, requested, NULL, option, "no [Limits] %s= rule", name);
                return add_denial(c->grant, name, requested, scope->source, option, "%s (%s) has no %s= rule",
                                  title, scope->source, name);
        }
        return add_denial(c->grant, name, requested, scope->sources[key], option, "%s allow%s %s=%s (%s)", title,
                          scope->name ? "s" : "", name, allowed, scope->sources[key]);
}

static bool is_requested(const char *value)
{
        return value && strcmp(value, "none") != 0;
}

/*
 * A workspace allows exactly the value it names. [Limits] network=uplink is the widest
 * network value, so it also permits any network VM.
 */
static bool value_allowed(const policy_scope *scope, policy_key key, const char *allowed, const char *requested)
{
        if (!allowed)
                return false;
        if (strcmp(allowed, requested) == 0)
                return true;
        return !scope->name && key == POLICY_KEY_NETWORK && strcmp(allowed, "uplink") == 0;
}

/* The field of a string permission. key must name one, because any other key aborts. */
static char **choice_field(vp_permissions *permissions, policy_key key)
{
        char **field = policy_string_field(permissions, key);

        if (!field)
                abort();
        return field;
}

static const char *choice_value(const vp_permissions *permissions, policy_key key)
{
        return *choice_field((vp_permissions *) permissions, key);
}

static const char *override_option(policy_key key)
{
        switch (key) {
        case POLICY_KEY_NETWORK:
                return "--nonetwork";
        case POLICY_KEY_CLIPBOARD:
                return "--nodevice=clipboard";
        case POLICY_KEY_AUDIO:
                return "--nodevice=audio";
        case POLICY_KEY_MICROPHONE:
                return "--nodevice=microphone";
        case POLICY_KEY_CAMERA:
                return "--nodevice=camera";
        case POLICY_KEY_GPU:
                return "--nodevice=gpu";
        case POLICY_KEY_USB:
                return "--nodevice=usb";
        default:
                return NULL;
        }
}

static int grant_choice(grant_context *c, const vp_permissions *ask, policy_key key, char **ret)
{
        const char *requested = choice_value(ask, key);
        const policy_scope *scopes[] = { c->workspace, &c->policy->limits };
        int r;

        if (!is_requested(requested))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(scopes); i++) {
                const char *allowed = choice_value(&scopes[i]->permissions, key);
                if (!value_allowed(scopes[i], key, allowed, requested)) {
                        r = deny_by_scope(c, scopes[i], key, requested, allowed, override_option(key));
                        return r;
                }
        }
        *ret = strdup(requested);
        return *ret ? 0 : -ENOMEM;
}

/*
 * Return true when ancestor is location or a directory above it (both normalized). The
 * comparison is lexical, so the caller that opens the granted location must resolve it
 * beneath the allowing location (vp_grant.filesystem_roots), or a symbolic link could lead
 * out of it.
 */
static bool location_contains(const char *ancestor, const char *location)
{
        size_t n = strlen(ancestor);

        if (strcmp(ancestor, location) == 0)
                return true;
        /* xdg-* and home are names: each matches only itself, except that home contains ~/... */
        if (strcmp(ancestor, "home") == 0)
                return vp_str_startswith(location, "~/");
        if (ancestor[0] != '/' && ancestor[0] != '~')
                return false;
        return strncmp(ancestor, location, n) == 0 && location[n] == '/';
}

/* The most specific entry of scope that contains location, or NULL. */
static const vp_fs_permission *find_location(const policy_scope *scope, const char *location, int *ret)
{
        const vp_fs_permission *best = NULL;
        size_t best_length = 0;

        *ret = 0;
        for (size_t i = 0; i < scope->permissions.n_filesystems; i++) {
                const vp_fs_permission *fs = &scope->permissions.filesystems[i];
                _cleanup_free_ char *normalized = policy_normalize_location(fs->location);
                if (!normalized) {
                        *ret = -ENOMEM;
                        return NULL;
                }
                if (location_contains(normalized, location) && (!best || strlen(normalized) > best_length)) {
                        best = fs;
                        best_length = strlen(normalized);
                }
        }
        return best;
}

static int grant_filesystem(grant_context *c, const vp_fs_permission *requested, vp_permissions *granted)
{
        const policy_scope *scopes[] = { c->workspace, &c->policy->limits };
        _cleanup_free_ char *location = policy_normalize_location(requested->location);
        _cleanup_free_ char *requested_text = NULL, *option = NULL;
        const policy_scope *narrowed_by = NULL;
        const vp_fs_permission *narrowing_rule = NULL;
        _cleanup_free_ char *root = NULL;
        vp_share_mode mode = requested->mode;
        char title[128];
        int r;

        if (!location)
                return -ENOMEM;
        requested_text = vp_strdup_printf("%s:%s", requested->location, vp_share_mode_to_string(requested->mode));
        if (!requested_text)
                return -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(scopes); i++) {
                const policy_scope *scope = scopes[i];
                const vp_fs_permission *rule = find_location(scope, location, &r);
                if (r < 0)
                        return r;

                if (!rule) {
                        _cleanup_free_ char *remove = vp_strdup_printf("--nofilesystem=%s", requested->location);
                        if (!remove)
                                return -ENOMEM;
                        if (!scope->sources[POLICY_KEY_FILESYSTEMS])
                                return deny_by_scope(c, scope, POLICY_KEY_FILESYSTEMS, requested_text, NULL, remove);
                        scope_title(scope, title, sizeof(title));
                        return add_denial(c->grant, "filesystems", requested_text, scope->sources[POLICY_KEY_FILESYSTEMS],
                                          remove, "%s allow%s no location that contains %s (%s)", title,
                                          scope->name ? "s" : "", requested->location,
                                          scope->sources[POLICY_KEY_FILESYSTEMS]);
                }
                if (rule->mode < mode) {
                        mode = rule->mode;
                        narrowed_by = scope;
                        narrowing_rule = rule;
                }

                /* Both rules contain the location, so the longer one is inside the other. */
                char *normalized = policy_normalize_location(rule->location);
                if (!normalized)
                        return -ENOMEM;
                if (!root || strlen(normalized) > strlen(root)) {
                        free(root);
                        root = normalized;
                } else {
                        free(normalized);
                }
        }

        /* A narrowed mode is granted, and the wider mode that was requested is denied. */
        if (narrowed_by) {
                option = vp_strdup_printf("--filesystem=%s:%s", requested->location, vp_share_mode_to_string(mode));
                if (!option)
                        return -ENOMEM;
                scope_title(narrowed_by, title, sizeof(title));
                r = add_denial(c->grant, "filesystems", requested_text, narrowed_by->sources[POLICY_KEY_FILESYSTEMS],
                               option, "%s allow%s only %s:%s (%s)", title, narrowed_by->name ? "s" : "",
                               narrowing_rule->location, vp_share_mode_to_string(mode),
                               narrowed_by->sources[POLICY_KEY_FILESYSTEMS]);
                if (r < 0)
                        return r;
        }

        vp_fs_permission *filesystems = reallocarray(granted->filesystems, granted->n_filesystems + 1,
                                                     sizeof(vp_fs_permission));
        if (!filesystems)
                return -ENOMEM;
        granted->filesystems = filesystems;
        filesystems[granted->n_filesystems].location = strdup(requested->location);
        if (!filesystems[granted->n_filesystems].location)
                return -ENOMEM;
        filesystems[granted->n_filesystems].mode = mode;
        granted->n_filesystems++;
        return strv_push(&c->grant->filesystem_roots, TAKE_PTR(root));
}

static bool usb_allowed(char *const *allowed, const char *id)
{
        return strv_contains(allowed, "*") || strv_contains(allowed, id);
}

static int grant_usb(grant_context *c, const char *id, vp_permissions *granted)
{
        const policy_scope *scopes[] = { c->workspace, &c->policy->limits };
        char title[128];

        for (size_t i = 0; i < ELEMENTSOF(scopes); i++) {
                const policy_scope *scope = scopes[i];
                if (usb_allowed(scope->permissions.usb, id))
                        continue;
                if (!scope->sources[POLICY_KEY_USB])
                        return deny_by_scope(c, scope, POLICY_KEY_USB, id, NULL, "--nodevice=usb");
                scope_title(scope, title, sizeof(title));
                _cleanup_free_ char *list = strv_join(scope->permissions.usb, ";");
                if (!list)
                        return -ENOMEM;
                return add_denial(c->grant, "usb", id, scope->sources[POLICY_KEY_USB], "--nodevice=usb",
                                  "%s allow%s usb=%s (%s)", title, scope->name ? "s" : "", list,
                                  scope->sources[POLICY_KEY_USB]);
        }
        return strv_extend(&granted->usb, id);
}

static int add_note(vp_grant *grant, const char *fmt, ...) _printf_(2, 3);
static int add_note(vp_grant *grant, const char *fmt, ...)
{
        char *note = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&note, fmt, ap) < 0)
                note = NULL;
        va_end(ap);
        if (!note)
                return -ENOMEM;
        return strv_push(&grant->notes, note);
}

/*
 * Cap a resource at the workspace and the limits. A scope without a rule caps at the default,
 * because a VM needs some CPU and memory. The note names the rule that set the final value.
 */
static int cap_resource(grant_context *c, policy_key key, uint64_t requested, uint64_t default_value,
                        uint64_t *ret)
{
        const policy_scope *scopes[] = { c->workspace, &c->policy->limits };
        const policy_scope *capped_by = NULL;
        uint64_t value = requested;
        char title[128];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(scopes); i++) {
                const policy_scope *scope = scopes[i];
                uint64_t cap = key == POLICY_KEY_CPUS ? scope->cpus : scope->memory_bytes;
                if (!scope->sources[key])
                        cap = default_value;
                if (cap < value) {
                        value = cap;
                        capped_by = scope;
                }
        }

        if (capped_by) {
                const char *source = capped_by->sources[key];
                scope_title(capped_by, title, sizeof(title));
                if (key == POLICY_KEY_CPUS)
                        r = add_note(c->grant, "cpus: %" PRIu64 " requested, capped to %" PRIu64 " by %s (%s)",
                                     requested, value, title, source ? source : "no cpus= rule, so the default");
                else
                        r = add_note(c->grant, "memory: %" PRIu64 " MiB requested, capped to %" PRIu64 " MiB by %s (%s)",
                                     requested >> 20, value >> 20, title,
                                     source ? source : "no memory= rule, so the default");
                if (r < 0)
                        return r;
        }
        *ret = value;
        return 0;
}

/* The intersection of ask with the workspace and the limits, into c->grant. */
static int grant_permissions(grant_context *c, const vp_permissions *ask, unsigned cpus, uint64_t memory_bytes)
{
        static const policy_key choice_keys[] = {
                POLICY_KEY_NETWORK, POLICY_KEY_CLIPBOARD, POLICY_KEY_AUDIO, POLICY_KEY_MICROPHONE,
                POLICY_KEY_CAMERA,  POLICY_KEY_GPU,       POLICY_KEY_DISPLAY,
        };
        vp_permissions *granted = &c->grant->permissions;
        uint64_t value;
        int r;

        for (size_t i = 0; i < ask->n_filesystems; i++) {
                r = grant_filesystem(c, &ask->filesystems[i], granted);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(choice_keys); i++) {
                r = grant_choice(c, ask, choice_keys[i], choice_field(granted, choice_keys[i]));
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(id, ask->usb) {
                r = grant_usb(c, *id, granted);
                if (r < 0)
                        return r;
        }

        r = cap_resource(c, POLICY_KEY_CPUS, cpus ? cpus : VP_POLICY_DEFAULT_CPUS, VP_POLICY_DEFAULT_CPUS, &value);
        if (r < 0)
                return r;
        c->grant->cpus = (unsigned) value;
        r = cap_resource(c, POLICY_KEY_MEMORY, memory_bytes ? memory_bytes : VP_POLICY_DEFAULT_MEMORY_BYTES,
                         VP_POLICY_DEFAULT_MEMORY_BYTES, &c->grant->memory_bytes);
        if (r < 0)
                return r;
        return 0;
}

static int check_user(grant_context *c, const vp_grant_request *request, vp_error *err)
{
        const policy_scope *w = c->workspace;
        vp_user_lookup lookup = request->lookup ? request->lookup : vp_user_lookup_system;
        _cleanup_strv_free_ char **groups = NULL;
        _cleanup_free_ char *name = NULL, *list = NULL, *requested = NULL;
        int r;

        if (!w->users)
                return 0;

        r = lookup(request->uid, &name, &groups, request->lookup_userdata);
        if (r == -ENOENT) {
                name = NULL;
        } else if (r < 0) {
                return vp_error_set_errno(err, r, "cannot look up the groups of user %u", (unsigned) request->uid);
        } else {
                STRV_FOREACH(user, w->users) {
                        if (**user == '@' ? strv_contains(groups, *user + 1) : strcmp(*user, name) == 0)
                                return 0;
                }
        }

        list = strv_join(w->users, ";");
        requested = name ? strdup(name) : vp_strdup_printf("uid %u", (unsigned) request->uid);
        if (!list || !requested)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = add_denial(c->grant, "user", requested, w->sources[POLICY_KEY_USERS], NULL,
                       "workspace '%s' allows Users=%s (%s)", w->name, list, w->sources[POLICY_KEY_USERS]);
        return r < 0 ? vp_error_set(err, r, "out of memory") : 0;
}

static int check_image(grant_context *c, const char *image)
{
        const policy_scope *w = c->workspace;
        _cleanup_free_ char *list = NULL;

        if (!image)
                return 0;
        if (!w->images)
                return add_denial(c->grant, "image", image, w->source, NULL, "workspace '%s' (%s) has no Images= rule",
                                  w->name, w->source);
        if (strv_contains(w->images, "*") || strv_contains(w->images, image))
                return 0;
        list = strv_join(w->images, ";");
        if (!list)
                return -ENOMEM;
        return add_denial(c->grant, "image", image, w->sources[POLICY_KEY_IMAGES], NULL,
                          "workspace '%s' allows Images=%s (%s)", w->name, list, w->sources[POLICY_KEY_IMAGES]);
}

static int deny_workspace(const vp_policy *policy, const char *name, vp_grant *grant)
{
        _cleanup_free_ char *list = NULL;

        if (!policy->files[0])
                return add_denial(grant, "workspace", name, NULL, NULL,
                                  "the policy directory contains no files, so nothing is granted");
        if (!policy->workspace_names[0])
                return add_denial(grant, "workspace", name, NULL, NULL, "the policy defines no workspaces");
        list = strv_join(policy->workspace_names, ", ");
        if (!list)
                return -ENOMEM;
        return add_denial(grant, "workspace", name, NULL, NULL, "the policy has no [Workspace %s] section (workspaces: %s)",
                          name, list);
}

/* True when ask requests location, compared after normalizing. */
static int requests_location(const vp_permissions *ask, const char *location, const vp_fs_permission **ret)
{
        _cleanup_free_ char *wanted = policy_normalize_location(location);

        if (!wanted)
                return -ENOMEM;
        for (size_t i = 0; i < ask->n_filesystems; i++) {
                _cleanup_free_ char *candidate = policy_normalize_location(ask->filesystems[i].location);
                if (!candidate)
                        return -ENOMEM;
                if (strcmp(candidate, wanted) == 0) {
                        *ret = &ask->filesystems[i];
                        return 1;
                }
        }
        return 0;
}

/* Note the filesystem entries of an override that narrow nothing, e.g. after an image update
 * dropped the location. */
static int note_unused_locations(const vp_override *o, const vp_permissions *ask, vp_grant *grant)
{
        const vp_fs_permission *found = NULL;
        int r;

        STRV_FOREACH(location, o->nofilesystems) {
                r = requests_location(ask, *location, &found);
                if (r == 0)
                        r = add_note(grant, "override --nofilesystem=%s ignored: the recipe does not request %s",
                                     *location, *location);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < o->n_filesystems; i++) {
                const vp_fs_permission *narrow = &o->filesystems[i];
                r = requests_location(ask, narrow->location, &found);
                if (r == 0)
                        r = add_note(grant, "override --filesystem=%s:%s ignored: the recipe does not request %s",
                                     narrow->location, vp_share_mode_to_string(narrow->mode), narrow->location);
                else if (r > 0 && narrow->mode > found->mode)
                        r = add_note(grant, "override --filesystem=%s:%s ignored: the recipe requests only :%s",
                                     narrow->location, vp_share_mode_to_string(narrow->mode),
                                     vp_share_mode_to_string(found->mode));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The request narrowed by the override, which only ever removes or narrows. */
static int apply_override(const vp_override *o, const vp_permissions *ask, vp_permissions *ret, unsigned *cpus,
                          uint64_t *memory_bytes, vp_grant *grant)
{
        int r = vp_permissions_copy(ask, ret);

        if (r < 0 || !o)
                return r;

        size_t kept = 0;
        for (size_t i = 0; i < ret->n_filesystems; i++) {
                vp_fs_permission *fs = &ret->filesystems[i];
                _cleanup_free_ char *location = policy_normalize_location(fs->location);
                bool removed = false;
                if (!location)
                        return -ENOMEM;

                STRV_FOREACH(no, o->nofilesystems) {
                        _cleanup_free_ char *other = policy_normalize_location(*no);
                        if (!other)
                                return -ENOMEM;
                        removed = removed || strcmp(other, location) == 0;
                }
                for (size_t j = 0; j < o->n_filesystems; j++) {
                        _cleanup_free_ char *other = policy_normalize_location(o->filesystems[j].location);
                        if (!other)
                                return -ENOMEM;
                        if (strcmp(other, location) == 0 && o->filesystems[j].mode < fs->mode)
                                fs->mode = o->filesystems[j].mode;
                }
                if (removed) {
                        free(fs->location);
                        continue;
                }
                ret->filesystems[kept++] = *fs;
        }
        ret->n_filesystems = kept;

        r = note_unused_locations(o, ask, grant);
        if (r < 0)
                return r;

        static const struct {
                vp_device device;
                size_t offset;
        } devices[] = {
                { VP_DEVICE_AUDIO, offsetof(vp_permissions, audio) },
                { VP_DEVICE_MICROPHONE, offsetof(vp_permissions, microphone) },
                { VP_DEVICE_CAMERA, offsetof(vp_permissions, camera) },
                { VP_DEVICE_CLIPBOARD, offsetof(vp_permissions, clipboard) },
                { VP_DEVICE_GPU, offsetof(vp_permissions, gpu) },
        };
        for (size_t i = 0; i < ELEMENTSOF(devices); i++)
                if (o->nodevices & devices[i].device) {
                        char **field = (char **) ((char *) ret + devices[i].offset);
                        free(*field);
                        *field = NULL;
                }
        if (o->nodevices & VP_DEVICE_USB)
                ret->usb = strv_free(ret->usb);
        if (o->nonetwork) {
                free(ret->network);
                ret->network = NULL;
        }

        unsigned requested_cpus = *cpus ? *cpus : VP_POLICY_DEFAULT_CPUS;
        uint64_t requested_memory = *memory_bytes ? *memory_bytes : VP_POLICY_DEFAULT_MEMORY_BYTES;
        if (o->cpus && o->cpus < requested_cpus)
                *cpus = o->cpus;
        else if (o->cpus && o->cpus > requested_cpus && add_note(grant, "override --cpus=%u ignored: the recipe "
                                                                        "requests only %u",
                                                                 o->cpus, requested_cpus) < 0)
                return -ENOMEM;
        if (o->memory_bytes && o->memory_bytes < requested_memory)
                *memory_bytes = o->memory_bytes;
        else if (o->memory_bytes && o->memory_bytes > requested_memory &&
                 add_note(grant, "override --memory=%" PRIu64 "M ignored: the recipe requests only %" PRIu64 " MiB",
                          o->memory_bytes >> 20, requested_memory >> 20) < 0)
                return -ENOMEM;
        return 0;
}

int vp_grant_compute(const vp_policy *policy, const vp_grant_request *request, vp_grant *ret, vp_error *err)
{
        _cleanup_(vp_grant_clear) vp_grant grant = { 0 };
        _cleanup_(vp_permissions_clear) vp_permissions ask = { 0 };
        static const vp_permissions nothing = { 0 };
        const char *workspace = request->workspace ? request->workspace : VP_POLICY_DEFAULT_WORKSPACE;
        unsigned cpus = request->cpus;
        uint64_t memory_bytes = request->memory_bytes;
        int r;

        grant.notes = strv_new();
        grant.workspace = strdup(workspace);
        if (!grant.notes || !grant.workspace)
                return vp_error_set(err, -ENOMEM, "out of memory");

        grant_context c = {
                .policy = policy,
                .workspace = policy_find_workspace(policy, workspace),
                .grant = &grant,
        };

        if (!c.workspace) {
                r = deny_workspace(policy, workspace, &grant);
                if (r < 0)
                        return vp_error_set(err, r, "out of memory");
                grant.cpus = 0;
                grant.memory_bytes = 0;
                *ret = grant;
                grant = (vp_grant) { 0 };
                return 0;
        }

        if (c.workspace->label) {
                grant.label = strdup(c.workspace->label);
                if (!grant.label)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        r = check_image(&c, request->image);
        if (r < 0)
                return vp_error_set(err, r, "out of memory");
        r = check_user(&c, request, err);
        if (r < 0)
                return r;

        r = apply_override(request->override, request->ask ? request->ask : &nothing, &ask, &cpus, &memory_bytes,
                           &grant);
        if (r < 0)
                return vp_error_set(err, r, "out of memory");
        r = grant_permissions(&c, &ask, cpus, memory_bytes);
        if (r < 0)
                return vp_error_set(err, r, "out of memory");

        *ret = grant;
        grant = (vp_grant) { 0 };
        return 0;
}

void vp_grant_clear(vp_grant *grant)
{
        free(grant->workspace);
        free(grant->label);
        vp_permissions_clear(&grant->permissions);
        strv_free(grant->filesystem_roots);
        for (size_t i = 0; i < grant->n_denials; i++) {
                free(grant->denials[i].permission);
                free(grant->denials[i].requested);
                free(grant->denials[i].rule);
                free(grant->denials[i].source);
                free(grant->denials[i].option);
        }
        free(grant->denials);
        strv_free(grant->notes);
        *grant = (vp_grant) { 0 };
}

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

static json_t *strv_to_json(char *const *v)
{
        json_t *array = json_array();

        STRV_FOREACH(s, (char **) v)
                json_array_append_new(array, json_string(*s));
        return array;
}

json_t *vp_grant_to_json(const vp_grant *grant)
{
        json_t *denials = json_array();

        for (size_t i = 0; i < grant->n_denials; i++) {
                const vp_denial *d = &grant->denials[i];
                json_array_append_new(denials, json_pack("{s:s, s:s, s:s, s:o, s:o}", "permission", d->permission,
                                                         "requested", d->requested, "rule", d->rule, "source",
                                                         string_or_null(d->source), "option",
                                                         string_or_null(d->option)));
        }
        return json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o}", "workspace", grant->workspace, "label",
                         string_or_null(grant->label), "permissions", vp_permissions_to_json(&grant->permissions),
                         "filesystem_roots", strv_to_json(grant->filesystem_roots), "cpus", (json_int_t) grant->cpus,
                         "memory_bytes", (json_int_t) grant->memory_bytes, "denials", denials, "notes",
                         strv_to_json(grant->notes));
}

static int append_line(char **text, const char *fmt, ...) _printf_(2, 3);
static int append_line(char **text, const char *fmt, ...)
{
        _cleanup_free_ char *line = NULL;
        char *joined;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&line, fmt, ap) < 0)
                line = NULL;
        va_end(ap);
        if (!line)
                return -ENOMEM;
        joined = vp_strdup_printf("%s%s%s", *text, **text ? "\n" : "", line);
        if (!joined)
                return -ENOMEM;
        free(*text);
        *text = joined;
        return 0;
}

char *vp_grant_denial_message(const vp_grant *grant, const char *instance_name)
{
        _cleanup_free_ char *text = strdup("");
        int r = 0;

        if (!text)
                return NULL;
        for (size_t i = 0; i < grant->n_denials && r >= 0; i++) {
                const vp_denial *d = &grant->denials[i];

                if (strcmp(d->permission, "workspace") == 0)
                        r = append_line(&text, "workspace '%s' does not exist: %s; install the instance in another "
                                               "workspace or ask an administrator to add it",
                                        d->requested, d->rule);
                else if (strcmp(d->permission, "image") == 0)
                        r = append_line(&text, "image '%s' is not allowed in workspace '%s': %s", d->requested,
                                        grant->workspace, d->rule);
                else if (strcmp(d->permission, "user") == 0)
                        r = append_line(&text, "user '%s' may not use workspace '%s': %s", d->requested,
                                        grant->workspace, d->rule);
                else if (d->option)
                        r = append_line(&text, "%s=%s is not granted: %s; start without it: vmpack override %s %s",
                                        d->permission, d->requested, d->rule, instance_name ? instance_name : "NAME",
                                        d->option);
                else
                        r = append_line(&text, "%s=%s is not granted: %s; the app cannot start without it, so ask an "
                                               "administrator to allow it",
                                        d->permission, d->requested, d->rule);
        }
        return r < 0 ? NULL : TAKE_PTR(text);
}

/* The value of a permission key as JSON. A string permission that is not set reads "none". */
static json_t *permission_json(const vp_permissions *p, unsigned cpus, uint64_t memory_bytes, policy_key key)
{
        switch (key) {
        case POLICY_KEY_FILESYSTEMS: {
                json_t *array = json_array();
                for (size_t i = 0; i < p->n_filesystems; i++)
                        json_array_append_new(array, json_sprintf("%s:%s", p->filesystems[i].location,
                                                                  vp_share_mode_to_string(p->filesystems[i].mode)));
                return array;
        }
        case POLICY_KEY_USB:
                return strv_to_json(p->usb);
        case POLICY_KEY_CPUS:
                return json_integer(cpus);
        case POLICY_KEY_MEMORY:
                return json_integer((json_int_t) memory_bytes);
        default:
                return json_string(choice_value(p, key) ? choice_value(p, key) : "none");
        }
}

static json_t *scope_value_json(const policy_scope *scope, policy_key key)
{
        if (!scope->sources[key])
                return json_null();
        switch (key) {
        case POLICY_KEY_LABEL:
                return json_string(scope->label);
        case POLICY_KEY_IMAGES:
                return strv_to_json(scope->images);
        case POLICY_KEY_USERS:
                return strv_to_json(scope->users);
        default:
                return permission_json(&scope->permissions, scope->cpus, scope->memory_bytes, key);
        }
}

static json_t *rule_json(json_t *value, const char *source, json_t *capped)
{
        return json_pack("{s:o, s:o, s:o}", "value", value ? value : json_null(), "source", string_or_null(source),
                         "capped", capped ? capped : json_null());
}

/* The denials and notes of the effective-policy computation that concern key, or NULL. */
static json_t *caps_json(const vp_grant *grant, policy_key key)
{
        const char *name = policy_key_names[key];
        json_t *caps = json_array();

        for (size_t i = 0; i < grant->n_denials; i++)
                if (strcmp(grant->denials[i].permission, name) == 0)
                        json_array_append_new(caps, json_sprintf("%s=%s: %s", name, grant->denials[i].requested,
                                                                 grant->denials[i].rule));
        STRV_FOREACH(note, grant->notes)
                if (vp_str_startswith(*note, name) && (*note)[strlen(name)] == ':')
                        json_array_append_new(caps, json_string(*note));
        if (json_array_size(caps) == 0) {
                json_decref(caps);
                return NULL;
        }
        return caps;
}

/* The workspace's rules capped by [Limits]: the workspace's own values are the request. */
static json_t *workspace_json(const vp_policy *policy, const policy_scope *w)
{
        _cleanup_(vp_grant_clear) vp_grant grant = { .notes = strv_new() };
        grant_context c = { .policy = policy, .workspace = w, .grant = &grant };
        json_t *object, *permissions;

        if (!grant.notes)
                return NULL;
        if (grant_permissions(&c, &w->permissions, w->sources[POLICY_KEY_CPUS] ? w->cpus : VP_POLICY_DEFAULT_CPUS,
                              w->sources[POLICY_KEY_MEMORY] ? w->memory_bytes : VP_POLICY_DEFAULT_MEMORY_BYTES) < 0)
                return NULL;

        object = json_pack("{s:o}", "source", string_or_null(w->source));
        permissions = json_object();
        if (!object || !permissions) {
                json_decref(object);
                json_decref(permissions);
                return NULL;
        }
        for (policy_key key = 0; key < POLICY_KEY_FIRST_PERMISSION; key++)
                json_object_set_new(object, policy_key_names[key],
                                    rule_json(scope_value_json(w, key), w->sources[key], NULL));
        for (policy_key key = POLICY_KEY_FIRST_PERMISSION; key < _POLICY_KEY_MAX; key++) {
                json_t *granted = permission_json(&grant.permissions, grant.cpus, grant.memory_bytes, key);
                json_object_set_new(permissions, policy_key_names[key],
                                    rule_json(granted, w->sources[key], caps_json(&grant, key)));
        }
        json_object_set_new(object, "permissions", permissions);
        return object;
}

json_t *vp_policy_to_json(const vp_policy *policy, const char *workspace)
{
        json_t *limits = json_object(), *workspaces = json_object(), *files = strv_to_json(policy->files);
        json_t *result = json_pack("{s:o, s:s, s:b, s:o, s:o}", "files", files, "digest", policy->digest, "builtin",
                                   policy->builtin, "limits", limits, "workspaces", workspaces);

        if (!result)
                return NULL;
        for (policy_key key = POLICY_KEY_FIRST_PERMISSION; key < _POLICY_KEY_MAX; key++)
                json_object_set_new(limits, policy_key_names[key],
                                    rule_json(scope_value_json(&policy->limits, key),
                                              policy->limits.sources[key], NULL));

        for (size_t i = 0; i < policy->n_workspaces; i++) {
                const policy_scope *w = &policy->workspaces[i];
                if (workspace && strcmp(w->name, workspace) != 0)
                        continue;
                json_t *object = workspace_json(policy, w);
                if (!object) {
                        json_decref(result);
                        return NULL;
                }
                json_object_set_new(workspaces, w->name, object);
        }
        if (workspace && json_object_size(workspaces) == 0) {
                json_decref(result);
                return NULL;
        }
        return result;
}
