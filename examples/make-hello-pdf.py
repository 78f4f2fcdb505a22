#!/usr/bin/env python3
"""Write hello.pdf: one A4 page with a few lines of Helvetica text.

The PDF is written by hand (PDF 1.4, one uncompressed content stream, a classic xref
table with exact byte offsets), so no PDF library is needed and the output is
byte-for-byte reproducible. Usage: make-hello-pdf.py [OUTPUT] (default: hello.pdf
beside this script).
"""
import os
import sys

LINES = [
    "Hello from vmpack!",
    "This PDF was read inside a disposable virtual machine.",
    "The VM saw this one file and nothing else of the host.",
]


def escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def content_stream():
    ops = ["BT", "/F1 18 Tf", "72 770 Td", "24 TL"]
    for line in LINES:
        ops.append(f"({escape(line)}) Tj T*")
    ops.append("ET")
    return ("\n".join(ops) + "\n").encode("ascii")


def build():
    stream = content_stream()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
    ]

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"

    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def main():
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hello.pdf")
    path = sys.argv[1] if len(sys.argv) > 1 else default
    with open(path, "wb") as f:
        f.write(build())


if __name__ == "__main__":
    main()
