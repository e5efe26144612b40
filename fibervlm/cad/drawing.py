"""A part as 2–3 orthographic views with dimension lines and numbers, and the text drawn on them.

Views (the seed's `_a`, `_b`, `_c` suffixes): `a` front (x right, z up), `b` top (x right, y up),
`c` side (y right, z up); a cylinder gets `a` and `b` only. Solids are drawn in black, cuts (holes,
bores) in grey. The front view carries the title strip (family and material, no numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fibervlm.cad.parts import Part
from fibervlm.schemas.cad import CadComponent

VIEW_SIZE = (384, 288)  # (width, height) px of every view
FONT_PX = 18
_AXES = {"a": (0, 2), "b": (0, 1), "c": (1, 2)}  # view → (horizontal, vertical) model axes
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
ToPixels = Callable[[float, float], tuple[float, float]]  # (mm along the view's axes) → (x, y) px
_MARGIN = (40, 56, 70, 24)  # px left, top, right, bottom... of the drawing area: room for dimensions


@dataclass(frozen=True)
class Drawing:
    """One part's views (suffix → RGB image) and the text on each, in drawing order."""

    views: dict[str, Image.Image]
    texts: dict[str, list[str]]

    @property
    def text(self) -> str:
        """The generator's own context text: each view's labels, views in order (`a: 120 10 | b: ...`)."""
        return " | ".join(f"{suffix}: {' '.join(words)}" for suffix, words in self.texts.items())


def view_names(part: Part) -> tuple[str, ...]:
    return ("a", "b") if part.family == "cylinder" else ("a", "b", "c")


def draw_part(part: Part) -> Drawing:
    """Render every view of `part`; deterministic (no randomness here: the part carries it)."""
    font = ImageFont.load_default(size=FONT_PX)
    views, texts = {}, {}
    for name in view_names(part):
        image = Image.new("RGB", VIEW_SIZE, "white")
        texts[name] = _draw_view(ImageDraw.Draw(image), part, name, font)
        views[name] = image
    return Drawing(views=views, texts=texts)


def _draw_view(draw: ImageDraw.ImageDraw, part: Part, name: str, font: Font) -> list[str]:
    h_axis, v_axis = _AXES[name]
    comps = part.report.components
    solids = [c for c in comps if c.role == "solid"]
    lo = [min(c.at_mm[i] for c in solids) for i in range(3)]
    hi = [max(c.at_mm[i] + c.size_mm[i] for c in solids) for i in range(3)]
    left, top, right, bottom = _MARGIN
    box_w, box_h = VIEW_SIZE[0] - left - right, VIEW_SIZE[1] - top - bottom - 2 * FONT_PX
    span_h, span_v = hi[h_axis] - lo[h_axis], hi[v_axis] - lo[v_axis]
    scale = min(box_w / span_h, box_h / span_v)  # px per mm, one scale for both axes

    def px(u: float, v: float) -> tuple[float, float]:
        return left + (u - lo[h_axis]) * scale, top + box_h - (v - lo[v_axis]) * scale

    for comp in sorted(comps, key=lambda c: c.role == "cut"):
        _draw_component(draw, comp, h_axis, v_axis, px)
    x0, y0 = px(lo[h_axis], lo[v_axis])
    x1, y1 = px(hi[h_axis], hi[v_axis])
    words = [
        _dimension(draw, font, (x0, y0 + 14), (x1, y0 + 14), span_h),
        _dimension(draw, font, (x1 + 14, y1), (x1 + 14, y0), span_v),
    ]
    words += _cut_labels(draw, font, part, name, h_axis, v_axis)
    if name == "a":
        title = f"{part.family.upper()}  MATERIAL: {part.report.materials_guess[0].upper()}"
        draw.text((8, VIEW_SIZE[1] - FONT_PX - 6), title, fill="black", font=font)
        words.append(title)
    return words


def _draw_component(
    draw: ImageDraw.ImageDraw, comp: CadComponent, h_axis: int, v_axis: int, px: ToPixels
) -> None:
    colour, width = ("black", 2) if comp.role == "solid" else ("grey", 1)
    (u0, v0), (u1, v1) = (
        px(comp.at_mm[h_axis], comp.at_mm[v_axis]),
        px(comp.at_mm[h_axis] + comp.size_mm[h_axis], comp.at_mm[v_axis] + comp.size_mm[v_axis]),
    )
    shape = [min(u0, u1), min(v0, v1), max(u0, u1), max(v0, v1)]
    seen_end_on = comp.shape == "cylinder" and "xyz".index(comp.axis) not in (h_axis, v_axis)
    if seen_end_on:
        draw.ellipse(shape, outline=colour, width=width)
    else:
        draw.rectangle(shape, outline=colour, width=width)


def _dimension(
    draw: ImageDraw.ImageDraw, font: Font, start: tuple[float, float], end: tuple[float, float], value_mm: int
) -> str:
    """A dimension line with arrow ticks and its number beside it; returns the number as drawn."""
    (xa, ya), (xb, yb) = start, end
    draw.line([start, end], fill="black", width=1)
    for x, y in (start, end):
        draw.line([(x - 4, y - 4), (x + 4, y + 4)], fill="black", width=1)
    label = str(value_mm)
    if ya == yb:  # horizontal: number centred below
        draw.text(((xa + xb) / 2, ya + 4), label, fill="black", font=font, anchor="ma")
    else:  # vertical: number to the right, at mid-height
        draw.text((xa + 6, (ya + yb) / 2), label, fill="black", font=font, anchor="lm")
    return label


def _cut_labels(
    draw: ImageDraw.ImageDraw, font: Font, part: Part, name: str, h_axis: int, v_axis: int
) -> list[str]:
    """Diameter callouts of the cuts seen end-on in this view, top left (`4x DIA 8`: the bundled
    font has no Ø)."""
    seen = [
        c
        for c in part.report.components
        if c.role == "cut" and c.shape == "cylinder" and "xyz".index(c.axis) not in (h_axis, v_axis)
    ]
    if not seen:
        return []
    diameters = [diameter(c) for c in seen]
    labels = []
    for i, d in enumerate(sorted(set(diameters))):
        n = diameters.count(d)
        label = f"{n}x DIA {d}" if n > 1 else f"DIA {d}"
        draw.text((8, 8 + i * (FONT_PX + 4)), label, fill="black", font=font)
        labels.append(label)
    return labels


def diameter(comp: CadComponent) -> int:
    """A cylinder's diameter: its extent across its axis."""
    return comp.size_mm[(("xyz".index(comp.axis)) + 1) % 3]


def to_array(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8."""
    return np.asarray(image.convert("RGB"))
