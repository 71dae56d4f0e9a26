"""A minimal RGB canvas, PNG encoder/decoder and 5x7 bitmap font, in the standard library.

The demo's figure must not need matplotlib (it is not a dependency), so this
module draws lines, rectangles and upper-case text on a byte buffer and writes
it as a PNG (RFC 2083: signature, IHDR, zlib-compressed IDAT with filter type
0, IEND, each chunk with its CRC-32). :func:`read_png` parses the files this
module writes (8-bit RGB, non-interlaced, any filter type) and checks every CRC,
so tests can verify a figure without an image library.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["Canvas", "encode_png", "read_png", "text_width", "GLYPH_W", "GLYPH_H"]

Colour = tuple[int, int, int]

GLYPH_W, GLYPH_H = 5, 7

# 5x7 glyphs, one string of 5 '#'/'.' per row. Lower-case text is drawn in upper case.
_FONT_ROWS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    " ": (".....",) * 7,
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    "_": (".....", ".....", ".....", ".....", ".....", ".....", "#####"),
    "/": (".....", "....#", "...#.", "..#..", ".#...", "#....", "....."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "=": (".....", ".....", "#####", ".....", "#####", ".....", "....."),
    "+": (".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),
    "%": ("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),
    ";": (".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."),
    "'": ("..#..", "..#..", ".#...", ".....", ".....", ".....", "....."),
    "@": (".###.", "#...#", "#.###", "#.#.#", "#.###", "#....", ".####"),
    "<": ("...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."),
    ">": (".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
    "!": ("..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."),
}
_UNKNOWN = ("#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####")

# Each glyph as the list of lit (x, y) cells.
_FONT: dict[str, list[tuple[int, int]]] = {
    ch: [(x, y) for y, row in enumerate(rows) for x, c in enumerate(row) if c == "#"]
    for ch, rows in _FONT_ROWS.items()
}
_FONT_UNKNOWN = [(x, y) for y, row in enumerate(_UNKNOWN) for x, c in enumerate(row) if c == "#"]


def text_width(text: str, scale: int = 1) -> int:
    """Width in pixels of ``text`` drawn by :meth:`Canvas.text` (one pixel of spacing per glyph)."""
    return len(text) * (GLYPH_W + 1) * scale


class Canvas:
    """An RGB image in memory, with the drawing primitives the demo's figure needs."""

    def __init__(self, width: int, height: int, background: Colour = (255, 255, 255)) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"canvas size must be positive, got {width}x{height}")
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, colour: Colour) -> None:
        """Colour one pixel; points outside the canvas are ignored."""
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i : i + 3] = bytes(colour)

    def get(self, x: int, y: int) -> Colour:
        """The colour of one pixel."""
        i = 3 * (y * self.width + x)
        r, g, b = self.pixels[i : i + 3]
        return (r, g, b)

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: Colour, *, fill: bool = True) -> None:
        """A rectangle with corners (x0, y0) and (x1, y1), inclusive."""
        if x0 > x1:
            x0, x1 = x1, x0
        if y0 > y1:
            y0, y1 = y1, y0
        if fill:
            for y in range(max(0, y0), min(self.height, y1 + 1)):
                for x in range(max(0, x0), min(self.width, x1 + 1)):
                    self.set(x, y, colour)
        else:
            self.line(x0, y0, x1, y0, colour)
            self.line(x0, y1, x1, y1, colour)
            self.line(x0, y0, x0, y1, colour)
            self.line(x1, y0, x1, y1, colour)

    def line(
        self, x0: int, y0: int, x1: int, y1: int, colour: Colour, *, width: int = 1, dash: int = 0
    ) -> None:
        """A straight line (Bresenham), ``width`` pixels thick; ``dash > 0`` draws dashes of that length."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        x, y, n = x0, y0, 0
        lo, hi = -((width - 1) // 2), width // 2
        while True:
            if not dash or (n // dash) % 2 == 0:
                for ox in range(lo, hi + 1):
                    for oy in range(lo, hi + 1):
                        self.set(x + ox, y + oy, colour)
            if x == x1 and y == y1:
                return
            n += 1
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x += sx
            if e2 <= dx:
                err += dx
                y += sy

    def polyline(self, points: list[tuple[int, int]], colour: Colour, *, width: int = 1) -> None:
        """Consecutive line segments through ``points``."""
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            self.line(x0, y0, x1, y1, colour, width=width)
        if len(points) == 1:
            self.line(*points[0], *points[0], colour, width=width)

    def text(self, x: int, y: int, text: str, colour: Colour = (0, 0, 0), *, scale: int = 1) -> int:
        """Draw ``text`` with its top-left corner at (x, y); return the x just after it."""
        for ch in text:
            cells = _FONT.get(ch.upper(), _FONT_UNKNOWN)
            for cx, cy in cells:
                for sx in range(scale):
                    for sy in range(scale):
                        self.set(x + cx * scale + sx, y + cy * scale + sy, colour)
            x += (GLYPH_W + 1) * scale
        return x

    def to_png(self) -> bytes:
        """The canvas as PNG file bytes."""
        return encode_png(self.width, self.height, bytes(self.pixels))

    def save(self, path: str | Path) -> None:
        """Write the canvas as a PNG file."""
        Path(path).write_bytes(self.to_png())


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """PNG bytes of an 8-bit RGB image given as ``width * height * 3`` row-major bytes."""
    if len(rgb) != width * height * 3:
        raise ValueError(f"expected {width * height * 3} bytes of RGB for {width}x{height}, got {len(rgb)}")
    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """``(width, height, rgb bytes)`` of an 8-bit RGB, non-interlaced PNG; ``ValueError`` otherwise.

    Every chunk's CRC is checked, so a truncated or corrupted file is rejected.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file: bad signature")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("PNG truncated inside a chunk header")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc_bytes = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise ValueError(f"PNG truncated inside chunk {kind!r}")
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", crc_bytes)[0]:
            raise ValueError(f"PNG chunk {kind!r} fails its CRC check")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    else:
        raise ValueError("PNG has no IEND chunk")
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    if (depth, colour_type, interlace) != (8, 2, 0):
        raise ValueError("only 8-bit RGB non-interlaced PNGs are supported")
    raw = zlib.decompress(idat)
    stride = width * 3
    if len(raw) != height * (stride + 1):
        raise ValueError("PNG image data has the wrong size for its header")
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 0xFF
            elif ftype != 0:
                raise ValueError(f"PNG row {y} has unknown filter type {ftype}")
        out += line
        prev = line
    return width, height, bytes(out)
