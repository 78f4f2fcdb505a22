#!/bin/bash
# Policy through the system daemon, with real local users. An instance's VM gets what its
# recipe requests AND its workspace allows AND [Limits] permit. A user cannot install
# outside their workspaces or exceed the policy. A start that requests too much is rejected
# with the permission and the rule, and an override only narrows. A VM with network=none has
# no NIC, filesystems=xdg-download:ro shows exactly that folder read-only, a folder that is
# a symbolic link out of the home is rejected, and every denial is in the audit log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"
. "$(dirname "$0")/users-lib.sh"

require_cmd python3 qemu-img mmdebstrap tar2sqfs
users_create

PROBE=policy-probe
say "build the $PROBE image into the system store (cached by its recipe)"
mkdir -p "$SYSTEM_DATA_DIR"
chmod 0700 "$SYSTEM_DATA_DIR"
VMPACK_DATA_DIR="$SYSTEM_DATA_DIR" "$VMPACK" build "$VMPACK_SOURCE_ROOT/tests/integration/data/$PROBE" >/dev/null ||
        fail "vmpack build of the $PROBE recipe failed"

# The user's home, with a Downloads folder and a private sibling the VM must not see. Its
# parent is 0755 so that the user, and the daemon acting as the user, can reach it.
HOME_PARENT="$(mktemp -d /tmp/vptest-home.XXXXXX)"
chmod 0755 "$HOME_PARENT"
USER_HOME="$HOME_PARENT/home"
mkdir -p "$USER_HOME/Downloads" "$USER_HOME/Private"
echo "downloaded file" >"$USER_HOME/Downloads/report one.txt"
echo "private file" >"$USER_HOME/Private/secret.txt"
chown -R "$TEST_USER:" "$USER_HOME"
chmod 0700 "$USER_HOME/Private"
usermod -d "$USER_HOME" "$TEST_USER" || fail "usermod -d failed"
_policy_cleanup() {
        rm -rf "$HOME_PARENT"
}
# users-lib's EXIT trap removes the users and the daemon; add the home to it.
trap '_policy_cleanup; _users_cleanup' EXIT

POLICY_DIR="$TEST_TMP/system-config/policy.d"
mkdir -p "$POLICY_DIR"
cat >"$POLICY_DIR/10-limits.conf" <<EOF
[Limits]
filesystems=xdg-download:rw
network=uplink
cpus=1
memory=512M
EOF
cat >"$POLICY_DIR/20-workspaces.conf" <<EOF
[Workspace work]
Label=blue
Images=$PROBE
Users=@vmpack
filesystems=xdg-download:ro
network=none

[Workspace online]
Label=green
Images=$PROBE
filesystems=xdg-download:ro
network=uplink

[Workspace banking]
Label=red
Images=firefox

[Workspace admins]
Images=*
Users=@vmpack-admin
EOF
# The line of network=none above, for the rule the refusal must name.
network_line="$(grep -n '^network=none' "$POLICY_DIR/20-workspaces.conf" | cut -d: -f1)"

"$VMPACK" policy check "$POLICY_DIR" >/dev/null || fail "vmpack policy check rejects the test policy"
system_daemon_start

work="$(instance work)"
online="$(instance online)"

# Start the instance with a script as its app, wait for it, and print the app's output.
run_script() {
        local name="$1" script="$2" output
        as_user "$TEST_USER" start --wait --entrypoint /bin/sh "$name" -c "$script" >/dev/null 2>"$TEST_TMP/err" ||
                fail "start of $name failed: $(cat "$TEST_TMP/err"); log: $(as_user "$TEST_USER" logs "$name" 2>&1)"
        as_user "$TEST_USER" logs "$name"
}

say "install: the workspace must exist and allow the image and the user"
expect_denied "image not allowed in workspace banking" "workspace 'banking'" \
        "$TEST_USER" install --no-desktop --workspace banking "$PROBE" "$(instance bank)"
expect_denied "user not allowed in workspace admins" "admins" \
        "$TEST_USER" install --no-desktop --workspace admins "$PROBE" "$(instance adm)"
expect_denied "unknown workspace" "nowhere" \
        "$TEST_USER" install --no-desktop --workspace nowhere "$PROBE" "$(instance none)"
as_user "$TEST_USER" install --no-desktop --data-size 64M --workspace work "$PROBE" "$work" >/dev/null ||
        fail "install into workspace work failed"
as_user "$TEST_USER" install --no-desktop --data-size 64M --workspace online "$PROBE" "$online" >/dev/null ||
        fail "install into workspace online failed"
pass "installed $work (workspace work) and $online (workspace online)"

say "start: the recipe asks network=uplink, which workspace work does not grant"
expect_denied "start names the permission" "network=uplink is not granted" "$TEST_USER" start "$work"
expect_denied "start names the rule" "20-workspaces.conf:$network_line" "$TEST_USER" start "$work"
expect_denied "start says how to go without it" "vmpack override $work --nonetwork" "$TEST_USER" start "$work"

say "override: narrowing is accepted, widening refused"
expect_denied "override cannot widen a folder to rw" "only narrow" \
        "$TEST_USER" override "$work" --filesystem=xdg-download:rw
expect_denied "override cannot add a folder" "only narrow" \
        "$TEST_USER" override "$work" --nofilesystem=xdg-documents
as_user "$TEST_USER" override "$work" --nonetwork >/dev/null || fail "override --nonetwork failed"
stored="$(as_user "$TEST_USER" override "$work")"
grep -qF -- "--nonetwork" <<<"$stored" || fail "override does not show --nonetwork: $stored"
pass "override --nonetwork stored: $stored"

say "the granted VM: no NIC, exactly Downloads, read-only"
output="$(run_script "$work" '
echo "net: $(ls /sys/class/net | tr "\n" " ")"
echo "downloads: $(ls ~/Downloads | tr "\n" "|")"
cat ~/Downloads/"report one.txt"
if echo x >~/Downloads/new.txt 2>/dev/null; then echo "write: ok"; else echo "write: refused"; fi
if [ -e ~/Private ]; then echo "private: visible"; else echo "private: absent"; fi
grep " $HOME/Downloads " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1
')"
say "VM said: $(tr '\n' ';' <<<"$output")"
grep -qx "net: lo " <<<"$output" || fail "network=none VM has a NIC: $output"
pass "network=none: only lo"
grep -qx "downloads: report one.txt|" <<<"$output" || fail "Downloads shows other files: $output"
grep -qx "downloaded file" <<<"$output" || fail "the shared file's content is wrong: $output"
pass "xdg-download shows exactly the folder's file"
grep -qx "write: refused" <<<"$output" || fail "a write into the read-only folder succeeded: $output"
grep -qx "9p ro" <<<"$output" || fail "Downloads is not a read-only 9p mount: $output"
[ ! -e "$USER_HOME/Downloads/new.txt" ] || fail "the guest created a file in the host folder"
pass "xdg-download:ro is read-only in the guest and on the host"
grep -qx "private: absent" <<<"$output" || fail "a sibling folder of Downloads is visible: $output"
pass "the home's other folders are absent"

say "workspace online grants the uplink: the VM has a NIC"
output="$(run_script "$online" 'echo "net: $(ls /sys/class/net | tr "\n" " ")"')"
grep -q "^net: .*eth0" <<<"$output" || fail "network=uplink VM has no eth0: $output"
pass "network=uplink: $output"

say "a Downloads folder that is a symbolic link out of the home is refused"
mv "$USER_HOME/Downloads" "$USER_HOME/Downloads.real"
ln -s /etc "$USER_HOME/Downloads"
chown -h "$TEST_USER:" "$USER_HOME/Downloads"
expect_denied "symlink escape refused at start" "filesystems=xdg-download" "$TEST_USER" start "$work"
rm "$USER_HOME/Downloads"
mv "$USER_HOME/Downloads.real" "$USER_HOME/Downloads"

say "a policy change is recorded, and takes effect at the next start"
sed -i 's/^memory=512M/memory=384M/' "$POLICY_DIR/10-limits.conf"
run_script "$work" 'true' >/dev/null

say "the audit log has the denials, the grant and the policy change"
audit="$(as_user "$TEST_USER" audit --json --instance "$work")"
python3 - "$audit" <<'EOF' || fail "user's audit log lacks the expected entries: ${audit:0:1500}"
import json, sys
entries = json.loads(sys.argv[1])
denied = [e for e in entries if e["action"] == "Start" and e["decision"] == "deny"]
assert any("network=uplink" in e["reason"] for e in denied), "no network denial"
assert any("filesystems=xdg-download" in e["reason"] for e in denied), "no folder denial"
allowed = [e for e in entries if e["action"] == "Start" and e["decision"] == "allow"]
assert allowed, "no allowed start"
detail = allowed[-1]["detail"]
detail = json.loads(detail) if isinstance(detail, str) else detail
assert detail["permissions"].get("network") in (None, "none"), detail
assert [s["guest_path"] for s in detail["shares"]] == ["/home/user/Downloads"], detail
assert any(e["action"] == "Override" and e["decision"] == "allow" for e in entries), "no override entry"
EOF
pass "user's audit log: start denials with reasons, the allowed grant with its share, the override"
admin_audit="$(as_user "$TEST_ADMIN" audit --json)"
grep -q '"policy-changed"' <<<"$admin_audit" || fail "no policy-changed entry for the administrator"
pass "the administrator sees the policy change"
denied_installs="$(python3 -c '
import json, sys
print(sum(1 for e in json.loads(sys.argv[1]) if e["action"] == "Install" and e["decision"] == "deny"))' "$admin_audit")"
[ "$denied_installs" -ge 3 ] || fail "expected 3 denied installs in the audit log, found $denied_installs"
pass "the administrator sees the $denied_installs denied installs"
