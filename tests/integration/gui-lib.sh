# shellcheck shell=bash
# Helpers for the test-gui-* scripts; source it after lib.sh.
#
#   build_test_image NAME TITLE EXEC PACKAGES [LINE...]
#                                    write $TEST_TMP/NAME/NAME.vmpack, a display=wayland
#                                    recipe named TITLE that runs EXEC with the Debian
#                                    PACKAGES (';'-separated) and 512 MiB, with each LINE
#                                    added to its [Permissions], and build it
#   build_gui_image NAME [LINE...]   the same for a foot terminal with a red background
#                                    under sway. With no LINE the recipe's text is the
#                                    same in every script, so the scripts share one
#                                    cached image.
#   screen_size REPORT_FILE          the WIDTHxHEIGHT of a qmp-screendump.py report line
#   add_vnc_server SOCKET            write $TEST_TMP/bin/qemu-system-x86_64, a wrapper that
#                                    adds `-vnc unix:SOCKET`, which normal runs do not
#                                    have; run vmpack with PATH="$TEST_TMP/bin:$PATH"

build_test_image() {
        local name="$1" title="$2" exec_line="$3" packages="$4"
        shift 4
        mkdir -p "$TEST_TMP/$name"
        {
                printf '[App]\nName=%s\nExec=%s\nPackages=%s\n\n' "$title" "$exec_line" "$packages"
                printf '[Resources]\nMemory=512M\n\n[Permissions]\ndisplay=wayland\n'
                [ $# -eq 0 ] || printf '%s\n' "$@"
        } >"$TEST_TMP/$name/$name.vmpack"
        # --force: the recipe lives in this run's temporary directory, so an image of this
        # name was built from another path by an earlier run.
        "$VMPACK" build --force "$TEST_TMP/$name" >"$TEST_TMP/build-$name.log" 2>&1 ||
                fail "vmpack build $name failed: $(tail -5 "$TEST_TMP/build-$name.log")"
        pass "image $name built"
}

build_gui_image() {
        local name="$1"
        shift
        build_test_image "$name" "Screendump test terminal" "foot --override=colors.background=ff0000 sleep 3600" \
                "sway;xwayland;foot;fonts-dejavu-core" "$@"
}

screen_size() {
        sed -n 's/^screendump [^ ]*: \([0-9]*x[0-9]*\),.*/\1/p' "$1"
}

add_vnc_server() {
        local real_qemu
        real_qemu="$(command -v qemu-system-x86_64)"
        mkdir -p "$TEST_TMP/bin"
        cat >"$TEST_TMP/bin/qemu-system-x86_64" <<WRAPPER
#!/bin/sh
exec "$real_qemu" "\$@" -vnc "unix:$1"
WRAPPER
        chmod +x "$TEST_TMP/bin/qemu-system-x86_64"
}
