#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Send SIGKILL as soon as process PID has a descendant whose name starts with PREFIX.

Usage: kill-on-fork.py [--kill-match] [--argument ARG] [--timeout S] PID PREFIX

scripts/faults uses it to hit short windows that a shell loop with pgrep polls too slowly
for: vmpackd right after it forks the supervisor of a Start, or QEMU right after the
supervisor of a Resume starts it. It polls /proc/*/task/*/children about every 0.2 ms.
A fresh fork still has its parent's name, so the prefix "vmpackd" matches the supervisor
before and after it renames itself "vmpackd-vm".

With --argument, a descendant matches only when ARG is one of its arguments. This separates
a QEMU that runs a VM from the "qemu-system-x86_64 --version" probe that comes before it.
Kills PID, or with --kill-match the matching descendant. Prints "MATCH_PID QEMU_UP", where
QEMU_UP is 1 when a descendant of PID ran qemu-system-* at the kill, else 0. Exits 1 when
no match appeared within the timeout (default 10 s).
"""
import argparse
import glob
import os
import signal
import sys
import time


def children(pid):
    result = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                result.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return result


def descendants(pid):
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop()):
            found.append(child)
            queue.append(child)
    return found


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def arguments(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kill-match", action="store_true")
    parser.add_argument("--argument")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("pid", type=int)
    parser.add_argument("prefix")
    args = parser.parse_args()

    end = time.monotonic() + args.timeout
    while time.monotonic() < end:
        family = descendants(args.pid)
        for pid in family:
            if comm(pid).startswith(args.prefix) and (not args.argument or args.argument in arguments(pid)):
                qemu_up = any(comm(p).startswith("qemu-system") for p in family)
                os.kill(pid if args.kill_match else args.pid, signal.SIGKILL)
                print(pid, int(qemu_up))
                return 0
        time.sleep(0.0002)
    print(f"kill-on-fork.py: {args.pid} started no {args.prefix}* within {args.timeout} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
