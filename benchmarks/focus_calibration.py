"""Where do `min_sharpness` and `min_geometry_confidence` come from? Synthetic faces of known blur.

    .venv/bin/python benchmarks/focus_calibration.py --n 8 --seed 11

Renders faces with `fibervlm.synth` at fixed Gaussian blur levels (`SynthConfig(blur_sigma_px=(s, s))`)
and fixed scales, fits their geometry and measures the cladding edge's sharpness
(`fibervlm.classical.focus`). In focus: blur σ ≤ 1.3 px (the renderer's own range) at 0.3–0.8 µm/px;
out of focus: σ ≥ 2.5 px. It prints the sharpness per blur and scale, the separation (lowest in-focus
against highest out-of-focus, also with heavy sensor noise, which must not make a blurred face look
sharp) and the same split measured in µm, which cannot separate them. Then the geometry confidence of
ordinary faces against faces whose fibre the fit cannot see well (cropped half out of frame: caught by
the cladding edge in view instead; buried in noise).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fibervlm.classical import ClassicalConfig, FibreNotFoundError, find_zones
from fibervlm.classical.focus import edge_sharpness
from fibervlm.classical.report import edge_in_view
from fibervlm.synth import SynthConfig, sample_endface

IN_FOCUS_PX = (0.5, 0.9, 1.3)
OUT_OF_FOCUS_PX = (2.5, 3.0, 4.0)
BETWEEN_PX = (1.8,)  # shown, not part of either set
SCALES_UM_PER_PX = (0.3, 0.55, 0.8)
HEAVY_NOISE = (0.04, 0.04)  # read noise, fraction of full scale: ~4× the renderer's worst


def _measure(seed: int, n: int, config: SynthConfig) -> list[tuple[float, float, float]]:
    """(sharpness, µm per px, geometry confidence) of `n` faces rendered with `config`."""
    out = []
    for index in range(n):
        image, _ = sample_endface(seed, index, config=config)
        try:
            fit = find_zones(image)
        except FibreNotFoundError:  # an error row, not a graded one: outside this calibration
            out.append((np.nan, np.nan, np.nan))
            continue
        sharpness = edge_sharpness(image, fit.zones)
        out.append((np.nan if sharpness is None else sharpness, fit.zones.um_per_px, fit.zones.confidence))
    return out


def _sweep(
    seed: int, n: int, noise: tuple[float, float] | None
) -> dict[float, list[tuple[float, float, float]]]:
    by_blur: dict[float, list[tuple[float, float, float]]] = {}
    for blur in (*IN_FOCUS_PX, *BETWEEN_PX, *OUT_OF_FOCUS_PX):
        rows = []
        for scale in SCALES_UM_PER_PX:
            extra = {"read_noise": noise} if noise else {}
            config = SynthConfig(blur_sigma_px=(blur, blur), um_per_px=(scale, scale), **extra)
            rows += _measure(seed, n, config)
        by_blur[blur] = rows
    return by_blur


def _print_sweep(
    title: str, by_blur: dict[float, list[tuple[float, float, float]]], n: int
) -> tuple[float, float]:
    print(f"\n{title}: sharpness (min / median / max over {n} faces per scale)")
    print("blur σ px | " + " | ".join(f"{s} µm/px" for s in SCALES_UM_PER_PX))
    for blur, rows in by_blur.items():
        cells = []
        for k in range(len(SCALES_UM_PER_PX)):
            values = np.array([r[0] for r in rows[k * n : (k + 1) * n]])
            cells.append(f"{np.nanmin(values):.3f} / {np.nanmedian(values):.3f} / {np.nanmax(values):.3f}")
        print(f"{blur:9.1f} | " + " | ".join(cells))
    lowest_in = min(np.nanmin([r[0] for r in by_blur[b]]) for b in IN_FOCUS_PX)
    highest_out = max(np.nanmax([r[0] for r in by_blur[b]]) for b in OUT_OF_FOCUS_PX)
    lost = sum(np.isnan(r[0]) for rows in by_blur.values() for r in rows)
    print(
        f"in focus (σ ≤ 1.3 px) lowest {lowest_in:.3f}; out of focus (σ ≥ 2.5 px) highest {highest_out:.3f}"
    )
    print(f"({lost} faces whose fibre the geometry did not find: error rows, not measured)")
    return float(lowest_in), float(highest_out)


def _in_um(by_blur: dict[float, list[tuple[float, float, float]]]) -> None:
    """The same edges as an equivalent blur in µm (0.4 / sharpness px × µm/px): the sets overlap."""

    def sigma_um(rows: list[tuple[float, float, float]]) -> np.ndarray:
        return np.array([0.4 / s * scale for s, scale, _ in rows if s > 0 and np.isfinite(s)])

    worst_in = max(sigma_um(by_blur[b]).max() for b in IN_FOCUS_PX)
    best_out = min(sigma_um(by_blur[b]).min() for b in OUT_OF_FOCUS_PX)
    print(
        f"measured in µm instead: in focus up to {worst_in:.2f} µm, out of focus from {best_out:.2f} µm "
        f"({'separable' if best_out > worst_in else 'overlap: a µm threshold cannot split them'})"
    )


def _geometry(seed: int, n: int, config: ClassicalConfig) -> None:
    ordinary = [find_zones(sample_endface(seed, i)[0]).zones.confidence for i in range(4 * n)]
    below = sum(c < config.min_geometry_confidence for c in ordinary)
    print(f"\ngeometry confidence, {len(ordinary)} ordinary synthetic faces (mixed blur, noise, scale):")
    print(
        f"  min {min(ordinary):.3f}  p5 {np.percentile(ordinary, 5):.3f}  median {np.median(ordinary):.3f}"
        f"  below {config.min_geometry_confidence}: {below}"
    )
    print("faces the fit cannot see well (confidence, or confidence/edge in view for the cropped ones):")
    poor: dict[str, list[str]] = {
        name: [] for name in ("cropped half out of frame", "read noise 0.15", "read noise 0.3")
    }
    for index in range(n):
        image, label = sample_endface(seed, index, config=SynthConfig(um_per_px=(0.6, 0.6)))
        cut = np.ascontiguousarray(image[:, : int(label.zones.center_px[0])])  # right half out of frame
        for name, picture in (
            ("cropped half out of frame", cut),
            ("read noise 0.15", sample_endface(seed, index, config=SynthConfig(read_noise=(0.15, 0.15)))[0]),
            ("read noise 0.3", sample_endface(seed, index, config=SynthConfig(read_noise=(0.3, 0.3)))[0]),
        ):
            try:
                zones = find_zones(picture).zones
            except FibreNotFoundError:
                poor[name].append("none")
                continue
            in_view = f"/{edge_in_view(zones, picture.shape):.2f}" if name.startswith("cropped") else ""
            poor[name].append(f"{zones.confidence:.2f}{in_view}")
    for name, values in poor.items():
        print(f"  {name}: {' '.join(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="faces per blur level and scale")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    default = ClassicalConfig()
    lowest_in, highest_out = _print_sweep("renderer noise", plain := _sweep(args.seed, args.n, None), args.n)
    noisy_in, noisy_out = _print_sweep(
        f"heavy read noise {HEAVY_NOISE[0]}", _sweep(args.seed, args.n, HEAVY_NOISE), args.n
    )
    _in_um(plain)
    low, high = min(lowest_in, noisy_in), max(highest_out, noisy_out)
    print(
        f"\nseparation: in focus ≥ {low:.3f}, out of focus ≤ {high:.3f}; threshold min_sharpness = "
        f"{default.min_sharpness} leaves margins {low - default.min_sharpness:+.3f} / "
        f"{default.min_sharpness - high:+.3f}"
    )
    _geometry(args.seed, args.n, default)
    elapsed_s = time.perf_counter() - started
    print(f"\nmin_geometry_confidence = {default.min_geometry_confidence}; {elapsed_s:.0f} s")


if __name__ == "__main__":
    main()
