#!/usr/bin/env python3
"""Write a small uncompressed test video of solid colours in YUV4MPEG2 (.y4m) format.

Usage: make-y4m.py OUTPUT WIDTHxHEIGHT FPS RRGGBB:SECONDS...

Each RRGGBB:SECONDS argument adds SECONDS of frames filled with that colour, in order.
The frames are 4:2:0 (C420jpeg) in BT.601 limited range, which VLC's rawvid demuxer
plays without any codec. Python alone writes it, so tests need no ffmpeg or GStreamer.
"""
import sys

MAX_BYTES = 64 * 1024 * 1024


def rgb_to_ycbcr(red, green, blue):
    """Convert 8-bit RGB to BT.601 limited-range Y, Cb, Cr."""
    y = 16 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255
    cb = 128 + (-37.797 * red - 74.203 * green + 112.0 * blue) / 255
    cr = 128 + (112.0 * red - 93.786 * green - 18.214 * blue) / 255
    return round(y), round(cb), round(cr)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    output, size, fps = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        width, height = (int(v) for v in size.split("x"))
        fps = int(fps)
        segments = []
        for argument in sys.argv[4:]:
            colour, seconds = argument.split(":")
            rgb = bytes.fromhex(colour)
            if len(rgb) != 3:
                raise ValueError(f"colour {colour} is not RRGGBB")
            segments.append((rgb, float(seconds)))
    except ValueError as e:
        sys.exit(f"make-y4m: invalid argument: {e}\n\n{__doc__}")
    # 4:2:0 needs even sizes.
    if width % 2 or height % 2 or not (2 <= width <= 4096 and 2 <= height <= 4096):
        sys.exit(f"make-y4m: size {width}x{height} must be even, 2 to 4096 each")
    if not 1 <= fps <= 120:
        sys.exit(f"make-y4m: {fps} frames per second out of range (1 to 120)")

    frame_bytes = width * height * 3 // 2
    frame_counts = [max(1, round(seconds * fps)) for _, seconds in segments]
    if sum(frame_counts) * frame_bytes > MAX_BYTES:
        sys.exit(f"make-y4m: the video would exceed {MAX_BYTES} bytes; use a smaller size, fps or duration")

    with open(output, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for (rgb, _), count in zip(segments, frame_counts):
            y, cb, cr = rgb_to_ycbcr(*rgb)
            frame = (b"FRAME\n" + bytes([y]) * (width * height)
                     + bytes([cb]) * (width * height // 4) + bytes([cr]) * (width * height // 4))
            for _ in range(count):
                f.write(frame)
    return 0


if __name__ == "__main__":
    sys.exit(main())
