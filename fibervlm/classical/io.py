"""Image bytes → uint8 grayscale array, with one clear error for every way the bytes can be wrong.

Every stage that takes an image from outside (CLI, backfill, Serve) decodes it here, so a bad upload
fails the same way everywhere and a huge image is refused from its header, before any pixel is decoded.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 50_000_000  # 50 MP: a 16-bit image of that size already needs 100 MB decoded
DEFAULT_MIN_SIDE_PX = 16  # below this no fibre can be measured


class ImageDecodeError(ValueError):
    """The bytes are not a usable image; the message says why (shown to the user as is)."""


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header alone, without decoding a pixel."""
    if not data:
        raise ImageDecodeError("empty file: 0 bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"too many pixels: {error}") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"not an image (unrecognised format, {len(data)} bytes)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"unreadable image header: {error}") from None


def _check_size(width: int, height: int, *, max_pixels: int, min_side_px: int) -> None:
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"too many pixels: {width}×{height} = {width * height / 1e6:.1f} MP, "
            f"limit {max_pixels / 1e6:.1f} MP"
        )
    if min(width, height) < min_side_px:
        raise ImageDecodeError(f"image too small: {width}×{height} px, need at least {min_side_px} px a side")


def _high_depth_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Scale 16-bit (or 32-bit integer) data to 8 bits by the bit depth the data actually uses.

    Cameras often store 10/12/14-bit samples in a 16-bit container; dividing by 65535 would make them
    nearly black, so the full scale is the smallest 2^k - 1 (k ≥ 8) that holds the brightest sample.
    """
    values = pixels.astype(np.float64)
    peak = float(values.max()) if values.size else 0.0
    bits = max(8, int(np.ceil(np.log2(peak + 1)))) if peak > 0 else 8
    full_scale = float(2**bits - 1)
    return np.clip(np.round(values * (255.0 / full_scale)), 0, 255).astype(np.uint8)


def _to_gray_uint8(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(image)
        if pixels.ndim == 3:  # some 16-bit RGB readers give (h, w, 3)
            pixels = pixels.mean(axis=2)
        return _high_depth_to_uint8(pixels)
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        low, high = float(values.min()), float(values.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        return np.round((values - low) * scale).astype(np.uint8)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels carry no light: composite over black rather than drop alpha silently.
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        alpha = rgba[..., 3:] / 255.0
        rgb = (rgba[..., :3] * alpha).round().astype(np.uint8)
        return np.asarray(Image.fromarray(rgb, "RGB").convert("L"))
    return np.asarray(image.convert("L"))  # L, 1, P, RGB, CMYK, YCbCr, LAB, HSV: ITU-R 601 luma


def decode_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side_px: int = DEFAULT_MIN_SIDE_PX
) -> np.ndarray:
    """Decode PNG/JPEG/TIFF/BMP/... bytes to a (height, width) uint8 grayscale array.

    Raises `ImageDecodeError` for empty bytes, non-images, truncated files, images smaller than
    `min_side_px` a side, and images over `max_pixels` (checked from the header, before decoding).
    16-bit data is scaled to 8 bits; colour is converted to luma; alpha is composited over black.

    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (64, 48), (255, 0, 0)).save(buf, "PNG")
    >>> decode_image(buf.getvalue()).shape
    (48, 64)
    """
    width, height = image_size(data)
    _check_size(width, height, max_pixels=max_pixels, min_side_px=min_side_px)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a truncated file raises here (LOAD_TRUNCATED_IMAGES is off by default)
            gray = _to_gray_uint8(image)
    except ImageDecodeError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageDecodeError(f"corrupt or truncated image ({width}×{height}): {error}") from None
    return np.ascontiguousarray(gray)


def read_image(path: str, **limits: int) -> np.ndarray:
    """`decode_image` of a file's bytes; a missing file is an `ImageDecodeError` naming the path."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImageDecodeError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        return decode_image(data, **limits)
    except ImageDecodeError as error:
        raise ImageDecodeError(f"{path}: {error}") from None
