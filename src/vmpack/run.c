/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include "accel.h"
#include "guest-protocol.h"
#include "manifest.h"
#include "permission-values.h"
#include "qemu.h"
#include "share.h"
#include "store.h"
#include "vmrun.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack run [OPTIONS] IMAGE [ARGS | FILES ...]\n"
              "\n"
              "Run an app image in a disposable VM and return the app's exit status.\n"
              "IMAGE is an image name or digest from the store, or a path to a squashfs file\n"
              "(which has no Exec command, so it needs --entrypoint).\n"
              "The app runs the image's Exec command with ARGS; each ARG that names an existing\n"
              "host file is shared alone (its directory stays invisible) and replaced by the\n"
              "file's path in the guest. Output streams to this terminal; stdin is forwarded.\n"
              "Ctrl-C sends SIGTERM to the app in the guest; a second Ctrl-C stops the VM.\n"
              "A '--' right after IMAGE ends vmpack's options and is not passed to the app.\n"
              "\n"
              "Options:\n"
              "      --entrypoint PROGRAM  run PROGRAM with ARGS instead of the image's Exec command\n"
              "      --rw                  share files read-write (default: read-only)\n"
              "      --filesystem LOCATION[:ro|:rw|:create]\n"
              "                            share a folder, mounted at the same place in the VM:\n"
              "                            xdg-download (and xdg-documents, -desktop, -music,\n"
              "                            -pictures, -videos) or ~/PATH (under the app's home\n"
              "                            " VP_RUN_GUEST_HOME "), or /PATH; ro (the default) is\n"
              "                            read-only, rw read-write, create read-write and made\n"
              "                            with mode 0700 if missing. Repeatable. Symbolic links\n"
              "                            may not leave the home, and none may be in /PATH\n"
              "      --timeout SECONDS     stop the VM SECONDS (1 to 604800) after QEMU starts,\n"
              "                            boot time included, and exit 124 (default: no limit)\n"
              "      --memory SIZE         guest memory, 64M to 64G, in MiB unless suffixed K, M\n"
              "                            or G (default: the recipe's Memory, else 256 MiB)\n"
              "      --cpus N              virtual CPUs, 1 to 64 (default: the recipe's CPUs,\n"
              "                            else 1)\n"
              "      --network MODE        none (no network device, the default) or uplink\n"
              "                            (QEMU user networking: outbound connections only)\n"
              "      --machine TYPE        microvm (default, fastest boot) or q35; an image with\n"
              "                            display=wayland needs q35 and gets it by default\n"
              "      --display MODE        for an image with display=wayland: gtk or sdl (a window\n"
              "                            titled with the image name; needs Debian's\n"
              "                            qemu-system-gui), spice (a SPICE server on\n"
              "                            RUNTIME_DIR/run-*/spice.sock for remote-viewer) or none\n"
              "                            (default: gtk when DISPLAY or WAYLAND_DISPLAY is set,\n"
              "                            else none)\n"
              "      --qmp PATH            create the QEMU monitor (QMP) socket at PATH, for tests\n"
              "                            and debugging, e.g. a screendump; removed at the end\n"
              "                            (default: private to the run)\n"
              "      --kernel PATH         guest kernel, a vmlinuz with modules in /lib/modules\n"
              "                            (default: the host's newest kernel, or VMPACK_KERNEL)\n"
              "      --accel MODE          kvm, tcg or auto (default: VMPACK_ACCEL, else auto: KVM\n"
              "                            when it boots the guest, else TCG); kvm never falls\n"
              "                            back to TCG and exits 125 when KVM fails\n"
              "  -v, --verbose             print the QEMU command line and copy the guest console\n"
              "                            log to stderr\n"
              "  -h, --help                show this help\n"
              "\n"
              "Exit status: the app's; 124 when --timeout expired; 125 when the VM or its setup\n"
              "failed, or when the app failed and the guest kernel found the image damaged; 126\n"
              "when the program cannot be executed; 127 when it is not in the image; 128+N when\n"
              "signal N stopped the run before the app exited; 2 on a usage error.\n"
              "\n"
              "Environment:\n"
              "  VMPACK_ACCEL        default for --accel\n"
              "  VMPACK_KERNEL       default for --kernel\n"
              "  VMPACK_DATA_DIR     image store (default $XDG_DATA_HOME/vmpack)\n"
              "  VMPACK_CACHE_DIR    guest kernels and initramfs, and the file 'accel' that\n"
              "                      records a KVM that did not boot the guest, so that auto\n"
              "                      uses TCG at once; delete it to try KVM again\n"
              "                      (default $XDG_CACHE_HOME/vmpack)\n"
              "  VMPACK_RUNTIME_DIR  run directories with sockets and console logs\n"
              "                      (default $XDG_RUNTIME_DIR/vmpack, else /tmp/vmpack-UID)\n",
              out);
}

typedef struct run_arguments {
        const char *image;
        const char *entrypoint;
        char **args;
        char **filesystems; /* --filesystem values, as given */
        vp_run_options options;
        bool memory_set, cpus_set, machine_set, display_set;
} run_arguments;

enum {
        OPT_ENTRYPOINT = 256,
        OPT_RW,
        OPT_TIMEOUT,
        OPT_MEMORY,
        OPT_CPUS,
        OPT_NETWORK,
        OPT_MACHINE,
        OPT_KERNEL,
        OPT_ACCEL,
        OPT_DISPLAY,
        OPT_QMP,
        OPT_FILESYSTEM,
};

static int parse_unsigned(const char *option, const char *value, unsigned min, unsigned max, const char *unit,
                          unsigned *ret)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);

        if (errno || end == value || *end || value[0] == '-' || v < min || v > max) {
                vp_log_error("run: %s '%s' is invalid (valid: %u to %u%s)", option, value, min, max, unit);
                return -EINVAL;
        }
        *ret = (unsigned) v;
        return 0;
}

static int parse_arguments(int argc, char **argv, run_arguments *a)
{
        static const struct option long_options[] = {
                { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
                { "rw", no_argument, NULL, OPT_RW },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "network", required_argument, NULL, OPT_NETWORK },
                { "machine", required_argument, NULL, OPT_MACHINE },
                { "kernel", required_argument, NULL, OPT_KERNEL },
                { "accel", required_argument, NULL, OPT_ACCEL },
                { "display", required_argument, NULL, OPT_DISPLAY },
                { "qmp", required_argument, NULL, OPT_QMP },
                { "filesystem", required_argument, NULL, OPT_FILESYSTEM },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;
        uint64_t bytes;

        /* "+": options end at IMAGE, so the app's own options (e.g. "-layout") pass through. */
        while ((c = getopt_long(argc, argv, "+vh", long_options, NULL)) != -1) {
                switch (c) {
                case OPT_ENTRYPOINT:
                        a->entrypoint = optarg;
                        break;
                case OPT_RW:
                        a->options.files_writable = true;
                        break;
                case OPT_TIMEOUT:
                        if (parse_unsigned("--timeout", optarg, 1, 7 * 24 * 3600, " seconds", &a->options.timeout_s) < 0)
                                return 2;
                        break;
                case OPT_MEMORY:
                        if (vp_parse_size(optarg, 1024 * 1024, &bytes) < 0 || bytes < 64ULL << 20 ||
                            bytes > 64ULL << 30) {
                                vp_log_error("run: --memory '%s' is invalid (valid: 64M to 64G; "
                                             "a plain number is MiB)",
                                             optarg);
                                return 2;
                        }
                        a->options.memory_mib = bytes >> 20;
                        a->memory_set = true;
                        break;
                case OPT_CPUS:
                        if (parse_unsigned("--cpus", optarg, 1, 64, "", &a->options.cpus) < 0)
                                return 2;
                        a->cpus_set = true;
                        break;
                case OPT_NETWORK:
                        if (vp_vm_network_from_string(optarg, &a->options.network) < 0) {
                                vp_log_error("run: --network '%s' is invalid (valid: none, uplink)", optarg);
                                return 2;
                        }
                        break;
                case OPT_MACHINE:
                        if (vp_machine_from_string(optarg, &a->options.machine) < 0) {
                                vp_log_error("run: --machine '%s' is invalid (valid: microvm, q35)", optarg);
                                return 2;
                        }
                        a->machine_set = true;
                        break;
                case OPT_DISPLAY:
                        if (vp_display_from_string(optarg, &a->options.display) < 0) {
                                vp_log_error("run: --display '%s' is invalid (valid: gtk, sdl, spice, none)", optarg);
                                return 2;
                        }
                        a->display_set = true;
                        break;
                case OPT_QMP:
                        if (optarg[0] == '\0') {
                                vp_log_error("run: --qmp needs a socket path");
                                return 2;
                        }
                        a->options.qmp_path = optarg;
                        break;
                case OPT_KERNEL:
                        a->options.kernel = optarg;
                        break;
                case OPT_FILESYSTEM:
                        if (strv_extend(&a->filesystems, optarg) < 0)
                                return VP_STATUS_VM_FAILURE;
                        break;
                case OPT_ACCEL:
                        if (vp_accel_from_string(optarg, &a->options.accel) < 0) {
                                vp_log_error("run: --accel '%s' is invalid (valid: kvm, tcg, auto)", optarg);
                                return 2;
                        }
                        break;
                case 'v':
                        a->options.verbose = true;
                        a->options.debug = true;
                        break;
                case 'h':
                        print_help(stdout);
                        return 0;
                default:
                        return vp_option_error("run", argv, "+vh", long_options);
                }
        }

        if (optind >= argc) {
                vp_log_error("run: missing IMAGE (run 'vmpack run --help')");
                return 2;
        }
        a->image = argv[optind];
        a->args = argv + optind + 1;
        /* "vmpack run IMAGE -- -file" keeps -file from looking like an option: drop the "--". */
        if (a->args[0] && strcmp(a->args[0], "--") == 0)
                a->args++;
        return -1;
}

/* The invoking user's home: $HOME, which is this user's own setting, else the password
 * database. */
static const char *invoking_home(void)
{
        const char *home = getenv("HOME");

        if (home && home[0] == '/')
                return home;
        struct passwd *pw = getpwuid(getuid());
        return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/* Open each --filesystem folder for the invoking user. Returns 0, 2 for an invalid
 * option value, or VP_STATUS_VM_FAILURE when a folder cannot be shared. */
static int resolve_filesystems(char **filesystems, vp_resolved_share **ret_shares, vp_run_folder **ret_folders,
                               size_t *ret_n)
{
        size_t n = strv_length(filesystems);
        vp_resolved_share *shares = calloc(n + 1, sizeof(*shares));
        vp_run_folder *folders = calloc(n + 1, sizeof(*folders));
        vp_share_user user = { .uid = getuid(), .gid = getgid(), .home = invoking_home() };
        int status = 0;

        *ret_shares = shares;
        *ret_folders = folders;
        *ret_n = 0;
        if (!shares || !folders)
                return VP_STATUS_VM_FAILURE;
        if (n > 0 && !user.home) {
                fputs("vmpack run: --filesystem: cannot find your home (set HOME)\n", stderr);
                return VP_STATUS_VM_FAILURE;
        }

        for (size_t i = 0; i < n; i++) {
                vp_fs_permission permission = {};
                char message[256];
                vp_error err = {};

                if (vp_fs_permission_parse(filesystems[i], &permission, message, sizeof(message)) < 0) {
                        fprintf(stderr, "vmpack run: --filesystem: %s (valid: LOCATION[:ro|:rw|:create])\n", message);
                        return 2;
                }
                shares[i].fd = -EBADF;
                int r = vp_share_resolve(&user, permission.location, permission.mode, NULL, &shares[i], &err);
                free(permission.location);
                if (r < 0) {
                        fprintf(stderr, "vmpack run: --filesystem: %s\n", err.message);
                        status = VP_STATUS_VM_FAILURE;
                        break;
                }
                folders[i] = (vp_run_folder) {
                        .fd = shares[i].fd,
                        .guest_path = shares[i].guest_path,
                        .writable = vp_share_mode_writable(shares[i].mode),
                        .host_path = shares[i].host_path,
                };
                *ret_n = i + 1;
        }
        return status;
}

static void free_shares(vp_resolved_share *shares, size_t n)
{
        for (size_t i = 0; shares && i < n; i++)
                vp_resolved_share_clear(&shares[i]);
        free(shares);
}

/* True when IMAGE names a squashfs file rather than a store entry. */
static bool is_image_path(const char *image)
{
        struct stat st;

        if (!strchr(image, '/') && !vp_str_endswith(image, ".sqfs") && !vp_str_endswith(image, ".squashfs"))
                return false;
        return stat(image, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read exec argv and resources from the image's metadata (image.json). */
static int apply_metadata(json_t *metadata, run_arguments *a, char ***ret_exec, vp_error *err)
{
        _cleanup_strv_free_ char **exec = strv_new();
        json_t *array = json_object_get(metadata, "exec");
        size_t i;
        json_t *item;

        if (!exec)
                return vp_error_set(err, -ENOMEM, "out of memory");
        json_array_foreach(array, i, item) {
                if (!json_is_string(item))
                        return vp_error_set(err, -EINVAL, "image.json: \"exec\" must be an array of strings");
                if (strv_extend(&exec, json_string_value(item)) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }

        json_t *resources = json_object_get(metadata, "resources");
        json_t *cpus = json_object_get(resources, "cpus");
        json_t *memory = json_object_get(resources, "memory_bytes");
        if (!a->cpus_set && json_is_integer(cpus) && json_integer_value(cpus) >= 1 && json_integer_value(cpus) <= 64)
                a->options.cpus = (unsigned) json_integer_value(cpus);
        if (!a->memory_set && json_is_integer(memory) && json_integer_value(memory) >= (64 << 20) &&
            json_integer_value(memory) <= (64LL << 30))
                a->options.memory_mib = (uint64_t) json_integer_value(memory) >> 20;

        *ret_exec = TAKE_PTR(exec);
        return 0;
}

static bool permission_is(json_t *permissions, const char *key, const char *value)
{
        const char *granted = json_string_value(json_object_get(permissions, key));

        return granted && strcmp(granted, value) == 0;
}

/* Set the display, sound and clipboard options from the image's permissions. The
 * devices exist only for what the recipe grants. */
static int apply_display_permissions(json_t *metadata, run_arguments *a, vp_error *err)
{
        json_t *permissions = json_object_get(metadata, "permissions");

        if (!permission_is(permissions, "display", "wayland"))
                return 0;

        if (a->machine_set && a->options.machine != VP_MACHINE_Q35)
                return vp_error_set(err, -EINVAL, "the image has display=wayland, which needs --machine q35, not %s",
                                    vp_machine_to_string(a->options.machine));
        a->options.gui = true;
        a->options.machine = VP_MACHINE_Q35;
        if (!a->display_set)
                a->options.display = getenv("DISPLAY") || getenv("WAYLAND_DISPLAY") ? VP_DISPLAY_GTK
                                                                                      : VP_DISPLAY_NONE;
        a->options.audio = permission_is(permissions, "audio", "playback");
        a->options.microphone = a->options.audio && permission_is(permissions, "microphone", "on");
        a->options.clipboard = permission_is(permissions, "clipboard", "on-request");
        a->options.virgl = permission_is(permissions, "gpu", "virgl");
        /* NOTE: a microphone without audio=playback gets no sound device at all. */
        return 0;
}

/* Replace each ARG that names an existing regular file by its guest path, and collect the
 * absolute host paths to share. */
static int translate_files(char **args, char ***ret_args, char ***ret_files, vp_error *err)
{
        _cleanup_strv_free_ char **out = strv_new();
        _cleanup_strv_free_ char **files = strv_new();
        struct stat st;

        if (!out || !files)
                return vp_error_set(err, -ENOMEM, "out of memory");

        /* NOTE: only regular files are shared; a directory argument reaches the app unchanged
         * and names nothing in the guest. */
        STRV_FOREACH(arg, args) {
                if (stat(*arg, &st) < 0 || !S_ISREG(st.st_mode)) {
                        if (strv_extend(&out, *arg) < 0)
                                return vp_error_set(err, -ENOMEM, "out of memory");
                        continue;
                }

                /* Absolute but not resolved: the bind mount follows a symlink, and the guest
                 * path keeps the name the user typed, which the app shows in its messages. */
                char *absolute = NULL;
                if ((*arg)[0] == '/') {
                        absolute = strdup(*arg);
                } else {
                        _cleanup_free_ char *cwd = getcwd(NULL, 0);
                        if (!cwd)
                                return vp_error_set_errno(err, -errno, "getcwd");
                        absolute = vp_strdup_printf("%s/%s", cwd, *arg);
                }
                size_t index = strv_length(files);
                if (!absolute || strv_push(&files, absolute) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");

                char *guest = vp_run_guest_file_path(index, absolute);
                if (!guest || strv_push(&out, guest) < 0)
                        return vp_error_set(err, -ENOMEM, "out of memory");
        }

        *ret_args = TAKE_PTR(out);
        *ret_files = TAKE_PTR(files);
        return 0;
}

static void print_notice(void *userdata, const char *message)
{
        fprintf(stderr, "vmpack run: %s\n", message);
}

/* Block the signals that stop a run and return a signalfd for them, so the run loop reads
 * them as events. The first requests that the guest stop the app, the second quits QEMU. */
static int make_signal_fd(void)
{
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        /* Under nohup SIGHUP stays ignored. SIGINT is taken even when ignored, as shells
         * do for background jobs, so "kill -INT" still stops the app cleanly. */
        struct sigaction current;
        if (sigaction(SIGHUP, NULL, &current) == 0 && current.sa_handler != SIG_IGN)
                sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        return signalfd(-1, &set, SFD_CLOEXEC);
}

int verb_run(int argc, char **argv)
{
        run_arguments a = {
                .options = {
                        .machine = VP_MACHINE_MICROVM,
                        .accel = VP_ACCEL_AUTO,
                        .network = VP_VM_NETWORK_NONE,
                        .stdin_fd = STDIN_FILENO,
                        .stdout_fd = STDOUT_FILENO,
                        .stderr_fd = STDERR_FILENO,
                        .console_fd = -1,
                        .signal_fd = -1,
                        .notice = print_notice,
                },
        };
        _cleanup_image_ vp_image *image = NULL;
        _cleanup_strv_free_ char **exec = NULL;
        _cleanup_strv_free_ char **args = NULL;
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_strv_free_ char **app_argv = NULL;
        vp_run_result result = {};
        vp_error err = {};
        int r;

        r = parse_arguments(argc, argv, &a);
        _cleanup_strv_free_ char **filesystems = a.filesystems;
        if (r >= 0)
                return r;

        /* An argument with a '/' can only be a path, so report the file, not an invalid name. */
        if (strchr(a.image, '/') && !is_image_path(a.image)) {
                struct stat st;
                if (stat(a.image, &st) < 0)
                        fprintf(stderr, "vmpack run: %s: %s\n", a.image, strerror(errno));
                else
                        fprintf(stderr, "vmpack run: %s: not a regular file\n", a.image);
                return VP_STATUS_VM_FAILURE;
        }
        if (!is_image_path(a.image)) {
                r = vp_store_find_image(a.image, &image, &err);
                /* A bare file name that is no store entry still names a file here. */
                if (r == -ENOENT && access(a.image, R_OK) == 0)
                        r = 1;
        } else
                r = 1;

        if (r == 1) {
                a.options.rootfs_path = a.image;
                a.options.image_name = a.image;
                exec = strv_new();
        } else {
                if (r < 0) {
                        fprintf(stderr, "vmpack run: %s\n", err.message);
                        /* An argument that is neither a valid name nor a digest is a usage error. */
                        return r == -EINVAL && !vp_image_name_valid(a.image) ? 2 : VP_STATUS_VM_FAILURE;
                }
                a.options.rootfs_path = image->rootfs_path;
                a.options.image_name = image->name ? image->name : a.image;
                r = apply_metadata(image->metadata, &a, &exec, &err);
                if (r >= 0)
                        r = apply_display_permissions(image->metadata, &a, &err);
                if (r < 0) {
                        fprintf(stderr, "vmpack run: image %s: %s\n", a.image, err.message);
                        return VP_STATUS_VM_FAILURE;
                }
        }

        r = translate_files(a.args, &args, &files, &err);
        if (r < 0) {
                fprintf(stderr, "vmpack run: %s\n", err.message);
                return VP_STATUS_VM_FAILURE;
        }

        if (a.entrypoint) {
                app_argv = strv_new();
                if (!app_argv || strv_extend(&app_argv, a.entrypoint) < 0)
                        return VP_STATUS_VM_FAILURE;
                STRV_FOREACH(s, args)
                        if (strv_extend(&app_argv, *s) < 0)
                                return VP_STATUS_VM_FAILURE;
        } else if (!exec || !exec[0]) {
                fprintf(stderr, "vmpack run: image %s has no Exec command: use --entrypoint PROGRAM\n", a.image);
                return VP_STATUS_VM_FAILURE;
        } else {
                r = vp_exec_expand(exec, args, &app_argv, &err);
                if (r == -E2BIG) {
                        _cleanup_free_ char *given = strv_join(a.args, "' '");
                        fprintf(stderr, "vmpack run: %s: '%s'\n", err.message, given ? given : "?");
                        return 2;
                }
                if (r < 0) {
                        fprintf(stderr, "vmpack run: %s\n", err.message);
                        return VP_STATUS_VM_FAILURE;
                }
        }
        a.options.argv = app_argv;
        a.options.files = files;

        /* Folders are opened last, just before the VM starts, and stay open during the run. */
        vp_resolved_share *shares = NULL;
        vp_run_folder *folders = NULL;
        size_t n_shares = 0;
        r = resolve_filesystems(filesystems, &shares, &folders, &n_shares);
        if (r != 0) {
                free_shares(shares, n_shares);
                free(folders);
                return r;
        }
        a.options.folders = folders;
        a.options.n_folders = n_shares;
        if (a.options.verbose)
                a.options.console_fd = STDERR_FILENO;

        /* A closed stdout must not kill vmpack before it powers the VM off. */
        signal(SIGPIPE, SIG_IGN);
        a.options.signal_fd = make_signal_fd();

        r = vp_vm_run(&a.options, &result, &err);
        free_shares(shares, n_shares);
        free(folders);
        if (r < 0) {
                fprintf(stderr, "vmpack run: %s: %s\n", a.image, err.message);
                if (result.console_tail && *result.console_tail)
                        fprintf(stderr, "vmpack run: last lines of the guest console:\n%s%s", result.console_tail,
                                vp_str_endswith(result.console_tail, "\n") ? "" : "\n");
                vp_run_result_clear(&result);
                return VP_STATUS_VM_FAILURE;
        }

        int status = result.status;
        if (result.timed_out)
                fprintf(stderr, "vmpack run: %s did not exit within %u s; VM stopped\n", a.image,
                        a.options.timeout_s);
        else if (result.guest_error)
                fprintf(stderr, "vmpack run: %s: %s\n", a.image, result.guest_error);
        else if (result.signal && status == 128 + result.signal) {
                /* The signal ended the run before the app exited: a second Ctrl-C, or one during the boot. */
                if (result.signal == SIGINT)
                        fputs("vmpack run: interrupted; VM stopped\n", stderr);
                else
                        fprintf(stderr, "vmpack run: stopped by signal %d (%s); VM stopped\n", result.signal,
                                strsignal(result.signal));
        }
        if (result.rootfs_damaged && status != 0 && !result.timed_out && !result.signal) {
                /* The notice about the damage came first. The damage most likely made the app fail. */
                fprintf(stderr,
                        "vmpack run: %s: the app failed with exit status %d, and the image %s is damaged. "
                        "Check it with \"vmpack images --verify\"\n",
                        a.image, status, a.options.rootfs_path);
                status = VP_STATUS_VM_FAILURE;
        }
        vp_run_result_clear(&result);
        return status;
}
