/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "manifest.h"
#include "keyfile.h"
#include "permission-values.h"
#include "policy.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define RECIPE_SUFFIX ".vmpack"
#define RECIPE_MAX_SIZE (1024 * 1024)
#define TEXT_MAX 512
#define DEFAULT_BASE "debian:bookworm"

#define IMAGE_NAME_RULE "[a-z0-9][a-z0-9._-]{0,63}, e.g. pdf-viewer"

/* lib/keyfile.c reads the text, and the callbacks below check section and key names and parse values. */

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
        vp_keyfile kf;
        enum section section;
        unsigned section_line[_SECTION_MAX];
        unsigned key_line[_SECTION_MAX][MAX_KEYS];
        vp_manifest *m;
};

/* "FILE:LINE: key 'X': MESSAGE (valid: ...)" for the key on the current line. */
static int key_error(parser *p, const key_spec *spec, const char *fmt, ...) _printf_(3, 4);
static int key_error(parser *p, const key_spec *spec, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vp_keyfile_key_errorv(&p->kf, spec->name, spec->valid, fmt, ap);
        va_end(ap);
        return r;
}

static int oom(parser *p)
{
        return vp_keyfile_oom(&p->kf);
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

static int parse_list(parser *p, const key_spec *spec, const char *value, char ***ret)
{
        _cleanup_strv_free_ char **items = NULL;

        if (vp_keyfile_split_list(value, SIZE_MAX, &items) < 0)
                return oom(p);
        if (!items[0])
                return key_error(p, spec, "empty list");
        *ret = TAKE_PTR(items);
        return 0;
}

/* Reject an item listed twice; items are compared as written. */
static int check_unique(parser *p, const key_spec *spec, char *const *items)
{
        const char *duplicate = vp_keyfile_find_duplicate(items);
        char buf[VP_KEYFILE_SHORT_SIZE];

        if (duplicate)
                return key_error(p, spec, "'%s' is listed twice", vp_keyfile_shorten(duplicate, buf));
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
        char buf[VP_KEYFILE_SHORT_SIZE];
        struct stat st;

        if (relative[0] == '/')
                return key_error(p, spec,
                                 "'%s' is an absolute path; name a file relative to the recipe directory %s",
                                 vp_keyfile_shorten(relative, buf), directory);
        if (has_dotdot_component(relative))
                return key_error(p, spec, "'%s' contains '..'; name a file inside the recipe directory %s",
                                 vp_keyfile_shorten(relative, buf), directory);

        joined = vp_strdup_printf("%s/%s", directory, relative);
        if (!joined)
                return oom(p);
        resolved = realpath(joined, NULL);
        if (!resolved) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return key_error(p, spec, "'%s' not found in the recipe directory %s",
                                         vp_keyfile_shorten(relative, buf), directory);
                return key_error(p, spec, "cannot resolve '%s' in %s: %s", vp_keyfile_shorten(relative, buf),
                                 directory, strerror(errno));
        }
        size_t n = strlen(directory);
        if (strncmp(resolved, directory, n) != 0 || resolved[n] != '/')
                return key_error(p, spec, "'%s' leads to %s, outside the recipe directory %s",
                                 vp_keyfile_shorten(relative, buf), resolved, directory);
        if (stat(resolved, &st) < 0)
                return key_error(p, spec, "cannot read '%s': %s", vp_keyfile_shorten(relative, buf),
                                 strerror(errno));
        if (!S_ISREG(st.st_mode) && !(directory_ok && S_ISDIR(st.st_mode)))
                return key_error(p, spec, "'%s' is not a regular file%s", vp_keyfile_shorten(relative, buf),
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
        char buf[VP_KEYFILE_SHORT_SIZE];

        if (!vp_str_startswith(value, "debian:") || !is_suite_name(value + strlen("debian:")))
                return key_error(p, spec, "invalid base '%s'", vp_keyfile_shorten(value, buf));
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
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r;

        r = parse_list(p, spec, value, &packages);
        if (r < 0)
                return r;
        STRV_FOREACH(package, packages)
                if (!is_package_name(*package))
                        return key_error(p, spec, "invalid package name '%s'",
                                         vp_keyfile_shorten(*package, buf));
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
        char buf[VP_KEYFILE_SHORT_SIZE];
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
                        return key_error(p, spec, "'%s' has no destination",
                                         vp_keyfile_shorten(items[i], buf));
                *colon = '\0';
                const char *destination = colon + 1;
                if (!items[i][0])
                        return key_error(p, spec, "':%s' has no source",
                                         vp_keyfile_shorten(destination, buf));
                if (destination[0] != '/')
                        return key_error(p, spec, "destination '%s' is not an absolute path",
                                         vp_keyfile_shorten(destination, buf));
                if (has_dotdot_component(destination))
                        return key_error(p, spec, "destination '%s' contains '..'",
                                         vp_keyfile_shorten(destination, buf));
                for (size_t j = 0; j < i; j++)
                        if (strcmp(p->m->files[j].destination, destination) == 0)
                                return key_error(p, spec, "destination '%s' is listed twice",
                                                 vp_keyfile_shorten(destination, buf));

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
        char buf[VP_KEYFILE_SHORT_SIZE];

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
        return key_error(p, spec, "invalid boolean '%s'", vp_keyfile_shorten(value, buf));
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
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r = vp_cpus_parse(value, &p->m->cpus);

        if (r == -ERANGE)
                return key_error(p, spec, "CPU count %d is out of range", atoi(value));
        if (r < 0)
                return key_error(p, spec, "invalid CPU count '%s'", vp_keyfile_shorten(value, buf));
        return 0;
}

static int parse_memory(parser *p, const key_spec *spec, const char *value)
{
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r = vp_memory_parse(value, &p->m->memory_bytes);

        if (r == -ERANGE)
                return key_error(p, spec, "%s is out of range", vp_keyfile_shorten(value, buf));
        if (r < 0)
                return key_error(p, spec, "invalid size '%s'", vp_keyfile_shorten(value, buf));
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
        char buf[VP_KEYFILE_SHORT_SIZE];

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
                        snprintf(message, message_size, "unknown mode ':%s' in '%s'",
                                 vp_keyfile_shorten(colon + 1, buf), item);
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
                        snprintf(message, message_size, "'%s' contains '..'",
                                 vp_keyfile_shorten(location, buf));
                        return -EINVAL;
                }
        } else {
                snprintf(message, message_size, "unknown location '%s'", vp_keyfile_shorten(location, buf));
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
        char buf[VP_KEYFILE_SHORT_SIZE];
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
                                return key_error(p, spec, "'%s' is listed twice",
                                                 vp_keyfile_shorten(items[i], buf));
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
        char buf[VP_KEYFILE_SHORT_SIZE];

        if (!vp_network_value_valid(value))
                return key_error(p, spec, "invalid network '%s'", vp_keyfile_shorten(value, buf));
        p->m->permissions.network = strdup(value);
        return p->m->permissions.network ? 0 : oom(p);
}

static int parse_choice(parser *p, const key_spec *spec, const char *value)
{
        char buf[VP_KEYFILE_SHORT_SIZE];

        for (size_t i = 0; spec->choices[i]; i++)
                if (strcmp(value, spec->choices[i]) == 0) {
                        *field_string(p, spec) = strdup(value);
                        return *field_string(p, spec) ? 0 : oom(p);
                }
        return key_error(p, spec, "invalid value '%s'", vp_keyfile_shorten(value, buf));
}

bool vp_usb_id_valid(const char *s)
{
        static const char hex[] = "0123456789abcdefABCDEF";

        return strlen(s) == 9 && strspn(s, hex) == 4 && s[4] == ':' && strspn(s + 5, hex) == 4;
}

static int parse_usb(parser *p, const key_spec *spec, const char *value)
{
        _cleanup_strv_free_ char **ids = NULL;
        char buf[VP_KEYFILE_SHORT_SIZE];
        int r;

        r = parse_list(p, spec, value, &ids);
        if (r < 0)
                return r;
        STRV_FOREACH(id, ids) {
                if (!vp_usb_id_valid(*id))
                        return key_error(p, spec, "invalid USB device '%s'", vp_keyfile_shorten(*id, buf));
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
                                       "Debian package names separated by ';', e.g. Packages=vlc;sway" },
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
        char valid[512] = "", suggestion[128] = "", buf[VP_KEYFILE_SHORT_SIZE];
        const key_spec *specs = key_specs[p->section];

        for (size_t i = 0; specs[i].name; i++) {
                if (i > 0)
                        strcat(valid, ", ");
                strcat(valid, specs[i].name);
                if (strcasecmp(specs[i].name, key) == 0)
                        snprintf(suggestion, sizeof(suggestion),
                                 "; keys are case-sensitive, did you mean '%s'?", specs[i].name);
        }
        return vp_keyfile_error(&p->kf, "key '%s': unknown key in [%s]%s (valid: %s)",
                                vp_keyfile_shorten(key, buf), section_names[p->section], suggestion, valid);
}

/* vp_keyfile_ops.section */
static int read_section(void *userdata, const char *name)
{
        parser *p = userdata;
        char buf[VP_KEYFILE_SHORT_SIZE];

        for (int i = 0; i < _SECTION_MAX; i++) {
                if (strcmp(name, section_names[i]) != 0)
                        continue;
                if (p->section_line[i] > 0)
                        return vp_keyfile_error(&p->kf, "duplicate section '[%s]' (first at line %u)", name,
                                                p->section_line[i]);
                p->section = i;
                p->section_line[i] = p->kf.line;
                return 0;
        }
        return vp_keyfile_error(&p->kf, "unknown section '[%s]' (valid: " SECTIONS_VALID ")",
                                vp_keyfile_shorten(name, buf));
}

/* vp_keyfile_ops.key */
static int read_key(void *userdata, const char *key)
{
        parser *p = userdata;
        char buf[VP_KEYFILE_SHORT_SIZE];
        int k;

        if (p->section == SECTION_NONE)
                return vp_keyfile_error(&p->kf,
                                        "key '%s': outside a section (valid: put it under [App], [Build], "
                                        "[Resources] or [Permissions])",
                                        vp_keyfile_shorten(key, buf));
        k = find_key(p->section, key);
        if (k < 0)
                return unknown_key_error(p, key);
        return k;
}

/* vp_keyfile_ops.value */
static int read_value(void *userdata, int k, const char *value)
{
        parser *p = userdata;
        const key_spec *spec = &key_specs[p->section][k];
        unsigned *seen = &p->key_line[p->section][k];

        if (*seen > 0)
                return vp_keyfile_error(&p->kf, "key '%s': duplicate key in [%s] (first at line %u)",
                                        spec->name, section_names[p->section], *seen);
        *seen = p->kf.line;

        return spec->parse(p, spec, value);
}

static const vp_keyfile_ops keyfile_ops = {
        .section = read_section,
        .key = read_key,
        .value = read_value,
};

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
                return vp_keyfile_error_at(
                        &p->kf, section_line_or_first(p, SECTION_APP),
                        "key 'Exec': missing in [App] (valid: the command that starts the app, "
                        "e.g. Exec=app %%f)");
        if (packages_line == 0 && containerfile_line == 0)
                return vp_keyfile_error_at(
                        &p->kf, section_line_or_first(p, SECTION_APP),
                        "key 'Packages': missing (valid: Debian packages in [App] Packages, or a "
                        "Containerfile in [Build] Containerfile)");
        if (packages_line > 0 && containerfile_line > 0)
                return vp_keyfile_error_at(
                        &p->kf, containerfile_line,
                        "key 'Containerfile': cannot be combined with Packages on line %u (valid: "
                        "either [App] Packages or [Build] Containerfile)",
                        packages_line);
        if (base_line > 0 && containerfile_line > 0)
                return vp_keyfile_error_at(
                        &p->kf, base_line,
                        "key 'Base': not used with the Containerfile on line %u (valid: remove Base; "
                        "the Containerfile's FROM line names the base image)",
                        containerfile_line);
        if (gpu_line > 0 && strcmp(m->permissions.gpu, "virgl") == 0 &&
            !(m->permissions.display && strcmp(m->permissions.display, "wayland") == 0))
                return vp_keyfile_error_at(&p->kf, gpu_line,
                                           "key 'gpu': virgl needs a display (valid: add display=wayland)");
        /* The guest runs a display app under sway or cage. A Containerfile's packages are
         * not known here, so only a package list is checked. */
        const unsigned display_line = p->key_line[SECTION_PERMISSIONS][KEY_PERMISSIONS_DISPLAY];
        if (display_line > 0 && m->packages && strcmp(m->permissions.display, "wayland") == 0 &&
            !strv_contains(m->packages, "sway") && !strv_contains(m->packages, "cage"))
                return vp_keyfile_error_at(&p->kf, packages_line,
                                           "key 'Packages': display=wayland on line %u needs a compositor in the "
                                           "image (valid: add sway, and xwayland for X11 apps; cage also works)",
                                           display_line);

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
                .kf = {.filename = filename, .kind = "recipe", .err = err},
                .section = SECTION_NONE,
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

        r = vp_keyfile_parse(&p.kf, text, &keyfile_ops, &p);
        if (r < 0)
                return r;

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
        vp_permissions_clear(&m->permissions);
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
