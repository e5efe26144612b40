"""How good is the classical stage? Graded against synthetic end faces with exact truth.

    .venv/bin/python benchmarks/classical_synth_eval.py --n 500 --seed 2026

Renders a fixed set (profiles cycled sm-pc, sm-apc, mm-pc; `sample_endface(seed, i)`), runs
`ClassicalInspector` on each image and reports: centre and radius error (px, median and p95), defect
recall and precision per type at IoU ≥ 0.3 (fibervlm.eval's greedy matching), size error (µm) on the
matches, and PASS/FAIL accuracy against the labels' IEC verdict (with the dangerous direction apart:
a FAIL face passed). `--json PATH` also writes the numbers; `--show-misses` lists the wrong verdicts.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from fibervlm.classical import ClassicalInspector, FibreNotFoundError
from fibervlm.eval.matching import match_defects
from fibervlm.schemas import DEFECT_TYPES, LINEAR_TYPES, EndfaceReport
from fibervlm.synth import PROFILES, sample_endface


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    array = np.asarray(values, dtype=float)
    return {"n": len(array), "median": float(np.median(array)), "p95": float(np.percentile(array, 95))}


def _evaluate(n: int, seed: int, iou: float, show_misses: bool) -> dict:
    inspector = ClassicalInspector()
    centre_err, radius_err, core_err, scale_err_pct, times_ms = [], [], [], [], []
    tp, fp, fn = defaultdict(int), defaultdict(int), defaultdict(int)
    size_err: dict[str, list[float]] = defaultdict(list)
    size_bias: dict[str, list[float]] = defaultdict(list)
    any_type_tp = any_type_gold = 0
    verdicts = {"correct": 0, "fail_as_pass": 0, "pass_as_fail": 0, "no_fibre": 0}
    per_profile: dict[str, list[bool]] = defaultdict(list)
    for i in range(n):
        profile = PROFILES[i % len(PROFILES)]
        image, label = sample_endface(seed, i, profile=profile)
        started = time.perf_counter()
        try:
            report: EndfaceReport = inspector(image, profile=profile)
        except FibreNotFoundError as error:
            verdicts["no_fibre"] += 1
            per_profile[profile].append(False)
            if show_misses:
                print(f"  #{i} {profile}: no fibre found ({error})")
            continue
        times_ms.append(1000 * (time.perf_counter() - started))
        gold, pred = label.zones, report.zones
        centre_err.append(float(np.hypot(*np.subtract(pred.center_px, gold.center_px))))
        radius_err.append(abs(pred.cladding_radius_px - gold.cladding_radius_px))
        core_err.append(abs(pred.core_radius_px - gold.core_radius_px))
        scale_err_pct.append(100 * abs(pred.um_per_px / gold.um_per_px - 1))
        result = match_defects(report.defects, label.defects, iou_threshold=iou, by_type=True)
        for m in result.matches:
            kind = label.defects[m.gold].type
            tp[kind] += 1
            delta = report.defects[m.pred].size_um - label.defects[m.gold].size_um
            size_err[kind].append(abs(delta))
            size_bias[kind].append(delta)
        for p in result.unmatched_preds:
            fp[report.defects[p].type] += 1
        for g in result.unmatched_golds:
            fn[label.defects[g].type] += 1
        loose = match_defects(report.defects, label.defects, iou_threshold=iou, by_type=False)
        any_type_tp += len(loose.matches)
        any_type_gold += len(label.defects)
        right = report.pass_fail == label.pass_fail
        per_profile[profile].append(right)
        if right:
            verdicts["correct"] += 1
        else:
            verdicts["fail_as_pass" if label.pass_fail == "FAIL" else "pass_as_fail"] += 1
            if show_misses:
                print(
                    f"  #{i} {profile}: truth {label.pass_fail} ({label.failed_rule}), "
                    f"got {report.pass_fail} "
                    f"({report.failed_rule})"
                )
    per_type = {}
    for kind in DEFECT_TYPES:
        golds, preds = tp[kind] + fn[kind], tp[kind] + fp[kind]
        per_type[kind] = {
            "gold": golds,
            "pred": preds,
            "recall": tp[kind] / golds if golds else None,
            "precision": tp[kind] / preds if preds else None,
            "size_abs_err_um": _stats(size_err[kind]),
            "size_bias_um": float(np.median(size_bias[kind])) if size_bias[kind] else None,
            "judged_by": "width" if kind in LINEAR_TYPES else "diameter",
        }
    return {
        "n_images": n,
        "seed": seed,
        "iou_threshold": iou,
        "pass_fail_accuracy": verdicts["correct"] / n,
        "verdicts": verdicts,
        "accuracy_per_profile": {p: float(np.mean(v)) for p, v in per_profile.items()},
        "centre_err_px": _stats(centre_err),
        "cladding_radius_err_px": _stats(radius_err),
        "core_radius_err_px": _stats(core_err),
        "um_per_px_err_pct": _stats(scale_err_pct),
        "defects": per_type,
        "any_type_recall": any_type_tp / any_type_gold if any_type_gold else None,
        "ms_per_image": _stats(times_ms),
    }


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


def _print(summary: dict) -> None:
    print(f"classical stage on {summary['n_images']} synthetic faces (seed {summary['seed']})")
    print(
        f"PASS/FAIL accuracy {summary['pass_fail_accuracy']:.3f}  {summary['verdicts']}  "
        f"per profile {json.dumps({k: round(v, 3) for k, v in summary['accuracy_per_profile'].items()})}"
    )
    for key in (
        "centre_err_px",
        "cladding_radius_err_px",
        "core_radius_err_px",
        "um_per_px_err_pct",
        "ms_per_image",
    ):
        s = summary[key]
        print(
            f"{key:24s} median {_fmt(s.get('median'), '{:.3f}')}  "
            f"p95 {_fmt(s.get('p95'), '{:.3f}')}  (n={s['n']})"
        )
    print(
        f"defects at IoU ≥ {summary['iou_threshold']}: "
        f"any-type recall {_fmt(summary['any_type_recall'], '{:.3f}')}"
    )
    print(
        f"{'type':14s} {'gold':>5s} {'pred':>5s} {'recall':>7s} {'prec.':>7s} {'|size err| med':>15s} "
        f"{'p95':>6s} {'bias':>6s}"
    )
    for kind, row in summary["defects"].items():
        size = row["size_abs_err_um"]
        print(
            f"{kind:14s} {row['gold']:5d} {row['pred']:5d} "
            f"{_fmt(row['recall']):>7s} {_fmt(row['precision']):>7s} "
            f"{_fmt(size.get('median')):>15s} {_fmt(size.get('p95')):>6s} {_fmt(row['size_bias_um']):>6s}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=500, help="number of synthetic faces")
    parser.add_argument("--seed", type=int, default=2026, help="data set seed")
    parser.add_argument("--iou", type=float, default=0.3, help="IoU a match needs")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--show-misses", action="store_true", help="list every wrong verdict")
    args = parser.parse_args()
    summary = _evaluate(args.n, args.seed, args.iou, args.show_misses)
    _print(summary)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)


if __name__ == "__main__":
    main()
