#!/bin/bash
# Run libexec/harden on a small fake Debian root (no mirror, no VM). It must remove the
# shells and interpreters outside the app's dependency closure, with the symlinks that lead
# to them. It must keep those the app needs directly, through a virtual package (Provides)
# or through a held package, but not those needed only by install-time tools like debconf.
. "$(dirname "$0")/lib.sh"
harden="$VMPACK_SOURCE_ROOT/libexec/harden"
[ -x "$harden" ] || fail "$harden is missing or not executable"

root="$TEST_TMP/root"
mkdir -p "$root/usr/bin" "$root/usr/share/doc/dash" "$root/etc/alternatives" "$root/var/lib/dpkg/info"
ln -s usr/bin "$root/bin"

# package NAME STATUS DEPENDS PROVIDES FILE...: add a status entry, a .list and the files.
package() {
        local name="$1" state="$2" depends="$3" provides="$4"
        shift 4
        {
                echo "Package: $name"
                echo "Status: $state"
                echo "Version: 1.0"
                [ -z "$depends" ] || echo "Depends: $depends"
                [ -z "$provides" ] || echo "Provides: $provides"
                echo
        } >>"$root/var/lib/dpkg/status"
        : >"$root/var/lib/dpkg/info/$name.list"
        local file
        for file in "$@"; do
                echo "$file" >>"$root/var/lib/dpkg/info/$name.list"
                if [ ! -e "$root$file" ]; then
                        mkdir -p "$(dirname "$root$file")"
                        echo "#!/bin/true" >"$root$file"
                        chmod 755 "$root$file"
                fi
        done
}

package app "install ok installed" "libapp (>= 1), bash, debconf (>= 0.5) | debconf-2.0, pager" "" /usr/bin/app
package libapp "hold ok installed" "awk" "" /usr/share/doc/libapp
package bash "install ok installed" "" "" /bin/bash
package mawk "install ok installed" "" "awk" /usr/bin/mawk
package less "install ok installed" "" "pager" /usr/bin/less
package dash "install ok installed" "" "" /bin/dash /usr/share/doc/dash/copyright
ln -s dash "$root/bin/sh"
echo /bin/sh >>"$root/var/lib/dpkg/info/dash.list"
package debconf "install ok installed" "perl-base" "debconf-2.0" /usr/bin/debconf-show
package perl-base "install ok installed" "" "" /usr/bin/perl
ln -s /etc/alternatives/perl5 "$root/usr/bin/perl5"
ln -s /usr/bin/perl "$root/etc/alternatives/perl5"
package python3.11-minimal "install ok installed" "" "" /usr/bin/python3.11
package python3-minimal "install ok installed" "python3.11-minimal" "" /usr/bin/python3
rm "$root/usr/bin/python3"
ln -s python3.11 "$root/usr/bin/python3"
# Removed but not purged: its .list names a shell that is no longer there.
package zsh "deinstall ok config-files" "" ""
echo /usr/bin/zsh >>"$root/var/lib/dpkg/info/zsh.list"

printf 'app\0' >"$TEST_TMP/packages"
"$harden" "$root" "$TEST_TMP/packages" "$TEST_TMP/removed" >"$TEST_TMP/out.txt" 2>&1 ||
        fail "harden failed: $(cat "$TEST_TMP/out.txt")"

for path in /usr/bin/dash /usr/bin/sh /usr/bin/perl /usr/bin/perl5 /etc/alternatives/perl5 /usr/bin/python3.11 /usr/bin/python3; do
        [ ! -e "$root$path" ] && [ ! -L "$root$path" ] || fail "$path is still in the image"
        grep -qxF "$path" "$TEST_TMP/removed" || fail "$path is missing from the removed list: $(cat "$TEST_TMP/removed")"
done
pass "dash, sh, perl, python and the links to them are removed and listed"

for path in /usr/bin/app /usr/bin/bash /usr/bin/mawk /usr/bin/less /usr/bin/debconf-show /usr/share/doc/dash/copyright; do
        [ -e "$root$path" ] || fail "$path was removed"
done
pass "the app, its shell and awk, a provider, and non-interpreter files stay"

grep -q "keeping bash: the app depends on it" "$TEST_TMP/out.txt" || fail "no message about keeping bash: $(cat "$TEST_TMP/out.txt")"
grep -q "keeping mawk: the app depends on it" "$TEST_TMP/out.txt" || fail "no message about keeping mawk: $(cat "$TEST_TMP/out.txt")"
grep -q "harden: removed dash: /usr/bin/dash /usr/bin/sh" "$TEST_TMP/out.txt" || fail "no removal message for dash: $(cat "$TEST_TMP/out.txt")"
pass "harden reports what it keeps and removes"

rm "$root/var/lib/dpkg/status"
if "$harden" "$root" "$TEST_TMP/packages" "$TEST_TMP/removed" >"$TEST_TMP/nostatus.txt" 2>&1; then
        fail "harden succeeded without a dpkg status file"
fi
grep -q "has no dpkg database" "$TEST_TMP/nostatus.txt" || fail "unclear error without dpkg status: $(cat "$TEST_TMP/nostatus.txt")"
pass "a root without a dpkg database is rejected"
