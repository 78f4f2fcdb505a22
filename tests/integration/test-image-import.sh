#!/bin/bash
# vmpack import: a small rootfs tar gives one image digest whether it is plain, compressed
# with gzip, bzip2, xz or zstd, or read from standard input. Input that is not a whole tar
# archive is rejected with a clear error. An existing name is replaced only with --force.
. "$(dirname "$0")/lib.sh"
require_cmd tar2sqfs rdsquashfs gzip bzip2 xz zstd
export VMPACK_DATA_DIR="$TEST_TMP/store"

root="$TEST_TMP/root"
mkdir -p "$root/usr/bin" "$root/etc"
printf '#!/bin/sh\necho imported\n' >"$root/usr/bin/imported-app"
chmod 755 "$root/usr/bin/imported-app"
echo "ID=vmpack-test" >"$root/etc/os-release"
mkdir -p "$root/usr/share/vmpack-test"
seq 1 20000 >"$root/usr/share/vmpack-test/numbers.txt"
ln -s usr/bin "$root/bin"
tar --create --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
        --directory "$root" --file "$TEST_TMP/rootfs.tar" .

gzip -k "$TEST_TMP/rootfs.tar"
bzip2 -k "$TEST_TMP/rootfs.tar"
xz -k "$TEST_TMP/rootfs.tar"
zstd -q "$TEST_TMP/rootfs.tar"

expected=""
for input in rootfs.tar rootfs.tar.gz rootfs.tar.bz2 rootfs.tar.xz rootfs.tar.zst; do
        name="imp-${input//./-}"
        "$VMPACK" import "$TEST_TMP/$input" "$name" >"$TEST_TMP/out.txt" 2>&1 ||
                fail "import of $input failed: $(cat "$TEST_TMP/out.txt")"
        digest=$(readlink "$VMPACK_DATA_DIR/names/$name")
        digest=${digest##*/}
        [ -n "$expected" ] || expected=$digest
        [ "$digest" = "$expected" ] || fail "$input gave image $digest, the plain tar gave $expected"
        pass "import $input gives image ${digest:0:12}"
done

"$VMPACK" import - imp-stdin <"$TEST_TMP/rootfs.tar.zst" >"$TEST_TMP/out.txt" 2>&1 ||
        fail "import from standard input failed: $(cat "$TEST_TMP/out.txt")"
[ "$(basename "$(readlink "$VMPACK_DATA_DIR/names/imp-stdin")")" = "$expected" ] ||
        fail "import from standard input gave another image"
pass "import from standard input gives the same image"

rootfs="$VMPACK_DATA_DIR/images/$expected/rootfs.sqfs"
[ "$(rdsquashfs --cat /usr/bin/imported-app "$rootfs")" = "$(cat "$root/usr/bin/imported-app")" ] ||
        fail "/usr/bin/imported-app differs inside the image"
rdsquashfs --list / "$rootfs" | grep -Eq '^l.* bin -> usr/bin$' || fail "the bin -> usr/bin symlink is missing"
pass "files and symlinks arrive in the image"

say "non-tar input is rejected"
echo "this is not a tar archive" >"$TEST_TMP/junk.tar"
if "$VMPACK" import "$TEST_TMP/junk.tar" junk >"$TEST_TMP/junk.txt" 2>&1; then
        fail "import of a text file succeeded"
fi
grep -q "not a tar archive" "$TEST_TMP/junk.txt" || fail "unclear error for a text file: $(cat "$TEST_TMP/junk.txt")"
# Cut inside the data of numbers.txt, which tar2sqfs detects in a compressed stream.
head -c 50000 "$TEST_TMP/rootfs.tar" | gzip >"$TEST_TMP/truncated.tar.gz"
if "$VMPACK" import "$TEST_TMP/truncated.tar.gz" truncated >"$TEST_TMP/truncated.txt" 2>&1; then
        fail "import of a truncated compressed tar succeeded"
fi
grep -q "unexpected end-of-file" "$TEST_TMP/truncated.txt" || fail "unclear error for a truncated tar: $(cat "$TEST_TMP/truncated.txt")"
grep -q "full build log: " "$TEST_TMP/truncated.txt" || fail "no log path for a failed import: $(cat "$TEST_TMP/truncated.txt")"
head -c 50001 "$TEST_TMP/rootfs.tar" >"$TEST_TMP/truncated.tar"
if "$VMPACK" import "$TEST_TMP/truncated.tar" truncated >"$TEST_TMP/truncated-plain.txt" 2>&1; then
        fail "import of a truncated plain tar succeeded"
fi
grep -q "truncated tar archive" "$TEST_TMP/truncated-plain.txt" ||
        fail "unclear error for a truncated plain tar: $(cat "$TEST_TMP/truncated-plain.txt")"
[ ! -e "$VMPACK_DATA_DIR/names/junk" ] && [ ! -e "$VMPACK_DATA_DIR/names/truncated" ] ||
        fail "a failed import left a name behind"
[ -z "$(ls -A "$VMPACK_DATA_DIR/tmp")" ] || fail "a failed import left $(ls "$VMPACK_DATA_DIR/tmp") in the store's tmp/"
pass "junk and truncated input are rejected and leave nothing behind"

if "$VMPACK" import "$TEST_TMP/rootfs.tar" "Bad/Name" >"$TEST_TMP/bad.txt" 2>&1; then
        fail "import accepted the name Bad/Name"
fi
grep -q "invalid image name 'Bad/Name'" "$TEST_TMP/bad.txt" || fail "unclear error for a bad name: $(cat "$TEST_TMP/bad.txt")"
pass "invalid image names are rejected"

say "an existing name is kept unless --force; --force reports what happened to the old image"
echo "second" >"$root/etc/second"
tar --create --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
        --directory "$root" --file "$TEST_TMP/second.tar" .
status=0
"$VMPACK" import "$TEST_TMP/second.tar" imp-rootfs-tar >"$TEST_TMP/exists.txt" 2>&1 || status=$?
[ "$status" = 1 ] || fail "import over an existing name: status $status, expected 1: $(cat "$TEST_TMP/exists.txt")"
grep -q "image imp-rootfs-tar exists (${expected:0:12}): use --force" "$TEST_TMP/exists.txt" ||
        fail "unclear error for an existing name: $(cat "$TEST_TMP/exists.txt")"
[ "$(basename "$(readlink "$VMPACK_DATA_DIR/names/imp-rootfs-tar")")" = "$expected" ] ||
        fail "the rejected import changed the name"
pass "an existing name is kept"

"$VMPACK" import --force "$TEST_TMP/second.tar" imp-rootfs-tar >"$TEST_TMP/force.txt" 2>&1 ||
        fail "import --force failed: $(cat "$TEST_TMP/force.txt")"
grep -q "^Replaced imp-rootfs-tar (old image ${expected:0:12} kept: used by imp-rootfs-tar-bz2, " "$TEST_TMP/force.txt" ||
        fail "unclear report of a kept image: $(cat "$TEST_TMP/force.txt")"
[ -d "$VMPACK_DATA_DIR/images/$expected" ] || fail "--force removed an image that other names use"
pass "--force keeps an old image that other names use"

echo "third" >"$root/etc/third"
tar --create --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
        --directory "$root" --file "$TEST_TMP/third.tar" .
"$VMPACK" import "$TEST_TMP/third.tar" solo >/dev/null 2>&1 || fail "import of third.tar failed"
solo=$(basename "$(readlink "$VMPACK_DATA_DIR/names/solo")")
"$VMPACK" import -f "$TEST_TMP/rootfs.tar" solo >"$TEST_TMP/force.txt" 2>&1 ||
        fail "import -f failed: $(cat "$TEST_TMP/force.txt")"
grep -qx "Replaced solo (old image ${solo:0:12} removed)" "$TEST_TMP/force.txt" ||
        fail "unclear report of a removed image: $(cat "$TEST_TMP/force.txt")"
[ ! -e "$VMPACK_DATA_DIR/images/$solo" ] || fail "the unused old image of solo is still stored"
pass "--force removes an old image that nothing else uses"

say "build does not take over a name that an import made unless --force"
mkdir -p "$TEST_TMP/recipe"
printf '[App]\nName=Solo\nExec=/bin/true\nPackages=coreutils\n' >"$TEST_TMP/recipe/solo.vmpack"
status=0
"$VMPACK" build "$TEST_TMP/recipe/solo.vmpack" >"$TEST_TMP/build.txt" 2>&1 || status=$?
[ "$status" = 1 ] || fail "build over an imported name: status $status, expected 1: $(cat "$TEST_TMP/build.txt")"
grep -q "image solo exists (${expected:0:12}, imported, not built from a recipe): use --force" "$TEST_TMP/build.txt" ||
        fail "unclear error for a taken name: $(cat "$TEST_TMP/build.txt")"
[ "$(basename "$(readlink "$VMPACK_DATA_DIR/names/solo")")" = "$expected" ] || fail "the rejected build changed the name"
pass "build keeps an imported name"

say "images --verify hashes the image files and names a damaged one"
"$VMPACK" images --verify >"$TEST_TMP/verify.txt" 2>&1 || fail "verify of an intact store failed: $(cat "$TEST_TMP/verify.txt")"
expect_lines=$(find "$VMPACK_DATA_DIR/names" -mindepth 1 | wc -l)
[ "$(grep -c ' ok$' "$TEST_TMP/verify.txt")" = "$expect_lines" ] || fail "not every image is ok: $(cat "$TEST_TMP/verify.txt")"
pass "an intact store verifies"
second=$(basename "$(readlink "$VMPACK_DATA_DIR/names/imp-rootfs-tar")")
printf 'X' | dd of="$VMPACK_DATA_DIR/images/$second/rootfs.sqfs" bs=1 seek=5000 conv=notrunc status=none
status=0
"$VMPACK" images --verify imp-rootfs-tar >"$TEST_TMP/verify.txt" 2>&1 || status=$?
[ "$status" = 1 ] || fail "verify of a damaged image: status $status, expected 1"
grep -q "^imp-rootfs-tar  *${second:0:12}  DAMAGED: .*vmpack rmi imp-rootfs-tar" "$TEST_TMP/verify.txt" ||
        fail "unclear report of a damaged image: $(cat "$TEST_TMP/verify.txt")"
pass "a damaged image is reported"

say "an invalid image name is a usage error in rmi and install"
for command in "rmi Bad!Name" "install --no-desktop Bad!Name inst"; do
        status=0
        # shellcheck disable=SC2086 # split the command on purpose
        "$VMPACK" $command >/dev/null 2>"$TEST_TMP/err" || status=$?
        [ "$status" = 2 ] || fail "vmpack $command: status $status, expected 2"
        grep -q "^vmpack ${command%% *}: invalid image name 'Bad!Name'" "$TEST_TMP/err" ||
                fail "vmpack $command message: $(cat "$TEST_TMP/err")"
done
pass "invalid image names exit 2"
