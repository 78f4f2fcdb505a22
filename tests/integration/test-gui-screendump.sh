#!/bin/bash
# A graphical app (display=wayland) boots under TCG with virtio-gpu and no window, runs
# under sway in the guest, and its window fills the screen: a QMP screendump shows the
# terminal's red background in every region, not a black screen or a text console.
# The screenshot stays in the build tree as gui-screendump.png. SIGTERM to vmpack then
# stops the app, the VM powers off and the QMP socket is removed; an app that exits by
# itself ends sway and the VM, and its exit status and arguments come through intact.
# An image with cage instead of sway, as images built for earlier versions have, still
# shows the app and reports its status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/gui-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs

# A terminal with a red background under sway. foot is a native Wayland client; xwayland
# runs the X11 apps of real recipes.
say "build the guitest image (cached by recipe digest)"
build_gui_image guitest

say "bad display options are rejected before a VM starts"
touch "$TEST_TMP/not-a-socket"
for args in "--display vnc" "--machine microvm" "--qmp $TEST_TMP/not-a-socket"; do
        set +e
        # shellcheck disable=SC2086 # each case is a list of words
        vmrun $args guitest >"$TEST_TMP/bad.out" 2>"$TEST_TMP/bad.err"
        status=$?
        set -e
        [ "$status" -eq 2 ] || [ "$status" -eq 125 ] || fail "vmpack run $args: exit status $status, expected 2 or 125"
        [ -s "$TEST_TMP/bad.err" ] || fail "vmpack run $args: no error message"
        pass "vmpack run $args: $(head -1 "$TEST_TMP/bad.err")"
done
[ -f "$TEST_TMP/not-a-socket" ] || fail "--qmp removed the regular file it was given"
pass "--qmp left a regular file in place"

say "the QEMU command line has virtio-gpu and input, and no sound or clipboard device"
qmp="$TEST_TMP/qmp.sock"
shot="$VMPACK_BUILD_ROOT/gui-screendump.png"
rm -f "$shot"
# Started directly, not through the vmrun function, so that $! is vmpack itself.
"$VMPACK" run -v --display none --qmp "$qmp" guitest >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
vmpack_pid=$!
stop_vm() {
        kill "$vmpack_pid" 2>/dev/null || true
}
trap 'stop_vm; _vp_test_cleanup' EXIT

for _ in $(seq 100); do
        grep -q "QEMU command line" "$TEST_TMP/err" && break
        sleep 0.2
done
cmdline="$(grep "QEMU command line" "$TEST_TMP/err" || true)"
[ -n "$cmdline" ] || fail "vmpack run -v printed no QEMU command line: $(tail -5 "$TEST_TMP/err")"
for word in "-machine q35" "-device virtio-gpu-pci" "-device virtio-keyboard-pci" "-device virtio-tablet-pci" \
        "-display none" "-name guest=guitest"; do
        [[ "$cmdline" == *"$word"* ]] || fail "QEMU command line lacks '$word': $cmdline"
done
for word in audiodev intel-hda hda- vdagent com.redhat.spice.0 -spice usb; do
        [[ "$cmdline" != *"$word"* ]] || fail "QEMU command line has '$word' without its permission: $cmdline"
done
pass "command line has the GUI devices and nothing else"

say "screendump once the app's red background fills the screen (up to 300 s under TCG)"
start=$(date +%s)
if ! python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-screendump.py" "$qmp" "$shot" ff0000 300; then
        echo "--- vmpack stderr (last 40 lines):" >&2
        tail -40 "$TEST_TMP/err" >&2
        fail "the screen did not show the app (screenshot: $shot)"
fi
say "the app filled the screen $(($(date +%s) - start)) s after the QMP socket was first tried"
pass "screendump shows the app: $shot"

say "SIGTERM stops the app and the VM"
kill -TERM "$vmpack_pid"
status=0
for _ in $(seq 120); do
        kill -0 "$vmpack_pid" 2>/dev/null || break
        sleep 0.5
done
if kill -0 "$vmpack_pid" 2>/dev/null; then
        kill -KILL "$vmpack_pid"
        fail "vmpack did not exit within 60 s of SIGTERM"
fi
wait "$vmpack_pid" || status=$?
trap _vp_test_cleanup EXIT
# vmpack-init sends SIGTERM to the app's own process group, not to sway, so sway exits
# after the app and the status is the app's as vmpack-init's wrapper recorded it.
[ "$status" -ne 0 ] || fail "exit status 0 after SIGTERM (expected the app's status after a signal)"
pass "vmpack exited with status $status after SIGTERM"
[ ! -e "$qmp" ] || fail "QMP socket $qmp still exists after the run"
pass "QMP socket removed"

say "--display spice creates the SPICE socket in the run directory"
"$VMPACK" run --display spice --qmp "$qmp" guitest >"$TEST_TMP/out3" 2>"$TEST_TMP/err3" &
vmpack_pid=$!
trap 'stop_vm; _vp_test_cleanup' EXIT
python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-screendump.py" "$qmp" "$TEST_TMP/spice.png" ff0000 300 ||
        fail "the screen did not show the app with --display spice: $(tail -5 "$TEST_TMP/err3")"
spice_socket="$(find "$VMPACK_RUNTIME_DIR" -name spice.sock -type s | head -1)"
[ -n "$spice_socket" ] || fail "no spice.sock under $VMPACK_RUNTIME_DIR"
pass "SPICE socket $spice_socket"
kill -TERM "$vmpack_pid"
wait "$vmpack_pid" || true
trap _vp_test_cleanup EXIT
[ -z "$(find "$VMPACK_RUNTIME_DIR" -name spice.sock)" ] || fail "spice.sock left behind after the run"
pass "run directory removed"

say "sway exits with the app, the VM powers off, and the app's exit status comes back"
set +e
# The arguments reach the app through a file, not a shell line: quotes, spaces and UTF-8
# must arrive unchanged.
vmrun --display none --timeout 300 --entrypoint sh guitest \
        -c 'printf "hello from sway [%s] [%s]\n" "$1" "$2"; exit 7' sh "two  words 'q' \"d\"" "été;\$HOME" \
        >"$TEST_TMP/out2" 2>"$TEST_TMP/err2"
status=$?
set -e
# 124 would mean the VM did not power off.
expect_eq "exit status of the app under sway" "$status" 7
expect_eq "app output" "$(cat "$TEST_TMP/out2")" "hello from sway [two  words 'q' \"d\"] [été;\$HOME]"

say "the first line typed into the app arrives whole"
# foot exits with its shell's status, here the length of the line the shell read. wlroots
# lost the first keys typed into a newly focused window until vmpack-init learned to send
# a Shift press first.
rm -f "$qmp"
"$VMPACK" run --display none --qmp "$qmp" --timeout 300 --entrypoint foot guitest \
        --override=colors.background=ff0000 sh -c 'read -r line; exit ${#line}' >"$TEST_TMP/out6" 2>"$TEST_TMP/err6" &
vmpack_pid=$!
trap 'stop_vm; _vp_test_cleanup' EXIT
python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-screendump.py" "$qmp" "$TEST_TMP/typing.png" ff0000 300 \
        >/dev/null || fail "the terminal did not appear: $(tail -5 "$TEST_TMP/err6")"
python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-type.py" "$qmp" abcdefghij || fail "typing through QMP failed"
status=0
wait "$vmpack_pid" || status=$?
trap _vp_test_cleanup EXIT
expect_eq "characters the app read from the first line" "$status" 10

say "an image with cage instead of sway still runs its app"
cage_recipe="$TEST_TMP/guicage"
mkdir -p "$cage_recipe"
sed -e 's/^Packages=sway;/Packages=cage;/' -e 's/^Name=.*/Name=Screendump test terminal under cage/' \
        "$TEST_TMP/guitest/guitest.vmpack" >"$cage_recipe/guicage.vmpack"
"$VMPACK" build --force "$cage_recipe" >"$TEST_TMP/build-cage.log" 2>&1 ||
        fail "vmpack build guicage failed: $(tail -5 "$TEST_TMP/build-cage.log")"
pass "image guicage built"
"$VMPACK" run -v --display none --qmp "$qmp" guicage >"$TEST_TMP/out4" 2>"$TEST_TMP/err4" &
vmpack_pid=$!
trap 'stop_vm; _vp_test_cleanup' EXIT
python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-screendump.py" "$qmp" "$TEST_TMP/cage.png" ff0000 300 ||
        fail "the screen did not show the app under cage: $(tail -5 "$TEST_TMP/err4")"
grep -q "running foot under cage" "$TEST_TMP/err4" || fail "vmpack-init did not choose cage: $(grep vmpack-init "$TEST_TMP/err4" | tail -5)"
pass "the app fills the screen under cage"
kill -TERM "$vmpack_pid"
wait "$vmpack_pid" || true
trap _vp_test_cleanup EXIT
set +e
vmrun --display none --timeout 300 --entrypoint sh guicage -c 'echo hello from cage; exit 7' \
        >"$TEST_TMP/out5" 2>"$TEST_TMP/err5"
status=$?
set -e
# cage 0.1.4 exits with 0 whatever the app's status: the 7 comes from vmpack-init's
# status wrapper.
expect_eq "exit status of the app under cage" "$status" 7
expect_eq "app output under cage" "$(cat "$TEST_TMP/out5")" "hello from cage"
