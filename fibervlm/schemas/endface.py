"""The fibre end-face report contract (docs/architecture.md, "The report contract").

Two layers:
- `VlmReport` is what the VLM emits, constrained by its JSON Schema: boxes on a 0–1000 grid.
- `EndfaceReport` is the enriched report the pipeline writes: boxes in pixels of the original
  image, each defect with its zone, size in µm, source and confidence, the IEC grade, the zone
  geometry and provenance.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from fibervlm.schemas.base import StrictModel

DefectType = Literal["scratch", "dig", "chip", "crack", "contamination"]
Severity = Literal["low", "medium", "high", "critical"]
PassFail = Literal["PASS", "FAIL"]
ZoneName = Literal["A", "B", "C", "D", "outside"]
FibreProfile = Literal["sm-pc", "sm-apc", "mm-pc"]
ReportStatus = Literal["ok", "unsure"]  # unsure: read but not really seen, so no PASS/FAIL
DefectSource = Literal["classical", "yolo", "vlm", "synth"]

DEFECT_TYPES: tuple[DefectType, ...] = ("scratch", "dig", "chip", "crack", "contamination")
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
LINEAR_TYPES: frozenset[str] = frozenset({"scratch", "crack"})  # judged by width, not diameter
GRID = 1000  # the VLM's normalised box grid: 0..GRID on both axes
MAX_DEFECTS = 16  # keeps the constrained language finite and answers short

GridCoord = Annotated[int, Field(ge=0, le=GRID)]
PixelCoord = Annotated[float, Field(ge=0)]


class VlmDefect(StrictModel):
    type: DefectType = Field(description="Defect class.")
    bbox: list[GridCoord] = Field(
        min_length=4, max_length=4, description="[x, y, w, h] on the 0–1000 grid of the image seen."
    )
    severity: Severity = Field(description="How much the defect matters for the connection.")


class VlmReport(StrictModel):
    """What the VLM answers. The rules, not this verdict, decide PASS/FAIL."""

    defects: list[VlmDefect] = Field(max_length=MAX_DEFECTS, description="Every defect seen.")
    pass_fail: PassFail = Field(description="The model's own verdict (recorded, never trusted).")
    explanation: str = Field(max_length=200, description="One short sentence.")


class Defect(StrictModel):
    """A defect in pixels of the original image, enriched with its zone and size."""

    type: DefectType
    bbox: list[PixelCoord] = Field(min_length=4, max_length=4, description="[x, y, w, h] in pixels.")
    severity: Severity = "medium"
    zone: ZoneName | None = Field(default=None, description="IEC zone of the defect; set by grading.")
    size_um: float = Field(ge=0, description="Width for scratches and cracks, diameter otherwise (µm).")
    length_um: float | None = Field(default=None, ge=0, description="Length of a linear defect (µm).")
    line_px: list[PixelCoord] | None = Field(
        default=None, min_length=4, max_length=4, description="[x1, y1, x2, y2] of a linear defect."
    )
    source: DefectSource = "synth"
    confidence: float = Field(default=1.0, ge=0, le=1)


class ZoneGeometry(StrictModel):
    """Where the fibre is in the image. Zone boundaries in µm come from the grading table."""

    center_px: list[float] = Field(min_length=2, max_length=2, description="[x, y] of the fibre centre.")
    core_radius_px: float = Field(gt=0)
    cladding_radius_px: float = Field(gt=0)
    um_per_px: float = Field(gt=0, description="Scale: µm per pixel (calibration or metadata).")
    confidence: float = Field(default=1.0, ge=0, le=1, description="How well the fitted circles fit.")
    sharpness: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Focus: the fraction of the cladding edge's step crossed per pixel at its steepest "
        "point (≈ 0.4 / blur σ in px; fibervlm.classical.focus); None when not measured.",
    )


class RuleViolation(StrictModel):
    """One IEC rule that failed: which zone, which band, how many against how many allowed."""

    rule: str = Field(description="Stable id, e.g. `sm-pc/B/defects/2-5um`.")
    zone: ZoneName
    kind: Literal["scratches", "defects"]
    count: int = Field(ge=0)
    max_count: int = Field(ge=0)
    message: str


class Provenance(StrictModel):
    task: str = "endface"
    model_id: str | None = None
    adapter_id: str | None = None
    prompt_hash: str | None = None
    schema_hash: str | None = None
    grading_table: str | None = None
    fibervlm_version: str | None = None


class EndfaceReport(StrictModel):
    """The enriched report: one per image, same shape from synth, backfill, inspect and Serve."""

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    profile: FibreProfile = Field(description="The profile graded against (or, when unsure, that would be).")
    profile_inferred: bool = Field(
        default=False,
        description="True when no request, metadata or config named the profile and it was inferred "
        "from the measured core (single-mode or multimode PC; APC cannot be told from the image).",
    )
    status: ReportStatus = Field(
        default="ok", description="`unsure`: the face was not really seen (see `unsure_reason`): no verdict."
    )
    unsure_reason: str | None = Field(default=None, description="Why no verdict was given, when unsure.")
    defects: list[Defect]
    zones: ZoneGeometry
    pass_fail: PassFail | None = Field(description="Decided by the IEC rules; None exactly when unsure.")
    failed_rule: str | None = Field(default=None, description="The first rule that failed, if any.")
    violations: list[RuleViolation] = Field(default_factory=list)
    explanation: str = ""
    vlm: VlmReport | None = Field(default=None, description="What the VLM answered, as it said it.")
    provenance: Provenance = Field(default_factory=Provenance)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _verdict_matches_status(self) -> EndfaceReport:
        """An `ok` report has a verdict and an `unsure` one has none, only a reason: never a guess."""
        if self.status == "ok" and (self.pass_fail is None or self.unsure_reason is not None):
            raise ValueError("an ok report needs pass_fail and no unsure_reason")
        if self.status == "unsure" and (self.pass_fail is not None or not self.unsure_reason):
            raise ValueError("an unsure report has no pass_fail, and says why in unsure_reason")
        return self
