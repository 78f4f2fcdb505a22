#!/usr/bin/env python3
"""Wait until a VM's screen meets each of a list of conditions in turn, and time them.

Usage: screen-watch.py [--since EPOCH] [--interval SECONDS] [--save PREFIX]
                       QMP_SOCKET TIMEOUT_SECONDS CONDITION...

CONDITION is one of:
  RRGGBB:FRACTION   at least FRACTION (0 to 1) of the sampled pixels of the whole screen
                    are within 40 of the colour in each channel
  bright:FRACTION   at least FRACTION of the sampled pixels have every channel >= 160,
                    which a text console (black with grey text) never reaches

Connects to QEMU's QMP socket (retrying until it exists) and takes a PPM screendump every
--interval seconds (default 0.5). Conditions are checked in order: the next one only after
the previous one was met. For each met condition it prints one line
  met CONDITION after SECONDS s (WIDTHxHEIGHT, fraction F)
where SECONDS counts from --since (a Unix time, e.g. `date +%s.%N` before vmpack run) or
else from the script's start. With --save, the screen that met condition N is saved as
PREFIX-N.ppm, and the last screen before a timeout as PREFIX-timeout.ppm. Exits 0 when
every condition was met, 1 on timeout (printing the best fraction seen for the pending
condition), 2 on a QMP error or invalid arguments.
"""
import argparse
import importlib.util
import os
import shutil
import sys
import time

TOLERANCE = 40
BRIGHT = 160
STEP = 5  # sample every 5th pixel in each direction


def load_screendump_module():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qmp-screendump.py")
    spec = importlib.util.spec_from_file_location("qmp_screendump", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_condition(text):
    kind, _, fraction = text.partition(":")
    fraction = float(fraction)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} in {text!r} must be above 0 and at most 1")
    if kind == "bright":
        return text, None, fraction
    colour = bytes.fromhex(kind)
    if len(colour) != 3:
        raise ValueError(f"colour {kind!r} in {text!r} is not RRGGBB")
    return text, colour, fraction


def matching_fraction(width, height, rgb, colour):
    """Fraction of sampled pixels near colour, or bright ones when colour is None."""
    hits = total = 0
    for y in range(0, height, STEP):
        row = y * width * 3
        for x in range(0, width, STEP):
            i = row + x * 3
            pixel = rgb[i:i + 3]
            total += 1
            if colour is None:
                hits += min(pixel) >= BRIGHT
            else:
                hits += all(abs(pixel[k] - colour[k]) <= TOLERANCE for k in range(3))
    return hits / total if total else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", type=float, default=None)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--save", default=None)
    parser.add_argument("qmp_socket")
    parser.add_argument("timeout", type=float)
    parser.add_argument("conditions", nargs="+")
    args = parser.parse_args()
    try:
        conditions = [parse_condition(c) for c in args.conditions]
    except ValueError as e:
        print(f"screen-watch: invalid condition: {e}", file=sys.stderr)
        return 2

    since = args.since if args.since is not None else time.time()
    deadline = time.monotonic() + args.timeout
    screendump = load_screendump_module()
    ppm = f"{args.save or '/tmp/screen-watch'}.{os.getpid()}.ppm"

    try:
        qmp = screendump.QMP(args.qmp_socket, deadline)
    except (OSError, TimeoutError, ConnectionError, ValueError) as e:
        print(f"screen-watch: {e}", file=sys.stderr)
        return 2

    index, best = 0, 0.0
    try:
        while index < len(conditions) and time.monotonic() < deadline:
            qmp.execute("screendump", filename=ppm)
            taken_at = time.time()
            width, height, rgb = screendump.read_ppm(ppm)
            # Several conditions may be met by one screen.
            while index < len(conditions):
                text, colour, minimum = conditions[index]
                fraction = matching_fraction(width, height, rgb, colour)
                best = max(best, fraction)
                if fraction < minimum:
                    break
                print(f"met {text} after {taken_at - since:.1f} s ({width}x{height}, fraction {fraction:.2f})",
                      flush=True)
                if args.save:
                    shutil.copyfile(ppm, f"{args.save}-{index + 1}.ppm")
                index, best = index + 1, 0.0
            else:
                break
            time.sleep(args.interval)
    except (OSError, RuntimeError, ConnectionError, ValueError) as e:
        print(f"screen-watch: {e}", file=sys.stderr)
        return 2
    finally:
        qmp.close()
        if os.path.exists(ppm):
            if args.save and index < len(conditions):
                os.replace(ppm, f"{args.save}-timeout.ppm")
            else:
                os.unlink(ppm)

    if index < len(conditions):
        print(f"screen-watch: timed out after {args.timeout:.0f} s waiting for {conditions[index][0]} "
              f"(best fraction {best:.2f})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
