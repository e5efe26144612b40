"""The training target: a labelled report as the VLM must answer it (`VlmReport`, boxes on the grid)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from fibervlm.schemas import GRID, EndfaceReport, PassFail, VlmDefect, VlmReport

EXPLANATION_CHARS = 200  # VlmReport.explanation's max_length


def _to_grid(value_px: float, size_px: float) -> int:
    return min(GRID, max(0, round(value_px * GRID / size_px)))


def grid_box(bbox_px: Sequence[float], width: float, height: float) -> list[int]:
    """[x, y, w, h] in pixels → the 0–1000 grid; corners are converted (rounded, clamped) so the
    box stays inside the grid and its right/bottom edge does not drift with rounding."""
    x, y, w, h = bbox_px
    x1, y1 = _to_grid(x, width), _to_grid(y, height)
    x2, y2 = _to_grid(x + w, width), _to_grid(y + h, height)
    return [x1, y1, x2 - x1, y2 - y1]


def default_explanation(pass_fail: PassFail, types: Sequence[str], reason: str | None = None) -> str:
    """One short sentence when the label has none: what was found and why the verdict."""
    if not types:
        text = "Clean end face: no defects found." if pass_fail == "PASS" else "Fails inspection."
    else:
        found = ", ".join(f"{n} {t}" for t, n in sorted(Counter(types).items()))
        verdict = "all within the IEC limits" if pass_fail == "PASS" else (reason or "over the IEC limits")
        text = f"Found {found}; {verdict}."
    return text[:EXPLANATION_CHARS]


def vlm_target(report: EndfaceReport) -> VlmReport:
    """What the VLM should answer for a labelled image: the label's defects on the grid and its
    IEC verdict, with the label's explanation (or one written from the first violated rule).

    An `unsure` report has no verdict to teach: refused (exports skip such rows before this)."""
    if report.pass_fail is None:
        raise ValueError(f"an unsure report is no training target: {report.unsure_reason}")
    defects = [
        VlmDefect(type=d.type, bbox=grid_box(d.bbox, report.width, report.height), severity=d.severity)
        for d in report.defects
    ]
    reason = report.violations[0].message if report.violations else None
    explanation = report.explanation[:EXPLANATION_CHARS] or default_explanation(
        report.pass_fail, [d.type for d in report.defects], reason
    )
    return VlmReport(defects=defects, pass_fail=report.pass_fail, explanation=explanation)
