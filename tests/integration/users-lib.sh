# shellcheck shell=bash
# Local users and a system daemon for tests of roles; source it after lib.sh, run-lib.sh
# and instance-lib.sh. It needs root, useradd and runuser, and skips without them.
#
#   users_create            create three users for this run and remove them on exit:
#                             $TEST_ADMIN   in group vmpack-admin
#                             $TEST_USER    in group vmpack
#                             $TEST_NOBODY  in neither group
#   system_daemon_start     start 'vmpackd --system' on $SYSTEM_SOCKET with its own state
#                           in $SYSTEM_DATA_DIR (a store with $SHELL_STORE_IMAGE in it,
#                           kept per build tree and readable by root only) and stop it on exit
#   as_user USER ARGS...    run 'vmpack ARGS...' as USER against the system daemon, with a
#                           clean environment
#   system_api USER JSON    send one raw request to the system daemon as USER and print the
#                           raw reply
#   expect_denied WHAT TEXT USER ARGS...
#                           pass WHAT when as_user USER ARGS... fails with TEXT in its output
#
# The system socket is mode 0666 in a directory everyone may enter, and every request is
# checked against the caller's SO_PEERCRED uid, so the users reach it as they would reach
# /run/vmpack/vmpackd.sock.

USERS_PREFIX="vptest"
SYSTEM_DATA_DIR="${VMPACK_TEST_SYSTEM_DATA:-$(dirname "$VMPACK_DATA_DIR")/system-data}"
TEST_ADMIN="" TEST_USER="" TEST_NOBODY=""
SYSTEM_DAEMON_PID=""
# The socket's directory must be reachable by the test users, unlike $TEST_TMP (0700).
SYSTEM_SOCKET_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vmpack-sys.XXXXXX")"
chmod 0755 "$SYSTEM_SOCKET_DIR"
SYSTEM_SOCKET="$SYSTEM_SOCKET_DIR/vmpackd.sock"

_users_cleanup() {
        local status=$? user dir name
        set +e
        if [ -n "$SYSTEM_DAEMON_PID" ]; then
                for dir in "$SYSTEM_DATA_DIR"/instances/"$INSTANCE_PREFIX"-*; do
                        [ -e "$dir" ] || continue
                        name="$(basename "$dir")"
                        VMPACK_SYSTEM=1 VMPACK_SOCKET="$SYSTEM_SOCKET" "$VMPACK" kill "$name" >/dev/null 2>&1
                        VMPACK_SYSTEM=1 VMPACK_SOCKET="$SYSTEM_SOCKET" "$VMPACK" uninstall --purge -y "$name" \
                                >/dev/null 2>&1 || rm -rf "$dir"
                done
        fi
        if [ -n "$SYSTEM_DAEMON_PID" ] && kill "$SYSTEM_DAEMON_PID" 2>/dev/null; then
                for _ in $(seq 50); do
                        kill -0 "$SYSTEM_DAEMON_PID" 2>/dev/null || break
                        sleep 0.1
                done
        fi
        if [ "$status" -ne 0 ] && [ -f "$TEST_TMP/system-vmpackd.log" ]; then
                echo "--- system vmpackd log ---"
                tail -n 40 "$TEST_TMP/system-vmpackd.log"
        fi
        for user in "$TEST_ADMIN" "$TEST_USER" "$TEST_NOBODY"; do
                [ -n "$user" ] && userdel "$user" 2>/dev/null
        done
        rm -rf "$SYSTEM_SOCKET_DIR"
        # The instance-lib cleanup purges this run's instances of the session store, stops
        # the session daemon and removes $TEST_TMP.
        (exit "$status")
        _instance_test_cleanup
}
trap _users_cleanup EXIT

users_require() {
        [ "$(id -u)" -eq 0 ] || skip "creating test users needs root"
        require_cmd useradd userdel runuser getent
        local group
        for group in vmpack vmpack-admin; do
                getent group "$group" >/dev/null ||
                        skip "group $group is missing (scripts/setup creates it)"
        done
}

_user_add() {
        local name="$1" groups="$2"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
                ${groups:+--groups "$groups"} "$name" || fail "useradd $name failed"
}

users_create() {
        users_require
        TEST_ADMIN="$USERS_PREFIX-admin-$$"
        _user_add "$TEST_ADMIN" vmpack-admin
        TEST_USER="$USERS_PREFIX-user-$$"
        _user_add "$TEST_USER" vmpack
        TEST_NOBODY="$USERS_PREFIX-none-$$"
        _user_add "$TEST_NOBODY" ""
        say "created users $TEST_ADMIN (vmpack-admin), $TEST_USER (vmpack), $TEST_NOBODY (no group)"
}

# Put $SHELL_STORE_IMAGE into the system store once per build tree.
_system_store_prepare() {
        mkdir -p "$SYSTEM_DATA_DIR"
        chmod 0700 "$SYSTEM_DATA_DIR"
        if VMPACK_DATA_DIR="$SYSTEM_DATA_DIR" "$VMPACK" images | grep -q "^$SHELL_STORE_IMAGE "; then
                return 0
        fi
        require_cmd sqfs2tar
        ensure_shell_image
        say "import $SHELL_IMAGE into the system store $SYSTEM_DATA_DIR (once)"
        sqfs2tar "$SHELL_IMAGE" | VMPACK_DATA_DIR="$SYSTEM_DATA_DIR" "$VMPACK" import - "$SHELL_STORE_IMAGE" \
                >/dev/null || fail "vmpack import into the system store failed"
}

system_daemon_start() {
        local vmpackd="$VMPACK_BUILD_ROOT/src/vmpackd/vmpackd"

        _system_store_prepare
        mkdir -p "$TEST_TMP/system-config" "$TEST_TMP/system-run"
        VMPACK_DATA_DIR="$SYSTEM_DATA_DIR" VMPACK_CONFIG_DIR="$TEST_TMP/system-config" \
                VMPACK_RUNTIME_DIR="$TEST_TMP/system-run" VMPACK_SOCKET="$SYSTEM_SOCKET" \
                "$vmpackd" --system >"$TEST_TMP/system-vmpackd.log" 2>&1 &
        SYSTEM_DAEMON_PID=$!
        for _ in $(seq 100); do
                [ -S "$SYSTEM_SOCKET" ] && break
                kill -0 "$SYSTEM_DAEMON_PID" 2>/dev/null || fail "vmpackd --system exited: $(cat "$TEST_TMP/system-vmpackd.log")"
                sleep 0.1
        done
        [ -S "$SYSTEM_SOCKET" ] || fail "vmpackd --system did not listen on $SYSTEM_SOCKET within 10 s"
        say "system daemon pid $SYSTEM_DAEMON_PID listens on $SYSTEM_SOCKET"
}

as_user() {
        local user="$1"
        shift
        runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent \
                VMPACK_SYSTEM=1 VMPACK_SOCKET="$SYSTEM_SOCKET" "$VMPACK" "$@"
}

expect_denied() {
        local what="$1" text="$2"
        shift 2
        local output
        if output="$(as_user "$@" 2>&1)"; then
                fail "$what: succeeded: $output"
        fi
        grep -qF -- "$text" <<<"$output" || fail "$what: expected '$text' in: $output"
        pass "$what"
}

system_api() {
        local user="$1" request="$2"
        runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin python3 - "$SYSTEM_SOCKET" "$request" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\0")
data = b""
while not data.endswith(b"\0"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.rstrip(b"\0").decode())
EOF
}
