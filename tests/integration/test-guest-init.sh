#!/bin/bash
# vmpack-init as PID 1, booted with QEMU directly under TCG through guest-boot.py: output
# and exit status on the ports, failures as error events, the overlay root that drops
# writes at power-off, 9p shares, the ext4 data volume, the static network and the
# terminate request.
. "$(dirname "$0")/lib.sh"

require_cmd qemu-system-x86_64 python3 mmdebstrap tar2sqfs mkfs.ext4 gcc
: "${VMPACK_INIT:?VMPACK_INIT must name the vmpack-init binary (meson test sets it)}"
: "${GUEST_FILES:?GUEST_FILES must name the guest-files helper (meson test sets it)}"
DRIVER="$(dirname "$0")/guest-boot.py"

# A Debian minbase root, built once and shared with the other scripts through the cache.
IMAGE="$VMPACK_CACHE_DIR/test-images/minbase-bookworm.sqfs"
if [ ! -f "$IMAGE" ]; then
        mkdir -p "$(dirname "$IMAGE")"
        say "build test image $IMAGE (mmdebstrap minbase, once)"
        if ! mmdebstrap --quiet --variant=minbase bookworm - | tar2sqfs --quiet -c zstd -X level=3 -f "$IMAGE.tmp.$$"; then
                rm -f "$IMAGE.tmp.$$"
                fail "could not build the test image with mmdebstrap (is the Debian mirror reachable?)"
        fi
        mv "$IMAGE.tmp.$$" "$IMAGE"
fi

files="$("$GUEST_FILES" "$VMPACK_INIT")" || fail "guest-files could not prepare the kernel and initramfs"
VMLINUX="$(sed -n 1p <<<"$files")"
INITRD="$(sed -n 2p <<<"$files")"

# boot NAME CONFIG_LINES [guest-boot.py options]: boot $BOOT_IMAGE (default $IMAGE) with the
# configuration and leave the results in $TEST_TMP/NAME (events, stdout, stderr, console,
# status).
boot() {
        local name="$1" config="$2"
        shift 2
        printf '%s\n' "$config" >"$TEST_TMP/$name.config"
        python3 "$DRIVER" --vmlinux "$VMLINUX" --initrd "$INITRD" --image "${BOOT_IMAGE:-$IMAGE}" \
                --config "$TEST_TMP/$name.config" --out "$TEST_TMP/$name" "$@" ||
                fail "$name: guest-boot.py failed"
        R="$TEST_TMP/$name"
        [ "$(cat "$R/status")" != timeout ] || fail "$name: the VM did not power off: $(tail -5 "$R/console")"
        say "$name: $(wc -l <"$R/events") events, $(cat "$R/elapsed") s"
}

expect_eq() {
        local name="$1" actual="$2" expected="$3"
        [ "$actual" = "$expected" ] || fail "$name: expected '$expected', got '$actual'"
        pass "$name"
}

# event FIELD: the field of the last event, e.g. event status.
event() {
        tail -n 1 "$R/events" | python3 -c "import json, sys; print(json.load(sys.stdin).get('$1', ''))"
}

BASE="version=1
root=/dev/vda"

say "exit status, output with byte counts, hostname, user, capabilities, no NIC"
boot basic "$BASE
hostname=guest-one
arg=/bin/sh
arg=-c
arg=echo \"host \$(hostname) uid \$(id -u) \$(id -un)\"; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status | tr -d '[:blank:]'; echo net \$(ls /sys/class/net); echo resolve \$(getent hosts guest-one); echo to-stderr >&2; exit 3"
expect_eq "events" "$(python3 -c 'import json, sys; print(" ".join(json.loads(l)["event"] for l in sys.stdin))' <"$R/events")" "ready exit"
expect_eq "exit status" "$(event status)" 3
expect_eq "stdout byte count" "$(event stdout_bytes)" "$(stat -c %s "$R/stdout")"
expect_eq "stderr" "$(cat "$R/stderr")" "to-stderr"
expect_eq "hostname and user" "$(grep '^host' "$R/stdout")" "host guest-one uid 1000 user"
for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
        expect_eq "$cap" "$(grep "^$cap" "$R/stdout")" "$cap:0000000000000000"
done
expect_eq "no_new_privs" "$(grep '^NoNewPrivs' "$R/stdout")" "NoNewPrivs:1"
expect_eq "only lo without a NIC" "$(grep '^net' "$R/stdout")" "net lo"
expect_eq "hostname resolves" "$(grep '^resolve' "$R/stdout")" "resolve 127.0.1.1 guest-one"
expect_eq "QEMU exit status" "$(cat "$R/status")" 0

say "megabytes of output arrive complete and counted"
boot bulk "$BASE
arg=/bin/sh
arg=-c
arg=head -c 8000000 /dev/zero | tr '\\\\000' a; head -c 3000000 /dev/zero | tr '\\\\000' b >&2"
expect_eq "bulk stdout count" "$(event stdout_bytes)" 8000000
expect_eq "bulk stderr count" "$(event stderr_bytes)" 3000000
expect_eq "bulk stdout content" "$(tr -d a <"$R/stdout" | wc -c) $(stat -c %s "$R/stdout")" "0 8000000"
expect_eq "bulk stderr content" "$(tr -d b <"$R/stderr" | wc -c) $(stat -c %s "$R/stderr")" "0 3000000"

say "stdin until end of file; q35 machine"
boot stdin "$BASE
arg=cat" --stdin "line one
line two" --machine q35
expect_eq "stdin copied to stdout" "$(cat "$R/stdout")" "line one
line two"
expect_eq "cat exit status" "$(event status)" 0

say "a write to / is gone at the next boot"
boot write1 "$BASE
arg=/bin/sh
arg=-c
arg=test -e /var/tmp/marker && echo present || echo absent; echo x >/var/tmp/marker && echo written"
expect_eq "first boot" "$(cat "$R/stdout")" "absent
written"
boot write2 "$BASE
arg=/bin/sh
arg=-c
arg=test -e /var/tmp/marker && echo present || echo absent"
expect_eq "second boot" "$(cat "$R/stdout")" "absent"

say "missing and non-executable programs"
boot notfound "$BASE
arg=no-such-program"
expect_eq "not found status" "$(event status)" 127
expect_eq "not found reason" "$(event reason)" app-not-found
grep -q "^vmpack-init: app no-such-program: not found in the image" "$R/console" ||
        fail "console lacks the not-found line: $(cat "$R/console")"
pass "not found: console line"
boot noexec "$BASE
arg=/etc/passwd"
expect_eq "not executable status" "$(event status)" 126
expect_eq "not executable reason" "$(event reason)" app-not-executable

mkdir -p "$TEST_TMP/scripts"
printf '#!/no/such/interpreter\necho unreachable\n' >"$TEST_TMP/scripts/orphan"
chmod +x "$TEST_TMP/scripts/orphan"
boot nointerp "$BASE
share=scripts:ro:/opt/scripts
env=PATH=/usr/bin:/opt/scripts
arg=orphan" --share "scripts:$TEST_TMP/scripts:ro"
expect_eq "missing interpreter status" "$(event status)" 126
expect_eq "missing interpreter message" "$(event message)" \
        "app orphan: /opt/scripts/orphan exists, but its interpreter (#! line) or dynamic loader is missing from the image"

boot nocwd "$BASE
cwd=/no/such/dir
arg=/bin/true"
expect_eq "missing working directory reason" "$(event reason)" user
expect_eq "missing working directory message" "$(event message)" \
        "starting /bin/true as uid 1000 failed: working directory /no/such/dir: No such file or directory"

say "invalid configuration, missing configuration, missing root device"
boot badconfig "$BASE
arg=/bin/true
colour=blue"
expect_eq "invalid config status" "$(event status)" 125
expect_eq "invalid config reason" "$(event reason)" config
expect_eq "invalid config message" "$(event message)" "invalid configuration: line 4: unknown key 'colour'"
python3 "$DRIVER" --vmlinux "$VMLINUX" --initrd "$INITRD" --image "$IMAGE" --out "$TEST_TMP/noconfig" ||
        fail "noconfig: guest-boot.py failed"
R="$TEST_TMP/noconfig"
expect_eq "missing config reason" "$(event reason)" config
boot noroot "version=1
root=/dev/vdx
arg=/bin/true"
expect_eq "missing root reason" "$(event reason)" root
grep -q "root device /dev/vdx did not appear" "$R/console" || fail "console lacks the root line"
pass "missing root: console line"

say "9p shares: read-only rejects writes, read-write reaches the host"
mkdir -p "$TEST_TMP/ro" "$TEST_TMP/rw"
echo "host text" >"$TEST_TMP/ro/file"
chmod 0777 "$TEST_TMP/rw"
boot shares "$BASE
share=docs:ro:/mnt/docs
share=out:rw:/home/user/out
arg=/bin/sh
arg=-c
arg=cat /mnt/docs/file; echo x >/mnt/docs/new 2>/dev/null && echo ro-writable || echo ro-rejected; echo guest >/home/user/out/result && echo rw-written" \
        --share "docs:$TEST_TMP/ro:ro" --share "out:$TEST_TMP/rw:rw"
expect_eq "share output" "$(cat "$R/stdout")" "host text
ro-rejected
rw-written"
expect_eq "read-only share unchanged" "$(ls "$TEST_TMP/ro")" "file"
expect_eq "read-write share on the host" "$(cat "$TEST_TMP/rw/result")" "guest"

say "ext4 data volume at the home survives reboots"
truncate -s 32M "$TEST_TMP/data.img"
mkfs.ext4 -q -F "$TEST_TMP/data.img"
for round in 1 2; do
        boot "data$round" "$BASE
data=/dev/vdb
user=alice
uid=1001
arg=/bin/sh
arg=-c
arg=cat ~/count 2>/dev/null || echo 0; echo $round >~/count; stat -c '%U %u %n' ~; pwd" --data "$TEST_TMP/data.img"
done
expect_eq "data volume content" "$(cat "$R/stdout")" "1
alice 1001 /home/alice
/home/alice"

say "static network on eth0"
mkdir -p "$TEST_TMP/nic"
boot net "$BASE
net=10.0.2.15/24,10.0.2.2,10.0.2.3
arg=/bin/sh
arg=-c
arg=echo \$(ls /sys/class/net); grep -c '10.0.2.15' /proc/net/fib_trie; awk '\$2 == \"00000000\" { print \$1, \$3 }' /proc/net/route; cat /etc/resolv.conf" \
        --nic-dir "$TEST_TMP/nic"
expect_eq "network" "$(cat "$R/stdout")" "eth0 lo
2
eth0 0202000A
nameserver 10.0.2.3"

say "terminate request stops the app with SIGTERM"
boot terminate "$BASE
arg=/bin/sleep
arg=600" --terminate-after 1
expect_eq "terminated status" "$(event status)" 143

say "an image with one static program and no /etc, as exported from an empty container"
mkdir -p "$TEST_TMP/scratch"
printf '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("uid %%d\\n", (int) getuid()); return 5; }\n' \
        >"$TEST_TMP/hello.c"
gcc -static -O2 -o "$TEST_TMP/scratch/hello" "$TEST_TMP/hello.c" || fail "cannot build a static test program"
tar -C "$TEST_TMP/scratch" -cf - hello | tar2sqfs --quiet -c zstd "$TEST_TMP/scratch.sqfs" ||
        fail "cannot build the scratch image"
BOOT_IMAGE="$TEST_TMP/scratch.sqfs" boot scratch "$BASE
arg=/hello"
expect_eq "scratch image output" "$(cat "$R/stdout")" "uid 1000"
expect_eq "scratch image status" "$(event status)" 5

say "a poweroff request while the app runs powers off at once"
boot early-poweroff "$BASE
arg=/bin/sleep
arg=600" --poweroff-after 1
expect_eq "no exit event" "$(grep -c '"exit"' "$R/events")" 0
grep -q "poweroff requested by the host while the app runs" "$R/console" || fail "console lacks the poweroff line"
pass "powered off while the app ran"

say "without a poweroff request the guest powers off on its own"
boot noack "$BASE
arg=/bin/true" --no-ack
expect_eq "exit status without ack" "$(event status)" 0
grep -q "no poweroff request from the host within" "$R/console" || fail "console lacks the timeout line"
pass "powered off after the acknowledgement timeout"
