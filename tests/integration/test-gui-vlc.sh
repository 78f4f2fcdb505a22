#!/bin/bash
# vlc plays a file named on the vmpack run command line: the file is shared into the VM,
# and QMP screendumps show the video's first colour and then its second one, so frames
# advance, not only the first one. With --play-and-exit vlc exits at the end of the video,
# cage and the VM with it, and vmpack run returns 0.
#
# The video is generated here (make-y4m.py, uncompressed YUV4MPEG2 that VLC's rawvid
# demuxer plays without a codec), so the test needs no ffmpeg or GStreamer on the host.
#
# NOTE: the test passes --vout=xcb_x11. With VLC's default video output (OpenGL through
# libplacebo, rendered by llvmpipe in software because the VM has no virgl), the
# screen showed the first frame and stayed on it while the clock advanced under TCG on a
# 2-core development machine. The X11 output played both colours 5.0 s apart, as encoded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs

ensure_image vlc >"$TEST_TMP/build.log" 2>&1 || fail "vmpack build apps/vlc failed: $(tail -5 "$TEST_TMP/build.log")"
pass "vlc image ready"

video="$TEST_TMP/colours.y4m"
python3 "$VMPACK_SOURCE_ROOT/tests/integration/make-y4m.py" "$video" 320x240 10 0000ff:4 00ff00:4 ||
        fail "make-y4m.py could not write $video"
pass "test video $(stat -c %s "$video") bytes: 4 s blue, then 4 s green"

say "vmpack run vlc FILE, watched through QMP screendumps (up to 240 s under TCG)"
qmp="$TEST_TMP/qmp.sock"
start=$(date +%s.%N)
"$VMPACK" run --display none --qmp "$qmp" vlc --vout=xcb_x11 --play-and-exit "$video" \
        >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
vmpack_pid=$!
stop_vm() {
        kill "$vmpack_pid" 2>/dev/null || true
}
trap 'stop_vm; _vp_test_cleanup' EXIT

if ! python3 "$VMPACK_SOURCE_ROOT/tests/integration/screen-watch.py" --since "$start" \
        --save "$VMPACK_BUILD_ROOT/gui-vlc" "$qmp" 240 0000ff:0.3 00ff00:0.3 >"$TEST_TMP/watch" 2>&1; then
        cat "$TEST_TMP/watch" >&2
        echo "--- vmpack stderr (last 20 lines):" >&2
        tail -20 "$TEST_TMP/err" >&2
        fail "the video's colours did not both appear (screens: $VMPACK_BUILD_ROOT/gui-vlc-*.ppm)"
fi
cat "$TEST_TMP/watch"
pass "blue, then green frames appeared"

say "vlc exits at the end of the video, and the VM with it"
for _ in $(seq 120); do
        kill -0 "$vmpack_pid" 2>/dev/null || break
        sleep 0.5
done
kill -0 "$vmpack_pid" 2>/dev/null && fail "vmpack run did not exit within 60 s of the end of the video"
status=0
wait "$vmpack_pid" || status=$?
trap _vp_test_cleanup EXIT
[ "$status" -eq 0 ] || fail "exit status $status after --play-and-exit: $(tail -5 "$TEST_TMP/err")"
pass "vmpack run exited with status 0 after $(($(date +%s) - ${start%.*})) s"
