"""The ablation figure: one panel per row with the two runs' loss curves and the divergence step.

Drawn with :mod:`reprotorch.demo.png` (no plotting library). Run A is a thick
blue line, run B a thin orange one drawn over it, so where the curves are
identical only the orange line on blue shows; the first divergent step found in
the traces is a dashed red vertical line labelled with its step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .png import GLYPH_H, Canvas, text_width

__all__ = ["Panel", "draw_figure", "save_figure", "nice_ticks"]

BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
RED = (214, 39, 40)
GREY = (150, 150, 150)
LIGHT = (232, 232, 232)
BLACK = (20, 20, 20)
GREEN = (44, 160, 44)

PANEL_W, PANEL_H = 440, 250
COLUMNS = 2


@dataclass
class Panel:
    """One row of the ablation as drawn: a title, a verdict line and the two loss curves."""

    title: str
    verdict: str
    losses_a: Sequence[float] = field(default_factory=list)
    losses_b: Sequence[float] = field(default_factory=list)
    divergence_step: int | None = None
    ok: bool | None = None  # True: identical (green verdict), False: diverged (red), None: grey


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e4 else f"{v:.0e}"


def _fit(text: str, width: int) -> str:
    limit = max(1, width // text_width("x"))
    return text if len(text) <= limit else text[: limit - 2] + ".."


def _draw_panel(c: Canvas, x0: int, y0: int, panel: Panel) -> None:
    c.rect(x0 + 2, y0 + 2, x0 + PANEL_W - 3, y0 + PANEL_H - 3, LIGHT, fill=False)
    c.text(x0 + 10, y0 + 9, _fit(panel.title, PANEL_W - 20), BLACK)
    colour = GREY if panel.ok is None else (GREEN if panel.ok else RED)
    c.text(x0 + 10, y0 + 22, _fit(panel.verdict, PANEL_W - 20), colour)

    left, top = x0 + 52, y0 + 40
    right, bottom = x0 + PANEL_W - 14, y0 + PANEL_H - 28
    values = [v for v in list(panel.losses_a) + list(panel.losses_b) if math.isfinite(v)]
    if not values:
        c.text(left, (top + bottom) // 2, "NO LOSS CURVES", GREY)
        return
    steps = max(len(panel.losses_a), len(panel.losses_b))
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad

    def px(step: float) -> int:
        return left + round((right - left) * (step / max(1, steps - 1)))

    def py(value: float) -> int:
        return bottom - round((bottom - top) * ((value - lo) / (hi - lo)))

    # axes and ticks
    c.line(left, top, left, bottom, BLACK)
    c.line(left, bottom, right, bottom, BLACK)
    for t in nice_ticks(lo, hi, 4):
        y = py(t)
        if top <= y <= bottom:
            c.line(left + 1, y, right, y, LIGHT)
            c.line(left - 3, y, left, y, BLACK)
            label = _fmt(t)
            c.text(left - 6 - text_width(label), y - GLYPH_H // 2, label, BLACK)
    for t in nice_ticks(0, steps - 1, 5):
        x = px(t)
        c.line(x, bottom, x, bottom + 3, BLACK)
        label = _fmt(t)
        c.text(x - text_width(label) // 2, bottom + 6, label, BLACK)
    c.text(right - text_width("STEP"), bottom + 16, "STEP", GREY)
    c.text(x0 + 8, top - 2, "LOSS", GREY)

    for losses, colour, width in ((panel.losses_a, BLUE, 3), (panel.losses_b, ORANGE, 1)):
        pts = [(px(i), py(v)) for i, v in enumerate(losses) if math.isfinite(v)]
        c.polyline(pts, colour, width=width)

    if panel.divergence_step is not None:
        x = px(panel.divergence_step)
        c.line(x, top, x, bottom, RED, width=1, dash=4)
        for k in range(5):  # a small downward triangle on top of the marker
            c.line(x - 4 + k, top - 5 + k, x + 4 - k, top - 5 + k, RED)
        label = f"STEP {panel.divergence_step}"
        lx = x + 5 if x + 5 + text_width(label) < right else x - 5 - text_width(label)
        c.text(lx, top + 3, label, RED)

    # legend
    lx, ly = right - 70, top + 4
    c.line(lx, ly + 3, lx + 14, ly + 3, BLUE, width=3)
    c.text(lx + 18, ly, "A", BLACK)
    c.line(lx + 32, ly + 3, lx + 46, ly + 3, ORANGE, width=1)
    c.text(lx + 50, ly, "B", BLACK)


def draw_figure(panels: Sequence[Panel], title: str = "", subtitle: str = "") -> Canvas:
    """All panels in a grid of :data:`COLUMNS` columns under an optional title and subtitle."""
    rows = max(1, math.ceil(len(panels) / COLUMNS))
    header = (28 if title else 0) + (14 if subtitle else 0)
    c = Canvas(COLUMNS * PANEL_W, rows * PANEL_H + header)
    if title:
        c.text(10, 8, _fit(title, c.width - 20), BLACK, scale=2)
    if subtitle:
        c.text(10, header - 12, _fit(subtitle, c.width - 20), GREY)
    for i, panel in enumerate(panels):
        _draw_panel(c, (i % COLUMNS) * PANEL_W, header + (i // COLUMNS) * PANEL_H, panel)
    return c


def save_figure(path: str | Path, panels: Sequence[Panel], title: str = "", subtitle: str = "") -> None:
    """Draw the figure and write it as PNG (atomically)."""
    from .checkpoint import atomic_write_bytes

    atomic_write_bytes(Path(path), draw_figure(panels, title, subtitle).to_png())
