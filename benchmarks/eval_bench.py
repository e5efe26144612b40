"""Time `evaluate` on a realistic set: synthetic gold labels and a simulated model's predictions.

    .venv/bin/python benchmarks/eval_bench.py --n-synth 100 --copies 20 --out /tmp/eval-bench

The simulated model misses 10% of defects, jitters boxes by ~10% of their size, misjudges 20% of
severities and sizes by ±1 µm, and writes raw text of which 5% is cut short (invalid JSON).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from fibervlm.eval import evaluate, read_jsonl, summary_line, write_report
from fibervlm.export import vlm_target
from fibervlm.grading import grade_report_fields
from fibervlm.schemas import SEVERITIES, EndfaceReport
from fibervlm.synth import write_dataset


def simulate(report: EndfaceReport, rng: random.Random) -> tuple[EndfaceReport, str]:
    defects = []
    for d in report.defects:
        if rng.random() < 0.1:
            continue
        x, y, w, h = d.bbox
        box = [max(0.0, x + rng.gauss(0, 0.1 * w)), max(0.0, y + rng.gauss(0, 0.1 * h)), w, h]
        severity = rng.choice(SEVERITIES) if rng.random() < 0.2 else d.severity
        size = max(0.0, d.size_um + rng.uniform(-1, 1))
        defects.append(
            d.model_copy(
                update={
                    "bbox": box,
                    "severity": severity,
                    "size_um": size,
                    "confidence": rng.random(),
                    "source": "vlm",
                }
            )
        )
    # the rules re-grade what the model found, as the pipeline does
    pred = report.model_copy(update=grade_report_fields(defects, report.zones, report.profile))
    raw = vlm_target(pred).model_dump_json()
    return pred, raw[: len(raw) // 2] if rng.random() < 0.05 else raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-synth", type=int, default=100)
    parser.add_argument("--copies", type=int, default=20, help="repeat the synthetic set (distinct ids)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(out=Path(tmp), n=args.n_synth, seed=0)
        labels = read_jsonl(Path(tmp) / "labels.jsonl")
    golds, preds = [], []
    for copy in range(args.copies):
        for row in labels:
            report = EndfaceReport.model_validate(row["report"])
            image_id = f"{row['image_id']}-{copy}"
            pred, raw = simulate(report, rng)
            golds.append({"image": row["image"], "image_id": image_id, "report": row["report"]})
            preds.append(
                {
                    "image": row["image"],
                    "image_id": image_id,
                    "report": pred.model_dump(mode="json"),
                    "raw": raw,
                }
            )
    n_defects = sum(len(g["report"]["defects"]) for g in golds)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = evaluate(preds, golds)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"{len(golds)} images, {n_defects} defects: evaluate {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU")
    print(summary_line(result))
    print(json.dumps({t: round(a.ap50_95, 3) for t, a in result.ap.per_type.items()}))
    if args.out:
        print(write_report(result, args.out))


if __name__ == "__main__":
    main()
