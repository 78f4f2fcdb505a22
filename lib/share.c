/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "share.h"

#include "paths.h"
#include "vmrun.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#define USER_DIRS_MAX (64 * 1024)
/* Bounds the walk from a directory up to "/"; far deeper than any real tree. */
#define ANCESTORS_MAX 4096
#define OPEN_RETRIES 8
/* How long vp_share_resolve_as() waits for its child, e.g. on a hung network filesystem. */
#define RESOLVE_TIMEOUT_S 30

typedef struct xdg_name {
        const char *location; /* "xdg-download" */
        const char *key;      /* "XDG_DOWNLOAD_DIR" in user-dirs.dirs */
        const char *fallback; /* English default, relative to the home */
} xdg_name;

static const xdg_name xdg_names[] = {
        { "xdg-desktop", "XDG_DESKTOP_DIR", "Desktop" },
        { "xdg-documents", "XDG_DOCUMENTS_DIR", "Documents" },
        { "xdg-download", "XDG_DOWNLOAD_DIR", "Downloads" },
        { "xdg-music", "XDG_MUSIC_DIR", "Music" },
        { "xdg-pictures", "XDG_PICTURES_DIR", "Pictures" },
        { "xdg-videos", "XDG_VIDEOS_DIR", "Videos" },
};

#define VALID_LOCATIONS                                                                                    \
        "xdg-desktop, xdg-documents, xdg-download, xdg-music, xdg-pictures, xdg-videos, ~/PATH, /PATH"

/* Guest directories that a share may not be or lie inside: mounting over them would
 * replace the guest's own system files. */
static const char *const guest_system_dirs[] = {
        "/bin", "/boot", "/dev",  "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
        "/root", "/run", "/sbin", "/sys", "/tmp", "/usr",   "/var",   "/init",
};

/* Host directories that a share may not be, be inside, or contain. */
static const char *const host_forbidden_dirs[] = {
        "/etc", "/proc", "/sys", "/dev", "/boot", "/root",
};

typedef enum location_kind {
        LOCATION_HOME,     /* relative to the user's home */
        LOCATION_ABSOLUTE, /* from "/" */
} location_kind;

/* A location split into its kind and a path relative to the home or to "/". */
typedef struct parsed_location {
        location_kind kind;
        const xdg_name *xdg; /* set for xdg-* */
        char *relative;      /* NULL for xdg-* until user-dirs.dirs was read */
} parsed_location;

enum {
        FORBID_SAME = 1 << 0,
        FORBID_INSIDE = 1 << 1,
        FORBID_CONTAINS = 1 << 2,
};

typedef struct forbidden_dir {
        dev_t dev;
        ino_t ino;
        int flags;
        char *path;
        int fd; /* O_PATH, kept for the walk up from it (FORBID_CONTAINS) */
} forbidden_dir;

typedef struct forbidden_set {
        forbidden_dir *dirs;
        size_t n;
} forbidden_set;

static void forbidden_set_clear(forbidden_set *set)
{
        for (size_t i = 0; i < set->n; i++) {
                free(set->dirs[i].path);
                if (set->dirs[i].fd >= 0)
                        close(set->dirs[i].fd);
        }
        free(set->dirs);
        *set = (forbidden_set) { 0 };
}

void vp_resolved_share_clear(vp_resolved_share *share)
{
        if (!share)
                return;
        if (share->fd >= 0)
                close(share->fd);
        free(share->host_path);
        free(share->guest_path);
        *share = (vp_resolved_share) { .fd = -EBADF };
}

bool vp_share_mode_writable(vp_share_mode mode)
{
        return mode == VP_SHARE_RW || mode == VP_SHARE_CREATE;
}

static int openat2_retry(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
        struct open_how how = { .flags = flags, .resolve = resolve };

        /* RESOLVE_BENEATH returns EAGAIN when a rename raced with the lookup. */
        for (int i = 0;; i++) {
                long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int) fd;
                if (errno != EAGAIN || i >= OPEN_RETRIES)
                        return -errno;
        }
}

/* A relative path of plain names: no empty, "." or ".." component. NUL ends it, so any
 * other byte (spaces, newlines, UTF-8) is allowed. */
static int check_relative(const char *location, const char *relative, vp_error *err)
{
        if (*relative == '\0')
                return vp_error_set(err, -EINVAL, "share '%s': the path is empty", location);
        if (strlen(relative) > VP_SHARE_LOCATION_MAX)
                return vp_error_set(err, -EINVAL, "share '%s': the path is longer than %d bytes", location,
                                    VP_SHARE_LOCATION_MAX);

        for (const char *s = relative;;) {
                size_t n = strcspn(s, "/");
                if (n == 0)
                        return vp_error_set(err, -EINVAL,
                                            "share '%s': empty path component (remove the doubled or trailing '/')",
                                            location);
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return vp_error_set(err, -EINVAL,
                                            "share '%s': '.' and '..' are not allowed in a shared folder's path",
                                            location);
                if (s[n] == '\0')
                        return 0;
                s += n + 1;
        }
}

static int parse_location(const char *location, parsed_location *ret, vp_error *err)
{
        if (!location || !*location)
                return vp_error_set(err, -EINVAL, "share location is empty (valid: " VALID_LOCATIONS ")");

        for (size_t i = 0; i < ELEMENTSOF(xdg_names); i++)
                if (strcmp(location, xdg_names[i].location) == 0) {
                        *ret = (parsed_location) { .kind = LOCATION_HOME, .xdg = &xdg_names[i] };
                        return 0;
                }

        /* A recipe requests the whole home with "home". */
        if (strcmp(location, "~") == 0 || strcmp(location, "~/") == 0 || strcmp(location, "home") == 0)
                return vp_error_set(err, -EINVAL,
                                    "share '%s': sharing the whole home is not allowed; share a folder in it, "
                                    "e.g. ~/Work",
                                    location);

        const char *relative;
        location_kind kind;
        if (vp_str_startswith(location, "~/")) {
                relative = location + 2;
                kind = LOCATION_HOME;
        } else if (location[0] == '/') {
                if (location[1] == '\0')
                        return vp_error_set(err, -EPERM, "share '/': sharing the root directory is not allowed");
                relative = location + 1;
                kind = LOCATION_ABSOLUTE;
        } else
                return vp_error_set(err, -EINVAL, "share location '%s' is invalid (valid: " VALID_LOCATIONS ")",
                                    location);

        int r = check_relative(location, relative, err);
        if (r < 0)
                return r;

        char *copy = strdup(relative);
        if (!copy)
                return vp_error_set(err, -ENOMEM, "share '%s': out of memory", location);
        *ret = (parsed_location) { .kind = kind, .relative = copy };
        return 0;
}

static bool path_is_or_is_inside(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The guest path of a parsed location whose relative path is known. */
static int make_guest_path(const char *location, const parsed_location *parsed, char **ret, vp_error *err)
{
        _cleanup_free_ char *path = NULL;

        if (parsed->kind == LOCATION_HOME)
                path = vp_strdup_printf("%s/%s", VP_RUN_GUEST_HOME, parsed->relative);
        else
                path = vp_strdup_printf("/%s", parsed->relative);
        if (!path)
                return vp_error_set(err, -ENOMEM, "share '%s': out of memory", location);

        if (parsed->kind == LOCATION_ABSOLUTE) {
                for (size_t i = 0; i < ELEMENTSOF(guest_system_dirs); i++)
                        if (path_is_or_is_inside(path, guest_system_dirs[i]))
                                return vp_error_set(err, -EINVAL,
                                                    "share '%s': %s is a system directory in the VM; share a "
                                                    "folder elsewhere, e.g. in the home or under /srv or /mnt",
                                                    location, guest_system_dirs[i]);
                /* Mounting on /home or on the guest home itself would hide the data volume. */
                if (strcmp(path, "/home") == 0 || strcmp(path, VP_RUN_GUEST_HOME) == 0)
                        return vp_error_set(err, -EINVAL,
                                            "share '%s': %s would hide the app's home in the VM; share a folder "
                                            "inside it",
                                            location, path);
        }

        *ret = TAKE_PTR(path);
        return 0;
}

int vp_share_guest_path(const char *location, char **ret, vp_error *err)
{
        parsed_location parsed;
        int r = parse_location(location, &parsed, err);
        if (r < 0)
                return r;

        _cleanup_free_ _unused_ char *relative = parsed.relative;
        if (parsed.xdg)
                parsed.relative = (char *) parsed.xdg->fallback;
        return make_guest_path(location, &parsed, ret, err);
}

/*
 * Parse the value of one user-dirs.dirs entry, written for a POSIX shell:
 * "$HOME/Downloads" or "/absolute/path", double-quoted, with '\' escaping the next byte.
 * Returns the path relative to the home, or NULL with err set.
 */
static char *parse_user_dirs_value(const char *value, const char *home, const char *key, vp_error *err)
{
        _cleanup_free_ char *unquoted = NULL;
        size_t n = 0;

        if (*value != '"') {
                vp_error_set(err, -EINVAL, "user-dirs.dirs: %s: the value is not double-quoted", key);
                return NULL;
        }
        unquoted = malloc(strlen(value) + 1);
        if (!unquoted) {
                vp_error_set(err, -ENOMEM, "user-dirs.dirs: out of memory");
                return NULL;
        }
        const char *s = value + 1;
        for (; *s && *s != '"'; s++) {
                if (*s == '\\' && s[1])
                        s++;
                unquoted[n++] = *s;
        }
        unquoted[n] = '\0';
        if (*s != '"' || s[1 + strspn(s + 1, " \t")] != '\0') {
                vp_error_set(err, -EINVAL, "user-dirs.dirs: %s: the value has no closing quote or text after it", key);
                return NULL;
        }

        const char *relative;
        size_t home_length = strlen(home);
        while (home_length > 1 && home[home_length - 1] == '/')
                home_length--;
        if (vp_str_startswith(unquoted, "$HOME"))
                relative = unquoted + strlen("$HOME");
        else if (unquoted[0] == '/' && strncmp(unquoted, home, home_length) == 0)
                relative = unquoted + home_length;
        else {
                vp_error_set(err, -EINVAL,
                             "user-dirs.dirs: %s: '%s' is outside the home %s; only folders in the home can be "
                             "shared by their xdg-* name",
                             key, unquoted, home);
                return NULL;
        }
        if (*relative != '\0' && *relative != '/') {
                vp_error_set(err, -EINVAL, "user-dirs.dirs: %s: '%s' is outside the home %s", key, unquoted, home);
                return NULL;
        }
        while (*relative == '/')
                relative++;
        /* xdg-user-dirs sets a folder that the user disabled to the home itself. */
        if (*relative == '\0') {
                vp_error_set(err, -EINVAL, "user-dirs.dirs: %s is the home itself (the folder is disabled)", key);
                return NULL;
        }
        char *copy = strdup(relative);
        if (!copy)
                vp_error_set(err, -ENOMEM, "user-dirs.dirs: out of memory");
        return copy;
}

/* Find name's folder in the user-dirs.dirs text; the last assignment wins, as in a shell.
 * Lines other than assignments to that key are skipped, like xdg-user-dirs does. */
static int parse_user_dirs(const char *text, const char *home, const xdg_name *name, char **ret, vp_error *err)
{
        const char *found = NULL;
        size_t key_length = strlen(name->key);

        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n');
                const char *s = line + strspn(line, " \t");
                if (strncmp(s, name->key, key_length) == 0 && s[key_length] == '=')
                        found = s + key_length + 1;
                line = end ? end + 1 : NULL;
        }
        if (!found) {
                char *copy = strdup(name->fallback);
                if (!copy)
                        return vp_error_set(err, -ENOMEM, "user-dirs.dirs: out of memory");
                *ret = copy;
                return 0;
        }

        size_t length = strcspn(found, "\n");
        _cleanup_free_ char *value = strndup(found, length);
        if (!value)
                return vp_error_set(err, -ENOMEM, "user-dirs.dirs: out of memory");
        char *relative = parse_user_dirs_value(value, home, name->key, err);
        if (!relative)
                return err ? err->code : -EINVAL;
        int r = check_relative(name->location, relative, err);
        if (r < 0) {
                free(relative);
                return r;
        }
        *ret = relative;
        return 0;
}

/* Read home/.config/user-dirs.dirs beneath the already opened home, so that a symbolic
 * link there cannot make this read a file outside the home. */
static int xdg_dir_at(int home_fd, const char *home, const xdg_name *name, char **ret, vp_error *err)
{
        /* O_NONBLOCK: a FIFO planted there must not block the daemon. */
        _cleanup_close_ int fd = openat2_retry(home_fd, ".config/user-dirs.dirs",
                                               O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                                               RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        struct stat st;

        if (fd == -ENOENT)
                return parse_user_dirs("", home, name, ret, err);
        if (fd < 0)
                return vp_error_set_errno(err, fd, "%s/.config/user-dirs.dirs", home);
        if (fstat(fd, &st) < 0)
                return vp_error_set_errno(err, -errno, "%s/.config/user-dirs.dirs", home);
        if (!S_ISREG(st.st_mode))
                return vp_error_set(err, -EINVAL, "%s/.config/user-dirs.dirs is not a regular file", home);

        text = malloc(USER_DIRS_MAX + 1);
        if (!text)
                return vp_error_set(err, -ENOMEM, "user-dirs.dirs: out of memory");
        for (;;) {
                ssize_t n = read(fd, text + size, USER_DIRS_MAX + 1 - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vp_error_set_errno(err, -errno, "reading %s/.config/user-dirs.dirs", home);
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > USER_DIRS_MAX)
                        return vp_error_set(err, -EFBIG, "%s/.config/user-dirs.dirs is larger than %d bytes", home,
                                            USER_DIRS_MAX);
        }
        text[size] = '\0';
        if (strlen(text) != size)
                return vp_error_set(err, -EINVAL, "%s/.config/user-dirs.dirs contains a NUL byte", home);
        return parse_user_dirs(text, home, name, ret, err);
}

/* Open the canonical home without following symbolic links. The home path may itself
 * contain links (/home -> /usr/home is common), so it is made canonical once with
 * realpath(3), as the user whose home it is. */
static int open_home(const vp_share_user *user, char **ret_canonical, vp_error *err)
{
        if (!user || !user->home || user->home[0] != '/')
                return vp_error_set(err, -EINVAL, "share: the user's home is not an absolute path");

        _cleanup_free_ char *canonical = realpath(user->home, NULL);
        if (!canonical)
                return vp_error_set_errno(err, -errno, "share: home %s", user->home);
        if (strcmp(canonical, "/") == 0)
                return vp_error_set(err, -EPERM, "share: the home %s is the root directory; folders cannot be shared",
                                    user->home);

        int fd = openat2_retry(AT_FDCWD, canonical, O_PATH | O_DIRECTORY | O_CLOEXEC,
                               RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
                return vp_error_set_errno(err, fd, "share: opening home %s", canonical);
        *ret_canonical = TAKE_PTR(canonical);
        return fd;
}

static int check_forbidden(int fd, const forbidden_set *set, const char *location, bool for_children, vp_error *err);

static int forbidden_add(forbidden_set *set, const char *path, int flags, vp_error *err)
{
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat st;

        /* A forbidden directory that does not exist cannot be shared. One that this process
         * cannot open is skipped here, and vp_share_resolve_as() repeats the check with the
         * caller's rights. */
        if (fd < 0 || fstat(fd, &st) < 0)
                return 0;

        forbidden_dir *grown = realloc(set->dirs, (set->n + 1) * sizeof(*grown));
        if (!grown)
                return vp_error_set(err, -ENOMEM, "share: out of memory");
        set->dirs = grown;
        char *copy = strdup(path);
        if (!copy)
                return vp_error_set(err, -ENOMEM, "share: out of memory");
        set->dirs[set->n++] = (forbidden_dir) {
                .dev = st.st_dev,
                .ino = st.st_ino,
                .flags = flags,
                .path = copy,
                .fd = TAKE_FD(fd),
        };
        return 0;
}

static int forbidden_add_vp_dir(forbidden_set *set, vp_dir dir, vp_error *err)
{
        _cleanup_free_ char *path = vp_path(dir, NULL);

        if (!path)
                return vp_error_set(err, -ENOMEM, "share: out of memory");
        return forbidden_add(set, path, FORBID_SAME | FORBID_INSIDE | FORBID_CONTAINS, err);
}

static int build_forbidden_set(int home_fd, const char *home, const char *const *extra, forbidden_set *set,
                               vp_error *err)
{
        struct stat home_st;
        int r;

        if (fstat(home_fd, &home_st) < 0)
                return vp_error_set_errno(err, -errno, "share: home %s", home);

        r = forbidden_add(set, "/", FORBID_SAME, err);
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(host_forbidden_dirs); i++) {
                struct stat st;
                /* /root is root's home, where root may share folders. */
                if (strcmp(host_forbidden_dirs[i], "/root") == 0 && stat("/root", &st) == 0 &&
                    st.st_dev == home_st.st_dev && st.st_ino == home_st.st_ino)
                        continue;
                r = forbidden_add(set, host_forbidden_dirs[i], FORBID_SAME | FORBID_INSIDE | FORBID_CONTAINS, err);
        }
        /* The data directory contains the image store and every instance's volume. */
        r = r ?: forbidden_add_vp_dir(set, VP_DIR_DATA, err);
        r = r ?: forbidden_add_vp_dir(set, VP_DIR_RUNTIME, err);
        for (size_t i = 0; r == 0 && extra && extra[i]; i++)
                r = forbidden_add(set, extra[i], FORBID_SAME | FORBID_INSIDE | FORBID_CONTAINS, err);
        if (r < 0)
                return r;

        /* The home itself must not be forbidden, or every folder in it would be rejected
         * with a confusing message. */
        r = check_forbidden(home_fd, set, home, true, err);
        if (r < 0)
                return vp_error_prefix(err, "home %s", home);

        /* The home may be neither shared whole nor exposed through a parent. */
        return forbidden_add(set, home, FORBID_SAME | FORBID_CONTAINS, err);
}

/* Call visit on fd's directory and each of its ancestors up to "/"; stops at the first
 * non-zero return of visit and returns it. */
static int walk_up(int fd, int (*visit)(const struct stat *st, bool self, void *userdata), void *userdata)
{
        _cleanup_close_ int current = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        struct stat st;

        if (current < 0)
                return -errno;
        if (fstat(current, &st) < 0)
                return -errno;
        for (int depth = 0; depth < ANCESTORS_MAX; depth++) {
                int r = visit(&st, depth == 0, userdata);
                if (r != 0)
                        return r;

                int parent = openat(current, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (parent < 0)
                        return -errno;
                struct stat parent_st;
                if (fstat(parent, &parent_st) < 0) {
                        close(parent);
                        return -errno;
                }
                close(current);
                current = parent;
                if (parent_st.st_dev == st.st_dev && parent_st.st_ino == st.st_ino)
                        return 0; /* ".." of "/" is "/" */
                st = parent_st;
        }
        return -ELOOP;
}

typedef struct inside_check {
        const forbidden_set *set;
        bool for_children;
        const forbidden_dir *hit;
        bool same;
} inside_check;

static int visit_inside(const struct stat *st, bool self, void *userdata)
{
        inside_check *check = userdata;

        for (size_t i = 0; i < check->set->n; i++) {
                const forbidden_dir *d = &check->set->dirs[i];
                if (d->dev != st->st_dev || d->ino != st->st_ino)
                        continue;
                int flag = self && !check->for_children ? FORBID_SAME : FORBID_INSIDE;
                if (d->flags & flag) {
                        check->hit = d;
                        check->same = flag == FORBID_SAME;
                        return 1;
                }
        }
        return 0;
}

static int visit_same(const struct stat *st, _unused_ bool self, void *userdata)
{
        const struct stat *target = userdata;

        return st->st_dev == target->st_dev && st->st_ino == target->st_ino;
}

/*
 * Whether target is fd's directory or one of its ancestors. This walks the canonical path
 * of fd with lstat(2), not ".." lookups, because those need search permission on the
 * forbidden directory itself (/root is 0700). An ancestor that this process cannot stat is
 * skipped: when a child resolves as the user, vp_share_resolve_as() repeats the check with
 * the caller's rights.
 */
static int path_has_ancestor(int fd, const struct stat *target)
{
        char proc_path[64], path[PATH_MAX];

        snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(proc_path, path, sizeof(path) - 1);
        if (n < 0)
                return -errno;
        path[n] = '\0';
        if (path[0] != '/')
                return -EINVAL;

        for (;;) {
                struct stat st;
                if (lstat(path, &st) == 0 && st.st_dev == target->st_dev && st.st_ino == target->st_ino)
                        return 1;
                char *slash = strrchr(path, '/');
                if (slash == path) {
                        if (path[1] == '\0')
                                return 0;
                        path[1] = '\0';
                } else
                        *slash = '\0';
        }
}

/* Reject fd when it is, is inside or contains a forbidden directory. With for_children,
 * check instead whether a new, empty directory inside fd would be inside one. */
static int check_forbidden(int fd, const forbidden_set *set, const char *location, bool for_children, vp_error *err)
{
        inside_check check = { .set = set, .for_children = for_children };
        struct stat st;

        int r = walk_up(fd, visit_inside, &check);
        if (r < 0)
                return vp_error_set_errno(err, r, "share '%s': checking the folder's parents", location);
        if (r > 0)
                return vp_error_set(err, -EPERM, "share '%s': the folder %s %s, which may not be shared", location,
                                    check.same ? "is" : "is inside", check.hit->path);
        if (for_children)
                return 0;

        if (fstat(fd, &st) < 0)
                return vp_error_set_errno(err, -errno, "share '%s'", location);
        for (size_t i = 0; i < set->n; i++) {
                if (!(set->dirs[i].flags & FORBID_CONTAINS))
                        continue;
                r = path_has_ancestor(set->dirs[i].fd, &st);
                if (r < 0)
                        return vp_error_set_errno(err, r, "share '%s': checking the parents of %s", location,
                                                  set->dirs[i].path);
                if (r > 0)
                        return vp_error_set(err, -EPERM, "share '%s': the folder contains %s, which may not be shared",
                                            location, set->dirs[i].path);
        }
        return 0;
}

static int explain_open_error(int r, const char *location, const parsed_location *parsed, vp_share_mode mode,
                              vp_error *err)
{
        switch (r) {
        case -ENOENT:
                if (mode == VP_SHARE_CREATE)
                        return vp_error_set(err, r, "share '%s': a parent folder disappeared while creating it", location);
                if (parsed->xdg && parsed->relative)
                        return vp_error_set(err, r, "folder %s (~/%s) does not exist (use :create to create it)",
                                            location, parsed->relative);
                return vp_error_set(err, r, "folder %s does not exist (use :create to create it)", location);
        case -ENOTDIR:
                return vp_error_set(err, r, "share '%s': a component of the path is not a directory", location);
        case -EXDEV:
                return vp_error_set(err, r, "share '%s': a symbolic link in the path leads outside the home; share "
                                    "the folder it points to by its own path", location);
        case -ELOOP:
                if (parsed->kind == LOCATION_ABSOLUTE)
                        return vp_error_set(err, r, "share '%s': the path contains a symbolic link; give the path "
                                            "without links (see realpath %s)", location, location);
                return vp_error_set(err, r, "share '%s': too many or forbidden symbolic links in the path", location);
        default:
                return vp_error_set_errno(err, r, "share '%s': opening the folder", location);
        }
}

/* Split relative at its n-th '/' (0: the first component alone). */
static size_t prefix_length(const char *relative, size_t components)
{
        const char *s = relative;

        for (size_t i = 0; i <= components; i++) {
                s += strcspn(s, "/");
                if (*s == '\0' || i == components)
                        break;
                s++;
        }
        return (size_t) (s - relative);
}

/*
 * Create the missing tail of relative beneath base_fd. The existing part resolves with the
 * location's own rules. Each missing component is made with mkdirat(2), which never
 * follows a symbolic link, and entered with RESOLVE_NO_SYMLINKS, so a link planted in
 * between is rejected rather than followed. The deepest existing directory is checked
 * against the forbidden set before anything is created.
 */
static int create_path(int base_fd, uint64_t resolve, const char *location, const parsed_location *parsed,
                       const forbidden_set *set, bool *ret_created, vp_error *err)
{
        const char *relative = parsed->relative;
        _cleanup_close_ int current = fcntl(base_fd, F_DUPFD_CLOEXEC, 3);
        const char *rest = relative;

        if (current < 0)
                return vp_error_set_errno(err, -errno, "share '%s'", location);

        /* Find the deepest existing prefix. */
        for (size_t i = 0;; i++) {
                size_t n = prefix_length(relative, i);
                _cleanup_free_ char *prefix = strndup(relative, n);
                if (!prefix)
                        return vp_error_set(err, -ENOMEM, "share '%s': out of memory", location);
                int fd = openat2_retry(base_fd, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
                if (fd == -ENOENT)
                        break;
                if (fd < 0)
                        return explain_open_error(fd, location, parsed, VP_SHARE_CREATE, err);
                close(current);
                current = fd;
                rest = relative + n + (relative[n] == '/');
                if (relative[n] == '\0')
                        break;
        }

        int r = check_forbidden(current, set, location, true, err);
        if (r < 0)
                return r;

        bool created = false;
        while (*rest) {
                size_t n = strcspn(rest, "/");
                _cleanup_free_ char *name = strndup(rest, n);
                if (!name)
                        return vp_error_set(err, -ENOMEM, "share '%s': out of memory", location);

                if (mkdirat(current, name, 0700) == 0)
                        created = true;
                else if (errno != EEXIST)
                        return vp_error_set_errno(err, -errno, "share '%s': creating folder '%s'", location, name);

                int fd = openat2_retry(current, name, O_PATH | O_DIRECTORY | O_CLOEXEC,
                                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
                if (fd == -ELOOP)
                        return vp_error_set(err, -ELOOP,
                                            "share '%s': '%s' is a symbolic link where a folder was to be created; "
                                            "remove it or share the folder it points to",
                                            location, name);
                if (fd < 0)
                        return vp_error_set_errno(err, fd, "share '%s': opening the new folder '%s'", location, name);
                close(current);
                current = fd;
                rest += n + (rest[n] == '/');
        }

        *ret_created = created;
        return TAKE_FD(current);
}

/* Fill a resolved share from an opened, checked directory. */
static int fill_result(int fd, const char *location, const parsed_location *parsed, vp_share_mode mode,
                       bool created, vp_resolved_share *ret, vp_error *err)
{
        char proc_path[64], target[PATH_MAX];
        struct stat st;
        _cleanup_free_ char *guest_path = NULL;

        if (fstat(fd, &st) < 0)
                return vp_error_set_errno(err, -errno, "share '%s'", location);
        if (!S_ISDIR(st.st_mode))
                return vp_error_set(err, -ENOTDIR, "share '%s' is not a directory", location);

        snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(proc_path, target, sizeof(target) - 1);
        if (n < 0)
                return vp_error_set_errno(err, -errno, "share '%s': reading its path from %s", location, proc_path);
        target[n] = '\0';

        int r = make_guest_path(location, parsed, &guest_path, err);
        if (r < 0)
                return r;
        if (strlen(guest_path) > VP_SHARE_LOCATION_MAX)
                return vp_error_set(err, -ENAMETOOLONG, "share '%s': the guest path is longer than %d bytes", location,
                                    VP_SHARE_LOCATION_MAX);

        char *host_path = strdup(target);
        if (!host_path)
                return vp_error_set(err, -ENOMEM, "share '%s': out of memory", location);
        *ret = (vp_resolved_share) {
                .fd = fd,
                .host_path = host_path,
                .guest_path = TAKE_PTR(guest_path),
                .mode = mode,
                .created = created,
                .dev = st.st_dev,
                .ino = st.st_ino,
        };
        return 0;
}

int vp_share_xdg_dir(const char *home, const char *name, char **ret, vp_error *err)
{
        const xdg_name *xdg = NULL;
        _cleanup_free_ char *canonical = NULL;

        for (size_t i = 0; i < ELEMENTSOF(xdg_names); i++)
                if (strcmp(name, xdg_names[i].location) == 0)
                        xdg = &xdg_names[i];
        if (!xdg)
                return vp_error_set(err, -EINVAL, "'%s' is not an xdg-* folder name (valid: " VALID_LOCATIONS ")",
                                    name);

        vp_share_user user = { .home = home };
        _cleanup_close_ int home_fd = open_home(&user, &canonical, err);
        if (home_fd < 0)
                return home_fd;
        return xdg_dir_at(home_fd, home, xdg, ret, err);
}

/* The part of parsed's relative path below root, or NULL when root is NULL, the location
 * itself, or not one of its ancestors (then err is set and *ret_error is negative). */
static const char *below_root(const char *root, const char *location, const parsed_location *parsed,
                              parsed_location *ret_root, int *ret_error, vp_error *err)
{
        *ret_error = 0;
        if (!root || strcmp(root, location) == 0)
                return NULL;
        int r = parse_location(root, ret_root, err);
        if (r < 0) {
                *ret_error = r;
                return NULL;
        }
        size_t n = ret_root->relative ? strlen(ret_root->relative) : 0;
        if (ret_root->xdg || parsed->xdg || ret_root->kind != parsed->kind || n == 0 ||
            strncmp(parsed->relative, ret_root->relative, n) != 0 || parsed->relative[n] != '/') {
                *ret_error = vp_error_set(err, -EINVAL, "share '%s' is not inside '%s', the folder that allows it",
                                          location, root);
                return NULL;
        }
        return parsed->relative + n + 1;
}

int vp_share_resolve(const vp_share_user *user, const char *location, vp_share_mode mode,
                     const char *const *forbidden, vp_resolved_share *ret, vp_error *err)
{
        return vp_share_resolve_within(user, NULL, location, mode, forbidden, ret, err);
}

int vp_share_resolve_within(const vp_share_user *user, const char *root, const char *location, vp_share_mode mode,
                            const char *const *forbidden, vp_resolved_share *ret, vp_error *err)
{
        parsed_location parsed, root_parsed = { 0 };
        _cleanup_free_ char *home = NULL;
        _cleanup_close_ int home_fd = -EBADF, base_fd = -EBADF, fd = -EBADF;
        _cleanup_(forbidden_set_clear) forbidden_set set = { 0 };
        bool created = false;
        uint64_t resolve;
        int r;

        if (mode != VP_SHARE_RO && mode != VP_SHARE_RW && mode != VP_SHARE_CREATE)
                return vp_error_set(err, -EINVAL, "share '%s': invalid mode %d", location ? location : "", (int) mode);
        r = parse_location(location, &parsed, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *relative = parsed.relative;

        home_fd = open_home(user, &home, err);
        if (home_fd < 0)
                return home_fd;
        r = build_forbidden_set(home_fd, home, forbidden, &set, err);
        if (r < 0)
                return r;

        if (parsed.xdg) {
                r = xdg_dir_at(home_fd, user->home, parsed.xdg, &relative, err);
                if (r < 0 && err && vp_str_startswith(err->message, "share '"))
                        return r;
                if (r < 0)
                        return vp_error_prefix(err, "share '%s'", location);
                parsed.relative = relative;
        }

        /* Reject a guest system path before anything on the host is opened or created. */
        _cleanup_free_ char *guest_path = NULL;
        r = make_guest_path(location, &parsed, &guest_path, err);
        if (r < 0)
                return r;

        if (parsed.kind == LOCATION_HOME) {
                base_fd = TAKE_FD(home_fd);
                /* Links inside the home are common (~/Downloads -> ~/data/Downloads) and
                 * allowed; RESOLVE_BENEATH rejects any that leave it. */
                resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        } else {
                base_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (base_fd < 0)
                        return vp_error_set_errno(err, -errno, "share '%s': opening /", location);
                resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        }

        /* A location below the folder that the policy allows resolves beneath that folder, so
         * a symbolic link inside it (planted by an app that may write there) cannot lead to
         * another folder of the home. The folder itself resolves like any location. */
        const char *below = below_root(root, location, &parsed, &root_parsed, &r, err);
        _cleanup_free_ char *root_relative = root_parsed.relative;
        parsed_location target = parsed;
        if (r < 0)
                return r;
        if (below) {
                int root_fd = openat2_retry(base_fd, root_relative, O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
                if (root_fd == -ENOENT && mode == VP_SHARE_CREATE)
                        root_fd = create_path(base_fd, resolve, root, &root_parsed, &set, &created, err);
                else if (root_fd < 0)
                        return explain_open_error(root_fd, root, &root_parsed, mode, err);
                if (root_fd < 0)
                        return root_fd;
                close(base_fd);
                base_fd = root_fd;
                resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                          (parsed.kind == LOCATION_ABSOLUTE ? RESOLVE_NO_SYMLINKS : 0);
                target.relative = (char *) below;
        }

        /* Without O_DIRECTORY, so that a file is reported as "not a directory" here. */
        fd = openat2_retry(base_fd, target.relative, O_PATH | O_CLOEXEC, resolve);
        if (fd == -ENOENT && mode == VP_SHARE_CREATE) {
                bool created_below = false;
                fd = create_path(base_fd, resolve, location, &target, &set, &created_below, err);
                if (fd < 0)
                        return fd;
                created = created || created_below;
        } else if (fd == -EXDEV && below)
                return vp_error_set(err, fd, "share '%s': a symbolic link in the path leads outside %s, the folder "
                                    "that allows it", location, root);
        else if (fd < 0)
                return explain_open_error(fd, location, &parsed, mode, err);

        struct stat st;
        if (fstat(fd, &st) < 0)
                return vp_error_set_errno(err, -errno, "share '%s'", location);
        if (!S_ISDIR(st.st_mode))
                return vp_error_set(err, -ENOTDIR, "share '%s' is not a directory; only folders can be shared this way",
                                    location);

        r = check_forbidden(fd, &set, location, false, err);
        if (r < 0)
                return r;

        r = fill_result(fd, location, &parsed, mode, created, ret, err);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}

/* What the child of vp_share_resolve_as() sends back, with the descriptor attached. */
typedef struct resolve_reply {
        int32_t code;       /* 0 or a negative errno */
        int32_t created;
        char message[sizeof(((vp_error *) NULL)->message)];
        char guest_path[VP_SHARE_LOCATION_MAX + sizeof(VP_RUN_GUEST_HOME) + 2];
} resolve_reply;

/* Become the user for good: supplementary groups, gid, then uid, and check that root's
 * rights cannot be regained. */
static int drop_to_user(const vp_share_user *user)
{
        struct passwd pw, *found = NULL;
        char buffer[16384];
        gid_t groups[1024];
        int n_groups = (int) ELEMENTSOF(groups);

        if (getpwuid_r(user->uid, &pw, buffer, sizeof(buffer), &found) == 0 && found) {
                if (getgrouplist(found->pw_name, user->gid, groups, &n_groups) < 0)
                        return -E2BIG;
        } else {
                groups[0] = user->gid;
                n_groups = 1;
        }

        if (setgroups((size_t) n_groups, groups) < 0 || setresgid(user->gid, user->gid, user->gid) < 0 ||
            setresuid(user->uid, user->uid, user->uid) < 0)
                return -errno;
        if (user->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
                return -EPERM;
        if (getuid() != user->uid || geteuid() != user->uid || getgid() != user->gid || getegid() != user->gid)
                return -EPERM;
        return 0;
}

_noreturn_ static void resolve_child(int socket_fd, const vp_share_user *user, const char *root,
                                     const char *location, vp_share_mode mode, const char *const *forbidden)
{
        resolve_reply reply = { 0 };
        vp_resolved_share share = { .fd = -EBADF };
        vp_error err = { 0 };

        /* The child must not outlive a killed parent with the user's folder open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);

        int r = drop_to_user(user);
        if (r < 0)
                vp_error_set_errno(&err, r, "share '%s': switching to uid %u", location, (unsigned) user->uid);
        else
                r = vp_share_resolve_within(user, root, location, mode, forbidden, &share, &err);

        reply.code = r;
        if (r < 0)
                snprintf(reply.message, sizeof(reply.message), "%s", err.message);
        else {
                reply.created = share.created;
                snprintf(reply.guest_path, sizeof(reply.guest_path), "%s", share.guest_path);
        }

        struct iovec iov = { .iov_base = &reply, .iov_len = sizeof(reply) };
        union {
                struct cmsghdr header;
                char buffer[CMSG_SPACE(sizeof(int))];
        } control = { 0 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (r == 0) {
                msg.msg_control = control.buffer;
                msg.msg_controllen = sizeof(control.buffer);
                struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cmsg), &share.fd, sizeof(int));
        }
        _exit(sendmsg(socket_fd, &msg, MSG_NOSIGNAL) == (ssize_t) sizeof(reply) ? 0 : 1);
}

static int receive_reply(int socket_fd, resolve_reply *reply, int *ret_fd)
{
        struct iovec iov = { .iov_base = reply, .iov_len = sizeof(*reply) };
        union {
                struct cmsghdr header;
                char buffer[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buffer,
                .msg_controllen = sizeof(control.buffer),
        };
        int fd = -EBADF;

        ssize_t n;
        do
                n = recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; i++) {
                        int received;
                        memcpy(&received, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
                        if (fd < 0)
                                fd = received;
                        else
                                close(received);
                }
        }
        if (n != (ssize_t) sizeof(*reply) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                if (fd >= 0)
                        close(fd);
                return -EBADMSG;
        }
        reply->message[sizeof(reply->message) - 1] = '\0';
        reply->guest_path[sizeof(reply->guest_path) - 1] = '\0';
        *ret_fd = fd;
        return 0;
}

/*
 * Check, with this process's rights, what the child sent: a directory, not forbidden,
 * beneath the user's home for a home-relative location or at exactly the requested path
 * for an absolute one, with a guest path that matches the location's kind.
 */
static int validate_received(const vp_share_user *user, const char *location, vp_share_mode mode,
                             const char *const *forbidden, int fd, const resolve_reply *reply,
                             vp_resolved_share *ret, vp_error *err)
{
        _cleanup_(forbidden_set_clear) forbidden_set set = { 0 };
        _cleanup_free_ char *home = NULL;
        _cleanup_close_ int home_fd = -EBADF;
        parsed_location parsed;
        struct stat st, home_st;
        int r;

        r = parse_location(location, &parsed, err);
        if (r < 0)
                return r;
        _cleanup_free_ _unused_ char *relative = parsed.relative;

        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
                return vp_error_set(err, -EBADMSG, "share '%s': the resolver returned no directory", location);

        home_fd = open_home(user, &home, err);
        if (home_fd < 0)
                return home_fd;
        r = build_forbidden_set(home_fd, home, forbidden, &set, err);
        r = r ?: check_forbidden(fd, &set, location, false, err);
        if (r < 0)
                return r;

        const char *guest = reply->guest_path;
        _cleanup_free_ char *guest_relative = NULL;
        if (parsed.kind == LOCATION_HOME) {
                if (fstat(home_fd, &home_st) < 0)
                        return vp_error_set_errno(err, -errno, "share '%s': home %s", location, home);
                r = walk_up(fd, visit_same, &home_st);
                if (r <= 0)
                        return vp_error_set(err, -EPERM, "share '%s': the resolved folder is not inside the home %s",
                                            location, home);
                if (!vp_str_startswith(guest, VP_RUN_GUEST_HOME "/"))
                        return vp_error_set(err, -EBADMSG, "share '%s': invalid guest path from the resolver", location);
                guest_relative = strdup(guest + strlen(VP_RUN_GUEST_HOME "/"));
                if (!guest_relative)
                        return vp_error_set(err, -ENOMEM, "share '%s': out of memory", location);
                r = check_relative(location, guest_relative, err);
                if (r < 0)
                        return r;
                /* xdg-* may map to any folder in the home; ~/path only to its own path. */
                if (!parsed.xdg && strcmp(guest_relative, parsed.relative) != 0)
                        return vp_error_set(err, -EBADMSG, "share '%s': guest path mismatch from the resolver", location);
                parsed.relative = guest_relative;
        } else {
                /* No symbolic links were followed, so the canonical path is the location. */
                char proc_path[64], target[PATH_MAX];
                snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
                ssize_t n = readlink(proc_path, target, sizeof(target) - 1);
                if (n < 0)
                        return vp_error_set_errno(err, -errno, "share '%s': reading %s", location, proc_path);
                target[n] = '\0';
                if (strcmp(target, location) != 0)
                        return vp_error_set(err, -EPERM, "share '%s': the resolver opened %s instead", location, target);
        }

        r = fill_result(fd, location, &parsed, mode, reply->created != 0, ret, err);
        parsed.relative = NULL;
        return r;
}

int vp_share_resolve_as(const vp_share_user *user, const char *location, vp_share_mode mode,
                        const char *const *forbidden, vp_resolved_share *ret, vp_error *err)
{
        return vp_share_resolve_within_as(user, NULL, location, mode, forbidden, ret, err);
}

int vp_share_resolve_within_as(const vp_share_user *user, const char *root, const char *location,
                               vp_share_mode mode, const char *const *forbidden, vp_resolved_share *ret,
                               vp_error *err)
{
        int sockets[2];
        resolve_reply reply;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!user)
                return vp_error_set(err, -EINVAL, "share: no user given");
        if (geteuid() == user->uid)
                return vp_share_resolve_within(user, root, location, mode, forbidden, ret, err);
        if (geteuid() != 0)
                return vp_error_set(err, -EPERM, "share '%s': resolving uid %u's folders needs root (running as uid %u)",
                                    location ? location : "", (unsigned) user->uid, (unsigned) geteuid());

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) < 0)
                return vp_error_set_errno(err, -errno, "share: socketpair");

        /* NOTE: the child calls malloc and getpwuid_r after fork(), which is safe only while
         * the caller has a single thread, as vmpack and vmpackd do today. */
        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                close(sockets[0]);
                close(sockets[1]);
                return vp_error_set_errno(err, r, "share: fork");
        }
        if (pid == 0) {
                close(sockets[0]);
                resolve_child(sockets[1], user, root, location, mode, forbidden);
        }
        close(sockets[1]);

        struct timeval timeout = { .tv_sec = RESOLVE_TIMEOUT_S };
        r = setsockopt(sockets[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ? -errno : 0;
        r = r ?: receive_reply(sockets[0], &reply, &fd);
        close(sockets[0]);
        /* The child has sent its reply or failed; a hung one is stopped here. */
        kill(pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r == -EAGAIN)
                return vp_error_set(err, -ETIMEDOUT, "share '%s': resolving as uid %u timed out after %d s",
                                    location ? location : "", (unsigned) user->uid, RESOLVE_TIMEOUT_S);
        if (r < 0)
                return vp_error_set_errno(err, r, "share '%s': no reply from the resolver running as uid %u",
                                          location ? location : "", (unsigned) user->uid);
        if (reply.code > 0)
                return vp_error_set(err, -EBADMSG, "share '%s': invalid reply from the resolver", location);
        if (reply.code < 0) {
                /* The message is the child's own, built from the same checks as here. */
                vp_error_set(err, reply.code < -4095 ? -EIO : reply.code, "%s", reply.message);
                return err ? err->code : reply.code;
        }
        if (fd < 0)
                return vp_error_set(err, -EBADMSG, "share '%s': the resolver sent no descriptor", location);

        r = validate_received(user, location, mode, forbidden, fd, &reply, ret, err);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}
