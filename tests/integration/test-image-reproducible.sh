#!/bin/bash
# Two builds of one small recipe with SOURCE_DATE_EPOCH set, into two separate stores, must
# give byte-identical squashfs images. The recipe uses Files and Run, so the customize hook's
# output is covered too.
. "$(dirname "$0")/lib.sh"
require_cmd mmdebstrap tar2sqfs rdsquashfs

recipe="$TEST_TMP/tiny"
mkdir -p "$recipe"
echo "copied in by the recipe" >"$recipe/greeting.txt"
cat >"$recipe/tiny.vmpack" <<'RECIPE'
[App]
Exec=/usr/bin/hello
Packages=hello

[Build]
Files=greeting.txt:/etc/vmpack-test/greeting.txt
Run=echo made by Run >/etc/vmpack-test-run.txt
RECIPE

export SOURCE_DATE_EPOCH=1700000000
digests=()
for store in one two; do
        say "build $store (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
        VMPACK_DATA_DIR="$TEST_TMP/$store" "$VMPACK" build --rebuild "$recipe" >"$TEST_TMP/$store.txt" 2>&1 ||
                fail "build $store failed: $(tail -20 "$TEST_TMP/$store.txt")"
        rootfs=$(echo "$TEST_TMP/$store"/images/*/rootfs.sqfs)
        [ -f "$rootfs" ] || fail "build $store stored no rootfs.sqfs"
        digests+=("$(sha256sum "$rootfs" | cut -d' ' -f1)")
done

one=$(echo "$TEST_TMP"/one/images/*/rootfs.sqfs)
two=$(echo "$TEST_TMP"/two/images/*/rootfs.sqfs)
if [ "${digests[0]}" != "${digests[1]}" ]; then
        sqfsdiff --old "$one" --new "$two" 2>&1 | head -20 || true
        fail "the two builds differ: ${digests[0]} and ${digests[1]}"
fi
pass "two builds are byte-identical (${digests[0]:0:12}, $(stat -c %s "$one") bytes)"

[ "$(rdsquashfs --cat /etc/vmpack-test/greeting.txt "$one")" = "copied in by the recipe" ] ||
        fail "Files did not copy greeting.txt to /etc/vmpack-test/greeting.txt"
pass "Files copied greeting.txt into the image"
[ "$(rdsquashfs --cat /etc/vmpack-test-run.txt "$one")" = "made by Run" ] ||
        fail "the Run command did not write /etc/vmpack-test-run.txt"
pass "Run command ran inside the image"
