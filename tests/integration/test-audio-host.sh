#!/bin/bash
# Sound played in the guest comes out of the host's PulseAudio server. The test starts a
# private PulseAudio server with one null sink and records the sink's monitor with parec
# while the guest plays a 440 Hz sine with speaker-test. The recording must contain a tone
# well above silence whose dominant frequency is 440 Hz. Six boots under TCG of two images
# with display=wayland, audio=playback and alsa-utils:
#   1. vmpack run finding the server through $XDG_RUNTIME_DIR/pulse/native, with no
#      pulse/pid file next to it, which QEMU 7.2 alone would need;
#   2. an instance started through vmpackd with PULSE_SERVER set;
#   3. the same instance after 'vmpack override --nodevice=audio': no sound card, silence;
#   4. vmpack run without any server: the notice, QEMU's "none" audiodev, silence;
#   5. vmpack run with PULSE_SERVER naming the socket of a server that is gone: a notice and
#      the "none" audiodev, where QEMU would refuse to start;
#   6. with microphone=on (a second image), the guest records a 660 Hz tone that the host
#      plays into the sink, because QEMU records the server's default source, the sink's
#      monitor.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"
. "$(dirname "$0")/gui-lib.sh"
. "$(dirname "$0")/instance-lib.sh"

require_cmd qemu-system-x86_64 qemu-img mmdebstrap tar2sqfs pulseaudio parec pactl python3
unset DISPLAY WAYLAND_DISPLAY PULSE_SERVER

PULSE_DIR="$TEST_TMP/pulse"
PULSE_RUNTIME="$PULSE_DIR/run"
PULSE_SOCKET="$PULSE_RUNTIME/pulse/native"
PULSE_SINK=vmpacktest
# parec resamples the monitor to this rate in Hz, mono. 16 kHz is plenty for 440 Hz.
RECORD_RATE=16000
pulse_pid=""
record_pid=""
player_pid=""

_audio_test_cleanup() {
        local status=$?
        [ -z "$record_pid" ] || kill "$record_pid" 2>/dev/null || true
        [ -z "$player_pid" ] || kill "$player_pid" 2>/dev/null || true
        [ -z "$pulse_pid" ] || kill "$pulse_pid" 2>/dev/null || true
        wait 2>/dev/null || true
        (exit "$status")
        _instance_test_cleanup
}
trap _audio_test_cleanup EXIT
# The EXIT trap then runs on Ctrl-C and on meson's timeout too, so no server is left behind.
trap 'exit 130' INT
trap 'exit 143' TERM

pactl_test() {
        PULSE_SERVER="unix:$PULSE_SOCKET" pactl "$@"
}

# A server for this test alone: its own HOME, XDG_RUNTIME_DIR and XDG_CONFIG_HOME, no default
# script (-n), one null sink, the native protocol on a unix socket only, and no pid file.
# Started as root, it warns that it is meant for a user session, which is harmless for a
# private server. No real-time or raised priority: other tests share the CPUs. The native protocol keeps its default authentication, as in a desktop
# session: a client of the server's own uid is let in by its socket credentials, which QEMU
# sends from inside vmpack's user namespace.
say "start a private PulseAudio server with a null sink"
mkdir -p "$PULSE_DIR/home" "$PULSE_DIR/config" "$PULSE_RUNTIME"
chmod 0700 "$PULSE_DIR" "$PULSE_RUNTIME"
env -i PATH="$PATH" HOME="$PULSE_DIR/home" XDG_RUNTIME_DIR="$PULSE_RUNTIME" \
        XDG_CONFIG_HOME="$PULSE_DIR/config" \
        pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit --use-pid-file=no \
        --system=no --realtime=no --high-priority=no --log-target=stderr \
        -L "module-null-sink sink_name=$PULSE_SINK rate=48000 channels=2" \
        -L "module-native-protocol-unix socket=$PULSE_SOCKET" \
        >"$TEST_TMP/pulseaudio.log" 2>&1 &
pulse_pid=$!
for _ in $(seq 100); do
        pactl_test info >/dev/null 2>&1 && break
        kill -0 "$pulse_pid" 2>/dev/null || break
        sleep 0.1
done
pactl_test info >/dev/null 2>&1 ||
        fail "PulseAudio did not start on $PULSE_SOCKET: $(tail -5 "$TEST_TMP/pulseaudio.log")"
pactl_test list short sinks | grep -q "$PULSE_SINK" || fail "the server has no sink $PULSE_SINK"
[ ! -e "$PULSE_RUNTIME/pulse/pid" ] || fail "the server wrote $PULSE_RUNTIME/pulse/pid despite --use-pid-file=no"
pass "server on $PULSE_SOCKET with sink $PULSE_SINK and no pid file"

# Record the sink's monitor into FILE until record_stop. Returns once parec is connected, so
# the recording cannot miss the start of the tone.
record_start() {
        local file="$1"
        PULSE_SERVER="unix:$PULSE_SOCKET" parec -d "$PULSE_SINK.monitor" --format=s16le \
                --rate="$RECORD_RATE" --channels=1 --raw >"$file" 2>"$file.log" &
        record_pid=$!
        for _ in $(seq 50); do
                [ -n "$(pactl_test list short source-outputs)" ] && return 0
                kill -0 "$record_pid" 2>/dev/null || break
                sleep 0.1
        done
        fail "parec did not start recording $PULSE_SINK.monitor: $(cat "$file.log")"
}

record_stop() {
        # The guest has powered off by now. The pause lets the server pass on what QEMU
        # wrote last.
        sleep 0.5
        kill "$record_pid"
        wait "$record_pid" || true
        record_pid=""
}

# Print key=value facts about a recording (s16le mono at RECORD_RATE), cut into 50 ms windows:
#   seconds    length of the recording
#   peak       largest absolute sample, 0 to 1 of full scale
#   loud_s     seconds in windows whose RMS exceeds 0.01 (-40 dBFS)
#   rms        mean RMS of those windows, 0 to 1 (a full-scale sine is 0.707)
#   gaps       quiet windows between the first and the last loud one (underruns)
#   freq       strongest frequency in Hz from 50 to 4000 Hz in the first 0.5 s of the loud
#              part, from a coarse 10 Hz scan then a 0.5 Hz one around its peak; 0 without one
analyze() {
        python3 - "$1" "$RECORD_RATE" <<'EOF'
import array, math, sys

rate = int(sys.argv[2])
samples = array.array("h")
with open(sys.argv[1], "rb") as f:
    data = f.read()
samples.frombytes(data[: len(data) // 2 * 2])
if sys.byteorder != "little":
    samples.byteswap()

window = rate // 20
rms = []
for start in range(0, len(samples) - window + 1, window):
    chunk = samples[start : start + window]
    rms.append(math.sqrt(sum(x * x for x in chunk) / window) / 32768)
loud = [i for i, r in enumerate(rms) if r > 0.01]

def power(chunk, freq):
    # Goertzel: the power of one DFT bin at freq.
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in chunk:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2

freq = 0.0
if loud:
    chunk = samples[loud[0] * window : loud[0] * window + rate // 2]
    coarse = max(range(50, 4001, 10), key=lambda f: power(chunk, f))
    freq = max((coarse - 10 + i / 2 for i in range(41)), key=lambda f: power(chunk, f))

print("seconds=%.2f" % (len(samples) / rate))
print("peak=%.4f" % (max((abs(x) for x in samples), default=0) / 32768))
print("loud_s=%.2f" % (len(loud) * window / rate))
print("rms=%.4f" % (sum(rms[i] for i in loud) / len(loud) if loud else 0))
print("gaps=%d" % (sum(1 for i in range(loud[0], loud[-1]) if rms[i] <= 0.01) if loud else 0))
print("freq=%.1f" % freq)
EOF
}

fact() {
        sed -n "s/^$1=//p" <<<"$2"
}

# Pass when the recording contains a tone of FREQ Hz. It must last at least 1.5 s, because
# speaker-test -l 1 plays about 2.7 s and arecord -d 3 records 3 s. Its RMS must be at least
# 0.1 of full scale, its dominant frequency within 5 Hz of FREQ, and its gaps shorter than it.
expect_tone() {
        local name="$1" facts="$2" freq="$3"
        say "$name: $(tr '\n' ' ' <<<"$facts")"
        python3 - "$facts" "$freq" <<'EOF' || fail "$name: the recording does not contain a $freq Hz tone"
import sys
facts = dict(line.split("=") for line in sys.argv[1].split())
expected = float(sys.argv[2])
ok = True
if float(facts["loud_s"]) < 1.5:
    print("tone shorter than 1.5 s: %s s" % facts["loud_s"]); ok = False
if float(facts["rms"]) < 0.1:
    print("RMS %s below 0.1 of full scale" % facts["rms"]); ok = False
if abs(float(facts["freq"]) - expected) > 5:
    print("dominant frequency %s Hz, not %g +- 5 Hz" % (facts["freq"], expected)); ok = False
if int(facts["gaps"]) * 0.05 > float(facts["loud_s"]) / 2:
    print("more gap than tone: %s windows of 50 ms" % facts["gaps"]); ok = False
sys.exit(0 if ok else 1)
EOF
        pass "$name: tone of $(fact loud_s "$facts") s, RMS $(fact rms "$facts"), $(fact freq "$facts") Hz"
}

expect_silence() {
        local name="$1" facts="$2"
        say "$name: $(tr '\n' ' ' <<<"$facts")"
        [ "$(fact loud_s "$facts")" = "0.00" ] || fail "$name: the monitor recorded sound: $facts"
        [ "$(fact peak "$facts")" = "0.0000" ] || fail "$name: the monitor is not silent: $facts"
        pass "$name: the monitor stayed silent for $(fact seconds "$facts") s"
}

# Build image NAME with each further argument as a permission line after display=wayland.
build_image() {
        local name="$1"
        shift
        build_test_image "$name" "Audio test tone" "speaker-test -t sine -f 440 -l 1" "sway;xwayland;alsa-utils" "$@"
}

say "build the test images (sway, xwayland, alsa-utils)"
build_image audiohost "audio=playback"
build_image audiomic "audio=playback" "microphone=on"

say "vmpack run with the server at \$XDG_RUNTIME_DIR/pulse/native (up to 600 s under TCG)"
record_start "$TEST_TMP/run.raw"
set +e
XDG_RUNTIME_DIR="$PULSE_RUNTIME" vmrun -v --display none --timeout 600 audiohost \
        >"$TEST_TMP/run.out" 2>"$TEST_TMP/run.err"
status=$?
set -e
record_stop
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/run.err" >&2
        fail "vmpack run audiohost: exit status $status"
fi
cmdline="$(grep "QEMU command line" "$TEST_TMP/run.err" || true)"
[[ "$cmdline" == *"-audiodev pa,id=audio0,server=unix:$PULSE_SOCKET "* ]] ||
        fail "QEMU does not get the server's socket: $cmdline"
[[ "$cmdline" == *"hda-output,audiodev=audio0,mixer=off"* ]] ||
        fail "QEMU command line has no hda-output without a guest mixer: $cmdline"
pass "QEMU gets -audiodev pa,server=unix:$PULSE_SOCKET and hda-output,mixer=off"
! grep -q "no PulseAudio" "$TEST_TMP/run.err" || fail "vmpack run printed the no-server notice with a server running"
grep -q "Sine wave rate is 440" "$TEST_TMP/run.out" || fail "speaker-test did not play: $(cat "$TEST_TMP/run.out")"
expect_tone "vmpack run" "$(analyze "$TEST_TMP/run.raw")" 440

NAME="$(instance audio)"
say "instance $NAME through vmpackd with PULSE_SERVER (up to 600 s under TCG)"
# vmpackd starts with the first command that needs it and keeps its environment, so
# PULSE_SERVER must be set here already.
export PULSE_SERVER="unix:$PULSE_SOCKET"
"$VMPACK" install --no-desktop --data-size 64M audiohost "$NAME" >/dev/null || fail "install $NAME failed"
record_start "$TEST_TMP/granted.raw"
set +e
timeout 600 "$VMPACK" start --wait "$NAME" 2>"$TEST_TMP/granted.err"
status=$?
set -e
record_stop
expect_eq "exit status of speaker-test in $NAME" "$status" 0
expect_tone "instance" "$(analyze "$TEST_TMP/granted.raw")" 440

say "the same instance after 'vmpack override --nodevice=audio' (up to 600 s under TCG)"
"$VMPACK" override --nodevice=audio "$NAME" >/dev/null || fail "vmpack override --nodevice=audio $NAME failed"
record_start "$TEST_TMP/denied.raw"
set +e
timeout 600 "$VMPACK" start --wait "$NAME" 2>"$TEST_TMP/denied.err"
status=$?
set -e
record_stop
"$VMPACK" logs "$NAME" >"$TEST_TMP/denied.log"
[ "$status" -ne 0 ] || fail "speaker-test succeeded without the audio device: $(tail -5 "$TEST_TMP/denied.log")"
# alsa-lib's message when the guest has no sound card at all.
grep -q "Unknown PCM default" "$TEST_TMP/denied.log" ||
        fail "speaker-test failed for another reason than a missing card: $(tail -5 "$TEST_TMP/denied.log")"
pass "speaker-test finds no sound card (exit status $status, 'Unknown PCM default')"
expect_silence "instance without audio" "$(analyze "$TEST_TMP/denied.raw")"
unset PULSE_SERVER

say "vmpack run without a server: the notice and QEMU's none audiodev (up to 600 s under TCG)"
mkdir -p "$TEST_TMP/empty-runtime"
record_start "$TEST_TMP/none.raw"
set +e
XDG_RUNTIME_DIR="$TEST_TMP/empty-runtime" vmrun -v --display none --timeout 600 audiohost \
        >"$TEST_TMP/none.out" 2>"$TEST_TMP/none.err"
status=$?
set -e
record_stop
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/none.err" >&2
        fail "vmpack run audiohost without a server: exit status $status"
fi
notice="$(grep "no PulseAudio" "$TEST_TMP/none.err" || true)"
expect_eq "notice" "$notice" "vmpack run: no PulseAudio or PipeWire server found (PULSE_SERVER, \$XDG_RUNTIME_DIR/pulse/native): the app's sound is discarded"
cmdline="$(grep "QEMU command line" "$TEST_TMP/none.err" || true)"
[[ "$cmdline" == *"-audiodev none,id=audio0 "* ]] || fail "QEMU does not get the none audiodev: $cmdline"
pass "QEMU gets -audiodev none, and the app still plays into it"
expect_silence "vmpack run without a server" "$(analyze "$TEST_TMP/none.raw")"

say "vmpack run with PULSE_SERVER naming a socket without a server (up to 600 s under TCG)"
# A server that crashed leaves its socket file behind: bind a socket, then close it.
stale="$TEST_TMP/stale.sock"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$stale"
set +e
PULSE_SERVER="unix:$stale" vmrun -v --display none --timeout 600 audiohost \
        >"$TEST_TMP/stale.out" 2>"$TEST_TMP/stale.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/stale.err" >&2
        fail "vmpack run audiohost with a stale PULSE_SERVER: exit status $status"
fi
notice="$(grep "PulseAudio server" "$TEST_TMP/stale.err" || true)"
expect_eq "notice" "$notice" "vmpack run: the PulseAudio server unix:$stale (from PULSE_SERVER) does not accept connections (Connection refused): the app's sound is discarded"
cmdline="$(grep "QEMU command line" "$TEST_TMP/stale.err" || true)"
[[ "$cmdline" == *"-audiodev none,id=audio0 "* ]] || fail "QEMU does not get the none audiodev: $cmdline"
pass "QEMU gets -audiodev none and the app runs"

say "with microphone=on: the guest records what the host plays (up to 600 s under TCG)"
# 660 Hz at half of full scale (RMS 0.35), generated until pacat stops reading. Killing
# pacat ends python3 through SIGPIPE.
python3 -c '
import array, math, sys
period = array.array("h", (int(16383 * math.sin(2 * math.pi * 660 * i / 16000)) for i in range(16000)))
while True:
    sys.stdout.buffer.write(period.tobytes())
' 2>/dev/null | PULSE_SERVER="unix:$PULSE_SOCKET" pacat --playback -d "$PULSE_SINK" --format=s16le \
        --rate=16000 --channels=1 --raw 2>"$TEST_TMP/pacat.log" &
player_pid=$!
set +e
PULSE_SERVER="unix:$PULSE_SOCKET" vmrun -v --display none --timeout 600 --entrypoint sh audiomic \
        -c "arecord -q -f S16_LE -r $RECORD_RATE -c 1 -d 3 -t raw" >"$TEST_TMP/mic.raw" 2>"$TEST_TMP/mic.err"
status=$?
set -e
kill "$player_pid" 2>/dev/null || true
wait "$player_pid" 2>/dev/null || true
player_pid=""
if [ "$status" -ne 0 ]; then
        tail -40 "$TEST_TMP/mic.err" >&2
        fail "vmpack run audiomic: exit status $status"
fi
cmdline="$(grep "QEMU command line" "$TEST_TMP/mic.err" || true)"
[[ "$cmdline" == *"hda-duplex,audiodev=audio0,mixer=off"* ]] ||
        fail "QEMU command line has no hda-duplex without a guest mixer: $cmdline"
pass "QEMU gets hda-duplex,mixer=off"
expect_tone "guest recording" "$(analyze "$TEST_TMP/mic.raw")" 660
