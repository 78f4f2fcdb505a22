/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sound for an app granted audio=playback: the host adds QEMU's intel-hda controller with
 * an hda-output (or hda-duplex) codec, init has loaded snd_hda_intel and the generic codec
 * driver, and here it hands the ALSA device nodes to the app's user, as udev would give
 * them to the audio group on a desktop.
 */
#include "init.h"

#include "guest-protocol.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SND_DIR "/dev/snd"
/* The controller probes its codecs from a work queue after the module has loaded, and the
 * PCM nodes appear only then. */
#define PCM_PATH SND_DIR "/pcmC0D0p"
#define PCM_WAIT_MS 5000

void init_setup_audio(const init_config *c)
{
        DIR *d;
        struct dirent *e;

        /* Sound is optional: an app without a sound card still runs, as on a machine
         * without one, so a missing card is logged rather than fatal. */
        if (init_wait_for_path(PCM_PATH, PCM_WAIT_MS) < 0) {
                init_log("audio: %s did not appear within %d ms (does the kernel have the snd_hda_intel "
                         "module?); the app runs without a sound card",
                         PCM_PATH, PCM_WAIT_MS);
                return;
        }

        d = opendir(SND_DIR);
        if (!d) {
                init_log("audio: cannot open %s: %m; the app runs without a sound card", SND_DIR);
                return;
        }
        while ((e = readdir(d))) {
                char path[INIT_PATH_MAX];
                struct stat st;

                snprintf(path, sizeof(path), "%s/%s", SND_DIR, e->d_name);
                if (lstat(path, &st) < 0 || !S_ISCHR(st.st_mode))
                        continue;
                if (chown(path, c->uid, c->uid) < 0 || chmod(path, 0660) < 0)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_USER, "giving %s to uid %u failed: %m", path,
                                  (unsigned) c->uid);
                init_debug_log("%s given to uid %u", path, (unsigned) c->uid);
        }
        closedir(d);
}
