#!/bin/bash
# The desktop entry that 'vmpack install' writes, launched the way a desktop launcher does.
# 'gio launch' (GLib's GDesktopAppInfo, which GNOME Shell uses to launch apps) parses the
# entry by the Desktop Entry Specification: TryExec, field codes, quoting, no shell. The test
# launches the entry
#   - without a file, and with a file whose name has spaces and non-ASCII characters,
#   - with the session daemon stopped, and from a vmpack under a path that needs quoting,
#   - for an instance whose image was removed, and when vmpackd cannot be started.
# A small subreaper collects the exit status and stderr of the 'vmpack start' that gio
# spawned, because gio itself returns as soon as the process is spawned. Four boots; the
# pdftotext image is built once per store, as in test-run-pdftotext.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/instance-lib.sh"

require_cmd qemu-system-x86_64 qemu-img pdftotext gio desktop-file-validate python3 tar
ensure_image pdftotext

# The test has no D-Bus session bus or display. A missing bus socket keeps gio from looking
# for a bus elsewhere.
export DBUS_SESSION_BUS_ADDRESS="unix:path=$TEST_TMP/no-bus"
unset DISPLAY WAYLAND_DISPLAY

# launch OUTPUT ENTRY [FILE...]: run 'gio launch ENTRY FILE...' from / with stdin on
# /dev/null. Write the exit status of the program that gio spawned, 'vmpack start', to OUTPUT
# and that program's stderr to OUTPUT.err. Fails when gio fails or the program does not exit
# within 120 s.
launch() {
        local output="$1"
        shift
        (cd / && python3 - "$output" "$@") <<'EOF' || fail "gio launch $* failed: $(cat "$output.gio" "$output.err" 2>/dev/null)"
import ctypes, os, subprocess, sys, time

output, argv = sys.argv[1], ["gio", "launch"] + sys.argv[2:]
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")

with open(output + ".err", "wb") as err, open(output + ".gio", "wb") as gio_out:
    gio = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=gio_out, stderr=err)
    gio_status = None
    deadline = time.monotonic() + 120
    # Reap every orphan that gio leaves behind. 'vmpack start' is the one named vmpack in
    # this session. A daemon that it starts on demand calls setsid() first, so neither its
    # failed exec nor a running vmpackd is taken for it.
    while time.monotonic() < deadline:
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:
            time.sleep(0.05)
            continue
        try:
            with open(f"/proc/{info.si_pid}/stat") as f:
                stat = f.read()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            session = int(stat[stat.rindex(")") + 2:].split()[3])
        except (OSError, ValueError, IndexError):
            comm, session = "", -1
        _, status = os.waitpid(info.si_pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if info.si_pid == gio.pid:
            gio.returncode = code
            gio_status = code
            if code != 0:
                sys.exit(f"gio exited with status {code}")
        elif comm == "vmpack" and session == os.getsid(0):
            with open(output, "w") as f:
                f.write(f"{code}\n")
            if gio_status is None:
                gio.wait()
            sys.exit(0)
    sys.exit("the launched program did not exit within 120 s")
EOF
}

# wait_run_after MS: wait until the instance $P has a run that stopped after MS (milliseconds
# since the epoch) and print its exit status.
wait_run_after() {
        local since="$1" info
        for _ in $(seq 240); do
                info="$("$VMPACK" info --json "$P")" || fail "vmpack info $P failed"
                if python3 - "$since" "$info" <<'EOF'; then
import json, sys
since, instance = int(sys.argv[1]), json.loads(sys.argv[2])
stopped = instance.get("stopped_ms") or 0
if instance.get("state") != "stopped" or stopped < since or (instance.get("started_ms") or 0) < since:
    sys.exit(1)
print(instance.get("exit_status"))
EOF
                        return 0
                fi
                sleep 0.5
        done
        fail "no run of $P stopped within 120 s after it was launched: $info"
}

now_ms() {
        date +%s%3N
}

P="$(instance launch)"
"$VMPACK" install pdftotext "$P" >/dev/null || fail "install $P failed"
desktop="$XDG_DATA_HOME/applications/vmpack-$P.desktop"
[ -f "$desktop" ] || fail "no desktop entry at $desktop"

say "desktop-file-validate accepts the entry"
desktop-file-validate "$desktop" >"$TEST_TMP/validate" 2>&1 || fail "desktop-file-validate: $(cat "$TEST_TMP/validate")"
[ ! -s "$TEST_TMP/validate" ] || fail "desktop-file-validate reports: $(cat "$TEST_TMP/validate")"
grep -qx "TryExec=$VMPACK" "$desktop" || fail "TryExec line, expected the absolute path $VMPACK: $(cat "$desktop")"
pass "no errors, warnings or hints; TryExec names $VMPACK"

say "gio launch without a file runs the app in its VM"
since="$(now_ms)"
launch "$TEST_TMP/bare" "$desktop"
expect_eq "exit status of the launched vmpack start" "$(cat "$TEST_TMP/bare")" 0
status="$(wait_run_after "$since")"
# Without a file %f expands to nothing, so the app runs 'pdftotext -layout -', which reads
# the PDF from its empty standard input and exits with status 1.
expect_eq "exit status of the app without a file" "$status" 1
"$VMPACK" logs "$P" >"$TEST_TMP/bare.log" 2>&1
grep -q "Document stream is empty" "$TEST_TMP/bare.log" || fail "the app's log has no pdftotext error: $(cat "$TEST_TMP/bare.log")"
pass "the VM ran pdftotext without arguments and stopped"

say "gio launch with a file whose name has spaces and non-ASCII characters"
file="$TEST_TMP/Q3 report – Müller (final) \$1 ~ 'a' \"b\".pdf"
cp "$VMPACK_SOURCE_ROOT/examples/hello.pdf" "$file"
since="$(now_ms)"
launch "$TEST_TMP/file" "$desktop" "$file"
expect_eq "exit status of the launched vmpack start" "$(cat "$TEST_TMP/file")" 0
status="$(wait_run_after "$since")"
expect_eq "exit status of the app with a file" "$status" 0
pdftotext -layout "$file" "$TEST_TMP/host.txt"
"$VMPACK" logs "$P" >"$TEST_TMP/guest.txt"
diff -u "$TEST_TMP/host.txt" "$TEST_TMP/guest.txt" || fail "the app's output differs from the host's pdftotext"
pass "the app read the dropped file"

say "gio launch with the session daemon stopped"
pid="$(daemon_pid)"
[ -n "$pid" ] || fail "no vmpackd pid in $VMPACK_RUNTIME_DIR/vmpackd.pid"
kill "$pid"
for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
done
! kill -0 "$pid" 2>/dev/null || fail "vmpackd $pid still runs 10 s after SIGTERM"
since="$(now_ms)"
launch "$TEST_TMP/nodaemon" "$desktop" "$file"
expect_eq "exit status of the launched vmpack start" "$(cat "$TEST_TMP/nodaemon")" 0
status="$(wait_run_after "$since")"
expect_eq "exit status of the app" "$status" 0
pass "vmpack start started the daemon on demand and the app ran"

say "gio launch of an entry written by a vmpack under a path that needs quoting"
# Space, '$', '`', '"', '\' and non-ASCII: each needs the Exec quoting or escaping.
odd_dir="$TEST_TMP/"'bin $HOME `id` "q" \ é'
mkdir -p "$odd_dir"
cp "$VMPACK" "$odd_dir/vmpack"
Q="$(instance quoted)"
"$odd_dir/vmpack" install pdftotext "$Q" >/dev/null || fail "install $Q with $odd_dir/vmpack failed"
quoted="$XDG_DATA_HOME/applications/vmpack-$Q.desktop"
echo "Exec line: $(grep '^Exec=' "$quoted")"
desktop-file-validate "$quoted" >"$TEST_TMP/validate" 2>&1 || fail "desktop-file-validate: $(cat "$TEST_TMP/validate")"
[ ! -s "$TEST_TMP/validate" ] || fail "desktop-file-validate reports: $(cat "$TEST_TMP/validate")"
saved_p="$P"
P="$Q"
since="$(now_ms)"
launch "$TEST_TMP/quoted" "$quoted" "$file"
expect_eq "exit status of the launched vmpack start" "$(cat "$TEST_TMP/quoted")" 0
status="$(wait_run_after "$since")"
expect_eq "exit status of the app" "$status" 0
"$VMPACK" logs "$Q" >"$TEST_TMP/guest.txt"
diff -u "$TEST_TMP/host.txt" "$TEST_TMP/guest.txt" || fail "the app's output differs from the host's pdftotext"
P="$saved_p"
pass "gio ran $odd_dir/vmpack with the file"

say "a '%' in the path of vmpack is written as '%%'"
# NOTE: GLib 2.74 looks for the program of an unexpanded Exec line, so it does not load an
# entry whose program path contains '%', although the Desktop Entry Specification requires
# '%%' there. The test therefore only validates this entry and does not launch it.
percent_dir="$TEST_TMP/bin 100%"
mkdir -p "$percent_dir"
cp "$VMPACK" "$percent_dir/vmpack"
R="$(instance percent)"
"$percent_dir/vmpack" install pdftotext "$R" >/dev/null || fail "install $R with $percent_dir/vmpack failed"
percent="$XDG_DATA_HOME/applications/vmpack-$R.desktop"
grep -qxF "Exec=\"$percent_dir%/vmpack\" start $R %F" "$percent" || fail "Exec line: $(grep '^Exec=' "$percent")"
desktop-file-validate "$percent" >"$TEST_TMP/validate" 2>&1 || fail "desktop-file-validate: $(cat "$TEST_TMP/validate")"
[ ! -s "$TEST_TMP/validate" ] || fail "desktop-file-validate reports: $(cat "$TEST_TMP/validate")"
pass "Exec line quoted and valid"

say "gio launch of an instance whose image was removed"
# An image of its own, so that removing it leaves the cached test images alone.
mkdir -p "$TEST_TMP/rootfs/etc"
echo "$P" >"$TEST_TMP/rootfs/etc/vmpack-launcher-test"
image="vmpack-test-launcher-$$"
tar -C "$TEST_TMP/rootfs" -cf "$TEST_TMP/rootfs.tar" . || fail "tar of the throwaway root failed"
"$VMPACK" import "$TEST_TMP/rootfs.tar" "$image" >/dev/null || fail "vmpack import $image failed"
G="$(instance gone)"
"$VMPACK" install "$image" "$G" >/dev/null || fail "install $G failed"
"$VMPACK" rmi --force "$image" >/dev/null || fail "vmpack rmi --force $image failed"
launch "$TEST_TMP/gone" "$XDG_DATA_HOME/applications/vmpack-$G.desktop"
status="$(cat "$TEST_TMP/gone")"
[ "$status" -ne 0 ] || fail "vmpack start of $G succeeded without its image"
echo "stderr of the launched vmpack start: $(cat "$TEST_TMP/gone.err")"
grep -q "$G" "$TEST_TMP/gone.err" || fail "the error does not name the instance $G: $(cat "$TEST_TMP/gone.err")"
grep -qi "image" "$TEST_TMP/gone.err" || fail "the error does not say that the image is missing: $(cat "$TEST_TMP/gone.err")"
pass "vmpack start exited with status $status and named the missing image"

say "gio launch of an entry whose vmpack binary is gone"
sed "s|^TryExec=.*|TryExec=$TEST_TMP/no-such-vmpack|" "$desktop" >"$TEST_TMP/moved.desktop"
set +e
gio launch "$TEST_TMP/moved.desktop" >"$TEST_TMP/moved.out" 2>&1 </dev/null
status=$?
set -e
[ "$status" -ne 0 ] || fail "gio launched an entry whose TryExec program does not exist"
pass "gio refuses the entry ($(head -n 1 "$TEST_TMP/moved.out"))"

say "gio launch when vmpackd cannot be started"
pid="$(daemon_pid)"
[ -n "$pid" ] || fail "no vmpackd pid in $VMPACK_RUNTIME_DIR/vmpackd.pid"
kill "$pid"
for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
done
! kill -0 "$pid" 2>/dev/null || fail "vmpackd $pid still runs 10 s after SIGTERM"
# gio passes its environment on, so VMPACKD names the daemon that vmpack start runs.
VMPACKD="$TEST_TMP/no-such-vmpackd" launch "$TEST_TMP/nostart" "$desktop"
status="$(cat "$TEST_TMP/nostart")"
[ "$status" -ne 0 ] || fail "vmpack start succeeded without a daemon"
echo "stderr of the launched vmpack start: $(cat "$TEST_TMP/nostart.err")"
grep -q "no-such-vmpackd" "$TEST_TMP/nostart.err" || fail "the error does not name the daemon program: $(cat "$TEST_TMP/nostart.err")"
grep -q "vmpackd.log" "$TEST_TMP/nostart.err" || fail "the error does not name the daemon's log: $(cat "$TEST_TMP/nostart.err")"
pass "vmpack start exited with status $status and named the daemon it could not start"
