#!/bin/bash
# Resizing the window should change the guest's resolution. Checked without a screen:
# QEMU's VNC server takes the place of a resizable window. A wrapper named qemu-system-x86_64,
# first in PATH for this script only, adds `-vnc unix:SOCKET` to the command line that
# vmpack run builds (normal runs have no VNC server). vnc-resize.py sends the RFB
# SetDesktopSize message that a VNC client sends when its window is resized; QEMU 7.2 passes
# the size to virtio-gpu as the guest's new preferred mode. Then QMP screendumps show
# whether the guest's framebuffer took the new size with the app still filling it.
#
# NOTE: with the compositor of Debian 12 images the guest does not follow, so that last
# check ends in a skip that says why: cage 0.1.4 sets an output's preferred mode only when
# the output appears and has no output-management protocol, wlroots 0.15 reads a
# connector's modes only when it changes from disconnected to connected, and the guest has
# no udev daemon to pass the kernel's hotplug event on to libudev monitors. See the
# display section of docs/guest.md.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs

new_width=1024
new_height=700

# The same recipe as test-gui-screendump.sh, so the image is built once for both.
recipe="$TEST_TMP/guitest"
mkdir -p "$recipe"
cat >"$recipe/guitest.vmpack" <<'RECIPE'
[App]
Name=Screendump test terminal
Exec=foot --override=colors.background=ff0000 sleep 3600
Packages=cage;xwayland;foot;fonts-dejavu-core

[Resources]
Memory=512M

[Permissions]
display=wayland
RECIPE

say "build the guitest image (cached by recipe digest)"
"$VMPACK" build --force "$recipe" >"$TEST_TMP/build.log" 2>&1 || fail "vmpack build failed: $(tail -5 "$TEST_TMP/build.log")"
pass "image built"

vnc="$TEST_TMP/vnc.sock"
qmp="$TEST_TMP/qmp.sock"
real_qemu="$(command -v qemu-system-x86_64)"
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/qemu-system-x86_64" <<WRAPPER
#!/bin/sh
exec "$real_qemu" "\$@" -vnc "unix:$vnc"
WRAPPER
chmod +x "$TEST_TMP/bin/qemu-system-x86_64"

say "boot the app with a VNC server on $vnc (test only)"
PATH="$TEST_TMP/bin:$PATH" "$VMPACK" run -v --display none --qmp "$qmp" guitest >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
vmpack_pid=$!
stop_vm() {
        kill "$vmpack_pid" 2>/dev/null || true
        wait "$vmpack_pid" 2>/dev/null || true
}
trap 'stop_vm; _vp_test_cleanup' EXIT

screendump() {
        python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-screendump.py" "$qmp" "$@"
}

shot="$VMPACK_BUILD_ROOT/gui-resize-before.png"
screendump "$shot" ff0000 300 >"$TEST_TMP/before.txt" ||
        fail "the app did not fill the screen before the resize: $(cat "$TEST_TMP/before.txt"); $(tail -5 "$TEST_TMP/err")"
size_before="$(sed -n 's/^screendump [^ ]*: \([0-9]*x[0-9]*\),.*/\1/p' "$TEST_TMP/before.txt")"
[ -S "$vnc" ] || fail "QEMU has no VNC socket at $vnc"
pass "the app fills the screen at $size_before"

say "SetDesktopSize ${new_width}x$new_height through the VNC server"
python3 "$VMPACK_SOURCE_ROOT/tests/integration/vnc-resize.py" "$vnc" "$new_width" "$new_height" 30 ||
        fail "QEMU did not forward the new size to the display"
pass "QEMU forwarded the size to virtio-gpu"

say "wait up to 30 s for the guest's framebuffer to take the new size"
shot="$VMPACK_BUILD_ROOT/gui-resize-after.png"
size_after="$size_before"
for _ in $(seq 6); do
        sleep 5
        # A short timeout: this only samples the screen, it does not wait for the colour.
        screendump "$shot" ff0000 1 >"$TEST_TMP/after.txt" 2>&1 || true
        size_after="$(sed -n 's/^screendump [^ ]*: \([0-9]*x[0-9]*\),.*/\1/p' "$TEST_TMP/after.txt")"
        [ "$size_after" = "${new_width}x$new_height" ] && break
done

if [ "$size_after" != "${new_width}x$new_height" ]; then
        # The display-change event must at least leave the app running and drawn.
        screendump "$shot" ff0000 30 >"$TEST_TMP/after.txt" ||
                fail "after the resize request the app no longer fills the screen: $(cat "$TEST_TMP/after.txt")"
        pass "the app still fills the ${size_after:-unknown} screen after the resize request"
        skip "the guest kept its ${size_after:-unknown} framebuffer: cage 0.1.4 and wlroots 0.15" \
                "(Debian 12) do not take a new preferred mode of a connected output (see docs/guest.md)"
fi
screendump "$shot" ff0000 60 >"$TEST_TMP/after.txt" ||
        fail "the framebuffer is ${size_after} but the app does not fill it: $(cat "$TEST_TMP/after.txt")"
pass "the guest's framebuffer is now $size_after and the app fills it: $shot"
