"""The context text: real Tesseract reads the drawn numbers; the generator's text is the fallback."""

from __future__ import annotations

import pytest

from fibervlm.cad.baseline import numbers
from fibervlm.cad.drawing import draw_part
from fibervlm.cad.ocr import context_text, tesseract_available
from fibervlm.cad.parts import sample_part

needs_tesseract = pytest.mark.skipif(
    not tesseract_available(), reason="tesseract not installed (apt-get install tesseract-ocr; .ci/run does)"
)


@needs_tesseract
def test_tesseract_reads_most_dimension_numbers() -> None:
    found = total = 0
    for index in range(6):
        drawing = draw_part(sample_part(5, index))
        text, source = context_text(drawing, "tesseract")
        assert source == "tesseract" and text.startswith("a: ")
        drawn = {n for words in drawing.texts.values() for n in numbers(" ".join(words))}
        found += len(drawn & set(numbers(text)))
        total += len(drawn)
    assert found / total >= 0.6, (found, total)


def test_generator_text_when_asked() -> None:
    drawing = draw_part(sample_part(5, 0))
    assert context_text(drawing, "generator") == (drawing.text, "generator")
    expected = "tesseract" if tesseract_available() else "generator"
    assert context_text(drawing, "auto")[1] == expected
