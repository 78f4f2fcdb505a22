/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy files, workspaces and grant computation. An app gets a permission only when its
 * recipe requests it, its workspace allows it and the administrator's [Limits] permit it.
 * Everything else is absent from its VM. docs/policy.md describes the format.
 *
 * Policy files are keyfiles named *.conf in a policy directory, read in lexical order:
 *   [Limits]           caps that apply to every workspace; an absent key caps at nothing
 *   [Workspace NAME]   Label=, Images=, Users= and the recipe's permission keys
 * A later section of the same workspace (or a later [Limits]) replaces the keys it sets.
 * Errors read "FILE:LINE: key 'X': what is wrong (valid: ...)", as for recipes.
 *
 * Everything here is a pure function of its inputs except vp_policy_load() (reads files)
 * and the default user lookup of vp_grant_compute() (getpwuid, getgrouplist).
 */
#pragma once

#include "manifest.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VP_POLICY_SYSTEM_DIR "/etc/vmpack/policy.d"
/* Below VP_DIR_CONFIG (see paths.h) in session mode. */
#define VP_POLICY_SUBDIR "policy.d"
#define VP_POLICY_DEFAULT_WORKSPACE "default"
/* Resources of an app whose recipe sets none. */
#define VP_POLICY_DEFAULT_CPUS 1U
#define VP_POLICY_DEFAULT_MEMORY_BYTES (256ULL << 20)

typedef struct vp_policy vp_policy;

/* The policy used when the policy directory does not exist, as policy file text. */
const char *vp_policy_builtin_text(void);

/* The policy directory: VP_DIR_CONFIG/policy.d, or VP_POLICY_SYSTEM_DIR when system is
 * true and VMPACK_CONFIG_DIR is not set. NULL when out of memory. */
char *vp_policy_directory(bool system);

/* An empty policy (grants nothing), for vp_policy_parse(). */
int vp_policy_new(vp_policy **ret, vp_error *err);
/*
 * Read every *.conf file of directory in lexical order. A missing directory gives the
 * built-in policy (vp_policy_is_builtin() is then true); an empty one grants nothing.
 */
int vp_policy_load(const char *directory, vp_policy **ret, vp_error *err);
/*
 * Add one policy file to policy. filename is used in messages and rule sources. On failure
 * the policy may contain part of the file, so the caller discards it.
 */
int vp_policy_parse(vp_policy *policy, const char *filename, const char *text, vp_error *err);
vp_policy *vp_policy_free(vp_policy *policy);
static inline void vp_policy_freep(vp_policy **policy)
{
        vp_policy_free(*policy);
}
#define _cleanup_policy_ _cleanup_(vp_policy_freep)

/* Lower-case hex SHA-256 over the names and contents of the files read, in order. */
const char *vp_policy_digest(const vp_policy *policy);
/* The files read, in order (the built-in policy is named "<built-in>"). Never NULL. */
char *const *vp_policy_files(const vp_policy *policy);
/* The workspace names, sorted. Never NULL. */
char *const *vp_policy_workspaces(const vp_policy *policy);
bool vp_policy_is_builtin(const vp_policy *policy);
/*
 * The effective policy (workspace rules capped by [Limits]) with the FILE:LINE of every rule:
 * {"files", "digest", "builtin", "limits": {KEY: RULE}, "workspaces": {NAME: {...}}}, where
 * a RULE is {"value", "source": "FILE:LINE" or null, "capped": what [Limits] cut or null}.
 * With workspace set, only that workspace is included; NULL when it does not exist.
 */
json_t *vp_policy_to_json(const vp_policy *policy, const char *workspace);

/* Devices an override can remove, as bits of vp_override.nodevices. */
typedef enum vp_device {
        VP_DEVICE_AUDIO = 1 << 0,
        VP_DEVICE_MICROPHONE = 1 << 1,
        VP_DEVICE_CAMERA = 1 << 2,
        VP_DEVICE_CLIPBOARD = 1 << 3,
        VP_DEVICE_GPU = 1 << 4,
        VP_DEVICE_USB = 1 << 5,
} vp_device;

/*
 * An instance owner's narrowing of what the recipe requests, set with "vmpack override" and
 * stored per instance. It can only remove or narrow: vp_grant_compute() applies it as a
 * further intersection, so it never grants more than the recipe requests.
 */
typedef struct vp_override {
        char **nofilesystems;            /* locations removed, as written in the recipe */
        vp_fs_permission *filesystems;   /* locations whose mode is narrowed */
        size_t n_filesystems;
        bool nonetwork;
        unsigned nodevices;              /* vp_device bits */
        unsigned cpus;                   /* 0: not narrowed */
        uint64_t memory_bytes;           /* 0: not narrowed */
} vp_override;

/*
 * Parse options such as "--nofilesystem=LOC", "--filesystem=LOC:ro", "--nonetwork",
 * "--nodevice=audio|microphone|camera|clipboard|gpu|usb", "--cpus=N", "--memory=SIZE".
 * Options are added to *ret when it is not NULL, else a new override is allocated.
 */
int vp_override_parse(char *const *args, vp_override **ret, vp_error *err);
/* Reject an override that does not narrow the request: "override can only narrow: the
 * recipe does not ask for ...". cpus and memory_bytes are the recipe's (0: not set). */
int vp_override_check(const vp_override *override, const vp_permissions *ask, unsigned cpus,
                      uint64_t memory_bytes, vp_error *err);
/* The override as options vp_override_parse() accepts. */
char **vp_override_to_args(const vp_override *override);
json_t *vp_override_to_json(const vp_override *override);
int vp_override_from_json(json_t *json, vp_override **ret, vp_error *err);
vp_override *vp_override_free(vp_override *override);
static inline void vp_override_freep(vp_override **override)
{
        vp_override_free(*override);
}
#define _cleanup_override_ _cleanup_(vp_override_freep)

/*
 * User lookup for Users= rules: the user name and the names of all groups of uid (primary
 * included). Returns 0, -ENOENT for an unknown uid or another negative errno. Injectable so
 * tests do not depend on /etc/passwd.
 */
typedef int (*vp_user_lookup)(uid_t uid, char **ret_name, char ***ret_groups, void *userdata);
int vp_user_lookup_system(uid_t uid, char **ret_name, char ***ret_groups, void *userdata);

typedef struct vp_grant_request {
        const char *workspace;      /* NULL: VP_POLICY_DEFAULT_WORKSPACE */
        const char *image;          /* image name, matched against Images= */
        uid_t uid;                  /* the caller, matched against Users= */
        const vp_permissions *ask;  /* the recipe's request; NULL: nothing */
        unsigned cpus;              /* the recipe's; 0: VP_POLICY_DEFAULT_CPUS */
        uint64_t memory_bytes;      /* the recipe's; 0: VP_POLICY_DEFAULT_MEMORY_BYTES */
        const vp_override *override; /* may be NULL */
        vp_user_lookup lookup;      /* NULL: vp_user_lookup_system */
        void *lookup_userdata;
} vp_grant_request;

/* One requested item that is not granted, or a refusal of the image, user or workspace. */
typedef struct vp_denial {
        char *permission; /* the recipe key ("network", "filesystems", ...), or "workspace",
                           * "image", "user" for a refusal */
        char *requested;  /* as in the recipe: "uplink", "~/Work:rw", the image or user name */
        char *rule;       /* why, e.g. "workspace 'banking' allows network=none (FILE:5)" */
        char *source;     /* "FILE:LINE" of the deciding rule; NULL when no rule exists */
        char *option;     /* "vmpack override" option that removes the request, e.g.
                           * "--nonetwork"; NULL for a refusal and for display, which no
                           * override removes */
} vp_denial;

typedef struct vp_grant {
        char *workspace;
        char *label;                /* the workspace's Label=; NULL when not set */
        vp_permissions permissions; /* granted; a NULL string or empty list means none */
        unsigned cpus;
        uint64_t memory_bytes;
        vp_denial *denials;
        size_t n_denials;
        char **notes; /* caps and ignored override entries, for people; never NULL */
        /* For each of permissions.filesystems, the policy location that allows it (the more
         * specific of the workspace's and the limits' entries, normalized, e.g. "~/Work" for
         * "~/Work/Project"). Policy checks are lexical, so a share must be resolved beneath
         * this location for a symbolic link not to lead out of what the policy allows. */
        char **filesystem_roots;
} vp_grant;

/*
 * Intersect the request with the workspace, the limits and the override. Denials are
 * recorded in ret, not returned as errors: the caller refuses a start when ret->n_denials
 * is not zero. Errors are for invalid arguments, a failed user lookup and out of memory.
 */
int vp_grant_compute(const vp_policy *policy, const vp_grant_request *request, vp_grant *ret,
                     vp_error *err);
void vp_grant_clear(vp_grant *grant);
/* {"workspace", "label", "permissions", "filesystem_roots", "cpus", "memory_bytes",
 *  "denials": [...], "notes"} */
json_t *vp_grant_to_json(const vp_grant *grant);
/*
 * One line per denial, such as "network=uplink is not granted: workspace 'banking' allows
 * network=none (FILE:5); start without it: vmpack override NAME --nonetwork". NULL when out
 * of memory; an empty string when nothing was denied.
 */
char *vp_grant_denial_message(const vp_grant *grant, const char *instance_name);

/* Read the "permissions" object of image.json (keys as in the recipe, see lib/build.c),
 * validating each value as the recipe parser does. NULL or JSON null: nothing requested. */
int vp_permissions_from_json(json_t *json, vp_permissions *ret, vp_error *err);
json_t *vp_permissions_to_json(const vp_permissions *permissions);
int vp_permissions_copy(const vp_permissions *source, vp_permissions *ret);
void vp_permissions_clear(vp_permissions *permissions);
