"""QR codes as SVG for pages (the kiosk's ticket on screen, device pairing).

The printed ticket draws its QR code with the same library (qrcode, which
python-escpos also uses), in guichet_printer.raster.
"""

from __future__ import annotations

import base64

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def qr_svg(text: str, *, scale: int = 8, border: int = 2) -> str:
    """An SVG image of ``text`` as a QR code: black modules of ``scale`` px on white."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border, box_size=1)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()  # the modules, quiet zone included
    side = len(matrix)
    # One path of unit squares, scaled by the viewBox: small, and crisp at any size.
    squares = "".join(
        f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark
    )
    size = side * scale
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path d="{squares}" fill="#000"/></svg>'
    )


def qr_data_uri(text: str, *, scale: int = 4) -> str:
    """:func:`qr_svg` as a data: address (the pages' CSP allows data: images)."""
    encoded = base64.b64encode(qr_svg(text, scale=scale).encode()).decode()
    return f"data:image/svg+xml;base64,{encoded}"
