/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "manifest.h"

/*
 * Every test parses recipes inside one temporary directory that contains the files a recipe
 * may name: an icon, a Containerfile, a config file, a directory and a symbolic link that
 * points outside the directory.
 */
static char directory[] = "/tmp/vmpack-test-manifest-XXXXXX";
static char recipe_path[sizeof(directory) + 32];

static void write_file(const char *name, const char *text)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/%s", directory, name);

        assert_int_equal(vp_write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
}

static int setup_directory(void **state)
{
        _cleanup_free_ char *sub = NULL, *link = NULL;

        if (!mkdtemp(directory))
                return -1;
        snprintf(recipe_path, sizeof(recipe_path), "%s/app.vmpack", directory);
        write_file("app.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
        write_file("Containerfile", "FROM localhost/vmpack-base:bookworm\n");
        write_file("app.conf", "setting=1\n");
        sub = vp_strdup_printf("%s/share", directory);
        link = vp_strdup_printf("%s/outside", directory);
        if (mkdir(sub, 0755) < 0 || symlink("/etc/hostname", link) < 0)
                return -1;
        return 0;
}

static int remove_directory(void **state)
{
        return vp_rm_rf(directory, NULL);
}

static vp_manifest *parse_good(const char *text)
{
        vp_manifest *m = NULL;
        vp_error err = { 0 };
        int r = vp_manifest_parse(recipe_path, text, &m, &err);

        if (r < 0)
                print_message("unexpected error: %s\n", err.message);
        assert_int_equal(r, 0);
        assert_non_null(m);
        return m;
}

/* Parse text, expect -EINVAL and a message of "FILE:" followed by expected; name the case on failure. */
static void assert_parse_error_named(const char *name, const char *text, const char *expected)
{
        _cleanup_manifest_ vp_manifest *m = NULL;
        _cleanup_free_ char *full = vp_strdup_printf("%s:%s", recipe_path, expected);
        vp_error err = { 0 };
        int r = vp_manifest_parse(recipe_path, text, &m, &err);

        if (r != -EINVAL || strcmp(err.message, full) != 0)
                print_message("# case '%s'\n", name);
        assert_int_equal(r, -EINVAL);
        assert_null(m);
        assert_string_equal(err.message, full);
}

#define assert_parse_error(text, expected) assert_parse_error_named(__func__, text, expected)

#define MINIMAL "[App]\nExec=app\nPackages=hello\n"

static void recipe_every_key(void **state)
{
        _cleanup_manifest_ vp_manifest *m =
                parse_good("# A recipe that sets every key.\n"
                           "[App]\n"
                           "Name=PDF to text\n"
                           "Summary=Print the text of a PDF; nothing else\n"
                           "Icon=app.svg\n"
                           "Exec=app --open \"%f\" -\n"
                           "Base=debian:trixie\n"
                           "Packages=poppler-utils; cage;xwayland;\n"
                           "\n"
                           "[Build]\n"
                           "Files=app.conf:/etc/app.conf;share:/usr/share/app\n"
                           "Run=echo one \\; echo two;rm -f /etc/motd\n"
                           "Hardened=yes\n"
                           "[Resources]\n"
                           "CPUs=2\n"
                           "Memory=512M\n"
                           "; another comment\n"
                           "[Permissions]\n"
                           "filesystems=xdg-download:rw;~/Notes:create;/srv/data;home:ro\n"
                           "network=uplink\n"
                           "clipboard=on-request\n"
                           "audio=playback\n"
                           "microphone=on\n"
                           "camera=none\n"
                           "usb=046D:c52b;1d6b:0002\n"
                           "gpu=virgl\n"
                           "display=wayland\n");
        _cleanup_free_ char *icon = vp_strdup_printf("%s/app.svg", directory);
        _cleanup_free_ char *conf = vp_strdup_printf("%s/app.conf", directory);
        _cleanup_free_ char *share = vp_strdup_printf("%s/share", directory);
        char resolved[4096];

        assert_non_null(realpath(directory, resolved));
        assert_string_equal(m->directory, resolved);
        assert_string_equal(m->name, "app");
        assert_string_equal(m->display_name, "PDF to text");
        assert_string_equal(m->summary, "Print the text of a PDF; nothing else");
        assert_string_equal(m->icon, icon);
        assert_string_equal(m->exec, "app --open \"%f\" -");
        assert_int_equal(strv_length(m->exec_argv), 4);
        assert_string_equal(m->exec_argv[2], "%f");
        assert_string_equal(m->base, "debian:trixie");
        assert_int_equal(strv_length(m->packages), 3);
        assert_string_equal(m->packages[1], "cage");
        assert_null(m->containerfile);

        assert_int_equal(m->n_files, 2);
        assert_string_equal(m->files[0].source, conf);
        assert_string_equal(m->files[0].destination, "/etc/app.conf");
        assert_string_equal(m->files[1].source, share);
        assert_string_equal(m->files[1].destination, "/usr/share/app");
        assert_int_equal(strv_length(m->run), 2);
        assert_string_equal(m->run[0], "echo one ; echo two");
        assert_string_equal(m->run[1], "rm -f /etc/motd");
        assert_true(m->hardened);

        assert_int_equal(m->cpus, 2);
        assert_int_equal(m->memory_bytes, 512ULL << 20);

        const vp_permissions *p = &m->permissions;
        assert_int_equal(p->n_filesystems, 4);
        assert_string_equal(p->filesystems[0].location, "xdg-download");
        assert_int_equal(p->filesystems[0].mode, VP_SHARE_RW);
        assert_string_equal(p->filesystems[1].location, "~/Notes");
        assert_int_equal(p->filesystems[1].mode, VP_SHARE_CREATE);
        assert_string_equal(p->filesystems[2].location, "/srv/data");
        assert_int_equal(p->filesystems[2].mode, VP_SHARE_RO);
        assert_int_equal(p->filesystems[3].mode, VP_SHARE_RO);
        assert_string_equal(p->network, "uplink");
        assert_string_equal(p->clipboard, "on-request");
        assert_string_equal(p->audio, "playback");
        assert_string_equal(p->microphone, "on");
        assert_string_equal(p->camera, "none");
        assert_int_equal(strv_length(p->usb), 2);
        assert_string_equal(p->usb[0], "046d:c52b");
        assert_string_equal(p->gpu, "virgl");
        assert_string_equal(p->display, "wayland");
}

static void recipe_defaults(void **state)
{
        _cleanup_manifest_ vp_manifest *m = parse_good(MINIMAL);

        assert_string_equal(m->name, "app");
        assert_string_equal(m->display_name, "app");
        assert_null(m->summary);
        assert_null(m->icon);
        assert_string_equal(m->base, "debian:bookworm");
        assert_false(m->hardened);
        assert_int_equal(m->cpus, 0);
        assert_int_equal(m->memory_bytes, 0);
        assert_int_equal(m->n_files, 0);
        assert_null(m->run);
        assert_int_equal(m->permissions.n_filesystems, 0);
        assert_null(m->permissions.network);
        assert_null(m->permissions.usb);
        assert_null(m->permissions.display);
}

static void recipe_containerfile(void **state)
{
        _cleanup_manifest_ vp_manifest *m =
                parse_good("[App]\nExec=xterm\n[Build]\nContainerfile=Containerfile\n");
        _cleanup_free_ char *containerfile = vp_strdup_printf("%s/Containerfile", directory);

        assert_string_equal(m->containerfile, containerfile);
        assert_null(m->packages);
}

static void recipe_syntax_variants(void **state)
{
        /* CRLF line ends, a byte order mark, blanks around '=', indented lines and inline ';' and '#'. */
        _cleanup_manifest_ vp_manifest *m = parse_good("\xef\xbb\xbf[App]\r\n"
                                                       "  Exec = sh -c \"echo a ;b # c\"  \r\n"
                                                       "\tPackages=hello\r\n"
                                                       "Summary=50% off ;-) # not a comment\r\n");

        assert_string_equal(m->exec_argv[2], "echo a ;b # c");
        assert_string_equal(m->summary, "50% off ;-) # not a comment");
}

static void list_escaping(void **state)
{
        _cleanup_manifest_ vp_manifest *m = parse_good(MINIMAL "[Build]\n"
                                                               "Run=a\\;b;  c  ;;d\\\\;e\\x;;\n");

        assert_int_equal(strv_length(m->run), 3);
        assert_string_equal(m->run[0], "a;b");
        assert_string_equal(m->run[1], "c");
        assert_string_equal(m->run[2], "d\\;e\\x");
}

struct error_case {
        const char *name;
        const char *text;
        const char *expected; /* the message after "FILE:" */
};

static const struct error_case error_cases[] = {
        /* structure */
        { "unknown section", MINIMAL "\n[Perms]\nnetwork=none\n",
          "5: unknown section '[Perms]' (valid: App, Build, Resources, Permissions)" },
        { "duplicate section", MINIMAL "[App]\n", "4: duplicate section '[App]' (first at line 1)" },
        { "unterminated section", MINIMAL "[Build\n", "4: section header '[Build' does not end with ']'" },
        { "unknown key", MINIMAL "Version=2\n",
          "4: key 'Version': unknown key in [App] (valid: Name, Summary, Icon, Exec, Base, Packages)" },
        { "key in wrong case", MINIMAL "[Permissions]\nNetwork=none\n",
          "5: key 'Network': unknown key in [Permissions]; keys are case-sensitive, did you mean 'network'? "
          "(valid: filesystems, network, clipboard, audio, microphone, camera, usb, gpu, display)" },
        { "duplicate key", "[App]\nExec=a\nPackages=hello\n\nExec=b\n",
          "5: key 'Exec': duplicate key in [App] (first at line 2)" },
        { "key outside section", "Exec=app\n[App]\n",
          "1: key 'Exec': outside a section (valid: put it under [App], [Build], [Resources] or "
          "[Permissions])" },
        { "line without equals", MINIMAL "Packages hello\n",
          "4: expected Key=value, [Section] or a comment starting with '#', found 'Packages hello'" },
        { "missing key name", MINIMAL "=x\n", "4: missing key name before '='" },
        { "control character", MINIMAL "Summary=a\x01z\n",
          "4: invalid control character 0x01 (a recipe is UTF-8 text)" },
        { "invalid utf-8", MINIMAL "Summary=caf\xe9\n", "4: invalid UTF-8 sequence at column 12" },
        { "overlong utf-8", MINIMAL "Summary=\xc0\xaf\n", "4: invalid UTF-8 sequence at column 9" },

        /* required keys */
        { "missing exec", "# comment\n[App]\nPackages=hello\n",
          "2: key 'Exec': missing in [App] (valid: the command that starts the app, e.g. Exec=app %f)" },
        { "missing app section", "[Resources]\nCPUs=1\n",
          "1: key 'Exec': missing in [App] (valid: the command that starts the app, e.g. Exec=app %f)" },
        { "missing packages", "\n[App]\nExec=app\n",
          "2: key 'Packages': missing (valid: Debian packages in [App] Packages, or a Containerfile in "
          "[Build] Containerfile)" },
        { "packages and containerfile", MINIMAL "[Build]\nContainerfile=Containerfile\n",
          "5: key 'Containerfile': cannot be combined with Packages on line 3 (valid: either [App] Packages "
          "or [Build] Containerfile)" },
        { "base with containerfile",
          "[App]\nExec=a\nBase=debian:sid\n[Build]\nContainerfile=Containerfile\n",
          "3: key 'Base': not used with the Containerfile on line 5 (valid: remove Base; the "
          "Containerfile's FROM line names the base image)" },

        /* [App] values */
        { "empty name", MINIMAL "Name=\n",
          "4: key 'Name': empty value (valid: text of at most 512 bytes, e.g. Name=PDF to text)" },
        { "invalid base", MINIMAL "Base=ubuntu:jammy\n",
          "4: key 'Base': invalid base 'ubuntu:jammy' (valid: debian:<suite>, e.g. debian:bookworm)" },
        { "invalid suite", MINIMAL "Base=debian:Bookworm\n",
          "4: key 'Base': invalid base 'debian:Bookworm' (valid: debian:<suite>, e.g. debian:bookworm)" },
        { "invalid package", "[App]\nExec=a\nPackages=vlc;Firefox\n",
          "3: key 'Packages': invalid package name 'Firefox' (valid: Debian package names separated by ';', "
          "e.g. Packages=vlc;sway)" },
        { "duplicate package", "[App]\nExec=a\nPackages=vlc; cage;vlc\n",
          "3: key 'Packages': 'vlc' is listed twice (valid: Debian package names separated by ';', e.g. "
          "Packages=vlc;sway)" },
        { "empty package list", "[App]\nExec=a\nPackages= ; ;\n",
          "3: key 'Packages': empty list (valid: Debian package names separated by ';', e.g. "
          "Packages=vlc;sway)" },
        { "icon missing", MINIMAL "Icon=nothere.svg\n",
          "4: key 'Icon': 'nothere.svg' not found in the recipe directory %D (valid: an SVG or PNG file "
          "beside the recipe, e.g. Icon=app.svg)" },
        { "icon absolute", MINIMAL "Icon=/usr/share/icons/a.svg\n",
          "4: key 'Icon': '/usr/share/icons/a.svg' is an absolute path; name a file relative to the recipe "
          "directory %D (valid: an SVG or PNG file beside the recipe, e.g. Icon=app.svg)" },
        { "icon dotdot", MINIMAL "Icon=../app.svg\n",
          "4: key 'Icon': '../app.svg' contains '..'; name a file inside the recipe directory %D (valid: an "
          "SVG or PNG file beside the recipe, e.g. Icon=app.svg)" },
        { "icon symlink outside", MINIMAL "Icon=outside\n",
          "4: key 'Icon': 'outside' leads to /etc/hostname, outside the recipe directory %D (valid: an SVG "
          "or PNG file beside the recipe, e.g. Icon=app.svg)" },
        { "icon is directory", MINIMAL "Icon=share\n",
          "4: key 'Icon': 'share' is not a regular file (valid: an SVG or PNG file beside the recipe, e.g. "
          "Icon=app.svg)" },

        /* Exec */
        { "exec empty", "[App]\nPackages=a1\nExec=\n", "3: key 'Exec': empty command (valid: %X)" },
        { "exec unterminated quote", "[App]\nPackages=a1\nExec=app \"a b\n",
          "3: key 'Exec': unterminated double quote (valid: %X)" },
        { "exec trailing backslash", "[App]\nPackages=a1\nExec=app a\\\n",
          "3: key 'Exec': a backslash at the end of the line (valid: %X)" },
        { "exec unknown field code", "[App]\nPackages=a1\nExec=app %k\n",
          "3: key 'Exec': unknown field code '%k' (valid: %X)" },
        { "exec two field codes", "[App]\nPackages=a1\nExec=app %f %U\n",
          "3: key 'Exec': more than one of %f, %F, %u, %U (valid: %X)" },
        { "exec list code in word", "[App]\nPackages=a1\nExec=app --files=%F\n",
          "3: key 'Exec': %F must be an argument on its own, found in '--files=%F' (valid: %X)" },
        { "exec field code as program", "[App]\nPackages=a1\nExec=%f\n",
          "3: key 'Exec': the program name '%f' contains a field code (valid: %X)" },
        { "exec lone percent", "[App]\nPackages=a1\nExec=app 50%\n",
          "3: key 'Exec': '%' at the end of '50%'; write %% for a literal percent sign (valid: %X)" },
        { "exec empty program", "[App]\nPackages=a1\nExec=\"\" x\n",
          "3: key 'Exec': empty program name (valid: %X)" },
        { "exec environment assignment", "[App]\nPackages=a1\nExec=LANG=C app\n",
          "3: key 'Exec': the program name 'LANG=C' contains '=' (valid: %X)" },

        /* [Build] */
        { "files without destination", MINIMAL "[Build]\nFiles=app.conf\n",
          "5: key 'Files': 'app.conf' has no destination (valid: %B)" },
        { "files without source", MINIMAL "[Build]\nFiles=:/etc/x\n",
          "5: key 'Files': ':/etc/x' has no source (valid: %B)" },
        { "files relative destination", MINIMAL "[Build]\nFiles=app.conf:etc/app.conf\n",
          "5: key 'Files': destination 'etc/app.conf' is not an absolute path (valid: %B)" },
        { "files dotdot destination", MINIMAL "[Build]\nFiles=app.conf:/etc/../root/x\n",
          "5: key 'Files': destination '/etc/../root/x' contains '..' (valid: %B)" },
        { "files missing source", MINIMAL "[Build]\nFiles=app.conf:/a;gone.conf:/b\n",
          "5: key 'Files': 'gone.conf' not found in the recipe directory %D (valid: %B)" },
        { "files duplicate destination", MINIMAL "[Build]\nFiles=app.conf:/a;share:/a\n",
          "5: key 'Files': destination '/a' is listed twice (valid: %B)" },
        { "containerfile missing", "[App]\nExec=a\n[Build]\nContainerfile=Dockerfile\n",
          "4: key 'Containerfile': 'Dockerfile' not found in the recipe directory %D (valid: a "
          "Containerfile or Dockerfile beside the recipe)" },
        { "run empty", MINIMAL "[Build]\nRun=;\n",
          "5: key 'Run': empty list (valid: shell commands separated by ';', with \\; for a literal "
          "semicolon)" },
        { "hardened invalid", MINIMAL "[Build]\nHardened=maybe\n",
          "5: key 'Hardened': invalid boolean 'maybe' (valid: true, false, yes, no, 1, 0)" },

        /* [Resources] */
        { "cpus zero", MINIMAL "[Resources]\nCPUs=0\n",
          "5: key 'CPUs': CPU count 0 is out of range (valid: a whole number from 1 to 64)" },
        { "cpus too many", MINIMAL "[Resources]\nCPUs=65\n",
          "5: key 'CPUs': CPU count 65 is out of range (valid: a whole number from 1 to 64)" },
        { "cpus not a number", MINIMAL "[Resources]\nCPUs=two\n",
          "5: key 'CPUs': invalid CPU count 'two' (valid: a whole number from 1 to 64)" },
        { "memory too small", MINIMAL "[Resources]\nMemory=32M\n",
          "5: key 'Memory': 32M is out of range (valid: %M)" },
        { "memory too large", MINIMAL "[Resources]\nMemory=65G\n",
          "5: key 'Memory': 65G is out of range (valid: %M)" },
        { "memory plain number is MiB", MINIMAL "[Resources]\nMemory=63\n",
          "5: key 'Memory': 63 is out of range (valid: %M)" },
        { "memory bad suffix", MINIMAL "[Resources]\nMemory=1X\n",
          "5: key 'Memory': invalid size '1X' (valid: %M)" },

        /* [Permissions] */
        { "filesystem unknown location", MINIMAL "[Permissions]\nfilesystems=xdg-download;xdg-downloads\n",
          "5: key 'filesystems': unknown location 'xdg-downloads' (valid: %P)" },
        { "filesystem unknown mode", MINIMAL "[Permissions]\nfilesystems=home:readonly\n",
          "5: key 'filesystems': unknown mode ':readonly' in 'home:readonly' (valid: %P)" },
        { "filesystem host root", MINIMAL "[Permissions]\nfilesystems=/:ro\n",
          "5: key 'filesystems': '/' would share the whole host file system (valid: %P)" },
        { "filesystem home by path", MINIMAL "[Permissions]\nfilesystems=~/\n",
          "5: key 'filesystems': '~/' would share the whole home directory (write 'home') (valid: %P)" },
        { "filesystem dotdot", MINIMAL "[Permissions]\nfilesystems=~/a/../../etc\n",
          "5: key 'filesystems': '~/a/../../etc' contains '..' (valid: %P)" },
        { "filesystem listed twice", MINIMAL "[Permissions]\nfilesystems=home:ro;home:rw\n",
          "5: key 'filesystems': 'home' is listed twice (valid: %P)" },
        { "network invalid name", MINIMAL "[Permissions]\nnetwork=Tor_VM\n",
          "5: key 'network': invalid network 'Tor_VM' (valid: none, uplink or a network VM name of 1 to 32 "
          "characters a-z, 0-9, -)" },
        { "network name too long", MINIMAL "[Permissions]\nnetwork=abcdefghijabcdefghijabcdefghijabc\n",
          "5: key 'network': invalid network 'abcdefghijabcdefghijabcdefghijabc' (valid: none, uplink or a "
          "network VM name of 1 to 32 characters a-z, 0-9, -)" },
        { "clipboard invalid", MINIMAL "[Permissions]\nclipboard=always\n",
          "5: key 'clipboard': invalid value 'always' (valid: none, on-request)" },
        { "audio invalid", MINIMAL "[Permissions]\naudio=on\n",
          "5: key 'audio': invalid value 'on' (valid: none, playback)" },
        { "microphone invalid", MINIMAL "[Permissions]\nmicrophone=yes\n",
          "5: key 'microphone': invalid value 'yes' (valid: none, on)" },
        { "camera invalid", MINIMAL "[Permissions]\ncamera=\n",
          "5: key 'camera': invalid value '' (valid: none, on)" },
        { "usb invalid id", MINIMAL "[Permissions]\nusb=046d:c52\n",
          "5: key 'usb': invalid USB device '046d:c52' (valid: %Y)" },
        { "usb listed twice", MINIMAL "[Permissions]\nusb=046d:c52b;046D:C52B\n",
          "5: key 'usb': '046d:c52b' is listed twice (valid: %Y)" },
        { "gpu invalid", MINIMAL "[Permissions]\ngpu=cuda\n",
          "5: key 'gpu': invalid value 'cuda' (valid: none, virgl)" },
        { "gpu without display", MINIMAL "[Permissions]\ngpu=virgl\n",
          "5: key 'gpu': virgl needs a display (valid: add display=wayland)" },
        { "display without a compositor", "[App]\nExec=foot\nPackages=foot\n[Permissions]\ndisplay=wayland\n",
          "3: key 'Packages': display=wayland on line 5 needs a compositor in the image (valid: add sway, and "
          "xwayland for X11 apps; cage also works)" },
        { "display invalid", MINIMAL "[Permissions]\ndisplay=x11\n",
          "5: key 'display': invalid value 'x11' (valid: none, wayland)" },
};

/* Expand the placeholders used in error_cases: %D the recipe directory, %X/%B/%M/%P/%Y valid lists. */
static char *expand_expected(const char *template)
{
        static const struct {
                char code;
                const char *text;
        } texts[] = {
                { 'X',
                  "program and arguments separated by spaces, \"double quotes\" around an argument with "
                  "spaces, %f (one file), %F (all files), %u, %U, %% (a literal %)" },
                { 'B', "source:destination items separated by ';', source relative to the recipe directory, "
                       "destination absolute, e.g. Files=app.conf:/etc/app.conf" },
                { 'M', "a size from 64M to 64G with a K, M or G suffix; a plain number is MiB" },
                { 'P',
                  "xdg-download, xdg-documents, xdg-desktop, xdg-music, xdg-pictures, xdg-videos, home, "
                  "~/path or /path, each optionally followed by :ro (the default), :rw or :create" },
                { 'Y', "vendor:product USB IDs of 4 hex digits each, separated by ';', e.g. 046d:c52b" },
        };
        char resolved[4096], *out = calloc(1, 8192);
        size_t len = 0;

        assert_non_null(out);
        assert_non_null(realpath(directory, resolved));
        for (const char *s = template; *s; s++) {
                const char *insert = NULL;
                if (s[0] == '%' && s[1] == 'D')
                        insert = resolved;
                for (size_t i = 0; s[0] == '%' && i < ELEMENTSOF(texts); i++)
                        if (s[1] == texts[i].code)
                                insert = texts[i].text;
                if (insert) {
                        len += (size_t) snprintf(out + len, 8192 - len, "%s", insert);
                        s++;
                } else {
                        out[len++] = *s;
                }
        }
        return out;
}

static void error_table(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                _cleanup_free_ char *expected = expand_expected(error_cases[i].expected);
                assert_parse_error_named(error_cases[i].name, error_cases[i].text, expected);
        }
}

static void error_first_wins(void **state)
{
        /* Parsing stops at the first error; the later unknown section is not reported. */
        assert_parse_error(
                "[App]\nExec=a\nCPUs=2\n[Nope]\n",
                "3: key 'CPUs': unknown key in [App] (valid: Name, Summary, Icon, Exec, Base, Packages)");
}

static void line_too_long(void **state)
{
        size_t n = 70000;
        _cleanup_free_ char *text = malloc(n + 64);

        assert_non_null(text);
        int len = sprintf(text, "%s[Build]\nRun=", MINIMAL);
        memset(text + len, 'a', n);
        strcpy(text + len + n, "\n");
        assert_parse_error(text, "5: line is longer than 65536 bytes");
}

static void long_line_within_limit(void **state)
{
        /* Far longer than inih's 200-byte line buffer. */
        _cleanup_strv_free_ char **packages = NULL;
        _cleanup_free_ char *list = NULL, *text = NULL;

        for (int i = 0; i < 500; i++)
                assert_int_equal(strv_extendf(&packages, "package-number-%d", i), 0);
        list = strv_join(packages, ";");
        text = vp_strdup_printf("[App]\nExec=a\nPackages=%s\n", list);

        _cleanup_manifest_ vp_manifest *m = parse_good(text);
        assert_int_equal(strv_length(m->packages), 500);
        assert_string_equal(m->packages[499], "package-number-499");
}

static void recipe_too_large(void **state)
{
        size_t n = 1024 * 1024 + 1;
        _cleanup_free_ char *text = malloc(n + 1);
        _cleanup_manifest_ vp_manifest *m = NULL;
        vp_error err = { 0 };

        assert_non_null(text);
        memset(text, '#', n);
        text[n] = '\0';
        assert_int_equal(vp_manifest_parse(recipe_path, text, &m, &err), -EFBIG);
        assert_non_null(strstr(err.message, "larger than 1048576 bytes"));
}

static void file_name_rules(void **state)
{
        _cleanup_free_ char *no_suffix = vp_strdup_printf("%s/app.ini", directory);
        _cleanup_free_ char *upper = vp_strdup_printf("%s/Firefox.vmpack", directory);
        _cleanup_free_ char *expected = vp_strdup_printf(
                "%s: image name 'Firefox' (the file name without .vmpack) is invalid (valid: "
                "[a-z0-9][a-z0-9._-]{0,63}, e.g. pdf-viewer)",
                upper);
        vp_manifest *m = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_manifest_parse(no_suffix, MINIMAL, &m, &err), -EINVAL);
        assert_non_null(strstr(err.message, "must end in .vmpack"));
        assert_int_equal(vp_manifest_parse(upper, MINIMAL, &m, &err), -EINVAL);
        assert_string_equal(err.message, expected);
        assert_null(m);
}

static void load_directory_and_file(void **state)
{
        _cleanup_free_ char *sub = vp_strdup_printf("%s/pdf-viewer", directory);
        _cleanup_free_ char *file = vp_strdup_printf("%s/pdf-viewer.vmpack", sub);
        _cleanup_free_ char *with_slash = vp_strdup_printf("%s/", sub);
        _cleanup_manifest_ vp_manifest *a = NULL, *b = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_mkdir_p(sub, 0755, NULL), 0);
        assert_int_equal(vp_write_file_atomic(file, MINIMAL, strlen(MINIMAL), 0644, NULL), 0);
        assert_int_equal(vp_manifest_load(with_slash, &a, &err), 0);
        assert_int_equal(vp_manifest_load(file, &b, &err), 0);
        assert_string_equal(a->name, "pdf-viewer");
        assert_string_equal(a->path, b->path);
}

static void load_errors(void **state)
{
        _cleanup_free_ char *nul = vp_strdup_printf("%s/nul.vmpack", directory);
        _cleanup_manifest_ vp_manifest *m = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_manifest_load(directory, &m, &err), -ENOENT);
        assert_non_null(strstr(err.message, "no recipe in this directory"));
        assert_int_equal(vp_manifest_load("/nonexistent/x.vmpack", &m, &err), -ENOENT);
        assert_int_equal(vp_write_file_atomic(nul, MINIMAL "\0x", strlen(MINIMAL) + 2, 0644, NULL), 0);
        assert_int_equal(vp_manifest_load(nul, &m, &err), -EINVAL);
        assert_non_null(strstr(err.message, "contains a NUL byte"));
        assert_null(m);
}

static void assert_argv(char *const *argv, const char *const *expected)
{
        size_t n = 0;

        while (expected[n])
                n++;
        assert_int_equal(strv_length(argv), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(argv[i], expected[i]);
}

static void exec_split_quoting(void **state)
{
        _cleanup_strv_free_ char **argv = NULL;

        assert_int_equal(
                vp_exec_split("  vlc  --one\t\"two words\" a\"b c\"d \"q\\\"\\$\\`\\\\\\x\" e\\ f \"\" ",
                              &argv, NULL),
                0);
        assert_argv(argv, (const char *const[]){ "vlc", "--one", "two words", "ab cd", "q\"$`\\\\x", "e f",
                                                 "", NULL });
}

static void exec_split_errors(void **state)
{
        char **argv = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_exec_split("app \"open", &argv, &err), -EINVAL);
        assert_string_equal(err.message, "unterminated double quote");
        assert_int_equal(vp_exec_split("app open\\", &argv, &err), -EINVAL);
        assert_string_equal(err.message, "a backslash at the end of the line");
        assert_null(argv);
}

static void expand(const char *exec, const char *const *files, const char *const *expected)
{
        _cleanup_strv_free_ char **argv = NULL, **result = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_exec_split(exec, &argv, NULL), 0);
        assert_int_equal(vp_exec_expand(argv, (char *const *) files, &result, &err), 0);
        assert_argv(result, expected);
}

static void exec_expand_placeholders(void **state)
{
        const char *const none[] = { NULL };
        const char *const one[] = { "/run/vmpack/files/1/a b.pdf", NULL };
        const char *const two[] = { "/f/1/x.mp4", "/f/2/y.mp4", NULL };

        expand("pdftotext -layout %f -", one,
               (const char *const[]){ "pdftotext", "-layout", "/run/vmpack/files/1/a b.pdf", "-", NULL });
        expand("vlc %F", two, (const char *const[]){ "vlc", "/f/1/x.mp4", "/f/2/y.mp4", NULL });
        expand("vlc --x %U --y", two,
               (const char *const[]){ "vlc", "--x", "/f/1/x.mp4", "/f/2/y.mp4", "--y", NULL });
        expand("vlc %F", none, (const char *const[]){ "vlc", NULL });
        expand("app %f", none, (const char *const[]){ "app", NULL });
        expand("app --file=%u", one,
               (const char *const[]){ "app", "--file=/run/vmpack/files/1/a b.pdf", NULL });
        expand("app --file=%f", none, (const char *const[]){ "app", "--file=", NULL });
        /* %%f is a literal "%f", not a placeholder, so the file is appended. */
        expand("printf 100%% \"%%f\"", one,
               (const char *const[]){ "printf", "100%", "%f", "/run/vmpack/files/1/a b.pdf", NULL });
        expand("printf 100%%", two,
               (const char *const[]){ "printf", "100%", "/f/1/x.mp4", "/f/2/y.mp4", NULL });
        expand("cat", one, (const char *const[]){ "cat", "/run/vmpack/files/1/a b.pdf", NULL });
        expand("cat", none, (const char *const[]){ "cat", NULL });
}

static void exec_expand_errors(void **state)
{
        const char *const two[] = { "/f/1", "/f/2", NULL };
        _cleanup_strv_free_ char **argv = NULL;
        char **result = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_exec_split("app %f", &argv, NULL), 0);
        assert_int_equal(vp_exec_expand(argv, (char *const *) two, &result, &err), -E2BIG);
        assert_string_equal(err.message, "the app takes one file (%f or %u in Exec) but 2 were given");

        strv_free(argv);
        argv = NULL;
        assert_int_equal(vp_exec_split("app %k", &argv, NULL), 0);
        assert_int_equal(vp_exec_expand(argv, NULL, &result, &err), -EINVAL);
        assert_string_equal(err.message, "unsupported field code '%k' in '%k'");
        assert_null(result);
}

static void bundled_recipes_parse(void **state)
{
        static const char *const apps[] = { "pdftotext", "firefox", "vlc", "xterm-containerfile" };

        for (size_t i = 0; i < ELEMENTSOF(apps); i++) {
                _cleanup_free_ char *path = vp_strdup_printf("%s/apps/%s", VP_SOURCE_ROOT, apps[i]);
                _cleanup_manifest_ vp_manifest *m = NULL;
                vp_error err = { 0 };
                int r = vp_manifest_load(path, &m, &err);

                if (r < 0)
                        print_message("%s: %s\n", apps[i], err.message);
                assert_int_equal(r, 0);
                assert_string_equal(m->name, apps[i]);
                assert_non_null(m->icon);
        }
}

static void bundled_recipe_values(void **state)
{
        _cleanup_free_ char *pdftotext = vp_strdup_printf("%s/apps/pdftotext", VP_SOURCE_ROOT);
        _cleanup_free_ char *xterm = vp_strdup_printf("%s/apps/xterm-containerfile", VP_SOURCE_ROOT);
        _cleanup_manifest_ vp_manifest *m = NULL, *c = NULL;

        assert_int_equal(vp_manifest_load(pdftotext, &m, NULL), 0);
        assert_argv(m->exec_argv, (const char *const[]){ "pdftotext", "-layout", "%f", "-", NULL });
        assert_true(m->hardened);
        assert_int_equal(m->memory_bytes, 256ULL << 20);
        assert_true(strv_contains(m->packages, "poppler-utils"));

        assert_int_equal(vp_manifest_load(xterm, &c, NULL), 0);
        assert_non_null(c->containerfile);
        assert_null(c->packages);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(recipe_every_key),
                cmocka_unit_test(recipe_defaults),
                cmocka_unit_test(recipe_containerfile),
                cmocka_unit_test(recipe_syntax_variants),
                cmocka_unit_test(list_escaping),
                cmocka_unit_test(error_table),
                cmocka_unit_test(error_first_wins),
                cmocka_unit_test(line_too_long),
                cmocka_unit_test(long_line_within_limit),
                cmocka_unit_test(recipe_too_large),
                cmocka_unit_test(file_name_rules),
                cmocka_unit_test(load_directory_and_file),
                cmocka_unit_test(load_errors),
                cmocka_unit_test(exec_split_quoting),
                cmocka_unit_test(exec_split_errors),
                cmocka_unit_test(exec_expand_placeholders),
                cmocka_unit_test(exec_expand_errors),
                cmocka_unit_test(bundled_recipes_parse),
                cmocka_unit_test(bundled_recipe_values),
        };
        return cmocka_run_group_tests(tests, setup_directory, remove_directory);
}
