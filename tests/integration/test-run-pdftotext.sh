#!/bin/bash
# The README's main job: the pdftotext app image prints the text of examples/hello.pdf,
# the same text as the host's pdftotext -layout, with only that file shared.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64 pdftotext
ensure_image pdftotext

pdf="$VMPACK_SOURCE_ROOT/examples/hello.pdf"
[ -f "$pdf" ] || fail "missing $pdf"

say "vmpack run pdftotext examples/hello.pdf"
set +e
vmrun pdftotext "$pdf" >"$TEST_TMP/guest.txt" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "exit status $status: $(cat "$TEST_TMP/err")"
pass "exit status 0"

pdftotext -layout "$pdf" "$TEST_TMP/host.txt"
cmp -s "$TEST_TMP/guest.txt" "$TEST_TMP/host.txt" ||
        fail "text differs from the host's pdftotext -layout: $(diff "$TEST_TMP/host.txt" "$TEST_TMP/guest.txt")"
pass "text matches the host's pdftotext -layout"
grep -q "Hello from vmpack!" "$TEST_TMP/guest.txt" || fail "text lacks the first line"
pass "first line present"

say "a name with spaces works through the image's Exec line"
cp "$pdf" "$TEST_TMP/my hello é.pdf"
out="$(vmrun pdftotext "$TEST_TMP/my hello é.pdf" | head -n 1)"
expect_eq "first line" "$out" "Hello from vmpack!"

say "'--' after the image ends vmpack's options and is not passed to the app"
cp "$pdf" "$TEST_TMP/-dash.pdf"
out="$(cd "$TEST_TMP" && vmrun pdftotext -- -dash.pdf | head -n 1)"
expect_eq "first line of -dash.pdf" "$out" "Hello from vmpack!"

say "two files for a %f app are a usage error that lists them"
status=0
vmrun pdftotext "$pdf" "$TEST_TMP/-dash.pdf" >/dev/null 2>"$TEST_TMP/err" || status=$?
expect_eq "exit status for two files" "$status" 2
grep -qF "but 2 were given: '$pdf' '$TEST_TMP/-dash.pdf'" "$TEST_TMP/err" ||
        fail "the message does not list the arguments: $(cat "$TEST_TMP/err")"
pass "the message lists the arguments"
