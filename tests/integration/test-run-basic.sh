#!/bin/bash
# vmpack run with a shell image: exit statuses, output streams, stdin, a fresh root at
# every run, no network device, no host paths in the guest. The app runs as uid 1000, so
# it writes to its home and /tmp, not to /.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64
ensure_shell_image

say "exit status 0 and stdout/stderr kept apart"
set +e
vmrun --entrypoint /bin/sh "$SHELL_IMAGE" -c 'echo to-stdout; echo to-stderr >&2' \
        >"$TEST_TMP/out" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "exit status" "$status" 0
expect_eq "stdout" "$(cat "$TEST_TMP/out")" "to-stdout"
grep -qx "to-stderr" "$TEST_TMP/err" || fail "stderr lacks 'to-stderr': $(cat "$TEST_TMP/err")"
pass "stderr"

say "exit status 3 comes back"
set +e
vmrun --entrypoint /bin/sh "$SHELL_IMAGE" -c 'exit 3'
status=$?
set -e
expect_eq "exit status 3" "$status" 3

say "a program missing from the image exits 127 with a message"
set +e
vmrun --entrypoint /no/such/program "$SHELL_IMAGE" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "exit status 127" "$status" 127
grep -q "/no/such/program" "$TEST_TMP/err" || fail "message does not name the program: $(cat "$TEST_TMP/err")"
pass "message names the program"

say "stdin is forwarded until end of file; one boot checks the guest's view"
marker="$TEST_TMP/host-marker-$$"
echo "host only" >"$marker"
set +e
printf 'line one\nline two\n' | vmrun --entrypoint /bin/sh "$SHELL_IMAGE" -c '
        echo "stdin: $(cat | tr "\n" " ")"
        echo "net: $(ls /sys/class/net | tr "\n" " ")"
        echo "uid: $(id -u)"
        [ -e "$1" ] && echo "marker: visible" || echo "marker: absent"
        [ -e /work ] && echo "work: visible" || echo "work: absent"
        echo "written" > "$HOME/left-over" && echo "home: writable"
        echo "written" > /tmp/left-over
        echo "written" > /left-over 2>/dev/null && echo "root dir: writable" || echo "root dir: not writable"
' sh "$marker-not-shared" >"$TEST_TMP/out"
status=$?
set -e
expect_eq "exit status" "$status" 0
expect_eq "stdin" "$(grep '^stdin:' "$TEST_TMP/out")" "stdin: line one line two "
expect_eq "only lo without a network grant" "$(grep '^net:' "$TEST_TMP/out")" "net: lo "
expect_eq "app runs as uid 1000" "$(grep '^uid:' "$TEST_TMP/out")" "uid: 1000"
expect_eq "host marker invisible" "$(grep '^marker:' "$TEST_TMP/out")" "marker: absent"
expect_eq "host /work invisible" "$(grep '^work:' "$TEST_TMP/out")" "work: absent"
expect_eq "home in the root overlay writable" "$(grep '^home:' "$TEST_TMP/out")" "home: writable"
expect_eq "/ not writable by the app user" "$(grep '^root dir:' "$TEST_TMP/out")" "root dir: not writable"

say "a file written in the last run is gone"
out="$(vmrun --entrypoint /bin/sh "$SHELL_IMAGE" -c \
        '[ -e "$HOME/left-over" ] || [ -e /tmp/left-over ] && echo found || echo gone')"
expect_eq "fresh root at every run" "$out" "gone"

say "a closed stdout stops the app, as SIGPIPE would"
set +e
timeout -s KILL 60 "$VMPACK" run --entrypoint /usr/bin/yes "$SHELL_IMAGE" | head -n 1 >"$TEST_TMP/first"
statuses=("${PIPESTATUS[@]}")
set -e
expect_eq "first line" "$(cat "$TEST_TMP/first")" "y"
expect_eq "app stopped with SIGTERM" "${statuses[0]}" 143

say "the runtime directory is removed"
leftovers="$(find "$VMPACK_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'run-*' | wc -l)"
expect_eq "no runtime directory left" "$leftovers" 0
