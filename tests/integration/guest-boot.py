#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot one vmpack guest with QEMU directly and record what vmpack-init sends.

test-guest-init.sh uses it to reach guest features that `vmpack run` does not expose (data
volume, static network, broken configurations). The four virtio-serial ports are socketpairs
passed to QEMU as `-chardev socket,fd=N`. The driver replies to the final exit or error event
with {"request":"poweroff"} once the announced output bytes have arrived, as the host does.

Results go to OUT_DIR: events (one JSON object per line), stdout, stderr, console (the VM
log) and status (QEMU's exit status, or "timeout").
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import time

PORTS = ["agent", "stdin", "stdout", "stderr"]


def host_tsc_khz():
    """Host TSC frequency in kHz, for tsc_early_khz= on microvm (no HPET or PM timer there)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/tsc_freq_khz") as f:
            return int(f.read())
    except (OSError, ValueError):
        pass
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    return 0


def qemu_command(a, fds):
    microvm = a.machine == "microvm"
    suffix = "-device" if microvm else "-pci"
    append = "console=ttyS0 quiet panic=-1 rdinit=/init"
    if microvm and host_tsc_khz():
        append += " tsc_early_khz=%d" % host_tsc_khz()
    cmd = ["qemu-system-x86_64", "-M", a.machine, "-accel", "tcg", "-m", "256",
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-kernel", a.vmlinux, "-initrd", a.initrd, "-append", append,
           "-serial", "file:" + os.path.join(a.out, "console"),
           "-drive", "if=none,id=root,file=%s,format=raw,readonly=on" % a.image,
           "-device", "virtio-blk%s,drive=root" % suffix]
    if a.config:
        cmd += ["-fw_cfg", "name=opt/io.bheem/config,file=" + a.config]
    if a.data:
        cmd += ["-drive", "if=none,id=data,file=%s,format=raw" % a.data,
                "-device", "virtio-blk%s,drive=data" % suffix]
    if not a.no_ports:
        cmd += ["-device", "virtio-serial" + suffix]
        for name, fd in zip(PORTS, fds):
            cmd += ["-chardev", "socket,id=%s,fd=%d" % (name, fd),
                    "-device", "virtserialport,chardev=%s,name=io.bheem.%s" % (name, name)]
    for i, share in enumerate(a.share):
        tag, path, mode = share.split(":", 2)
        readonly = ",readonly=on" if mode == "ro" else ""
        cmd += ["-fsdev", "local,id=fs%d,path=%s,security_model=none%s" % (i, path, readonly),
                "-device", "virtio-9p%s,fsdev=fs%d,mount_tag=%s" % (suffix, i, tag)]
    if a.nic_dir:
        # A NIC whose datagrams go to a unix socket that no process reads, so no traffic leaves
        # the host.
        cmd += ["-netdev", "dgram,id=net0,local.type=unix,local.path=%s/guest.sock,"
                "remote.type=unix,remote.path=%s/peer.sock" % (a.nic_dir, a.nic_dir),
                "-device", "virtio-net%s,netdev=net0" % suffix]
    return cmd


def output_complete(final, received):
    if final.get("event") != "exit":
        return True
    return (len(received["stdout"]) >= final.get("stdout_bytes", 0) and
            len(received["stderr"]) >= final.get("stderr_bytes", 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmlinux", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--image", required=True, help="squashfs root image")
    ap.add_argument("--config", help="guest configuration file (none: no fw_cfg entry)")
    ap.add_argument("--out", required=True, help="directory for the results")
    ap.add_argument("--machine", default="microvm", choices=["microvm", "q35"])
    ap.add_argument("--share", action="append", default=[], help="TAG:HOST_PATH:ro|rw")
    ap.add_argument("--data", help="raw ext4 image attached as the second disk")
    ap.add_argument("--nic-dir", help="directory for the NIC's unix sockets")
    ap.add_argument("--stdin", default="", help="text sent to the app's stdin before end of file")
    ap.add_argument("--terminate-after", type=float,
                    help="send a terminate request this many seconds after the ready event")
    ap.add_argument("--poweroff-after", type=float,
                    help="send a poweroff request this many seconds after the ready event")
    ap.add_argument("--no-ack", action="store_true", help="never send the poweroff request")
    ap.add_argument("--no-ports", action="store_true", help="start the VM without virtio-serial ports")
    ap.add_argument("--timeout", type=float, default=120, help="seconds before QEMU is killed")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    pairs = {name: socket.socketpair() for name in PORTS}
    host = {name: pair[0] for name, pair in pairs.items()}
    guest_fds = [pairs[name][1].fileno() for name in PORTS]

    start = time.monotonic()
    qemu = subprocess.Popen(qemu_command(a, guest_fds), pass_fds=guest_fds,
                            stdin=subprocess.DEVNULL)
    for pair in pairs.values():
        pair[1].close()
    if a.stdin:
        host["stdin"].sendall(a.stdin.encode())
    host["stdin"].shutdown(socket.SHUT_WR)

    received = {"stdout": b"", "stderr": b""}
    events = []
    pending = b""
    final = None
    ready_at = None
    terminate_sent = acked = False
    while qemu.poll() is None and time.monotonic() - start < a.timeout:
        if (a.terminate_after is not None and ready_at is not None and not terminate_sent and
                time.monotonic() - ready_at >= a.terminate_after):
            host["agent"].sendall(b'{"request":"terminate"}\n')
            terminate_sent = True
        if (a.poweroff_after is not None and ready_at is not None and not acked and
                time.monotonic() - ready_at >= a.poweroff_after):
            host["agent"].sendall(b'{"request":"poweroff"}\n')
            acked = True

        readable, _, _ = select.select([host["agent"], host["stdout"], host["stderr"]], [], [], 0.1)
        for sock in readable:
            data = sock.recv(65536)
            if sock is host["agent"]:
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    event = json.loads(line)
                    event["at"] = round(time.monotonic() - start, 2)
                    events.append(event)
                    if event.get("event") == "ready":
                        ready_at = time.monotonic()
                    if event.get("event") in ("exit", "error"):
                        final = event
            else:
                received["stdout" if sock is host["stdout"] else "stderr"] += data

        if final and not acked and not a.no_ack and output_complete(final, received):
            host["agent"].sendall(b'{"request":"poweroff"}\n')
            acked = True

    if qemu.poll() is None:
        qemu.kill()
        qemu.wait()
        status = "timeout"
    else:
        status = str(qemu.returncode)

    with open(os.path.join(a.out, "events"), "w") as f:
        for event in events:
            f.write(json.dumps(event, sort_keys=True) + "\n")
    for name in ("stdout", "stderr"):
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(received[name])
    with open(os.path.join(a.out, "status"), "w") as f:
        f.write(status + "\n")
    with open(os.path.join(a.out, "elapsed"), "w") as f:
        f.write("%.2f\n" % (time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
