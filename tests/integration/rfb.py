"""The client side of an RFB 3.8 connection to QEMU's VNC server, for the VNC test tools.

connect() retries until the unix socket accepts, handshake() does the version and
security handshake without authentication, ClientInit and ServerInit.
"""
import socket
import struct
import time


class ProtocolError(Exception):
    pass


def connect(path, deadline):
    """Connect to the unix socket at path, retrying every 0.5 s until deadline
    (time.monotonic()). Raises TimeoutError after it."""
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"VNC socket {path} did not accept a connection")
            time.sleep(0.5)


def read_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ProtocolError("the VNC server closed the connection")
        data += chunk
    return data


def handshake(sock):
    """RFB 3.8 version and security handshake, ClientInit and ServerInit. Returns the
    framebuffer's width and height."""
    version = read_exact(sock, 12)
    if not version.startswith(b"RFB 003."):
        raise ProtocolError(f"not an RFB server: greeting {version!r}")
    sock.sendall(b"RFB 003.008\n")
    count = read_exact(sock, 1)[0]
    if count == 0:
        length = struct.unpack(">I", read_exact(sock, 4))[0]
        reason = read_exact(sock, min(length, 4096)).decode(errors="replace")
        raise ProtocolError(f"the VNC server refused the connection: {reason}")
    types = read_exact(sock, count)
    if 1 not in types:
        raise ProtocolError(f"the VNC server wants authentication (security types {list(types)}); "
                            "start QEMU with -vnc unix:PATH and no password")
    sock.sendall(b"\x01")
    result = struct.unpack(">I", read_exact(sock, 4))[0]
    if result != 0:
        raise ProtocolError(f"security handshake failed with result {result}")
    sock.sendall(b"\x01")  # ClientInit: shared
    width, height = struct.unpack(">HH", read_exact(sock, 4))
    read_exact(sock, 16)  # pixel format
    name_length = struct.unpack(">I", read_exact(sock, 4))[0]
    read_exact(sock, min(name_length, 4096))
    return width, height
