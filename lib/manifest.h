/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * App recipes: one keyfile per app, apps/<name>/<name>.vmpack, in the syntax of systemd
 * units and .desktop files ([Section], Key=value, lists separated by ';' with "\;" for a
 * literal semicolon). Errors read "FILE:LINE: key 'X': what is wrong (valid: ...)".
 *
 * The image name (vp_manifest.name) is the recipe file name without ".vmpack" and must match
 * [a-z0-9][a-z0-9._-]{0,63}; the Name= key is the human-readable name shown to users.
 * Comments start with '#' or ';' at the start of a line only, so values may contain both.
 */
#pragma once

#include "util.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum vp_share_mode {
        VP_SHARE_RO,
        VP_SHARE_RW,
        VP_SHARE_CREATE, /* read-write, created on the host if missing */
} vp_share_mode;

typedef struct vp_fs_permission {
        char *location; /* "xdg-download", "~/path" or "/path", as written */
        vp_share_mode mode;
} vp_fs_permission;

/* Permissions an app requests. A NULL string or empty list means "not requested" (none). */
typedef struct vp_permissions {
        vp_fs_permission *filesystems;
        size_t n_filesystems;
        char *network;    /* "none", "uplink" or a network VM's name */
        char *clipboard;  /* "none" or "on-request" */
        char *audio;      /* "none" or "playback" */
        char *microphone; /* "none" or "on" */
        char *camera;     /* "none" or "on" */
        char **usb;       /* "vendor:product" in hex, 4 digits each */
        char *gpu;        /* "none" or "virgl" */
        char *display;    /* "none" or "wayland" */
} vp_permissions;

typedef struct vp_file_copy {
        char *source;      /* absolute, resolved against the recipe's directory */
        char *destination; /* absolute path inside the image */
} vp_file_copy;

typedef struct vp_manifest {
        char *path;      /* the recipe file */
        char *directory; /* directory of the recipe file */

        /* [App] */
        char *name;         /* image name: the recipe file name without .vmpack */
        char *display_name; /* Name=; the image name when not set */
        char *summary;      /* NULL when not set */
        char *icon;       /* absolute path, resolved against the recipe's directory; NULL when not set */
        char *exec;       /* as written */
        char **exec_argv; /* split like a .desktop Exec line; may contain %f %F %u %U */
        char *base;       /* "debian:<suite>", "debian:bookworm" when not set */
        char **packages;  /* NULL when the recipe uses a Containerfile */

        /* [Build] */
        char *containerfile; /* absolute path; instead of packages */
        vp_file_copy *files;
        size_t n_files;
        char **run; /* shell commands run in the image at build time */
        bool hardened;

        /* [Resources] */
        unsigned cpus;         /* 0 when not set */
        uint64_t memory_bytes; /* 0 when not set */

        vp_permissions permissions;
} vp_manifest;

/* Parse and validate a recipe. path may name the .vmpack file or its directory. */
int vp_manifest_load(const char *path, vp_manifest **ret, vp_error *err);
/* Parse from memory; filename is used in messages and to resolve relative paths. */
int vp_manifest_parse(const char *filename, const char *text, vp_manifest **ret, vp_error *err);
vp_manifest *vp_manifest_free(vp_manifest *m);
static inline void vp_manifest_freep(vp_manifest **m)
{
        vp_manifest_free(*m);
}
#define _cleanup_manifest_ _cleanup_(vp_manifest_freep)

/* Split a .desktop-style Exec value into argv ("quoted strings", \" \\ escapes). */
int vp_exec_split(const char *exec, char ***ret_argv, vp_error *err);
/*
 * Replace %f/%u (one file), %F/%U (all files) and %% in argv with the given guest paths.
 * Files are appended when argv has no placeholder at all.
 */
int vp_exec_expand(char *const *argv, char *const *files, char ***ret_argv, vp_error *err);

const char *vp_share_mode_to_string(vp_share_mode mode);
