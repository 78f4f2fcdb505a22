#!/usr/bin/env python3
"""Exchange clipboard text with a guest through QEMU's VNC server, as a VNC client does.

Usage: vnc-clipboard.py VNC_SOCKET TIMEOUT_SECONDS OUTPUT_FILE LEGACY_TEXT EXTENDED_TEXT GUEST_TEXT

Connects to a QEMU VNC server on a unix socket (`-vnc unix:PATH`), retrying until the
socket exists, does the RFB 3.8 handshake without authentication and announces the
extended clipboard pseudo-encoding. Then, in three steps, each within TIMEOUT_SECONDS:

1. host to guest with a plain ClientCutText message carrying LEGACY_TEXT. RFB defines
   its text as Latin-1; QEMU 7.2 passes the bytes on unchanged, so UTF-8 arrives as UTF-8.
   The message is sent again every 2 s until OUTPUT_FILE (the app's stdout, written
   by vmpack run) has the line "clipboard: LEGACY_TEXT", because the guest's agent may
   connect after the first one.
2. host to guest with the extended clipboard messages: Notify (text available), and
   Provide with the UTF-8 text, zlib-compressed, whenever QEMU sends Request. Notify is
   repeated every 3 s until OUTPUT_FILE has "clipboard: EXTENDED_TEXT".
3. guest to host: wait for QEMU's Notify that the guest took the clipboard, reply with
   Request and read the Provide message, until its text is GUEST_TEXT.

QEMU 7.2 sends a VNC client a guest's clipboard only through the extended
messages: it registers the client as a clipboard peer only when the client announced the
pseudo-encoding, so a plain client never gets a ServerCutText for a guest's copy.

Prints one line per step and exits 0 when all three passed, 1 when a step timed out,
2 on a connection or protocol error.
"""
import os
import socket
import struct
import sys
import time
import zlib

from rfb import ProtocolError, connect, handshake, read_exact

ENCODING_RAW = 0
ENCODING_EXTENDED_CLIPBOARD = -1063131698  # 0xc0a1e5ce as a signed 32-bit value
MSG_SET_ENCODINGS = 2
MSG_CLIENT_CUT_TEXT = 6
MSG_SERVER_FRAMEBUFFER_UPDATE = 0
MSG_SERVER_BELL = 2
MSG_SERVER_CUT_TEXT = 3

# Flags of an extended clipboard message: formats in the low bits, the action in the high.
CLIPBOARD_TEXT = 1 << 0
CLIPBOARD_CAPS = 1 << 24
CLIPBOARD_REQUEST = 1 << 25
CLIPBOARD_PEEK = 1 << 26
CLIPBOARD_NOTIFY = 1 << 27
CLIPBOARD_PROVIDE = 1 << 28

# QEMU rejects cut text messages larger than 1 MiB.
MAX_MESSAGE = 1 << 20


class StepTimeout(Exception):
    pass


def send_extended(sock, flags, payload=b""):
    """An extended ClientCutText message: a negative length, then flags and payload."""
    body = struct.pack(">I", flags) + payload
    sock.sendall(struct.pack(">Bxxxi", MSG_CLIENT_CUT_TEXT, -len(body)) + body)


def send_legacy(sock, text):
    sock.sendall(struct.pack(">BxxxI", MSG_CLIENT_CUT_TEXT, len(text)) + text)


def provide_payload(text):
    """Provide's payload: zlib data of a 32-bit big-endian size and the text."""
    return zlib.compress(struct.pack(">I", len(text)) + text)


def parse_provide(payload):
    """Return the text of a Provide message that carries text only."""
    data = zlib.decompressobj().decompress(payload, MAX_MESSAGE + 4)
    if len(data) < 4:
        raise ProtocolError(f"Provide message of {len(data)} bytes after inflating")
    size = struct.unpack(">I", data[:4])[0]
    if size > len(data) - 4:
        raise ProtocolError(f"Provide message announces {size} bytes of text but has {len(data) - 4}")
    # The extended clipboard format ends text with a NUL; QEMU 7.2 passes on what the
    # guest's agent sent, which may or may not have one.
    return data[4:4 + size].rstrip(b"\0")


def read_message(sock, deadline):
    """Read one server message. Returns (flags, payload) for an extended cut text
    message, ("text", bytes) for a plain one, None for anything else, or raises
    socket.timeout when nothing arrived before the deadline."""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    kind = read_exact(sock, 1)[0]
    sock.settimeout(10)
    if kind == MSG_SERVER_BELL:
        return None
    if kind == MSG_SERVER_CUT_TEXT:
        length = struct.unpack(">xxxi", read_exact(sock, 7))[0]
        if abs(length) > MAX_MESSAGE:
            raise ProtocolError(f"ServerCutText of {abs(length)} bytes")
        if length >= 0:
            return ("text", read_exact(sock, length))
        if -length < 4:
            raise ProtocolError(f"extended ServerCutText of {-length} bytes")
        body = read_exact(sock, -length)
        return (struct.unpack(">I", body[:4])[0], body[4:])
    if kind == MSG_SERVER_FRAMEBUFFER_UPDATE:
        # None was requested; only pseudo-encodings without payload could come.
        count = struct.unpack(">xH", read_exact(sock, 3))[0]
        for _ in range(count):
            encoding = struct.unpack(">HHHHi", read_exact(sock, 12))[4]
            if encoding != ENCODING_EXTENDED_CLIPBOARD:
                raise ProtocolError(f"unexpected rectangle encoding {encoding}")
        return None
    raise ProtocolError(f"unexpected server message type {kind}")


def output_has(path, text):
    try:
        with open(path, "rb") as f:
            return b"clipboard: " + text + b"\n" in f.read()
    except FileNotFoundError:
        return False


def host_to_guest(sock, timeout, output, text, extended):
    """Offer text to the guest until the app prints it. Returns the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    next_offer = start
    while not output_has(output, text):
        now = time.monotonic()
        if now > deadline:
            raise StepTimeout(f"the app did not print 'clipboard: {text.decode()}' within {timeout:.0f} s")
        if now >= next_offer:
            if extended:
                send_extended(sock, CLIPBOARD_NOTIFY | CLIPBOARD_TEXT)
            else:
                send_legacy(sock, text)
            next_offer = now + (3 if extended else 2)
        try:
            message = read_message(sock, min(deadline, now + 0.5))
        except socket.timeout:
            continue
        if message and message[0] != "text" and message[0] & CLIPBOARD_REQUEST and message[0] & CLIPBOARD_TEXT:
            send_extended(sock, CLIPBOARD_PROVIDE | CLIPBOARD_TEXT, provide_payload(text))
    return time.monotonic() - start


def guest_to_host(sock, timeout, text):
    """Request the guest's clipboard until it is text: after each Notify, and every 3 s
    in case the Notify came while the previous step was reading. QEMU ignores a Request
    while the clipboard is still this client's."""
    start = time.monotonic()
    deadline = start + timeout
    next_request = start
    last = None
    while True:
        now = time.monotonic()
        if now > deadline:
            raise StepTimeout(f"no Provide with '{text.decode()}' within {timeout:.0f} s "
                              f"(last text received: {last!r})")
        if now >= next_request:
            send_extended(sock, CLIPBOARD_REQUEST | CLIPBOARD_TEXT)
            next_request = now + 3
        try:
            message = read_message(sock, min(deadline, now + 0.5))
        except socket.timeout:
            continue
        if not message:
            continue
        if message[0] == "text":
            last = message[1]
            continue
        flags, payload = message
        if flags & CLIPBOARD_NOTIFY and flags & CLIPBOARD_TEXT:
            send_extended(sock, CLIPBOARD_REQUEST | CLIPBOARD_TEXT)
        elif flags & CLIPBOARD_PROVIDE and flags & CLIPBOARD_TEXT:
            last = parse_provide(payload)
            if last == text:
                return time.monotonic() - start


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    path, output = sys.argv[1], sys.argv[3]
    try:
        timeout = float(sys.argv[2])
    except ValueError:
        sys.exit(__doc__)
    legacy, extended, guest = (os.fsencode(a) for a in sys.argv[4:7])

    try:
        sock = connect(path, time.monotonic() + timeout)
        sock.settimeout(timeout)
        handshake(sock)
        encodings = [ENCODING_RAW, ENCODING_EXTENDED_CLIPBOARD]
        sock.sendall(struct.pack(">BxH", MSG_SET_ENCODINGS, len(encodings))
                     + b"".join(struct.pack(">i", e) for e in encodings))

        seconds = host_to_guest(sock, timeout, output, legacy, extended=False)
        print(f"vnc-clipboard: ClientCutText reached the app after {seconds:.1f} s")
        seconds = host_to_guest(sock, timeout, output, extended, extended=True)
        print(f"vnc-clipboard: extended Notify/Provide reached the app after {seconds:.1f} s")
        seconds = guest_to_host(sock, timeout, guest)
        print(f"vnc-clipboard: the guest's clipboard reached the client after {seconds:.1f} s")
        sock.close()
    except (StepTimeout, TimeoutError) as e:
        print(f"vnc-clipboard: {e}", file=sys.stderr)
        return 1
    except (OSError, ProtocolError, zlib.error) as e:
        print(f"vnc-clipboard: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
