# shellcheck shell=bash
# Helpers for the test-gui-* scripts; source it after lib.sh.
#
#   build_gui_image NAME [LINE...]   write $TEST_TMP/NAME/NAME.vmpack, a foot terminal with a
#                                    red background under sway, with each LINE added to its
#                                    [Permissions] after display=wayland, and build it. With
#                                    no LINE the recipe's text is the same in every script,
#                                    so the scripts share one cached image.
#   screen_size REPORT_FILE          the WIDTHxHEIGHT of a qmp-screendump.py report line

build_gui_image() {
        local name="$1"
        shift
        mkdir -p "$TEST_TMP/$name"
        {
                cat <<'RECIPE'
[App]
Name=Screendump test terminal
Exec=foot --override=colors.background=ff0000 sleep 3600
Packages=sway;xwayland;foot;fonts-dejavu-core

[Resources]
Memory=512M

[Permissions]
display=wayland
RECIPE
                [ $# -eq 0 ] || printf '%s\n' "$@"
        } >"$TEST_TMP/$name/$name.vmpack"
        # --force: the recipe lives in this run's temporary directory, so an image of this
        # name was built from another path by an earlier run.
        "$VMPACK" build --force "$TEST_TMP/$name" >"$TEST_TMP/build-$name.log" 2>&1 ||
                fail "vmpack build $name failed: $(tail -5 "$TEST_TMP/build-$name.log")"
        pass "image $name built"
}

screen_size() {
        sed -n 's/^screendump [^ ]*: \([0-9]*x[0-9]*\),.*/\1/p' "$1"
}
