#!/bin/bash
# Build a recipe from a Containerfile with podman. Its base image localhost/vmpack-base:bookworm
# is made once with mmdebstrap and 'podman import' when podman lacks it, so no registry is
# needed. A FROM image that podman does not have gives an error with the command that makes it.
. "$(dirname "$0")/lib.sh"
require_cmd tar2sqfs rdsquashfs mmdebstrap
command -v podman >/dev/null 2>&1 || skip "podman is not installed, so Containerfile recipes cannot be built"
export VMPACK_DATA_DIR="$TEST_TMP/store"

base=localhost/vmpack-base:bookworm
if ! podman image exists "$base"; then
        say "make $base with mmdebstrap and podman import"
        mmdebstrap --variant=apt bookworm - 2>"$TEST_TMP/base.log" | podman import - "$base" >/dev/null ||
                fail "cannot make $base: $(tail -5 "$TEST_TMP/base.log")"
fi

recipe="$TEST_TMP/cf"
mkdir -p "$recipe"
cat >"$recipe/cf.vmpack" <<'RECIPE'
[App]
Exec=/usr/local/bin/hello-containerfile

[Build]
Containerfile=Containerfile
RECIPE
cat >"$recipe/Containerfile" <<'CONTAINERFILE'
FROM localhost/vmpack-base:bookworm
COPY message.txt /usr/share/hello-containerfile/message.txt
RUN printf '#!/bin/sh\ncat /usr/share/hello-containerfile/message.txt\n' >/usr/local/bin/hello-containerfile \
    && chmod 755 /usr/local/bin/hello-containerfile
CONTAINERFILE
echo "built from a Containerfile" >"$recipe/message.txt"

say "build the Containerfile recipe"
"$VMPACK" build "$recipe" >"$TEST_TMP/build.txt" 2>&1 || fail "build failed: $(tail -20 "$TEST_TMP/build.txt")"
rootfs=$(echo "$VMPACK_DATA_DIR"/images/*/rootfs.sqfs)
[ -f "$rootfs" ] || fail "no image stored"
[ "$(rdsquashfs --cat /usr/share/hello-containerfile/message.txt "$rootfs")" = "built from a Containerfile" ] ||
        fail "COPY did not reach the image"
rdsquashfs --list /usr/local/bin "$rootfs" | grep -q ' hello-containerfile$' || fail "RUN did not reach the image"
python3 -c '
import json, sys
meta = json.load(open(sys.argv[1]))
assert meta["builder"] == "podman", meta["builder"]
assert meta["exec"] == ["/usr/local/bin/hello-containerfile"], meta["exec"]
assert "FROM localhost/vmpack-base:bookworm" in meta["recipe"]["containerfile"]
assert meta["packages"].get("apt"), "no package versions"
' "$(dirname "$rootfs")/image.json" || fail "image.json of the Containerfile image is incomplete"
pass "Containerfile recipe builds with COPY and RUN, metadata names podman"

say "a changed file in the build context causes a rebuild"
echo "changed context" >"$recipe/message.txt"
"$VMPACK" build "$recipe" >"$TEST_TMP/changed.txt" 2>&1 || fail "build after the change failed: $(tail -20 "$TEST_TMP/changed.txt")"
grep -q "^Built cf " "$TEST_TMP/changed.txt" || fail "the build used the cache after message.txt changed: $(tail -3 "$TEST_TMP/changed.txt")"
rootfs=$(readlink -f "$VMPACK_DATA_DIR/names/cf")/rootfs.sqfs
[ "$(rdsquashfs --cat /usr/share/hello-containerfile/message.txt "$rootfs")" = "changed context" ] ||
        fail "the rebuilt image lacks the changed message.txt"
pass "changing a COPY source rebuilds the image"

say "Hardened=true removes the shells from a Containerfile image"
hardened="$TEST_TMP/cfh"
mkdir -p "$hardened"
printf 'FROM localhost/vmpack-base:bookworm\n' >"$hardened/Containerfile"
printf '[App]\nExec=ls -l\n\n[Build]\nContainerfile=Containerfile\nHardened=true\n' >"$hardened/cfh.vmpack"
"$VMPACK" build "$hardened" >"$TEST_TMP/hardened.txt" 2>&1 || fail "hardened build failed: $(tail -20 "$TEST_TMP/hardened.txt")"
grep -q "harden: /usr/bin/ls belongs to coreutils" "$TEST_TMP/hardened.txt" || fail "harden did not find the package of ls: $(cat "$TEST_TMP/hardened.txt")"
rootfs=$(readlink -f "$VMPACK_DATA_DIR/names/cfh")/rootfs.sqfs
rdsquashfs --list /usr/bin "$rootfs" >"$TEST_TMP/usr-bin.txt"
grep -Eq ' ls$' "$TEST_TMP/usr-bin.txt" || fail "the hardened image lost /usr/bin/ls"
for shell in sh dash bash; do
        ! grep -Eq " $shell( ->.*)?$" "$TEST_TMP/usr-bin.txt" || fail "the hardened image still has /usr/bin/$shell"
done
pass "hardened Containerfile image keeps ls and has no sh, dash or bash"

sed -i 's/^Exec=.*/Exec=\/usr\/local\/bin\/not-from-a-package/' "$hardened/cfh.vmpack"
if "$VMPACK" build "$hardened" >"$TEST_TMP/unowned.txt" 2>&1; then
        fail "hardening succeeded for an Exec program that no package installed"
fi
grep -q "no package installed /usr/local/bin/not-from-a-package" "$TEST_TMP/unowned.txt" ||
        fail "unclear error for an Exec program outside any package: $(cat "$TEST_TMP/unowned.txt")"
pass "hardening needs the Exec program to come from a package"

say "a missing FROM image gives instructions"
sed -i 's|^FROM .*|FROM localhost/vmpack-base:vmpack-test-missing|' "$recipe/Containerfile"
if "$VMPACK" build "$recipe" >"$TEST_TMP/missing.txt" 2>&1; then
        fail "build with a missing base image succeeded"
fi
grep -q "base image 'localhost/vmpack-base:vmpack-test-missing'.*not in podman's local images" "$TEST_TMP/missing.txt" ||
        fail "unclear error for a missing base: $(cat "$TEST_TMP/missing.txt")"
grep -q "podman import - localhost/vmpack-base:vmpack-test-missing" "$TEST_TMP/missing.txt" ||
        fail "the error does not say how to make the base: $(cat "$TEST_TMP/missing.txt")"
[ -z "$(ls -A "$VMPACK_DATA_DIR/tmp")" ] || fail "the failed build left files in the store's tmp/"
pass "missing base image is reported with the command that makes it"
