#!/usr/bin/env python3
"""Type a line on a VM's keyboard through QMP, as a user at the keyboard would.

Usage: qmp-type.py QMP_SOCKET TEXT

Sends each character of TEXT (lower-case letters and digits) with QMP send-key, 50 ms
apart, then Return. Exits 0 when QEMU took every key, 2 on a QMP error.
"""
import sys
import time

from qmp import QMP


def main():
    if len(sys.argv) != 3 or not all(c.isascii() and (c.islower() or c.isdigit()) for c in sys.argv[2]):
        print("usage: qmp-type.py QMP_SOCKET TEXT (lower-case letters and digits)", file=sys.stderr)
        return 2
    try:
        qmp = QMP(sys.argv[1], time.monotonic() + 30)
        for key in list(sys.argv[2]) + ["ret"]:
            qmp.execute("send-key", keys=[{"type": "qcode", "data": key}])
            time.sleep(0.05)
        qmp.close()
    except (OSError, RuntimeError, TimeoutError) as e:
        print(f"qmp-type: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
