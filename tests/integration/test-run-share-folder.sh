#!/bin/bash
# Folders shared with vmpack run --filesystem: the guest gets exactly that folder at its
# place under the app's home, read-only unless :rw or :create. A location whose symbolic
# link leaves the home is rejected before any VM starts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

require_cmd qemu-system-x86_64
ensure_shell_image

# The invoking user's home for --filesystem; vmpack run reads $HOME.
export HOME="$TEST_TMP/home"
mkdir -p "$HOME/Work/sub" "$HOME/Other" "$HOME/My Files/Über ñ 写真" "$HOME/Téléchargements"
echo "work file" >"$HOME/Work/a.txt"
echo "nested" >"$HOME/Work/sub/b.txt"
echo "not shared" >"$HOME/Other/secret.txt"
echo "utf-8" >"$HOME/My Files/Über ñ 写真/c.txt"
echo "download" >"$HOME/Téléchargements/d.txt"
mkdir -p "$HOME/.config"
# shellcheck disable=SC2016 # $HOME is for the user-dirs.dirs reader, not this shell
printf 'XDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n' >"$HOME/.config/user-dirs.dirs"

say "read-only folder: exactly its files, nothing beside it, writes fail with EROFS"
set +e
vmrun --filesystem '~/Work' --entrypoint /bin/sh "$SHELL_IMAGE" -c '
        echo "files: $(cd /home/user/Work && find . | sort | tr "\n" " ")"
        echo "content: $(cat /home/user/Work/a.txt)"
        echo "home: $(ls -A /home/user | tr "\n" " ")"
        echo "owner: $(stat -c %u /home/user/Work/a.txt)"
        echo "write: $(echo x 2>&1 >/home/user/Work/new.txt || true)"
        echo "mount: $(grep " /home/user/Work " /proc/mounts | cut -d" " -f4 | cut -d, -f1)"
' >"$TEST_TMP/out" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "exit status $status: $(cat "$TEST_TMP/err")"
expect_eq "the folder's files" "$(grep '^files:' "$TEST_TMP/out")" "files: . ./a.txt ./sub ./sub/b.txt "
expect_eq "content readable" "$(grep '^content:' "$TEST_TMP/out")" "content: work file"
expect_eq "nothing else of the home" "$(grep '^home:' "$TEST_TMP/out")" "home: Work "
expect_eq "owned by the app's uid" "$(grep '^owner:' "$TEST_TMP/out")" "owner: 1000"
grep -q '^write: .*Read-only file system' "$TEST_TMP/out" ||
        fail "write to a read-only folder: expected EROFS, got '$(grep '^write:' "$TEST_TMP/out" "$TEST_TMP/err")'"
pass "write to a read-only folder fails with EROFS"
expect_eq "mounted read-only" "$(grep '^mount:' "$TEST_TMP/out")" "mount: ro"
[ ! -e "$HOME/Work/new.txt" ] || fail "the read-only write reached the host"
pass "host folder unchanged"

say ":rw: writes reach the host; names with spaces and UTF-8; xdg-download from user-dirs.dirs"
set +e
vmrun --filesystem '~/Work:rw' --filesystem '~/My Files/Über ñ 写真' --filesystem xdg-download \
        --entrypoint /bin/sh "$SHELL_IMAGE" -c '
        echo "from the guest" >/home/user/Work/new.txt && echo "write: ok"
        rm /home/user/Work/sub/b.txt && echo "remove: ok"
        echo "utf-8: $(cat "/home/user/My Files/Über ñ 写真/c.txt")"
        echo "download: $(cat /home/user/Téléchargements/d.txt)"
        echo "parent owner: $(stat -c %u "/home/user/My Files")"
' >"$TEST_TMP/out" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "exit status $status: $(cat "$TEST_TMP/err")"
expect_eq "write allowed" "$(grep '^write:' "$TEST_TMP/out")" "write: ok"
expect_eq "host file written" "$(cat "$HOME/Work/new.txt")" "from the guest"
expect_eq "remove allowed" "$(grep '^remove:' "$TEST_TMP/out")" "remove: ok"
[ ! -e "$HOME/Work/sub/b.txt" ] || fail "the guest's remove did not reach the host"
pass "host file removed"
expect_eq "space and UTF-8 name" "$(grep '^utf-8:' "$TEST_TMP/out")" "utf-8: utf-8"
expect_eq "xdg-download" "$(grep '^download:' "$TEST_TMP/out")" "download: download"
expect_eq "mount point's parent belongs to the app" "$(grep '^parent owner:' "$TEST_TMP/out")" "parent owner: 1000"

say "a newline in the folder's name"
newline_name=$'line\nbreak'
mkdir "$HOME/$newline_name"
echo "newline" >"$HOME/$newline_name/f.txt"
out="$(vmrun --filesystem "~/$newline_name" --entrypoint /bin/cat "$SHELL_IMAGE" "/home/user/$newline_name/f.txt")"
expect_eq "newline in the name" "$out" "newline"

say ":create makes the folder on the host (mode 0700) and shares it read-write"
set +e
vmrun --filesystem '~/Projects/new one:create' --entrypoint /bin/sh "$SHELL_IMAGE" -c '
        echo made >"/home/user/Projects/new one/x" && echo "write: ok"
' >"$TEST_TMP/out" 2>"$TEST_TMP/err"
status=$?
set -e
[ "$status" -eq 0 ] || fail "exit status $status: $(cat "$TEST_TMP/err")"
expect_eq "created folder mode" "$(stat -c %a "$HOME/Projects/new one")" "700"
expect_eq "write in the created folder" "$(cat "$HOME/Projects/new one/x")" "made"

# An absolute location appears at the same path in the guest, so it cannot be under /tmp
# (a guest system directory): use /mnt when this user may write there.
absolute=""
if [ -w /mnt ]; then
        absolute="$(mktemp -d /mnt/vmpack-test.XXXXXX)"
        trap 'rm -rf --one-file-system "$absolute"; _vp_test_cleanup' EXIT
        say "absolute folder: mounted at the same path in the guest"
        mkdir "$absolute/data"
        echo "absolute" >"$absolute/data/e.txt"
        ln -s data "$absolute/link"
        out="$(vmrun --filesystem "$absolute/data" --entrypoint /bin/cat "$SHELL_IMAGE" "$absolute/data/e.txt")"
        expect_eq "absolute folder content" "$out" "absolute"
else
        say "absolute folder: not checked, /mnt is not writable"
fi

say "rejected before boot: a symbolic link out of the home, a missing folder, ..."
ln -s /etc "$HOME/Escape"
check_rejected() {
        local name="$1" expected="$2"
        shift 2
        set +e
        vmrun "$@" --entrypoint /bin/true "$SHELL_IMAGE" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
        status=$?
        set -e
        [ "$status" -eq 125 ] || [ "$status" -eq 2 ] ||
                fail "$name: expected exit status 125 or 2, got $status: $(cat "$TEST_TMP/err")"
        grep -qF -- "$expected" "$TEST_TMP/err" ||
                fail "$name: expected '$expected' in the message, got '$(cat "$TEST_TMP/err")'"
        # A run directory is made only when a VM is set up.
        [ -z "$(ls -A "$VMPACK_RUNTIME_DIR")" ] || fail "$name: a VM was set up: $(ls "$VMPACK_RUNTIME_DIR")"
        pass "$name"
}
check_rejected "symbolic link to /etc" "leads outside the home" --filesystem '~/Escape'
check_rejected "symbolic link in the middle" "leads outside the home" --filesystem '~/Escape/apt:rw'
if [ -n "$absolute" ]; then
        check_rejected "absolute path with a link" "contains a symbolic link" --filesystem "$absolute/link"
fi
check_rejected "absolute path under /tmp" "/tmp is a system directory in the VM" --filesystem "$HOME/Work"
check_rejected "missing folder" "folder ~/Missing does not exist (use :create to create it)" \
        --filesystem '~/Missing'
check_rejected "'..'" "'..'" --filesystem '~/../..'
check_rejected "root directory" "whole host file system" --filesystem '/'
# A store under /tmp (a clone built there) is rejected earlier, as a guest system path.
case "$VMPACK_DATA_DIR" in
/tmp/* | /var/* | /usr/* | /run/* | /root/* | /etc/* | /boot/* | /lib*) store_reason="is a system directory in the VM" ;;
*) store_reason="may not be shared" ;;
esac
check_rejected "the store" "$store_reason" --filesystem "$VMPACK_DATA_DIR"
check_rejected "a file" "is not a directory" --filesystem '~/Work/a.txt'
check_rejected "guest system directory" "system directory in the VM" --filesystem '/usr/share'
check_rejected "unknown mode" "unknown mode" --filesystem '~/Work:wx'
check_rejected "nested folders" "overlap in the VM" --filesystem '~/Work' --filesystem '~/Work/sub'
