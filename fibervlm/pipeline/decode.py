"""Stage: encoded bytes → grayscale pixels, or an error row that says why (never a crashed job)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fibervlm.classical.io import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image, image_size
from fibervlm.detect.images import object_column
from fibervlm.pipeline.stage import Stage

NO_PIXELS = np.zeros((0, 0), dtype=np.uint8)  # error rows: an empty image keeps the column one tensor type


class DecodeStage(Stage):
    """Decodes each row on its own, so one corrupt, empty, truncated or huge file fails only its row.

    Stateless: runs as a task fused into the read.
    Input columns: image (bytes). Output: pixels (H, W) uint8, width, height, status, error, decode_ms
    (the `image` bytes are dropped: later stages need pixels, and the output stores no images).
    """

    input_columns = ("image",)
    output_columns = ("pixels", "width", "height", "status", "error", "decode_ms")

    def __init__(self, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.max_pixels = max_pixels

    def decode_one(self, data: bytes) -> tuple[np.ndarray, int, int, str | None]:
        """(pixels, width, height, error); width/height come from the header when only decoding fails."""
        try:
            pixels = decode_image(data, max_pixels=self.max_pixels)
        except ImageDecodeError as error:
            try:
                width, height = image_size(data)
            except ImageDecodeError:
                width, height = 0, 0
            return NO_PIXELS, width, height, str(error)
        return pixels, int(pixels.shape[1]), int(pixels.shape[0]), None

    def process(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = {key: value for key, value in batch.items() if key != "image"}
        results, elapsed_ms = [], []
        for data in batch["image"]:
            start = time.perf_counter()
            results.append(self.decode_one(bytes(data)))
            elapsed_ms.append((time.perf_counter() - start) * 1000)
        pixels, widths, heights, errors = zip(*results, strict=True) if results else ((), (), (), ())
        out["pixels"] = object_column(list(pixels))
        out["width"] = np.array(widths, dtype=np.int32)
        out["height"] = np.array(heights, dtype=np.int32)
        out["status"] = np.array(["ok" if e is None else "error" for e in errors], dtype=object)
        out["error"] = object_column(list(errors))
        out["decode_ms"] = np.array(elapsed_ms, dtype=np.float64)
        return out
