/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client side of the vmpackd API (see api.h). vp_client_connect() finds the daemon:
 * the socket path in VMPACK_SOCKET when set, else the system daemon's socket when
 * VMPACK_SYSTEM=1 is set, else the session daemon's VP_DIR_RUNTIME/vmpackd.sock, which it
 * starts on demand when no daemon listens there. It starts a daemon only in the last case.
 */
#pragma once

#include "api.h"
#include "util.h"

#include <jansson.h>

typedef struct vp_client {
        int fd;
        char *buffer; /* bytes received after the last complete reply */
        size_t size;
} vp_client;

/* Connect, starting the session daemon when needed (it is looked up as VMPACKD, else next
 * to the vmpack binary in the build tree, else in PATH). */
int vp_client_connect(vp_client *client, vp_error *err);
void vp_client_close(vp_client *client);

/*
 * Send one request and wait for its reply. Returns 0 with the reply's parameters in *ret
 * (may be NULL to drop them), or -EREMOTE when the daemon replied with an error, whose name
 * and message are then in *api_error and err. Other negative errnos: transport failures.
 */
int vp_client_call(vp_client *client, const char *method, json_t *parameters, json_t **ret,
                   vp_api_error *api_error, vp_error *err);

/* The socket path the client uses, newly allocated. */
char *vp_client_socket_path(void);
