"""Images as the stages receive them: validated one row at a time, so one bad row never sinks a batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from fibervlm.schemas import ZoneGeometry

S = TypeVar("S")
T = TypeVar("T")


def as_gray_image(value: Any) -> np.ndarray:
    """A grayscale uint8 (H, W) image from an array (H, W), (H, W, 1), (H, W, 3 BGR) or encoded bytes.

    Raises ValueError naming what is wrong: the caller records it as that row's error.
    """
    if value is None:
        raise ValueError("image is missing (None)")
    if isinstance(value, bytes | bytearray | memoryview):
        decoded = cv2.imdecode(np.frombuffer(value, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        if decoded is None:
            raise ValueError(f"image bytes could not be decoded ({len(value)} bytes)")
        return decoded
    if not isinstance(value, np.ndarray):
        raise ValueError(f"image must be a numpy array or encoded bytes, got {type(value).__name__}")
    if value.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {value.dtype}")
    if value.ndim == 3 and value.shape[2] == 1:
        value = value[:, :, 0]
    elif value.ndim == 3 and value.shape[2] == 3:
        value = cv2.cvtColor(value, cv2.COLOR_BGR2GRAY)
    if value.ndim != 2 or min(value.shape) < 8:
        raise ValueError(f"image must be (H, W) grayscale with sides >= 8 px, got shape {value.shape}")
    return value


def read_gray(path: Path) -> np.ndarray:
    """A grayscale uint8 image from a file; ValueError if it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return image


def gray_to_bgr(image: np.ndarray) -> np.ndarray:
    """Ultralytics reads numpy arrays as 3-channel BGR."""
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def split_valid(values: Iterable[Any]) -> tuple[list[np.ndarray | None], list[str | None]]:
    """Each row's image (None where invalid) and error (None where valid)."""
    images: list[np.ndarray | None] = []
    errors: list[str | None] = []
    for value in values:
        try:
            images.append(as_gray_image(value))
            errors.append(None)
        except ValueError as error:
            images.append(None)
            errors.append(str(error))
    return images, errors


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def map_valid(items: Sequence[S | None], fn: Callable[[list[S]], list[T]], batch_size: int) -> list[T | None]:
    """Apply `fn` to the valid items in chunks of `batch_size`; None stays in place of invalid rows."""
    valid_rows = [i for i, item in enumerate(items) if item is not None]
    results: list[T | None] = [None] * len(items)
    for rows in chunks(valid_rows, batch_size):
        for row, result in zip(rows, fn([items[i] for i in rows]), strict=True):  # type: ignore[misc]
            results[row] = result
    return results


def column_values(batch: dict[str, Any], column: str) -> list[Any]:
    """One Python value per row of a batch column (a list, or a numpy array of any dtype)."""
    if column not in batch:
        raise KeyError(f"batch has no column {column!r}; columns: {', '.join(sorted(batch))}")
    return list(batch[column])  # (N, H, W) arrays split into N images, object arrays into their items


def object_column(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array, even when empty or of equal-length bytes (numpy would make a fixed-width
    array): what Ray Data needs for columns of strings with None, bytes or images of any size."""
    column = np.empty(len(values), dtype=object)
    column[:] = list(values)
    return column


def to_geometry(value: Any) -> ZoneGeometry | None:
    """A row's geometry from a ZoneGeometry, a dict or JSON text; None when the row has none."""
    if value is None or isinstance(value, ZoneGeometry):
        return value
    if isinstance(value, str | bytes):
        return ZoneGeometry.model_validate_json(value)
    return ZoneGeometry.model_validate(dict(value))


Pair = tuple[np.ndarray, ZoneGeometry | None]


def with_geometries(
    batch: dict[str, Any], images: list[np.ndarray | None], errors: list[str | None], column: str
) -> list[Pair | None]:
    """(image, geometry) per row of a stage's batch, None where the row failed. A malformed geometry
    fails its row only (its error is written into `errors`); a batch without the column has none."""
    values = column_values(batch, column) if column in batch else [None] * len(images)
    pairs: list[Pair | None] = []
    for row, (image, value) in enumerate(zip(images, values, strict=True)):
        try:
            geometry = to_geometry(value)
        except ValueError as error:
            errors[row] = errors[row] or f"geometry: {error}"
        pairs.append((image, geometry) if image is not None and errors[row] is None else None)
    return pairs
