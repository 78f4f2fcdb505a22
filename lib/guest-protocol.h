/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The contract between the host (vmpack, vmpackd) and vmpack-init, the guest's PID 1.
 * Header only: vmpack-init is a static binary that links nothing but libc.
 *
 * Configuration travels through QEMU's fw_cfg as one text file,
 * VP_FW_CFG_CONFIG, readable in the guest at
 * /sys/firmware/qemu_fw_cfg/by_name/<name>/raw once the qemu_fw_cfg module is loaded.
 * It is a sequence of "key=value" lines. A value may contain any byte except NUL; a
 * backslash is written "\\" and a newline "\n". Keys that repeat form an ordered list.
 *
 *   version=1                  format version, VP_GUEST_CONFIG_VERSION
 *   hostname=NAME
 *   root=/dev/vda              block device with the squashfs root
 *   data=/dev/vdb              optional ext4 volume mounted at the user's home
 *   uid=1000                   user the app runs as (gid is the same number)
 *   user=user                  that user's name, created in /etc/passwd if missing
 *   home=/home/user
 *   cwd=/home/user             working directory of the app
 *   arg=...                    argv of the app, in order; the first is the program
 *   env=NAME=VALUE             added to the app's environment (PATH, HOME, LANG, TERM set by init)
 *   share=TAG:MODE:GUEST_PATH  9p share with mount tag TAG, MODE "ro" or "rw", mounted at GUEST_PATH;
 *                              the path is the rest of the line, so it may contain ':' and
 *                              (escaped) newlines; init creates its missing directories
 *   net=ADDRESS/PREFIX,GATEWAY,DNS   static configuration of eth0; no key means no network
 *   display=wayland            a graphical app: load the GPU and input modules, give
 *                              /dev/dri and /dev/input to the user, and run the app under
 *                              a kiosk compositor (sway, else cage); the exit status
 *                              reported is the app's, not the compositor's
 *   gpu=virgl                  virtio-gpu runs 3D commands on the host's GPU: the
 *                              compositor renders with OpenGL ES instead of pixman;
 *                              "none" or no key means software rendering
 *   audio=1                    the VM has QEMU's intel-hda sound card: load the sound
 *                              modules and give /dev/snd to the user; "0" or no key means
 *                              no sound modules are loaded
 *   debug=1                    print each step to the VM log
 *
 * Ports (virtio-serial, found through /sys/class/virtio-ports/STAR/name because the guest has
 * no udev): the app's stdin, stdout and stderr each get a port so the host can close stdin
 * alone and keep stdout and stderr apart. The agent port carries one JSON object per line.
 *
 * The app's stdout and stderr are pipes that init copies to their ports, counting bytes, so
 * the host can tell when it has received everything: the ports are separate queues and an
 * exit message may overtake the last output.
 *
 * Guest to host on the agent port:
 *   {"event":"ready"}                          the app's execve succeeded
 *   {"event":"exit","status":N,"stdout_bytes":A,"stderr_bytes":B}
 *                                              app exited; N as for a shell ($?), A and B
 *                                              the bytes init wrote to the output ports
 *   {"event":"error","status":N,"reason":"R","message":"M"}
 *                                              init failed before or while starting the app
 * Host to guest on the agent port:
 *   {"request":"terminate"}                    send SIGTERM to the app (SIGKILL 10 s later)
 *   {"request":"poweroff"}                     the host has read all output: power off now
 *
 * After its final message init waits up to VP_POWEROFF_ACK_TIMEOUT_S for "poweroff", then
 * syncs and powers the VM off whether or not the host replied.
 */
#pragma once

#define VP_FW_CFG_CONFIG "opt/io.bheem/config"
#define VP_GUEST_CONFIG_VERSION 1
#define VP_GUEST_CONFIG_MAX (1024 * 1024)

#define VP_PORT_AGENT "io.bheem.agent"
#define VP_PORT_STDIN "io.bheem.stdin"
#define VP_PORT_STDOUT "io.bheem.stdout"
#define VP_PORT_STDERR "io.bheem.stderr"

#define VP_POWEROFF_ACK_TIMEOUT_S 10
#define VP_TERMINATE_GRACE_S 10

/* Maximum length of one agent message line, newline included. */
#define VP_AGENT_LINE_MAX 4096

/* Exit statuses reported for failures, following the shell's conventions. */
#define VP_STATUS_TIMEOUT 124       /* host: --timeout expired */
#define VP_STATUS_VM_FAILURE 125    /* host or init: the VM or the guest's setup failed */
#define VP_STATUS_NOT_EXECUTABLE 126 /* init: the app exists but cannot be executed */
#define VP_STATUS_NOT_FOUND 127     /* init: the app is not in the image */

/* Reasons in {"event":"error"} messages. */
#define VP_REASON_CONFIG "config"            /* fw_cfg configuration missing or invalid */
#define VP_REASON_MODULE "module"            /* a kernel module failed to load */
#define VP_REASON_ROOT "root"                /* the root image could not be mounted */
#define VP_REASON_SHARE "share"              /* a 9p share could not be mounted */
#define VP_REASON_DATA "data"                /* the data volume could not be mounted */
#define VP_REASON_NETWORK "network"          /* eth0 could not be configured */
#define VP_REASON_USER "user"                /* the app user could not be set up */
#define VP_REASON_NOT_FOUND "app-not-found"  /* execve: ENOENT */
#define VP_REASON_NOT_EXECUTABLE "app-not-executable"
#define VP_REASON_INTERNAL "internal"
