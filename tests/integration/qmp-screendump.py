#!/usr/bin/env python3
"""Wait until a VM's screen shows a colour, then save a PNG screendump of it.

Usage: qmp-screendump.py QMP_SOCKET OUTPUT_PNG RRGGBB TIMEOUT_SECONDS

Connects to QEMU's QMP socket (retrying until it exists), takes a PPM screendump every
two seconds and splits it into a 3x3 grid of regions. Once at least MIN_FRACTION of the
sampled pixels of every region are within TOLERANCE of the colour, it takes a PNG
screendump to OUTPUT_PNG, decodes it and checks the same. Prints the size and the
per-region fractions. Exits 0 on success, 1 on timeout or a bad picture, 2 on a QMP error.
The last PNG is written on failure too, to look at.
"""
import os
import struct
import sys
import time
import zlib

from qmp import QMP

MIN_FRACTION = 0.9
TOLERANCE = 40
STEP = 5  # sample every 5th pixel in each direction


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"{path}: not an 8-bit binary PPM")
    width, height = int(fields[1]), int(fields[2])
    return width, height, data[pos + 1:pos + 1 + width * height * 3]


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path):
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what QEMU writes) to RGB bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {colour})")
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    rgb = bytearray()
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(channels, stride):
                row[i] = (row[i] + row[i - channels]) & 0xFF
        elif kind == 2:
            row = bytearray((r + p) & 0xFF for r, p in zip(row, previous))
        elif kind == 3:
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                up_left = previous[i - channels] if i >= channels else 0
                row[i] = (row[i] + paeth(left, previous[i], up_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"{path}: unknown PNG filter {kind}")
        previous = row
        if channels == 3:
            rgb += row
        else:
            for i in range(0, stride, 4):
                rgb += row[i:i + 3]
    return width, height, bytes(rgb)


def region_fractions(width, height, rgb, colour):
    """Fraction of sampled pixels near colour in each cell of a 3x3 grid, row by row."""
    hits = [0] * 9
    totals = [0] * 9
    for y in range(0, height, STEP):
        for x in range(0, width, STEP):
            i = (y * width + x) * 3
            cell = (y * 3 // height) * 3 + x * 3 // width
            totals[cell] += 1
            if all(abs(rgb[i + k] - colour[k]) <= TOLERANCE for k in range(3)):
                hits[cell] += 1
    return [h / t if t else 0.0 for h, t in zip(hits, totals)]


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    socket_path, output, colour_hex, timeout = sys.argv[1:]
    colour = bytes.fromhex(colour_hex)
    deadline = time.monotonic() + float(timeout)
    ppm = output + ".ppm"

    try:
        qmp = QMP(socket_path, deadline)
    except (OSError, TimeoutError, ConnectionError, ValueError) as e:
        print(f"qmp-screendump: {e}", file=sys.stderr)
        return 2

    try:
        while True:
            qmp.execute("screendump", filename=ppm)
            width, height, rgb = read_ppm(ppm)
            fractions = region_fractions(width, height, rgb, colour)
            if min(fractions) >= MIN_FRACTION or time.monotonic() > deadline:
                break
            time.sleep(2)
        qmp.execute("screendump", filename=output, format="png")
    except (OSError, RuntimeError, ConnectionError, ValueError) as e:
        print(f"qmp-screendump: {e}", file=sys.stderr)
        return 2
    finally:
        qmp.close()
        if os.path.exists(ppm):
            os.unlink(ppm)

    width, height, rgb = read_png(output)
    fractions = region_fractions(width, height, rgb, colour)
    print(f"screendump {output}: {width}x{height}, fraction of #{colour_hex} per region: "
          + " ".join(f"{f:.2f}" for f in fractions))
    if min(fractions) < MIN_FRACTION:
        print(f"qmp-screendump: the screen did not show #{colour_hex} in every region within {timeout} s",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
