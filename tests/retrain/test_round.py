"""One round of the weekly job end to end on tiny data: mine → simulated review → import → pseudo-labels
→ snapshot → Ray Train LoRA (2 steps) from BEST → hold-out gate. The candidate is trained on shuffled
labels: the gate refuses it, BEST stays, and a Serve model host keeps answering with the old version."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from loopkit import backfill_row, render_fleet, write_backfill

from fibervlm.mining import MiningConfig
from fibervlm.paths import demo_vlm
from fibervlm.registry import best_version, list_versions, show
from fibervlm.retrain import GateSettings, RetrainConfig, ReviewSettings, SnapshotSettings, run_retrain
from fibervlm.retrain.job import publish_and_gate
from fibervlm.retrain.snapshot import HoldoutOverlapError, check_disjoint
from fibervlm.synth import write_dataset

pytestmark = pytest.mark.slow  # Ray Train

TRAIN = {
    "strategy": "ddp",
    "num_workers": 1,
    "cpus_per_worker": 1,
    "max_steps": 2,
    "micro_batch_size": 2,
    "learning_rate": 0.05,
    "warmup_steps": 0,
    "max_length": 640,
    "report_every_steps": 2,
    "eval_batch_size": 8,
}


def round_config(root: Path, **changes: object) -> RetrainConfig:
    fields = {
        "backfill": str(root / "backfill"),
        "as_of": dt.date(2026, 11, 20),
        "mining": MiningConfig(budget=4, max_profile_share=1.0, max_class_share=1.0),
        "review": ReviewSettings(
            queue_root=str(root / "queues"),
            labels_root=str(root / "labels"),
            simulated_truth=str(root / "shards" / "labels.jsonl"),
        ),
        "snapshot": SnapshotSettings(pseudo_max_share=0.5),
        "holdout": str(root / "holdout" / "labels.jsonl"),
        "registry_root": str(root / "registry"),
        "bootstrap_model": demo_vlm(),
        "gate": GateSettings(margin=0.0, tolerance=0.05, min_group_size=2),
        "train": {**TRAIN, "storage_path": str(root / "ray")},
        "work_dir": str(root / "work"),
    }
    return RetrainConfig(**{**fields, **changes})


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 faces: 4 the VLM disagreed on (mined), 4 agreed and sure (pseudo-labels); 4 hold-out faces."""
    root = tmp_path_factory.mktemp("round")
    records = render_fleet(root / "shards", n=8, seed=21)
    rows = [backfill_row(r, vlm_agrees=i >= 4) for i, r in enumerate(records)]
    write_backfill(rows, root / "backfill")
    write_dataset(out=root / "holdout", n=4, seed=22)
    return root


def test_a_shuffled_candidate_is_refused_and_best_is_unchanged(ray_local, fleet: Path) -> None:
    from fibervlm.serve.config import ServeConfig
    from fibervlm.serve.model import ModelHost

    config = round_config(fleet, shuffle_labels=True)
    summary = run_retrain(config)

    versions = list_versions(config.registry_root, "endface")
    bootstrap, candidate = versions
    assert summary["best_before"] == bootstrap.version == best_version(config.registry_root, "endface")
    assert summary["best_after"] == bootstrap.version and summary["decision"]["promoted"] is False
    assert summary["queue"]["n_picked"] == 4 and summary["labels"]["n_imported"] == 4
    assert summary["pseudo"]["n_pseudo"] == 4  # the agreeing, sure faces; the mined ones are in the queue
    # 4 reviewed × 2 repeats, pseudo-labels up to half of the snapshot: all 4 (at most 8)
    assert summary["snapshot"]["counts"] == {"review": 8, "pseudo": 4} and summary["snapshot"]["rows"] == 12
    assert candidate.manifest["init_from"] == bootstrap.version and candidate.manifest["shuffled_labels"]
    assert candidate.manifest["data_snapshot"] == summary["snapshot"]["hash"]
    assert (
        f"retrain-{config.round_id()}-" in candidate.manifest["checkpoint"]
    )  # a new Ray Train run per round
    assert (fleet / "registry" / "endface" / candidate.version / "adapter_config.json").is_file()
    gain = candidate.metrics["pass_fail_accuracy"] - bootstrap.metrics["pass_fail_accuracy"]
    assert summary["decision"]["primary_gain"] == pytest.approx(gain)
    assert gain <= 0 or summary["decision"]["regressions"], summary["decision"]
    groups = candidate.metrics["groups"]  # per-profile faces add up to the hold-out
    assert (
        sum(g["n"] for k, g in groups.items() if k.startswith("profile:"))
        == candidate.metrics["n_holdout"]
        == 4
    )
    report = Path(summary["report"])
    assert (
        "NOT PROMOTED" in report.read_text() and report.with_name("report-metrics.png").stat().st_size > 5000
    )

    host = ModelHost(ServeConfig(registry_root=config.registry_root))
    assert host.load() and host.model is not None and host.model.version == bootstrap.version
    assert host.load() is False and host.model.version == bootstrap.version  # nothing new to pick up

    # The same trained adapter as a candidate whose hold-out metrics beat BEST everywhere: promoted, and
    # the model host (what a Serve replica wraps) swaps to it in place on its next BEST check.
    better = {**candidate.metrics, "pass_fail_accuracy": bootstrap.metrics["pass_fail_accuracy"] + 0.1}
    better["groups"] = bootstrap.metrics["groups"]
    adapter = fleet / "work" / config.round_id() / "adapter"
    best = show(config.registry_root, "endface")
    decision = publish_and_gate(config, best, better, bootstrap.metrics, candidate.manifest, str(adapter))
    assert decision["promoted"] and best_version(config.registry_root, "endface") == decision["version"]
    replica = host.replica
    assert host.load() and host.model.version == decision["version"] and host.replica == replica
    loaded = host.model  # the new adapter sits on the base already in memory; the old one is unloaded
    assert loaded.local_dir == fleet / "registry" / "endface" / decision["version"]
    assert loaded.adapter in host.bases[loaded.base].inspector.vlm.backend.loaded.model.peft_config
    assert bootstrap.version not in host.versions


def test_training_refuses_hold_out_images(fleet: Path) -> None:
    holdout = {
        json.loads(line)["image_id"] for line in (fleet / "holdout" / "labels.jsonl").read_text().splitlines()
    }
    leaked = [{"image_id": next(iter(holdout)), "label_source": "review", "report": {}}]
    with pytest.raises(HoldoutOverlapError, match="1 hold-out image"):
        check_disjoint(leaked, holdout)
