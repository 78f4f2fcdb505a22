#!/bin/bash
# A graphical app granted audio=playback finds QEMU's intel-hda sound card: inside the guest
# /proc/asound/cards lists it and the app's user can open the playback node
# /dev/snd/pcmC0D0p for writing. The same terminal image without the grant has no sound
# modules loaded, so the guest has no /proc/asound at all. With microphone=on as well
# (QEMU's hda-duplex codec), the user can also open the capture node /dev/snd/pcmC0D0c. The image without the grant is
# the guitest recipe of test-gui-screendump.sh, so the build is shared through the cache.
# Without a PulseAudio server vmpack uses QEMU's "none" audiodev, which the guest cannot
# tell apart from a real one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/gui-lib.sh"

require_cmd qemu-system-x86_64 mmdebstrap tar2sqfs
unset DISPLAY WAYLAND_DISPLAY

build_gui_image guitest
build_gui_image guiaudio "audio=playback"
build_gui_image guimic "audio=playback" "microphone=on"

# The checks run as the app's user under sway. Each prints one line.
# shellcheck disable=SC2016 # expanded by the guest's shell, not here
probe='echo "uid=$(id -u)"
if [ -r /proc/asound/cards ]; then echo "cards=$(grep -c "^ *[0-9]" /proc/asound/cards)"; else echo "cards=none"; fi
grep -q "HDA-Intel" /proc/asound/cards 2>/dev/null && echo "hda=yes" || echo "hda=no"
test -w /dev/snd/pcmC0D0p && echo "pcm-writable=yes" || echo "pcm-writable=no"
if (exec 3>/dev/snd/pcmC0D0p) 2>/dev/null; then echo "pcm-open=yes"; else echo "pcm-open=no"; fi
if (exec 3</dev/snd/pcmC0D0c) 2>/dev/null; then echo "capture-open=yes"; else echo "capture-open=no"; fi'

say "with audio=playback: the app finds the sound card (up to 600 s under TCG)"
set +e
vmrun -v --display none --timeout 600 --entrypoint sh guiaudio -c "$probe" \
        >"$TEST_TMP/audio.out" 2>"$TEST_TMP/audio.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/audio.err" >&2
        fail "vmpack run guiaudio: exit status $status"
fi
grep -q "intel-hda" "$TEST_TMP/audio.err" || fail "QEMU command line has no intel-hda: $(grep "QEMU command line" "$TEST_TMP/audio.err")"
pass "QEMU has the intel-hda device"
out="$(cat "$TEST_TMP/audio.out")"
say "guest reported: $(tr '\n' ' ' <<<"$out")"
grep -qx "uid=1000" <<<"$out" || fail "the probe did not run as uid 1000: $out"
grep -qx "cards=1" <<<"$out" || fail "/proc/asound/cards does not list one card: $out"
grep -qx "hda=yes" <<<"$out" || fail "/proc/asound/cards has no HDA-Intel card: $out"
pass "/proc/asound/cards lists the HDA-Intel card"
grep -qx "pcm-writable=yes" <<<"$out" || fail "/dev/snd/pcmC0D0p is not writable by the app's user: $out"
grep -qx "pcm-open=yes" <<<"$out" || fail "the app's user cannot open /dev/snd/pcmC0D0p: $out"
pass "the app's user opens /dev/snd/pcmC0D0p for writing"
grep -qx "capture-open=no" <<<"$out" || fail "a capture node exists without microphone=on: $out"
pass "no capture node without microphone=on"

say "with microphone=on as well: the app opens the capture node (up to 600 s under TCG)"
set +e
vmrun -v --display none --timeout 600 --entrypoint sh guimic -c "$probe" \
        >"$TEST_TMP/mic.out" 2>"$TEST_TMP/mic.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/mic.err" >&2
        fail "vmpack run guimic: exit status $status"
fi
grep -q "hda-duplex" "$TEST_TMP/mic.err" || fail "QEMU command line has no hda-duplex: $(grep "QEMU command line" "$TEST_TMP/mic.err")"
out="$(cat "$TEST_TMP/mic.out")"
say "guest reported: $(tr '\n' ' ' <<<"$out")"
grep -qx "pcm-open=yes" <<<"$out" || fail "the app's user cannot open /dev/snd/pcmC0D0p with microphone=on: $out"
grep -qx "capture-open=yes" <<<"$out" || fail "the app's user cannot open /dev/snd/pcmC0D0c: $out"
pass "the app's user opens /dev/snd/pcmC0D0p and /dev/snd/pcmC0D0c"

say "without audio=playback: no sound device and no sound modules (up to 600 s under TCG)"
set +e
vmrun -v --display none --timeout 600 --entrypoint sh guitest -c "$probe" \
        >"$TEST_TMP/plain.out" 2>"$TEST_TMP/plain.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/plain.err" >&2
        fail "vmpack run guitest: exit status $status"
fi
cmdline="$(grep "QEMU command line" "$TEST_TMP/plain.err" || true)"
[[ "$cmdline" != *intel-hda* ]] || fail "QEMU command line has intel-hda without the grant: $cmdline"
out="$(cat "$TEST_TMP/plain.out")"
say "guest reported: $(tr '\n' ' ' <<<"$out")"
grep -qx "cards=none" <<<"$out" || fail "the guest has /proc/asound without the grant: $out"
pass "no /proc/asound without the grant"
grep -qx "pcm-writable=no" <<<"$out" || fail "/dev/snd/pcmC0D0p exists without the grant: $out"
pass "no /dev/snd/pcmC0D0p without the grant"
