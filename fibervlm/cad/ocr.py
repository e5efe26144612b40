"""The drawings' context text: real OCR (Tesseract through pytesseract) when present, else the generator's.

Tesseract is a Debian package (`apt-get install tesseract-ocr`, done by `.ci/run`); `pytesseract` is a
dependency of fibervlm. Each view is read on its own in sparse-text mode (`--psm 11`: dimension
numbers are scattered, not paragraphs) and the views' words are joined like the generator's text:
`a: 116 BRACKET MATERIAL: POM | b: DIA4 50 81 | c: ...`.
"""

from __future__ import annotations

import os
import shutil
from typing import Literal

from PIL import Image

from fibervlm.cad.drawing import Drawing

OcrEngine = Literal["auto", "tesseract", "generator"]
TESSERACT_CONFIG = "--psm 11"


def tesseract_available() -> bool:
    """True when both the `tesseract` binary and the `pytesseract` module are there."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return True


def read_view(image: Image.Image) -> str:
    """Tesseract's words of one view, on one line."""
    import pytesseract

    # Tesseract's OpenMP threads only contend on small images and shared cores: one is twice as fast here.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    return " ".join(pytesseract.image_to_string(image, config=TESSERACT_CONFIG).split())


def context_text(drawing: Drawing, engine: OcrEngine = "auto") -> tuple[str, str]:
    """(text, source): source is `tesseract` or `generator` (what `auto` picked, or what was asked).

    >>> from fibervlm.cad.parts import sample_part
    >>> from fibervlm.cad.drawing import draw_part
    >>> context_text(draw_part(sample_part(seed=1, index=5)), engine="generator")
    ('a: 43 42 L-PROFILE  MATERIAL: POM | b: 43 310 | c: 310 42', 'generator')
    """
    use_tesseract = engine == "tesseract" or (engine == "auto" and tesseract_available())
    if not use_tesseract:
        return drawing.text, "generator"
    if not tesseract_available():
        raise RuntimeError("engine 'tesseract' asked for, but tesseract or pytesseract is not installed")
    return read_views(drawing.views), "tesseract"


def read_views(views: dict[str, Image.Image]) -> str:
    """Tesseract's text of a part's views, `a: ... | b: ...` in the order given."""
    return " | ".join(f"{name}: {read_view(view)}" for name, view in views.items())
