/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy files: parsing, loading a policy directory and the effective policy as JSON. */
#include "policy-internal.h"

#include "instance.h"
#include "keyfile.h"
#include "paths.h"
#include "permission-values.h"
#include "store.h"

#include <dirent.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define POLICY_FILE_SUFFIX ".conf"
#define POLICY_FILE_MAX_SIZE (1024 * 1024)
#define POLICY_MAX_FILES 1024
#define POLICY_MAX_WORKSPACES 1024
#define POLICY_MAX_LIST_ITEMS 1024
#define USER_NAME_MAX 32
#define BUILTIN_FILENAME "<built-in>"

#define SECTIONS_VALID "Limits, Workspace NAME"
#define WORKSPACE_NAME_VALID "1 to 64 characters A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit"

/*
 * The built-in policy: one workspace "default" that every user may use for every image. It
 * allows what the bundled recipes request (a network uplink, a Wayland display, audio
 * playback, the clipboard on request, the XDG user directories), and no microphone, camera,
 * USB device, GPU, home directory or other path.
 */
static const char builtin_text[] =
        "# The built-in vmpack policy, used when the policy directory does not exist.\n"
        "[Limits]\n"
        "filesystems=xdg-download:rw;xdg-documents:rw;xdg-desktop:rw;xdg-music:rw;xdg-pictures:rw;"
        "xdg-videos:rw\n"
        "network=uplink\n"
        "clipboard=on-request\n"
        "audio=playback\n"
        "display=wayland\n"
        "cpus=2\n"
        "memory=2G\n"
        "\n"
        "[Workspace default]\n"
        "Images=*\n"
        "filesystems=xdg-download:rw;xdg-documents:rw;xdg-desktop:rw;xdg-music:rw;xdg-pictures:rw;"
        "xdg-videos:rw\n"
        "network=uplink\n"
        "clipboard=on-request\n"
        "audio=playback\n"
        "microphone=none\n"
        "camera=none\n"
        "gpu=none\n"
        "display=wayland\n"
        "cpus=2\n"
        "memory=2G\n";

const char *vp_policy_builtin_text(void)
{
        return builtin_text;
}

const char *const policy_key_names[_POLICY_KEY_MAX] = {
        [POLICY_KEY_LABEL] = "Label",
        [POLICY_KEY_IMAGES] = "Images",
        [POLICY_KEY_USERS] = "Users",
        [POLICY_KEY_FILESYSTEMS] = "filesystems",
        [POLICY_KEY_NETWORK] = "network",
        [POLICY_KEY_CLIPBOARD] = "clipboard",
        [POLICY_KEY_AUDIO] = "audio",
        [POLICY_KEY_MICROPHONE] = "microphone",
        [POLICY_KEY_CAMERA] = "camera",
        [POLICY_KEY_USB] = "usb",
        [POLICY_KEY_GPU] = "gpu",
        [POLICY_KEY_DISPLAY] = "display",
        [POLICY_KEY_CPUS] = "cpus",
        [POLICY_KEY_MEMORY] = "memory",
};

static const char *const label_colors[] = {
        "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown", "gray", "black", "white",
        NULL,
};

typedef struct parser {
        vp_keyfile kf;
        vp_policy *policy;
        policy_scope *scope;
        unsigned key_line[_POLICY_KEY_MAX]; /* keys of the current section */
        char **sections;                    /* "Limits" or workspace names declared in this file */
        unsigned *section_lines;
} parser;

typedef struct key_spec {
        int (*parse)(parser *p, policy_key key, const char *value);
        const char *valid;
} key_spec;

static const key_spec key_specs[_POLICY_KEY_MAX];

/* "FILE:LINE: key 'X': MESSAGE (valid: ...)" for the key on the current line. */
static int key_error(parser *p, policy_key key, const char *fmt, ...) _printf_(3, 4);
static int key_error(parser *p, policy_key key, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vp_keyfile_key_errorv(&p->kf, policy_key_names[key], key_specs[key].valid, fmt, ap);
        va_end(ap);
        return r;
}

static int oom(parser *p)
{
        return vp_keyfile_oom(&p->kf);
}

char **policy_string_field(vp_permissions *permissions, policy_key key)
{
        switch (key) {
        case POLICY_KEY_NETWORK:
                return &permissions->network;
        case POLICY_KEY_CLIPBOARD:
                return &permissions->clipboard;
        case POLICY_KEY_AUDIO:
                return &permissions->audio;
        case POLICY_KEY_MICROPHONE:
                return &permissions->microphone;
        case POLICY_KEY_CAMERA:
                return &permissions->camera;
        case POLICY_KEY_GPU:
                return &permissions->gpu;
        case POLICY_KEY_DISPLAY:
                return &permissions->display;
        default:
                return NULL;
        }
}

static void scope_clear_key(policy_scope *scope, policy_key key)
{
        vp_permissions *permissions = &scope->permissions;
        char **field = policy_string_field(permissions, key);

        if (field) {
                free(*field);
                *field = NULL;
        }
        switch (key) {
        case POLICY_KEY_LABEL:
                free(scope->label);
                scope->label = NULL;
                break;
        case POLICY_KEY_IMAGES:
                scope->images = strv_free(scope->images);
                break;
        case POLICY_KEY_USERS:
                scope->users = strv_free(scope->users);
                break;
        case POLICY_KEY_FILESYSTEMS:
                for (size_t i = 0; i < permissions->n_filesystems; i++)
                        free(permissions->filesystems[i].location);
                free(permissions->filesystems);
                permissions->filesystems = NULL;
                permissions->n_filesystems = 0;
                break;
        case POLICY_KEY_USB:
                permissions->usb = strv_free(permissions->usb);
                break;
        case POLICY_KEY_CPUS:
                scope->cpus = 0;
                break;
        case POLICY_KEY_MEMORY:
                scope->memory_bytes = 0;
                break;
        default:
                /* A string field, cleared above. */
                break;
        }
        free(scope->sources[key]);
        scope->sources[key] = NULL;
}

static void scope_clear(policy_scope *scope)
{
        for (policy_key key = 0; key < _POLICY_KEY_MAX; key++)
                scope_clear_key(scope, key);
        free(scope->name);
        free(scope->source);
}

/* Split a list at ';' as recipes do: "\;" is a literal ';', items are trimmed, empty ones skipped. */
static int split_list(parser *p, policy_key key, const char *value, char ***ret)
{
        _cleanup_strv_free_ char **items = NULL;
        char buf[VP_KEYFILE_SHORT_SIZE];
        const char *duplicate;
        int r;

        r = vp_keyfile_split_list(value, POLICY_MAX_LIST_ITEMS, &items);
        if (r == -E2BIG)
                return key_error(p, key, "more than %d items", POLICY_MAX_LIST_ITEMS);
        if (r < 0)
                return oom(p);
        if (!items[0])
                return key_error(p, key, "empty list");
        duplicate = vp_keyfile_find_duplicate(items);
        if (duplicate)
                return key_error(p, key, "'%s' is listed twice", vp_keyfile_shorten(duplicate, buf));

        *ret = TAKE_PTR(items);
        return 0;
}

/* A lone "*" means "all"; it cannot be combined with names. */
static int check_wildcard(parser *p, policy_key key, char *const *items)
{
        if (strv_contains(items, "*") && items[1])
                return key_error(p, key, "'*' (all) cannot be combined with other items");
        return 0;
}

static policy_scope *scope_of(parser *p)
{
        return p->scope;
}

static int parse_label(parser *p, policy_key key, const char *value)
{
        char buf[VP_KEYFILE_SHORT_SIZE];
        bool hex = value[0] == '#' && strlen(value) == 7 && strspn(value + 1, "0123456789abcdefABCDEF") == 6;

        if (!hex && !strv_contains((char *const *) label_colors, value))
                return key_error(p, key, "invalid colour '%s'", vp_keyfile_shorten(value, buf));
        scope_of(p)->label = strdup(value);
        return scope_of(p)->label ? 0 : oom(p);
}

/* User and group names: characters of the POSIX portable filename character set, not
 * starting with '-', at most 32 bytes. */
static bool is_user_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > USER_NAME_MAX || s[0] == '-')
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The kind of name an invalid Images= item fails to be, or NULL for a valid item. */
static const char *check_image_item(const char *item)
{
        return strcmp(item, "*") == 0 || vp_image_name_valid(item) ? NULL : "image";
}

/* The same for Users=, whose items are user names and "@group" names. */
static const char *check_users_item(const char *item)
{
        if (item[0] == '@')
                return is_user_name(item + 1) ? NULL : "group";
        return is_user_name(item) ? NULL : "user";
}

/* Split a list of names and reject an item for which check() returns the kind of name. */
static int split_names(parser *p, policy_key key, const char *value, const char *(*check)(const char *item),
                       char ***ret)
{
        _cleanup_strv_free_ char **items = NULL;
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r;

        r = split_list(p, key, value, &items);
        if (r < 0)
                return r;
        STRV_FOREACH(item, items) {
                const char *kind = check(*item);
                if (kind)
                        return key_error(p, key, "invalid %s name '%s'", kind,
                                         vp_keyfile_shorten(*item, buf));
        }

        *ret = TAKE_PTR(items);
        return 0;
}

static int parse_images(parser *p, policy_key key, const char *value)
{
        _cleanup_strv_free_ char **items = NULL;
        int r;

        r = split_names(p, key, value, check_image_item, &items);
        if (r < 0)
                return r;
        r = check_wildcard(p, key, items);
        if (r < 0)
                return r;
        scope_of(p)->images = TAKE_PTR(items);
        return 0;
}

static int parse_users(parser *p, policy_key key, const char *value)
{
        return split_names(p, key, value, check_users_item, &scope_of(p)->users);
}

static int parse_filesystems(parser *p, policy_key key, const char *value)
{
        _cleanup_strv_free_ char **items = NULL, **locations = strv_new();
        vp_permissions *permissions = &scope_of(p)->permissions;
        char message[512], buf[VP_KEYFILE_SHORT_SIZE];
        size_t n;
        int r;

        if (!locations)
                return oom(p);
        r = split_list(p, key, value, &items);
        if (r < 0)
                return r;
        n = strv_length(items);
        permissions->filesystems = calloc(n, sizeof(vp_fs_permission));
        if (!permissions->filesystems)
                return oom(p);

        for (size_t i = 0; i < n; i++) {
                vp_fs_permission *fs = &permissions->filesystems[i];

                r = vp_fs_permission_parse(items[i], fs, message, sizeof(message));
                if (r == -ENOMEM)
                        return oom(p);
                if (r < 0)
                        return key_error(p, key, "%s", message);
                permissions->n_filesystems = i + 1;

                _cleanup_free_ char *normalized = policy_normalize_location(fs->location);
                if (!normalized)
                        return oom(p);
                if (strv_contains(locations, normalized))
                        return key_error(p, key, "'%s' is listed twice",
                                         vp_keyfile_shorten(fs->location, buf));
                if (strv_push(&locations, TAKE_PTR(normalized)) < 0)
                        return oom(p);
        }
        return 0;
}

static int parse_network(parser *p, policy_key key, const char *value)
{
        char buf[VP_KEYFILE_SHORT_SIZE];

        if (!vp_network_value_valid(value))
                return key_error(p, key, "invalid network '%s'", vp_keyfile_shorten(value, buf));
        scope_of(p)->permissions.network = strdup(value);
        return scope_of(p)->permissions.network ? 0 : oom(p);
}

static const char *const *choices_of(policy_key key)
{
        switch (key) {
        case POLICY_KEY_CLIPBOARD:
                return vp_clipboard_choices;
        case POLICY_KEY_AUDIO:
                return vp_audio_choices;
        case POLICY_KEY_MICROPHONE:
        case POLICY_KEY_CAMERA:
                return vp_switch_choices;
        case POLICY_KEY_GPU:
                return vp_gpu_choices;
        case POLICY_KEY_DISPLAY:
                return vp_display_choices;
        default:
                return NULL;
        }
}

static int parse_choice(parser *p, policy_key key, const char *value)
{
        char **field = policy_string_field(&scope_of(p)->permissions, key);
        char buf[VP_KEYFILE_SHORT_SIZE];

        if (!strv_contains((char *const *) choices_of(key), value))
                return key_error(p, key, "invalid value '%s'", vp_keyfile_shorten(value, buf));
        *field = strdup(value);
        return *field ? 0 : oom(p);
}

static int parse_usb(parser *p, policy_key key, const char *value)
{
        _cleanup_strv_free_ char **ids = NULL;
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r;

        r = split_list(p, key, value, &ids);
        if (r < 0)
                return r;
        STRV_FOREACH(id, ids) {
                if (strcmp(*id, "*") == 0)
                        continue;
                if (!vp_usb_id_valid(*id))
                        return key_error(p, key, "invalid USB device '%s'", vp_keyfile_shorten(*id, buf));
                for (char *c = *id; *c; c++)
                        if (*c >= 'A' && *c <= 'F')
                                *c = (char) (*c - 'A' + 'a');
        }
        r = check_wildcard(p, key, ids);
        if (r < 0)
                return r;
        const char *duplicate = vp_keyfile_find_duplicate(ids);
        if (duplicate)
                return key_error(p, key, "'%s' is listed twice", duplicate);
        scope_of(p)->permissions.usb = TAKE_PTR(ids);
        return 0;
}

static int parse_cpus(parser *p, policy_key key, const char *value)
{
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r = vp_cpus_parse(value, &scope_of(p)->cpus);

        if (r == -ERANGE)
                return key_error(p, key, "CPU count %d is out of range", atoi(value));
        if (r < 0)
                return key_error(p, key, "invalid CPU count '%s'", vp_keyfile_shorten(value, buf));
        return 0;
}

static int parse_memory(parser *p, policy_key key, const char *value)
{
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r = vp_memory_parse(value, &scope_of(p)->memory_bytes);

        if (r == -ERANGE)
                return key_error(p, key, "%s is out of range", vp_keyfile_shorten(value, buf));
        if (r < 0)
                return key_error(p, key, "invalid size '%s'", vp_keyfile_shorten(value, buf));
        return 0;
}

static const key_spec key_specs[_POLICY_KEY_MAX] = {
        [POLICY_KEY_LABEL] = { parse_label,
                               "red, orange, yellow, green, teal, blue, purple, pink, brown, gray, black, "
                               "white or #rrggbb" },
        [POLICY_KEY_IMAGES] = { parse_images, "image names separated by ';', or * for all images" },
        [POLICY_KEY_USERS] = { parse_users, "user names and @group names separated by ';'" },
        [POLICY_KEY_FILESYSTEMS] = { parse_filesystems, VP_VALID_FILESYSTEMS ", separated by ';'" },
        [POLICY_KEY_NETWORK] = { parse_network, VP_VALID_NETWORK },
        [POLICY_KEY_CLIPBOARD] = { parse_choice, "none, on-request" },
        [POLICY_KEY_AUDIO] = { parse_choice, "none, playback" },
        [POLICY_KEY_MICROPHONE] = { parse_choice, "none, on" },
        [POLICY_KEY_CAMERA] = { parse_choice, "none, on" },
        [POLICY_KEY_USB] = { parse_usb, VP_VALID_USB ", or * for any device" },
        [POLICY_KEY_GPU] = { parse_choice, "none, virgl" },
        [POLICY_KEY_DISPLAY] = { parse_choice, "none, wayland" },
        [POLICY_KEY_CPUS] = { parse_cpus, VP_VALID_CPUS },
        [POLICY_KEY_MEMORY] = { parse_memory, VP_VALID_MEMORY },
};

static policy_key first_key(const parser *p)
{
        return p->scope->name ? 0 : POLICY_KEY_FIRST_PERMISSION;
}

static int find_key(const parser *p, const char *name)
{
        for (policy_key key = first_key(p); key < _POLICY_KEY_MAX; key++)
                if (strcmp(policy_key_names[key], name) == 0)
                        return (int) key;
        return -1;
}

static int unknown_key_error(parser *p, const char *key)
{
        char valid[512] = "", suggestion[128] = "", buf[VP_KEYFILE_SHORT_SIZE];

        for (policy_key k = first_key(p); k < _POLICY_KEY_MAX; k++) {
                if (k > first_key(p))
                        strcat(valid, ", ");
                strcat(valid, policy_key_names[k]);
                if (strcasecmp(policy_key_names[k], key) == 0)
                        snprintf(suggestion, sizeof(suggestion), "; keys are case-sensitive, did you mean '%s'?",
                                 policy_key_names[k]);
        }
        if (!p->scope->name) {
                for (policy_key k = 0; k < POLICY_KEY_FIRST_PERMISSION; k++)
                        if (strcmp(policy_key_names[k], key) == 0)
                                return vp_keyfile_error(
                                        &p->kf,
                                        "key '%s': not allowed in [Limits], only in [Workspace NAME] "
                                        "(valid: %s)",
                                        key, valid);
        }
        return vp_keyfile_error(&p->kf, "key '%s': unknown key in [%s%s]%s (valid: %s)",
                                vp_keyfile_shorten(key, buf), p->scope->name ? "Workspace " : "Limits",
                                p->scope->name ? p->scope->name : "", suggestion, valid);
}

const policy_scope *policy_find_workspace(const vp_policy *policy, const char *name)
{
        for (size_t i = 0; i < policy->n_workspaces; i++)
                if (strcmp(policy->workspaces[i].name, name) == 0)
                        return &policy->workspaces[i];
        return NULL;
}

static int compare_strings(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Find or add the workspace, and keep the sorted name list in step. */
static policy_scope *workspace_get(parser *p, const char *name)
{
        vp_policy *policy = p->policy;
        policy_scope *scope = (policy_scope *) policy_find_workspace(policy, name);

        if (scope)
                return scope;
        if (policy->n_workspaces >= POLICY_MAX_WORKSPACES) {
                vp_keyfile_error(&p->kf, "more than %d workspaces", POLICY_MAX_WORKSPACES);
                return NULL;
        }

        policy_scope *workspaces = reallocarray(policy->workspaces, policy->n_workspaces + 1, sizeof(policy_scope));
        if (!workspaces) {
                oom(p);
                return NULL;
        }
        policy->workspaces = workspaces;
        scope = &workspaces[policy->n_workspaces];
        *scope = (policy_scope) { .name = strdup(name) };
        if (!scope->name || strv_extend(&policy->workspace_names, name) < 0) {
                free(scope->name);
                oom(p);
                return NULL;
        }
        policy->n_workspaces++;
        qsort(policy->workspace_names, policy->n_workspaces, sizeof(char *), compare_strings);
        return scope;
}

/* vp_keyfile_ops.section */
static int read_section(void *userdata, const char *name)
{
        parser *p = userdata;
        char buf[VP_KEYFILE_SHORT_SIZE];
        const char *workspace = NULL;

        if (strcmp(name, "Limits") == 0) {
                p->scope = &p->policy->limits;
        } else if (vp_str_startswith(name, "Workspace ")) {
                workspace = name + strlen("Workspace ");
                if (!vp_instance_name_valid(workspace))
                        return vp_keyfile_error(
                                &p->kf, "invalid workspace name '%s' (valid: " WORKSPACE_NAME_VALID ")",
                                vp_keyfile_shorten(workspace, buf));
                p->scope = workspace_get(p, workspace);
                if (!p->scope)
                        return p->kf.r;
        } else {
                return vp_keyfile_error(&p->kf, "unknown section '[%s]' (valid: " SECTIONS_VALID ")",
                                        vp_keyfile_shorten(name, buf));
        }

        const char *section = workspace ? workspace : "Limits";
        for (size_t i = 0; p->sections && p->sections[i]; i++)
                if (strcmp(p->sections[i], section) == 0)
                        return vp_keyfile_error(&p->kf, "duplicate section '[%s]' (first at line %u)", name,
                                                p->section_lines[i]);
        size_t count = strv_length(p->sections);
        unsigned *lines = reallocarray(p->section_lines, count + 1, sizeof(unsigned));
        if (!lines)
                return oom(p);
        p->section_lines = lines;
        lines[count] = p->kf.line;
        if (strv_extend(&p->sections, section) < 0)
                return oom(p);

        if (!p->scope->source) {
                p->scope->source = vp_strdup_printf("%s:%u", p->kf.filename, p->kf.line);
                if (!p->scope->source)
                        return oom(p);
        }
        memset(p->key_line, 0, sizeof(p->key_line));
        /* Workspace names are at most 64 bytes, so the header fits inih's line buffer. */
        return 0;
}

/* vp_keyfile_ops.key */
static int read_key(void *userdata, const char *key)
{
        parser *p = userdata;
        char buf[VP_KEYFILE_SHORT_SIZE];
        int k;

        if (!p->scope)
                return vp_keyfile_error(&p->kf,
                                        "key '%s': outside a section (valid: put it under [Limits] or "
                                        "[Workspace NAME])",
                                        vp_keyfile_shorten(key, buf));
        k = find_key(p, key);
        if (k < 0)
                return unknown_key_error(p, key);
        return k;
}

/* vp_keyfile_ops.value */
static int read_value(void *userdata, int k, const char *value)
{
        parser *p = userdata;
        policy_key key = (policy_key) k;
        int r;

        if (p->key_line[key] > 0)
                return vp_keyfile_error(&p->kf, "key '%s': duplicate key in this section (first at line %u)",
                                        policy_key_names[key], p->key_line[key]);
        p->key_line[key] = p->kf.line;

        /* A later file replaces a key; the section's other keys stay as earlier files set them. */
        scope_clear_key(p->scope, key);
        r = key_specs[key].parse(p, key, value);
        if (r < 0)
                return r;
        p->scope->sources[key] = vp_strdup_printf("%s:%u", p->kf.filename, p->kf.line);
        return p->scope->sources[key] ? 0 : oom(p);
}

static const vp_keyfile_ops keyfile_ops = {
        .section = read_section,
        .key = read_key,
        .value = read_value,
};

static int update_digest(vp_policy *policy, const char *filename, const char *text, vp_error *err)
{
        char hex[65];
        _cleanup_free_ char *line = NULL;

        vp_sha256_buffer(text, strlen(text), hex);
        line = vp_strdup_printf("%s%s\t%s\n", policy->digest_input ? policy->digest_input : "", filename, hex);
        if (!line)
                return vp_error_set(err, -ENOMEM, "out of memory");
        free(policy->digest_input);
        policy->digest_input = TAKE_PTR(line);
        vp_sha256_buffer(policy->digest_input, strlen(policy->digest_input), policy->digest);
        return 0;
}

int vp_policy_parse(vp_policy *policy, const char *filename, const char *text, vp_error *err)
{
        parser p = {
                .kf = {.filename = filename, .kind = "policy file", .err = err},
                .policy = policy,
        };
        int r;

        if (strlen(text) > POLICY_FILE_MAX_SIZE)
                return vp_error_set(err, -EFBIG, "%s: the policy file is larger than %d bytes", filename,
                                    POLICY_FILE_MAX_SIZE);
        if (strv_length(policy->files) >= POLICY_MAX_FILES)
                return vp_error_set(err, -E2BIG, "%s: more than %d policy files", filename, POLICY_MAX_FILES);
        if (strv_extend(&policy->files, filename) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = update_digest(policy, filename, text, err);
        if (r < 0)
                return r;

        r = vp_keyfile_parse(&p.kf, text, &keyfile_ops, &p);
        strv_free(p.sections);
        free(p.section_lines);
        return r;
}

int vp_policy_new(vp_policy **ret, vp_error *err)
{
        _cleanup_policy_ vp_policy *policy = calloc(1, sizeof(vp_policy));

        if (!policy)
                return vp_error_set(err, -ENOMEM, "out of memory");
        policy->files = strv_new();
        policy->workspace_names = strv_new();
        if (!policy->files || !policy->workspace_names)
                return vp_error_set(err, -ENOMEM, "out of memory");
        /* The digest of an empty policy is that of empty input. */
        vp_sha256_buffer("", 0, policy->digest);
        *ret = TAKE_PTR(policy);
        return 0;
}

static int filter_conf(const struct dirent *entry)
{
        return entry->d_name[0] != '.' && vp_str_endswith(entry->d_name, POLICY_FILE_SUFFIX);
}

/* Byte order, unlike alphasort(), so the order does not depend on the locale. */
static int compare_names(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int load_builtin(vp_policy **ret, vp_error *err)
{
        _cleanup_policy_ vp_policy *policy = NULL;
        int r;

        r = vp_policy_new(&policy, err);
        if (r < 0)
                return r;
        r = vp_policy_parse(policy, BUILTIN_FILENAME, builtin_text, err);
        if (r < 0)
                return vp_error_prefix(err, "built-in policy");
        policy->builtin = true;
        *ret = TAKE_PTR(policy);
        return 0;
}

int vp_policy_load(const char *directory, vp_policy **ret, vp_error *err)
{
        _cleanup_policy_ vp_policy *policy = NULL;
        struct dirent **entries = NULL;
        struct stat st;
        int n, r;

        if (stat(directory, &st) < 0) {
                if (errno == ENOENT)
                        return load_builtin(ret, err);
                return vp_error_set_errno(err, -errno, "policy directory %s", directory);
        }
        if (!S_ISDIR(st.st_mode))
                return vp_error_set(err, -ENOTDIR, "policy directory %s: not a directory", directory);

        r = vp_policy_new(&policy, err);
        if (r < 0)
                return r;

        n = scandir(directory, &entries, filter_conf, compare_names);
        if (n < 0)
                return vp_error_set_errno(err, -errno, "policy directory %s", directory);

        r = 0;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                size_t size;

                if (r < 0)
                        goto next;
                path = vp_strdup_printf("%s/%s", directory, entries[i]->d_name);
                if (!path) {
                        r = vp_error_set(err, -ENOMEM, "out of memory");
                        goto next;
                }
                r = vp_read_file(path, POLICY_FILE_MAX_SIZE, &text, &size, err);
                if (r == -EFBIG)
                        r = vp_error_set(err, r, "%s: the policy file is larger than %d bytes", path,
                                         POLICY_FILE_MAX_SIZE);
                else if (r < 0)
                        r = vp_error_prefix(err, "policy file");
                else if (memchr(text, '\0', size))
                        r = vp_error_set(err, -EINVAL, "%s: contains a NUL byte (a policy file is UTF-8 text)", path);
                else
                        r = vp_policy_parse(policy, path, text, err);
        next:
                free(entries[i]);
        }
        free(entries);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(policy);
        return 0;
}

vp_policy *vp_policy_free(vp_policy *policy)
{
        if (!policy)
                return NULL;

        strv_free(policy->files);
        strv_free(policy->workspace_names);
        scope_clear(&policy->limits);
        for (size_t i = 0; i < policy->n_workspaces; i++)
                scope_clear(&policy->workspaces[i]);
        free(policy->workspaces);
        free(policy->digest_input);
        free(policy);
        return NULL;
}

const char *vp_policy_digest(const vp_policy *policy)
{
        return policy->digest;
}

char *const *vp_policy_files(const vp_policy *policy)
{
        return policy->files;
}

char *const *vp_policy_workspaces(const vp_policy *policy)
{
        return policy->workspace_names;
}

bool vp_policy_is_builtin(const vp_policy *policy)
{
        return policy->builtin;
}

char *vp_policy_directory(bool system)
{
        /* VMPACK_CONFIG_DIR moves the system policy too, so tests can run a system daemon. */
        if (system && !getenv("VMPACK_CONFIG_DIR"))
                return strdup(VP_POLICY_SYSTEM_DIR);
        return vp_path(VP_DIR_CONFIG, VP_POLICY_SUBDIR);
}

char *policy_normalize_location(const char *location)
{
        _cleanup_free_ char *result = malloc(strlen(location) + 1);
        size_t n = 0;
        const char *s = location;

        if (!result)
                return NULL;
        if (vp_str_startswith(s, "~/")) {
                memcpy(result, "~", 1);
                n = 1;
                s++;
        } else if (*s != '/') {
                /* xdg-* and home are names, not paths. */
                strcpy(result, location);
                return TAKE_PTR(result);
        }

        while (*s) {
                s += strspn(s, "/");
                size_t length = strcspn(s, "/");
                if (length == 0)
                        break;
                if (!(length == 1 && s[0] == '.')) {
                        result[n++] = '/';
                        memcpy(result + n, s, length);
                        n += length;
                }
                s += length;
        }
        if (n == 0 || (n == 1 && result[0] == '~'))
                result[n++] = '/';
        result[n] = '\0';
        return TAKE_PTR(result);
}
