#!/bin/bash
# vmpack run failures end with a clear message and exit status, never a hang: timeout,
# missing or corrupt kernel, corrupt, truncated or missing image, invalid options.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64 timeout
ensure_shell_image

# Run vmpack under a hard limit so a hang fails the test instead of blocking it.
# Sets STATUS and leaves stderr in $TEST_TMP/err.
run_bounded() {
        set +e
        timeout -s KILL 120 "$VMPACK" run "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
        STATUS=$?
        set -e
        [ "$STATUS" -ne 137 ] || fail "vmpack run $* hung (killed after 120 s)"
}

expect_message() {
        local name="$1" pattern="$2"
        grep -q -- "$pattern" "$TEST_TMP/err" || fail "$name: stderr lacks '$pattern': $(cat "$TEST_TMP/err")"
        pass "$name: message"
}

say "--timeout stops a hanging app with exit status 124"
start=$(date +%s)
run_bounded --timeout 8 --entrypoint /bin/sleep "$SHELL_IMAGE" 1000
elapsed=$(($(date +%s) - start))
expect_eq "timeout exit status" "$STATUS" 124
expect_message "timeout" "did not exit within 8 s; VM stopped"
[ "$elapsed" -lt 60 ] || fail "timeout took $elapsed s"
pass "stopped after $elapsed s"

say "a missing kernel"
run_bounded --kernel /nonexistent/vmlinuz --entrypoint /bin/true "$SHELL_IMAGE"
expect_eq "missing kernel exit status" "$STATUS" 125
expect_message "missing kernel" "/nonexistent/vmlinuz"

say "a garbage kernel"
head -c 200000 /dev/urandom >"$TEST_TMP/garbage-vmlinuz"
run_bounded --kernel "$TEST_TMP/garbage-vmlinuz" --entrypoint /bin/true "$SHELL_IMAGE"
expect_eq "garbage kernel exit status" "$STATUS" 125
expect_message "garbage kernel" "garbage-vmlinuz"

say "a corrupt image"
head -c 1000000 /dev/urandom >"$TEST_TMP/corrupt.sqfs"
run_bounded --entrypoint /bin/true "$TEST_TMP/corrupt.sqfs"
expect_eq "corrupt image exit status" "$STATUS" 125
expect_message "corrupt image" "corrupt.sqfs: not a valid squashfs image: it does not start with the squashfs magic"

say "a truncated image is rejected before the boot"
head -c 65536 "$SHELL_IMAGE" >"$TEST_TMP/truncated.sqfs"
run_bounded --entrypoint /bin/true "$TEST_TMP/truncated.sqfs"
expect_eq "truncated image exit status" "$STATUS" 125
expect_message "truncated image" "not a valid squashfs image: it is shorter than its superblock says"

say "an image path that does not exist"
run_bounded --entrypoint /bin/true "$TEST_TMP/nonexistent.sqfs"
expect_eq "missing image file exit status" "$STATUS" 125
expect_message "missing image file" "nonexistent.sqfs: No such file or directory"
run_bounded --entrypoint /bin/true "$TEST_TMP"
expect_message "directory as image" ": not a regular file"

say "an image that does not exist"
run_bounded --entrypoint /bin/true no-such-image-name
expect_eq "unknown image exit status" "$STATUS" 125
expect_message "unknown image" "no-such-image-name"

say "invalid options are usage errors"
for args in "--memory 12 x" "--memory lots x" "--cpus 0 x" "--network wide x" "--accel fast x" \
        "--timeout -1 x" "--machine pc x" ""; do
        # shellcheck disable=SC2086 # split the option list on purpose
        run_bounded $args
        expect_eq "vmpack run $args" "$STATUS" 2
done

say "every verb reports a bad option as 'vmpack VERB: ...' with status 2"
for verb in check build import images rmi run install uninstall list info start stop kill suspend resume ps logs; do
        status=0
        "$VMPACK" "$verb" --no-such-option x >/dev/null 2>"$TEST_TMP/err" || status=$?
        expect_eq "vmpack $verb --no-such-option status" "$status" 2
        expect_eq "vmpack $verb --no-such-option message" "$(cat "$TEST_TMP/err")" \
                "vmpack $verb: unknown option '--no-such-option' (run 'vmpack $verb --help')"
done
status=0
"$VMPACK" run --timeout >/dev/null 2>"$TEST_TMP/err" || status=$?
expect_eq "vmpack run --timeout without a value status" "$status" 2
expect_message "missing option value" "^vmpack run: option '--timeout' needs a value"
run_bounded 'Bad!Name'
expect_eq "invalid image name status" "$STATUS" 2
expect_message "invalid image name" "^vmpack run: invalid image name 'Bad!Name'"

say "--help names every option"
"$VMPACK" run --help >"$TEST_TMP/help"
for option in --entrypoint --rw --timeout --memory --cpus --network --machine --kernel --accel --verbose; do
        grep -q -- "$option" "$TEST_TMP/help" || fail "--help lacks $option"
done
pass "--help"

say "QEMU dying under the app is a VM failure with the console tail"
"$VMPACK" run --entrypoint /bin/sh "$SHELL_IMAGE" -c 'echo started; sleep 1000' \
        >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
vmpack_pid=$!
for _ in $(seq 1 600); do
        grep -q "^started" "$TEST_TMP/out" 2>/dev/null && break
        sleep 0.1
done
grep -q "^started" "$TEST_TMP/out" || fail "the app did not start: $(cat "$TEST_TMP/err")"
qemu_pid="$(pgrep -P "$vmpack_pid" -x qemu-system-x86 || pgrep -P "$vmpack_pid")"
[ -n "$qemu_pid" ] || fail "no QEMU child of vmpack $vmpack_pid"
kill -KILL "$qemu_pid"
set +e
wait "$vmpack_pid"
STATUS=$?
set -e
expect_eq "killed QEMU exit status" "$STATUS" 125
expect_message "killed QEMU" "QEMU was killed by signal 9"
expect_message "console tail" "last lines of the guest console"
