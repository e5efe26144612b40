"""Draw a report over its image, for eyes: boxes, scratch lines, zone circles, the verdict.

python -m fibervlm.synth.annotate docs/samples     # re-renders the documentation samples
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fibervlm.grading import table_for_profile
from fibervlm.schemas import EndfaceReport
from fibervlm.synth.config import APPEARANCES, SynthConfig
from fibervlm.synth.dataset import encode_png
from fibervlm.synth.render import sample_endface

# BGR colours by severity; zone circles in a muted blue.
SEVERITY_BGR = {
    "low": (90, 200, 90),
    "medium": (60, 200, 230),
    "high": (40, 140, 255),
    "critical": (60, 60, 255),
}
ZONE_BGR = (200, 140, 60)


def annotate(image: np.ndarray, report: EndfaceReport) -> np.ndarray:
    """A BGR copy of `image` with the IEC zone circles, every defect and the verdict drawn on it."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    cx, cy = report.zones.center_px
    for zone in table_for_profile(report.profile).zones:
        radius_px = zone.outer_diameter_um / 2 / report.zones.um_per_px
        cv2.circle(canvas, (round(cx), round(cy)), round(radius_px), ZONE_BGR, 1, cv2.LINE_AA)
    for defect in report.defects:
        colour = SEVERITY_BGR[defect.severity]
        x, y, w, h = defect.bbox
        cv2.rectangle(canvas, (round(x), round(y)), (round(x + w), round(y + h)), colour, 1)
        if defect.line_px is not None:
            x1, y1, x2, y2 = defect.line_px
            cv2.line(canvas, (round(x1), round(y1)), (round(x2), round(y2)), colour, 1, cv2.LINE_AA)
        text = f"{defect.type} {defect.size_um:g}um {defect.zone}"
        cv2.putText(
            canvas, text, (round(x), max(10, round(y) - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.33, colour, 1
        )
    verdict = f"{report.profile} {report.pass_fail}" + (
        f" {report.failed_rule}" if report.failed_rule else ""
    )
    cv2.putText(canvas, verdict, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


# (name, seed, index): chosen to show every profile and defect type at a glance.
DOC_SAMPLES = (
    ("sm-pc-fail", 0, 28),
    ("sm-apc-contamination-chip", 0, 12),
    ("mm-pc-pass", 0, 59),
    ("sm-pc-chip-fail", 0, 15),
    ("sm-pc-clean", 0, 8),
)
# Smaller than the default frame so each PNG stays under ~150 KB (sensor noise does not compress).
DOC_CONFIG = SynthConfig(width_px=480, height_px=360, um_per_px=(0.4, 0.8), appearance="standard")
# One face (its seed, index) in every appearance, and out of focus: docs/samples/appearance-<name>.png.
APPEARANCE_SAMPLE = (0, 15)
DEFOCUS_SAMPLE_SIGMA_PX = 4.0


def write_doc_samples(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, seed, index in DOC_SAMPLES:
        image, report = sample_endface(seed, index, config=DOC_CONFIG)
        written.append(out / f"{name}.png")
        written[-1].write_bytes(encode_png(image))
    for name, seed, index in DOC_SAMPLES[1:2]:
        image, report = sample_endface(seed, index, config=DOC_CONFIG)
        # Lightly denoised and 6-bit for legibility and size; the plain sample is the real frame.
        legible = np.bitwise_and(cv2.GaussianBlur(image, (0, 0), 0.8), np.uint8(0xFC))
        written.append(out / f"{name}-annotated.png")
        written[-1].write_bytes(encode_png(annotate(legible, report)))
    return written + write_appearance_samples(out)


def write_appearance_samples(out: Path) -> list[Path]:
    """The same face in each appearance, plus the standard look defocused."""
    seed, index = APPEARANCE_SAMPLE
    variants: dict[str, dict[str, Any]] = {f"appearance-{name}": {"appearance": name} for name in APPEARANCES}
    variants["appearance-standard-defocused"] = {
        "appearance": "standard",
        "defocus_sigma_px": DEFOCUS_SAMPLE_SIGMA_PX,
    }
    written = []
    for name, change in variants.items():
        config = SynthConfig(**{**DOC_CONFIG.model_dump(), **change})
        image, _ = sample_endface(seed, index, config=config)
        written.append(out / f"{name}.png")
        written[-1].write_bytes(encode_png(image))
    return written


if __name__ == "__main__":
    for path in write_doc_samples(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/samples")):
        print(path, path.stat().st_size)
