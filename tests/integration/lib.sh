# shellcheck shell=bash
# Common setup for integration scripts: source it first (". "$(dirname "$0")/lib.sh"").
#
# It sets strict mode, checks the environment that meson passes (VMPACK, VMPACK_SOURCE_ROOT,
# VMPACK_BUILD_ROOT), and points vmpack at a store and cache that persist per build tree,
# so an image is built once and reused by later scripts and runs:
#   VMPACK_DATA_DIR   = $VMPACK_TEST_DATA  or $VMPACK_BUILD_ROOT/test-data/data
#   VMPACK_CACHE_DIR  = $VMPACK_TEST_CACHE or $VMPACK_BUILD_ROOT/test-data/cache
# Configuration and runtime directories live in $TEST_TMP, a per-script temporary
# directory removed on exit.
#
# Helpers:
#   say TEXT...          print what the script checks next
#   pass TEXT...         print "PASS: TEXT"
#   fail TEXT...         print "FAIL: TEXT" to stderr and exit 1
#   skip TEXT...         print "SKIP: TEXT" and exit 77 (meson counts the test as skipped)
#   require_cmd CMD...   skip unless every command is installed
#   ensure_image NAME    build apps/NAME into the test store unless its recipe is cached
set -euo pipefail

: "${VMPACK:?VMPACK must name the vmpack binary (meson test sets it)}"
: "${VMPACK_SOURCE_ROOT:?VMPACK_SOURCE_ROOT must name the source tree (meson test sets it)}"
: "${VMPACK_BUILD_ROOT:?VMPACK_BUILD_ROOT must name the build tree (meson test sets it)}"

export VMPACK_DATA_DIR="${VMPACK_TEST_DATA:-$VMPACK_BUILD_ROOT/test-data/data}"
export VMPACK_CACHE_DIR="${VMPACK_TEST_CACHE:-$VMPACK_BUILD_ROOT/test-data/cache}"
mkdir -p "$VMPACK_DATA_DIR" "$VMPACK_CACHE_DIR"

# Short path on purpose: unix socket paths under the runtime directory must stay below
# 108 bytes.
TEST_TMP="$(mktemp -d "${TMPDIR:-/tmp}/vmpack-test.XXXXXX")"
export TEST_TMP
export VMPACK_CONFIG_DIR="$TEST_TMP/config"
export VMPACK_RUNTIME_DIR="$TEST_TMP/run"
mkdir -p "$VMPACK_CONFIG_DIR" "$VMPACK_RUNTIME_DIR"

_vp_test_cleanup() {
        rm -rf --one-file-system "$TEST_TMP"
}
trap _vp_test_cleanup EXIT

TEST_NAME="$(basename "$0" .sh)"

say() {
        echo "$TEST_NAME: $*"
}

pass() {
        echo "PASS: $*"
}

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $*"
        exit 77
}

require_cmd() {
        local cmd
        for cmd in "$@"; do
                command -v "$cmd" >/dev/null 2>&1 || skip "$cmd is not installed (scripts/setup installs it)"
        done
}

# Build apps/NAME unless the store already has an image for its current recipe: vmpack build
# looks the recipe digest up first, so a cached image costs only that lookup.
ensure_image() {
        local name="$1"
        local recipe="$VMPACK_SOURCE_ROOT/apps/$name"

        [ -d "$recipe" ] || fail "ensure_image: no recipe at $recipe"
        say "ensure image $name (store $VMPACK_DATA_DIR)"
        "$VMPACK" build "$recipe" || fail "ensure_image: vmpack build $recipe failed (see the build log path above)"
}
