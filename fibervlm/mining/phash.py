"""A DCT perceptual hash (pHash) of a grey image, and the Hamming distance that finds near-duplicates.

The hash keeps the signs of the lowest `bits_side`² DCT coefficients of the image shrunk to 4× that
size (the DC term excluded from the median): resizing, re-encoding and sensor noise barely move it,
another end face moves it far. Larger `bits_side` separates similar-looking faces better.

>>> import numpy as np
>>> face = np.zeros((128, 160), np.uint8)
>>> face[32:96, 48:112] = 200  # a bright square
>>> other = np.zeros((128, 160), np.uint8)
>>> other[16:48, 16:144] = 200  # a bright bar elsewhere
>>> hamming(phash(face), phash(face[::2, ::2])) <= 16 < hamming(phash(face), phash(other))
True
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

DEFAULT_BITS_SIDE = 16  # 256-bit hash


def phash(gray: np.ndarray, *, bits_side: int = DEFAULT_BITS_SIDE) -> int:
    """The pHash of a 2-D uint8 (or BGR) image as a Python int of `bits_side`² bits."""
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY)
    side_px = 4 * bits_side
    small = cv2.resize(gray, (side_px, side_px), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:bits_side, :bits_side]  # (bits_side, bits_side): the lowest frequencies
    flat = low.flatten()
    bits = flat > np.median(flat[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    """Number of differing bits."""
    return (a ^ b).bit_count()


def nearest_distance(value: int, others: Iterable[int]) -> int | None:
    """The smallest Hamming distance from `value` to any of `others`; None when there are none."""
    distances = [hamming(value, other) for other in others]
    return min(distances) if distances else None
