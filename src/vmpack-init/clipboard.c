/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The clipboard of a graphical app granted clipboard=on-request. The host then gives the VM
 * the virtio-serial port com.redhat.spice.0, which carries the SPICE agent protocol to
 * QEMU's qemu-vdagent (a local window or VNC) or to a SPICE client. The guest side is
 * Debian's spice-vdagent package, which has two parts. The daemon spice-vdagentd runs as
 * root and owns the port. The session agent spice-vdagent runs as the user in the
 * graphical session and copies the X11 clipboard (Xwayland's) to and from the daemon.
 *
 * Both normally rely on what the guest lacks. udev creates /dev/virtio-ports/NAME, systemd
 * starts the daemon, logind gives it the active session, and the desktop's autostart
 * starts the session agent. Here init creates the link, starts the daemon
 * with the options below, and the sway configuration starts the session agent.
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
#include <sys/stat.h>
#include <unistd.h>

#define SPICE_PORT_NAME "com.redhat.spice.0"
#define PORT_LINK_DIR "/dev/virtio-ports"
/* The session agent exits at start when this path is missing, and the daemon opens it. */
#define PORT_LINK PORT_LINK_DIR "/" SPICE_PORT_NAME
#define DAEMON_PATH "/usr/sbin/spice-vdagentd"
#define AGENT_PATH "/usr/bin/spice-vdagent"
/* The daemon creates its socket here but not the directory. */
#define DAEMON_RUN_DIR "/run/spice-vdagentd"
#define DAEMON_LOG_PATH "/run/vmpack/spice-vdagentd.log"

/* The port's device name ("vport0p5") from /sys/class/virtio-ports/NAME/name, because the
 * guest has no udev to create the link. Returns 0, or -1 when no port has that name. */
static int find_spice_port(char *ret_device, size_t size)
{
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *e;
        int r = -1;

        if (!d)
                return -1;
        while (r < 0 && (e = readdir(d))) {
                char path[INIT_PATH_MAX], name[256];
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                bool ok = fgets(name, sizeof(name), f) != NULL;
                fclose(f);
                if (!ok)
                        continue;
                name[strcspn(name, "\n")] = '\0';
                if (strcmp(name, SPICE_PORT_NAME) == 0 && strlen(e->d_name) < size) {
                        snprintf(ret_device, size, "%s", e->d_name);
                        r = 0;
                }
        }
        closedir(d);
        return r;
}

/*
 * Start spice-vdagentd as root, in the foreground of its own session (init reaps it):
 * -x  do not daemonize, so its messages go to stderr as well as syslog, which the guest
 *     lacks;
 * -X  no session information from logind or ConsoleKit. The daemon then accepts a single
 *     session agent, which is the app's;
 * -f -u /dev/null  a write-only "fake" uinput device. The daemon opens its uinput tablet
 *     before it opens the port, and exits when that fails. The guest has no uinput module,
 *     and needs none: the host's qemu-vdagent runs with mouse=off, so no pointer events
 *     come through the agent, and the pointer stays on the virtio tablet.
 * With debug=1 it also gets -d and writes to the console, else to DAEMON_LOG_PATH.
 * NOTE: init reaps the daemon but does not restart it, so after it exits the app runs
 * without a clipboard.
 */
static int start_daemon(void)
{
        pid_t pid = fork();

        if (pid < 0)
                return -1;
        if (pid > 0) {
                init_debug_log("clipboard: %s started as pid %d", DAEMON_PATH, (int) pid);
                return 0;
        }

        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        setsid();
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out = init_debug ? open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC)
                             : open(DAEMON_LOG_PATH, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                _exit(125);
        if (init_debug)
                execl(DAEMON_PATH, DAEMON_PATH, "-x", "-X", "-f", "-u", "/dev/null", "-d", (char *) NULL);
        else
                execl(DAEMON_PATH, DAEMON_PATH, "-x", "-X", "-f", "-u", "/dev/null", (char *) NULL);
        fprintf(stderr, "vmpack-init: starting %s failed: %s\n", DAEMON_PATH, strerror(errno));
        _exit(127);
}

char *init_setup_clipboard(const init_config *c, bool under_sway)
{
        char device[64], target[128];

        /* The host adds the port only with the grant, so without it nothing starts. */
        if (find_spice_port(device, sizeof(device)) < 0) {
                init_debug_log("clipboard: no %s port, so no clipboard agent", SPICE_PORT_NAME);
                return NULL;
        }
        if (access(DAEMON_PATH, X_OK) < 0 || access(AGENT_PATH, X_OK) < 0) {
                init_log("clipboard: granted, but the image has no %s or %s; add spice-vdagent to Packages in "
                         "the recipe to use the clipboard",
                         DAEMON_PATH, AGENT_PATH);
                return NULL;
        }
        if (!under_sway) {
                init_log("clipboard: granted, but only sway can start the session agent spice-vdagent and the "
                         "image has cage; add sway to Packages in the recipe to use the clipboard");
                return NULL;
        }

        snprintf(target, sizeof(target), "../%s", device);
        if (init_mkdir_p(PORT_LINK_DIR, 0755) < 0 || (symlink(target, PORT_LINK) < 0 && errno != EEXIST)) {
                init_log("clipboard: creating %s -> %s failed: %m; the app runs without a clipboard", PORT_LINK,
                         target);
                return NULL;
        }
        if (init_mkdir_p(DAEMON_RUN_DIR, 0755) < 0) {
                init_log("clipboard: creating %s failed: %m; the app runs without a clipboard", DAEMON_RUN_DIR);
                return NULL;
        }
        if (start_daemon() < 0) {
                init_log("clipboard: fork for %s failed: %m; the app runs without a clipboard", DAEMON_PATH);
                return NULL;
        }

        /* sway runs the line through "sh -c" as the user, with DISPLAY set to its Xwayland
         * server, which the agent's X11 connection starts. The agent's log goes to a file
         * rather than to sway's stderr, which is the app's. */
        char *command = NULL;
        if (asprintf(&command, "exec %s -x%s >>/run/user/%u/spice-vdagent.log 2>&1", AGENT_PATH,
                     init_debug ? " -d" : "", (unsigned) c->uid) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_INTERNAL, "out of memory");
        init_debug_log("clipboard: %s -> %s, session agent: %s", PORT_LINK, target, command);
        return command;
}
