#!/bin/bash
# The clipboard of a graphical app granted clipboard=on-request works both ways, UTF-8
# included. Checked without a screen: QEMU's VNC server takes the place of the window. A wrapper
# named qemu-system-x86_64, first in PATH for this script only, adds `-vnc unix:SOCKET` to
# the command line that vmpack run builds, and QEMU's VNC server and its qemu-vdagent
# (the SPICE agent protocol on the port com.redhat.spice.0) share QEMU's clipboard.
# vnc-clipboard.py sends text as a VNC client does, plain and extended, and reads back
# what the guest copies. In the guest, spice-vdagentd and the session agent spice-vdagent
# connect that port to Xwayland's clipboard, which the app reads and sets with xclip.
#
# An image with the same packages but without the grant has no agent port and runs no
# spice-vdagentd, and an image with the grant but without the spice-vdagent package logs
# how to add it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/gui-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs
unset DISPLAY WAYLAND_DISPLAY

agent_packages="sway;xwayland;foot;fonts-dejavu-core;spice-vdagent;xclip"
build_test_image guiclip "Clipboard test terminal" "foot sleep 3600" "$agent_packages" "clipboard=on-request"
build_test_image guiclipnone "Clipboard test terminal" "foot sleep 3600" "$agent_packages"
build_test_image guiclipnopkg "Clipboard test terminal" "foot sleep 3600" "sway;xwayland;foot;fonts-dejavu-core;xclip" \
        "clipboard=on-request"

legacy_text="plain ClientCutText: Grüße, naïve café"
extended_text="extended clipboard: 日本語テキスト ✓ Ελληνικά"
guest_text="copied in the guest: Привет, мир ✓"

# The app, as the user under sway: print the X clipboard each time it changes, until it
# has the extended text, then copy guest_text. xclip stays in the background to serve the
# selection. A failed read (no owner yet) prints nothing. Then count for 20 s the bytes
# that the virtio tablet's event node (the one with absolute axes) delivers, and stay
# until the VM is stopped.
# shellcheck disable=SC2016 # expanded by the guest's shell, not here
app='last=""
echo "display=$DISPLAY"
while :; do
        text="$(xclip -o -selection clipboard 2>/dev/null)" || text=""
        if [ -n "$text" ] && [ "$text" != "$last" ]; then
                echo "clipboard: $text"
                last="$text"
        fi
        [ "$text" = "$2" ] && break
        sleep 0.5
done
printf "%s" "$3" | xclip -selection clipboard -i
echo "copied"
for e in /sys/class/input/event*; do
        abs="$(cat "$e/device/capabilities/abs" 2>/dev/null)"
        [ -n "$abs" ] && [ "$abs" != 0 ] && tablet="/dev/input/${e##*/}"
done
echo "tablet=$tablet"
timeout 20 cat "$tablet" >/tmp/tablet-events
echo "tablet-bytes=$(wc -c </tmp/tablet-events)"
sleep 3600'

vnc="$TEST_TMP/vnc.sock"
qmp="$TEST_TMP/qmp.sock"
add_vnc_server "$vnc"

say "boot guiclip with a VNC server on $vnc (test only)"
PATH="$TEST_TMP/bin:$PATH" "$VMPACK" run -v --display none --qmp "$qmp" --timeout 900 --entrypoint sh guiclip \
        -c "$app" sh "$legacy_text" "$extended_text" "$guest_text" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
vmpack_pid=$!
stop_vm() {
        kill "$vmpack_pid" 2>/dev/null || true
        wait "$vmpack_pid" 2>/dev/null || true
}
trap 'stop_vm; _vp_test_cleanup' EXIT

say "exchange text through the VNC server (up to 300 s a step under TCG)"
if ! python3 "$VMPACK_SOURCE_ROOT/tests/integration/vnc-clipboard.py" "$vnc" 300 "$TEST_TMP/out" \
        "$legacy_text" "$extended_text" "$guest_text" >"$TEST_TMP/vnc.out" 2>&1; then
        cat "$TEST_TMP/vnc.out" >&2
        echo "app output:" >&2
        cat "$TEST_TMP/out" >&2
        grep "vmpack-init" "$TEST_TMP/err" | tail -20 >&2
        fail "the clipboard exchange failed: $(tail -1 "$TEST_TMP/vnc.out")"
fi
cat "$TEST_TMP/vnc.out"
cmdline="$(grep "QEMU command line" "$TEST_TMP/err" || true)"
[[ "$cmdline" == *qemu-vdagent*mouse=off* ]] || fail "QEMU command line has no qemu-vdagent with mouse=off: $cmdline"
pass "QEMU has qemu-vdagent with mouse=off and the port com.redhat.spice.0"
grep -qxF "clipboard: $legacy_text" "$TEST_TMP/out" || fail "the app did not print the plain text"
pass "host to guest, ClientCutText: the app read '$legacy_text'"
grep -qxF "clipboard: $extended_text" "$TEST_TMP/out" || fail "the app did not print the extended text"
pass "host to guest, extended clipboard: the app read '$extended_text'"
pass "guest to host: the VNC client read '$guest_text'"

# With mouse=on, QEMU would route the pointer to qemu-vdagent once the guest's agent is
# connected, and the tablet would get nothing.
say "the pointer still reaches the virtio tablet with the agent connected"
for _ in $(seq 60); do
        grep -q "^tablet=" "$TEST_TMP/out" && break
        sleep 1
done
grep -q "^tablet=/dev/input/event" "$TEST_TMP/out" || fail "the app found no tablet: $(cat "$TEST_TMP/out")"
python3 - "$qmp" <<'QMP' || fail "sending pointer moves through QMP failed"
import json, socket, sys, time
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
stream = sock.makefile("rw")
stream.readline()
for command in [{"execute": "qmp_capabilities"}] + [
        {"execute": "input-send-event",
         "arguments": {"events": [{"type": "abs", "data": {"axis": "x", "value": 1000 + 500 * i}},
                                  {"type": "abs", "data": {"axis": "y", "value": 1000 + 400 * i}}]}}
        for i in range(20)]:
    stream.write(json.dumps(command) + "\n")
    stream.flush()
    reply = json.loads(stream.readline())
    while "return" not in reply and "error" not in reply:
        reply = json.loads(stream.readline())
    if "error" in reply:
        sys.exit(f"QMP {command['execute']}: {reply['error']}")
    time.sleep(0.1)
QMP
for _ in $(seq 60); do
        grep -q "^tablet-bytes=" "$TEST_TMP/out" && break
        sleep 1
done
bytes="$(sed -n 's/^tablet-bytes=//p' "$TEST_TMP/out")"
[ -n "$bytes" ] && [ "$bytes" -gt 0 ] || fail "the tablet delivered ${bytes:-no} bytes for 20 pointer moves"
pass "20 pointer moves reached the tablet as $bytes bytes of input events"
stop_vm
trap _vp_test_cleanup EXIT

# Prints what the guest has of the agent: the port names, the link, and whether a
# spice-vdagentd process runs (the image has no pgrep).
# shellcheck disable=SC2016 # expanded by the guest's shell, not here
probe='sleep 2
echo "ports=$(cat /sys/class/virtio-ports/*/name | sort | tr "\n" " ")"
if [ -e /dev/virtio-ports/com.redhat.spice.0 ]; then echo "link=yes"; else echo "link=no"; fi
daemon=no
for comm in /proc/[0-9]*/comm; do
        [ "$(cat "$comm" 2>/dev/null)" = "spice-vdagentd" ] && daemon=yes
done
echo "daemon=$daemon"'

say "without the grant: no agent port and no spice-vdagentd (up to 600 s under TCG)"
set +e
vmrun -v --display none --timeout 600 --entrypoint sh guiclipnone -c "$probe" \
        >"$TEST_TMP/none.out" 2>"$TEST_TMP/none.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/none.err" >&2
        fail "vmpack run guiclipnone: exit status $status"
fi
cmdline="$(grep "QEMU command line" "$TEST_TMP/none.err" || true)"
[[ "$cmdline" != *vdagent* ]] || fail "QEMU command line has a vdagent without the grant: $cmdline"
out="$(cat "$TEST_TMP/none.out")"
say "guest reported: $(tr '\n' ' ' <<<"$out")"
grep -q "^ports=.*io.bheem.agent" <<<"$out" || fail "the probe did not list the guest's ports: $out"
grep -q "com.redhat.spice.0" <<<"$out" && fail "the port com.redhat.spice.0 exists without the grant: $out"
pass "no port com.redhat.spice.0 without the grant"
grep -qx "link=no" <<<"$out" || fail "/dev/virtio-ports/com.redhat.spice.0 exists without the grant: $out"
grep -qx "daemon=no" <<<"$out" || fail "spice-vdagentd runs without the grant: $out"
pass "no spice-vdagentd without the grant, although the image has it"

say "with the grant but without spice-vdagent in the image: one log line says what to add"
set +e
vmrun -v --display none --timeout 600 --entrypoint sh guiclipnopkg -c "$probe" \
        >"$TEST_TMP/nopkg.out" 2>"$TEST_TMP/nopkg.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/nopkg.err" >&2
        fail "vmpack run guiclipnopkg: exit status $status"
fi
out="$(cat "$TEST_TMP/nopkg.out")"
say "guest reported: $(tr '\n' ' ' <<<"$out")"
grep -q "com.redhat.spice.0" <<<"$out" || fail "the port com.redhat.spice.0 is missing with the grant: $out"
grep -qx "daemon=no" <<<"$out" || fail "a spice-vdagentd runs in an image without it: $out"
line="$(grep "clipboard: granted, but the image has no" "$TEST_TMP/nopkg.err" || true)"
[[ "$line" == *"add spice-vdagent to Packages"* ]] ||
        fail "no log line about the missing spice-vdagent: $(grep vmpack-init "$TEST_TMP/nopkg.err" | tail -5)"
pass "the VM log says: ${line#*vmpack-init: }"
