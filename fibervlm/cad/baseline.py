"""The copy-the-OCR-numbers baseline: a valid CAD report built from the context text alone.

The rule, as a person without the images would apply it: the front view's (`a:`) first two numbers
are W and H, in the order read; D is the first number of the other views that is neither of them
(else W). Diameter callouts (`DIA 8`, `DIA8`) and counts (`4x`) are skipped. The family and the
material are copied from the title strip when it was read. One box of W × D × H stands for the part.

    >>> report = ocr_baseline("a: 81 116 BRACKET MATERIAL: POM | b: 81 50 DIA 4 | c: 50 116 DIA 4")
    >>> report.dimensions.W, report.dimensions.D, report.dimensions.H, report.global_shape
    (81, 50, 116, 'bracket')
"""

from __future__ import annotations

import re

from fibervlm.schemas.cad import MAX_MM, CadComponent, CadDimensions, CadReport, GlobalShape

_NUMBER = re.compile(r"(?<![A-Za-z])(\d+)(?!\s*[xX]\b)(?![xX])")
_VIEW = re.compile(r"(?:^|\s\|\s)([a-c]):\s?")  # the view prefixes of the context text
_DIA = re.compile(r"DIA\s*\d+", re.IGNORECASE)
_FAMILIES: dict[str, GlobalShape] = {
    "PLATE": "plate",
    "BRACKET": "bracket",
    "CYLINDER": "cylinder",
    "PROFILE": "l-profile",
}


def numbers(text: str) -> list[int]:
    """The dimension numbers of `text`, in order, diameter callouts and counts left out."""
    return [min(MAX_MM, max(1, int(n))) for n in _NUMBER.findall(_DIA.sub(" ", text))]


def ocr_baseline(context: str) -> CadReport:
    pieces = _VIEW.split(context)  # ['', 'a', text, 'b', text, ...]
    views = dict(zip(pieces[1::2], pieces[2::2], strict=True))
    front = numbers(views.get("a", ""))
    others = [n for name, text in views.items() if name != "a" for n in numbers(text)]
    everything = front + others or [1]
    w = front[0] if front else everything[0]
    h = front[1] if len(front) > 1 else w
    d = next((n for n in others if n not in (w, h)), w)
    upper = context.upper()
    family = next((f for word, f in _FAMILIES.items() if word in upper), "plate")
    material = re.search(r"MATERIAL:\s*([A-Z ]+?)(?:\s*\||$)", upper)
    return CadReport(
        object=f"{family} part",
        function="",
        global_shape=family,
        components=[
            CadComponent(name="body", shape="box", role="solid", axis="x", at_mm=[0, 0, 0], size_mm=[w, d, h])
        ],
        interfaces=[],
        working_principle="",
        dimensions=CadDimensions(H=h, W=w, D=d, unit="mm"),
        materials_guess=[material.group(1).strip().lower()[:48]] if material else [],
        manufacturing=[],
        assembly_hypothesis="",
        assumptions=["dimensions in millimetres"],
        uncertainties=[],
        risks_limits=[],
    )
