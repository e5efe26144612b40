"""Does the weekly loop learn? Three rounds from the shipped demo VLM on a shifted synthetic fleet,
mined against random selection at the same budget, side by side in the same run.

    nice -n 15 .venv/bin/python benchmarks/loop.py [--out /tmp/fibervlm-loop] [--fleet 80] [--budget 24]

The fleet is shifted from the demo model's training faces (centred SM-PC in the standard look, 1-2 big
digs or particles): mostly the microscope looks it never saw (`fibervlm/synth/appearance.py`: camera
photos, halo, dark cladding, epoxy ring), SM-APC and MM-PC faces, off-centre fibres, contamination and
scratches, more clean faces. Measured before choosing it (`--diagnose` prints it again): on the standard
look alone the same profiles, offsets and defects leave the demo model at 0.95 PASS/FAIL (its verdict
hangs on "a big dark blob or not", which these profiles do not change), while the new looks make it call
clean faces FAIL; a ridge probe on the frozen vision tower's tokens reads PASS/FAIL of camera-look faces at
chance, so the rounds' LoRA also adapts the vision tower (`VISION_LORA`). Each round is a new day of faces:
the arm's BEST runs the real backfill over it (Ray Data, classical geometry → constrained VLM → IEC grade;
the VLM asked as it was trained, without the stage-1 line), then
`run_retrain` mines K faces (`mined`) or draws K at random (`random`), the SIMULATED reviewer answers from
synthetic truth, a LoRA is trained from the arm's BEST on Ray Train and gated on a fixed shifted hold-out.
Pseudo-labels are off in both arms so the comparison is about selection only; both replay the same sample
of the demo's own kind of faces. Finally a candidate trained on shuffled labels must be refused, and a
model host (what a Serve replica wraps) must follow every promotion without a restart.
Writes `<out>/loop.json` and prints the round table as Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FACE = {  # the demo's camera: 112 px, the whole cladding in view
    "width_px": 112,
    "height_px": 112,
    "um_per_px": [1.25, 1.35],
    "read_noise": [0.002, 0.004],
    "blur_sigma_px": [0.4, 0.6],
    "vignetting": [0.1, 0.15],
    "gradient": [0.0, 0.03],
    "smear_fraction": 0.0,
    "defects_per_face": [1, 2],
    "zone_weights": {"A": 0.3, "B": 0.7},
}
BIG = {"dig_diameter_um": [8.0, 16.0], "dig_diameter_outer_um": [8.0, 16.0]}
SHIFTED = {
    **FACE,
    "max_offset_frac": 0.05,
    "appearance": "mixed",
    "appearance_weights": {
        "camera": 0.35,
        "halo": 0.25,
        "dark-cladding": 0.25,
        "epoxy-ring": 0.1,
        "standard": 0.05,
    },
    "profile_weights": {"sm-apc": 0.4, "mm-pc": 0.4, "sm-pc": 0.2},
    "clean_fraction": 0.45,
    "type_weights": {"dig": 0.3, "contamination": 0.4, "scratch": 0.3},
    "sizes": {
        **BIG,
        "particle_diameter_um": [12.0, 20.0],
        "particle_diameter_outer_um": [12.0, 20.0],
        "scratch_width_um": [2.0, 6.0],
    },
}
DEMO_KIND = {  # configs/train/tiny-demo.yaml's faces: replayed against forgetting
    **FACE,
    "appearance": "standard",
    "max_offset_frac": 0.0,
    "profile_weights": {"sm-pc": 1.0},
    "clean_fraction": 0.5,
    "type_weights": {"dig": 0.5, "contamination": 0.5},
    "sizes": {
        "dig_diameter_um": [10.0, 16.0],
        "dig_diameter_outer_um": [10.0, 16.0],
        "particle_diameter_um": [12.0, 20.0],
        "particle_diameter_outer_um": [12.0, 20.0],
    },
}
TRAIN = {
    "strategy": "ddp",
    "num_workers": 2,
    "cpus_per_worker": 1,
    "epochs": 12,
    "micro_batch_size": 8,
    "learning_rate": 0.01,
    "warmup_steps": 4,
    "max_length": 640,
    "report_every_steps": 1000,
    "eval_batch_size": 16,
    "lora": {"rank": 16, "alpha": 32, "dropout": 0.0, "target_modules": None},
}
# LoRA on the language model's attention AND on the vision tower's blocks and merger: the shift is in how
# faces look, and the frozen tower's tokens do not carry PASS/FAIL of camera-look faces (see the docstring).
# One try on 72 shifted faces + 30 replayed (hold-out PASS/FAIL from 0.683): the language model alone 0.733,
# with the tower at a tenth of the rate 0.800.
VISION_LORA = (
    r".*(language_model.*\.(q_proj|k_proj|v_proj|o_proj)|visual\.blocks.*\.(qkv|proj|fc1|fc2)"
    r"|visual\.merger\.mlp\.(0|2))"
)
METRICS = ("pass_fail_accuracy", "defect_count_accuracy", "defect_f1", "map50")
START = dt.date(2026, 11, 23)


def render(out: Path, *, n: int, seed: int, kind: dict[str, Any], date: str, fmt: str = "images") -> Path:
    """Faces with their truth; the fleet as Parquet shards, whose `profile` column the backfill grades by."""
    from fibervlm.synth import SynthConfig, write_dataset

    if not (out / "labels.jsonl").is_file():
        config = SynthConfig.model_validate(kind)
        write_dataset(out=out, n=n, seed=seed, fmt=fmt, shards=max(1, n // 32), date=date, config=config)
    return out


def backfill(shards: Path, output: Path, *, date: str, model: str, adapter: str | None) -> None:
    """The real backfill (Ray Data) over one day of the fleet, with the arm's BEST as the VLM."""
    from fibervlm.inspector import VlmSettings
    from fibervlm.pipeline.backfill import run_backfill
    from fibervlm.pipeline.demo import demo_config

    config = demo_config(str(shards), output, date=date, vlm=True)
    # asked as the demo model and every round's LoRA were trained and are evaluated: image + instruction only
    vlm = VlmSettings(model=model, adapter=adapter, stage1_context=False)
    config.inspector = config.inspector.model_copy(update={"vlm": vlm})
    config.overwrite = True
    run_backfill(config)


def arm_config(
    out: Path, arm: str, day: dt.date, budget: int, *, vision_lora: bool = True, **changes: Any
) -> Any:
    from fibervlm.mining import MiningConfig
    from fibervlm.paths import demo_vlm
    from fibervlm.retrain import GateSettings, RetrainConfig, ReviewSettings, SnapshotSettings

    fields: dict[str, Any] = {
        "backfill": str(out / arm / "backfill"),
        "as_of": day,
        "window_days": 1,
        "mining": MiningConfig(budget=budget, strategy=arm, seed=day.toordinal()),
        "review": ReviewSettings(
            queue_root=str(out / arm / "queues"),
            labels_root=str(out / arm / "labels"),
            simulated_truth=str(out / "fleet"),
        ),
        # every earlier round replayed whole: a refused round restarts from the same BEST, and at 0.5 a run
        # (PASS/FAIL 0.683 -> at best 0.750) trained each round on about half of what reviewers had labelled
        "snapshot": SnapshotSettings(
            pseudo_labels=False, label_repeats=2, replay_fraction=1.0, base_labels=str(out / "demo-kind")
        ),
        "holdout": str(out / "holdout" / "labels.jsonl"),
        "registry_root": str(out / arm / "registry"),
        "bootstrap_model": demo_vlm(),
        # primary: PASS/FAIL accuracy; no profile's PASS/FAIL nor class's defect F1 may drop by > 0.1
        "gate": GateSettings(metric="pass_fail_accuracy", margin=0.0, tolerance=0.1, min_group_size=10),
        "train": {
            **TRAIN,
            "lora": {**TRAIN["lora"], "target_modules": VISION_LORA if vision_lora else None},
            # the tower's adapters at a tenth of the rate: at the full 0.01 they wrecked it (72 faces:
            # PASS/FAIL 0.55, against 0.73 for the language model alone and 0.80 at a tenth)
            "vision_lr_scale": 0.1,
            "storage_path": str(out / "ray"),
        },
        "work_dir": str(out / arm / "work"),
    }
    return RetrainConfig(**{**fields, **changes})


def best_model(config: Any) -> tuple[str, str | None, str]:
    """(model, adapter, cache key) of the arm's BEST; the key is `demo` while BEST is the shipped model."""
    from fibervlm.registry import show
    from fibervlm.retrain.job import ensure_best, model_of

    ensure_best(config)
    info = show(config.registry_root, config.task)
    model, adapter = model_of(info)
    return model, adapter, "demo" if info.manifest.get("method") == "bootstrap" else info.version


def run_round(
    out: Path, arm: str, index: int, budget: int, cache: dict[str, Path], *, vision_lora: bool
) -> dict[str, Any]:
    from fibervlm.retrain import run_retrain

    day = START + dt.timedelta(days=7 * index)
    config = arm_config(out, arm, day, budget, vision_lora=vision_lora)
    model, adapter, version = best_model(config)
    partition = out / arm / "backfill" / f"date={day}"
    key = f"{day}/{version}"
    started = time.perf_counter()
    if key in cache:  # the other arm already ran this BEST over this day
        shutil.rmtree(partition, ignore_errors=True)
        shutil.copytree(cache[key], partition)
    else:
        backfill(
            out / "fleet" / f"day-{index}",
            out / arm / "backfill",
            date=str(day),
            model=model,
            adapter=adapter,
        )
        cache[key] = partition
    backfill_s = time.perf_counter() - started
    summary = run_retrain(config)
    summary["timings_s"]["backfill"] = round(backfill_s, 1)
    summary["picks"] = pick_stats(out, index, partition, summary["queue"]["uri"])
    return summary


def truth_of(out: Path, index: int) -> dict[str, str]:
    """image_id → the IEC verdict of that day's synthetic truth."""
    lines = (out / "fleet" / f"day-{index}" / "labels.jsonl").read_text().splitlines()
    return {r["image_id"]: r["report"]["pass_fail"] for r in map(json.loads, lines)}


def pick_stats(out: Path, index: int, partition: Path, queue_uri: str) -> dict[str, Any]:
    """What the arm picked against what its BEST got wrong that day (the VLM's verdict against the truth),
    and how the VLM's own confidence (`vlm_confidence`) tells its right answers from its wrong ones."""
    import pyarrow.parquet as pq

    truth = truth_of(out, index)
    rows = [r for f in sorted(partition.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    wrong, confidence = {}, {}
    for r in rows:
        vlm = json.loads(r["report"]).get("vlm") if r["report"] else None
        if vlm and r["image_id"] in truth:
            wrong[r["image_id"]] = vlm["pass_fail"] != truth[r["image_id"]]
            confidence[r["image_id"]] = r.get("vlm_confidence")
    manifest = json.loads((Path(queue_uri) / "manifest.json").read_text())
    picked = [t["image_id"] for t in manifest["tasks"]]
    reasons: dict[str, int] = {}
    for t in manifest["tasks"]:
        for reason in t["reasons"]:
            reasons[reason] = reasons.get(reason, 0) + 1
    band = [i for i, c in confidence.items() if c is not None and 0.3 <= c <= 0.6]
    sure = [i for i, c in confidence.items() if c is not None and c > 0.6]
    return {
        "fleet_vlm_wrong": sum(wrong.values()),
        "fleet_answered": len(wrong),
        "picked": len(picked),
        "picked_vlm_wrong": sum(wrong.get(i, False) for i in picked),
        "picked_by_reason": reasons,
        "vlm_wrong_in_band": f"{sum(wrong[i] for i in band)}/{len(band)}",
        "vlm_wrong_above_band": f"{sum(wrong[i] for i in sure)}/{len(sure)}",
    }


def seed_registries(out: Path, budget: int) -> None:
    """Both arms start from the same BEST: the demo model, evaluated on the hold-out once."""
    from fibervlm.paths import demo_vlm
    from fibervlm.registry import best_version, promote, publish
    from fibervlm.retrain.job import ensure_best

    info = ensure_best(arm_config(out, "mined", START, budget))
    root = str(out / "random" / "registry")
    if best_version(root, "endface") is None:
        manifest = {k: info.manifest.get(k) for k in ("base_model", "method", "data_snapshot")}
        version = publish(root, "endface", metrics=info.metrics, manifest=manifest, source_dir=demo_vlm())
        promote(root, "endface", version, force=True)


def sabotage(out: Path, budget: int, *, vision_lora: bool) -> dict[str, Any]:
    """A candidate trained on shuffled labels from the mined arm's BEST: it must be refused."""
    from fibervlm.retrain import run_retrain

    day = START + dt.timedelta(days=21)
    config = arm_config(
        out,
        "mined",
        day,
        budget,
        vision_lora=vision_lora,
        shuffle_labels=True,
        round_name="sabotage-shuffled",
    )
    return run_retrain(config)


def row(arm: str, index: int, summary: dict[str, Any], promoted: int) -> dict[str, Any]:
    candidate = summary.get("candidate_metrics") or {}
    best = summary.get("best_metrics") or {}
    return {
        "round": index + 1,
        "arm": arm,
        **{f"candidate_{m}": candidate.get(m) for m in METRICS},
        **{f"best_before_{m}": best.get(m) for m in METRICS},
        "promoted": bool((summary.get("decision") or {}).get("promoted")),
        "promoted_so_far": promoted,
        "reasons": (summary.get("decision") or {}).get("reasons"),
        "queue": summary.get("queue"),
        "picks": summary.get("picks"),
        "timings_s": summary.get("timings_s"),
    }


def served_metrics(out: Path, arm: str) -> dict[str, Any]:
    """The arm's BEST after the rounds, as the registry holds it (what Serve serves)."""
    from fibervlm.registry import show

    info = show(str(out / arm / "registry"), "endface")
    return {"version": info.version, **{m: info.metrics.get(m) for m in METRICS}}


def diagnose(out: Path, n: int) -> dict[str, Any]:
    """The shipped demo VLM on the shifted hold-out, per look, against the SAME faces in the standard look
    (a look never moves the truth): is the round-0 model weak on the shift, and is it the look?"""
    from fibervlm.paths import demo_vlm
    from fibervlm.schemas import ZoneGeometry
    from fibervlm.train.data import load_image
    from fibervlm.train.holdout import read_labels
    from fibervlm.vlm import VlmPredictor

    render(
        out / "holdout-standard", n=n, seed=900, kind={**SHIFTED, "appearance": "standard"}, date="2026-11-01"
    )
    predictor = VlmPredictor(demo_vlm(), batch_size=16)
    result: dict[str, Any] = {}
    for name in ("holdout", "holdout-standard"):
        golds, folder = read_labels(str(out / name / "labels.jsonl"))
        answers = predictor(
            [load_image(f"{folder}/{g['image']}") for g in golds],
            geometries=[ZoneGeometry.model_validate(g["report"]["zones"]) for g in golds],
        )
        per_look: dict[str, list[bool]] = {}
        for gold, answer in zip(golds, answers, strict=True):
            verdict = answer.report.pass_fail if answer.report else None
            per_look.setdefault(gold["appearance"], []).append(verdict == gold["report"]["pass_fail"])
        result[name] = {
            "verdicts": [g["report"]["pass_fail"] for g in golds],
            "pass_fail_accuracy": round(sum(map(sum, per_look.values())) / len(golds), 3),
            **{look: f"{sum(hits)}/{len(hits)}" for look, hits in sorted(per_look.items())},
        }
    # the two sets are the same faces: only the look differs
    result["same_truth"] = result["holdout"].pop("verdicts") == result["holdout-standard"].pop("verdicts")
    return result


def markdown(rows: list[dict[str, Any]], final: dict[str, Any], start: dict[str, Any]) -> str:
    lines = [
        "| round | arm | picked (BEST wrong on them) | PASS/FAIL | defect count | defect F1 | mAP@0.5 "
        "| promoted | promoted so far |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    cells = [f"{start[m]:.3f}" if start.get(m) is not None else "—" for m in METRICS]
    lines.append("| 0 | both (the shipped demo VLM) | | " + " | ".join(cells) + " | | |")
    for r in rows:
        cells = [f"{r[f'candidate_{m}']:.3f}" if r[f"candidate_{m}"] is not None else "—" for m in METRICS]
        picks = r.get("picks") or {}
        lines.append(
            f"| {r['round']} | {r['arm']} | {picks.get('picked')} ({picks.get('picked_vlm_wrong')}) | "
            + " | ".join(cells)
            + f" | {r['promoted']} | {r['promoted_so_far']} |"
        )
    for arm, metrics in final.items():
        cells = [f"{metrics[m]:.3f}" if metrics.get(m) is not None else "—" for m in METRICS]
        lines.append(f"| BEST after | {arm} | | " + " | ".join(cells) + f" | {metrics['version']} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/fibervlm-loop")
    parser.add_argument("--fleet", type=int, default=80, help="faces per round (one day of the fleet)")
    parser.add_argument("--holdout", type=int, default=60, help="fixed shifted hold-out faces")
    parser.add_argument("--budget", type=int, default=24, help="K: faces reviewed per round and arm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--demo-kind", type=int, default=60, help="demo-like faces replayed in every round")
    parser.add_argument(
        "--no-vision-lora",
        dest="vision_lora",
        action="store_false",
        help="LoRA on the language model only (the vision tower stays as the demo shipped it)",
    )
    args = parser.parse_args()
    import ray

    from fibervlm.serve.config import ServeConfig
    from fibervlm.serve.model import ModelHost

    out = Path(args.out)
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    render(out / "holdout", n=args.holdout, seed=900, kind=SHIFTED, date="2026-11-01")
    render(out / "demo-kind", n=args.demo_kind, seed=901, kind=DEMO_KIND, date="2026-11-01")
    for index in range(args.rounds):
        day = START + dt.timedelta(days=7 * index)
        render(
            out / "fleet" / f"day-{index}",
            n=args.fleet,
            seed=910 + index,
            kind=SHIFTED,
            date=str(day),
            fmt="parquet",
        )
    diagnosis = diagnose(out, args.holdout)
    print(json.dumps({"diagnosis": diagnosis}), flush=True)
    seed_registries(out, args.budget)
    start = served_metrics(out, "mined")
    host = ModelHost(ServeConfig(registry_root=str(out / "mined" / "registry")))
    rows, cache, served = [], {}, []
    promoted = {"mined": 0, "random": 0}
    for index in range(args.rounds):
        for arm in ("mined", "random"):
            summary = run_round(out, arm, index, args.budget, cache, vision_lora=args.vision_lora)
            promoted[arm] += bool(summary["decision"].get("promoted"))
            rows.append(row(arm, index, summary, promoted[arm]))
            print(json.dumps(rows[-1], default=str), flush=True)
            if arm == "mined":
                host.load()
                served.append(
                    {
                        "round": index + 1,
                        "version": host.model and host.model.version,
                        "replica": host.replica,
                    }
                )
    before = host.model.version if host.model else None
    refused = sabotage(out, args.budget, vision_lora=args.vision_lora)
    host.load()
    result = {
        "args": vars(args),
        "diagnosis": diagnosis,
        "start": start,
        "rows": rows,
        "final": {arm: served_metrics(out, arm) for arm in ("mined", "random")},
        "serve": {
            "after_each_round": served,
            "one_replica": len({s["replica"] for s in served}) == 1,
            "sabotage_promoted": refused["decision"].get("promoted"),
            "sabotage_reasons": refused["decision"].get("reasons"),
            "sabotage_candidate_metrics": {
                m: (refused.get("candidate_metrics") or {}).get(m) for m in METRICS
            },
            "served_before_sabotage": before,
            "served_after_sabotage": host.model.version if host.model else None,
        },
    }
    (out / "loop.json").write_text(json.dumps(result, indent=1, default=str))
    print(markdown(rows, result["final"], start))
    print(json.dumps(result["serve"], indent=1, default=str))
    ray.shutdown()


if __name__ == "__main__":
    main()
