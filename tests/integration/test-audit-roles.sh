#!/bin/bash
# Roles and the audit log of the system daemon, with real local users: a user without a
# vmpack group is rejected, a member of vmpack installs and uses only their own instance and
# reads only their own audit entries, an administrator sees every instance and every
# entry, denials are recorded, and the audit table rejects edits. One instance boots once
# (with /bin/true as its app) to record the VM start and stop.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"
. "$(dirname "$0")/users-lib.sh"

require_cmd python3 qemu-img
users_create
system_daemon_start

admin_instance="$(instance admin)"
user_instance="$(instance user)"
user_uid="$(id -u "$TEST_USER")"
started_ms="$(($(date +%s) * 1000 - 1000))"

# Check a JSON document with a Python expression over "data"; fail with what it was.
expect_json() {
        local what="$1" json="$2" expression="$3"
        python3 - "$json" "$expression" <<'EOF' || fail "$what: ${json:0:600}"
import json, sys
data = json.loads(sys.argv[1])
if not eval(sys.argv[2]):
        sys.exit(1)
EOF
        pass "$what"
}

say "a caller in neither group gets GetInfo only"
expect_denied "no-role list is refused" "is not in group vmpack or vmpack-admin" "$TEST_NOBODY" list
expect_denied "no-role audit is refused" "ask an administrator" "$TEST_NOBODY" audit
reply="$(system_api "$TEST_NOBODY" '{"method":"io.bheem.vmpack.GetInfo"}')"
expect_json "no-role GetInfo replies with the system mode" "$reply" 'data["parameters"]["mode"] == "system"'
reply="$(system_api "$TEST_NOBODY" '{"method":"io.bheem.vmpack.Install","parameters":{"image":"x","name":"x1"}}')"
expect_json "no-role Install gets PermissionDenied" "$reply" \
        'data["error"] == "io.bheem.vmpack.PermissionDenied" and "'"$TEST_NOBODY"'" in data["parameters"]["message"]'

say "the administrator and the user each install an instance"
as_user "$TEST_ADMIN" install "$SHELL_STORE_IMAGE" "$admin_instance" >/dev/null || fail "admin install failed"
as_user "$TEST_USER" install "$SHELL_STORE_IMAGE" "$user_instance" >/dev/null || fail "user install failed"
pass "installed $admin_instance and $user_instance"

say "the user may not touch the administrator's instance"
expect_denied "user info of admin instance" "belongs to uid $(id -u "$TEST_ADMIN")" "$TEST_USER" info "$admin_instance"
expect_denied "user start of admin instance" "may not Start instance" "$TEST_USER" start "$admin_instance"
expect_denied "user stop of admin instance" "may not Stop instance" "$TEST_USER" stop "$admin_instance"
expect_denied "user logs of admin instance" "may not Logs instance" "$TEST_USER" logs "$admin_instance"
expect_denied "user uninstall of admin instance" "may not Uninstall instance" "$TEST_USER" uninstall --purge -y \
        "$admin_instance"
as_user "$TEST_ADMIN" info "$admin_instance" >/dev/null || fail "the admin's instance is gone after the denials"
pass "the administrator's instance is still there"

say "list shows users their own instances and administrators all"
json="$(as_user "$TEST_USER" list --json)" || fail "user list failed"
expect_json "user list has only the user's instance" "$json" \
        '[i["name"] for i in data if i["name"].startswith("'"$INSTANCE_PREFIX"'-")] == ["'"$user_instance"'"] and all(i["owner_uid"] == '"$user_uid"' for i in data)'
json="$(as_user "$TEST_ADMIN" list --json)" || fail "admin list failed"
expect_json "admin list has both instances" "$json" \
        '{"'"$admin_instance"'", "'"$user_instance"'"} <= {i["name"] for i in data}'

say "the administrator's audit shows every denial"
json="$(as_user "$TEST_ADMIN" audit --json --since 10m --limit 10000)" || fail "admin audit failed"
for action in Info Start Stop Logs Uninstall; do
        expect_json "admin sees the user's denied $action" "$json" \
                'any(e["decision"] == "deny" and e["action"] == "'"$action"'" and e["instance"] == "'"$admin_instance"'" and e["caller_name"] == "'"$TEST_USER"'" and "belongs to uid" in e["reason"] for e in data)'
done
expect_json "admin sees the no-role denials" "$json" \
        'any(e["decision"] == "deny" and e["caller_name"] == "'"$TEST_NOBODY"'" and e["action"] == "List" for e in data)'
expect_json "admin sees both installs allowed" "$json" \
        'sum(1 for e in data if e["action"] == "Install" and e["decision"] == "allow" and e["instance"] in ("'"$admin_instance"'", "'"$user_instance"'")) == 2'
expect_json "audit entries are oldest first" "$json" '[e["id"] for e in data] == sorted(e["id"] for e in data)'

say "the user's audit shows only their own entries"
json="$(as_user "$TEST_USER" audit --json --limit 10000)" || fail "user audit failed"
expect_json "user audit is limited to the user" "$json" \
        'data and all(e["caller_uid"] == '"$user_uid"' or e["owner_uid"] == '"$user_uid"' for e in data)'
expect_json "user audit has the user's own install and denials" "$json" \
        'any(e["action"] == "Install" and e["instance"] == "'"$user_instance"'" for e in data) and any(e["decision"] == "deny" for e in data)'
expect_json "user audit lacks the admin's install" "$json" \
        'not any(e["action"] == "Install" and e["instance"] == "'"$admin_instance"'" for e in data)'
table="$(as_user "$TEST_USER" audit --instance "$admin_instance")" || fail "user audit --instance failed"
grep -q "^TIME  *USER  *ACTION  *INSTANCE  *DECISION  *REASON" <<<"$table" || fail "audit table header: $table"
grep -q "$TEST_USER .*Start .*$admin_instance .*deny" <<<"$table" || fail "audit table lacks the Start denial: $table"
pass "audit table lists the user's denial on $admin_instance"

say "audit options filter and validate"
json="$(as_user "$TEST_ADMIN" audit --json --limit 1)" || fail "audit --limit 1 failed"
expect_json "--limit 1 gives one entry" "$json" 'len(data) == 1'
json="$(as_user "$TEST_ADMIN" audit --json --since 2099-01-01)" || fail "audit --since 2099-01-01 failed"
expect_json "--since in the future gives none" "$json" 'data == []'
json="$(as_user "$TEST_ADMIN" audit --json --since "$(date -u +%Y-%m-%dT%H:%M:%SZ -d '-10 minutes')")" ||
        fail "audit --since TIME failed"
expect_json "--since a UTC time keeps this run's entries" "$json" \
        'any(e["instance"] == "'"$user_instance"'" for e in data) and all(e["time_ms"] >= '"$started_ms"' - 600000 for e in data)'
for bad in "--since yesterday" "--since 5w" "--limit 0" "--limit 10001"; do
        # shellcheck disable=SC2086
        if as_user "$TEST_ADMIN" audit $bad >/dev/null 2>&1; then
                fail "audit $bad was accepted"
        fi
done
pass "invalid --since and --limit values are rejected"

say "the user starts their own instance once; the VM start and stop are recorded"
as_user "$TEST_USER" start --entrypoint /bin/true "$user_instance" >/dev/null || fail "user start failed"
state=""
for _ in $(seq 240); do
        state="$(as_user "$TEST_USER" info --json "$user_instance" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
        [ "$state" = stopped ] && break
        sleep 0.5
done
[ "$state" = stopped ] || fail "$user_instance did not stop within 120 s (state $state)"
json="$(as_user "$TEST_USER" audit --json --instance "$user_instance")" || fail "user audit --instance failed"
expect_json "Start allowed for the owner" "$json" \
        'any(e["action"] == "Start" and e["decision"] == "allow" and e["reason"] == "owner" for e in data)'
expect_json "vm-started recorded" "$json" 'any(e["action"] == "vm-started" and e["decision"] == "event" for e in data)'
expect_json "vm-stopped recorded with exit status 0" "$json" \
        'any(e["action"] == "vm-stopped" and e["detail"]["exit_status"] == 0 for e in data)'

say "the audit table rejects updates and deletes"
python3 - "$SYSTEM_DATA_DIR/vmpackd.db" <<'EOF' || fail "the audit table accepted an edit"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for statement in ("UPDATE audit SET decision = 'allow'", "DELETE FROM audit"):
    try:
        db.execute(statement)
        db.commit()
    except sqlite3.DatabaseError as e:
        assert "append-only" in str(e), e
    else:
        sys.exit(f"{statement}: accepted")
EOF
pass "UPDATE and DELETE on audit abort"

say "owners and administrators uninstall; a user may not purge kept data"
as_user "$TEST_USER" uninstall "$user_instance" >/dev/null || fail "user uninstall failed"
expect_denied "user purge of kept data" "only members of group vmpack-admin" "$TEST_USER" uninstall --purge -y \
        "$user_instance"
as_user "$TEST_ADMIN" uninstall --purge -y "$user_instance" >/dev/null || fail "admin purge of kept data failed"
as_user "$TEST_ADMIN" uninstall --purge -y "$admin_instance" >/dev/null || fail "admin uninstall failed"
pass "both instances removed"
