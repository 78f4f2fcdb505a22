/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "instance.h"
#include "manifest.h"
#include "store.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack install [OPTIONS] IMAGE NAME\n\n"
              "Install an instance NAME of IMAGE (an image name or digest from 'vmpack images').\n"
              "The instance gets a private data volume, mounted at the app's home in its VM, and\n"
              "a desktop entry vmpack-NAME.desktop in $XDG_DATA_HOME/applications.\n"
              "NAME: 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit.\n\n"
              "Options:\n"
              "      --workspace W     the workspace the instance belongs to (default: default)\n"
              "      --data-size SIZE  size of the data volume, in bytes unless suffixed K, M or G\n"
              "                        (default: 1G; 16M to 1T); the file grows as the app writes\n"
              "      --no-desktop      do not write a desktop entry\n"
              "      --json            print the installed instance as JSON\n"
              "  -h, --help            show this help\n\n"
              "Environment:\n"
              "  VMPACK_DATA_DIR     images and instance data (default $XDG_DATA_HOME/vmpack)\n"
              "  VMPACK_CACHE_DIR    guest kernels and initramfs (default $XDG_CACHE_HOME/vmpack)\n"
              "  VMPACK_RUNTIME_DIR  vmpackd's socket and run directories (default\n"
              "                      $XDG_RUNTIME_DIR/vmpack, else /tmp/vmpack-UID)\n"
              "A running vmpackd keeps the directories it started with.\n",
              out);
}

/* "$XDG_DATA_HOME/<sub>", else "~/.local/share/<sub>". */
static char *xdg_data_path(const char *sub)
{
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");

        if (xdg && xdg[0] == '/')
                return vp_strdup_printf("%s/%s", xdg, sub);
        if (home && home[0] == '/')
                return vp_strdup_printf("%s/.local/share/%s", home, sub);
        return NULL;
}

/* Read the image's recipe from its metadata to find the icon file and the app's names. */
static vp_manifest *load_recipe(const char *image)
{
        _cleanup_image_ vp_image *found = NULL;
        vp_manifest *m = NULL;
        vp_error err = {};

        if (vp_store_find_image(image, &found, &err) < 0)
                return NULL;
        json_t *recipe = json_object_get(found->metadata, "recipe");
        const char *path = json_string_value(json_object_get(recipe, "path"));
        const char *text = json_string_value(json_object_get(recipe, "text"));
        if (!path || !text || vp_manifest_parse(path, text, &m, &err) < 0)
                return NULL;
        return m;
}

/* Copy the recipe's icon to $XDG_DATA_HOME/icons/vmpack-NAME.EXT; return that path or NULL. */
static char *install_icon(const char *name, const vp_manifest *m)
{
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        vp_error err = {};

        if (!m || !m->icon)
                return NULL;
        const char *dot = strrchr(m->icon, '.');
        _cleanup_free_ char *sub = vp_strdup_printf("icons/vmpack-%s%s", name, dot ? dot : "");
        char *path = sub ? xdg_data_path(sub) : NULL;
        _cleanup_free_ char *directory = xdg_data_path("icons");

        if (!path || !directory || vp_read_file(m->icon, 4 << 20, &data, &size, &err) < 0 ||
            vp_mkdir_p(directory, 0755, &err) < 0 || vp_write_file_atomic(path, data, size, 0644, &err) < 0) {
                if (err.message[0])
                        vp_log_error("install: icon not installed: %s", err.message);
                free(path);
                return NULL;
        }
        return path;
}

/*
 * Escape a keyfile string value: a backslash becomes "\\" and a leading space "\s", and a
 * line break or other control character becomes a space, because a value cannot span lines.
 */
static char *keyfile_escape(const char *value)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);

        if (!out)
                return NULL;
        for (const char *p = value; *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", out);
                else if (*p == ' ' && p == value)
                        fputs("\\s", out);
                else if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        fputc(' ', out);
                else
                        fputc(*p, out);
        }
        if (fclose(out) != 0)
                return NULL;
        return TAKE_PTR(text);
}

/*
 * Quote one argument of an Exec value by the Desktop Entry Specification, before the
 * keyfile escaping. "%" becomes "%%". An argument with a reserved character is put in double
 * quotes, inside which '"', '`', '$' and '\\' get a backslash. Returns NULL with -EINVAL in
 * *ret_error for a control character, which no quoting can carry.
 * NOTE: GLib 2.74 looks for the program of the unexpanded Exec value, so GNOME does not load
 * an entry whose program path contains '%', although "%%" is what the specification requires.
 */
static char *exec_quote(const char *argument, int *ret_error)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        bool quote = argument[0] == '\0' || strpbrk(argument, " \t\"'\\><~|&;$*?#()`") != NULL;

        for (const char *p = argument; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        *ret_error = -EINVAL;
                        return NULL;
                }

        FILE *out = open_memstream(&text, &size);
        if (!out) {
                *ret_error = -ENOMEM;
                return NULL;
        }
        if (quote)
                fputc('"', out);
        for (const char *p = argument; *p; p++) {
                if (*p == '%')
                        fputc('%', out);
                else if (quote && strchr("\"`$\\", *p))
                        fputc('\\', out);
                fputc(*p, out);
        }
        if (quote)
                fputc('"', out);
        if (fclose(out) != 0) {
                *ret_error = -ENOMEM;
                return NULL;
        }
        return TAKE_PTR(text);
}

/*
 * Return the absolute path of this vmpack binary, or "vmpack" when /proc/self/exe cannot be
 * read. The path is absolute because a desktop launcher runs Exec with the session's PATH,
 * which may lack the directory that the installing shell found vmpack in.
 */
static char *self_path(void)
{
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n <= 0)
                return strdup("vmpack");
        self[n] = '\0';
        return strdup(self);
}

static int write_desktop_entry(const char *name, const char *image, const char *image_name)
{
        _cleanup_free_ char *sub = vp_strdup_printf("applications/vmpack-%s.desktop", name);
        _cleanup_free_ char *path = sub ? xdg_data_path(sub) : NULL;
        _cleanup_free_ char *directory = xdg_data_path("applications");
        _cleanup_manifest_ vp_manifest *m = load_recipe(image);
        _cleanup_free_ char *icon_path = install_icon(name, m);
        _cleanup_free_ char *program = self_path();
        _cleanup_free_ char *display = NULL, *summary = NULL, *icon = NULL, *try_exec = NULL;
        _cleanup_free_ char *exec_program = NULL, *exec_text = NULL, *text = NULL;
        vp_error err = {};
        int r = 0;

        if (!path || !directory) {
                vp_log_error("install: no desktop entry written: neither XDG_DATA_HOME nor HOME is set");
                return -EINVAL;
        }
        if (!program)
                return -ENOMEM;

        /* The instance name needs no quoting: it is limited to A-Z a-z 0-9 . _ - */
        exec_program = exec_quote(program, &r);
        if (!exec_program) {
                if (r == -EINVAL)
                        vp_log_error(
                                "install: no desktop entry written: the path of vmpack '%s' contains a "
                                "control character, which an Exec line cannot hold; install vmpack under "
                                "another path",
                                program);
                return r;
        }
        _cleanup_free_ char *exec = vp_strdup_printf("%s start %s %%F", exec_program, name);
        display = keyfile_escape(m && m->display_name ? m->display_name : image_name);
        summary = m && m->summary ? keyfile_escape(m->summary) : NULL;
        icon = icon_path ? keyfile_escape(icon_path) : NULL;
        try_exec = keyfile_escape(program);
        exec_text = exec ? keyfile_escape(exec) : NULL;
        if (!display || !try_exec || !exec_text || (m && m->summary && !summary) || (icon_path && !icon))
                return -ENOMEM;

        /*
         * TryExec hides the entry once this vmpack binary is gone, instead of an entry that
         * fails when clicked. Terminal=false because the app opens its own window or writes
         * its log.
         * TODO: a failed start launched from the entry reports only on the stderr of
         * 'vmpack start', which no terminal shows. A desktop notification would reach the user.
         * NOTE: no StartupWMClass: every instance's window comes from the same QEMU binary,
         * so a window class could not tell one instance from another. No MimeType or
         * Categories either, because a recipe declares neither.
         */
        text = vp_strdup_printf("[Desktop Entry]\n"
                                "Type=Application\n"
                                "Name=%s (%s)\n"
                                "%s%s%s"
                                "TryExec=%s\n"
                                "Exec=%s\n"
                                "%s%s%s"
                                "Terminal=false\n"
                                "X-Vmpack-Instance=%s\n",
                                display, name, summary ? "Comment=" : "", summary ? summary : "",
                                summary ? "\n" : "", try_exec, exec_text, icon ? "Icon=" : "",
                                icon ? icon : "", icon ? "\n" : "", name);
        if (!text)
                return -ENOMEM;
        if (vp_mkdir_p(directory, 0755, &err) < 0 ||
            vp_write_file_atomic(path, text, strlen(text), 0644, &err) < 0) {
                vp_log_error("install: desktop entry not written: %s", err.message);
                return err.code;
        }
        return 0;
}

int verb_install(int argc, char **argv)
{
        static const struct option options[] = {
                { "workspace", required_argument, NULL, 'w' },
                { "data-size", required_argument, NULL, 'd' },
                { "no-desktop", no_argument, NULL, 'n' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *workspace = NULL;
        uint64_t data_size = 0;
        bool desktop = true, as_json = false;
        json_t *reply = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'w':
                        if (!vp_instance_name_valid(optarg)) {
                                vp_log_error("install: --workspace '%s' is invalid (1 to 64 of A-Z a-z 0-9 . _ -, "
                                             "starting with a letter or digit)",
                                             optarg);
                                return 2;
                        }
                        workspace = optarg;
                        break;
                case 'd':
                        if (vp_parse_size(optarg, 1, &data_size) < 0 || data_size < VP_INSTANCE_MIN_DATA_SIZE ||
                            data_size > VP_INSTANCE_MAX_DATA_SIZE) {
                                vp_log_error("install: --data-size '%s' is invalid (valid: 16M to 1T)", optarg);
                                return 2;
                        }
                        break;
                case 'n':
                        desktop = false;
                        break;
                case 'j':
                        as_json = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("install", argv, "h", options);
                }
        }
        if (argc - optind != 2) {
                vp_log_error("install: expected IMAGE and NAME (run 'vmpack install --help')");
                return 2;
        }
        const char *image = argv[optind], *name = argv[optind + 1];
        if (!vp_image_reference_valid(image)) {
                vp_log_error("install: invalid image name '%s' (valid: [a-z0-9][a-z0-9._-]{0,63}, or a digest of 12 "
                             "to 64 hex digits)",
                             image);
                return 2;
        }
        if (!vp_instance_name_valid(name)) {
                vp_log_error("install: invalid instance name '%s' (1 to 64 of A-Z a-z 0-9 . _ -, starting "
                             "with a letter or digit)",
                             name);
                return 2;
        }

        json_t *parameters = json_pack("{s:s, s:s}", "image", image, "name", name);
        if (workspace)
                json_object_set_new(parameters, "workspace", json_string(workspace));
        if (data_size)
                json_object_set_new(parameters, "data_size", json_integer((json_int_t) data_size));
        int r = vp_daemon_call("install", "Install", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;

        json_t *instance = json_object_get(reply, "instance");
        if (desktop)
                write_desktop_entry(name, vp_json_string(instance, "image", image),
                                    vp_json_string(instance, "image_name", image));
        if (as_json)
                vp_print_json(instance);
        else
                printf("Installed %s from image %s%s\n", name, vp_json_string(instance, "image_name", image),
                       json_is_true(json_object_get(reply, "reused_data")) ? " (reusing its kept data volume)" : "");
        json_decref(reply);
        return 0;
}
