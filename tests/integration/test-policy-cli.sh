#!/bin/bash
# vmpack policy as an administrator runs it, without a daemon or a VM: check counts files
# and workspaces or reports FILE:LINE: key '...' with exit status 1, show prints each rule
# with its file and line after [Limits], a later file replaces keys, a missing directory
# gives the built-in policy, an empty one grants nothing, and usage errors exit 2.
. "$(dirname "$0")/lib.sh"

export VMPACK_CONFIG_DIR="$TEST_TMP/config"
DIR="$VMPACK_CONFIG_DIR/policy.d"

say "a missing policy directory gives the built-in policy"
out=$("$VMPACK" policy check) || fail "vmpack policy check exited with status $?: $out"
[ "$out" = "$DIR: not found, so the built-in policy applies: 1 workspace, OK" ] || fail "unexpected output: $out"
out=$("$VMPACK" policy show) || fail "vmpack policy show exited with status $?"
grep -q "^Workspace default (<built-in>:" <<<"$out" || fail "show lacks the default workspace: $out"
"$VMPACK" policy show --default | grep -q '^\[Workspace default\]$' || fail "show --default lacks [Workspace default]"
pass "built-in policy"

say "an empty policy directory grants nothing"
mkdir -p "$DIR"
out=$("$VMPACK" policy check) || fail "vmpack policy check exited with status $?: $out"
[ "$out" = "$DIR: 0 files, so nothing is granted (deny by default), OK" ] || fail "unexpected output: $out"
"$VMPACK" policy show | grep -q "nothing is granted (deny by default)" || fail "show does not say that nothing is granted"
pass "empty directory"

say "two files: [Limits] cap a workspace and a later file replaces a key"
cat >"$DIR/10-base.conf" <<'POLICY'
[Limits]
network=uplink
cpus=2
memory=1G

[Workspace work]
Label=blue
Images=firefox;pdftotext
network=uplink
audio=playback
cpus=4
POLICY
cat >"$DIR/20-work.conf" <<'POLICY'
# Cut the network of workspace work.
[Workspace work]
network=none
POLICY
out=$("$VMPACK" policy check) || fail "vmpack policy check exited with status $?: $out"
[ "$out" = "$DIR: 2 files, 1 workspace, OK" ] || fail "unexpected output: $out"
out=$("$VMPACK" policy show work) || fail "vmpack policy show work exited with status $?"
grep -Eq "^  network +none +$DIR/20-work.conf:3\$" <<<"$out" || fail "network is not none from 20-work.conf:3: $out"
grep -Eq "^  cpus +2 +$DIR/10-base.conf:11\$" <<<"$out" || fail "cpus is not capped to 2: $out"
grep -q "capped: cpus: 4 requested, capped to 2 by \[Limits\] ($DIR/10-base.conf:3)" <<<"$out" ||
        fail "show does not name the cpus cap: $out"
grep -Eq "^  audio +none +\(no rule\)\$" <<<"$out" || fail "audio is not cut by the missing [Limits] rule: $out"
json=$("$VMPACK" policy show --json work) || fail "vmpack policy show --json exited with status $?"
python3 -c '
import json, sys
policy = json.loads(sys.argv[1])
network = policy["workspaces"]["work"]["permissions"]["network"]
assert network["value"] == "none", network
assert network["source"].endswith("/20-work.conf:3"), network
assert len(policy["digest"]) == 64, policy["digest"]
' "$json" || fail "show --json does not match: $json"
pass "show applies limits and drop-ins"

say "an invalid value fails with its file, line and key"
printf '[Workspace games]\nnetwork=Uplink\n' >"$DIR/30-games.conf"
status=0
err=$("$VMPACK" policy check 2>&1) || status=$?
[ "$status" -eq 1 ] || fail "expected exit status 1, got $status: $err"
expected="vmpack policy check: $DIR/30-games.conf:2: key 'network': invalid network 'Uplink' (valid: none, uplink or a network VM name of 1 to 32 characters a-z, 0-9, -)"
[ "$err" = "$expected" ] || fail "unexpected message: $err"
rm "$DIR/30-games.conf"
pass "invalid network reported at line 2"

say "usage errors exit 2"
for args in "" "bogus" "check --json" "show --bogus" "check a b" "show --default work"; do
        status=0
        # shellcheck disable=SC2086
        "$VMPACK" policy $args >/dev/null 2>&1 || status=$?
        [ "$status" -eq 2 ] || fail "vmpack policy $args: expected exit status 2, got $status"
done
status=0
"$VMPACK" policy show nosuch >/dev/null 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "vmpack policy show nosuch: expected exit status 1, got $status"
pass "usage errors"
