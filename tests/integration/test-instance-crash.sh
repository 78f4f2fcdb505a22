#!/bin/bash
# Crashes around an instance, three boots under TCG. QEMU killed with SIGKILL leaves the
# instance stopped with the exit reason "QEMU was killed by signal 9", and no supervisor. A
# vmpackd killed with SIGKILL while a Start boots the VM is replaced by one that re-adopts
# the VM or marks the instance stopped, and no QEMU is left. A start whose guest kernel is
# garbage fails with the reason at the client and leaves the instance stopped. After each
# crash the data volume passes qemu-img check, and the last boot still finds the file that
# the first one wrote to the home.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"

require_cmd qemu-system-x86_64 qemu-img python3 pgrep
ensure_store_shell_image

A="$(instance a)"
DATA="$VMPACK_DATA_DIR/instances/$A/data.qcow2"
"$VMPACK" install --no-desktop --data-size 64M "$SHELL_STORE_IMAGE" "$A" >/dev/null || fail "install $A failed"
[ -f "$DATA" ] || fail "install made no data volume at $DATA"

# Print one field of the instance's Info reply.
info_field() {
        "$VMPACK" info --json "$A" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# Wait up to 60 s until the instance reaches STATE.
wait_state() {
        for _ in $(seq 600); do
                [ "$(info_field state)" = "$1" ] && return 0
                sleep 0.1
        done
        fail "$A did not become $1: $("$VMPACK" info --json "$A")"
}

# Wait up to 60 s until the app log of the running instance has the line LINE.
wait_log_line() {
        for _ in $(seq 120); do
                "$VMPACK" logs "$A" | grep -qx "$1" && return 0
                sleep 0.5
        done
        fail "$A never printed '$1'; log: $("$VMPACK" logs "$A")"
}

# Print the pids of this test's QEMU processes (their command line contains a path under the
# test's runtime directory) and of supervisors started by this test's daemons.
leftover_processes() {
        local pid
        pgrep -f "qemu-system.*$VMPACK_RUNTIME_DIR" || true
        for pid in $(pgrep -x vmpackd-vm || true); do
                { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null |
                        grep -qx "VMPACK_RUNTIME_DIR=$VMPACK_RUNTIME_DIR" && echo "$pid"
        done
        return 0
}

# Wait up to 10 s until no process of this test is left, else fail with the pids left.
expect_no_leftovers() {
        local left
        for _ in $(seq 100); do
                left="$(leftover_processes)"
                [ -z "$left" ] && return 0
                sleep 0.1
        done
        fail "$1 left processes: $(ps -o pid,comm,args -p "$(echo "$left" | paste -sd ,)")"
}

check_volume() {
        qemu-img check "$DATA" >"$TEST_TMP/check" 2>&1 || fail "qemu-img check $DATA after $1: $(cat "$TEST_TMP/check")"
        pass "data volume passes qemu-img check after $1"
}

# Stop this test's daemon with SIGTERM (it leaves running VMs alone) and wait until it is gone.
stop_daemon() {
        local pid
        pid="$(daemon_pid)" || return 0
        kill "$pid" 2>/dev/null || return 0
        for _ in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.1
        done
        fail "vmpackd $pid did not exit on SIGTERM"
}

say "boot 1: QEMU of a running $A killed with SIGKILL"
"$VMPACK" start --entrypoint /bin/sh "$A" -c 'echo kept > ~/marker; sync; echo ready; exec sleep 1000' \
        >/dev/null || fail "start $A failed"
wait_log_line ready
"$VMPACK" ps --json >"$TEST_TMP/ps.json"
qemu_pid="$(python3 -c 'import json,sys; print([i for i in json.load(open(sys.argv[1])) if i["name"]==sys.argv[2]][0]["qemu_pid"])' \
        "$TEST_TMP/ps.json" "$A")" || fail "no QEMU pid in ps: $(cat "$TEST_TMP/ps.json")"
kill -9 "$qemu_pid"
wait_state stopped
"$VMPACK" info --json "$A" >"$TEST_TMP/info.json"
python3 - "$TEST_TMP/info.json" <<'EOF' || fail "info after QEMU was killed: $(cat "$TEST_TMP/info.json")"
import json, re, sys
i = json.load(open(sys.argv[1]))
assert i["state"] == "stopped", i
assert i["exit_status"] != 0, i
reason = i["exit_reason"]
assert re.search(r"QEMU was killed by signal 9", reason), reason
EOF
pass "info records: $(info_field exit_reason)"
expect_no_leftovers "killing QEMU"
pass "no supervisor or QEMU left after QEMU was killed"
check_volume "QEMU was killed"

say "boot 2: vmpackd killed with SIGKILL while a Start of $A boots the VM"
old_pid="$(daemon_pid)" || fail "no vmpackd pid file"
"$VMPACK" start --entrypoint /bin/sh "$A" -c 'echo up; exec sleep 1000' >"$TEST_TMP/start-out" 2>&1 &
starter=$!
# The supervisor appears as the daemon handles Start; QEMU under TCG takes seconds to boot.
# This kill lands after the daemon records the instance as running, even when sent right after
# the request. A kill between the fork and that record ends the supervisor before it starts
# QEMU, because it waits for the daemon's release (scripts/faults daemon-kill-start-early).
for _ in $(seq 200); do
        [ -n "$(pgrep -P "$old_pid" -x vmpackd-vm)" ] && break
        sleep 0.02
done
[ -n "$(pgrep -P "$old_pid" -x vmpackd-vm)" ] || fail "vmpackd $old_pid started no supervisor for $A"
kill -9 "$old_pid"
wait "$starter" && starter_status=0 || starter_status=$?
say "vmpack start ended with status $starter_status: $(cat "$TEST_TMP/start-out")"
state="$(info_field state)" || fail "info after the daemon was killed failed"
new_pid="$(daemon_pid)"
if [ -z "$new_pid" ] || [ "$new_pid" = "$old_pid" ]; then
        fail "no new daemon started (pid file: '$new_pid')"
fi
case "$state" in
running)
        pass "daemon $new_pid re-adopted $A"
        "$VMPACK" kill "$A" >/dev/null || fail "kill of the re-adopted $A failed"
        expect_eq "state after kill" "$(info_field state)" stopped
        pass "kill ended the re-adopted VM: $(info_field exit_reason)"
        ;;
stopped)
        pass "daemon $new_pid marked $A stopped: $(info_field exit_reason)"
        ;;
*)
        fail "$A is '$state' after the daemon was replaced, neither running nor stopped"
        ;;
esac
expect_no_leftovers "killing vmpackd during a start"
pass "no QEMU or supervisor left after vmpackd was killed during a start"
check_volume "vmpackd was killed during a start"

say "no boot: a start of $A with a garbage guest kernel fails"
head -c 65536 /dev/urandom >"$TEST_TMP/garbage-kernel"
# The daemon reads VMPACK_KERNEL from its environment, so restart it with the variable set.
stop_daemon
set +e
VMPACK_KERNEL="$TEST_TMP/garbage-kernel" "$VMPACK" start --wait --entrypoint /bin/true "$A" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "exit status of a start with a garbage kernel" "$status" 125
grep -q "guest kernel" "$TEST_TMP/err" || fail "the client's error names no kernel problem: $(cat "$TEST_TMP/err")"
pass "the client reports: $(cat "$TEST_TMP/err")"
expect_eq "state after the failed start" "$(info_field state)" stopped
expect_no_leftovers "the failed start"
check_volume "the failed start"
stop_daemon

say "boot 3: $A boots again with the file from boot 1 in its home"
set +e
"$VMPACK" start --wait --entrypoint /bin/sh "$A" -c 'cat ~/marker' 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "start --wait of $A exited $status: $(cat "$TEST_TMP/err"); log: $("$VMPACK" logs "$A")"
expect_eq "home file after the crashes" "$("$VMPACK" logs "$A")" kept
expect_no_leftovers "the last boot"
check_volume "the last boot"
