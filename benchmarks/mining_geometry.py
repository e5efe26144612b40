"""Where does mining's "uncertain geometry" bar come from? Geometry confidence of right and wrong fits.

    .venv/bin/python benchmarks/mining_geometry.py --n 120 --seed 31

Renders synthetic faces with exact geometry (the default mix of looks and camera frames, and the weekly
loop benchmark's 112 px faces, off-centre, every look), fits them with the classical stage
(`fibervlm.classical.find_zones`) and calls a fit right when its centre is within `--centre-px` pixels
of the truth and its cladding radius within `--radius-frac` of it. It prints, per set, the confidence of
the right and of the wrong fits (quantiles), and for each candidate bar how many wrong fits it would
flag and how many right ones. `min_geometry_confidence` (0.2) already makes a face `unsure`; mining's
bar (`MiningConfig.geometry_confidence_below`) should flag the doubtful fits above it and few right ones.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from fibervlm.classical import FibreNotFoundError, find_zones
from fibervlm.synth import SynthConfig, sample_endface

LOOP_FACES: dict[str, Any] = {  # benchmarks/loop.py's camera: 112 px, the whole cladding in view
    "width_px": 112,
    "height_px": 112,
    "um_per_px": [1.25, 1.35],
    "read_noise": [0.002, 0.004],
    "blur_sigma_px": [0.4, 0.6],
    "max_offset_frac": 0.05,
}
SETS: dict[str, dict[str, Any]] = {
    "default mix (looks, frames)": {},
    "loop faces (112 px, looks)": LOOP_FACES,
    "noisy (read noise 0.08-0.15)": {"read_noise": [0.08, 0.15]},
    "slightly defocused (blur 1.3-2.0 px)": {"blur_sigma_px": [1.3, 2.0]},
}
BARS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def fit_errors(seed: int, n: int, config: SynthConfig) -> list[tuple[float, float, float]]:
    """(confidence, centre error px, relative radius error) per face; NaN confidence: no fibre found."""
    rows = []
    for index in range(n):
        image, truth = sample_endface(seed, index, config=config)
        try:
            zones = find_zones(image).zones
        except FibreNotFoundError:
            rows.append((math.nan, math.inf, math.inf))
            continue
        centre_px = math.dist(zones.center_px, truth.zones.center_px)
        truth_radius_px = truth.zones.cladding_radius_px
        radius = abs(zones.cladding_radius_px - truth_radius_px) / truth_radius_px
        rows.append((zones.confidence, centre_px, radius))
    return rows


def quantiles(values: list[float]) -> str:
    if not values:
        return "none"
    q = np.quantile(values, [0, 0.1, 0.5, 0.9, 1])
    return f"n {len(values)}: min {q[0]:.2f} p10 {q[1]:.2f} median {q[2]:.2f} p90 {q[3]:.2f} max {q[4]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120, help="faces per set")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--centre-px", type=float, default=2.0, help="a right fit's largest centre error")
    parser.add_argument("--radius-frac", type=float, default=0.03, help="its largest relative radius error")
    args = parser.parse_args()
    for name, fields in SETS.items():
        rows = fit_errors(args.seed, args.n, SynthConfig.model_validate(fields))
        found = [r for r in rows if not math.isnan(r[0])]
        right = [c for c, e, r in found if e <= args.centre_px and r <= args.radius_frac]
        wrong = [c for c, e, r in found if not (e <= args.centre_px and r <= args.radius_frac)]
        print(f"## {name}: {len(rows)} faces, {len(rows) - len(found)} not found")
        print(f"right fits: {quantiles(right)}")
        print(f"wrong fits: {quantiles(wrong)}")
        print("| bar | wrong fits flagged | right fits flagged |")
        print("|---|---|---|")
        for bar in BARS:
            flagged_wrong = sum(c < bar for c in wrong)
            flagged_right = sum(c < bar for c in right)
            print(f"| < {bar} | {flagged_wrong}/{len(wrong)} | {flagged_right}/{len(right)} |")
        print()


if __name__ == "__main__":
    main()
