#!/bin/bash
# Firefox ESR in its VM opens a local page named on the command line: QMP screendumps show
# the page's green background over most of the screen, so a Firefox window drew it (not a
# black screen or the text console). SIGTERM to vmpack then stops Firefox and the VM.
#
# The VM gets --network none although the recipe grants an uplink, so Firefox cannot
# reach any server during the test (its first-run privacy notice tab stays empty). Under
# TCG on a 2-core development machine the page appeared 29 s after vmpack run started;
# the time is printed. FIREFOX_TIMEOUT (seconds, default 300) bounds the wait.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs
timeout_s="${FIREFOX_TIMEOUT:-300}"

ensure_image firefox >"$TEST_TMP/build.log" 2>&1 || fail "vmpack build apps/firefox failed: $(tail -5 "$TEST_TMP/build.log")"
pass "firefox image ready"

page="$TEST_TMP/page.html"
cat >"$page" <<'PAGE'
<!DOCTYPE html>
<html><head><title>vmpack firefox test</title></head>
<body style="margin:0; background:#00ff00; height:100vh"></body></html>
PAGE

say "vmpack run --network none firefox PAGE, watched through QMP screendumps (up to $timeout_s s)"
qmp="$TEST_TMP/qmp.sock"
start=$(date +%s.%N)
"$VMPACK" run --network none --display none --qmp "$qmp" firefox "$page" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
vmpack_pid=$!
stop_vm() {
        kill "$vmpack_pid" 2>/dev/null || true
}
trap 'stop_vm; _vp_test_cleanup' EXIT

if ! python3 "$VMPACK_SOURCE_ROOT/tests/integration/screen-watch.py" --since "$start" --interval 2 \
        --save "$VMPACK_BUILD_ROOT/gui-firefox" "$qmp" "$timeout_s" 00ff00:0.5 >"$TEST_TMP/watch" 2>&1; then
        cat "$TEST_TMP/watch" >&2
        echo "--- vmpack stderr (last 20 lines):" >&2
        tail -20 "$TEST_TMP/err" >&2
        fail "the page did not appear (last screen: $VMPACK_BUILD_ROOT/gui-firefox-timeout.ppm)"
fi
cat "$TEST_TMP/watch"
pass "Firefox shows the page: $VMPACK_BUILD_ROOT/gui-firefox-1.ppm"

say "SIGTERM stops Firefox and the VM"
kill -TERM "$vmpack_pid"
for _ in $(seq 120); do
        kill -0 "$vmpack_pid" 2>/dev/null || break
        sleep 0.5
done
kill -0 "$vmpack_pid" 2>/dev/null && fail "vmpack run did not exit within 60 s of SIGTERM"
status=0
wait "$vmpack_pid" || status=$?
trap _vp_test_cleanup EXIT
[ ! -e "$qmp" ] || fail "QMP socket $qmp still exists after the run"
pass "vmpack run exited with status $status after SIGTERM"
