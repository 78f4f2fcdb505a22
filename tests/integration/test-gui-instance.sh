#!/bin/bash
# An instance of a display=wayland image, started through vmpackd, gets q35, no window
# (the daemon has no DISPLAY here), the window title "[WORKSPACE] INSTANCE", and shows
# its app: a screendump through the run's QMP socket is red. Builds the same foot
# terminal image as test-gui-screendump.sh, which is cached by recipe digest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"
. "$(dirname "$0")/gui-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs Xvfb
unset DISPLAY WAYLAND_DISPLAY

build_gui_image guitest

# Workspace work allows the display and 512 MiB; without policy files only "default" exists.
mkdir -p "$VMPACK_CONFIG_DIR/policy.d"
cat >"$VMPACK_CONFIG_DIR/policy.d/10-test.conf" <<'POLICY'
[Limits]
display=wayland
audio=playback
memory=1G

[Workspace work]
Images=guitest
display=wayland
memory=512M
POLICY

# Print the command line of the instance's QEMU, titled "[work] NAME", waiting up to 20 s.
qemu_args_of() {
        local pid
        for _ in $(seq 100); do
                pid="$(pgrep -f "qemu-system-x86_64 .*guest=\[work\] $1" | head -1 || true)"
                if [ -n "$pid" ]; then
                        tr '\0' ' ' <"/proc/$pid/cmdline"
                        return 0
                fi
                sleep 0.2
        done
}

name="$(instance gui)"
say "install $name in workspace work and start it"
"$VMPACK" install --workspace work --no-desktop guitest "$name" >/dev/null || fail "vmpack install failed"
"$VMPACK" start "$name" >/dev/null || fail "vmpack start failed"

qemu_args="$(qemu_args_of "$name")"
[ -n "$qemu_args" ] || fail "no QEMU process titled '[work] $name'"
for word in "-machine q35" "-device virtio-gpu-pci" "-display none" "-name guest=[work] $name"; do
        [[ "$qemu_args" == *"$word"* ]] || fail "QEMU command line lacks '$word': $qemu_args"
done
pass "QEMU runs with q35, virtio-gpu, no window and the title '[work] $name'"
for word in "intel-hda" "audiodev" "com.redhat.spice.0" "virtio-net"; do
        [[ "$qemu_args" != *"$word"* ]] || fail "QEMU command line has '$word' without its permission: $qemu_args"
done
pass "no sound device, clipboard channel or NIC without their permissions"

qmp="$(find "$VMPACK_RUNTIME_DIR" -name qmp.sock -type s | head -1)"
[ -n "$qmp" ] || fail "no qmp.sock under $VMPACK_RUNTIME_DIR"
python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-screendump.py" "$qmp" "$TEST_TMP/instance.png" ff0000 300 ||
        fail "the instance's screen did not show the app"
pass "the instance's screen shows the app"

"$VMPACK" stop "$name" >/dev/null || fail "vmpack stop failed"
pass "instance stopped"

say "a start from a graphical session opens a window there, though vmpackd has no DISPLAY"
mkfifo "$TEST_TMP/display.fifo"
exec {display_fd}<>"$TEST_TMP/display.fifo"
Xvfb -displayfd "$display_fd" -screen 0 1280x1024x24 -nolisten tcp >"$TEST_TMP/xvfb.log" 2>&1 &
xvfb_pid=$!
# Stop Xvfb too, and keep the script's exit status for _instance_test_cleanup.
cleanup_with_xvfb() {
        local status=$?
        kill "$xvfb_pid" 2>/dev/null
        (exit "$status")
        _instance_test_cleanup
}
trap cleanup_with_xvfb EXIT
read -r -t 30 -u "$display_fd" display_number || fail "Xvfb did not start: $(tail -3 "$TEST_TMP/xvfb.log")"
DISPLAY=":$display_number" "$VMPACK" start "$name" >/dev/null || fail "vmpack start with DISPLAY failed"
qemu_args="$(qemu_args_of "$name")"
[[ "$qemu_args" == *"-display gtk"* ]] || fail "QEMU has no GTK window for a start from :$display_number: $qemu_args"
pass "QEMU opens its window on the caller's display :$display_number"
"$VMPACK" stop "$name" >/dev/null || fail "vmpack stop failed"
pass "instance stopped"
