#!/bin/bash
# Suspend and resume under TCG. An app that counts keeps its memory across suspend and
# resume: the count continues where it was instead of restarting at 1. Start of a suspended
# instance is rejected. A saved state whose fingerprint was tampered with, or whose image
# changed, is refused with a message naming what changed and stays suspended. A VM with a
# shared host file cannot be suspended and runs on. suspend --all saves every running
# instance; stop and uninstall discard a saved state.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"

require_cmd qemu-system-x86_64 qemu-img python3
ensure_store_shell_image

say "start vmpackd"
setsid "$VMPACK_BUILD_ROOT/src/vmpackd/vmpackd" </dev/null >>"$VMPACK_RUNTIME_DIR/vmpackd.log" 2>&1 &
for _ in $(seq 100); do
        [ -S "$VMPACK_RUNTIME_DIR/vmpackd.sock" ] && break
        sleep 0.1
done
[ -S "$VMPACK_RUNTIME_DIR/vmpackd.sock" ] || fail "vmpackd did not start: $(cat "$VMPACK_RUNTIME_DIR/vmpackd.log")"

A="$(instance counter)"
dir="$VMPACK_DATA_DIR/instances/$A"
"$VMPACK" install --no-desktop --data-size 64M "$SHELL_STORE_IMAGE" "$A" >/dev/null || fail "install $A failed"

state_of() {
        "$VMPACK" info --json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])'
}

# Wait until the app's log has a line greater than $2.
wait_count_above() {
        local name="$1" min="$2" last
        for _ in $(seq 240); do
                last="$("$VMPACK" logs "$name" | tail -n 1)"
                [ -n "$last" ] && [ "$last" -gt "$min" ] && return 0
                sleep 0.5
        done
        fail "the count of $name did not pass $min; log: $("$VMPACK" logs "$name" | tail -n 5)"
}

say "start a counter in $A"
"$VMPACK" start --entrypoint /bin/sh "$A" -c 'i=0; while sleep 0.2; do i=$((i+1)); echo $i; done' >/dev/null ||
        fail "start $A failed"
wait_count_above "$A" 5

say "suspend $A"
"$VMPACK" suspend "$A" >/dev/null || fail "suspend $A failed"
expect_eq "state after suspend" "$(state_of "$A")" suspended
[ -s "$dir/vmstate" ] || fail "no saved state in $dir/vmstate"
[ -s "$dir/vmstate.json" ] || fail "no fingerprint in $dir/vmstate.json"
"$VMPACK" ps --json | grep -q "$A" && fail "ps lists the suspended $A"
saved="$("$VMPACK" logs "$A" | tail -n 1)"
say "count at suspend: $saved, saved state: $(stat -c %s "$dir/vmstate") bytes"

say "start of a suspended instance is rejected"
set +e
"$VMPACK" start "$A" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -ne 0 ] || fail "start of suspended $A succeeded"
grep -q "is suspended: resume it with 'vmpack resume" "$TEST_TMP/err" || fail "start message: $(cat "$TEST_TMP/err")"

say "a tampered fingerprint is refused and the state kept"
cp "$dir/vmstate.json" "$TEST_TMP/vmstate.json"
python3 - "$dir/vmstate.json" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1]))
info["fingerprint"]["qemu_version"] = "QEMU emulator version 0.0.1"
json.dump(info, open(sys.argv[1], "w"))
EOF
set +e
"$VMPACK" resume "$A" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -ne 0 ] || fail "resume with a tampered fingerprint succeeded"
grep -q "the QEMU version changed since it was saved" "$TEST_TMP/err" || fail "resume message: $(cat "$TEST_TMP/err")"
expect_eq "state after a refused resume" "$(state_of "$A")" suspended
[ -s "$dir/vmstate" ] || fail "a refused resume deleted the saved state"
cp "$TEST_TMP/vmstate.json" "$dir/vmstate.json"

say "a changed image is refused"
rootfs="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["fingerprint"]["image"]["path"])' \
        "$dir/vmstate.json")"
touch -r "$rootfs" "$TEST_TMP/rootfs-time"
touch "$rootfs"
set +e
"$VMPACK" resume "$A" 2>"$TEST_TMP/err"
status=$?
set -e
touch -r "$TEST_TMP/rootfs-time" "$rootfs"
[ "$status" -ne 0 ] || fail "resume after the image changed succeeded"
grep -q "the image changed since it was saved" "$TEST_TMP/err" || fail "resume message: $(cat "$TEST_TMP/err")"
expect_eq "state after a refused resume" "$(state_of "$A")" suspended

say "resume $A: the count continues from $saved"
"$VMPACK" resume "$A" >/dev/null || fail "resume $A failed: $(tail -n 5 "$VMPACK_RUNTIME_DIR/vmpackd.log")"
expect_eq "state after resume" "$(state_of "$A")" running
[ -e "$dir/vmstate" ] && fail "the saved state is still there after the resume"
wait_count_above "$A" "$((saved + 5))"
python3 - "$dir/app.log" "$saved" <<'EOF' || fail "count across the resume: $(tr '\n' ' ' <"$dir/app.log")"
import sys
counts = [int(line) for line in open(sys.argv[1]).read().split()]
saved = int(sys.argv[2])
# One process counts from 1 without a gap or a restart: a reboot would start at 1 again.
assert counts == list(range(1, len(counts) + 1)), counts
assert len(counts) > saved + 5, (len(counts), saved)
EOF
pass "the count continued after the resume"

say "suspend of an instance with a shared host file fails and the VM runs on"
B="$(instance shared)"
"$VMPACK" install --no-desktop --data-size 64M "$SHELL_STORE_IMAGE" "$B" >/dev/null || fail "install $B failed"
echo "host file" >"$TEST_TMP/shared.txt"
"$VMPACK" start --entrypoint /bin/sh "$B" -c 'cat "$1" >/dev/null; i=0; while sleep 0.2; do i=$((i+1)); echo $i; done' \
        _ "$TEST_TMP/shared.txt" >/dev/null || fail "start $B failed"
wait_count_above "$B" 2
set +e
"$VMPACK" suspend "$B" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -ne 0 ] || fail "suspend of $B with a shared file succeeded"
grep -qi "migration" "$TEST_TMP/err" || fail "suspend message: $(cat "$TEST_TMP/err")"
expect_eq "state after a failed suspend" "$(state_of "$B")" running
[ -e "$VMPACK_DATA_DIR/instances/$B/vmstate" ] && fail "a failed suspend left a saved state"
count="$("$VMPACK" logs "$B" | tail -n 1)"
wait_count_above "$B" "$((count + 2))"
"$VMPACK" kill "$B" >/dev/null || fail "kill $B failed"

say "suspend --all saves $A, and stop discards the saved state"
"$VMPACK" suspend --all >"$TEST_TMP/out" || fail "suspend --all failed"
grep -q "Suspended $A" "$TEST_TMP/out" || fail "suspend --all output: $(cat "$TEST_TMP/out")"
expect_eq "state after suspend --all" "$(state_of "$A")" suspended
"$VMPACK" stop "$A" >/dev/null || fail "stop of suspended $A failed"
expect_eq "state after stop" "$(state_of "$A")" stopped
[ -e "$dir/vmstate" ] && fail "stop left the saved state"
"$VMPACK" info --json "$A" | grep -q '"suspended"' || fail "no suspended event in info"

set +e
"$VMPACK" resume "$A" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -ne 0 ] || fail "resume of a stopped instance succeeded"
grep -q "is not suspended" "$TEST_TMP/err" || fail "resume message: $(cat "$TEST_TMP/err")"

say "uninstall of a suspended instance deletes its saved state"
"$VMPACK" start --entrypoint /bin/sh "$A" -c 'echo 1; exec sleep 100000' >/dev/null || fail "start $A failed"
wait_count_above "$A" 0
"$VMPACK" suspend "$A" >/dev/null || fail "suspend $A failed"
"$VMPACK" uninstall -y "$A" >/dev/null || fail "uninstall of suspended $A failed"
[ -e "$dir/vmstate" ] && fail "uninstall left the saved state"
[ -e "$dir/vmstate.json" ] && fail "uninstall left the saved state's description"
pass "suspend and resume"
