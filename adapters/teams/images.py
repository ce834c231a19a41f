"""Fitting the report chart inside one Teams message.

Teams refuses a message above about 28 KB, card JSON and attachments included, and an image in
a card must then travel as a data URI (base64: a third larger). The chart is redrawn smaller
rather than split off: fewer colours first (a chart has few), then fewer pixels, until it fits.
"""

from __future__ import annotations

import io
from typing import Final

# Widths tried in turn; below 480 px the 12-attribute labels stop being readable.
WIDTHS: Final = (1000, 800, 640, 560, 480)
PALETTES: Final = (64, 24)


def shrink_png(png: bytes, max_bytes: int) -> bytes | None:
    """The chart as a PNG of at most ``max_bytes``, or None when even the smallest is larger."""
    if len(png) <= max_bytes:
        return png
    from PIL import Image, UnidentifiedImageError  # matplotlib's own dependency

    try:
        with Image.open(io.BytesIO(png)) as opened:
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None  # not a PNG we can redraw: better no chart than a refused message
    for width in WIDTHS:
        if width < image.width:
            height = round(image.height * width / image.width)
            scaled = image.resize((width, height), Image.Resampling.LANCZOS)
        else:
            scaled = image
        for colours in PALETTES:
            buffer = io.BytesIO()
            scaled.quantize(colors=colours).save(buffer, format="PNG", optimize=True)
            if buffer.tell() <= max_bytes:
                return buffer.getvalue()
    return None
