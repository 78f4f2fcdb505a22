/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vmpackd API: JSON messages over a Unix stream socket in the style of varlink. Each
 * message is one JSON object followed by a NUL byte.
 *
 *   request  {"method":"io.bheem.vmpack.Install","parameters":{...}}
 *   reply    {"parameters":{...}}
 *   error    {"error":"io.bheem.vmpack.InstanceNotFound","parameters":{"message":"..."}}
 *
 * The decoder is a pure function from bytes to a checked request: it rejects malformed
 * JSON, unknown methods, unknown or missing parameters and wrong types with a named error,
 * so the daemon's handlers see only well-typed parameters. docs/api.md lists every method.
 */
#pragma once

#include "util.h"

#include <jansson.h>

#define VP_API_INTERFACE "io.bheem.vmpack"
/* Largest message either side accepts, the NUL terminator included. */
#define VP_API_MESSAGE_MAX (1024 * 1024)
#define VP_API_SOCKET_NAME "vmpackd.sock"
#define VP_API_SYSTEM_SOCKET "/run/vmpack/vmpackd.sock"

/* Error names. Every error reply carries one of these and a "message" parameter. */
#define VP_API_ERROR_INVALID_REQUEST VP_API_INTERFACE ".InvalidRequest"
#define VP_API_ERROR_MESSAGE_TOO_LARGE VP_API_INTERFACE ".MessageTooLarge"
#define VP_API_ERROR_METHOD_NOT_FOUND VP_API_INTERFACE ".MethodNotFound"
#define VP_API_ERROR_INVALID_PARAMETER VP_API_INTERFACE ".InvalidParameter"
#define VP_API_ERROR_INSTANCE_NOT_FOUND VP_API_INTERFACE ".InstanceNotFound"
#define VP_API_ERROR_INSTANCE_EXISTS VP_API_INTERFACE ".InstanceExists"
#define VP_API_ERROR_INSTANCE_RUNNING VP_API_INTERFACE ".InstanceRunning"
#define VP_API_ERROR_INSTANCE_NOT_RUNNING VP_API_INTERFACE ".InstanceNotRunning"
#define VP_API_ERROR_INSTANCE_SUSPENDED VP_API_INTERFACE ".InstanceSuspended"
#define VP_API_ERROR_IMAGE_NOT_FOUND VP_API_INTERFACE ".ImageNotFound"
#define VP_API_ERROR_PERMISSION_DENIED VP_API_INTERFACE ".PermissionDenied"
#define VP_API_ERROR_FAILED VP_API_INTERFACE ".Failed"

typedef struct vp_api_error {
        const char *name; /* one of VP_API_ERROR_*, a static string */
        char message[1024];
} vp_api_error;

/* Set the error and return -EINVAL, so a decoder can "return vp_api_error_set(...)". */
int vp_api_error_set(vp_api_error *error, const char *name, const char *fmt, ...) _printf_(3, 4);

typedef struct vp_api_request {
        const char *method; /* without the interface prefix, e.g. "Install"; points into a static table */
        json_t *parameters; /* an object whose members match the method's table; owned */
} vp_api_request;

void vp_api_request_clear(vp_api_request *request);

/*
 * Decode one message (without its NUL terminator) and check it against the method table:
 * the method exists, every required parameter is present, no unknown parameter appears,
 * and every value has its declared type. Returns 0, or -EINVAL with error set.
 */
int vp_api_decode_request(const char *data, size_t size, vp_api_request *ret, vp_api_error *error);

/* Encode a request, a reply or an error as a NUL-terminated message. Returns the message
 * (size in *ret_size, the NUL included) or NULL when out of memory or larger than
 * VP_API_MESSAGE_MAX. parameters may be NULL for an empty object; it is not stolen. */
char *vp_api_encode_request(const char *method, json_t *parameters, size_t *ret_size);
char *vp_api_encode_reply(json_t *parameters, size_t *ret_size);
char *vp_api_encode_error(const char *name, const char *message, size_t *ret_size);

/*
 * Decode a reply (without its NUL terminator). On a success reply return 0 and the
 * parameters object in *ret_parameters. On an error reply return -EREMOTE with the
 * error's name and message in *error. A malformed reply gives -EBADMSG.
 */
int vp_api_decode_reply(const char *data, size_t size, json_t **ret_parameters, vp_api_error *error);

/*
 * The caller's graphical session: the variables that decide where an instance's window
 * and sound go (DISPLAY, WAYLAND_DISPLAY, XAUTHORITY, XDG_RUNTIME_DIR, PULSE_SERVER).
 * vp_api_session_from_environment() returns an object of those that are set, for the
 * "session" parameter of Start and Resume. vp_api_session_to_strv() checks such an object
 * and turns it into "NAME=VALUE" strings: -EINVAL with a message for an unknown name, a
 * value that is not a string, or one longer than VP_API_SESSION_VALUE_MAX bytes.
 */
#define VP_API_SESSION_VALUE_MAX 4096
extern const char *const vp_api_session_variables[];
json_t *vp_api_session_from_environment(void);
int vp_api_session_to_strv(json_t *session, char ***ret, vp_error *err);
