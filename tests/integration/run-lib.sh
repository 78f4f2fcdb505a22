# shellcheck shell=bash
# Helpers for the test-run-* scripts; source it after lib.sh.
#
#   ensure_shell_image        set SHELL_IMAGE to a Debian minbase squashfs (with /bin/sh and
#                             coreutils), built once with mmdebstrap and cached in
#                             $VMPACK_CACHE_DIR/test-images/. vmpack run takes it as a path.
#   vmrun ARGS...             vmpack run under the test's accelerator (VMPACK_ACCEL, default
#                             tcg, because a nested KVM can hang standard kernels)
#   expect_eq NAME ACTUAL EXPECTED    pass or fail with both values shown

export VMPACK_ACCEL="${VMPACK_ACCEL:-tcg}"

ensure_shell_image() {
        local dir="$VMPACK_CACHE_DIR/test-images"
        SHELL_IMAGE="$dir/minbase-bookworm.sqfs"
        if [ -f "$SHELL_IMAGE" ]; then
                return 0
        fi

        require_cmd mmdebstrap tar2sqfs
        mkdir -p "$dir"
        say "build test image $SHELL_IMAGE (mmdebstrap minbase, once)"
        local tmp="$SHELL_IMAGE.tmp.$$"
        if ! mmdebstrap --quiet --variant=minbase bookworm - | tar2sqfs --quiet -c zstd -X level=3 -f "$tmp"; then
                rm -f "$tmp"
                fail "could not build the test image with mmdebstrap (is the Debian mirror reachable?)"
        fi
        mv "$tmp" "$SHELL_IMAGE"
}

vmrun() {
        "$VMPACK" run "$@"
}

expect_eq() {
        local name="$1" actual="$2" expected="$3"
        if [ "$actual" != "$expected" ]; then
                fail "$name: expected '$expected', got '$actual'"
        fi
        pass "$name"
}
