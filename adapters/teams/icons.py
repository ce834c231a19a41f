"""The app icons, drawn without an imaging library (a PNG is a few zlib-compressed rows).

``python -m adapters.teams.icons manifest/teams`` rewrites the committed PNGs.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

Pixel = tuple[int, int, int, int]
ACCENT: Pixel = (0x44, 0x64, 0xEE, 0xFF)
WHITE: Pixel = (0xFF, 0xFF, 0xFF, 0xFF)
CLEAR: Pixel = (0, 0, 0, 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(pixels: list[list[Pixel]]) -> bytes:
    """RGBA, 8 bits per channel, no filtering."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + b"".join(bytes(p) for p in row) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _bars(size: int, background: Pixel, ink: Pixel) -> list[list[Pixel]]:
    """Three rising bars: a ranking, the product's idea in one glyph."""
    pixels = [[background] * size for _ in range(size)]
    margin, gap = size // 6, size // 16
    width = (size - 2 * margin - 2 * gap) // 3
    for i, share in enumerate((0.45, 0.7, 1.0)):
        left = margin + i * (width + gap)
        top = size - margin - int((size - 2 * margin) * share)
        for y in range(top, size - margin):
            for x in range(left, left + width):
                pixels[y][x] = ink
    return pixels


def color_icon() -> bytes:
    return encode_png(_bars(192, ACCENT, WHITE))


def outline_icon() -> bytes:
    """Teams wants a white glyph on a transparent background, 32×32."""
    return encode_png(_bars(32, CLEAR, WHITE))


def write_icons(folder: Path) -> None:
    (folder / "color.png").write_bytes(color_icon())
    (folder / "outline.png").write_bytes(outline_icon())


if __name__ == "__main__":  # pragma: no cover
    write_icons(Path(sys.argv[1] if len(sys.argv) > 1 else "manifest/teams"))
