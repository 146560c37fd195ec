"""Text and QR codes drawn as raster images (``GS v 0``) for what a code page cannot show."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# DejaVu (Debian's fonts-dejavu-core) covers Latin Extended (Wolof ŋ, Fula ɓ ɗ ƴ),
# Greek, Cyrillic and Arabic. GUICHET_PRINTER_FONT names another TrueType file.
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/local/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)


@lru_cache(maxsize=4)
def font_path(bold: bool = False) -> str | None:
    """The TrueType font used for raster text, or None (Pillow's own font)."""
    configured = os.environ.get("GUICHET_PRINTER_FONT")
    if configured and Path(configured).is_file():
        return configured
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    return None


@lru_cache(maxsize=16)
def _font(size: int, bold: bool) -> Any:
    path = font_path(bold)
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


def text_image(
    text: str, height: int, width: int, *, align: str = "center", bold: bool = False
) -> Image.Image:
    """One line of text, black on white, ``width`` dots wide (the paper), about ``height`` tall."""
    font = _font(max(int(height * 0.8), 8), bold)
    left, top, right, bottom = font.getbbox(text)
    # Shrink a line longer than the paper rather than cutting it.
    size = max(int(height * 0.8), 8)
    while right - left > width and size > 8:
        size -= 2
        font = _font(size, bold)
        left, top, right, bottom = font.getbbox(text)
    text_width = right - left
    image = Image.new("L", (width, max(height, bottom - top + 4)), 255)
    if align == "left":
        x = -left
    elif align == "right":
        x = width - text_width - left
    else:
        x = (width - text_width) // 2 - left
    y = (image.height - (bottom - top)) // 2 - top
    ImageDraw.Draw(image).text((x, y), text, font=font, fill=0)
    return image


def qr_image(content: str, module: int, width: int) -> Image.Image:
    """A QR code as an image (for printers without native QR), centred on the paper."""
    import qrcode

    code = qrcode.QRCode(border=2, box_size=module)
    code.add_data(content)
    code.make(fit=True)
    matrix = code.get_matrix()
    side = len(matrix) * module
    image = Image.new("L", (width, side), 255)
    offset = max((width - side) // 2, 0)
    draw = ImageDraw.Draw(image)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                x, y = offset + col * module, row * module
                draw.rectangle([x, y, x + module - 1, y + module - 1], fill=0)
    return image


def to_raster_command(image: Image.Image) -> bytes:
    """``GS v 0`` (raster bit image, normal density) with the image's dots."""
    from escpos.image import EscposImage

    raster = EscposImage(image)
    width_bytes, height = raster.width_bytes, raster.height
    header = b"\x1dv0\x00" + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little")
    return header + raster.to_raster_format()
