#!/bin/bash
# A build that fails (an unknown package) names the failed step and its log, and leaves no
# image directory, name, recipe link or staging directory in the store. An interrupted build
# (SIGINT) cleans up the same way.
. "$(dirname "$0")/lib.sh"
require_cmd mmdebstrap tar2sqfs
export VMPACK_DATA_DIR="$TEST_TMP/store"

recipe="$TEST_TMP/broken"
mkdir -p "$recipe"
cat >"$recipe/broken.vmpack" <<'RECIPE'
[App]
Exec=/usr/bin/true
Packages=vmpack-test-no-such-package
RECIPE

check_store_empty() {
        local what="$1"
        for sub in images names recipes tmp; do
                [ -z "$(ls -A "$VMPACK_DATA_DIR/$sub" 2>/dev/null)" ] ||
                        fail "$what left $(ls -A "$VMPACK_DATA_DIR/$sub") in the store's $sub/"
        done
}

say "build a recipe with an unknown package"
status=0
"$VMPACK" build "$recipe" >"$TEST_TMP/out.txt" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "expected exit status 1, got $status: $(cat "$TEST_TMP/out.txt")"
grep -q "step 1/3 (installing packages with mmdebstrap) failed" "$TEST_TMP/out.txt" ||
        fail "the error does not name the failed step: $(cat "$TEST_TMP/out.txt")"
grep -q "Unable to locate package vmpack-test-no-such-package" "$TEST_TMP/out.txt" ||
        fail "the error does not show apt's reason: $(cat "$TEST_TMP/out.txt")"
log=$(sed -n 's/^full build log: //p' "$TEST_TMP/out.txt")
[ -n "$log" ] && [ -f "$log" ] || fail "the error names no existing build log: $(cat "$TEST_TMP/out.txt")"
grep -q "vmpack-test-no-such-package" "$log" || fail "the build log $log lacks mmdebstrap's output"
check_store_empty "the failed build"
pass "failed build names step 1/3 and its log, and leaves nothing behind"

say "interrupt a build with SIGINT"
sed -i 's/^Packages=.*/Packages=hello/' "$recipe/broken.vmpack"
"$VMPACK" build "$recipe" >"$TEST_TMP/interrupted.txt" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
        ls "$VMPACK_DATA_DIR"/tmp/build-*/mmdebstrap.* >/dev/null 2>&1 && break
        sleep 0.2
done
sleep 2
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 130 ] || fail "expected exit status 130 after SIGINT, got $status: $(tail -5 "$TEST_TMP/interrupted.txt")"
grep -q "interrupted by signal 2" "$TEST_TMP/interrupted.txt" || fail "no interruption message: $(tail -5 "$TEST_TMP/interrupted.txt")"
check_store_empty "the interrupted build"
! grep -q " $VMPACK_DATA_DIR/" /proc/mounts || fail "the interrupted build left mounts under $VMPACK_DATA_DIR"
pass "SIGINT stops the build with status 130 and removes its staging directory"
