"""The classical stage end to end: image → zone geometry → defect proposals → IEC grade → report.

The product's fallback (`fibervlm inspect --no-vlm`), the source of pseudo-labels, and the watchdog
that checks the VLM all call `ClassicalInspector` (or `classical_report`, its one-shot form).

Never grade what was not seen: a face whose geometry is doubtful, whose cladding is partly out of
the frame, or which is out of focus gets an `unsure` report (a reason, no PASS/FAIL). Without a
profile, single-mode or multimode is inferred from the measured core (`profile_inferred`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from fibervlm import __version__
from fibervlm.classical.defects import DefectConfig, propose_defects
from fibervlm.classical.focus import edge_sharpness
from fibervlm.classical.geometry import FibreNotFoundError, GeometryConfig, find_zones
from fibervlm.classical.io import DEFAULT_MAX_PIXELS, ImageDecodeError, read_image
from fibervlm.classical.profile import infer_profile
from fibervlm.config import Config
from fibervlm.grading import grade_report_fields, load_table, table_for_profile
from fibervlm.schemas import EndfaceReport, Provenance, ZoneGeometry

PROFILES = ("sm-pc", "sm-apc", "mm-pc")
MODEL_ID = "classical-opencv"


class ClassicalConfig(Config):
    """The classical stage's settings: geometry, proposals, the decoder's size limit, and when a face
    is `unsure` (not graded). The thresholds' numbers: `python benchmarks/focus_calibration.py --n 8`."""

    geometry: GeometryConfig = Field(default_factory=GeometryConfig, description="Fibre finding and fitting.")
    defects: DefectConfig = Field(default_factory=DefectConfig, description="Defect proposal thresholds.")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="Largest image decoded (width × height).")
    min_geometry_confidence: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Below this `zones.confidence` the face is `unsure`, not graded. On synthetic faces "
        "right fits score ≥ 0.28 (standard look) and ≥ 0.30 (camera photos); the wrong fits of the "
        "dark-cladding look (centre 20–54 px off) 0.04–0.07; faces buried in read noise 0.15 0.13–0.35 "
        "or none.",
    )
    min_sharpness: float = Field(
        0.215,
        ge=0,
        le=1,
        description="Below this `zones.sharpness` (cladding edge, per px; ≈ 0.4 / blur σ px) the face is "
        "out of focus: `unsure`, not graded. Synthetic faces at 0.3–0.8 µm/px, every look the geometry "
        "fits, also with 3× the read noise: in focus (blur σ ≤ 1.3 px) ≥ 0.234, out of focus (σ ≥ 2.5 "
        "px) ≤ 0.194.",
    )
    min_edge_in_view: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Least fraction of the cladding circle inside the frame; less is `unsure` (part of "
        "zone B unseen; the fit's confidence stays high on a half-visible fibre).",
    )


def _explain(report_fields: dict[str, Any], profile: str) -> str:
    violations = report_fields["violations"]
    defects = report_fields["defects"]
    if violations:
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        return f"FAIL ({profile}): {violations[0].message}{more}."[:200]
    if defects:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(Counter(d.type for d in defects).items()))
        return f"PASS ({profile}): {counts}, within IEC 61300-3-35 limits."[:200]
    return f"PASS ({profile}): no defect found."


class ClassicalInspector:
    """Stateful classical inspector: config in `__init__`, one image per call.

    >>> from fibervlm.synth import sample_endface
    >>> image, _ = sample_endface(seed=0, index=1, profile="sm-pc")
    >>> report = ClassicalInspector()(image)
    >>> report.provenance.model_id, report.status, report.profile, report.profile_inferred
    ('classical-opencv', 'ok', 'sm-pc', True)
    """

    def __init__(self, config: ClassicalConfig | None = None) -> None:
        self.config = config or ClassicalConfig()

    def __call__(
        self,
        image: np.ndarray,
        *,
        profile: str | None = None,
        um_per_px: float | None = None,
        table: str | None = None,
    ) -> EndfaceReport:
        """Grade one uint8 grayscale (H, W) image; raises `FibreNotFoundError` if no fibre is seen.

        `profile=None` infers single-mode or multimode PC from the measured core.
        """
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"unknown fibre profile {profile!r}; known: {', '.join(PROFILES)}")
        if image.ndim != 2:
            raise ValueError(
                f"need a grayscale (H, W) image, got shape {image.shape}; decode with decode_image()"
            )
        started = time.perf_counter()
        fit = find_zones(image, um_per_px=um_per_px, profile=profile, config=self.config.geometry)
        graded_profile = profile or infer_profile(image, fit.zones)[0]
        geometry_done = time.perf_counter()  # where the fibre is, and which kind
        zones = fit.zones.model_copy(update={"sharpness": edge_sharpness(image, fit.zones)})
        focus_done = time.perf_counter()
        timings_ms = {
            "geometry": round(1000 * (geometry_done - started), 2),
            "focus": round(1000 * (focus_done - geometry_done), 2),
        }
        header = {
            "width": image.shape[1],
            "height": image.shape[0],
            "profile": graded_profile,
            "profile_inferred": profile is None,
            "zones": zones,
        }
        grading_table = load_table(table) if table else table_for_profile(graded_profile)
        provenance = Provenance(
            model_id=MODEL_ID, grading_table=grading_table.id, fibervlm_version=__version__
        )
        reason = self.unsure_reason(zones, image.shape)
        if reason is not None:
            # Not seen, so nothing is claimed: no proposals, no verdict (mining picks the row up).
            return EndfaceReport(
                **header,
                status="unsure",
                unsure_reason=reason,
                defects=[],
                pass_fail=None,
                explanation=f"UNSURE: {reason}"[:200],
                provenance=provenance,
                timings_ms=timings_ms,
            )
        defects = propose_defects(image, fit, self.config.defects)
        proposals_done = time.perf_counter()
        fields = grade_report_fields(defects, zones, grading_table)
        timings_ms["proposals"] = round(1000 * (proposals_done - focus_done), 2)
        timings_ms["grading"] = round(1000 * (time.perf_counter() - proposals_done), 2)
        return EndfaceReport(
            **header,
            explanation=_explain(fields, graded_profile),
            provenance=provenance,
            timings_ms=timings_ms,
            **fields,
        )

    def unsure_reason(self, zones: ZoneGeometry, shape: tuple[int, ...]) -> str | None:
        """Why this face must not be graded, or None: every check that failed, focus first.

        Blur also weakens the fit, so a blurred face often fails both: "out of focus" is what the
        operator can fix, and it comes first; the others follow, joined by "; ".
        """
        config = self.config
        reasons = []
        if zones.sharpness is None:
            reasons.append("focus not measurable: no clear cladding edge profile")
        elif zones.sharpness < config.min_sharpness:
            reasons.append(f"out of focus: sharpness {zones.sharpness:.3f} < {config.min_sharpness:g}")
        if zones.confidence < config.min_geometry_confidence:
            limit = config.min_geometry_confidence
            reasons.append(f"fibre geometry doubtful: confidence {zones.confidence:.2f} < {limit:g}")
        in_view = edge_in_view(zones, shape)
        if in_view < config.min_edge_in_view:
            reasons.append(f"fibre partly out of frame: {in_view:.0%} of the cladding edge in view")
        return "; ".join(reasons) or None


def edge_in_view(zones: ZoneGeometry, shape: tuple[int, ...]) -> float:
    """Fraction of the cladding circle inside the (H, W) frame."""
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    x = zones.center_px[0] + zones.cladding_radius_px * np.cos(angles)
    y = zones.center_px[1] + zones.cladding_radius_px * np.sin(angles)
    inside = (x >= 0) & (x <= shape[1] - 1) & (y >= 0) & (y <= shape[0] - 1)
    return float(inside.mean())


def classical_report(
    image: np.ndarray, *, profile: str | None = None, um_per_px: float | None = None, table: str | None = None
) -> EndfaceReport:
    """Geometry + defect proposals + IEC grade of one image, with default settings."""
    return ClassicalInspector()(image, profile=profile, um_per_px=um_per_px, table=table)


def inspect_paths(
    paths: Iterable[str | Path],
    *,
    profile: str | None = None,
    um_per_px: float | None = None,
    inspector: ClassicalInspector | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready result per path: `{"source", "status", "report"}` (status `ok` or `unsure`, as the
    report's), or `{"source", "status": "error", "error"}`.

    A bad file (unreadable, not an image, no fibre) is an error row; it never stops the others.
    """
    inspector = inspector or ClassicalInspector()
    results: list[dict[str, Any]] = []
    for path in paths:
        source = str(path)
        try:
            image = read_image(source, max_pixels=inspector.config.max_pixels)
            report = inspector(image, profile=profile, um_per_px=um_per_px)
        except (ImageDecodeError, FibreNotFoundError) as error:
            results.append({"source": source, "status": "error", "error": str(error)})
            continue
        results.append({"source": source, "status": report.status, "report": report.model_dump(mode="json")})
    return results
