"""The classical stage end to end: image → zone geometry → defect proposals → IEC grade → report.

The product's fallback (`fibervlm inspect --no-vlm`), the source of pseudo-labels, and the watchdog
that checks the VLM all call `ClassicalInspector` (or `classical_report`, its one-shot form).
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
from fibervlm.classical.geometry import FibreNotFoundError, GeometryConfig, find_zones
from fibervlm.classical.io import DEFAULT_MAX_PIXELS, ImageDecodeError, read_image
from fibervlm.config import Config
from fibervlm.grading import grade_report_fields, load_table, table_for_profile
from fibervlm.schemas import EndfaceReport, Provenance

PROFILES = ("sm-pc", "sm-apc", "mm-pc")
MODEL_ID = "classical-opencv"


class ClassicalConfig(Config):
    """The classical stage's settings: geometry, proposals, and the decoder's size limit."""

    geometry: GeometryConfig = Field(default_factory=GeometryConfig, description="Fibre finding and fitting.")
    defects: DefectConfig = Field(default_factory=DefectConfig, description="Defect proposal thresholds.")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="Largest image decoded (width × height).")


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
    >>> ClassicalInspector()(image, profile="sm-pc").provenance.model_id
    'classical-opencv'
    """

    def __init__(self, config: ClassicalConfig | None = None) -> None:
        self.config = config or ClassicalConfig()

    def __call__(
        self, image: np.ndarray, *, profile: str, um_per_px: float | None = None, table: str | None = None
    ) -> EndfaceReport:
        """Grade one uint8 grayscale (H, W) image; raises `FibreNotFoundError` if no fibre is seen."""
        if profile not in PROFILES:
            raise ValueError(f"unknown fibre profile {profile!r}; known: {', '.join(PROFILES)}")
        if image.ndim != 2:
            raise ValueError(
                f"need a grayscale (H, W) image, got shape {image.shape}; decode with decode_image()"
            )
        grading_table = load_table(table) if table else table_for_profile(profile)
        started = time.perf_counter()
        fit = find_zones(image, um_per_px=um_per_px, profile=profile, config=self.config.geometry)
        geometry_done = time.perf_counter()
        defects = propose_defects(image, fit, self.config.defects)
        proposals_done = time.perf_counter()
        fields = grade_report_fields(defects, fit.zones, grading_table)
        return EndfaceReport(
            width=image.shape[1],
            height=image.shape[0],
            profile=profile,
            zones=fit.zones,
            explanation=_explain(fields, profile),
            provenance=Provenance(
                model_id=MODEL_ID, grading_table=grading_table.id, fibervlm_version=__version__
            ),
            timings_ms={
                "geometry": round(1000 * (geometry_done - started), 2),
                "proposals": round(1000 * (proposals_done - geometry_done), 2),
                "grading": round(1000 * (time.perf_counter() - proposals_done), 2),
            },
            **fields,
        )


def classical_report(
    image: np.ndarray, *, profile: str, um_per_px: float | None = None, table: str | None = None
) -> EndfaceReport:
    """Geometry + defect proposals + IEC grade of one image, with default settings."""
    return ClassicalInspector()(image, profile=profile, um_per_px=um_per_px, table=table)


def inspect_paths(
    paths: Iterable[str | Path],
    *,
    profile: str,
    um_per_px: float | None = None,
    inspector: ClassicalInspector | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready result per path: the report, or `{"source", "status": "error", "error"}`.

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
        results.append({"source": source, "status": "ok", "report": report.model_dump(mode="json")})
    return results
