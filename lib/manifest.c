/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "manifest.h"
#include "permission-values.h"

#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define RECIPE_SUFFIX ".vmpack"
#define RECIPE_MAX_SIZE (1024 * 1024)
#define RECIPE_MAX_LINE 65536
#define TEXT_MAX 512
#define DEFAULT_BASE "debian:bookworm"

#define IMAGE_NAME_RULE "[a-z0-9][a-z0-9._-]{0,63}, e.g. pdf-viewer"

/*
 * How the recipe is read. libinih 55 as Debian builds it has a 200-byte line buffer, treats
 * " ;" as the start of an inline comment, accepts ':' as well as '=' and joins indented
 * lines to the previous value. Any of these would silently change a package list or a Run
 * command. So our reader hands inih one line at a time in a normalized form ("[Section]" or
 * "Key=") and keeps the raw line. inih tracks sections and calls the handler, which takes the
 * value from the raw line. Counting lines in the reader also gives every message its line
 * number, which this inih build does not pass to the handler.
 */

enum section {
        SECTION_NONE = -1,
        SECTION_APP,
        SECTION_BUILD,
        SECTION_RESOURCES,
        SECTION_PERMISSIONS,
        _SECTION_MAX,
};

static const char *const section_names[_SECTION_MAX] = {
        [SECTION_APP] = "App",
        [SECTION_BUILD] = "Build",
        [SECTION_RESOURCES] = "Resources",
        [SECTION_PERMISSIONS] = "Permissions",
};

#define SECTIONS_VALID "App, Build, Resources, Permissions"
#define MAX_KEYS 9

typedef struct parser parser;
typedef struct key_spec key_spec;

struct key_spec {
        const char *name;
        int (*parse)(parser *p, const key_spec *spec, const char *value);
        const char *valid;
        size_t offset;              /* field in vp_manifest, for the generic parsers */
        const char *const *choices; /* for parse_choice */
};

struct parser {
        const char *filename; /* as the caller spelled it, for messages */
        const char *next;     /* text not read yet */
        unsigned line;
        char *raw;         /* the current line, without the newline */
        const char *value; /* the value part of raw, for the current key line */
        enum section section;
        unsigned section_line[_SECTION_MAX];
        unsigned key_line[_SECTION_MAX][MAX_KEYS];
        vp_manifest *m;
        vp_error *err;
        int r;
};

/* Shorten a value quoted in a message, so one long line cannot fill the error record. */
static const char *shorten(const char *s, char buf[static 84])
{
        if (strlen(s) <= 80)
                return s;
        snprintf(buf, 84, "%.77s...", s);
        return buf;
}

static int line_error(parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int line_error(parser *p, unsigned line, const char *fmt, ...)
{
        char message[sizeof(p->err->message)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        p->r = vp_error_set(p->err, -EINVAL, "%s:%u: %s", p->filename, line, message);
        return p->r;
}

/* "FILE:LINE: key 'X': MESSAGE (valid: ...)" for the key on the current line. */
static int key_error(parser *p, const key_spec *spec, const char *fmt, ...) _printf_(3, 4);
static int key_error(parser *p, const key_spec *spec, const char *fmt, ...)
{
        char message[sizeof(p->err->message)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        if (spec->valid)
                return line_error(p, p->line, "key '%s': %s (valid: %s)", spec->name, message, spec->valid);
        return line_error(p, p->line, "key '%s': %s", spec->name, message);
}

static int oom(parser *p)
{
        p->r = vp_error_set(p->err, -ENOMEM, "%s: out of memory", p->filename);
        return p->r;
}

static char **field_string(parser *p, const key_spec *spec)
{
        return (char **) ((char *) p->m + spec->offset);
}

static bool has_dotdot_component(const char *path)
{
        for (const char *s = path; (s = strstr(s, "..")); s += 2) {
                bool starts = s == path || s[-1] == '/';
                bool ends = s[2] == '\0' || s[2] == '/';
                if (starts && ends)
                        return true;
        }
        return false;
}

/*
 * Split a list value at ';'. "\;" is a literal semicolon, other backslashes stay as they are,
 * items are trimmed and empty items skipped, so a trailing ';' is allowed.
 */
static int split_list(const char *value, char ***ret)
{
        _cleanup_strv_free_ char **items = strv_new();
        _cleanup_free_ char *item = malloc(strlen(value) + 1);
        size_t len = 0;

        if (!items || !item)
                return -ENOMEM;

        for (const char *s = value;; s++) {
                if (*s == '\\' && s[1] == ';') {
                        item[len++] = ';';
                        s++;
                        continue;
                }
                if (*s != ';' && *s != '\0') {
                        item[len++] = *s;
                        continue;
                }

                size_t start = 0;
                while (start < len && (item[start] == ' ' || item[start] == '\t'))
                        start++;
                while (len > start && (item[len - 1] == ' ' || item[len - 1] == '\t'))
                        len--;
                if (len > start && strv_push(&items, strndup(item + start, len - start)) < 0)
                        return -ENOMEM;
                len = 0;
                if (*s == '\0')
                        break;
        }

        *ret = TAKE_PTR(items);
        return 0;
}

static int parse_list(parser *p, const key_spec *spec, const char *value, char ***ret)
{
        _cleanup_strv_free_ char **items = NULL;

        if (split_list(value, &items) < 0)
                return oom(p);
        if (!items[0])
                return key_error(p, spec, "empty list");
        *ret = TAKE_PTR(items);
        return 0;
}

/* Reject an item listed twice; items are compared as written. */
static int check_unique(parser *p, const key_spec *spec, char *const *items)
{
        char buf[84];

        for (size_t i = 0; items[i]; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(items[i], items[j]) == 0)
                                return key_error(p, spec, "'%s' is listed twice", shorten(items[i], buf));
        return 0;
}

/*
 * Resolve a path relative to the recipe's directory. It must exist and stay inside that
 * directory after symbolic links are followed, because a recipe is often copied or shared as
 * a directory and must not pull in files from elsewhere on the build host.
 */
static int resolve_beside(parser *p, const key_spec *spec, const char *relative, bool directory_ok,
                          char **ret)
{
        _cleanup_free_ char *joined = NULL, *resolved = NULL;
        const char *directory = p->m->directory;
        char buf[84];
        struct stat st;

        if (relative[0] == '/')
                return key_error(p, spec,
                                 "'%s' is an absolute path; name a file relative to the recipe directory %s",
                                 shorten(relative, buf), directory);
        if (has_dotdot_component(relative))
                return key_error(p, spec, "'%s' contains '..'; name a file inside the recipe directory %s",
                                 shorten(relative, buf), directory);

        joined = vp_strdup_printf("%s/%s", directory, relative);
        if (!joined)
                return oom(p);
        resolved = realpath(joined, NULL);
        if (!resolved) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return key_error(p, spec, "'%s' not found in the recipe directory %s",
                                         shorten(relative, buf), directory);
                return key_error(p, spec, "cannot resolve '%s' in %s: %s", shorten(relative, buf), directory,
                                 strerror(errno));
        }
        size_t n = strlen(directory);
        if (strncmp(resolved, directory, n) != 0 || resolved[n] != '/')
                return key_error(p, spec, "'%s' leads to %s, outside the recipe directory %s",
                                 shorten(relative, buf), resolved, directory);
        if (stat(resolved, &st) < 0)
                return key_error(p, spec, "cannot read '%s': %s", shorten(relative, buf), strerror(errno));
        if (!S_ISREG(st.st_mode) && !(directory_ok && S_ISDIR(st.st_mode)))
                return key_error(p, spec, "'%s' is not a regular file%s", shorten(relative, buf),
                                 directory_ok ? " or directory" : "");

        *ret = TAKE_PTR(resolved);
        return 0;
}

static int parse_text(parser *p, const key_spec *spec, const char *value)
{
        if (!*value)
                return key_error(p, spec, "empty value");
        if (strlen(value) > TEXT_MAX)
                return key_error(p, spec, "longer than %d bytes", TEXT_MAX);
        *field_string(p, spec) = strdup(value);
        return *field_string(p, spec) ? 0 : oom(p);
}

static int parse_icon(parser *p, const key_spec *spec, const char *value)
{
        if (!*value)
                return key_error(p, spec, "empty value");
        return resolve_beside(p, spec, value, false, &p->m->icon);
}

static int check_field_codes(parser *p, const key_spec *spec, char *const *argv)
{
        unsigned n_file_codes = 0;

        for (size_t i = 0; argv[i]; i++)
                for (const char *s = argv[i]; (s = strchr(s, '%')); s += 2) {
                        switch (s[1]) {
                        case '%':
                                continue;
                        case 'f':
                        case 'u':
                                break;
                        case 'F':
                        case 'U':
                                if (strlen(argv[i]) != 2)
                                        return key_error(
                                                p, spec,
                                                "%%%c must be an argument on its own, found in '%s'", s[1],
                                                argv[i]);
                                break;
                        case '\0':
                                return key_error(
                                        p, spec,
                                        "'%%' at the end of '%s'; write %%%% for a literal percent sign",
                                        argv[i]);
                        default:
                                return key_error(p, spec, "unknown field code '%%%c'", s[1]);
                        }
                        if (i == 0)
                                return key_error(p, spec, "the program name '%s' contains a field code",
                                                 argv[0]);
                        n_file_codes++;
                }

        if (n_file_codes > 1)
                return key_error(p, spec, "more than one of %%f, %%F, %%u, %%U");
        return 0;
}

static int parse_exec(parser *p, const key_spec *spec, const char *value)
{
        _cleanup_strv_free_ char **argv = NULL;
        vp_error split_error = { 0 };
        int r;

        if (!*value)
                return key_error(p, spec, "empty command");
        r = vp_exec_split(value, &argv, &split_error);
        if (r == -ENOMEM)
                return oom(p);
        if (r < 0)
                return key_error(p, spec, "%s", split_error.message);
        if (!argv[0])
                return key_error(p, spec, "empty command");
        if (!argv[0][0])
                return key_error(p, spec, "empty program name");
        /* The Desktop Entry Specification forbids '=' in the program name. */
        if (strchr(argv[0], '='))
                return key_error(p, spec, "the program name '%s' contains '='", argv[0]);
        r = check_field_codes(p, spec, argv);
        if (r < 0)
                return r;

        p->m->exec = strdup(value);
        if (!p->m->exec)
                return oom(p);
        p->m->exec_argv = TAKE_PTR(argv);
        return 0;
}

static bool is_suite_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 32 || !(*s >= 'a' && *s <= 'z'))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int parse_base(parser *p, const key_spec *spec, const char *value)
{
        char buf[84];

        if (!vp_str_startswith(value, "debian:") || !is_suite_name(value + strlen("debian:")))
                return key_error(p, spec, "invalid base '%s'", shorten(value, buf));
        p->m->base = strdup(value);
        return p->m->base ? 0 : oom(p);
}

/* Debian Policy 5.6.1: lower case letters, digits, '+', '-' and '.', at least two characters,
 * starting with a letter or digit. */
static bool is_package_name(const char *s)
{
        size_t n = strlen(s);

        if (n < 2 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+-.") == n;
}

static int parse_packages(parser *p, const key_spec *spec, const char *value)
{
        _cleanup_strv_free_ char **packages = NULL;
        char buf[84];
        int r;

        r = parse_list(p, spec, value, &packages);
        if (r < 0)
                return r;
        STRV_FOREACH(package, packages)
                if (!is_package_name(*package))
                        return key_error(p, spec, "invalid package name '%s'", shorten(*package, buf));
        r = check_unique(p, spec, packages);
        if (r < 0)
                return r;

        p->m->packages = TAKE_PTR(packages);
        return 0;
}

static int parse_containerfile(parser *p, const key_spec *spec, const char *value)
{
        if (!*value)
                return key_error(p, spec, "empty value");
        return resolve_beside(p, spec, value, false, &p->m->containerfile);
}

static int parse_files(parser *p, const key_spec *spec, const char *value)
{
        _cleanup_strv_free_ char **items = NULL;
        char buf[84];
        size_t n;
        int r;

        r = parse_list(p, spec, value, &items);
        if (r < 0)
                return r;
        n = strv_length(items);
        p->m->files = calloc(n, sizeof(vp_file_copy));
        if (!p->m->files)
                return oom(p);

        for (size_t i = 0; i < n; i++) {
                char *colon = strchr(items[i], ':');
                if (!colon)
                        return key_error(p, spec, "'%s' has no destination", shorten(items[i], buf));
                *colon = '\0';
                const char *destination = colon + 1;
                if (!items[i][0])
                        return key_error(p, spec, "':%s' has no source", shorten(destination, buf));
                if (destination[0] != '/')
                        return key_error(p, spec, "destination '%s' is not an absolute path",
                                         shorten(destination, buf));
                if (has_dotdot_component(destination))
                        return key_error(p, spec, "destination '%s' contains '..'",
                                         shorten(destination, buf));
                for (size_t j = 0; j < i; j++)
                        if (strcmp(p->m->files[j].destination, destination) == 0)
                                return key_error(p, spec, "destination '%s' is listed twice",
                                                 shorten(destination, buf));

                r = resolve_beside(p, spec, items[i], true, &p->m->files[i].source);
                if (r < 0)
                        return r;
                p->m->files[i].destination = strdup(destination);
                if (!p->m->files[i].destination)
                        return oom(p);
                p->m->n_files = i + 1;
        }
        return 0;
}

static int parse_run(parser *p, const key_spec *spec, const char *value)
{
        return parse_list(p, spec, value, &p->m->run);
}

static int parse_boolean(parser *p, const key_spec *spec, const char *value)
{
        static const char *const yes[] = { "true", "yes", "1" }, *const no[] = { "false", "no", "0" };
        char buf[84];

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcmp(value, yes[i]) == 0) {
                        p->m->hardened = true;
                        return 0;
                }
                if (strcmp(value, no[i]) == 0) {
                        p->m->hardened = false;
                        return 0;
                }
        }
        return key_error(p, spec, "invalid boolean '%s'", shorten(value, buf));
}

int vp_cpus_parse(const char *value, unsigned *ret)
{
        size_t n = strlen(value);

        if (n == 0 || n > 2 || strspn(value, "0123456789") != n)
                return -EINVAL;
        unsigned cpus = (unsigned) atoi(value);
        if (cpus < VP_CPUS_MIN || cpus > VP_CPUS_MAX)
                return -ERANGE;
        *ret = cpus;
        return 0;
}

int vp_memory_parse(const char *value, uint64_t *ret_bytes)
{
        uint64_t bytes;

        if (vp_parse_size(value, 1ULL << 20, &bytes) < 0)
                return -EINVAL;
        if (bytes < VP_MEMORY_MIN_BYTES || bytes > VP_MEMORY_MAX_BYTES)
                return -ERANGE;
        *ret_bytes = bytes;
        return 0;
}

static int parse_cpus(parser *p, const key_spec *spec, const char *value)
{
        char buf[84];
        int r = vp_cpus_parse(value, &p->m->cpus);

        if (r == -ERANGE)
                return key_error(p, spec, "CPU count %d is out of range", atoi(value));
        if (r < 0)
                return key_error(p, spec, "invalid CPU count '%s'", shorten(value, buf));
        return 0;
}

static int parse_memory(parser *p, const key_spec *spec, const char *value)
{
        char buf[84];
        int r = vp_memory_parse(value, &p->m->memory_bytes);

        if (r == -ERANGE)
                return key_error(p, spec, "%s is out of range", shorten(value, buf));
        if (r < 0)
                return key_error(p, spec, "invalid size '%s'", shorten(value, buf));
        return 0;
}

static const char *const xdg_locations[] = {
        "xdg-download", "xdg-documents", "xdg-desktop", "xdg-music", "xdg-pictures", "xdg-videos", "home",
        NULL,
};

int vp_fs_permission_parse(const char *item, vp_fs_permission *ret, char *message, size_t message_size)
{
        static const struct {
                const char *name;
                vp_share_mode mode;
        } modes[] = { { "ro", VP_SHARE_RO }, { "rw", VP_SHARE_RW }, { "create", VP_SHARE_CREATE } };
        _cleanup_free_ char *location = strdup(item);
        vp_share_mode mode = VP_SHARE_RO;
        char buf[84];

        if (!location)
                return -ENOMEM;

        char *colon = strrchr(location, ':');
        if (colon) {
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                        if (strcmp(colon + 1, modes[i].name) == 0) {
                                mode = modes[i].mode;
                                found = true;
                        }
                if (!found) {
                        snprintf(message, message_size, "unknown mode ':%s' in '%s'", shorten(colon + 1, buf),
                                 item);
                        return -EINVAL;
                }
                *colon = '\0';
        }

        if (strv_contains((char *const *) xdg_locations, location)) {
                /* a known location */
        } else if (location[0] == '/' || vp_str_startswith(location, "~/")) {
                const char *rest = location[0] == '/' ? location + 1 : location + 2;
                if (!*rest || strspn(rest, "/") == strlen(rest)) {
                        snprintf(message, message_size, "'%s' would share the whole %s", location,
                                 location[0] == '/' ? "host file system" : "home directory (write 'home')");
                        return -EINVAL;
                }
                if (has_dotdot_component(location)) {
                        snprintf(message, message_size, "'%s' contains '..'", shorten(location, buf));
                        return -EINVAL;
                }
        } else {
                snprintf(message, message_size, "unknown location '%s'", shorten(location, buf));
                return -EINVAL;
        }

        ret->location = TAKE_PTR(location);
        ret->mode = mode;
        return 0;
}

static int parse_filesystem(parser *p, const key_spec *spec, char *item, vp_fs_permission *ret)
{
        char message[512];
        int r = vp_fs_permission_parse(item, ret, message, sizeof(message));

        if (r == -ENOMEM)
                return oom(p);
        if (r < 0)
                return key_error(p, spec, "%s", message);
        /* The duplicate check below compares the location without its mode. */
        strcpy(item, ret->location);
        return 0;
}

static int parse_filesystems(parser *p, const key_spec *spec, const char *value)
{
        _cleanup_strv_free_ char **items = NULL;
        vp_permissions *permissions = &p->m->permissions;
        char buf[84];
        size_t n;
        int r;

        r = parse_list(p, spec, value, &items);
        if (r < 0)
                return r;
        n = strv_length(items);
        permissions->filesystems = calloc(n, sizeof(vp_fs_permission));
        if (!permissions->filesystems)
                return oom(p);

        for (size_t i = 0; i < n; i++) {
                r = parse_filesystem(p, spec, items[i], &permissions->filesystems[i]);
                if (r < 0)
                        return r;
                permissions->n_filesystems = i + 1;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(permissions->filesystems[j].location, items[i]) == 0)
                                return key_error(p, spec, "'%s' is listed twice", shorten(items[i], buf));
        }
        return 0;
}

bool vp_network_value_valid(const char *value)
{
        size_t n = strlen(value);

        return n > 0 && n <= 32 && strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int parse_network(parser *p, const key_spec *spec, const char *value)
{
        char buf[84];

        if (!vp_network_value_valid(value))
                return key_error(p, spec, "invalid network '%s'", shorten(value, buf));
        p->m->permissions.network = strdup(value);
        return p->m->permissions.network ? 0 : oom(p);
}

static int parse_choice(parser *p, const key_spec *spec, const char *value)
{
        char buf[84];

        for (size_t i = 0; spec->choices[i]; i++)
                if (strcmp(value, spec->choices[i]) == 0) {
                        *field_string(p, spec) = strdup(value);
                        return *field_string(p, spec) ? 0 : oom(p);
                }
        return key_error(p, spec, "invalid value '%s'", shorten(value, buf));
}

bool vp_usb_id_valid(const char *s)
{
        static const char hex[] = "0123456789abcdefABCDEF";

        return strlen(s) == 9 && strspn(s, hex) == 4 && s[4] == ':' && strspn(s + 5, hex) == 4;
}

static int parse_usb(parser *p, const key_spec *spec, const char *value)
{
        _cleanup_strv_free_ char **ids = NULL;
        char buf[84];
        int r;

        r = parse_list(p, spec, value, &ids);
        if (r < 0)
                return r;
        STRV_FOREACH(id, ids) {
                if (!vp_usb_id_valid(*id))
                        return key_error(p, spec, "invalid USB device '%s'", shorten(*id, buf));
                for (char *c = *id; *c; c++)
                        if (*c >= 'A' && *c <= 'F')
                                *c = (char) (*c - 'A' + 'a');
        }
        r = check_unique(p, spec, ids);
        if (r < 0)
                return r;

        p->m->permissions.usb = TAKE_PTR(ids);
        return 0;
}

#define PERMISSION(field) offsetof(vp_manifest, permissions.field)

const char *const vp_clipboard_choices[] = { "none", "on-request", NULL };
const char *const vp_audio_choices[] = { "none", "playback", NULL };
const char *const vp_switch_choices[] = { "none", "on", NULL };
const char *const vp_gpu_choices[] = { "none", "virgl", NULL };
const char *const vp_display_choices[] = { "none", "wayland", NULL };

enum {
        KEY_APP_NAME,
        KEY_APP_SUMMARY,
        KEY_APP_ICON,
        KEY_APP_EXEC,
        KEY_APP_BASE,
        KEY_APP_PACKAGES,
};
enum {
        KEY_BUILD_CONTAINERFILE,
        KEY_BUILD_FILES,
        KEY_BUILD_RUN,
        KEY_BUILD_HARDENED,
};
enum {
        KEY_PERMISSIONS_GPU = 7,
        KEY_PERMISSIONS_DISPLAY = 8,
};

static const key_spec key_specs[_SECTION_MAX][MAX_KEYS + 1] = {
        [SECTION_APP] = {
                [KEY_APP_NAME] = { "Name", parse_text, "text of at most 512 bytes, e.g. Name=PDF to text",
                                   offsetof(vp_manifest, display_name) },
                [KEY_APP_SUMMARY] = { "Summary", parse_text, "text of at most 512 bytes",
                                      offsetof(vp_manifest, summary) },
                [KEY_APP_ICON] = { "Icon", parse_icon,
                                   "an SVG or PNG file beside the recipe, e.g. Icon=app.svg" },
                [KEY_APP_EXEC] = { "Exec", parse_exec,
                                   "program and arguments separated by spaces, \"double quotes\" around "
                                   "an argument with spaces, %f (one file), %F (all files), %u, %U, %% (a "
                                   "literal %)" },
                [KEY_APP_BASE] = { "Base", parse_base, "debian:<suite>, e.g. debian:bookworm" },
                [KEY_APP_PACKAGES] = { "Packages", parse_packages,
                                       "Debian package names separated by ';', e.g. Packages=vlc;cage" },
        },
        [SECTION_BUILD] = {
                [KEY_BUILD_CONTAINERFILE] = { "Containerfile", parse_containerfile,
                                              "a Containerfile or Dockerfile beside the recipe" },
                [KEY_BUILD_FILES] = { "Files", parse_files,
                                      "source:destination items separated by ';', source relative to "
                                      "the recipe directory, destination absolute, e.g. "
                                      "Files=app.conf:/etc/app.conf" },
                [KEY_BUILD_RUN] = { "Run", parse_run,
                                    "shell commands separated by ';', with \\; for a literal semicolon" },
                [KEY_BUILD_HARDENED] = { "Hardened", parse_boolean, "true, false, yes, no, 1, 0" },
        },
        [SECTION_RESOURCES] = {
                { "CPUs", parse_cpus, VP_VALID_CPUS },
                { "Memory", parse_memory, VP_VALID_MEMORY },
        },
        [SECTION_PERMISSIONS] = {
                { "filesystems", parse_filesystems, VP_VALID_FILESYSTEMS },
                { "network", parse_network, VP_VALID_NETWORK },
                { "clipboard", parse_choice, "none, on-request", PERMISSION(clipboard), vp_clipboard_choices },
                { "audio", parse_choice, "none, playback", PERMISSION(audio), vp_audio_choices },
                { "microphone", parse_choice, "none, on", PERMISSION(microphone), vp_switch_choices },
                { "camera", parse_choice, "none, on", PERMISSION(camera), vp_switch_choices },
                { "usb", parse_usb, VP_VALID_USB },
                [KEY_PERMISSIONS_GPU] = { "gpu", parse_choice, "none, virgl", PERMISSION(gpu), vp_gpu_choices },
                [KEY_PERMISSIONS_DISPLAY] = { "display", parse_choice, "none, wayland", PERMISSION(display),
                                              vp_display_choices },
        },
};

static int find_key(enum section section, const char *name)
{
        for (int i = 0; key_specs[section][i].name; i++)
                if (strcmp(key_specs[section][i].name, name) == 0)
                        return i;
        return -1;
}

static int unknown_key_error(parser *p, const char *key)
{
        char valid[512] = "", suggestion[128] = "", buf[84];
        const key_spec *specs = key_specs[p->section];

        for (size_t i = 0; specs[i].name; i++) {
                if (i > 0)
                        strcat(valid, ", ");
                strcat(valid, specs[i].name);
                if (strcasecmp(specs[i].name, key) == 0)
                        snprintf(suggestion, sizeof(suggestion),
                                 "; keys are case-sensitive, did you mean '%s'?", specs[i].name);
        }
        return line_error(p, p->line, "key '%s': unknown key in [%s]%s (valid: %s)", shorten(key, buf),
                          section_names[p->section], suggestion, valid);
}

static char *strip(char *s)
{
        size_t n;

        s += strspn(s, " \t");
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
        return s;
}

/* Recipes are UTF-8 text: reject other control characters than tab and invalid sequences. */
static int check_text(parser *p, const char *line)
{
        const unsigned char *s = (const unsigned char *) line;

        for (size_t i = 0; s[i];) {
                size_t extra;
                uint32_t min;
                if (s[i] < 0x80) {
                        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                                return line_error(
                                        p, p->line,
                                        "invalid control character 0x%02x (a recipe is UTF-8 text)", s[i]);
                        i++;
                        continue;
                } else if ((s[i] & 0xe0) == 0xc0) {
                        extra = 1, min = 0x80;
                } else if ((s[i] & 0xf0) == 0xe0) {
                        extra = 2, min = 0x800;
                } else if ((s[i] & 0xf8) == 0xf0) {
                        extra = 3, min = 0x10000;
                } else {
                        return line_error(p, p->line, "invalid UTF-8 byte 0x%02x at column %zu", s[i],
                                          i + 1);
                }

                uint32_t c = s[i] & (0x3f >> extra);
                for (size_t k = 1; k <= extra; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return line_error(p, p->line, "invalid UTF-8 sequence at column %zu", i + 1);
                        c = (c << 6) | (s[i + k] & 0x3f);
                }
                if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return line_error(p, p->line, "invalid UTF-8 sequence at column %zu", i + 1);
                i += extra + 1;
        }
        return 0;
}

static int read_section_line(parser *p, char *line, char *out, int out_size)
{
        char buf[84];
        size_t n = strlen(line);

        if (line[n - 1] != ']')
                return line_error(p, p->line, "section header '%s' does not end with ']'",
                                  shorten(line, buf));
        line[n - 1] = '\0';
        const char *name = line + 1;

        for (int i = 0; i < _SECTION_MAX; i++) {
                if (strcmp(name, section_names[i]) != 0)
                        continue;
                if (p->section_line[i] > 0)
                        return line_error(p, p->line, "duplicate section '[%s]' (first at line %u)", name,
                                          p->section_line[i]);
                p->section = i;
                p->section_line[i] = p->line;
                snprintf(out, out_size, "[%s]\n", name);
                return 0;
        }
        return line_error(p, p->line, "unknown section '[%s]' (valid: " SECTIONS_VALID ")",
                          shorten(name, buf));
}

static int read_key_line(parser *p, char *line, char *out, int out_size)
{
        char buf[84];
        char *equals = strchr(line, '=');

        if (!equals)
                return line_error(p, p->line,
                                  "expected Key=value, [Section] or a comment starting with '#', found '%s'",
                                  shorten(line, buf));
        *equals = '\0';
        const char *key = strip(line);
        p->value = strip(equals + 1);

        if (!*key)
                return line_error(p, p->line, "missing key name before '='");
        if (p->section == SECTION_NONE)
                return line_error(p, p->line,
                                  "key '%s': outside a section (valid: put it under [App], [Build], "
                                  "[Resources] or [Permissions])",
                                  shorten(key, buf));
        if (find_key(p->section, key) < 0)
                return unknown_key_error(p, key);

        /* Known keys are short, so the normalized line always fits inih's buffer. */
        snprintf(out, out_size, "%s=\n", key);
        return 0;
}

/* ini_reader: return the next line in the form described at the top of this file. */
static char *read_line(char *out, int out_size, void *userdata)
{
        parser *p = userdata;
        const char *end;
        size_t n;

        if (p->r < 0 || !*p->next)
                return NULL;

        end = strchrnul(p->next, '\n');
        n = (size_t) (end - p->next);
        p->line++;
        if (n > RECIPE_MAX_LINE) {
                line_error(p, p->line, "line is longer than %d bytes", RECIPE_MAX_LINE);
                return NULL;
        }
        free(p->raw);
        p->raw = strndup(p->next, n);
        if (!p->raw) {
                oom(p);
                return NULL;
        }
        p->next = *end ? end + 1 : end;

        if (n > 0 && p->raw[n - 1] == '\r')
                p->raw[--n] = '\0';
        char *line = p->raw;
        if (p->line == 1 && vp_str_startswith(line, "\xef\xbb\xbf"))
                line += 3;
        if (check_text(p, line) < 0)
                return NULL;

        line = strip(line);
        if (!*line || *line == '#' || *line == ';')
                snprintf(out, out_size, "\n");
        else if (*line == '[') {
                if (read_section_line(p, line, out, out_size) < 0)
                        return NULL;
        } else if (read_key_line(p, line, out, out_size) < 0)
                return NULL;
        return out;
}

/* ini_handler: parse one value; section and key were validated by read_line. */
static int handle_key(void *userdata, const char *section_name, const char *key, const char *unused_value)
{
        parser *p = userdata;
        int k;

        if (p->r < 0)
                return 0;
        k = find_key(p->section, key);
        if (k < 0 || strcmp(section_names[p->section], section_name) != 0) {
                line_error(p, p->line, "key '%s': internal parser error", key);
                return 0;
        }

        const key_spec *spec = &key_specs[p->section][k];
        unsigned *seen = &p->key_line[p->section][k];
        if (*seen > 0) {
                line_error(p, p->line, "key '%s': duplicate key in [%s] (first at line %u)", key,
                           section_names[p->section], *seen);
                return 0;
        }
        *seen = p->line;

        return spec->parse(p, spec, p->value) < 0 ? 0 : 1;
}

/* Line of a section header for messages about a missing key, or 1 when the section is missing. */
static unsigned section_line_or_first(parser *p, enum section section)
{
        return p->section_line[section] > 0 ? p->section_line[section] : 1;
}

static int check_complete(parser *p)
{
        const unsigned packages_line = p->key_line[SECTION_APP][KEY_APP_PACKAGES];
        const unsigned containerfile_line = p->key_line[SECTION_BUILD][KEY_BUILD_CONTAINERFILE];
        const unsigned base_line = p->key_line[SECTION_APP][KEY_APP_BASE];
        const unsigned gpu_line = p->key_line[SECTION_PERMISSIONS][KEY_PERMISSIONS_GPU];
        vp_manifest *m = p->m;

        if (!m->exec)
                return line_error(p, section_line_or_first(p, SECTION_APP),
                                  "key 'Exec': missing in [App] (valid: the command that starts the app, "
                                  "e.g. Exec=app %%f)");
        if (packages_line == 0 && containerfile_line == 0)
                return line_error(p, section_line_or_first(p, SECTION_APP),
                                  "key 'Packages': missing (valid: Debian packages in [App] Packages, or a "
                                  "Containerfile in [Build] Containerfile)");
        if (packages_line > 0 && containerfile_line > 0)
                return line_error(p, containerfile_line,
                                  "key 'Containerfile': cannot be combined with Packages on line %u (valid: "
                                  "either [App] Packages or [Build] Containerfile)",
                                  packages_line);
        if (base_line > 0 && containerfile_line > 0)
                return line_error(
                        p, base_line,
                        "key 'Base': not used with the Containerfile on line %u (valid: remove Base; "
                        "the Containerfile's FROM line names the base image)",
                        containerfile_line);
        if (gpu_line > 0 && strcmp(m->permissions.gpu, "virgl") == 0 &&
            !(m->permissions.display && strcmp(m->permissions.display, "wayland") == 0))
                return line_error(p, gpu_line,
                                  "key 'gpu': virgl needs a display (valid: add display=wayland)");

        if (!m->base) {
                m->base = strdup(DEFAULT_BASE);
                if (!m->base)
                        return oom(p);
        }
        if (!m->display_name) {
                m->display_name = strdup(m->name);
                if (!m->display_name)
                        return oom(p);
        }
        return 0;
}

static bool is_image_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 64 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Set path, directory and name from the recipe's file name. */
static int init_location(vp_manifest *m, const char *filename, vp_error *err)
{
        _cleanup_free_ char *directory = NULL, *stem = NULL;
        const char *slash = strrchr(filename, '/');
        const char *base = slash ? slash + 1 : filename;

        if (!vp_str_endswith(base, RECIPE_SUFFIX))
                return vp_error_set(err, -EINVAL, "%s: the recipe file name must end in " RECIPE_SUFFIX,
                                    filename);
        stem = strndup(base, strlen(base) - strlen(RECIPE_SUFFIX));
        if (!stem)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!is_image_name(stem))
                return vp_error_set(err, -EINVAL,
                                    "%s: image name '%s' (the file name without " RECIPE_SUFFIX
                                    ") is invalid (valid: " IMAGE_NAME_RULE ")",
                                    filename, stem);

        if (!slash)
                directory = strdup(".");
        else if (slash == filename)
                directory = strdup("/");
        else
                directory = strndup(filename, (size_t) (slash - filename));
        if (!directory)
                return vp_error_set(err, -ENOMEM, "out of memory");

        m->directory = realpath(directory, NULL);
        if (!m->directory)
                return vp_error_set_errno(err, -errno, "%s: cannot resolve the recipe directory %s",
                                          filename, directory);
        m->path = vp_strdup_printf("%s/%s", strcmp(m->directory, "/") == 0 ? "" : m->directory, base);
        if (!m->path)
                return vp_error_set(err, -ENOMEM, "out of memory");
        m->name = TAKE_PTR(stem);
        return 0;
}

int vp_manifest_parse(const char *filename, const char *text, vp_manifest **ret, vp_error *err)
{
        _cleanup_manifest_ vp_manifest *m = calloc(1, sizeof(vp_manifest));
        parser p = {
                .filename = filename,
                .next = text,
                .section = SECTION_NONE,
                .err = err,
        };
        int r;

        if (!m)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (strlen(text) > RECIPE_MAX_SIZE)
                return vp_error_set(err, -EFBIG, "%s: the recipe is larger than %d bytes", filename,
                                    RECIPE_MAX_SIZE);
        r = init_location(m, filename, err);
        if (r < 0)
                return r;
        p.m = m;

        r = ini_parse_stream(read_line, &p, handle_key, &p);
        free(p.raw);
        if (p.r < 0)
                return p.r;
        if (r == -2)
                return vp_error_set(err, -ENOMEM, "%s: out of memory", filename);
        if (r != 0)
                return vp_error_set(err, -EINVAL, "%s:%d: cannot parse this line", filename, r);

        r = check_complete(&p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

int vp_manifest_load(const char *path, vp_manifest **ret, vp_error *err)
{
        _cleanup_free_ char *filename = NULL, *text = NULL;
        size_t size;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return vp_error_set_errno(err, -errno, "recipe %s", path);

        if (S_ISDIR(st.st_mode)) {
                _cleanup_free_ char *resolved = realpath(path, NULL);
                if (!resolved)
                        return vp_error_set_errno(err, -errno, "recipe directory %s", path);
                const char *base = strrchr(resolved, '/') + 1;
                size_t n = strlen(path);
                while (n > 1 && path[n - 1] == '/')
                        n--;
                filename = vp_strdup_printf("%.*s/%s" RECIPE_SUFFIX, (int) n, path, base);
                if (!filename)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                if (access(filename, F_OK) < 0)
                        return vp_error_set(err, -errno,
                                            "%s: no recipe in this directory (expected %s, named after the "
                                            "directory)",
                                            path, filename);
        } else {
                filename = strdup(path);
                if (!filename)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }

        r = vp_read_file(filename, RECIPE_MAX_SIZE, &text, &size, err);
        if (r == -EFBIG)
                return vp_error_set(err, r, "%s: the recipe is larger than %d bytes", filename,
                                    RECIPE_MAX_SIZE);
        if (r < 0)
                return vp_error_prefix(err, "recipe");
        if (memchr(text, '\0', size))
                return vp_error_set(err, -EINVAL, "%s: contains a NUL byte (a recipe is UTF-8 text)",
                                    filename);

        return vp_manifest_parse(filename, text, ret, err);
}

vp_manifest *vp_manifest_free(vp_manifest *m)
{
        if (!m)
                return NULL;

        free(m->path);
        free(m->directory);
        free(m->name);
        free(m->display_name);
        free(m->summary);
        free(m->icon);
        free(m->exec);
        strv_free(m->exec_argv);
        free(m->base);
        strv_free(m->packages);
        free(m->containerfile);
        for (size_t i = 0; i < m->n_files; i++) {
                free(m->files[i].source);
                free(m->files[i].destination);
        }
        free(m->files);
        strv_free(m->run);

        vp_permissions *permissions = &m->permissions;
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
        free(m);
        return NULL;
}

const char *vp_share_mode_to_string(vp_share_mode mode)
{
        switch (mode) {
        case VP_SHARE_RO:
                return "ro";
        case VP_SHARE_RW:
                return "rw";
        case VP_SHARE_CREATE:
                return "create";
        }
        return "unknown";
}
