/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy model shared by the parser (policy.c) and the grant computation (grant.c). */
#pragma once

#include "policy.h"

typedef enum policy_key {
        POLICY_KEY_LABEL,
        POLICY_KEY_IMAGES,
        POLICY_KEY_USERS,
        /* The permission keys, in recipe order; [Limits] accepts these only. */
        POLICY_KEY_FILESYSTEMS,
        POLICY_KEY_NETWORK,
        POLICY_KEY_CLIPBOARD,
        POLICY_KEY_AUDIO,
        POLICY_KEY_MICROPHONE,
        POLICY_KEY_CAMERA,
        POLICY_KEY_USB,
        POLICY_KEY_GPU,
        POLICY_KEY_DISPLAY,
        POLICY_KEY_CPUS,
        POLICY_KEY_MEMORY,
        _POLICY_KEY_MAX,
} policy_key;

#define POLICY_KEY_FIRST_PERMISSION POLICY_KEY_FILESYSTEMS

/* [Limits] or one workspace, merged over all files. */
typedef struct policy_scope {
        char *name;   /* the workspace name; NULL for [Limits] */
        char *source; /* "FILE:LINE" of its first section header; NULL when never declared */
        char *label;
        char **images; /* image names or "*" */
        char **users;  /* user names and "@group" */
        vp_permissions permissions;
        unsigned cpus;
        uint64_t memory_bytes;
        char *sources[_POLICY_KEY_MAX]; /* "FILE:LINE" of each key; NULL when not set */
} policy_scope;

struct vp_policy {
        bool builtin;
        char **files;
        char **workspace_names; /* sorted */
        policy_scope limits;
        policy_scope *workspaces;
        size_t n_workspaces;
        char *digest_input; /* one "NAME\tSHA256\n" line per file */
        char digest[65];
};

extern const char *const policy_key_names[_POLICY_KEY_MAX];

const policy_scope *policy_find_workspace(const vp_policy *policy, const char *name);
/* The field of a permission whose value is one string (network and the choices such as audio),
 * or NULL for the other keys. */
char **policy_string_field(vp_permissions *permissions, policy_key key);
/* Normalize a "~/path" or "/path" location: no "." components, no repeated or trailing '/'. */
char *policy_normalize_location(const char *location);
