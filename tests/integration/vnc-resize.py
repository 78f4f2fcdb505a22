#!/usr/bin/env python3
"""Ask QEMU's VNC server to resize the guest's screen, as a client window resize does.

Usage: vnc-resize.py VNC_SOCKET WIDTH HEIGHT TIMEOUT_SECONDS

Connects to a QEMU VNC server on a unix socket (`-vnc unix:PATH`), retrying until the
socket exists, and does the RFB 3.8 handshake without authentication. It then announces
the DesktopSize and ExtendedDesktopSize pseudo-encodings and sends one SetDesktopSize
message with a single screen of WIDTH x HEIGHT. QEMU 7.2 passes the size to the display's UI info,
which virtio-gpu offers the guest as its new preferred mode, and answers with an
ExtendedDesktopSize rectangle whose status says whether it forwarded the request.

Prints the status and exits 0 when QEMU forwarded the request, 1 when it refused it (the
display has no UI info, as with a standard VGA), 2 on a connection or protocol error.
"""
import struct
import sys
import time

from rfb import ProtocolError, connect, handshake, read_exact

ENCODING_DESKTOP_SIZE = -223
ENCODING_EXTENDED_DESKTOP_SIZE = -308
MSG_SET_ENCODINGS = 2
MSG_SET_DESKTOP_SIZE = 251
MSG_FRAMEBUFFER_UPDATE = 0

# Status codes in the y field of the ExtendedDesktopSize rectangle that replies to a request.
STATUS = {
    0: "no error",
    1: "resize prohibited",
    2: "out of resources",
    3: "invalid screen layout",
    4: "request forwarded",
}


def skip_rectangle_payload(sock, encoding, width, height):
    """Skip what follows a rectangle header for the encodings this client announced."""
    if encoding == ENCODING_EXTENDED_DESKTOP_SIZE:
        screens = read_exact(sock, 4)[0]
        read_exact(sock, 16 * screens)
    elif encoding == ENCODING_DESKTOP_SIZE:
        pass
    else:
        # No FramebufferUpdateRequest was sent, so only pseudo-encodings can come.
        raise ProtocolError(f"unexpected rectangle encoding {encoding}")


def wait_for_status(sock, deadline):
    """Read server messages until the ExtendedDesktopSize reply to our request."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        kind = read_exact(sock, 1)[0]
        if kind == 2:  # Bell
            continue
        if kind == 3:  # ServerCutText
            read_exact(sock, 3)
            length = struct.unpack(">I", read_exact(sock, 4))[0]
            read_exact(sock, length)
            continue
        if kind != MSG_FRAMEBUFFER_UPDATE:
            raise ProtocolError(f"unexpected server message type {kind}")
        count = struct.unpack(">xH", read_exact(sock, 3))[0]
        for _ in range(count):
            x, y, width, height, encoding = struct.unpack(">HHHHi", read_exact(sock, 12))
            skip_rectangle_payload(sock, encoding, width, height)
            # x is the reason: 1 = a reply to this client's request.
            if encoding == ENCODING_EXTENDED_DESKTOP_SIZE and x == 1:
                return y, width, height
    raise TimeoutError("timed out waiting for the reply to SetDesktopSize")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    path = sys.argv[1]
    try:
        width, height = int(sys.argv[2]), int(sys.argv[3])
        timeout = float(sys.argv[4])
    except ValueError:
        sys.exit(__doc__)
    if not (1 <= width <= 16384 and 1 <= height <= 16384):
        sys.exit(f"vnc-resize: size {width}x{height} out of range (1 to 16384 each)")
    deadline = time.monotonic() + timeout

    try:
        sock = connect(path, deadline)
        sock.settimeout(timeout)
        old_width, old_height = handshake(sock)
        encodings = [ENCODING_EXTENDED_DESKTOP_SIZE, ENCODING_DESKTOP_SIZE]
        sock.sendall(struct.pack(">BxH", MSG_SET_ENCODINGS, len(encodings))
                     + b"".join(struct.pack(">i", e) for e in encodings))
        # One screen: id 0 at 0,0 with the whole size, flags 0.
        sock.sendall(struct.pack(">BxHHBx", MSG_SET_DESKTOP_SIZE, width, height, 1)
                     + struct.pack(">IHHHHI", 0, 0, 0, width, height, 0))
        status, _, _ = wait_for_status(sock, deadline)
        sock.close()
    except (OSError, TimeoutError, ProtocolError) as e:
        print(f"vnc-resize: {e}", file=sys.stderr)
        return 2

    print(f"vnc-resize: {old_width}x{old_height} -> {width}x{height}: status {status} "
          f"({STATUS.get(status, 'unknown')})")
    return 0 if status in (0, 4) else 1


if __name__ == "__main__":
    sys.exit(main())
