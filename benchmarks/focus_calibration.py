"""Where do `min_sharpness` and `min_geometry_confidence` come from? Synthetic faces of known blur.

    .venv/bin/python benchmarks/focus_calibration.py --n 4 --seed 11

Renders faces with `fibervlm.synth` at fixed Gaussian blur (`SynthConfig(blur_sigma_px=(s, s))`, so σ
is exact), fixed scales and each appearance, fits their geometry and measures the cladding edge's
sharpness (`fibervlm.classical.focus`). In focus: blur σ ≤ 1.3 px (the renderer's own range) at
0.3–0.8 µm/px; out of focus: σ ≥ 2.5 px. It prints, per appearance, the lowest in-focus and the
highest out-of-focus sharpness among the faces whose geometry is trusted (the others are `unsure` or
`error` whatever their focus), the same with heavy sensor noise (noise must not make a blurred face
look sharp), and the split measured in µm (which cannot separate them). Then the geometry confidence
of ordinary faces (mixed looks and camera frames) against faces the fit cannot see, and what the
renderer's own `defocus_sigma_px` option gives.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from fibervlm.classical import ClassicalConfig, ClassicalInspector, FibreNotFoundError, find_zones
from fibervlm.classical.focus import edge_sharpness
from fibervlm.classical.report import edge_in_view
from fibervlm.synth import APPEARANCES, SynthConfig, sample_endface

IN_FOCUS_PX = (0.5, 0.9, 1.3)
OUT_OF_FOCUS_PX = (2.5, 3.0, 4.0)
BLURS_PX = (*IN_FOCUS_PX, 1.8, *OUT_OF_FOCUS_PX)  # 1.8: between, shown, in neither set
SCALES_UM_PER_PX = (0.3, 0.55, 0.8)
HEAVY_NOISE = (0.04, 0.04)  # read noise, fraction of full scale: ~3× the renderer's worst

Face = tuple[float, float, float]  # (sharpness, µm per px, geometry confidence); NaN: no fibre found


def _measure(seed: int, n: int, config: SynthConfig) -> list[Face]:
    faces = []
    for index in range(n):
        image, _ = sample_endface(seed, index, config=config)
        try:
            zones = find_zones(image).zones
        except FibreNotFoundError:  # an error row: no verdict, outside this calibration
            faces.append((np.nan, np.nan, np.nan))
            continue
        sharpness = edge_sharpness(image, zones)
        faces.append((np.nan if sharpness is None else sharpness, zones.um_per_px, zones.confidence))
    return faces


def _sweep(seed: int, n: int, appearance: str, **extra: object) -> dict[float, list[Face]]:
    """Faces per blur σ (px), all scales together."""
    return {
        blur: [
            face
            for scale in SCALES_UM_PER_PX
            for face in _measure(
                seed,
                n,
                SynthConfig(
                    blur_sigma_px=(blur, blur), um_per_px=(scale, scale), appearance=appearance, **extra
                ),
            )
        ]
        for blur in BLURS_PX
    }


def _trusted(faces: list[Face], min_confidence: float) -> np.ndarray:
    return np.array([s for s, _, c in faces if c >= min_confidence and np.isfinite(s)])


def _split(by_blur: dict[float, list[Face]], min_confidence: float) -> tuple[float, float, int]:
    """(lowest in-focus, highest out-of-focus sharpness, faces left out: fit not found or doubtful)."""
    low = min(_trusted(by_blur[b], min_confidence).min(initial=np.inf) for b in IN_FOCUS_PX)
    high = max(_trusted(by_blur[b], min_confidence).max(initial=-np.inf) for b in OUT_OF_FOCUS_PX)
    left_out = sum(len(faces) - len(_trusted(faces, min_confidence)) for faces in by_blur.values())
    return float(low), float(high), left_out


def _print_table(by_blur: dict[float, list[Face]], n: int) -> None:
    print("blur σ px | " + " | ".join(f"{s} µm/px" for s in SCALES_UM_PER_PX) + "   (min / median / max)")
    for blur, faces in by_blur.items():
        cells = []
        for k in range(len(SCALES_UM_PER_PX)):
            values = np.array([f[0] for f in faces[k * n : (k + 1) * n]])
            values = values[np.isfinite(values)]
            cells.append(
                f"{values.min():.3f} / {np.median(values):.3f} / {values.max():.3f}" if len(values) else "-"
            )
        print(f"{blur:9.1f} | " + " | ".join(cells))


def _in_um(by_blur: dict[float, list[Face]]) -> str:
    """The same edges as an equivalent blur in µm (0.4 / sharpness px × µm/px): the sets overlap."""

    def sigma_um(faces: list[Face]) -> np.ndarray:
        return np.array([0.4 / s * scale for s, scale, _ in faces if np.isfinite(s) and s > 0])

    worst_in = max(sigma_um(by_blur[b]).max() for b in IN_FOCUS_PX)
    best_out = min(sigma_um(by_blur[b]).min() for b in OUT_OF_FOCUS_PX)
    verdict = "separable" if best_out > worst_in else "overlap: no µm threshold splits them"
    return f"in µm instead: in focus up to {worst_in:.2f} µm, out of focus from {best_out:.2f} µm ({verdict})"


def _focus(seed: int, n: int, config: ClassicalConfig) -> None:
    confident = config.min_geometry_confidence
    lows, highs = [], []
    for appearance in APPEARANCES:
        by_blur = _sweep(seed, n, appearance)
        if appearance == "standard":
            print(f"\nstandard look, sharpness over {n} faces per scale:")
            _print_table(by_blur, n)
            print(_in_um(by_blur))
            print("\nper look (faces with a trusted geometry): lowest in focus | highest out of focus")
        for label, sweep in ((appearance, by_blur), (f"{appearance} + noise", None)):
            if sweep is None:
                if appearance not in ("standard", "camera"):
                    continue
                sweep = _sweep(seed, n, appearance, read_noise=HEAVY_NOISE)
            low, high, left_out = _split(sweep, confident)
            lows.append(low)
            highs.append(high)
            print(
                f"  {label:24s} {low:.3f} | {high:.3f}   "
                f"({left_out} of {len(BLURS_PX) * len(SCALES_UM_PER_PX) * n} left out: no fit or doubtful)"
            )
    low, high = min(lows), max(highs)
    print(
        f"\nseparation: in focus ≥ {low:.3f}, out of focus ≤ {high:.3f}; "
        f"min_sharpness = {config.min_sharpness} "
        f"leaves margins {low - config.min_sharpness:+.3f} / {config.min_sharpness - high:+.3f}"
    )


def _geometry(seed: int, n: int, config: ClassicalConfig) -> None:
    ordinary = []
    for index in range(10 * n):  # the renderer's defaults: mixed looks, frames, blur, noise
        try:
            ordinary.append(find_zones(sample_endface(seed, index)[0]).zones.confidence)
        except FibreNotFoundError:
            ordinary.append(np.nan)
    found = np.array([c for c in ordinary if np.isfinite(c)])
    below = int((found < config.min_geometry_confidence).sum())
    print(
        f"\ngeometry confidence, {len(ordinary)} ordinary faces (mixed looks and frames), {len(found)} found:"
    )
    print(
        f"  min {found.min():.3f}  p5 {np.percentile(found, 5):.3f}  median {np.median(found):.3f}  "
        f"below {config.min_geometry_confidence}: {below}"
    )
    print("faces the fit cannot see well (confidence; for the cropped ones confidence/edge in view):")
    cases = {
        "cropped half out of frame": lambda i: sample_endface(
            seed, i, config=SynthConfig(um_per_px=(0.6, 0.6))
        ),
        "dark-cladding look": lambda i: sample_endface(
            seed, i, config=SynthConfig(appearance="dark-cladding")
        ),
        "read noise 0.15": lambda i: sample_endface(seed, i, config=SynthConfig(read_noise=(0.15, 0.15))),
    }
    for name, render in cases.items():
        values = []
        for index in range(n):
            image, label = render(index)
            if name.startswith("cropped"):
                image = np.ascontiguousarray(image[:, : int(label.zones.center_px[0])])
            try:
                zones = find_zones(image).zones
            except FibreNotFoundError:
                values.append("none")
                continue
            in_view = f"/{edge_in_view(zones, image.shape):.2f}" if name.startswith("cropped") else ""
            values.append(f"{zones.confidence:.2f}{in_view}")
        print(f"  {name}: {' '.join(values)}")


def _defocus_option(seed: int, n: int) -> None:
    """The renderer's own defocus on its default mix: what the inspector says."""
    inspector = ClassicalInspector()
    for defocus_px in (0.0, 2.5):
        outcomes: Counter[str] = Counter()
        for index in range(2 * n):
            image, _ = sample_endface(seed, index, config=SynthConfig(defocus_sigma_px=defocus_px))
            try:
                report = inspector(image)
            except FibreNotFoundError:
                outcomes["error"] += 1
                continue
            outcomes[report.status if report.status == "ok" else report.unsure_reason.split(":")[0]] += 1
        print(f"  defocus_sigma_px={defocus_px}: {dict(outcomes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="faces per blur level, scale and look")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    config = ClassicalConfig()
    _focus(args.seed, args.n, config)
    _geometry(args.seed, args.n, config)
    print(f"min_geometry_confidence = {config.min_geometry_confidence}")
    print("\nthe renderer's defocus option, default mix, classical inspector outcomes:")
    _defocus_option(args.seed, args.n)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
