"""A minimal QMP client for the test tools: connect (retrying until QEMU listens), then
execute commands and return their results."""
import json
import socket
import time


class QMP:
    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"QMP socket {path} did not accept a connection")
                time.sleep(0.5)
        self.file = self.sock.makefile("rwb")
        self.read()  # greeting
        self.execute("qmp_capabilities")

    def read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("QMP connection closed")
            message = json.loads(line)
            if "event" not in message:
                return message

    def execute(self, command, **arguments):
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.file.write(json.dumps(request).encode() + b"\n")
        self.file.flush()
        reply = self.read()
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error']}")
        return reply["return"]

    def close(self):
        try:
            self.file.close()
        except OSError:
            pass  # QEMU already exited
        self.sock.close()
