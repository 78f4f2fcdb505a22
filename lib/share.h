/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Folder shares: resolve a filesystems= location ("xdg-download", "~/Work", "/srv/data")
 * for one host user to an opened directory that QEMU can export with 9p.
 *
 * The result is a file descriptor, not a path, so nothing resolves the location a second
 * time. Every lookup uses openat2(2): home-relative locations resolve beneath the user's
 * home (RESOLVE_BENEATH, so a symbolic link may point elsewhere inside the home but never
 * out of it), absolute ones from "/" without following any symbolic link. The opened
 * directory is then rejected when it is, is inside, or contains a forbidden directory.
 * Those are /, /etc, /proc, /sys, /dev, /boot, /root (unless it is the user's home), the
 * user's home itself (only "is" and "contains"), vmpack's data directory (images and
 * instance volumes), VP_DIR_RUNTIME and a caller-supplied list.
 *
 * Guest paths: xdg-* and ~/path appear under VP_RUN_GUEST_HOME at the same relative path
 * ("~/Downloads" -> "/home/user/Downloads"); /path appears at the same path, unless that
 * is a system directory of the guest (/usr, /etc, /run, ...).
 */
#pragma once

#include "manifest.h"
#include "util.h"

#include <sys/types.h>

/* Maximum length of a location and of the guest path it maps to, in bytes. */
#define VP_SHARE_LOCATION_MAX 1024

/* The host user whose folders are shared. */
typedef struct vp_share_user {
        uid_t uid;
        gid_t gid;
        const char *home; /* absolute path of the home, as in the password database */
} vp_share_user;

/* An opened directory, ready to be exported to a VM. */
typedef struct vp_resolved_share {
        int fd;             /* O_PATH | O_DIRECTORY | O_CLOEXEC; -EBADF when cleared */
        char *host_path;    /* canonical host path, for messages and the audit log only */
        char *guest_path;   /* where the guest mounts it */
        vp_share_mode mode; /* as requested; VP_SHARE_CREATE shares read-write */
        bool created;       /* :create made at least one directory */
        dev_t dev;          /* st_dev and st_ino of fd, to re-check the directory later */
        ino_t ino;
} vp_resolved_share;

/* Close the descriptor and free the strings; safe to call twice. */
void vp_resolved_share_clear(vp_resolved_share *share);

/* Whether the share lets the guest write (VP_SHARE_RW or VP_SHARE_CREATE). */
bool vp_share_mode_writable(vp_share_mode mode);

/*
 * Resolve location for user with this process's credentials, which must be the user's
 * (or root in tests). forbidden is a NULL-terminated list of extra absolute paths that the
 * share may not be, be inside or contain; it may be NULL. With VP_SHARE_CREATE, missing
 * directories are created with mode 0700, one at a time and without following symbolic
 * links. Returns 0 and fills ret, or a negative errno with err set:
 *   -EINVAL  invalid location ("..", empty component, the home itself, guest system path)
 *   -ENOENT  the folder does not exist and mode is not VP_SHARE_CREATE
 *   -ENOTDIR not a directory
 *   -ELOOP / -EXDEV  a symbolic link that leaves the home, or any link in an absolute path
 *   -EPERM   a forbidden directory
 */
int vp_share_resolve(const vp_share_user *user, const char *location, vp_share_mode mode,
                     const char *const *forbidden, vp_resolved_share *ret, vp_error *err);

/*
 * Same as vp_share_resolve(), for a location inside root, the folder that the policy allows
 * (e.g. "~/Work" for "~/Work/Project"). root resolves like a location; the rest resolves
 * beneath it, so a symbolic link inside root never leads out of it (-EXDEV). root NULL or
 * equal to location: as vp_share_resolve(). -EINVAL when location is not inside root.
 */
int vp_share_resolve_within(const vp_share_user *user, const char *root, const char *location, vp_share_mode mode,
                            const char *const *forbidden, vp_resolved_share *ret, vp_error *err);

/*
 * Same as vp_share_resolve(), but a forked child that has dropped to the user's uid, gid
 * and supplementary groups does the lookup and the creation, and sends the descriptor
 * back. The caller then re-checks the received directory with its own rights. For root
 * (the system daemon) sharing a user's folder; when the caller already is the user, this
 * calls vp_share_resolve() directly.
 */
int vp_share_resolve_as(const vp_share_user *user, const char *location, vp_share_mode mode,
                        const char *const *forbidden, vp_resolved_share *ret, vp_error *err);
/* vp_share_resolve_within() in the same way as vp_share_resolve_as(). */
int vp_share_resolve_within_as(const vp_share_user *user, const char *root, const char *location,
                               vp_share_mode mode, const char *const *forbidden, vp_resolved_share *ret,
                               vp_error *err);

/* Compute the guest path of a location without touching the host filesystem (pure). The
 * xdg-* names map to the English default folders here; vp_share_resolve() reads the user's
 * user-dirs.dirs instead. */
int vp_share_guest_path(const char *location, char **ret, vp_error *err);

/*
 * Find the folder of an xdg-* name in home/.config/user-dirs.dirs, e.g. "Downloads" for
 * xdg-download. Returns the path relative to the home; the English default when the file
 * or the entry is missing. -EINVAL for an unknown name, a value outside the home or a
 * malformed entry.
 */
int vp_share_xdg_dir(const char *home, const char *name, char **ret, vp_error *err);
