#!/bin/bash
# Resizing the window changes the guest's resolution. Checked without a screen: QEMU's VNC
# server takes the place of a resizable window. A wrapper named qemu-system-x86_64, first
# in PATH for this script only, adds `-vnc unix:SOCKET` to the command line that vmpack run
# builds (normal runs have no VNC server). vnc-resize.py sends the RFB SetDesktopSize
# message that a VNC client sends when its window is resized; QEMU 7.2 passes the size to
# virtio-gpu as the guest's new preferred mode. QMP screendumps then show that the guest's
# framebuffer took the new size, smaller and then larger, with the app filling it.
# Then the same with real QEMU GTK and SDL windows on an Xvfb server, resized with
# xdotool. Their widths are not multiples of 8, which the guest rounds down to.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/gui-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs Xvfb xdotool

new_width=1024
new_height=700

# The same image as test-gui-screendump.sh, built once for both.
say "build the guitest image (cached by recipe digest)"
build_gui_image guitest

vnc="$TEST_TMP/vnc.sock"
qmp="$TEST_TMP/qmp.sock"
add_vnc_server "$vnc"

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
size_before="$(screen_size "$TEST_TMP/before.txt")"
[ -S "$vnc" ] || fail "QEMU has no VNC socket at $vnc"
pass "the app fills the screen at $size_before"

# Resize to WIDTH HEIGHT and wait up to 30 s for the framebuffer to follow.
resize_to() {
        local width="$1" height="$2" shot="$VMPACK_BUILD_ROOT/gui-resize-$1x$2.png" size=""
        say "SetDesktopSize ${width}x$height through the VNC server"
        python3 "$VMPACK_SOURCE_ROOT/tests/integration/vnc-resize.py" "$vnc" "$width" "$height" 30 ||
                fail "QEMU did not forward ${width}x$height to the display"
        pass "QEMU forwarded ${width}x$height to virtio-gpu"
        for _ in $(seq 30); do
                # A short timeout: this only samples the screen, it does not wait for the colour.
                screendump "$shot" ff0000 1 >"$TEST_TMP/after.txt" 2>&1 || true
                size="$(screen_size "$TEST_TMP/after.txt")"
                [ "$size" = "${width}x$height" ] && break
                sleep 1
        done
        [ "$size" = "${width}x$height" ] ||
                fail "the guest kept its ${size:-unknown} framebuffer 30 s after the ${width}x$height request: $(grep vmpack-init "$TEST_TMP/err" | tail -5)"
        screendump "$shot" ff0000 60 >"$TEST_TMP/after.txt" ||
                fail "the framebuffer is $size but the app does not fill it: $(cat "$TEST_TMP/after.txt")"
        pass "the guest's framebuffer is now $size and the app fills it: $shot"
}

resize_to "$new_width" "$new_height"
resize_to 1600 1000
stop_vm
trap _vp_test_cleanup EXIT

say "a QEMU GTK window on a private Xvfb server"
# Xvfb writes the display number it chose to the FIFO, opened read-write so as not to block.
mkfifo "$TEST_TMP/display.fifo"
exec {display_fd}<>"$TEST_TMP/display.fifo"
Xvfb -displayfd "$display_fd" -screen 0 1920x1200x24 -nolisten tcp >"$TEST_TMP/xvfb.log" 2>&1 &
xvfb_pid=$!
read -r -t 30 -u "$display_fd" display_number || fail "Xvfb did not start: $(tail -3 "$TEST_TMP/xvfb.log")"
export DISPLAY=":$display_number"
# No session bus, as in an ssh -X session: GTK and SDL must not make QEMU start
# dbus-launch, which its seccomp filter forbids.
unset DBUS_SESSION_BUS_ADDRESS
rm -f "$qmp"
"$VMPACK" run -v --display gtk --qmp "$qmp" guitest >"$TEST_TMP/out-gtk" 2>"$TEST_TMP/err" &
vmpack_pid=$!
trap 'stop_vm; kill "$xvfb_pid" 2>/dev/null || true; _vp_test_cleanup' EXIT
screendump "$VMPACK_BUILD_ROOT/gui-resize-window.png" ff0000 300 >"$TEST_TMP/before.txt" ||
        fail "the app did not fill the screen in the GTK window: $(cat "$TEST_TMP/before.txt"); $(tail -5 "$TEST_TMP/err")"
window="$(xdotool search --name guitest | head -1)"
[ -n "$window" ] || fail "no X window named guitest on $DISPLAY"
pass "the app fills the GTK window's screen at $(screen_size "$TEST_TMP/before.txt")"

# Resize the window to WIDTH HEIGHT with xdotool. The screen must become WIDTH rounded down
# to a multiple of 8 wide, and as high as the window less QEMU's menu bar, if any.
resize_window_to() {
        local width="$1" height="$2" want_width=$(($1 / 8 * 8)) size="" screen_height=0
        say "resize the window to ${width}x$height"
        xdotool windowsize "$window" "$width" "$height"
        for _ in $(seq 30); do
                screendump "$VMPACK_BUILD_ROOT/gui-resize-window.png" ff0000 1 >"$TEST_TMP/after.txt" 2>&1 || true
                size="$(screen_size "$TEST_TMP/after.txt")"
                screen_height="${size#*x}"
                [ "${size%x*}" = "$want_width" ] && [ "${screen_height:-0}" -le "$height" ] &&
                        [ "${screen_height:-0}" -ge $((height - 60)) ] && break
                sleep 1
        done
        [ "${size%x*}" = "$want_width" ] && [ "${screen_height:-0}" -le "$height" ] &&
                [ "${screen_height:-0}" -ge $((height - 60)) ] ||
                fail "the guest's screen is ${size:-unknown} 30 s after the window became ${width}x$height: $(grep -a vmpack-init "$TEST_TMP/err" | tail -5)"
        screendump "$VMPACK_BUILD_ROOT/gui-resize-window.png" ff0000 60 >"$TEST_TMP/after.txt" ||
                fail "the screen is $size but the app does not fill it: $(cat "$TEST_TMP/after.txt")"
        pass "window ${width}x$height: the guest's screen is $size and the app fills it"
}

resize_window_to 900 650
resize_window_to 1201 777
stop_vm

say "a QEMU SDL window on the same Xvfb server"
rm -f "$qmp"
"$VMPACK" run -v --display sdl --qmp "$qmp" guitest >"$TEST_TMP/out-sdl" 2>"$TEST_TMP/err" &
vmpack_pid=$!
screendump "$VMPACK_BUILD_ROOT/gui-resize-window.png" ff0000 300 >"$TEST_TMP/before.txt" ||
        fail "the app did not fill the screen in the SDL window: $(cat "$TEST_TMP/before.txt"); $(tail -5 "$TEST_TMP/err")"
window="$(xdotool search --name guitest | head -1)"
[ -n "$window" ] || fail "no X window named guitest on $DISPLAY"
pass "the app fills the SDL window's screen at $(screen_size "$TEST_TMP/before.txt")"
resize_window_to 1003 701
