/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Instance owners' overrides, and permissions copied, cleared and converted to and from JSON. */
#include "policy-internal.h"

#include "permission-values.h"

#include <inttypes.h>
#include <string.h>

#define OVERRIDE_MAX_OPTIONS 1024
#define OVERRIDE_OPTIONS_VALID                                                                             \
        "--nofilesystem=LOCATION, --filesystem=LOCATION:ro|rw, --nonetwork, "                              \
        "--nodevice=audio|microphone|camera|clipboard|gpu|usb, --cpus=N, --memory=SIZE"

static const struct {
        const char *name;
        vp_device device;
} device_names[] = {
        { "audio", VP_DEVICE_AUDIO },         { "microphone", VP_DEVICE_MICROPHONE },
        { "camera", VP_DEVICE_CAMERA },       { "clipboard", VP_DEVICE_CLIPBOARD },
        { "gpu", VP_DEVICE_GPU },             { "usb", VP_DEVICE_USB },
};

void vp_permissions_clear(vp_permissions *permissions)
{
        for (size_t i = 0; i < permissions->n_filesystems; i++)
                free(permissions->filesystems[i].location);
        free(permissions->filesystems);
        free(permissions->network);
        free(permissions->clipboard);
        free(permissions->audio);
        free(permissions->microphone);
        free(permissions->camera);
        strv_free(permissions->usb);
        free(permissions->gpu);
        free(permissions->display);
        *permissions = (vp_permissions) { 0 };
}

static int copy_string(const char *source, char **ret)
{
        *ret = NULL;
        if (!source)
                return 0;
        *ret = strdup(source);
        return *ret ? 0 : -ENOMEM;
}

int vp_permissions_copy(const vp_permissions *source, vp_permissions *ret)
{
        _cleanup_(vp_permissions_clear) vp_permissions copy = { 0 };

        if (source->n_filesystems > 0) {
                copy.filesystems = calloc(source->n_filesystems, sizeof(vp_fs_permission));
                if (!copy.filesystems)
                        return -ENOMEM;
                for (size_t i = 0; i < source->n_filesystems; i++) {
                        copy.filesystems[i].location = strdup(source->filesystems[i].location);
                        if (!copy.filesystems[i].location)
                                return -ENOMEM;
                        copy.filesystems[i].mode = source->filesystems[i].mode;
                        copy.n_filesystems = i + 1;
                }
        }
        if (copy_string(source->network, &copy.network) < 0 || copy_string(source->clipboard, &copy.clipboard) < 0 ||
            copy_string(source->audio, &copy.audio) < 0 || copy_string(source->microphone, &copy.microphone) < 0 ||
            copy_string(source->camera, &copy.camera) < 0 || copy_string(source->gpu, &copy.gpu) < 0 ||
            copy_string(source->display, &copy.display) < 0)
                return -ENOMEM;
        STRV_FOREACH(id, source->usb)
                if (strv_extend(&copy.usb, *id) < 0)
                        return -ENOMEM;

        *ret = copy;
        copy = (vp_permissions) { 0 };
        return 0;
}

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

/* The shape lib/build.c writes into image.json. */
json_t *vp_permissions_to_json(const vp_permissions *p)
{
        json_t *filesystems = json_array(), *usb = json_array();

        for (size_t i = 0; i < p->n_filesystems; i++)
                json_array_append_new(filesystems, json_pack("{s:s, s:s}", "location", p->filesystems[i].location,
                                                             "mode", vp_share_mode_to_string(p->filesystems[i].mode)));
        STRV_FOREACH(id, p->usb)
                json_array_append_new(usb, json_string(*id));
        return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "filesystems", filesystems, "network",
                         string_or_null(p->network), "clipboard", string_or_null(p->clipboard), "audio",
                         string_or_null(p->audio), "microphone", string_or_null(p->microphone), "camera",
                         string_or_null(p->camera), "usb", usb, "gpu", string_or_null(p->gpu), "display",
                         string_or_null(p->display));
}

static int choice_from_json(json_t *value, const char *key, const char *const *choices, char **ret, vp_error *err)
{
        if (!value || json_is_null(value))
                return 0;
        if (!json_is_string(value) || !strv_contains((char *const *) choices, json_string_value(value)))
                return vp_error_set(err, -EINVAL, "permissions: invalid %s value", key);
        *ret = strdup(json_string_value(value));
        return *ret ? 0 : vp_error_set(err, -ENOMEM, "out of memory");
}

static int filesystems_from_json(json_t *array, vp_permissions *p, vp_error *err)
{
        char message[512];
        size_t i;
        json_t *item;

        if (!array || json_is_null(array))
                return 0;
        if (!json_is_array(array))
                return vp_error_set(err, -EINVAL, "permissions: filesystems is not an array");
        if (json_array_size(array) > OVERRIDE_MAX_OPTIONS)
                return vp_error_set(err, -E2BIG, "permissions: more than %d filesystems", OVERRIDE_MAX_OPTIONS);
        if (json_array_size(array) == 0)
                return 0;
        p->filesystems = calloc(json_array_size(array), sizeof(vp_fs_permission));
        if (!p->filesystems)
                return vp_error_set(err, -ENOMEM, "out of memory");

        json_array_foreach(array, i, item) {
                const char *location = NULL, *mode = NULL;
                if (json_unpack(item, "{s:s, s:s}", "location", &location, "mode", &mode) < 0)
                        return vp_error_set(err, -EINVAL, "permissions: filesystems[%zu] needs location and mode", i);
                _cleanup_free_ char *item_text = vp_strdup_printf("%s:%s", location, mode);
                if (!item_text)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                int r = vp_fs_permission_parse(item_text, &p->filesystems[i], message, sizeof(message));
                if (r == -ENOMEM)
                        return vp_error_set(err, r, "out of memory");
                if (r < 0 || strchr(location, ':'))
                        return vp_error_set(err, -EINVAL, "permissions: filesystems[%zu]: %s", i,
                                            r < 0 ? message : "':' in the location");
                p->n_filesystems = i + 1;
        }
        return 0;
}

static int usb_from_json(json_t *array, vp_permissions *p, vp_error *err)
{
        size_t i;
        json_t *item;

        if (!array || json_is_null(array))
                return 0;
        if (!json_is_array(array) || json_array_size(array) > OVERRIDE_MAX_OPTIONS)
                return vp_error_set(err, -EINVAL, "permissions: usb is not an array of at most %d IDs",
                                    OVERRIDE_MAX_OPTIONS);
        json_array_foreach(array, i, item) {
                if (!json_is_string(item) || !vp_usb_id_valid(json_string_value(item)))
                        return vp_error_set(err, -EINVAL, "permissions: usb[%zu] is not a vendor:product ID", i);
                _cleanup_free_ char *id = strdup(json_string_value(item));
                if (!id)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                for (char *c = id; *c; c++)
                        if (*c >= 'A' && *c <= 'F')
                                *c = (char) (*c - 'A' + 'a');
                if (strv_push(&p->usb, TAKE_PTR(id)) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

int vp_permissions_from_json(json_t *json, vp_permissions *ret, vp_error *err)
{
        static const char *const known[] = { "filesystems", "network", "clipboard", "audio", "microphone",
                                             "camera",      "usb",     "gpu",       "display", NULL };
        _cleanup_(vp_permissions_clear) vp_permissions p = { 0 };
        const char *key;
        json_t *value;
        int r;

        if (!json || json_is_null(json)) {
                *ret = p;
                return 0;
        }
        if (!json_is_object(json))
                return vp_error_set(err, -EINVAL, "permissions: not a JSON object");
        /* A permission this version does not know cannot be granted, so it is an error rather
         * than silently dropped. */
        json_object_foreach(json, key, value)
                if (!strv_contains((char *const *) known, key))
                        return vp_error_set(err, -EINVAL, "permissions: unknown permission '%s' (valid: "
                                                          "filesystems, network, clipboard, audio, microphone, "
                                                          "camera, usb, gpu, display)",
                                            key);

        r = filesystems_from_json(json_object_get(json, "filesystems"), &p, err);
        if (r < 0)
                return r;
        value = json_object_get(json, "network");
        if (value && !json_is_null(value)) {
                if (!json_is_string(value) || !vp_network_value_valid(json_string_value(value)))
                        return vp_error_set(err, -EINVAL, "permissions: invalid network value");
                p.network = strdup(json_string_value(value));
                if (!p.network)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        r = choice_from_json(json_object_get(json, "clipboard"), "clipboard", vp_clipboard_choices, &p.clipboard, err);
        if (r >= 0)
                r = choice_from_json(json_object_get(json, "audio"), "audio", vp_audio_choices, &p.audio, err);
        if (r >= 0)
                r = choice_from_json(json_object_get(json, "microphone"), "microphone", vp_switch_choices,
                                     &p.microphone, err);
        if (r >= 0)
                r = choice_from_json(json_object_get(json, "camera"), "camera", vp_switch_choices, &p.camera, err);
        if (r >= 0)
                r = choice_from_json(json_object_get(json, "gpu"), "gpu", vp_gpu_choices, &p.gpu, err);
        if (r >= 0)
                r = choice_from_json(json_object_get(json, "display"), "display", vp_display_choices, &p.display,
                                     err);
        if (r >= 0)
                r = usb_from_json(json_object_get(json, "usb"), &p, err);
        if (r < 0)
                return r;

        *ret = p;
        p = (vp_permissions) { 0 };
        return 0;
}

vp_override *vp_override_free(vp_override *o)
{
        if (!o)
                return NULL;
        strv_free(o->nofilesystems);
        for (size_t i = 0; i < o->n_filesystems; i++)
                free(o->filesystems[i].location);
        free(o->filesystems);
        free(o);
        return NULL;
}

static int override_error(vp_error *err, const char *arg, const char *what)
{
        char buf[84];
        const char *shown = arg;

        if (strlen(arg) > 80) {
                snprintf(buf, sizeof(buf), "%.77s...", arg);
                shown = buf;
        }
        return vp_error_set(err, -EINVAL, "override '%s': %s (valid: " OVERRIDE_OPTIONS_VALID ")", shown, what);
}

static int parse_override_filesystem(vp_override *o, const char *arg, const char *value, bool narrow, vp_error *err)
{
        vp_fs_permission fs = { 0 };
        char message[512];
        int r;

        if (narrow && !strchr(value, ':'))
                return override_error(err, arg, "the location needs a mode, e.g. :ro");
        r = vp_fs_permission_parse(value, &fs, message, sizeof(message));
        if (r == -ENOMEM)
                return vp_error_set(err, r, "out of memory");
        if (r < 0)
                return override_error(err, arg, message);

        if (!narrow) {
                if (strchr(value, ':')) {
                        free(fs.location);
                        return override_error(err, arg, "--nofilesystem takes a location without a mode");
                }
                return strv_push(&o->nofilesystems, fs.location) < 0 ? vp_error_set(err, -ENOMEM, "out of memory")
                                                                     : 0;
        }
        if (fs.mode == VP_SHARE_CREATE) {
                free(fs.location);
                return override_error(err, arg, "an override can narrow a mode to ro or rw only");
        }
        vp_fs_permission *filesystems = reallocarray(o->filesystems, o->n_filesystems + 1, sizeof(vp_fs_permission));
        if (!filesystems) {
                free(fs.location);
                return vp_error_set(err, -ENOMEM, "out of memory");
        }
        o->filesystems = filesystems;
        o->filesystems[o->n_filesystems++] = fs;
        return 0;
}

static int parse_override_option(vp_override *o, const char *arg, vp_error *err)
{
        const char *value;
        int r;

        if ((value = vp_str_startswith(arg, "--nofilesystem=") ? arg + strlen("--nofilesystem=") : NULL))
                return parse_override_filesystem(o, arg, value, false, err);
        if ((value = vp_str_startswith(arg, "--filesystem=") ? arg + strlen("--filesystem=") : NULL))
                return parse_override_filesystem(o, arg, value, true, err);
        if (strcmp(arg, "--nonetwork") == 0) {
                o->nonetwork = true;
                return 0;
        }
        if (vp_str_startswith(arg, "--nodevice=")) {
                value = arg + strlen("--nodevice=");
                for (size_t i = 0; i < ELEMENTSOF(device_names); i++)
                        if (strcmp(value, device_names[i].name) == 0) {
                                o->nodevices |= device_names[i].device;
                                return 0;
                        }
                return override_error(err, arg, "unknown device");
        }
        if (vp_str_startswith(arg, "--cpus=")) {
                r = vp_cpus_parse(arg + strlen("--cpus="), &o->cpus);
                return r < 0 ? override_error(err, arg, "invalid CPU count, " VP_VALID_CPUS) : 0;
        }
        if (vp_str_startswith(arg, "--memory=")) {
                r = vp_memory_parse(arg + strlen("--memory="), &o->memory_bytes);
                return r < 0 ? override_error(err, arg, "invalid size, " VP_VALID_MEMORY) : 0;
        }
        return override_error(err, arg, "unknown option");
}

int vp_override_parse(char *const *args, vp_override **ret, vp_error *err)
{
        vp_override *o = *ret;
        _cleanup_override_ vp_override *created = NULL;
        int r;

        if (!o) {
                created = o = calloc(1, sizeof(vp_override));
                if (!o)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        if (strv_length(args) > OVERRIDE_MAX_OPTIONS)
                return vp_error_set(err, -E2BIG, "override: more than %d options", OVERRIDE_MAX_OPTIONS);
        STRV_FOREACH(arg, (char **) args) {
                r = parse_override_option(o, *arg, err);
                if (r < 0)
                        return r;
        }
        if (created)
                *ret = TAKE_PTR(created);
        return 0;
}

static const vp_fs_permission *find_requested(const vp_permissions *ask, const char *location, int *ret)
{
        _cleanup_free_ char *wanted = policy_normalize_location(location);

        *ret = wanted ? 0 : -ENOMEM;
        for (size_t i = 0; wanted && i < ask->n_filesystems; i++) {
                _cleanup_free_ char *candidate = policy_normalize_location(ask->filesystems[i].location);
                if (!candidate) {
                        *ret = -ENOMEM;
                        return NULL;
                }
                if (strcmp(candidate, wanted) == 0)
                        return &ask->filesystems[i];
        }
        return NULL;
}

static bool requested(const char *value)
{
        return value && strcmp(value, "none") != 0;
}

int vp_override_check(const vp_override *o, const vp_permissions *ask, unsigned cpus, uint64_t memory_bytes,
                      vp_error *err)
{
        static const vp_permissions nothing = { 0 };
        const vp_fs_permission *fs;
        int r;

        if (!ask)
                ask = &nothing;

        STRV_FOREACH(location, o->nofilesystems) {
                fs = find_requested(ask, *location, &r);
                if (r < 0)
                        return vp_error_set(err, r, "out of memory");
                if (!fs)
                        return vp_error_set(err, -EINVAL,
                                            "override can only narrow: the recipe does not ask for filesystems=%s",
                                            *location);
        }
        for (size_t i = 0; i < o->n_filesystems; i++) {
                const vp_fs_permission *narrow = &o->filesystems[i];
                fs = find_requested(ask, narrow->location, &r);
                if (r < 0)
                        return vp_error_set(err, r, "out of memory");
                if (!fs)
                        return vp_error_set(err, -EINVAL,
                                            "override can only narrow: the recipe does not ask for filesystems=%s",
                                            narrow->location);
                if (narrow->mode > fs->mode)
                        return vp_error_set(err, -EINVAL,
                                            "override can only narrow: the recipe asks for filesystems=%s:%s, not :%s",
                                            fs->location, vp_share_mode_to_string(fs->mode),
                                            vp_share_mode_to_string(narrow->mode));
        }
        if (o->nonetwork && !requested(ask->network))
                return vp_error_set(err, -EINVAL, "override can only narrow: the recipe does not ask for network");

        const char *device_values[] = { ask->audio, ask->microphone, ask->camera, ask->clipboard, ask->gpu };
        for (size_t i = 0; i < ELEMENTSOF(device_names); i++) {
                if (!(o->nodevices & device_names[i].device))
                        continue;
                bool asked = device_names[i].device == VP_DEVICE_USB ? ask->usb && ask->usb[0]
                                                                     : requested(device_values[i]);
                if (!asked)
                        return vp_error_set(err, -EINVAL, "override can only narrow: the recipe does not ask for %s",
                                            device_names[i].name);
        }

        unsigned requested_cpus = cpus ? cpus : VP_POLICY_DEFAULT_CPUS;
        uint64_t requested_memory = memory_bytes ? memory_bytes : VP_POLICY_DEFAULT_MEMORY_BYTES;
        if (o->cpus > requested_cpus)
                return vp_error_set(err, -EINVAL, "override can only narrow: the recipe asks for %u CPU%s, not %u",
                                    requested_cpus, requested_cpus == 1 ? "" : "s", o->cpus);
        if (o->memory_bytes > requested_memory)
                return vp_error_set(err, -EINVAL,
                                    "override can only narrow: the recipe asks for %" PRIu64 " MiB of memory, not "
                                    "%" PRIu64 " MiB",
                                    requested_memory >> 20, o->memory_bytes >> 20);
        return 0;
}

char **vp_override_to_args(const vp_override *o)
{
        _cleanup_strv_free_ char **args = strv_new();

        if (!args)
                return NULL;
        STRV_FOREACH(location, o->nofilesystems)
                if (strv_extendf(&args, "--nofilesystem=%s", *location) < 0)
                        return NULL;
        for (size_t i = 0; i < o->n_filesystems; i++)
                if (strv_extendf(&args, "--filesystem=%s:%s", o->filesystems[i].location,
                                 vp_share_mode_to_string(o->filesystems[i].mode)) < 0)
                        return NULL;
        if (o->nonetwork && strv_extend(&args, "--nonetwork") < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(device_names); i++)
                if ((o->nodevices & device_names[i].device) &&
                    strv_extendf(&args, "--nodevice=%s", device_names[i].name) < 0)
                        return NULL;
        if (o->cpus && strv_extendf(&args, "--cpus=%u", o->cpus) < 0)
                return NULL;
        if (o->memory_bytes % (1ULL << 20) == 0) {
                if (o->memory_bytes && strv_extendf(&args, "--memory=%" PRIu64 "M", o->memory_bytes >> 20) < 0)
                        return NULL;
        } else if (strv_extendf(&args, "--memory=%" PRIu64 "B", o->memory_bytes) < 0) {
                return NULL;
        }
        return TAKE_PTR(args);
}

/* {"options": ["--nonetwork", ...]}: the options are the stored form, so every later version
 * that parses options reads it. */
json_t *vp_override_to_json(const vp_override *o)
{
        _cleanup_strv_free_ char **args = vp_override_to_args(o);
        json_t *array = json_array();

        if (!args || !array) {
                json_decref(array);
                return NULL;
        }
        STRV_FOREACH(arg, args)
                json_array_append_new(array, json_string(*arg));
        return json_pack("{s:o}", "options", array);
}

int vp_override_from_json(json_t *json, vp_override **ret, vp_error *err)
{
        _cleanup_strv_free_ char **args = strv_new();
        _cleanup_override_ vp_override *o = NULL;
        json_t *array = json_is_object(json) ? json_object_get(json, "options") : NULL, *item;
        size_t i;
        int r;

        if (!args)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!json_is_array(array))
                return vp_error_set(err, -EINVAL, "override: expected {\"options\": [...]}");
        if (json_array_size(array) > OVERRIDE_MAX_OPTIONS)
                return vp_error_set(err, -E2BIG, "override: more than %d options", OVERRIDE_MAX_OPTIONS);
        json_array_foreach(array, i, item) {
                if (!json_is_string(item))
                        return vp_error_set(err, -EINVAL, "override: options[%zu] is not a string", i);
                if (strv_extend(&args, json_string_value(item)) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        r = vp_override_parse(args, &o, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}
