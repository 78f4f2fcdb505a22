# shellcheck shell=bash
# Helpers for the test-instance-* scripts; source it after lib.sh and run-lib.sh.
#
#   ensure_store_shell_image  import the Debian minbase test image into the store as
#                             $SHELL_STORE_IMAGE (once per store), for 'vmpack install'
#   instance NAME             print the test's instance name for NAME, unique to this run
#   api_call JSON             send one raw request to vmpackd, print the raw reply
#   daemon_pid                print the pid of this test's vmpackd (empty when none)
#
# Each script gets its own vmpackd, because lib.sh gives it its own runtime directory. On
# exit the instances it installed are purged and its daemon is stopped.

SHELL_STORE_IMAGE=vmpack-test-shell
export XDG_DATA_HOME="$TEST_TMP/xdg"
INSTANCE_PREFIX="t$$"

ensure_store_shell_image() {
        if "$VMPACK" images | grep -q "^$SHELL_STORE_IMAGE "; then
                return 0
        fi
        require_cmd sqfs2tar
        ensure_shell_image
        say "import $SHELL_IMAGE into the store as $SHELL_STORE_IMAGE (once)"
        sqfs2tar "$SHELL_IMAGE" | "$VMPACK" import - "$SHELL_STORE_IMAGE" >/dev/null ||
                fail "vmpack import of the test image failed"
}

instance() {
        echo "$INSTANCE_PREFIX-$1"
}

daemon_pid() {
        local file="$VMPACK_RUNTIME_DIR/vmpackd.pid"
        [ -s "$file" ] && cat "$file"
}

# Send a request (a JSON text, or any bytes) with a NUL terminator and print the reply
# without its NUL. Reads until the NUL or the end of the connection.
api_call() {
        python3 - "$VMPACK_RUNTIME_DIR/vmpackd.sock" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode("utf-8", "surrogateescape") + b"\0")
data = b""
while not data.endswith(b"\0"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.rstrip(b"\0").decode())
EOF
}

_instance_test_cleanup() {
        local status=$? name pid
        set +e
        for dir in "$VMPACK_DATA_DIR"/instances/"$INSTANCE_PREFIX"-*; do
                [ -e "$dir" ] || continue
                name="$(basename "$dir")"
                "$VMPACK" kill "$name" >/dev/null 2>&1
                "$VMPACK" uninstall --purge -y "$name" >/dev/null 2>&1 || rm -rf "$dir"
        done
        pid="$(daemon_pid)"
        if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
                for _ in $(seq 50); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
        fi
        if [ "$status" -ne 0 ] && [ -f "$VMPACK_RUNTIME_DIR/vmpackd.log" ]; then
                echo "--- vmpackd log ---"
                tail -n 40 "$VMPACK_RUNTIME_DIR/vmpackd.log"
        fi
        _vp_test_cleanup
        exit "$status"
}
trap _instance_test_cleanup EXIT
