#!/bin/bash
# vmpackd and the instance verbs without booting a VM. The daemon starts on demand, replies
# to malformed requests with named errors and stays up, and serves several clients at once.
# install, list, info and uninstall keep the instance directory, data volume, desktop entry
# and state in step.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"

require_cmd qemu-img python3
ensure_store_shell_image

say "the first command starts a session daemon"
[ -z "$(daemon_pid)" ] || fail "a daemon runs before the first command"
"$VMPACK" list --json >"$TEST_TMP/list.json" || fail "vmpack list failed"
python3 -c 'import json,sys; assert isinstance(json.load(open(sys.argv[1])), list)' "$TEST_TMP/list.json" ||
        fail "list --json is not a JSON array: $(cat "$TEST_TMP/list.json")"
pid="$(daemon_pid)"
[ -n "$pid" ] && kill -0 "$pid" || fail "no daemon pid in $VMPACK_RUNTIME_DIR/vmpackd.pid"
[ -S "$VMPACK_RUNTIME_DIR/vmpackd.sock" ] || fail "no socket at $VMPACK_RUNTIME_DIR/vmpackd.sock"
pass "daemon pid $pid listens"

say "malformed requests get named errors and the daemon stays up"
expect_error() {
        local request="$1" expected="$2" reply
        reply="$(api_call "$request")"
        python3 - "$reply" "$expected" <<'EOF' || fail "request ${request:0:60}: expected $expected, got: ${reply:0:300}"
import json, sys
reply = json.loads(sys.argv[1])
assert reply["error"] == sys.argv[2], reply
assert isinstance(reply["parameters"]["message"], str) and reply["parameters"]["message"], reply
EOF
        pass "${request:0:50} -> ${expected#io.bheem.vmpack.}"
}
expect_error 'garbage' io.bheem.vmpack.InvalidRequest
expect_error '{"method":' io.bheem.vmpack.InvalidRequest
expect_error '[1,2,3]' io.bheem.vmpack.InvalidRequest
expect_error '{"method":"io.bheem.vmpack.Reboot"}' io.bheem.vmpack.MethodNotFound
expect_error '{"method":"io.bheem.vmpack.Info","parameters":{"name":7}}' io.bheem.vmpack.InvalidParameter
expect_error '{"method":"io.bheem.vmpack.Info","parameters":{}}' io.bheem.vmpack.InvalidParameter
expect_error '{"method":"io.bheem.vmpack.Info","parameters":{"name":"x","color":1}}' io.bheem.vmpack.InvalidParameter
expect_error '{"method":"io.bheem.vmpack.Info","parameters":{"name":"no-such-instance"}}' io.bheem.vmpack.InstanceNotFound
expect_error '{"method":"io.bheem.vmpack.Install","parameters":{"image":"no-such-image","name":"x1"}}' io.bheem.vmpack.ImageNotFound
expect_error '{"method":"io.bheem.vmpack.Install","parameters":{"image":"x","name":"../evil"}}' io.bheem.vmpack.InvalidParameter
expect_error "{\"method\":\"io.bheem.vmpack.Install\",\"parameters\":{\"image\":\"$SHELL_STORE_IMAGE\",\"name\":\"t$$-w\",\"workspace\":\"a b\"}}" io.bheem.vmpack.InvalidParameter
expect_error "{\"method\":\"io.bheem.vmpack.Install\",\"parameters\":{\"image\":\"$SHELL_STORE_IMAGE\",\"name\":\"t$$-s\",\"data_size\":1024}}" io.bheem.vmpack.InvalidParameter

say "a message over 1 MiB without a NUL gets MessageTooLarge and its connection closes"
python3 - "$VMPACK_RUNTIME_DIR/vmpackd.sock" <<'EOF' || fail "oversized message was not rejected"
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
try:
    s.sendall(b"x" * (2 * 1024 * 1024))
except (BrokenPipeError, ConnectionResetError):
    pass
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
reply = json.loads(data.rstrip(b"\0"))
assert reply["error"] == "io.bheem.vmpack.MessageTooLarge", reply
EOF
pass "oversized message rejected"

reply="$(api_call '{"method":"io.bheem.vmpack.GetInfo"}')"
[ "$(daemon_pid)" = "$pid" ] && kill -0 "$pid" || fail "the daemon died after bad requests"
echo "$reply" | grep -q '"mode":"session"' || fail "GetInfo after bad requests: $reply"
pass "daemon $pid still answers"

say "several clients at once, one of them idle and one sending half a message"
python3 - "$VMPACK_RUNTIME_DIR/vmpackd.sock" <<'EOF' &
import socket, sys, time
idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
idle.connect(sys.argv[1])
half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
half.connect(sys.argv[1])
half.sendall(b'{"method":"io.bheem.vmpack.Li')
time.sleep(5)
EOF
holder=$!
sleep 0.5
for i in $(seq 8); do
        "$VMPACK" list --json >"$TEST_TMP/list-$i.json" &
done
failed=0
for job in $(jobs -p); do
        [ "$job" = "$holder" ] && continue
        wait "$job" || failed=$((failed + 1))
done
[ "$failed" -eq 0 ] || fail "$failed of 8 concurrent list calls failed"
wait "$holder"
pass "8 concurrent clients answered while 2 others held connections"

A="$(instance a)"
B="$(instance b)"

# A policy with a second workspace: without policy files only "default" exists.
mkdir -p "$VMPACK_CONFIG_DIR/policy.d"
printf '[Workspace default]\nImages=*\n\n[Workspace work]\nImages=*\n' >"$VMPACK_CONFIG_DIR/policy.d/10-test.conf"

say "install validates names and rejects duplicates"
for bad in -x "a/b" "$(printf 'x%.0s' $(seq 65))" ""; do
        set +e
        "$VMPACK" install --no-desktop "$SHELL_STORE_IMAGE" "$bad" 2>"$TEST_TMP/err"
        status=$?
        set -e
        expect_eq "install '${bad:0:20}' exit status" "$status" 2
done
"$VMPACK" install --data-size 64M "$SHELL_STORE_IMAGE" "$A" || fail "install $A failed"
"$VMPACK" install --workspace work "$SHELL_STORE_IMAGE" "$B" || fail "install $B failed"
set +e
"$VMPACK" install --workspace banking "$SHELL_STORE_IMAGE" "$(instance c)" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "install into a workspace the policy lacks: exit status" "$status" 1
grep -q "no \[Workspace banking\]" "$TEST_TMP/err" || fail "unknown workspace message: $(cat "$TEST_TMP/err")"
set +e
"$VMPACK" install "$SHELL_STORE_IMAGE" "$A" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "duplicate install exit status" "$status" 1
grep -q "already exists" "$TEST_TMP/err" || fail "duplicate install message: $(cat "$TEST_TMP/err")"
pass "duplicate rejected: $(cat "$TEST_TMP/err")"

say "instance directory, data volume and desktop entry"
dir="$VMPACK_DATA_DIR/instances/$A"
python3 - "$dir/instance.json" <<'EOF' || fail "instance.json: $(cat "$dir/instance.json")"
import json, sys
m = json.load(open(sys.argv[1]))
for key in ("name", "image", "workspace", "created"):
    assert isinstance(m[key], str) and m[key], key
assert len(m["image"]) == 64, m["image"]
EOF
pass "instance.json has name, image digest, workspace, created"
qemu-img info --output=json "$dir/data.qcow2" >"$TEST_TMP/qemu-img.json" || fail "data.qcow2 is no image"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["format"]=="qcow2" and d["virtual-size"]==64<<20, d' \
        "$TEST_TMP/qemu-img.json" || fail "data.qcow2: $(cat "$TEST_TMP/qemu-img.json")"
pass "data.qcow2 is qcow2 of 64 MiB"
desktop="$XDG_DATA_HOME/applications/vmpack-$A.desktop"
[ -f "$desktop" ] || fail "no desktop entry at $desktop"
grep -qE "^Exec=.*vmpack start $A %F$" "$desktop" || fail "desktop Exec line: $(cat "$desktop")"
pass "desktop entry $desktop"

say "list and info JSON shapes"
"$VMPACK" list --json >"$TEST_TMP/list.json"
"$VMPACK" info --json "$B" >"$TEST_TMP/info.json"
python3 - "$TEST_TMP/list.json" "$TEST_TMP/info.json" "$A" "$B" <<'EOF' || fail "JSON shape"
import json, sys
instances = {i["name"]: i for i in json.load(open(sys.argv[1]))}
a, b = instances[sys.argv[3]], instances[sys.argv[4]]
for i in (a, b):
    for key in ("name", "image", "image_name", "workspace", "created", "state", "owner_uid"):
        assert key in i, (key, i)
    assert i["state"] == "stopped", i
assert a["workspace"] == "default", a
assert b["workspace"] == "work", b
info = json.load(open(sys.argv[2]))
assert info["name"] == sys.argv[4]
assert info["events"][-1]["event"] == "installed", info["events"]
assert isinstance(info["events"][-1]["caller_uid"], int)
assert info["data_path"].endswith("/data.qcow2")
EOF
pass "list and info have the documented members"
"$VMPACK" info "$B" >"$TEST_TMP/info.txt"
grep -qE "^Data volume: +/.*/data\.qcow2 \([0-9.]+ [KMG]iB on disk\)$" "$TEST_TMP/info.txt" ||
        fail "info text lacks the data volume: $(cat "$TEST_TMP/info.txt")"
pass "info text shows the data volume and its size"

say "stop and logs of a stopped instance"
set +e
"$VMPACK" stop "$A" 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "stop of a stopped instance" "$status" 1
grep -q "not running" "$TEST_TMP/err" || fail "stop message: $(cat "$TEST_TMP/err")"
"$VMPACK" logs "$A" >"$TEST_TMP/logs" || fail "logs of a never started instance failed"
expect_eq "log of a never started instance" "$(cat "$TEST_TMP/logs")" ""

say "start rejects shared files that are missing, relative or not regular files"
for file in /nonexistent/file relative/file /etc; do
        expect_error "{\"method\":\"io.bheem.vmpack.Start\",\"parameters\":{\"name\":\"$B\",\"files\":[\"$file\"]}}" \
                io.bheem.vmpack.InvalidParameter
done
expect_eq "state after rejected starts" "$("$VMPACK" info --json "$B" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" stopped

say "uninstall keeps the data volume, install reuses it, purge needs confirmation"
"$VMPACK" uninstall "$A" || fail "uninstall failed"
[ -f "$dir/data.qcow2" ] || fail "uninstall removed the data volume"
[ ! -e "$dir/instance.json" ] || fail "uninstall left instance.json"
[ ! -e "$desktop" ] || fail "uninstall left the desktop entry"
pass "data kept, instance.json and desktop entry removed"
"$VMPACK" install --no-desktop "$SHELL_STORE_IMAGE" "$A" >"$TEST_TMP/out" || fail "reinstall failed"
grep -q "reusing its kept data volume" "$TEST_TMP/out" || fail "reinstall output: $(cat "$TEST_TMP/out")"
pass "reinstall reuses the volume"
set +e
"$VMPACK" uninstall --purge "$A" </dev/null 2>"$TEST_TMP/err"
status=$?
set -e
expect_eq "purge without -y off a terminal" "$status" 2
[ -f "$dir/data.qcow2" ] || fail "purge without confirmation removed data"
"$VMPACK" uninstall --purge -y "$A" || fail "uninstall --purge -y failed"
[ ! -e "$dir" ] || fail "purge left $dir"
pass "purge removed $dir"
"$VMPACK" info --json "$A" >/dev/null 2>&1 && fail "info of an uninstalled instance succeeded"
pass "uninstalled instance is gone from the daemon"

say "purge deletes the data that an earlier uninstall kept"
"$VMPACK" uninstall "$B" >/dev/null || fail "uninstall $B failed"
[ -f "$VMPACK_DATA_DIR/instances/$B/data.qcow2" ] || fail "uninstall removed the data of $B"
"$VMPACK" uninstall --purge -y "$B" || fail "purge of the kept data of $B failed"
[ ! -e "$VMPACK_DATA_DIR/instances/$B" ] || fail "purge left the kept data of $B"
pass "kept data of $B purged"
