#!/bin/bash
# gpu=virgl: where the host has a DRM render node that the user can open, the VM gets
# virtio-gpu-gl with an OpenGL display (egl-headless with --display none) and the guest's
# compositor renders with OpenGL ES. Without one, vmpack run prints a notice, the VM gets plain
# virtio-gpu and the guest renders with pixman. Either way the app fills the screen.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/gui-lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs
unset DISPLAY WAYLAND_DISPLAY

say "build the guivirgl image (cached by recipe digest)"
build_gui_image guivirgl "gpu=virgl"

render_node=""
for node in /dev/dri/renderD*; do
        if [ -e "$node" ] && { exec {probe_fd}<>"$node"; } 2>/dev/null; then
                exec {probe_fd}>&-
                render_node="$node"
                break
        fi
done

say "the app reports its renderer (up to 300 s under TCG)"
set +e
vmrun -v --display none --timeout 300 --entrypoint sh guivirgl -c 'echo "renderer=$WLR_RENDERER"' \
        >"$TEST_TMP/out" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "vmpack run guivirgl: exit status $status: $(tail -5 "$TEST_TMP/err")"
cmdline="$(grep "QEMU command line" "$TEST_TMP/err" || true)"
[ -n "$cmdline" ] || fail "vmpack run -v printed no QEMU command line"

if [ -z "$render_node" ]; then
        grep -q "gpu=virgl: no DRM render node" "$TEST_TMP/err" ||
                fail "no notice about the missing render node: $(grep -v "^\[" "$TEST_TMP/err" | head -5)"
        pass "vmpack run says that the host has no render node"
        [[ "$cmdline" == *"-device virtio-gpu-pci"* && "$cmdline" != *virtio-gpu-gl* && "$cmdline" != *egl-headless* ]] ||
                fail "QEMU command line without a render node: $cmdline"
        pass "plain virtio-gpu and no OpenGL display"
        expect_eq "guest renderer" "$(cat "$TEST_TMP/out")" "renderer=pixman"
else
        [[ "$cmdline" == *"-device virtio-gpu-gl-pci"* && "$cmdline" == *"egl-headless,rendernode=$render_node"* ]] ||
                fail "QEMU command line with render node $render_node: $cmdline"
        pass "virtio-gpu-gl with egl-headless on $render_node"
        expect_eq "guest renderer" "$(cat "$TEST_TMP/out")" "renderer=gles2"
fi

say "the app fills the screen"
qmp="$TEST_TMP/qmp.sock"
"$VMPACK" run --display none --qmp "$qmp" guivirgl >"$TEST_TMP/out2" 2>"$TEST_TMP/err2" &
vmpack_pid=$!
trap 'kill "$vmpack_pid" 2>/dev/null || true; wait "$vmpack_pid" 2>/dev/null || true; _vp_test_cleanup' EXIT
python3 "$VMPACK_SOURCE_ROOT/tests/integration/qmp-screendump.py" "$qmp" "$VMPACK_BUILD_ROOT/gui-virgl.png" ff0000 300 ||
        fail "the screen did not show the app: $(tail -5 "$TEST_TMP/err2")"
pass "screendump shows the app: $VMPACK_BUILD_ROOT/gui-virgl.png"
if [ -z "$render_node" ]; then
        skip "this host has no DRM render node, so only the software fallback of gpu=virgl was checked"
fi
