/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum parameter_type {
        TYPE_STRING,
        TYPE_INTEGER, /* a JSON integer >= 0 */
        TYPE_BOOLEAN,
        TYPE_STRINGS, /* an array of strings */
        TYPE_STRING_MAP, /* an object whose members are strings */
} parameter_type;

typedef struct parameter {
        const char *name;
        parameter_type type;
        bool required;
} parameter;

#define MAX_PARAMETERS 6
/* Maximum length of a string parameter, and maximum number of items in a string array. */
#define MAX_STRING_BYTES 4096
#define MAX_ARRAY_ITEMS 256

typedef struct method {
        const char *name;
        parameter parameters[MAX_PARAMETERS];
} method;

/* Every method and its parameters; docs/api.md describes each of them. */
static const method methods[] = {
        { "GetInfo", {} },
        { "Install",
          {
                  { "image", TYPE_STRING, true },
                  { "name", TYPE_STRING, true },
                  { "workspace", TYPE_STRING, false },
                  { "data_size", TYPE_INTEGER, false },
          } },
        { "Uninstall", { { "name", TYPE_STRING, true }, { "purge", TYPE_BOOLEAN, false } } },
        { "List", {} },
        { "Info", { { "name", TYPE_STRING, true } } },
        { "Start",
          {
                  { "name", TYPE_STRING, true },
                  { "arguments", TYPE_STRINGS, false },
                  { "files", TYPE_STRINGS, false },
                  { "entrypoint", TYPE_STRING, false },
                  { "session", TYPE_STRING_MAP, false },
          } },
        { "Stop", { { "name", TYPE_STRING, true }, { "timeout", TYPE_INTEGER, false } } },
        { "Kill", { { "name", TYPE_STRING, true } } },
        { "Suspend", { { "name", TYPE_STRING, true } } },
        { "Resume", { { "name", TYPE_STRING, true }, { "session", TYPE_STRING_MAP, false } } },
        { "Ps", {} },
        { "Logs",
          {
                  { "name", TYPE_STRING, true },
                  { "offset", TYPE_INTEGER, false },
                  { "max_bytes", TYPE_INTEGER, false },
          } },
        { "Override",
          {
                  { "name", TYPE_STRING, true },
                  { "options", TYPE_STRINGS, false },
                  { "reset", TYPE_BOOLEAN, false },
          } },
        { "Audit",
          {
                  { "since_ms", TYPE_INTEGER, false },
                  { "instance", TYPE_STRING, false },
                  { "limit", TYPE_INTEGER, false },
          } },
};

static const char *type_name(parameter_type type)
{
        switch (type) {
        case TYPE_STRING:
                return "a string";
        case TYPE_INTEGER:
                return "a non-negative integer";
        case TYPE_BOOLEAN:
                return "a boolean";
        case TYPE_STRINGS:
                return "an array of strings";
        case TYPE_STRING_MAP:
                return "an object of strings";
        }
        return "?";
}

int vp_api_error_set(vp_api_error *error, const char *name, const char *fmt, ...)
{
        va_list ap;

        error->name = name;
        va_start(ap, fmt);
        vsnprintf(error->message, sizeof(error->message), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

void vp_api_request_clear(vp_api_request *request)
{
        json_decref(request->parameters);
        *request = (vp_api_request) {};
}

static bool string_ok(json_t *value)
{
        return json_is_string(value) && json_string_length(value) <= MAX_STRING_BYTES &&
               strlen(json_string_value(value)) == json_string_length(value);
}

static bool value_has_type(json_t *value, parameter_type type)
{
        size_t i;
        json_t *item;

        switch (type) {
        case TYPE_STRING:
                return string_ok(value);
        case TYPE_INTEGER:
                return json_is_integer(value) && json_integer_value(value) >= 0;
        case TYPE_BOOLEAN:
                return json_is_boolean(value);
        case TYPE_STRINGS:
                if (!json_is_array(value) || json_array_size(value) > MAX_ARRAY_ITEMS)
                        return false;
                json_array_foreach(value, i, item)
                        if (!string_ok(item))
                                return false;
                return true;
        case TYPE_STRING_MAP: {
                const char *key;
                if (!json_is_object(value) || json_object_size(value) > MAX_ARRAY_ITEMS)
                        return false;
                json_object_foreach(value, key, item)
                        if (!string_ok(item))
                                return false;
                return true;
        }
        }
        return false;
}

static const parameter *find_parameter(const method *m, const char *name)
{
        for (size_t i = 0; i < MAX_PARAMETERS && m->parameters[i].name; i++)
                if (strcmp(m->parameters[i].name, name) == 0)
                        return &m->parameters[i];
        return NULL;
}

static int check_parameters(const method *m, json_t *parameters, vp_api_error *error)
{
        const char *key;
        json_t *value;

        json_object_foreach(parameters, key, value) {
                const parameter *p = find_parameter(m, key);
                if (!p)
                        return vp_api_error_set(error, VP_API_ERROR_INVALID_PARAMETER,
                                                "%s: unknown parameter '%.64s'", m->name, key);
                if (!value_has_type(value, p->type))
                        return vp_api_error_set(error, VP_API_ERROR_INVALID_PARAMETER,
                                                "%s: parameter '%s' must be %s%s", m->name, key,
                                                type_name(p->type),
                                                p->type == TYPE_STRING || p->type == TYPE_STRINGS
                                                        ? " (at most 4096 bytes each, no NUL)"
                                                        : "");
        }

        for (size_t i = 0; i < MAX_PARAMETERS && m->parameters[i].name; i++)
                if (m->parameters[i].required && !json_object_get(parameters, m->parameters[i].name))
                        return vp_api_error_set(error, VP_API_ERROR_INVALID_PARAMETER,
                                                "%s: missing parameter '%s' (%s)", m->name,
                                                m->parameters[i].name, type_name(m->parameters[i].type));
        return 0;
}

int vp_api_decode_request(const char *data, size_t size, vp_api_request *ret, vp_api_error *error)
{
        json_error_t json_error;
        const method *m = NULL;

        if (size >= VP_API_MESSAGE_MAX)
                return vp_api_error_set(error, VP_API_ERROR_MESSAGE_TOO_LARGE,
                                        "message is %zu bytes (max %d with its NUL terminator)", size,
                                        VP_API_MESSAGE_MAX);

        json_t *root = json_loadb(data, size, JSON_REJECT_DUPLICATES, &json_error);
        if (!root)
                return vp_api_error_set(error, VP_API_ERROR_INVALID_REQUEST, "malformed JSON at byte %d: %s",
                                        json_error.position, json_error.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return vp_api_error_set(error, VP_API_ERROR_INVALID_REQUEST,
                                        "request must be a JSON object with \"method\" and \"parameters\"");
        }

        json_t *method_value = json_object_get(root, "method");
        json_t *parameters = json_object_get(root, "parameters");
        const char *key;
        json_t *value;
        int r = 0;

        json_object_foreach(root, key, value)
                if (strcmp(key, "method") != 0 && strcmp(key, "parameters") != 0) {
                        r = vp_api_error_set(error, VP_API_ERROR_INVALID_REQUEST,
                                             "unknown request member '%.64s' (valid: method, parameters)", key);
                        goto out;
                }

        if (!json_is_string(method_value)) {
                r = vp_api_error_set(error, VP_API_ERROR_INVALID_REQUEST, "\"method\" is missing or not a string");
                goto out;
        }
        const char *full = json_string_value(method_value);
        const char *prefix = VP_API_INTERFACE ".";
        if (vp_str_startswith(full, prefix))
                for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                        if (strcmp(full + strlen(prefix), methods[i].name) == 0)
                                m = &methods[i];
        if (!m) {
                r = vp_api_error_set(error, VP_API_ERROR_METHOD_NOT_FOUND,
                                     "unknown method '%.128s' (methods are named " VP_API_INTERFACE
                                     ".Install, ...; see docs/api.md)",
                                     full);
                goto out;
        }

        if (parameters && !json_is_object(parameters)) {
                r = vp_api_error_set(error, VP_API_ERROR_INVALID_REQUEST, "\"parameters\" must be an object");
                goto out;
        }
        parameters = parameters ? json_incref(parameters) : json_object();
        if (!parameters) {
                r = vp_api_error_set(error, VP_API_ERROR_FAILED, "out of memory");
                goto out;
        }
        r = check_parameters(m, parameters, error);
        if (r < 0) {
                json_decref(parameters);
                goto out;
        }

        *ret = (vp_api_request) { .method = m->name, .parameters = parameters };
out:
        json_decref(root);
        return r;
}

static char *encode(json_t *message, size_t *ret_size)
{
        if (!message)
                return NULL;
        char *text = json_dumps(message, JSON_COMPACT);
        json_decref(message);
        if (!text)
                return NULL;

        /* json_dumps never emits a NUL byte: strings escape it as \u0000. */
        size_t size = strlen(text) + 1;
        if (size > VP_API_MESSAGE_MAX) {
                free(text);
                return NULL;
        }
        *ret_size = size;
        return text;
}

char *vp_api_encode_request(const char *method_name, json_t *parameters, size_t *ret_size)
{
        _cleanup_free_ char *full = vp_strdup_printf(VP_API_INTERFACE ".%s", method_name);

        if (!full)
                return NULL;
        /* "o" steals the new empty object, "O" takes a reference to the caller's. */
        if (!parameters)
                return encode(json_pack("{s:s, s:o}", "method", full, "parameters", json_object()), ret_size);
        return encode(json_pack("{s:s, s:O}", "method", full, "parameters", parameters), ret_size);
}

char *vp_api_encode_reply(json_t *parameters, size_t *ret_size)
{
        if (!parameters)
                return encode(json_pack("{s:o}", "parameters", json_object()), ret_size);
        return encode(json_pack("{s:O}", "parameters", parameters), ret_size);
}

char *vp_api_encode_error(const char *name, const char *message, size_t *ret_size)
{
        return encode(json_pack("{s:s, s:{s:s}}", "error", name, "parameters", "message", message), ret_size);
}

int vp_api_decode_reply(const char *data, size_t size, json_t **ret_parameters, vp_api_error *error)
{
        json_t *root = json_loadb(data, size, 0, NULL);
        json_t *parameters = json_object_get(root, "parameters");
        json_t *name = json_object_get(root, "error");
        int r;

        if (!json_is_object(root) || (parameters && !json_is_object(parameters)) || (name && !json_is_string(name))) {
                json_decref(root);
                vp_api_error_set(error, VP_API_ERROR_FAILED, "malformed reply from vmpackd");
                return -EBADMSG;
        }

        if (name) {
                const char *message = json_string_value(json_object_get(parameters, "message"));
                /* The name must outlive root: map it to our static string when we know it. */
                static const char *const known[] = {
                        VP_API_ERROR_INVALID_REQUEST,     VP_API_ERROR_MESSAGE_TOO_LARGE,
                        VP_API_ERROR_METHOD_NOT_FOUND,    VP_API_ERROR_INVALID_PARAMETER,
                        VP_API_ERROR_INSTANCE_NOT_FOUND,  VP_API_ERROR_INSTANCE_EXISTS,
                        VP_API_ERROR_INSTANCE_RUNNING,    VP_API_ERROR_INSTANCE_NOT_RUNNING,
                        VP_API_ERROR_IMAGE_NOT_FOUND,     VP_API_ERROR_PERMISSION_DENIED,
                        VP_API_ERROR_INSTANCE_SUSPENDED,  VP_API_ERROR_FAILED,
                };
                const char *static_name = VP_API_ERROR_FAILED;
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        if (strcmp(json_string_value(name), known[i]) == 0)
                                static_name = known[i];
                vp_api_error_set(error, static_name, "%s", message ? message : json_string_value(name));
                json_decref(root);
                return -EREMOTE;
        }

        r = 0;
        *ret_parameters = parameters ? json_incref(parameters) : json_object();
        json_decref(root);
        return r;
}

const char *const vp_api_session_variables[] = {
        "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR", "PULSE_SERVER", NULL,
};

json_t *vp_api_session_from_environment(void)
{
        json_t *session = json_object();

        for (const char *const *name = vp_api_session_variables; session && *name; name++) {
                const char *value = getenv(*name);
                if (value && *value && json_object_set_new(session, *name, json_string(value)) < 0) {
                        json_decref(session);
                        return NULL;
                }
        }
        return session;
}

int vp_api_session_to_strv(json_t *session, char ***ret, vp_error *err)
{
        _cleanup_strv_free_ char **strv = strv_new();
        const char *name;
        json_t *value;

        if (!strv)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!json_is_object(session))
                return vp_error_set(err, -EINVAL, "parameter 'session' must be an object");
        json_object_foreach(session, name, value) {
                bool known = false;
                for (const char *const *v = vp_api_session_variables; *v && !known; v++)
                        known = strcmp(*v, name) == 0;
                if (!known)
                        return vp_error_set(err, -EINVAL, "parameter 'session': unknown variable '%s'", name);
                if (!json_is_string(value) || json_string_length(value) > VP_API_SESSION_VALUE_MAX ||
                    strlen(json_string_value(value)) != json_string_length(value))
                        return vp_error_set(err, -EINVAL,
                                            "parameter 'session': %s must be a string of at most %d bytes", name,
                                            VP_API_SESSION_VALUE_MAX);
                char *entry = vp_strdup_printf("%s=%s", name, json_string_value(value));
                if (!entry || strv_push(&strv, entry) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = strv;
        strv = NULL;
        return 0;
}
