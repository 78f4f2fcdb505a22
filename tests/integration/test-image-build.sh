#!/bin/bash
# Build the bundled pdftotext recipe (or reuse it from the test store) and check the stored
# image: listed by 'vmpack images', pdftotext inside, no shell (the recipe is hardened),
# metadata for the runner, and a second build served from the recipe cache.
. "$(dirname "$0")/lib.sh"
require_cmd mmdebstrap tar2sqfs rdsquashfs

ensure_image pdftotext

say "vmpack images lists pdftotext"
"$VMPACK" images >"$TEST_TMP/images.txt"
grep -Eq '^pdftotext +[0-9a-f]{12} ' "$TEST_TMP/images.txt" || fail "pdftotext missing from 'vmpack images': $(cat "$TEST_TMP/images.txt")"
pass "vmpack images lists pdftotext"

"$VMPACK" images --json >"$TEST_TMP/images.json"
rootfs="$(python3 -c '
import json, sys
for image in json.load(open(sys.argv[1])):
    if image["name"] == "pdftotext":
        print(image["rootfs"])' "$TEST_TMP/images.json")"
[ -f "$rootfs" ] || fail "vmpack images --json gives no rootfs file for pdftotext ($rootfs)"
image_dir="$(dirname "$rootfs")"
digest="$(basename "$image_dir")"
[ "$(sha256sum "$rootfs" | cut -d' ' -f1)" = "$digest" ] || fail "image directory $digest does not match the SHA-256 of its rootfs.sqfs"
pass "image is stored under the SHA-256 of its squashfs"

say "the squashfs holds /usr/bin/pdftotext and no shell"
rdsquashfs --list /usr/bin "$rootfs" >"$TEST_TMP/usr-bin.txt"
grep -Eq ' pdftotext$' "$TEST_TMP/usr-bin.txt" || fail "/usr/bin/pdftotext is missing from $rootfs"
pass "/usr/bin/pdftotext is in the image"
for shell in sh dash bash perl; do
        if grep -Eq " $shell( ->.*)?$" "$TEST_TMP/usr-bin.txt"; then
                fail "hardened image still has /usr/bin/$shell"
        fi
done
pass "hardened image has no sh, dash, bash or perl"
rdsquashfs --stat /usr/bin/pdftotext "$rootfs" >/dev/null || fail "cannot stat /usr/bin/pdftotext in $rootfs"

say "image.json has what the runner needs"
python3 - "$image_dir/image.json" <<'PY' || fail "image.json is incomplete (see above)"
import json, sys
meta = json.load(open(sys.argv[1]))
problems = []
if meta.get("exec") != ["pdftotext", "-layout", "%f", "-"]:
    problems.append(f"exec is {meta.get('exec')!r}")
if meta.get("resources", {}).get("memory_bytes") != 256 * 1024 * 1024:
    problems.append(f"resources are {meta.get('resources')!r}")
if meta.get("permissions", {}).get("network") != "none":
    problems.append(f"permissions are {meta.get('permissions')!r}")
if not meta.get("packages", {}).get("poppler-utils"):
    problems.append("no poppler-utils version in packages")
if meta.get("hardened") is not True or "/usr/bin/sh" not in meta.get("hardened_removed", []):
    problems.append(f"hardened_removed lacks /usr/bin/sh: {meta.get('hardened_removed')!r}")
if len(meta.get("recipe", {}).get("digest", "")) != 64:
    problems.append("no recipe digest")
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
pass "image.json has exec, resources, permissions, packages and the removed files"

say "a second build of the unchanged recipe uses the cache"
start=$(date +%s)
"$VMPACK" build "$VMPACK_SOURCE_ROOT/apps/pdftotext" >"$TEST_TMP/second.txt" 2>&1 || fail "second build failed: $(cat "$TEST_TMP/second.txt")"
grep -q "^Cached pdftotext ${digest:0:12}" "$TEST_TMP/second.txt" || fail "second build did not report the cached image: $(cat "$TEST_TMP/second.txt")"
[ $(($(date +%s) - start)) -lt 5 ] || fail "cached build took more than 5 s"
pass "unchanged recipe reuses image ${digest:0:12}"
