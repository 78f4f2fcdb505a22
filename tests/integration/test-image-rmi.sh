#!/bin/bash
# vmpack rmi: removing one of two names keeps the image; removing the last name deletes the
# image and its recipe links, unless an instance (instances/<name>/instance.json) uses it,
# which needs --force. Uses small imported images, so it needs no mirror.
. "$(dirname "$0")/lib.sh"
require_cmd tar2sqfs
export VMPACK_DATA_DIR="$TEST_TMP/store"

root="$TEST_TMP/root"
mkdir -p "$root/etc"
echo "ID=vmpack-rmi-test" >"$root/etc/os-release"
tar --create --owner=0 --group=0 --directory "$root" --file "$TEST_TMP/rootfs.tar" .

"$VMPACK" import "$TEST_TMP/rootfs.tar" first >/dev/null 2>&1 || fail "import first failed"
"$VMPACK" import "$TEST_TMP/rootfs.tar" second >/dev/null 2>&1 || fail "import second failed"
digest=$(basename "$(readlink "$VMPACK_DATA_DIR/names/first")")
[ -d "$VMPACK_DATA_DIR/images/$digest" ] || fail "no image directory for $digest"

"$VMPACK" rmi first >"$TEST_TMP/out.txt" || fail "rmi first failed: $(cat "$TEST_TMP/out.txt")"
[ ! -e "$VMPACK_DATA_DIR/names/first" ] || fail "rmi first left the name"
[ -d "$VMPACK_DATA_DIR/images/$digest" ] || fail "rmi first deleted the image that 'second' still names"
pass "removing one of two names keeps the image"

mkdir -p "$VMPACK_DATA_DIR/instances/work"
printf '{"name": "work", "image": "%s"}\n' "$digest" >"$VMPACK_DATA_DIR/instances/work/instance.json"
if "$VMPACK" rmi second >"$TEST_TMP/busy.txt" 2>&1; then
        fail "rmi removed an image that instance 'work' uses"
fi
grep -q "used by instance(s) work" "$TEST_TMP/busy.txt" || fail "unclear error for a used image: $(cat "$TEST_TMP/busy.txt")"
[ -e "$VMPACK_DATA_DIR/names/second" ] && [ -d "$VMPACK_DATA_DIR/images/$digest" ] ||
        fail "the refused rmi changed the store"
pass "rmi refuses to remove an image that an instance uses"

"$VMPACK" rmi --force second >"$TEST_TMP/out.txt" 2>&1 || fail "rmi --force failed: $(cat "$TEST_TMP/out.txt")"
[ ! -e "$VMPACK_DATA_DIR/names/second" ] && [ ! -e "$VMPACK_DATA_DIR/images/$digest" ] ||
        fail "rmi --force left the name or the image"
pass "rmi --force removes the image and its name"

if "$VMPACK" rmi no-such-image >"$TEST_TMP/missing.txt" 2>&1; then
        fail "rmi of an unknown name succeeded"
fi
grep -q "no image named 'no-such-image'" "$TEST_TMP/missing.txt" || fail "unclear error: $(cat "$TEST_TMP/missing.txt")"
pass "rmi of an unknown name fails with a clear error"
[ "$("$VMPACK" images | wc -l)" -eq 1 ] || fail "vmpack images still lists images: $("$VMPACK" images)"
pass "vmpack images is empty afterwards"
