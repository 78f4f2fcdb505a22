#!/bin/bash
# An instance of a recipe-built image. install writes a desktop entry with the recipe's name,
# summary and icon. The entry's Exec line starts the instance with a file, whose guest path
# the image's Exec command gets. uninstall removes the entry and the icon. One boot under
# TCG. The pdftotext image is built once per store, as in test-run-pdftotext.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"

require_cmd qemu-system-x86_64 qemu-img pdftotext
ensure_image pdftotext

P="$(instance pdf)"
"$VMPACK" install pdftotext "$P" >/dev/null || fail "install $P failed"

say "desktop entry and icon"
desktop="$XDG_DATA_HOME/applications/vmpack-$P.desktop"
icon="$XDG_DATA_HOME/icons/vmpack-$P.svg"
[ -f "$desktop" ] || fail "no desktop entry at $desktop"
grep -qx "Name=PDF to text ($P)" "$desktop" || fail "Name line: $(cat "$desktop")"
grep -qx "Comment=Print the text of a PDF file, keeping its layout" "$desktop" || fail "Comment line: $(cat "$desktop")"
grep -qx "Icon=$icon" "$desktop" || fail "Icon line: $(cat "$desktop")"
cmp -s "$icon" "$VMPACK_SOURCE_ROOT/apps/pdftotext/pdftotext.svg" || fail "icon $icon differs from the recipe's"
pass "entry names the app and its copied icon"

say "the Exec line starts the instance with a file"
exec_line="$(sed -n 's/^Exec=//p' "$desktop")"
case "$exec_line" in
*" start $P %F") ;;
*) fail "Exec line: $exec_line" ;;
esac
pdf="$VMPACK_SOURCE_ROOT/examples/hello.pdf"
# What a launcher does with %F, plus --wait so the test can read the result.
program="${exec_line%% start *}"
set +e
"$program" start --wait "$P" "$pdf" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "exit status of the app" "$status" 0
pdftotext -layout "$pdf" "$TEST_TMP/host.txt"
"$VMPACK" logs "$P" >"$TEST_TMP/guest.txt"
diff -u "$TEST_TMP/host.txt" "$TEST_TMP/guest.txt" || fail "the instance's output differs from the host's pdftotext"
pass "the app read the shared file through the image's Exec command"

say "uninstall removes the entry and the icon"
"$VMPACK" uninstall --purge -y "$P" >/dev/null || fail "uninstall failed"
[ ! -e "$desktop" ] || fail "desktop entry left at $desktop"
[ ! -e "$icon" ] || fail "icon left at $icon"
pass "entry and icon removed"
