#!/bin/bash
# Stopping a run from the host (SIGINT, SIGTERM, a second SIGINT), the uplink network
# device, the q35 machine and the resource options. A run killed with SIGKILL leaves its
# run directory, and the next run removes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64 timeout
ensure_shell_image

# Start vmpack run in the background with output in $TEST_TMP/out; wait for a line.
start_app() {
        "$VMPACK" run --entrypoint /bin/sh "$SHELL_IMAGE" -c "$1" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
        APP_PID=$!
        for _ in $(seq 1 600); do
                grep -q "^started" "$TEST_TMP/out" 2>/dev/null && return 0
                kill -0 "$APP_PID" 2>/dev/null || fail "vmpack exited early: $(cat "$TEST_TMP/err")"
                sleep 0.1
        done
        fail "the app did not start within 60 s"
}

wait_status() {
        set +e
        wait "$APP_PID"
        STATUS=$?
        set -e
}

say "SIGINT: the app gets SIGTERM and its exit status comes back"
start_app 'trap "echo got-term; exit 7" TERM; echo started; while :; do sleep 0.1; done'
kill -INT "$APP_PID"
wait_status
expect_eq "exit status after SIGINT" "$STATUS" 7
grep -qx "got-term" "$TEST_TMP/out" || fail "the app did not report SIGTERM: $(cat "$TEST_TMP/out")"
pass "the app got SIGTERM"

say "SIGTERM to vmpack does the same"
start_app 'trap "exit 9" TERM; echo started; while :; do sleep 0.1; done'
kill -TERM "$APP_PID"
wait_status
expect_eq "exit status after SIGTERM" "$STATUS" 9

say "a second SIGINT quits the VM even when the app ignores SIGTERM"
start_app 'trap "" TERM; echo started; while :; do sleep 0.1; done'
kill -INT "$APP_PID"
sleep 1
start=$(date +%s)
kill -INT "$APP_PID"
wait_status
expect_eq "exit status after two SIGINTs" "$STATUS" 130
expect_eq "message after two SIGINTs" "$(cat "$TEST_TMP/err")" "vmpack run: interrupted; VM stopped"
[ $(($(date +%s) - start)) -lt 5 ] || fail "quitting took more than 5 s"
pass "quit promptly"
[ -z "$(find "$VMPACK_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'run-*')" ] || fail "runtime directory left"
pass "runtime directory removed"

say "a run killed with SIGKILL leaves its run directory; the next run removes it"
start_app 'echo started; exec sleep 1000'
kill -KILL "$APP_PID"
wait_status
expect_eq "run directories after SIGKILL" "$(find "$VMPACK_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'run-*' | wc -l)" 1
vmrun --entrypoint /bin/true "$SHELL_IMAGE" || fail "the run after SIGKILL failed"
[ -z "$(find "$VMPACK_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'run-*')" ] ||
        fail "stale run directory left: $(ls "$VMPACK_RUNTIME_DIR")"
pass "stale run directory removed"

say "--network uplink adds eth0 (no traffic is sent)"
out="$(vmrun --network uplink --entrypoint /bin/sh "$SHELL_IMAGE" -c 'ls /sys/class/net | tr "\n" " "')"
expect_eq "interfaces with uplink" "$out" "eth0 lo "

say "--machine q35 --cpus 2 --memory 512, with a shared file (virtio-9p-pci)"
echo "q35 file" >"$TEST_TMP/q35.txt"
out="$(vmrun --machine q35 --cpus 2 --memory 512 --entrypoint /bin/sh "$SHELL_IMAGE" -c \
        'echo "$(nproc) $(awk "/MemTotal/ { print int(\$2 / 1024 / 100) }" /proc/meminfo)"; cat "$1"' \
        sh "$TEST_TMP/q35.txt")"
# MemTotal is below the configured size (the kernel keeps some), so compare in 100 MiB units.
expect_eq "2 CPUs and about 400-500 MiB" "$(echo "$out" | head -n 1 | awk '{ print $1, ($2 >= 4 && $2 <= 5) }')" "2 1"
expect_eq "shared file on q35" "$(echo "$out" | tail -n 1)" "q35 file"
