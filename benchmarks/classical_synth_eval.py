"""How good is the classical stage? Graded against synthetic end faces with exact truth.

    .venv/bin/python benchmarks/classical_synth_eval.py --n 500 [--appearance mixed] [--frame mixed]

Renders a fixed set (profiles cycled sm-pc, sm-apc, mm-pc; `sample_face(seed, i)`, microscope looks
and frame sizes mixed unless pinned), runs `ClassicalInspector` on each image and reports: centre and
radius error (px), defect recall and precision per type at IoU ≥ 0.3 (fibervlm.eval's greedy
matching, types must agree), size error (µm) on the matches, PASS/FAIL accuracy against the labels'
IEC verdict (a FAIL face passed counted apart: the dangerous direction), and all of it per look and
per frame. `--json PATH` also writes the numbers; `--show-misses` lists the wrong verdicts.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from fibervlm.classical import ClassicalInspector, FibreNotFoundError
from fibervlm.eval.matching import match_defects
from fibervlm.schemas import DEFECT_TYPES, LINEAR_TYPES
from fibervlm.synth import PROFILES, SynthConfig, sample_face


@dataclass
class Tally:
    """Counts for one group of faces (all, one look, one frame)."""

    faces: int = 0
    right: int = 0
    fail_as_pass: int = 0
    pass_as_fail: int = 0
    no_fibre: int = 0
    unsure: int = 0  # read but not graded (out of focus, doubtful geometry): neither right nor wrong
    tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fn: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def recall(self, kind: str) -> float | None:
        gold = self.tp[kind] + self.fn[kind]
        return self.tp[kind] / gold if gold else None

    def precision(self, kind: str) -> float | None:
        pred = self.tp[kind] + self.fp[kind]
        return self.tp[kind] / pred if pred else None

    def summary(self) -> dict:
        return {
            "faces": self.faces,
            "pass_fail_accuracy": self.right / graded if (graded := self.faces - self.unsure) else None,
            "fail_as_pass": self.fail_as_pass,
            "pass_as_fail": self.pass_as_fail,
            "no_fibre": self.no_fibre,
            "unsure": self.unsure,
            "recall": {k: self.recall(k) for k in DEFECT_TYPES},
            "precision": {k: self.precision(k) for k in DEFECT_TYPES},
        }


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    array = np.asarray(values, dtype=float)
    return {"n": len(array), "median": float(np.median(array)), "p95": float(np.percentile(array, 95))}


def _evaluate(n: int, seed: int, iou: float, config: SynthConfig, show_misses: bool) -> dict:
    inspector = ClassicalInspector()
    total = Tally()
    groups: dict[str, Tally] = defaultdict(Tally)
    centre_err, radius_err, times_ms = [], [], []
    size_err: dict[str, list[float]] = defaultdict(list)
    size_bias: dict[str, list[float]] = defaultdict(list)
    for i in range(n):
        profile = PROFILES[i % len(PROFILES)]
        face = sample_face(seed, i, profile=profile, config=config)
        label = face.report
        tallies = [total, groups[f"look {face.appearance}"], groups[f"frame {face.frame}"]]
        for tally in tallies:
            tally.faces += 1
        started = time.perf_counter()
        try:
            report = inspector(face.image, profile=profile)
        except FibreNotFoundError as error:
            for tally in tallies:
                tally.no_fibre += 1
            if show_misses:
                print(f"  #{i} {profile} {face.appearance} {face.frame}: no fibre found ({error})")
            continue
        times_ms.append(1000 * (time.perf_counter() - started))
        if report.status == "unsure":
            for tally in tallies:
                tally.unsure += 1
            if show_misses:
                print(f"  #{i} {profile} {face.appearance} {face.frame}: unsure ({report.unsure_reason})")
            continue
        centre_err.append(float(np.hypot(*np.subtract(report.zones.center_px, label.zones.center_px))))
        radius_err.append(abs(report.zones.cladding_radius_px - label.zones.cladding_radius_px))
        result = match_defects(report.defects, label.defects, iou_threshold=iou, by_type=True)
        for m in result.matches:
            kind = label.defects[m.gold].type
            delta = report.defects[m.pred].size_um - label.defects[m.gold].size_um
            size_err[kind].append(abs(delta))
            size_bias[kind].append(delta)
        right = report.pass_fail == label.pass_fail
        for tally in tallies:
            for m in result.matches:
                tally.tp[label.defects[m.gold].type] += 1
            for p in result.unmatched_preds:
                tally.fp[report.defects[p].type] += 1
            for g in result.unmatched_golds:
                tally.fn[label.defects[g].type] += 1
            tally.right += right
            if not right:
                tally.fail_as_pass += label.pass_fail == "FAIL"
                tally.pass_as_fail += label.pass_fail == "PASS"
        if show_misses and not right:
            print(
                f"  #{i} {profile} {face.appearance} {face.frame}: truth {label.pass_fail} "
                f"({label.failed_rule}), got {report.pass_fail} ({report.failed_rule})"
            )
    return {
        "n_images": n,
        "seed": seed,
        "iou_threshold": iou,
        "all": total.summary(),
        "groups": {name: tally.summary() for name, tally in sorted(groups.items())},
        "centre_err_px": _stats(centre_err),
        "cladding_radius_err_px": _stats(radius_err),
        "size_abs_err_um": {k: _stats(v) for k, v in size_err.items()},
        "size_bias_um": {k: float(np.median(v)) for k, v in size_bias.items()},
        "ms_per_image": _stats(times_ms),
    }


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


def _print(summary: dict) -> None:
    every = summary["all"]
    print(f"classical stage on {summary['n_images']} synthetic faces (seed {summary['seed']})")
    print(
        f"PASS/FAIL accuracy {_fmt(every['pass_fail_accuracy'], '{:.3f}')}  "
        f"(FAIL passed {every['fail_as_pass']}, PASS failed {every['pass_as_fail']}, "
        f"no fibre {every['no_fibre']}, unsure {every['unsure']} of {every['faces']}: not graded, "
        "left out of the accuracy)"
    )
    for key in ("centre_err_px", "cladding_radius_err_px", "ms_per_image"):
        s = summary[key]
        print(f"{key:24s} median {_fmt(s.get('median'), '{:.3f}')}  p95 {_fmt(s.get('p95'), '{:.3f}')}")
    print(f"{'type':14s} {'recall':>7s} {'prec.':>7s} {'|size err| med':>15s} {'bias':>6s}  (judged by)")
    for kind in DEFECT_TYPES:
        size = summary["size_abs_err_um"].get(kind, {})
        print(
            f"{kind:14s} {_fmt(every['recall'][kind]):>7s} {_fmt(every['precision'][kind]):>7s} "
            f"{_fmt(size.get('median')):>15s} {_fmt(summary['size_bias_um'].get(kind)):>6s}  "
            f"({'width' if kind in LINEAR_TYPES else 'diameter'})"
        )
    print(
        f"\n{'group':22s} {'faces':>5s} {'P/F acc':>8s} {'no fibre':>9s} {'unsure':>7s} "
        + " ".join(f"{k[:7]:>7s}" for k in DEFECT_TYPES)
    )
    for name, group in summary["groups"].items():
        recalls = " ".join(f"{_fmt(group['recall'][k]):>7s}" for k in DEFECT_TYPES)
        print(
            f"{name:22s} {group['faces']:5d} {_fmt(group['pass_fail_accuracy'], '{:.3f}'):>8s} "
            f"{group['no_fibre']:9d} {group['unsure']:7d} {recalls}"
        )
    print("(per-group columns after 'unsure' are recall per defect type)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=500, help="number of synthetic faces")
    parser.add_argument("--seed", type=int, default=2026, help="data set seed")
    parser.add_argument("--iou", type=float, default=0.3, help="IoU a match needs")
    parser.add_argument("--appearance", default="mixed", help="a microscope look, or mixed")
    parser.add_argument("--frame", default="mixed", help="a frame size, or mixed")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--show-misses", action="store_true", help="list every wrong verdict")
    args = parser.parse_args()
    config = SynthConfig(appearance=args.appearance, frame=args.frame)
    summary = _evaluate(args.n, args.seed, args.iou, config, args.show_misses)
    _print(summary)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)


if __name__ == "__main__":
    main()
