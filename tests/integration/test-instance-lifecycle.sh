#!/bin/bash
# Instances that boot, six times under TCG. Two instances of one image each keep their own
# home across restarts and never see the other's files. A file written outside the home is
# gone at the next start. ps reports a running VM, stop reaches the app as SIGTERM, and
# logs -f follows the output until the stop. A vmpackd killed with SIGKILL is replaced by
# one that re-adopts the running VM, and kill ends that VM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"

require_cmd qemu-system-x86_64 qemu-img python3
ensure_store_shell_image

say "start vmpackd with an 8 KiB cap on app.log"
setsid "$VMPACK_BUILD_ROOT/src/vmpackd/vmpackd" --log-max 8K </dev/null >>"$VMPACK_RUNTIME_DIR/vmpackd.log" 2>&1 &
for _ in $(seq 100); do
        [ -S "$VMPACK_RUNTIME_DIR/vmpackd.sock" ] && break
        sleep 0.1
done
[ -S "$VMPACK_RUNTIME_DIR/vmpackd.sock" ] || fail "vmpackd did not start: $(cat "$VMPACK_RUNTIME_DIR/vmpackd.log")"

A="$(instance a)"
B="$(instance b)"
"$VMPACK" install --no-desktop --data-size 64M "$SHELL_STORE_IMAGE" "$A" >/dev/null || fail "install $A failed"
"$VMPACK" install --no-desktop --data-size 64M "$SHELL_STORE_IMAGE" "$B" >/dev/null || fail "install $B failed"

# Run a shell script (with ARGS as $0, $1, ...) in the instance's VM and wait for it. Its
# output lands in the log.
run_in() {
        local name="$1" script="$2" status
        set +e
        "$VMPACK" start --wait --entrypoint /bin/sh "$name" -c "$script" "${@:3}" 2>"$TEST_TMP/start-err"
        status=$?
        set -e
        [ "$status" -eq 0 ] || fail "script in $name exited $status: $(cat "$TEST_TMP/start-err"); log: $("$VMPACK" logs "$name")"
}

say "boot 1: $A writes to its home and outside it, and reads a shared host file"
echo "host file" >"$TEST_TMP/shared.txt"
run_in "$A" 'echo from-a > ~/mine-a && echo outside > /var/tmp/outside-a && echo written; echo "$1"; cat "$1"' \
        _ "$TEST_TMP/shared.txt"
expect_eq "log of boot 1" "$("$VMPACK" logs "$A")" \
        "$(printf 'written\n/run/vmpack/files/1/shared.txt\nhost file')"

say "boot 2: $B writes to its home and sees nothing of $A; 20000 bytes of output rotate app.log"
run_in "$B" 'head -c 20000 /dev/zero | tr "\0" x; echo; echo from-b > ~/mine-b; ls -A ~ | grep -v lost+found | tr "\n" " "; echo'
expect_eq "home of $B" "$("$VMPACK" logs "$B" | tail -n 1 | tr -s ' ')" "mine-b "
log_dir="$VMPACK_DATA_DIR/instances/$B"
[ -f "$log_dir/app.log.1" ] || fail "no app.log.1 after 20000 bytes of output with an 8 KiB cap"
size="$(stat -c %s "$log_dir/app.log")"
[ "$size" -le 8192 ] || fail "app.log is $size bytes, over the 8 KiB cap"
expect_eq "app.log.1 size at the cap" "$(stat -c %s "$log_dir/app.log.1")" 8192

say "boot 3: $A keeps its file, loses /var/tmp, runs until stopped"
cat >"$TEST_TMP/long.sh" <<'EOF'
trap 'echo got-sigterm; exit 0' TERM
cat ~/mine-a
test -e /var/tmp/outside-a && echo outside-file-survived || echo outside-file-gone
test -e ~/mine-b && echo sees-mine-b || echo no-mine-b
echo ready
while :; do sleep 0.2; done
EOF
"$VMPACK" start --entrypoint /bin/sh "$A" -c "$(cat "$TEST_TMP/long.sh")" >/dev/null || fail "start $A failed"
for _ in $(seq 120); do
        "$VMPACK" logs "$A" | grep -q '^ready$' && break
        sleep 0.5
done
expect_eq "output before the stop" "$("$VMPACK" logs "$A")" "$(printf 'from-a\noutside-file-gone\nno-mine-b\nready')"

set +e
"$VMPACK" start --entrypoint /bin/true "$A" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "second start of a running instance" "$status" 1
grep -q "already running" "$TEST_TMP/err" || fail "second start message: $(cat "$TEST_TMP/err")"

"$VMPACK" ps --json >"$TEST_TMP/ps.json"
python3 - "$TEST_TMP/ps.json" "$A" <<'EOF' || fail "ps --json: $(cat "$TEST_TMP/ps.json")"
import json, sys
running = {i["name"]: i for i in json.load(open(sys.argv[1]))}
a = running[sys.argv[2]]
assert a["state"] == "running", a
assert isinstance(a["qemu_pid"], int) and a["qemu_pid"] > 0, a
assert isinstance(a["rss_bytes"], int) and a["rss_bytes"] > 16 << 20, a
assert a["accelerator"] == "tcg", a
assert isinstance(a["uptime_s"], int) and a["uptime_s"] >= 0, a
EOF
pass "ps shows $A running under tcg with its QEMU pid and RSS"
"$VMPACK" ps | grep -q "^$A " || fail "ps table lacks $A"

"$VMPACK" logs -f "$A" >"$TEST_TMP/follow" &
follower=$!
"$VMPACK" stop "$A" >"$TEST_TMP/stop" || fail "stop $A failed"
pass "$(cat "$TEST_TMP/stop")"
timeout 10 tail --pid="$follower" -f /dev/null || fail "logs -f did not end after the stop"
wait "$follower" || fail "logs -f failed"
grep -qx "got-sigterm" "$TEST_TMP/follow" || fail "the app got no SIGTERM: $(cat "$TEST_TMP/follow")"
pass "logs -f followed to the app's SIGTERM handler and ended"
"$VMPACK" info --json "$A" >"$TEST_TMP/info.json"
python3 - "$TEST_TMP/info.json" <<'EOF' || fail "info after stop: $(cat "$TEST_TMP/info.json")"
import json, sys
i = json.load(open(sys.argv[1]))
assert i["state"] == "stopped", i
assert i["exit_status"] == 0, i
assert i["exit_reason"].startswith("stopped by uid"), i
events = [e["event"] for e in i["events"]]
assert events[-3:] == ["running", "stopping", "stopped"], events
EOF
pass "info records the stop, its caller and the exit status"

say "boot 4: vmpackd killed with SIGKILL re-adopts the running $B; kill ends it"
"$VMPACK" start --entrypoint /bin/sh "$B" -c 'echo up; exec sleep 1000' >/dev/null || fail "start $B failed"
for _ in $(seq 120); do
        [ "$("$VMPACK" logs "$B")" = up ] && break
        sleep 0.5
done
old_pid="$(daemon_pid)"
kill -9 "$old_pid"
sleep 0.2
"$VMPACK" ps --json >"$TEST_TMP/ps.json" || fail "ps after the daemon was killed failed"
new_pid="$(daemon_pid)"
[ "$new_pid" != "$old_pid" ] || fail "no new daemon started"
python3 - "$TEST_TMP/ps.json" "$B" <<'EOF' || fail "ps after restart: $(cat "$TEST_TMP/ps.json")"
import json, sys
running = {i["name"]: i for i in json.load(open(sys.argv[1]))}
assert running[sys.argv[2]]["state"] == "running", running
assert isinstance(running[sys.argv[2]]["qemu_pid"], int), running
EOF
pass "daemon $new_pid re-adopted $B"
qemu_pid="$(python3 -c 'import json,sys; print([i for i in json.load(open(sys.argv[1])) if i["name"]==sys.argv[2]][0]["qemu_pid"])' "$TEST_TMP/ps.json" "$B")"
"$VMPACK" kill "$B" >/dev/null || fail "kill $B failed"
for _ in $(seq 50); do
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 0.1
done
kill -0 "$qemu_pid" 2>/dev/null && fail "QEMU pid $qemu_pid survived kill"
"$VMPACK" info --json "$B" >"$TEST_TMP/info.json"
python3 - "$TEST_TMP/info.json" <<'EOF' || fail "info after kill: $(cat "$TEST_TMP/info.json")"
import json, sys
i = json.load(open(sys.argv[1]))
assert i["state"] == "stopped", i
assert i["exit_reason"].startswith("killed by uid"), i
EOF
pass "kill ended QEMU $qemu_pid and recorded the reason"
[ -z "$(find "$VMPACK_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'run-*')" ] ||
        fail "kill left a run directory: $(ls "$VMPACK_RUNTIME_DIR")"
pass "kill removed the run directory"

say "boot 5: $B still has its file after being killed; a stop escalates past an app that ignores SIGTERM"
"$VMPACK" start --entrypoint /bin/sh "$B" -c 'trap "" TERM; cat ~/mine-b; exec sleep 1000' >/dev/null ||
        fail "start $B failed"
for _ in $(seq 120); do
        [ "$("$VMPACK" logs "$B")" = from-b ] && break
        sleep 0.5
done
expect_eq "file of $B after kill" "$("$VMPACK" logs "$B")" "from-b"
started=$(date +%s)
"$VMPACK" stop --timeout 2 "$B" >"$TEST_TMP/stop" || fail "stop --timeout 2 $B failed"
elapsed=$(($(date +%s) - started))
[ "$elapsed" -le 12 ] || fail "stop with a 2 s timeout took $elapsed s"
pass "stop ended an app that ignores SIGTERM in $elapsed s: $(cat "$TEST_TMP/stop")"
"$VMPACK" info --json "$B" >"$TEST_TMP/info.json"
python3 - "$TEST_TMP/info.json" <<'EOF2' || fail "info after escalated stop: $(cat "$TEST_TMP/info.json")"
import json, sys
i = json.load(open(sys.argv[1]))
assert i["state"] == "stopped", i
assert i["exit_reason"].startswith("stopped by uid"), i
assert "VM ended before the app exited" in i["exit_reason"], i
EOF2
