#!/bin/bash
# Files named on the vmpack run command line: shared alone (siblings invisible), read-only
# by default, writable with --rw, owned by the app's uid, odd names intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64
ensure_shell_image

dir="$TEST_TMP/docs"
mkdir -p "$dir"
odd="$dir/a b 'quoted\" é ü.txt"
printf 'first line\n' >"$odd"
chmod 0600 "$odd"
echo "sibling secret" >"$dir/sibling.txt"

say "read-only share: content, guest path, owner, sibling, write rejected"
set +e
vmrun --entrypoint /bin/sh "$SHELL_IMAGE" -c '
        echo "arg: $1"
        echo "content: $(cat "$1")"
        echo "owner: $(stat -c "%u %a" "$1")"
        echo "listing: $(ls "$(dirname "$1")" | tr "\n" "|")"
        echo "siblings: $(ls /run/vmpack/files | tr "\n" " ")"
        echo more >> "$1" 2>/dev/null && echo "write: allowed" || echo "write: rejected"
' sh "$odd" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "exit status $status: $(cat "$TEST_TMP/err")"
expect_eq "guest path keeps the basename" "$(grep '^arg:' "$TEST_TMP/out")" \
        "arg: /run/vmpack/files/1/a b 'quoted\" é ü.txt"
expect_eq "content readable" "$(grep '^content:' "$TEST_TMP/out")" "content: first line"
expect_eq "owned by the app, mode kept" "$(grep '^owner:' "$TEST_TMP/out")" "owner: 1000 600"
expect_eq "directory holds the file alone" "$(grep '^listing:' "$TEST_TMP/out")" \
        "listing: a b 'quoted\" é ü.txt|"
expect_eq "one share directory" "$(grep '^siblings:' "$TEST_TMP/out")" "siblings: 1 "
expect_eq "write to a read-only share fails" "$(grep '^write:' "$TEST_TMP/out")" "write: rejected"
expect_eq "host file unchanged" "$(cat "$odd")" "first line"

say "--rw: the write reaches the host file; two files get two shares"
set +e
vmrun --rw --entrypoint /bin/sh "$SHELL_IMAGE" -c '
        echo "added in the guest" >> "$1" && echo "write: ok"
        echo "second: $2"
' sh "$odd" "$dir/sibling.txt" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "exit status $status: $(cat "$TEST_TMP/err")"
expect_eq "write allowed" "$(grep '^write:' "$TEST_TMP/out")" "write: ok"
expect_eq "host file changed" "$(tail -n 1 "$odd")" "added in the guest"
expect_eq "second file path" "$(grep '^second:' "$TEST_TMP/out")" "second: /run/vmpack/files/2/sibling.txt"

say "an argument that is not a file passes through unchanged"
out="$(vmrun --entrypoint /bin/echo "$SHELL_IMAGE" -n "$dir/no-such-file")"
expect_eq "non-file argument" "$out" "$dir/no-such-file"
