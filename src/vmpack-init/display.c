/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Graphical apps: the app runs as the user under a kiosk Wayland compositor on the
 * virtio-gpu: sway when the image has it, else cage. The guest has no udev, no logind and
 * no seatd, so init does their part: it hands the DRM and input device nodes to the user,
 * writes the udev database entries that libinput requires, and creates the user's
 * XDG_RUNTIME_DIR.
 *
 * sway is configured as a kiosk: no bar, no borders, no key bindings, and the app started
 * by the configuration's exec line. Its IPC socket lets init set the screen's size when the
 * host's window changes (sway.c). cage 0.1.4 has no such interface, so under cage the
 * screen keeps the size it had when cage started.
 */
#include "init.h"

#include "guest-protocol.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* virtio-gpu registers its DRM device after its module loads; under TCG that took well
 * under a second on a 2-core development machine. */
#define CARD_WAIT_MS 5000
#define CARD_PATH "/dev/dri/card0"

/* The wrapper is a copy of this binary on the /run tmpfs, because the initramfs is gone
 * by the time the compositor starts it. It records the app's exit status in STATUS_PATH, in a
 * directory that only the app's user can write. */
#define WRAPPER_NAME "vmpack-status-wrapper"
#define WRAPPER_PATH "/run/vmpack/" WRAPPER_NAME
#define STATUS_DIR "/run/vmpack/status"
#define STATUS_PATH STATUS_DIR "/app"
#define STATUS_WAIT_MS 1000

/* Files for sway, which starts the wrapper from its configuration: the wrapper reads the
 * app's argv from ARGV_PATH, NUL-separated, rather than from a shell command line. */
#define SWAY_CONFIG_PATH "/run/vmpack/sway.config"
#define ARGV_PATH "/run/vmpack/app.argv"
#define ARGV_FILE_MAX (1024 * 1024)
static const char *const sway_paths[] = { "/usr/local/bin/sway", "/usr/bin/sway", "/bin/sway" };

/*
 * Environment for the compositor (wlroots 0.15 in Debian 12, for sway 1.7 and cage 0.1.4):
 * - pixman: software rendering, because virtio-gpu without virgl has no 3D acceleration;
 * - software cursors: the cursor is drawn into the frame, so screendumps show it too;
 * - libseat's builtin backend, a seatd server that the compositor forks as the user, which can
 *   open the device nodes because init gave them to the user. The seatd and logind
 *   backends need daemons the guest lacks, and wlroots 0.15 waits in vain for the noop
 *   backend to activate its session. The guest has no VT for the seat to follow;
 * - the compositor starts even when libinput finds no input device.
 */
const char *const init_display_environment[INIT_DISPLAY_ENVIRONMENT_SIZE] = {
        "WLR_RENDERER=pixman",
        "WLR_NO_HARDWARE_CURSORS=1",
        "LIBSEAT_BACKEND=builtin",
        "SEATD_VTBOUND=0",
        "WLR_LIBINPUT_NO_DEVICES=1",
        "XDG_SESSION_TYPE=wayland",
};

static void give_to_user(const char *path, uid_t uid)
{
        if (chown(path, uid, uid) < 0 || chmod(path, 0600) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "giving %s to uid %u failed: %m", path,
                          (unsigned) uid);
        init_debug_log("%s given to uid %u", path, (unsigned) uid);
}

/* Give every node of a /dev directory whose name starts with prefix to the user. */
static void give_nodes_to_user(const char *directory, const char *prefix, uid_t uid)
{
        DIR *d = opendir(directory);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                char path[INIT_PATH_MAX];
                if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", directory, e->d_name);
                give_to_user(path, uid);
        }
        closedir(d);
}

bool init_read_line(const char *path, char *out, size_t out_size)
{
        FILE *f = fopen(path, "re");
        bool ok = f && fgets(out, (int) out_size, f);

        if (f)
                fclose(f);
        if (ok)
                out[strcspn(out, "\n")] = '\0';
        return ok;
}

/* True when /sys/class/input/NAME belongs to a virtio device. q35 also has the i8042's AT
 * keyboard. Left to the compositor, its key map took the place of the virtio keyboard's
 * at the first key press, and foot lost the first half of the first line typed. */
static bool is_virtio_input(const char *name)
{
        char path[INIT_PATH_MAX], *real;
        bool virtio;

        snprintf(path, sizeof(path), "/sys/class/input/%s", name);
        real = realpath(path, NULL);
        virtio = real && strstr(real, "/virtio");
        free(real);
        return virtio;
}

/* Give the user the event nodes of the virtio keyboard and tablet, and nothing else. */
static void give_input_to_user(uid_t uid)
{
        DIR *d = opendir("/sys/class/input");
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                char path[INIT_PATH_MAX];
                if (strncmp(e->d_name, "event", 5) != 0)
                        continue;
                if (!is_virtio_input(e->d_name)) {
                        init_debug_log("input %s: not a virtio device, left to root", e->d_name);
                        continue;
                }
                snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
                give_to_user(path, uid);
        }
        closedir(d);
}

/*
 * libinput ignores an input device unless udev has initialized it and set ID_INPUT, and
 * libudev counts a device as initialized when /run/udev/data/c<MAJOR>:<MINOR> exists. Write
 * that entry with the properties udev's input_id would set for QEMU's virtio devices: a
 * device with absolute axes is the tablet, which udev classes as an absolute mouse, and
 * any other is the keyboard.
 */
static void write_udev_entries(void)
{
        DIR *d = opendir("/sys/class/input");
        struct dirent *e;

        if (!d)
                return;
        if (init_mkdir_p("/run/udev/data", 0755) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "creating /run/udev/data failed: %m");
        while ((e = readdir(d))) {
                char path[INIT_PATH_MAX], dev[32], abs[256];
                if (strncmp(e->d_name, "event", 5) != 0 || !is_virtio_input(e->d_name))
                        continue;

                snprintf(path, sizeof(path), "/sys/class/input/%s/dev", e->d_name);
                if (!init_read_line(path, dev, sizeof(dev)))
                        continue;
                snprintf(path, sizeof(path), "/sys/class/input/%s/device/capabilities/abs", e->d_name);
                bool pointer = init_read_line(path, abs, sizeof(abs)) && strcmp(abs, "0") != 0;

                snprintf(path, sizeof(path), "/run/udev/data/c%s", dev);
                FILE *f = fopen(path, "we");
                if (!f)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "creating %s failed: %m", path);
                fputs("E:ID_INPUT=1\n", f);
                fputs(pointer ? "E:ID_INPUT_MOUSE=1\n" : "E:ID_INPUT_KEY=1\nE:ID_INPUT_KEYBOARD=1\n", f);
                if (fclose(f) != 0)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "writing %s failed: %m", path);
                init_debug_log("%s: udev entry for %s (%s)", path, e->d_name, pointer ? "pointer" : "keyboard");
                if (!pointer) {
                        snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
                        init_keyboard_warmup_arm(path);
                }
        }
        closedir(d);
}

/* Put "cage -- WRAPPER" in front of the app's argv. cage 0.1.4 (Debian 12) exits with
 * status 0 however the app exits, so the wrapper records the app's status. */
static void wrap_in_cage(init_config *c)
{
        char **argv = calloc(c->argc + 4, sizeof(char *));

        if (!argv)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        argv[0] = strdup("cage");
        argv[1] = strdup("--");
        argv[2] = strdup(WRAPPER_PATH);
        if (!argv[0] || !argv[1] || !argv[2])
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        memcpy(argv + 3, c->argv, (c->argc + 1) * sizeof(char *));
        free(c->argv);
        c->argv = argv;
        c->argc += 3;
}

static void write_file(const char *path, const char *data, size_t size)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

        if (fd < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "creating %s failed: %m", path);
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, data + done, size - done);
                if (n <= 0)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "writing %s failed: %m", path);
                done += (size_t) n;
        }
        if (close(fd) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "writing %s failed: %m", path);
}

/*
 * Run the app under sway: write its argv to ARGV_PATH and a kiosk configuration whose exec
 * line starts the wrapper, and replace the argv with sway's. sway runs an exec line through
 * "sh -c" in a session of its own. The shell's exec makes the wrapper that session's
 * leader, so its process group contains the app and not sway.
 */
static void wrap_in_sway(init_config *c, const char *sway, const char *clipboard_agent)
{
        static const char config[] =
                "# Written by vmpack-init: the app alone on the screen, with no bar, border or key binding.\n"
                "default_border none\n"
                "default_floating_border normal\n"
                "focus_follows_mouse no\n"
                "swaynag_command -\n"
                "xwayland enable\n"
                "exec exec " WRAPPER_PATH " --sway\n";
        size_t size = 0;

        for (size_t i = 0; i < c->argc; i++)
                size += strlen(c->argv[i]) + 1;
        char *argv_text = malloc(size ? size : 1);
        if (!argv_text)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        size = 0;
        for (size_t i = 0; i < c->argc; i++) {
                size_t n = strlen(c->argv[i]) + 1;
                memcpy(argv_text + size, c->argv[i], n);
                size += n;
        }
        write_file(ARGV_PATH, argv_text, size);
        free(argv_text);
        for (size_t i = 0; i < c->argc; i++)
                free(c->argv[i]);
        free(c->argv);
        /* With the clipboard granted, sway also starts the SPICE session agent. */
        char *config_text = NULL;
        if (asprintf(&config_text, "%s%s%s%s", config, clipboard_agent ? "exec " : "",
                     clipboard_agent ? clipboard_agent : "", clipboard_agent ? "\n" : "") < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        write_file(SWAY_CONFIG_PATH, config_text, strlen(config_text));
        free(config_text);

        char **argv = calloc(4, sizeof(char *));
        if (!argv)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        argv[0] = strdup(sway);
        argv[1] = strdup("--config");
        argv[2] = strdup(SWAY_CONFIG_PATH);
        if (!argv[0] || !argv[1] || !argv[2])
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        c->argv = argv;
        c->argc = 3;
}

/* Copy this binary, which may already be deleted from the initramfs, to WRAPPER_PATH. */
static void install_status_wrapper(uid_t uid)
{
        int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        struct stat st;

        if (in < 0 || fstat(in, &st) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "opening /proc/self/exe failed: %m");
        if (init_mkdir_p("/run/vmpack", 0755) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "creating /run/vmpack failed: %m");
        int out = open(WRAPPER_PATH, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (out < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "creating %s failed: %m", WRAPPER_PATH);
        for (off_t done = 0; done < st.st_size;) {
                ssize_t n = sendfile(out, in, NULL, (size_t) (st.st_size - done));
                if (n <= 0)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "copying init to %s failed: %m",
                                  WRAPPER_PATH);
                done += n;
        }
        close(in);
        if (close(out) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "writing %s failed: %m", WRAPPER_PATH);

        if (init_mkdir_p(STATUS_DIR, 0700) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "creating %s failed: %m", STATUS_DIR);
        give_to_user(STATUS_DIR, uid);
        if (chmod(STATUS_DIR, 0700) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "chmod %s failed: %m", STATUS_DIR);
}

int init_display_app_status(int compositor_status)
{
        char text[16];

        /* When the host stops the app, the compositor may end before the wrapper has
         * written the app's status: give the wrapper a moment. A compositor that failed
         * before starting the wrapper costs this wait once. */
        (void) init_wait_for_path(STATUS_PATH, STATUS_WAIT_MS);

        /* The app's user can write the file, so it is parsed as untrusted. */
        if (!init_read_line(STATUS_PATH, text, sizeof(text))) {
                init_debug_log("no app status in %s: using the compositor's status %d", STATUS_PATH,
                               compositor_status);
                return compositor_status;
        }
        char *end;
        long status = strtol(text, &end, 10);
        if (end == text || *end || status < 0 || status > 255) {
                init_log("invalid app status '%s' in %s: using the compositor's status %d", text, STATUS_PATH,
                         compositor_status);
                return compositor_status;
        }
        init_debug_log("app status %ld recorded by the wrapper, the compositor's %d", status, compositor_status);
        return (int) status;
}

/* Parse the parent pid and process group of a /proc/PID/stat line. The command name in
 * parentheses may contain spaces and parentheses, so fields are counted after the last ')'. */
static bool parse_stat(const char *line, char *comm, size_t comm_size, pid_t *ppid, pid_t *pgrp)
{
        const char *open = strchr(line, '(');
        const char *close = strrchr(line, ')');
        int parent, group;

        if (!open || !close || close < open || (size_t) (close - open - 1) >= comm_size)
                return false;
        memcpy(comm, open + 1, (size_t) (close - open - 1));
        comm[close - open - 1] = '\0';
        if (sscanf(close + 1, " %*c %d %d", &parent, &group) != 2)
                return false;
        *ppid = parent;
        *pgrp = group;
        return true;
}

pid_t init_display_app_group(pid_t compositor)
{
        /* The kernel truncates a command name to 15 bytes. */
        static const char comm_name[] = "vmpack-status-wrapper";
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t found = 0;

        if (!d)
                return 0;
        while (!found && (e = readdir(d))) {
                char path[64], line[512], comm[64];
                pid_t pid, ppid, pgrp;
                char *end;

                pid = (pid_t) strtol(e->d_name, &end, 10);
                if (*end || pid <= 1)
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                if (!init_read_line(path, line, sizeof(line)) || !parse_stat(line, comm, sizeof(comm), &ppid, &pgrp))
                        continue;
                /* A wrapper that leads its own group: cage's child, or under sway an orphan
                 * that init has adopted, because sway starts programs through a fork that
                 * exits. A process of the app's user could pose as the wrapper, but only
                 * the user's own processes would then get the signal. */
                bool adopted = ppid == 1;
                if ((ppid == compositor || adopted) && pgrp == pid && strncmp(comm, comm_name, 15) == 0 &&
                    strlen(comm) == 15)
                        found = pid;
        }
        closedir(d);
        return found;
}

bool init_is_status_wrapper(const char *argv0)
{
        const char *slash = strrchr(argv0, '/');

        return strcmp(slash ? slash + 1 : argv0, WRAPPER_NAME) == 0;
}

/* Run argv[1...] with the caller's environment, wait for it and record its status as a
 * shell reports it: the exit code, or 128 + the signal. Runs as the app's user. */
/* Read the NUL-separated argv that wrap_in_sway() wrote. Returns NULL on failure. */
static char **read_argv_file(void)
{
        int fd = open(ARGV_PATH, O_RDONLY | O_CLOEXEC);
        char *text = malloc(ARGV_FILE_MAX + 1);
        size_t size = 0, count = 0;
        ssize_t n;

        if (fd < 0 || !text) {
                fprintf(stderr, "%s: opening %s failed: %s\n", WRAPPER_NAME, ARGV_PATH, strerror(errno));
                return NULL;
        }
        while (size < ARGV_FILE_MAX && (n = read(fd, text + size, ARGV_FILE_MAX - size)) > 0)
                size += (size_t) n;
        close(fd);
        if (size == 0 || text[size - 1] != '\0') {
                fprintf(stderr, "%s: %s is empty or not NUL-terminated\n", WRAPPER_NAME, ARGV_PATH);
                return NULL;
        }
        for (size_t i = 0; i < size; i++)
                count += text[i] == '\0';
        char **argv = calloc(count + 2, sizeof(char *));
        if (!argv)
                return NULL;
        argv[0] = (char *) WRAPPER_NAME;
        for (size_t i = 0, k = 1; i < size; i += strlen(text + i) + 1)
                argv[k++] = text + i;
        return argv;
}

/* Ask sway to exit after the app, because sway, unlike cage, outlives its clients. When
 * the IPC request fails, send SIGTERM to every sway process of this user instead. */
static void stop_sway(void)
{
        const char *socket_path = getenv("SWAYSOCK");
        DIR *d;
        struct dirent *e;

        if (socket_path && init_sway_command(socket_path, "exit", false) == 0)
                return;
        fprintf(stderr, "%s: asking sway to exit through %s failed: %s; sending SIGTERM\n", WRAPPER_NAME,
                socket_path ? socket_path : "(SWAYSOCK not set)", strerror(errno));
        if (!(d = opendir("/proc")))
                return;
        while ((e = readdir(d))) {
                char path[64], comm[32];
                struct stat st;
                snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
                if (stat(path, &st) == 0 && st.st_uid == getuid() && init_read_line(path, comm, sizeof(comm)) &&
                    strcmp(comm, "sway") == 0)
                        kill((pid_t) atoi(e->d_name), SIGTERM);
        }
        closedir(d);
}

int init_status_wrapper_main(int argc, char **argv)
{
        int status = VP_STATUS_NOT_FOUND;
        bool sway = argc == 2 && strcmp(argv[1], "--sway") == 0;

        if (sway) {
                argv = read_argv_file();
                if (!argv) {
                        stop_sway();
                        return VP_STATUS_VM_FAILURE;
                }
        } else if (argc < 2) {
                fprintf(stderr, "%s: usage: %s PROGRAM [ARG...] | --sway\n", WRAPPER_NAME, WRAPPER_NAME);
                return 2;
        }

        /* A process group of its own for the wrapper and the app, without the
         * compositor: init stops the app by signalling this group, and the compositor
         * then exits as it does when the app exits by itself. cage 0.1.4 aborts in
         * libwayland's wl_display_terminate when it gets SIGTERM itself.
         * init_display_app_group() finds the group. */
        if (getpgrp() != getpid() && setpgid(0, 0) < 0)
                fprintf(stderr, "%s: setpgid failed: %s\n", WRAPPER_NAME, strerror(errno));

        /* The group gets SIGTERM when the host stops the app: the wrapper stays to
         * record how the app ended. */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);

        pid_t pid = fork();
        if (pid < 0) {
                perror(WRAPPER_NAME ": fork");
                status = VP_STATUS_VM_FAILURE;
        } else if (pid == 0) {
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                execvp(argv[1], argv + 1);
                fprintf(stderr, "%s: %s: %s\n", WRAPPER_NAME, argv[1], strerror(errno));
                _exit(errno == ENOENT ? VP_STATUS_NOT_FOUND : VP_STATUS_NOT_EXECUTABLE);
        } else {
                int wait_status = 0;
                pid_t r;
                while ((r = waitpid(pid, &wait_status, 0)) < 0 && errno == EINTR)
                        ;
                if (r < 0)
                        status = VP_STATUS_VM_FAILURE;
                else if (WIFEXITED(wait_status))
                        status = WEXITSTATUS(wait_status);
                else
                        status = 128 + WTERMSIG(wait_status);
        }

        FILE *f = fopen(STATUS_PATH, "we");
        if (f) {
                fprintf(f, "%d\n", status);
                fclose(f);
        }
        if (sway)
                stop_sway();
        return status;
}

void init_setup_display(init_config *c)
{
        char runtime_dir[64];

        if (init_wait_for_path(CARD_PATH, CARD_WAIT_MS) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_MODULE,
                          "%s did not appear within %d ms (does the VM have a virtio-gpu device, and the "
                          "kernel the virtio_gpu module?)",
                          CARD_PATH, CARD_WAIT_MS);
        give_nodes_to_user("/dev/dri", "card", c->uid);
        give_nodes_to_user("/dev/dri", "renderD", c->uid);
        give_input_to_user(c->uid);
        write_udev_entries();

        /* init_mkdir_p() gives every directory it creates the same mode: create /run/user
         * first, so that the user can reach its own directory below it. */
        snprintf(runtime_dir, sizeof(runtime_dir), "/run/user/%u", (unsigned) c->uid);
        if (init_mkdir_p("/run/user", 0755) < 0 || init_mkdir_p(runtime_dir, 0700) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "creating %s failed: %m", runtime_dir);
        give_to_user(runtime_dir, c->uid);
        if (chmod(runtime_dir, 0700) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "chmod %s failed: %m", runtime_dir);

        install_status_wrapper(c->uid);

        const char *sway = NULL;
        for (size_t i = 0; i < ELEMENTSOF(sway_paths) && !sway; i++)
                if (access(sway_paths[i], X_OK) == 0)
                        sway = sway_paths[i];
        char *clipboard_agent = init_setup_clipboard(c, sway != NULL);
        if (!sway) {
                static const char *const cage_paths[] = { "/usr/local/bin/cage", "/usr/bin/cage", "/bin/cage" };
                bool cage = false;
                for (size_t i = 0; i < ELEMENTSOF(cage_paths) && !cage; i++)
                        cage = access(cage_paths[i], X_OK) == 0;
                if (!cage)
                        init_fail(VP_STATUS_NOT_FOUND, VP_REASON_NOT_FOUND,
                                  "display=wayland needs a compositor, and the image has neither sway nor cage: "
                                  "add sway (and xwayland for X11 apps) to the recipe's Packages");
                wrap_in_cage(c);
                init_debug_log("display ready: running %s under cage", c->argv[3]);
                return;
        }
        char *socket_path = NULL;
        if (asprintf(&socket_path, "%s/sway-ipc.sock", runtime_dir) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        c->compositor_socket = socket_path;
        init_debug_log("display ready: running %s under %s", c->argv[0], sway);
        wrap_in_sway(c, sway, clipboard_agent);
        free(clipboard_agent);
        init_resize_watch(socket_path);
}
