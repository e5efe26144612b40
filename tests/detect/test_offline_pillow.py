"""Importing ultralytics must not change how a bad upload fails elsewhere in the process."""

import pytest

from fibervlm.classical.io import ImageDecodeError, decode_image
from fibervlm.detect.offline import ultralytics_offline


def test_non_image_after_ultralytics_is_a_decode_error():
    ultralytics_offline()
    with pytest.raises(ImageDecodeError, match="not an image"):
        decode_image(b"definitely not an image")
