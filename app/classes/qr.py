"""A join address as a QR code, by segno (a well-kept, pure-Python encoder of ISO/IEC 18004), as SVG:
error correction M (a phone reads it off a projector with a smudge on the screen)."""

from __future__ import annotations

import io

import segno


def svg(url: str) -> bytes:
    qr = segno.make_qr(url, error="m")
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=10, border=4, xmldecl=False, svgns=True, title=url, dark="#000", light="#fff")
    return buf.getvalue()
