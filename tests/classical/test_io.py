"""decode_image: one clear ImageDecodeError for every bad input, correct pixels for every good one."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from fibervlm.classical import ImageDecodeError, decode_image, image_size, read_image


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG") if mode else Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def gray() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (48, 64), dtype=np.uint8)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"this is a text file, not an image", "not an image"),
        (b"\x89PNG\r\n\x1a\n", "not an image"),  # a PNG signature and nothing else
    ],
)
def test_bad_bytes_give_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ImageDecodeError, match=message):
        decode_image(data)


def test_truncated_png_is_refused(gray: np.ndarray) -> None:
    data = _png(gray)
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_truncated_jpeg_is_refused(gray: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".jpg", gray)
    assert ok
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(encoded.tobytes()[: len(encoded) // 2])


def test_one_pixel_image_is_too_small() -> None:
    with pytest.raises(ImageDecodeError, match=r"too small: 1×1"):
        decode_image(_png(np.zeros((1, 1), np.uint8)))


def test_huge_image_is_refused_from_its_header() -> None:
    ok, encoded = cv2.imencode(".png", np.zeros((10_000, 10_000), np.uint8))
    assert ok
    data = encoded.tobytes()
    assert image_size(data) == (10_000, 10_000)
    with pytest.raises(ImageDecodeError, match=r"too many pixels: 10000×10000 = 100\.0 MP, limit 50\.0 MP"):
        decode_image(data)
    # The header alone decides: a file cut right after its header is refused for size, not truncation.
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        decode_image(data[:64])


def test_max_pixels_is_configurable(gray: np.ndarray) -> None:
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        decode_image(_png(gray), max_pixels=1000)
    assert decode_image(_png(gray), max_pixels=48 * 64).shape == (48, 64)


def test_gray_png_round_trips_exactly(gray: np.ndarray) -> None:
    decoded = decode_image(_png(gray))
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, gray)


def test_16_bit_full_range_scales_to_8_bit(gray: np.ndarray) -> None:
    wide = gray.astype(np.uint16) * 257  # 0..65535
    decoded = decode_image(_png(wide))
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, gray)


def test_12_bit_in_16_bit_container_is_not_darkened() -> None:
    twelve_bit = np.linspace(0, 4095, 64 * 48).reshape(48, 64).astype(np.uint16)
    decoded = decode_image(_png(twelve_bit))
    assert decoded.max() == 255
    assert decoded.min() == 0
    assert abs(int(decoded[24, 32]) - round(twelve_bit[24, 32] / 4095 * 255)) <= 1


def test_rgb_becomes_luma() -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 1] = 200  # pure green: luma 0.587 × 200
    decoded = decode_image(_png(rgb))
    assert decoded.shape == (32, 32)
    assert abs(int(decoded[0, 0]) - round(0.587 * 200)) <= 1


def test_rgba_is_composited_over_black() -> None:
    rgba = np.full((32, 32, 4), 200, np.uint8)
    rgba[:16, :, 3] = 255  # top half opaque grey 200
    rgba[16:, :, 3] = 0  # bottom half fully transparent
    decoded = decode_image(_png(rgba))
    assert decoded.shape == (32, 32)
    assert decoded[:16].min() == 200
    assert decoded[16:].max() == 0


def test_read_image_names_the_path(tmp_path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageDecodeError, match=r"missing\.png: cannot read"):
        read_image(str(missing))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match=r"bad\.png: empty file"):
        read_image(str(bad))
