#!/bin/bash
# Accelerator choice with --accel auto. A KVM that fails to boot the guest (a nested
# hypervisor can hang or reject it) is detected, recorded in VMPACK_CACHE_DIR/accel and
# replaced by TCG with a one-line notice. The next run reads the record and goes straight
# to TCG. An explicit kvm (--accel kvm or VMPACK_ACCEL=kvm) fails instead of falling back.
# This test deliberately starts QEMU under KVM when /dev/kvm is usable.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64
ensure_shell_image

# A cache of its own, so the record this test writes does not leak into other tests.
export VMPACK_CACHE_DIR="$TEST_TMP/cache"
record="$VMPACK_CACHE_DIR/accel"

say "VMPACK_ACCEL=tcg prints no notice"
out="$(VMPACK_ACCEL=tcg vmrun --entrypoint /bin/echo "$SHELL_IMAGE" ok 2>"$TEST_TMP/err")"
expect_eq "output under tcg" "$out" "ok"
[ ! -s "$TEST_TMP/err" ] || fail "unexpected stderr: $(cat "$TEST_TMP/err")"
pass "no notice"
[ ! -e "$record" ] || fail "tcg wrote $record"

if ! python3 -c 'import fcntl, os; fd = os.open("/dev/kvm", os.O_RDWR); assert fcntl.ioctl(fd, 0xAE00) == 12' 2>/dev/null; then
        say "auto without a usable /dev/kvm: one notice, TCG"
        out="$(VMPACK_ACCEL=auto vmrun --entrypoint /bin/echo "$SHELL_IMAGE" ok 2>"$TEST_TMP/err")"
        expect_eq "output" "$out" "ok"
        grep -q "/dev/kvm is not usable" "$TEST_TMP/err" || fail "no notice: $(cat "$TEST_TMP/err")"
        skip "/dev/kvm is not usable here: the KVM fallback cannot be exercised"
fi

say "auto, first run: KVM boots the guest or the run falls back to TCG and records it"
out="$(VMPACK_ACCEL=auto vmrun --entrypoint /bin/echo "$SHELL_IMAGE" ok 2>"$TEST_TMP/err")"
expect_eq "output under auto" "$out" "ok"
if [ ! -e "$record" ]; then
        [ ! -s "$TEST_TMP/err" ] || fail "KVM worked but stderr has: $(cat "$TEST_TMP/err")"
        skip "KVM boots the guest here: nothing to fall back from"
fi
expect_eq "one notice line" "$(wc -l <"$TEST_TMP/err")" 1
grep -q "KVM did not boot the guest.*using TCG.*Remembered in $record" "$TEST_TMP/err" ||
        fail "notice: $(cat "$TEST_TMP/err")"
pass "fallback notice"
grep -qx "kvm=hangs" "$record" || fail "record: $(cat "$record")"
grep -q "^qemu=QEMU emulator version" "$record" || fail "record lacks the QEMU version: $(cat "$record")"
pass "record names kernel and QEMU"

say "auto, second run: straight to TCG with a one-line notice"
start=$(date +%s)
out="$(VMPACK_ACCEL=auto vmrun --entrypoint /bin/echo "$SHELL_IMAGE" ok 2>"$TEST_TMP/err")"
expect_eq "output" "$out" "ok"
expect_eq "one notice line" "$(wc -l <"$TEST_TMP/err")" 1
grep -q "remembered in $record" "$TEST_TMP/err" || fail "notice: $(cat "$TEST_TMP/err")"
pass "remembered notice"
[ $(($(date +%s) - start)) -lt 20 ] || fail "the second run waited for KVM again"
pass "no KVM wait"

say "a record for another QEMU version is ignored"
sed -i 's/^qemu=.*/qemu=QEMU emulator version 0.0.1/' "$record"
VMPACK_ACCEL=auto vmrun --entrypoint /bin/echo "$SHELL_IMAGE" ok >/dev/null 2>"$TEST_TMP/err"
grep -q "KVM did not boot the guest" "$TEST_TMP/err" || fail "KVM was not probed again: $(cat "$TEST_TMP/err")"
pass "probed again"

# Only reached when KVM failed above: an explicit kvm must then fail instead of falling back.
for request in "--accel kvm" "VMPACK_ACCEL=kvm"; do
        say "$request: a KVM that does not boot the guest is an error, with no TCG retry"
        status=0
        if [ "$request" = "--accel kvm" ]; then
                vmrun --accel kvm --entrypoint /bin/echo "$SHELL_IMAGE" ok >"$TEST_TMP/out" 2>"$TEST_TMP/err" || status=$?
        else
                VMPACK_ACCEL=kvm vmrun --entrypoint /bin/echo "$SHELL_IMAGE" ok >"$TEST_TMP/out" 2>"$TEST_TMP/err" ||
                        status=$?
        fi
        expect_eq "$request exit status" "$status" 125
        [ ! -s "$TEST_TMP/out" ] || fail "$request ran the app anyway: $(cat "$TEST_TMP/out")"
        grep -q "KVM did not boot the guest.*does not fall back.*--accel auto or tcg" "$TEST_TMP/err" ||
                fail "$request message: $(cat "$TEST_TMP/err")"
        ! grep -q "using TCG" "$TEST_TMP/err" || fail "$request fell back to TCG: $(cat "$TEST_TMP/err")"
        pass "$request fails with a hint"
done
