"""Prompts through the family's chat template, stage-1 context as one short line, optional zone crops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from fibervlm.prompts import PromptTemplate
from fibervlm.schemas import Defect, ZoneGeometry

# Zone-crop mode: the crops' half-widths in multiples of the cladding radius (core, cladding, ferrule).
ZONE_CROPS: dict[str, float] = {"core": 0.35, "cladding": 1.1, "ferrule": 2.2}


class ImageError(ValueError):
    """An input image that cannot be read; the message says which row and why."""


def build_messages(
    prompt: PromptTemplate, context: str | None = None, n_images: int = 1
) -> list[dict[str, Any]]:
    """System + user turn (images first, then the instruction and the optional stage-1 line)."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": prompt.user_text(context)})
    return [
        {"role": "system", "content": [{"type": "text", "text": prompt.system}]},
        {"role": "user", "content": content},
    ]


def render_prompt(
    processor: Any, prompt: PromptTemplate, context: str | None = None, n_images: int = 1
) -> str:
    """The exact text the model reads before answering, from the processor's own chat template."""
    messages = build_messages(prompt, context, n_images)
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def format_context(defects: Sequence[Defect], zones: ZoneGeometry | None = None, max_items: int = 12) -> str:
    """Stage-1 findings as one short line, boxes in pixels of the original image.

    >>> from fibervlm.schemas import Defect
    >>> format_context([Defect(type="scratch", bbox=[10, 20, 30, 4], size_um=2.0, zone="B")])
    'Detected: scratch at [10, 20, 30, 4] in zone B (2.0 um)'
    """
    if not defects:
        return "Detected: nothing"
    parts = [_describe(d) for d in defects[:max_items]]
    if len(defects) > max_items:
        parts.append(f"and {len(defects) - max_items} more")
    line = "Detected: " + "; ".join(parts)
    if zones is not None:
        cx, cy = (round(v) for v in zones.center_px)
        line += f". Fibre centre [{cx}, {cy}], cladding radius {round(zones.cladding_radius_px)} px"
    return line


def _describe(defect: Defect) -> str:
    box = ", ".join(str(round(v)) for v in defect.bbox)
    where = f" in zone {defect.zone}" if defect.zone else ""
    return f"{defect.type} at [{box}]{where} ({defect.size_um:.1f} um)"


def to_pil(image: Any, row: int = 0) -> Image.Image:
    """uint8 HxW / HxWx3 / HxWx4 arrays or PIL images → RGB PIL; anything else is a clear error."""
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise ImageError(f"row {row}: empty image ({image.width}×{image.height})")
        return image.convert("RGB")
    if isinstance(image, bytes | bytearray):
        return _decode(bytes(image), row)
    if not isinstance(image, np.ndarray):
        raise ImageError(
            f"row {row}: expected a numpy array, PIL image or encoded bytes, got {type(image).__name__}"
        )
    if image.size == 0:
        raise ImageError(f"row {row}: empty image (shape {image.shape})")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ImageError(f"row {row}: expected HxW or HxWxC (C in 1, 3, 4), got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ImageError(f"row {row}: expected uint8 pixels, got {image.dtype}")
    array = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    return Image.fromarray(array).convert("RGB")


def _decode(data: bytes, row: int) -> Image.Image:
    import io

    if not data:
        raise ImageError(f"row {row}: empty image bytes")
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except Exception as error:  # PIL raises several types for corrupt files
        raise ImageError(f"row {row}: corrupt or unsupported image bytes ({error})") from None


def zone_crops(image: Image.Image, zones: ZoneGeometry) -> list[Image.Image]:
    """Core, cladding and ferrule crops around the fibre centre, for high-resolution faces.

    The model then sees the small zones at a usable scale; its boxes refer to each crop, so callers
    that use this mode map boxes back with `crop_boxes` (left, top, right, bottom per crop).
    """
    return [image.crop(box) for box in crop_boxes(image.size, zones)]


def crop_boxes(size: tuple[int, int], zones: ZoneGeometry) -> list[tuple[int, int, int, int]]:
    cx, cy = zones.center_px
    boxes = []
    for factor in ZONE_CROPS.values():
        half_px = max(1.0, factor * zones.cladding_radius_px)
        left, top = max(0, round(cx - half_px)), max(0, round(cy - half_px))
        right, bottom = min(size[0], round(cx + half_px)), min(size[1], round(cy + half_px))
        boxes.append((left, top, max(right, left + 1), max(bottom, top + 1)))
    return boxes
