/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "build.h"

#include "config.h"
#include "paths.h"
#include "subprocess.h"

#include <dirent.h>
#include <fcntl.h>
#include <sha2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

/* Upper bounds for what a build reads back from its own tools. */
#define DPKG_STATUS_MAX_BYTES (64U * 1024 * 1024)
#define HARDEN_LIST_MAX_BYTES (1U * 1024 * 1024)
#define RECIPE_FILE_MAX_BYTES (1U * 1024 * 1024)
/* mmdebstrap's hooks that set up merged /usr with symlinks when the suite has usr-is-merged
 * (bookworm and later). Without them, apt pulls in the usrmerge package, which depends on perl
 * and adds about 20 MB to every image. */
#define MERGED_USR_HOOKS "/usr/share/mmdebstrap/hooks/maybe-merged-usr"
/* Changes whenever the options given to mmdebstrap or tar2sqfs change, so that cached images
 * made with the old options are not reused. */
#define BUILDER_REVISION "3"
/* Lines of tool output kept for the error message of a failed step. */
#define OUTPUT_TAIL_LINES 4

/* State of one build: where it works, its log, and what the current step's output showed. */
typedef struct build {
        const vp_build_options *opts;
        const char *name;
        char *staging;  /* staging directory under the store's tmp/ */
        char *log_path; /* logs/<name>-<time>.log */
        int log_fd;
        unsigned step, steps;
        const char *step_title;

        /* Progress parsed from mmdebstrap and apt output. */
        unsigned packages_total, packages_done;
        unsigned files_packed;
        int source_fd;        /* the tar file that tar2sqfs or its decompressor reads, or -1 */
        uint64_t source_size; /* its size in bytes, 0 when not a regular file */

        char tail[OUTPUT_TAIL_LINES][256];
        unsigned tail_next;
        char first_error[256]; /* first "E: " line (apt, mmdebstrap) of the current step */
} build;

static void build_done(build *b)
{
        if (b->staging) {
                /* Best effort: the build already failed or its result was moved away. */
                (void) vp_rm_rf(b->staging, NULL);
                free(b->staging);
                b->staging = NULL;
        }
        if (b->log_fd >= 0)
                close(b->log_fd);
        b->log_fd = -1;
        free(b->log_path);
        b->log_path = NULL;
}

static void log_printf(build *b, const char *fmt, ...) _printf_(2, 3);
static void log_printf(build *b, const char *fmt, ...)
{
        va_list ap;

        if (b->log_fd < 0)
                return;
        va_start(ap, fmt);
        vdprintf(b->log_fd, fmt, ap);
        va_end(ap);
}

static int build_begin(build *b, const char *name, const vp_build_options *opts, vp_error *err)
{
        int r;

        *b = (build){ .opts = opts, .name = name, .log_fd = -1 };
        r = vp_store_open_log(name, &b->log_path, &b->log_fd, err);
        if (r < 0)
                return r;
        r = vp_store_make_staging(&b->staging, err);
        if (r < 0)
                return r;
        log_printf(b, "vmpack %s: building image '%s' in %s\n", VP_VERSION, name, b->staging);
        return 0;
}

static void start_step(build *b, const char *title)
{
        b->step++;
        b->step_title = title;
        b->tail_next = 0;
        memset(b->tail, 0, sizeof(b->tail));
        b->first_error[0] = '\0';
        log_printf(b, "\n== step %u/%u: %s\n", b->step, b->steps, title);
        vp_progress_step(b->opts->progress, b->step, b->steps, "%s", title);
}

/* Turn the error of the current step into "step N/M (title) failed: ...", then the last
 * lines of output and "full build log: PATH": the form of every build failure. */
static int fail_step(build *b, vp_error *err)
{
        char tail[1280] = "";
        size_t used = 0;

        /* apt reports the cause (such as an unknown package) first and mmdebstrap's summary
         * after it, so the first error line is often the useful one. */
        if (b->first_error[0]) {
                int n = snprintf(tail, sizeof(tail), "\n    %s\n    ...", b->first_error);
                used = n > 0 && (size_t) n < sizeof(tail) ? (size_t) n : 0;
        }
        for (unsigned i = 0; i < OUTPUT_TAIL_LINES; i++) {
                const char *line = b->tail[(b->tail_next + i) % OUTPUT_TAIL_LINES];
                if (!*line || strcmp(line, b->first_error) == 0)
                        continue;
                int n = snprintf(tail + used, sizeof(tail) - used, "\n    %s", line);
                if (n < 0 || (size_t) n >= sizeof(tail) - used)
                        break;
                used += (size_t) n;
        }
        log_printf(b, "\n== failed: %s\n", err ? err->message : "");
        vp_progress_finish(b->opts->progress);
        if (!err)
                return -EIO;
        vp_error_prefix(err, "step %u/%u (%s) failed", b->step, b->steps, b->step_title);
        size_t length = strlen(err->message);
        snprintf(err->message + length, sizeof(err->message) - length, "%s%s\nfull build log: %s",
                 *tail ? "\nlast output:" : "", tail, b->log_path);
        return err->code;
}

/* True when one of the last output lines of the current step contains TEXT. */
static bool output_has(const build *b, const char *text)
{
        for (unsigned i = 0; i < OUTPUT_TAIL_LINES; i++)
                if (strstr(b->tail[i], text))
                        return true;
        return false;
}

static void remember_line(build *b, const char *line)
{
        if (!b->first_error[0] && vp_str_startswith(line, "E: "))
                snprintf(b->first_error, sizeof(b->first_error), "%s", line);
        snprintf(b->tail[b->tail_next], sizeof(b->tail[0]), "%s", line);
        b->tail_next = (b->tail_next + 1) % OUTPUT_TAIL_LINES;
}

/* Output of mmdebstrap --verbose: apt's "N newly installed" gives the total, dpkg's
 * "Setting up PACKAGE (VERSION)" one finished package, and the hook's "harden: ..." lines
 * are shown as messages. */
static void on_mmdebstrap_line(const char *line, void *userdata)
{
        build *b = userdata;
        unsigned upgraded, installed;
        char package[128];

        remember_line(b, line);
        if (sscanf(line, "%u upgraded, %u newly installed", &upgraded, &installed) == 2) {
                b->packages_total += installed;
                return;
        }
        if (sscanf(line, "Setting up %127s", package) == 1) {
                b->packages_done++;
                if (b->packages_total > 0)
                        vp_progress_update(b->opts->progress, "%u/%u packages, %s", b->packages_done,
                                           b->packages_total, package);
                else
                        vp_progress_update(b->opts->progress, "%u packages, %s", b->packages_done, package);
                return;
        }
        if (vp_str_startswith(line, "harden: ") || vp_str_startswith(line, "customize: ")) {
                /* A failed Run command or hardening is the cause; mmdebstrap's "E:" lines follow. */
                if (!b->first_error[0] && (strstr(line, " failed") || strstr(line, " not found")))
                        snprintf(b->first_error, sizeof(b->first_error), "%s", line);
                vp_progress_message(b->opts->progress, "  %s", line);
                return;
        }
        /* mmdebstrap prints each hook's full command line, which means nothing to the user. */
        if (vp_str_startswith(line, "I: running --customize-hook"))
                vp_progress_update(b->opts->progress, "customizing the image");
        else if (vp_str_startswith(line, "I: running --"))
                vp_progress_update(b->opts->progress, "running hooks");
        else if (vp_str_startswith(line, "I: "))
                vp_progress_update(b->opts->progress, "%s", line + 3);
}

static void on_podman_line(const char *line, void *userdata)
{
        build *b = userdata;

        remember_line(b, line);
        if (vp_str_startswith(line, "STEP "))
                vp_progress_update(b->opts->progress, "%s", line);
}

static void on_tar2sqfs_line(const char *line, void *userdata)
{
        build *b = userdata;

        /* One "Packing PATH" line per file: count them, and keep only the other lines (errors,
         * statistics) for the error message. */
        if (!vp_str_startswith(line, "Packing ")) {
                remember_line(b, line);
                return;
        }
        b->files_packed++;
        if (b->files_packed % 256 != 0)
                return;

        /* The reader shares the file offset of our descriptor, so lseek() returns its position. */
        off_t position = b->source_size > 0 ? lseek(b->source_fd, 0, SEEK_CUR) : -1;
        if (position >= 0)
                vp_progress_update(b->opts->progress, "%u files, %u%% of the input read", b->files_packed,
                                   (unsigned) ((uint64_t) position * 100 / b->source_size));
        else
                vp_progress_update(b->opts->progress, "%u files", b->files_packed);
}

static void on_plain_line(const char *line, void *userdata)
{
        remember_line(userdata, line);
}

static int run_logged(build *b, char *const *argv, vp_spawn_line_fn on_line, vp_spawn_options *opts,
                      vp_error *err)
{
        vp_spawn_options defaults = VP_SPAWN_OPTIONS_INIT;

        if (!opts)
                opts = &defaults;
        opts->log_fd = b->log_fd;
        opts->on_line = on_line;
        opts->userdata = b;

        _cleanup_free_ char *command = strv_join(argv, " ");
        log_printf(b, "$ %s\n", command ? command : argv[0]);
        return vp_spawn_check(argv, opts, err);
}

/* ---- recipe digest ---- */

static void hash_string(SHA2_CTX *ctx, const char *label, const char *value)
{
        SHA256Update(ctx, (const uint8_t *) label, strlen(label) + 1);
        if (value)
                SHA256Update(ctx, (const uint8_t *) value, strlen(value) + 1);
        else
                SHA256Update(ctx, (const uint8_t *) "", 1);
}

static int hash_file_contents(SHA2_CTX *ctx, const char *path, vp_error *err)
{
        char hex[65];
        int r = vp_sha256_file(path, hex, err);

        if (r < 0)
                return r;
        hash_string(ctx, "content", hex);
        return 0;
}

/* Hash a Files source: file contents, or a directory tree with names, modes and link
 * targets in sorted order, so the digest does not depend on directory order. */
static int hash_tree(SHA2_CTX *ctx, const char *path, unsigned depth, vp_error *err)
{
        struct stat st;
        char mode[32];

        if (depth > 64)
                return vp_error_set(err, -ELOOP, "%s: directory tree deeper than 64 levels", path);
        if (lstat(path, &st) < 0)
                return vp_error_set_errno(err, -errno, "%s", path);
        snprintf(mode, sizeof(mode), "%o", (unsigned) st.st_mode);
        hash_string(ctx, "mode", mode);

        if (S_ISREG(st.st_mode))
                return hash_file_contents(ctx, path, err);
        if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlink(path, target, sizeof(target) - 1);
                if (n < 0)
                        return vp_error_set_errno(err, -errno, "%s", path);
                target[n] = '\0';
                hash_string(ctx, "link", target);
                return 0;
        }
        if (!S_ISDIR(st.st_mode))
                return 0;

        struct dirent **entries = NULL;
        int n = scandir(path, &entries, NULL, alphasort);
        if (n < 0)
                return vp_error_set_errno(err, -errno, "%s", path);
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *entry = entries[i]->d_name;
                if (r >= 0 && strcmp(entry, ".") != 0 && strcmp(entry, "..") != 0) {
                        _cleanup_free_ char *child = vp_strdup_printf("%s/%s", path, entry);
                        hash_string(ctx, "entry", entry);
                        r = child ? hash_tree(ctx, child, depth + 1, err)
                                  : vp_error_set(err, -ENOMEM, "out of memory");
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

/* The helper scripts shape the image too: a change in them must miss the cache. */
static int hash_helper(SHA2_CTX *ctx, const char *name, vp_error *err)
{
        _cleanup_free_ char *path = NULL;
        int r = vp_find_helper(name, &path, err);

        if (r < 0)
                return r;
        hash_string(ctx, "helper", name);
        return hash_file_contents(ctx, path, err);
}

int vp_build_recipe_digest(const vp_manifest *m, char ret_hex[65], vp_error *err)
{
        _cleanup_free_ char *text = NULL;
        char digest[SHA256_DIGEST_STRING_LENGTH];
        SHA2_CTX ctx;
        int r;

        r = vp_read_file(m->path, RECIPE_FILE_MAX_BYTES, &text, NULL, err);
        if (r < 0)
                return r;

        SHA256Init(&ctx);
        hash_string(&ctx, "vmpack-recipe", "1");
        hash_string(&ctx, "version", VP_VERSION);
        hash_string(&ctx, "builder", BUILDER_REVISION);
        hash_string(&ctx, "base", m->base);
        hash_string(&ctx, "recipe", text);
        if (m->containerfile) {
                r = hash_file_contents(&ctx, m->containerfile, err);
                if (r < 0)
                        return r;
                /* The recipe directory is the build context: COPY and ADD can read any file in
                 * it. NOTE: .containerignore and .dockerignore are not applied here, so a change
                 * to an ignored file also causes a rebuild. */
                r = hash_tree(&ctx, m->directory, 0, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < m->n_files; i++) {
                hash_string(&ctx, "destination", m->files[i].destination);
                r = hash_tree(&ctx, m->files[i].source, 0, err);
                if (r < 0)
                        return r;
        }
        if (!m->containerfile) {
                r = hash_helper(&ctx, "customize", err);
                if (r < 0)
                        return r;
        }
        if (!m->containerfile || m->hardened) {
                r = hash_helper(&ctx, "harden", err);
                if (r < 0)
                        return r;
        }
        SHA256End(&ctx, digest);
        memcpy(ret_hex, digest, 65);
        return 0;
}

/* ---- metadata ---- */

/* Parse a dpkg status file into {"package": "version"} for installed packages. */
static json_t *parse_dpkg_status(const char *text)
{
        json_t *packages = json_object();
        char package[256] = "", version[256] = "";
        bool installed = false;

        if (!packages)
                return NULL;
        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t length = end ? (size_t) (end - line) : strlen(line);

                if (length == 0) {
                        if (*package && *version && installed)
                                json_object_set_new(packages, package, json_string(version));
                        *package = *version = '\0';
                        installed = false;
                } else if (length < 200 && vp_str_startswith(line, "Package: ")) {
                        snprintf(package, sizeof(package), "%.*s", (int) (length - 9), line + 9);
                } else if (length < 200 && vp_str_startswith(line, "Version: ")) {
                        snprintf(version, sizeof(version), "%.*s", (int) (length - 9), line + 9);
                } else if (vp_str_startswith(line, "Status: ")) {
                        /* "WANT FLAG STATE": "install ok installed", "hold ok installed", ...
                         * The state "not-installed" does not end in " installed". */
                        installed = length > 10 && strncmp(line + length - 10, " installed", 10) == 0;
                }
                line = end ? end + 1 : NULL;
        }
        if (*package && *version && installed)
                json_object_set_new(packages, package, json_string(version));
        return packages;
}

/* Package versions read from the image's /var/lib/dpkg/status; an empty object when the
 * image has no dpkg. */
static int read_package_versions(build *b, json_t **ret, vp_error *err)
{
        _cleanup_free_ char *status_path = vp_strdup_printf("%s/dpkg-status", b->staging);
        _cleanup_free_ char *rootfs = vp_strdup_printf("%s/rootfs.sqfs", b->staging);
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        vp_spawn_options opts = VP_SPAWN_OPTIONS_INIT;
        vp_spawn_result result;
        int r;

        if (!status_path || !rootfs)
                return vp_error_set(err, -ENOMEM, "out of memory");
        fd = open(status_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s", status_path);

        char *argv[] = { "rdsquashfs", "--cat", "/var/lib/dpkg/status", rootfs, NULL };
        opts.stdout_fd = fd;
        opts.log_fd = b->log_fd;
        log_printf(b, "$ rdsquashfs --cat /var/lib/dpkg/status %s\n", rootfs);
        r = vp_spawn_run(argv, &opts, &result, err);
        if (r < 0)
                return r;
        if (!result.exited || result.exit_status != 0) {
                log_printf(b, "no /var/lib/dpkg/status in the image: no package versions recorded\n");
                *ret = json_object();
                return *ret ? 0 : vp_error_set(err, -ENOMEM, "out of memory");
        }

        r = vp_read_file(status_path, DPKG_STATUS_MAX_BYTES, &text, NULL, err);
        if (r < 0)
                return r;
        *ret = parse_dpkg_status(text);
        return *ret ? 0 : vp_error_set(err, -ENOMEM, "out of memory");
}

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

static json_t *strv_to_json(char *const *v)
{
        json_t *array = json_array();

        STRV_FOREACH(s, (char **) v)
                json_array_append_new(array, json_string(*s));
        return array;
}

static json_t *permissions_to_json(const vp_permissions *p)
{
        json_t *filesystems = json_array();

        for (size_t i = 0; i < p->n_filesystems; i++)
                json_array_append_new(filesystems,
                                      json_pack("{s:s, s:s}", "location", p->filesystems[i].location, "mode",
                                                vp_share_mode_to_string(p->filesystems[i].mode)));
        return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "filesystems", filesystems, "network",
                         string_or_null(p->network), "clipboard", string_or_null(p->clipboard), "audio",
                         string_or_null(p->audio), "microphone", string_or_null(p->microphone), "camera",
                         string_or_null(p->camera), "usb", strv_to_json(p->usb), "gpu", string_or_null(p->gpu),
                         "display", string_or_null(p->display));
}

static void format_utc_now(char buf[32])
{
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Fields every image has, whatever made it. */
static json_t *base_metadata(const char *name, const char *builder)
{
        char built[32];
        const char *epoch = getenv("SOURCE_DATE_EPOCH");

        format_utc_now(built);
        return json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", name, "builder", builder, "build_time", built,
                         "vmpack_version", VP_VERSION, "source_date_epoch", string_or_null(epoch));
}

static int recipe_metadata(const vp_manifest *m, const char *recipe_digest, json_t *metadata, vp_error *err)
{
        _cleanup_free_ char *text = NULL, *containerfile_text = NULL;
        int r = vp_read_file(m->path, RECIPE_FILE_MAX_BYTES, &text, NULL, err);

        if (r < 0)
                return r;
        if (m->containerfile) {
                r = vp_read_file(m->containerfile, RECIPE_FILE_MAX_BYTES, &containerfile_text, NULL, err);
                if (r < 0)
                        return r;
        }

        json_t *recipe = json_pack("{s:s, s:s, s:s, s:o}", "path", m->path, "text", text, "digest",
                                   recipe_digest, "containerfile", string_or_null(containerfile_text));
        json_t *resources = json_pack("{s:I, s:I}", "cpus", (json_int_t) m->cpus, "memory_bytes",
                                      (json_int_t) m->memory_bytes);
        if (!recipe || !resources) {
                json_decref(recipe);
                json_decref(resources);
                return vp_error_set(err, -ENOMEM, "out of memory");
        }
        json_object_set_new(metadata, "recipe", recipe);
        json_object_set_new(metadata, "base", string_or_null(m->base));
        json_object_set_new(metadata, "summary", string_or_null(m->summary));
        json_object_set_new(metadata, "exec", strv_to_json(m->exec_argv));
        json_object_set_new(metadata, "resources", resources);
        json_object_set_new(metadata, "permissions", permissions_to_json(&m->permissions));
        json_object_set_new(metadata, "hardened", json_boolean(m->hardened));
        return 0;
}

/* Lines of the harden hook's list of removed paths, as a JSON array. */
static json_t *read_removed_list(build *b)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/hook/removed", b->staging);
        _cleanup_free_ char *text = NULL;
        json_t *removed = json_array();

        if (!path || !removed || vp_read_file(path, HARDEN_LIST_MAX_BYTES, &text, NULL, NULL) < 0)
                return removed;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (*line)
                        json_array_append_new(removed, json_string(line));
        }
        return removed;
}

/* ---- steps ---- */

/* Write the inputs of the customize hook (libexec/customize) into staging/hook/: NUL-separated
 * lists, so paths and commands may contain any other character. */
static int write_hook_inputs(build *b, const vp_manifest *m, vp_error *err)
{
        _cleanup_free_ char *hook_dir = vp_strdup_printf("%s/hook", b->staging);
        _cleanup_free_ char *files = NULL, *run = NULL, *harden = NULL;
        size_t files_size = 0, run_size = 0, harden_size = 0;
        int r;

        if (!hook_dir)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (mkdir(hook_dir, 0755) < 0)
                return vp_error_set_errno(err, -errno, "%s", hook_dir);

        FILE *f = open_memstream(&files, &files_size);
        if (!f)
                return vp_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < m->n_files; i++)
                fprintf(f, "%s%c%s%c", m->files[i].source, 0, m->files[i].destination, 0);
        fclose(f);

        f = open_memstream(&run, &run_size);
        if (!f)
                return vp_error_set(err, -ENOMEM, "out of memory");
        STRV_FOREACH(command, m->run)
                fprintf(f, "%s%c", *command, 0);
        fclose(f);

        f = open_memstream(&harden, &harden_size);
        if (!f)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (m->hardened)
                STRV_FOREACH(package, m->packages)
                        fprintf(f, "%s%c", *package, 0);
        fclose(f);

        struct {
                const char *name;
                const char *data;
                size_t size;
                bool wanted;
        } inputs[] = {
                { "files", files, files_size, true },
                { "run", run, run_size, true },
                { "harden-packages", harden, harden_size, m->hardened },
        };
        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                if (!inputs[i].wanted)
                        continue;
                _cleanup_free_ char *path = vp_strdup_printf("%s/%s", hook_dir, inputs[i].name);
                if (!path)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                r = vp_write_file_atomic(path, inputs[i].data ? inputs[i].data : "", inputs[i].size, 0644, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Quote s for sh: mmdebstrap runs a hook that contains quotes under sh with the root
 * directory as $1. */
static char *shell_quote(const char *s)
{
        size_t length = 2;

        for (const char *p = s; *p; p++)
                length += *p == '\'' ? 4 : 1;
        char *quoted = malloc(length + 1), *q = quoted;
        if (!quoted)
                return NULL;
        *q++ = '\'';
        for (const char *p = s; *p; p++) {
                if (*p == '\'') {
                        memcpy(q, "'\\''", 4);
                        q += 4;
                } else
                        *q++ = *p;
        }
        *q++ = '\'';
        *q = '\0';
        return quoted;
}

/* Package names go into mmdebstrap's comma-separated --include: allow what Debian package
 * names and apt version or release suffixes use (name, name=version, name/release). */
static int check_package_names(char *const *packages, vp_error *err)
{
        STRV_FOREACH(p, (char **) packages) {
                size_t n = strlen(*p);
                if (n == 0 || n > 200 ||
                    strspn(*p, "abcdefghijklmnopqrstuvwxyz0123456789+-.:=/~_ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
                        return vp_error_set(err, -EINVAL,
                                            "invalid package name '%s' (valid: Debian package names, optionally "
                                            "with =VERSION or /RELEASE)",
                                            *p);
        }
        return 0;
}

/*
 * Keep downloaded packages in VP_DIR_CACHE/apt-archives for the next build, as mmdebstrap's
 * manual shows. The cache is copied into the new root before apt runs, the Essential
 * packages' files are kept after installing them, and the archive is copied back out before
 * the other customize hooks run. mmdebstrap empties /var/cache/apt/archives in the image at
 * the end, and the image bytes do not depend on where a package came from.
 * NOTE: the cache only grows; delete the directory to reclaim the space.
 */
static int add_package_cache_hooks(build *b, char ***argv, vp_error *err)
{
        _cleanup_free_ char *cache = NULL;
        int r = vp_path_ensure(VP_DIR_CACHE, "apt-archives", &cache, err);

        if (r < 0)
                return r;
        /* mmdebstrap splits special hooks at whitespace, so such a path cannot be passed. */
        if (strpbrk(cache, " \t\n\"'\\")) {
                log_printf(b, "package cache %s not used: its path contains whitespace or quotes\n", cache);
                return 0;
        }
        log_printf(b, "package cache: %s\n", cache);
        if (strv_extend(argv, "--skip=essential/unlink") < 0 ||
            strv_extend(argv, "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/") < 0 ||
            strv_extendf(argv, "--setup-hook=sync-in %s /var/cache/apt/archives/", cache) < 0 ||
            strv_extendf(argv, "--customize-hook=sync-out /var/cache/apt/archives %s", cache) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

static int step_mmdebstrap(build *b, const vp_manifest *m, vp_error *err)
{
        _cleanup_free_ char *customize = NULL, *quoted = NULL, *hook = NULL, *include = NULL;
        _cleanup_free_ char *target = NULL, *tmpdir_env = NULL, *build_env = NULL, *suite = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        vp_spawn_options opts = VP_SPAWN_OPTIONS_INIT;
        int r;

        start_step(b, "installing packages with mmdebstrap");

        if (!vp_str_startswith(m->base, "debian:") || !m->base[7])
                return vp_error_set(err, -EINVAL, "base '%s' is not supported (valid: debian:SUITE)", m->base);
        suite = strdup(m->base + strlen("debian:"));
        r = check_package_names(m->packages, err);
        if (r < 0)
                return r;
        r = write_hook_inputs(b, m, err);
        if (r < 0)
                return r;
        r = vp_find_helper("customize", &customize, err);
        if (r < 0)
                return r;

        quoted = shell_quote(customize);
        hook = quoted ? vp_strdup_printf("--customize-hook=%s \"$1\"", quoted) : NULL;
        include = strv_join(m->packages, ",");
        target = vp_strdup_printf("%s/rootfs.tar", b->staging);
        /* mmdebstrap unpacks the tree in $TMPDIR: keep it in the staging directory, so it is on
         * the store's file system and removed with it. */
        tmpdir_env = vp_strdup_printf("TMPDIR=%s", b->staging);
        build_env = vp_strdup_printf("VMPACK_BUILD_DIR=%s", b->staging);
        argv = strv_new();
        if (!suite || !hook || !include || !target || !tmpdir_env || !build_env || !argv)
                return vp_error_set(err, -ENOMEM, "out of memory");

        /* The "apt" variant is Essential:yes plus apt: the smallest base in which Run commands
         * can still install more with apt-get. mmdebstrap picks root mode as root and unshare
         * mode otherwise, and uses its default mirror for the suite.
         * NOTE: only root mode has been tested; unshare mode also needs /etc/subuid entries. */
        if (strv_extend(&argv, "mmdebstrap") < 0 || strv_extend(&argv, "--verbose") < 0 ||
            strv_extend(&argv, "--variant=apt") < 0 || strv_extendf(&argv, "--include=%s", include) < 0 ||
            (access(MERGED_USR_HOOKS, F_OK) == 0 && strv_extend(&argv, "--hook-dir=" MERGED_USR_HOOKS) < 0))
                return vp_error_set(err, -ENOMEM, "out of memory");

        r = add_package_cache_hooks(b, &argv, err);
        if (r < 0)
                return r;
        if (strv_extend(&argv, hook) < 0 || strv_extend(&argv, suite) < 0 || strv_extend(&argv, target) < 0)
                return vp_error_set(err, -ENOMEM, "out of memory");

        char *env[] = { tmpdir_env, build_env, NULL };
        opts.extra_env = env;
        return run_logged(b, argv, on_mmdebstrap_line, &opts, err);
}

/* The images named in FROM lines, except build stages and "scratch". A reference that uses
 * a build argument ($VAR) cannot be checked here and is left to the engine. */
static int containerfile_bases(const char *path, char ***ret, vp_error *err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **bases = strv_new(), **stages = strv_new();
        int r = vp_read_file(path, RECIPE_FILE_MAX_BYTES, &text, NULL, err);

        if (r < 0)
                return r;
        if (!bases || !stages)
                return vp_error_set(err, -ENOMEM, "out of memory");

        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char word[16], image[512], as[8], stage[128];
                line += strspn(line, " \t");
                if (sscanf(line, "%15s", word) != 1 || strcasecmp(word, "FROM") != 0)
                        continue;
                char *rest = line + 4;
                rest += strspn(rest, " \t");
                while (vp_str_startswith(rest, "--")) { /* --platform=... */
                        rest += strcspn(rest, " \t");
                        rest += strspn(rest, " \t");
                }
                int fields = sscanf(rest, "%511s %7s %127s", image, as, stage);
                if (fields < 1)
                        continue;
                if (fields == 3 && strcasecmp(as, "AS") == 0 && strv_extend(&stages, stage) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                if (strcmp(image, "scratch") == 0 || strchr(image, '$') || strv_contains(stages, image) ||
                    strv_contains(bases, image))
                        continue;
                if (strv_extend(&bases, image) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(bases);
        return 0;
}

static const char *container_engine(void)
{
        if (vp_spawn_program_exists("podman"))
                return "podman";
        if (vp_spawn_program_exists("docker"))
                return "docker";
        return NULL;
}

/* Fail with instructions unless the engine has the image locally. */
static int check_base_image(build *b, const char *engine, const char *image, const char *containerfile,
                            vp_error *err)
{
        _cleanup_close_ int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        vp_spawn_options opts = VP_SPAWN_OPTIONS_INIT;
        vp_spawn_result result;
        int r;

        /* "podman image exists" prints nothing; docker has only "image inspect". */
        char *podman_argv[] = { "podman", "image", "exists", (char *) image, NULL };
        char *docker_argv[] = { "docker", "image", "inspect", (char *) image, NULL };
        opts.stdout_fd = null_fd;
        opts.log_fd = b->log_fd;
        r = vp_spawn_run(strcmp(engine, "podman") == 0 ? podman_argv : docker_argv, &opts, &result, err);
        if (r < 0)
                return r;
        if (result.exited && result.exit_status == 0)
                return 0;

        if (vp_str_startswith(image, "localhost/vmpack-base:"))
                return vp_error_set(err, -ENOENT,
                                    "base image '%s' (FROM in %s) is not in %s's local images; make it with: "
                                    "mmdebstrap --variant=apt %s - | %s import - %s",
                                    image, containerfile, engine, strchr(image, ':') + 1, engine, image);
        return vp_error_set(err, -ENOENT,
                            "base image '%s' (FROM in %s) is not in %s's local images, and vmpack does not "
                            "pull images; get it with '%s pull %s', or import a rootfs tar with '%s import "
                            "ROOTFS.tar %s'",
                            image, containerfile, engine, engine, image, engine, image);
}

/* Remove the image that the engine committed for a build with --output: the tar is all
 * vmpack keeps, and the recipe cache replaces the engine's. An image with a tag is kept,
 * because a Containerfile that adds no layer yields its base image's ID. */
static void remove_engine_image(build *b, const char *engine, const char *iid_path)
{
        _cleanup_free_ char *id = NULL, *tags_path = NULL, *tags = NULL;
        _cleanup_close_ int tags_fd = -EBADF;
        vp_spawn_options opts = VP_SPAWN_OPTIONS_INIT;

        if (vp_read_file(iid_path, 4096, &id, NULL, NULL) < 0)
                return;
        id[strcspn(id, "\n")] = '\0';
        tags_path = vp_strdup_printf("%s/image-tags", b->staging);
        if (!*id || !tags_path)
                return;
        tags_fd = open(tags_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (tags_fd < 0)
                return;

        char *inspect[] = { (char *) engine, "image", "inspect", "--format", "{{len .RepoTags}}", id, NULL };
        opts.stdout_fd = tags_fd;
        opts.log_fd = b->log_fd;
        if (vp_spawn_check(inspect, &opts, NULL) < 0 || vp_read_file(tags_path, 4096, &tags, NULL, NULL) < 0 ||
            strcmp(tags, "0\n") != 0) {
                log_printf(b, "keeping %s image %s: it has tags or cannot be inspected\n", engine, id);
                return;
        }

        char *remove[] = { (char *) engine, "image", "rm", id, NULL };
        opts.stdout_fd = -1;
        (void) vp_spawn_run(remove, &opts, NULL, NULL);
}

static int step_containerfile(build *b, const vp_manifest *m, vp_error *err)
{
        _cleanup_strv_free_ char **bases = NULL;
        _cleanup_free_ char *output = NULL, *iid_path = NULL;
        const char *engine = container_engine();
        int r;

        start_step(b, "building the Containerfile");

        if (!engine)
                return vp_error_set(err, -ENOENT,
                                    "neither podman nor docker is installed; install podman (scripts/setup does)");
        if (m->n_files > 0 || strv_length(m->run) > 0)
                return vp_error_set(err, -EINVAL,
                                    "%s: Files and Run apply to package-list recipes only; use COPY and RUN in "
                                    "the Containerfile instead",
                                    m->path);
        if (m->hardened && geteuid() != 0)
                return vp_error_set(err, -EPERM,
                                    "%s: Hardened=true with a Containerfile needs root, because the root "
                                    "filesystem is unpacked with its owners to remove files",
                                    m->path);

        r = containerfile_bases(m->containerfile, &bases, err);
        if (r < 0)
                return r;
        STRV_FOREACH(base, bases) {
                r = check_base_image(b, engine, *base, m->containerfile, err);
                if (r < 0)
                        return r;
        }

        output = vp_strdup_printf("type=tar,dest=%s/rootfs.tar", b->staging);
        iid_path = vp_strdup_printf("%s/image-id", b->staging);
        if (!output || !iid_path)
                return vp_error_set(err, -ENOMEM, "out of memory");

        /* Never pull: every base was checked above, and a build must not reach registries
         * behind the user's back. chroot isolation and cgroupfs let podman build without
         * systemd or a container runtime's namespaces. */
        if (strcmp(engine, "podman") == 0) {
                char *argv[] = { "podman",       "--cgroup-manager=cgroupfs", "build", "--isolation=chroot",
                                 "--pull=never", "--iidfile", iid_path, "--file", m->containerfile,
                                 "--output",     output, m->directory, NULL };
                r = run_logged(b, argv, on_podman_line, NULL, err);
        } else {
                char *argv[] = { "docker",  "build",  "--pull=false", "--iidfile", iid_path, "--file",
                                 m->containerfile, "--output", output, m->directory, NULL };
                r = run_logged(b, argv, on_podman_line, NULL, err);
        }
        remove_engine_image(b, engine, iid_path);
        return r;
}

/* Absolute path of the Exec program inside the unpacked root: as written when absolute, else
 * the first match in the usual bin directories. */
static char *find_exec_program(const char *root, const char *program)
{
        static const char *const directories[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                                   "/usr/bin", "/sbin", "/bin" };
        struct stat st;

        if (program[0] == '/')
                return strdup(program);
        for (size_t i = 0; i < ELEMENTSOF(directories); i++) {
                _cleanup_free_ char *inside = vp_strdup_printf("%s/%s", directories[i], program);
                _cleanup_free_ char *outside = inside ? vp_strdup_printf("%s%s", root, inside) : NULL;
                if (outside && lstat(outside, &st) == 0)
                        return TAKE_PTR(inside);
        }
        return vp_strdup_printf("/usr/bin/%s", program);
}

/* Hardened=true for a Containerfile image: unpack the engine's tar, run libexec/harden on it
 * with the package that installed the Exec program as the app, and pack the tar again. */
static int step_harden_tar(build *b, const vp_manifest *m, vp_error *err)
{
        _cleanup_free_ char *root = vp_strdup_printf("%s/root", b->staging);
        _cleanup_free_ char *tar = vp_strdup_printf("%s/rootfs.tar", b->staging);
        _cleanup_free_ char *hook_dir = vp_strdup_printf("%s/hook", b->staging);
        _cleanup_free_ char *packages = vp_strdup_printf("%s/hook/harden-packages", b->staging);
        _cleanup_free_ char *removed = vp_strdup_printf("%s/hook/removed", b->staging);
        _cleanup_free_ char *harden = NULL, *program = NULL;
        int r;

        start_step(b, "removing shells and interpreters");
        if (!root || !tar || !hook_dir || !packages || !removed)
                return vp_error_set(err, -ENOMEM, "out of memory");
        if (!m->exec_argv || !m->exec_argv[0])
                return vp_error_set(err, -EINVAL, "%s: Hardened=true needs an Exec program", m->path);
        r = vp_find_helper("harden", &harden, err);
        if (r < 0)
                return r;
        if (mkdir(root, 0755) < 0 || mkdir(hook_dir, 0755) < 0)
                return vp_error_set_errno(err, -errno, "%s: cannot create directories", b->staging);

        char *extract[] = { "tar", "--extract", "--file", tar, "--directory", root, "--numeric-owner",
                            "--preserve-permissions", "--xattrs", "--xattrs-include=*", NULL };
        r = run_logged(b, extract, on_plain_line, NULL, err);
        if (r < 0)
                return r;

        program = find_exec_program(root, m->exec_argv[0]);
        if (!program)
                return vp_error_set(err, -ENOMEM, "out of memory");
        r = vp_write_file_atomic(packages, program, strlen(program) + 1, 0644, err);
        if (r < 0)
                return r;
        char *harden_argv[] = { harden, root, packages, removed, NULL };
        r = run_logged(b, harden_argv, on_mmdebstrap_line, NULL, err);
        if (r < 0)
                return r;

        /* Same ordering and owner options as mmdebstrap's tar output. */
        char *create[] = { "tar", "--create", "--file", tar, "--directory", root, "--sort=name", "--numeric-owner",
                           "--format=pax", "--xattrs", "--xattrs-include=*", ".", NULL };
        r = run_logged(b, create, on_plain_line, NULL, err);
        if (r < 0)
                return r;
        return vp_rm_rf(root, err);
}

/* Pack a tar stream (input_fd, positioned at the start) into staging/rootfs.sqfs. */
static int step_squashfs(build *b, int input_fd, vp_child *feeder, vp_spawn_options *feeder_opts, vp_error *err)
{
        _cleanup_free_ char *rootfs = vp_strdup_printf("%s/rootfs.sqfs", b->staging);
        _cleanup_free_ char *defaults = NULL, *jobs = NULL;
        vp_spawn_options opts = VP_SPAWN_OPTIONS_INIT;
        const char *epoch = getenv("SOURCE_DATE_EPOCH");
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int r;

        start_step(b, "writing the squashfs image");
        b->files_packed = 0;
        b->source_fd = feeder ? feeder_opts->stdin_fd : input_fd;
        b->source_size = 0;
        struct stat st;
        if (fstat(b->source_fd, &st) == 0 && S_ISREG(st.st_mode))
                b->source_size = (uint64_t) st.st_size;

        /* Directories that the tar implies but does not list get this owner, mode and mtime.
         * tar2sqfs keeps every listed entry's mtime and writes no creation time into the
         * superblock, so its output depends only on its input and these options. The job
         * count does not change the bytes (checked with tar2sqfs 1.2.0, -j1 against -j2). */
        defaults = vp_strdup_printf("uid=0,gid=0,mode=0755,mtime=%s", epoch && *epoch ? epoch : "0");
        if (cpus < 1)
                cpus = 1;
        if (cpus > 16)
                cpus = 16;
        jobs = vp_strdup_printf("%ld", cpus);
        if (!rootfs || !defaults || !jobs)
                return vp_error_set(err, -ENOMEM, "out of memory");

        char *argv[] = { "tar2sqfs", "--compressor", "zstd", "--no-skip", "--defaults", defaults,
                         "--num-jobs", jobs, "--force", rootfs, NULL };
        /* tar2sqfs reports a failed write, such as ENOSPC, only as "PATH: I/O error.",
         * and when it has exited the disk has free space again, so the free space is
         * measured before it runs. */
        struct statvfs fs;
        long long free_before = statvfs(b->staging, &fs) == 0 ? (long long) fs.f_bavail * (long long) fs.f_frsize : -1;
        opts.stdin_fd = input_fd;
        r = run_logged(b, argv, on_tar2sqfs_line, &opts, err);
        if (feeder) {
                vp_spawn_result result;
                int feeder_r = vp_spawn_wait(feeder, feeder_opts, &result, r < 0 ? NULL : err);
                if (r >= 0 && feeder_r < 0)
                        return feeder_r;
                if (r >= 0 && (!result.exited || result.exit_status != 0)) {
                        char description[128];
                        vp_spawn_result_describe(&result, description, sizeof(description));
                        return vp_error_set(err, -EIO, "decompressing the input failed: %s", description);
                }
        }
        if (r < 0 && output_has(b, ": I/O error.") && free_before >= 0)
                vp_error_prefix(err, "tar2sqfs could not write the image, maybe because the disk is full "
                                     "(%s had %lld MiB free when this step began)",
                                b->staging, free_before / (1024 * 1024));
        if (r < 0)
                return r;
        if (b->files_packed == 0)
                return vp_error_set(err, -EINVAL, "the input has no files: is it a tar archive?");
        vp_progress_update(b->opts->progress, "%u files", b->files_packed);
        return 0;
}

static int pack_staging_tar(build *b, vp_error *err)
{
        _cleanup_free_ char *tar = vp_strdup_printf("%s/rootfs.tar", b->staging);
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!tar)
                return vp_error_set(err, -ENOMEM, "out of memory");
        fd = open(tar, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s: the build produced no rootfs tar", tar);
        r = step_squashfs(b, fd, NULL, NULL, err);
        if (r < 0)
                return r;
        /* Free the tar's space before the image is stored, because nothing reads it again. */
        (void) unlink(tar);
        return 0;
}

static int step_store(build *b, const char *recipe_digest, json_t *metadata, vp_image **ret, vp_error *err)
{
        json_t *packages = NULL;
        int r;

        start_step(b, "storing the image");
        r = read_package_versions(b, &packages, err);
        if (r < 0)
                return r;
        json_object_set_new(metadata, "packages", packages);
        log_printf(b, "build log: %s\n", b->log_path);
        json_object_set_new(metadata, "build_log", json_string(b->log_path));

        r = vp_store_add_image(b->staging, b->name, recipe_digest, metadata, ret, err);
        if (r < 0)
                return r;
        /* Renamed into the store, or removed because the same image existed. */
        free(b->staging);
        b->staging = NULL;
        return 0;
}

int vp_build_recipe(const vp_manifest *m, const vp_build_options *opts, vp_image **ret, bool *ret_cached,
                    vp_error *err)
{
        char recipe_digest[65];
        json_t *metadata = NULL;
        build b = { .log_fd = -1 };
        int r;

        if (!m->name || !vp_image_name_valid(m->name))
                return vp_error_set(err, -EINVAL, "%s: invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63})",
                                    m->path, m->name ? m->name : "");

        r = vp_build_recipe_digest(m, recipe_digest, err);
        if (r < 0)
                return vp_error_prefix(err, "%s: cannot compute the recipe digest", m->path);

        if (!opts->rebuild) {
                _cleanup_image_ vp_image *cached = NULL;
                if (vp_store_find_recipe(recipe_digest, &cached, NULL) >= 0) {
                        /* Point the name at the cached image too: it may have been removed
                         * or given to another build since. */
                        r = vp_store_set_name(m->name, cached->digest, err);
                        if (r < 0)
                                return vp_error_prefix(err, "build %s", m->name);
                        free(cached->name);
                        cached->name = strdup(m->name);
                        if (!cached->name)
                                return vp_error_set(err, -ENOMEM, "out of memory");
                        if (ret_cached)
                                *ret_cached = true;
                        *ret = TAKE_PTR(cached);
                        return 0;
                }
        }
        if (ret_cached)
                *ret_cached = false;

        r = build_begin(&b, m->name, opts, err);
        if (r < 0) {
                build_done(&b);
                return vp_error_prefix(err, "build %s", m->name);
        }
        b.steps = m->containerfile && m->hardened ? 4 : 3;
        log_printf(&b, "recipe %s (digest %s)\n", m->path, recipe_digest);

        r = m->containerfile ? step_containerfile(&b, m, err) : step_mmdebstrap(&b, m, err);
        if (r >= 0 && m->containerfile && m->hardened)
                r = step_harden_tar(&b, m, err);
        if (r >= 0)
                r = pack_staging_tar(&b, err);
        if (r >= 0) {
                metadata = base_metadata(m->name, m->containerfile ? container_engine() : "mmdebstrap");
                r = metadata ? recipe_metadata(m, recipe_digest, metadata, err)
                             : vp_error_set(err, -ENOMEM, "out of memory");
        }
        if (r >= 0) {
                json_t *removed = read_removed_list(&b);
                if (m->hardened)
                        json_object_set_new(metadata, "hardened_removed", removed);
                else
                        json_decref(removed);
                r = step_store(&b, recipe_digest, metadata, ret, err);
        }
        json_decref(metadata);
        if (r < 0)
                fail_step(&b, err);
        vp_progress_finish(opts->progress);
        build_done(&b);
        return r;
}

/* ---- import ---- */

static const char *decompressor_for(const unsigned char *magic, size_t size)
{
        if (size >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
                return "gzip";
        if (size >= 3 && memcmp(magic, "BZh", 3) == 0)
                return "bzip2";
        if (size >= 6 && memcmp(magic, "\xfd" "7zXZ\0", 6) == 0)
                return "xz";
        if (size >= 4 && memcmp(magic, "\x28\xb5\x2f\xfd", 4) == 0)
                return "zstd";
        return NULL;
}

/* Copy standard input to path, because the input must be read twice (magic, then data). */
static int save_stdin(const char *path, vp_error *err)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        char buf[65536];

        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s", path);
        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n < 0 && errno == EINTR) {
                        if (vp_spawn_cancelled())
                                return vp_error_set(err, -EINTR, "reading standard input: interrupted");
                        continue;
                }
                if (n < 0)
                        return vp_error_set_errno(err, -errno, "reading standard input");
                if (n == 0)
                        return 0;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(fd, buf + done, (size_t) (n - done));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return vp_error_set_errno(err, -errno, "%s: write failed", path);
                        done += w;
                }
        }
}

/* Reject what is clearly not a whole tar archive. tar2sqfs itself fails on a cut inside file
 * data, but takes a cut inside a header for the end of the archive. */
static int check_plain_tar(int fd, const char *tar_path, vp_error *err)
{
        struct stat st;
        char ustar[5];

        /* POSIX, GNU and pax tar headers all carry "ustar" at offset 257. */
        if (pread(fd, ustar, sizeof(ustar), 257) != (ssize_t) sizeof(ustar) ||
            memcmp(ustar, "ustar", sizeof(ustar)) != 0)
                return vp_error_set(err, -EINVAL,
                                    "%s: not a tar archive (valid: tar, optionally compressed with gzip, bzip2, xz "
                                    "or zstd)",
                                    tar_path);
        /* A tar archive is a sequence of 512-byte blocks. */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size % 512 != 0)
                return vp_error_set(err, -EINVAL,
                                    "%s: truncated tar archive (%lld bytes, not a multiple of 512)", tar_path,
                                    (long long) st.st_size);
        return 0;
}

static int import_squashfs(build *b, const char *tar_path, vp_error *err)
{
        _cleanup_free_ char *saved = NULL;
        _cleanup_close_ int fd = -EBADF;
        unsigned char magic[8];
        ssize_t got;
        int r;

        if (strcmp(tar_path, "-") == 0) {
                saved = vp_strdup_printf("%s/input", b->staging);
                if (!saved)
                        return vp_error_set(err, -ENOMEM, "out of memory");
                r = save_stdin(saved, err);
                if (r < 0)
                        return r;
                tar_path = saved;
        }

        fd = open(tar_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return vp_error_set_errno(err, -errno, "%s", tar_path);
        got = pread(fd, magic, sizeof(magic), 0);
        if (got < 0)
                return vp_error_set_errno(err, -errno, "%s: read failed", tar_path);
        if (got == 0)
                return vp_error_set(err, -EINVAL, "%s: empty file, expected a tar archive", tar_path);

        const char *decompressor = decompressor_for(magic, (size_t) got);
        log_printf(b, "input %s: %s\n", tar_path, decompressor ? decompressor : "uncompressed tar");
        if (!decompressor) {
                r = check_plain_tar(fd, tar_path, err);
                if (r < 0)
                        return r;
                return step_squashfs(b, fd, NULL, NULL, err);
        }

        /* decompressor < file | tar2sqfs: tar2sqfs gets a plain tar stream.
         * NOTE: a compressed archive cut inside a tar header imports without an error, because
         * tar2sqfs takes the partial header for the end of the archive. */
        int pipe_fds[2];
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return vp_error_set_errno(err, -errno, "cannot create a pipe");
        _cleanup_close_ int read_end = pipe_fds[0];
        vp_spawn_options feeder_opts = VP_SPAWN_OPTIONS_INIT;
        vp_child feeder;
        char *argv[] = { (char *) decompressor, "--decompress", "--stdout", NULL };

        feeder_opts.stdin_fd = fd;
        feeder_opts.stdout_fd = pipe_fds[1];
        feeder_opts.log_fd = b->log_fd;
        feeder_opts.on_line = on_plain_line;
        feeder_opts.userdata = b;
        log_printf(b, "$ %s --decompress --stdout < %s |\n", decompressor, tar_path);
        r = vp_spawn_start(argv, &feeder_opts, &feeder, err);
        close(pipe_fds[1]);
        if (r < 0)
                return r;
        return step_squashfs(b, read_end, &feeder, &feeder_opts, err);
}

int vp_build_import(const char *tar_path, const char *name, const vp_build_options *opts, vp_image **ret,
                    vp_error *err)
{
        _cleanup_free_ char *absolute = NULL;
        json_t *metadata = NULL;
        build b = { .log_fd = -1 };
        int r;

        if (!vp_image_name_valid(name))
                return vp_error_set(err, -EINVAL, "invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63})",
                                    name);
        if (strcmp(tar_path, "-") != 0) {
                absolute = realpath(tar_path, NULL);
                if (!absolute)
                        return vp_error_set_errno(err, -errno, "%s", tar_path);
        }

        r = build_begin(&b, name, opts, err);
        if (r < 0) {
                build_done(&b);
                return vp_error_prefix(err, "import %s", name);
        }
        b.steps = 2;

        r = import_squashfs(&b, absolute ? absolute : "-", err);
        if (r >= 0) {
                metadata = base_metadata(name, "import");
                if (!metadata || json_object_set_new(metadata, "source", string_or_null(absolute)) < 0)
                        r = vp_error_set(err, -ENOMEM, "out of memory");
        }
        if (r >= 0)
                r = step_store(&b, NULL, metadata, ret, err);
        json_decref(metadata);
        if (r < 0) {
                if (b.step == 0) {
                        b.step = 1;
                        b.step_title = "writing the squashfs image";
                }
                fail_step(&b, err);
        }
        vp_progress_finish(opts->progress);
        build_done(&b);
        return r;
}
