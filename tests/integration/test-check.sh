#!/bin/bash
# vmpack check as a user runs it: every bundled recipe passes with a summary, a broken
# recipe fails with exit status 1 and FILE:LINE: key '...', and usage errors exit 2.
. "$(dirname "$0")/lib.sh"

for dir in "$VMPACK_SOURCE_ROOT"/apps/*/; do
        app=$(basename "$dir")
        say "apps/$app passes"
        out=$("$VMPACK" check "$dir") || fail "vmpack check apps/$app exited with status $?"
        grep -q "^image name: *$app\$" <<<"$out" || fail "summary of apps/$app lacks 'image name: $app': $out"
        grep -q "^exec: " <<<"$out" || fail "summary of apps/$app lacks the exec line: $out"
        pass "apps/$app"
done

say "the pdftotext summary shows its values"
out=$("$VMPACK" check "$VMPACK_SOURCE_ROOT/apps/pdftotext/pdftotext.vmpack")
for line in "exec: *pdftotext -layout %f -" "hardened: *yes" "packages: *poppler-utils" \
        "resources: *CPUs not set, 256 MiB memory"; do
        grep -q "^$line\$" <<<"$out" || fail "pdftotext summary lacks '$line': $out"
done
pass "pdftotext summary"

say "a recipe with an invalid value fails with its file, line and key"
mkdir -p "$TEST_TMP/demo"
cat >"$TEST_TMP/demo/demo.vmpack" <<'RECIPE'
[App]
Exec=demo %f
Packages=hello

[Resources]
CPUs=2
Memory=32M
RECIPE
status=0
err=$("$VMPACK" check "$TEST_TMP/demo" 2>&1) || status=$?
[ "$status" -eq 1 ] || fail "expected exit status 1, got $status: $err"
expected="vmpack check: $TEST_TMP/demo/demo.vmpack:7: key 'Memory': 32M is out of range (valid: a size from 64M to 64G with a K, M or G suffix; a plain number is MiB)"
[ "$err" = "$expected" ] || fail "unexpected message: $err"
pass "invalid Memory reported at line 7"

say "a directory without a recipe and usage errors"
status=0
err=$("$VMPACK" check "$TEST_TMP" 2>&1) || status=$?
[ "$status" -eq 1 ] && grep -q "no recipe in this directory" <<<"$err" || fail "status $status: $err"
status=0
"$VMPACK" check >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "vmpack check without a recipe: expected exit status 2, got $status"
status=0
"$VMPACK" check --no-such-option apps/pdftotext >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "vmpack check with an unknown option: expected exit status 2, got $status"
"$VMPACK" check --help | grep -q "^Usage: vmpack check RECIPE" || fail "vmpack check --help prints no usage"
pass "usage errors"
