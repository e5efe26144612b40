"""`run_retrain(config)`: one round of the weekly loop (README, "The weekly retrain loop").

backfill window → mine → review queue → (reviewed labels of earlier rounds, or the simulated reviewer
offline) → pseudo-labels → snapshot (hash, hold-out refused) → Ray Train LoRA from BEST → hold-out
evaluation of candidate and BEST → publish → gate (margin, no per-group regression) → promote → round
report. Serve replicas re-read BEST on their own (`registry_poll_s`), so a promotion needs no redeploy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec

from fibervlm.pipeline.run_report import read_source_image
from fibervlm.registry import VersionInfo, list_versions, promote, publish, show
from fibervlm.retrain.config import RetrainConfig
from fibervlm.retrain.gate import decide
from fibervlm.retrain.report import render_round_report
from fibervlm.retrain.snapshot import Snapshot, build_snapshot, holdout_ids
from fibervlm.review.backfill_rows import read_backfill
from fibervlm.review.importer import import_labels
from fibervlm.review.mine import exclusions_of, mine_rows
from fibervlm.review.pseudo import write_pseudo_labels
from fibervlm.review.queue import write_queue
from fibervlm.review.simulated import simulate_review


def holdout_hash(config: RetrainConfig) -> str:
    """Names the hold-out a metrics.json was measured on (its ids and the limit)."""
    ids = sorted(holdout_ids(config.holdout))[: config.holdout_limit]
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def evaluate_version(config: RetrainConfig, *, model: str, adapter: str | None) -> dict[str, Any]:
    """Hold-out metrics with per-profile / per-class groups, tagged with the hold-out's hash."""
    from fibervlm.train.holdout import evaluate_holdout

    metrics = evaluate_holdout(
        model=model,
        adapter=adapter,
        holdout=config.holdout,
        task=config.task,
        limit=config.holdout_limit,
        groups=True,
    )
    return {**metrics, "holdout_hash": holdout_hash(config)}


def model_of(info: VersionInfo) -> tuple[str, str | None]:
    """(base model, adapter) to load a registry version: a LoRA adapter on its manifest's base, or a
    full model directory. Local registries only: an s3:// version is first copied (Serve's `local_dir`)."""
    from fibervlm.serve.model import local_dir

    folder = local_dir(info.uri)
    if (folder / "adapter_config.json").is_file():
        return str(info.manifest["base_model"]), str(folder)
    return str(folder), None


def ensure_best(config: RetrainConfig) -> VersionInfo:
    """The registry's BEST; an empty registry first gets `bootstrap_model`, evaluated and promoted."""
    from fibervlm.registry import best_version

    if best_version(config.registry_root, config.task) is None:
        if not config.bootstrap_model:
            raise ValueError(f"{config.registry_root}: no BEST for {config.task!r} and no bootstrap_model")
        metrics = evaluate_version(config, model=config.bootstrap_model, adapter=None)
        manifest = {"base_model": config.bootstrap_model, "method": "bootstrap", "data_snapshot": None}
        version = publish(
            config.registry_root,
            config.task,
            metrics=metrics,
            manifest=manifest,
            source_dir=config.bootstrap_model,
        )
        promote(config.registry_root, config.task, version, metric=config.gate.metric, force=True)
    return show(config.registry_root, config.task)


def best_metrics(config: RetrainConfig, best: VersionInfo) -> dict[str, Any]:
    """BEST's metrics on this hold-out: its metrics.json when measured on it, else measured now."""
    if best.metrics.get("holdout_hash") == holdout_hash(config) and "groups" in best.metrics:
        return best.metrics
    model, adapter = model_of(best)
    return evaluate_version(config, model=model, adapter=adapter)


def trained_rounds(config: RetrainConfig) -> set[str]:
    """Label rounds some published version was already trained on (their labels are replay now)."""
    return {
        r for v in list_versions(config.registry_root, config.task) for r in v.manifest.get("new_rounds", [])
    }


def label_rounds(config: RetrainConfig) -> list[str]:
    """Every imported round folder under `labels_root`, oldest first."""
    fs, root = fsspec.core.url_to_fs(config.review.labels_root)
    if not fs.isdir(root):
        return []
    prefix = (
        "" if "://" not in config.review.labels_root else config.review.labels_root.split("://")[0] + "://"
    )
    return sorted(f"{prefix}{p}" for p in fs.ls(root, detail=False) if fs.isfile(f"{p}/labels.jsonl"))


def mine_queue(config: RetrainConfig, rows: list[dict[str, Any]], round_id: str) -> dict[str, Any]:
    """This round's review queue under `<queue_root>/<round>`; its manifest."""
    selection = mine_rows(rows, config.mining, exclusions_of(config.review.labels_root, config.holdout))
    queue_uri = f"{config.review.queue_root.rstrip('/')}/{round_id}"
    context = {
        "round": round_id,
        "input": config.backfill,
        "n_rows": len(rows),
        "config": config.mining.model_dump(mode="json"),
    }
    manifest = write_queue(
        selection,
        queue_uri,
        read_bytes=read_source_image,
        context=context,
        image_url_prefix=config.review.image_url_prefix,
    )
    return {**manifest, "uri": queue_uri}


def simulated_labels(config: RetrainConfig, queue: dict[str, Any], round_id: str) -> dict[str, Any] | None:
    """OFFLINE ONLY: the simulated reviewer answers the queue and its export is imported at once."""
    if not config.review.simulated_truth or not queue["tasks"]:
        return None
    export = simulate_review(queue["uri"], config.review.simulated_truth)
    return import_labels("label-studio", export, f"{config.review.labels_root.rstrip('/')}/{round_id}")


def pseudo_labels(
    config: RetrainConfig, rows: list[dict[str, Any]], queue: dict[str, Any], work: Path
) -> dict[str, Any]:
    excluded = frozenset({t["image_id"] for t in queue["tasks"]} | holdout_ids(config.holdout))
    return write_pseudo_labels(
        rows,
        str(work / "pseudo"),
        read_bytes=read_source_image,
        min_confidence=config.snapshot.pseudo_min_confidence,
        exclude_ids=excluded,
    )


def make_snapshot(config: RetrainConfig, work: Path, base_model: str) -> tuple[Snapshot, list[str]]:
    from fibervlm.vlm.presets import load_preset

    done = trained_rounds(config)
    rounds = label_rounds(config)
    new = [r for r in rounds if r not in done]
    replay = [r for r in rounds if r in done] + (
        [config.snapshot.base_labels] if config.snapshot.base_labels else []
    )
    snapshot = build_snapshot(
        new_rounds=new,
        replay_rounds=replay,
        pseudo=str(work / "pseudo") if config.snapshot.pseudo_labels else None,
        holdout=config.holdout,
        out=work / "snapshot",
        settings=config.snapshot,
        view_um=load_preset(base_model).view_um,
        task=config.task,
        shuffle_labels=config.shuffle_labels,
    )
    return snapshot, new


def train_candidate(
    config: RetrainConfig, best: VersionInfo, snapshot: Snapshot, work: Path
) -> tuple[str, str, str]:
    """Ray Train LoRA from BEST (its adapter continued, or a new one on a full BEST);
    (base, adapter dir, the run's final checkpoint URI)."""
    from fibervlm.train import TrainConfig, run_train

    base, adapter = model_of(best)
    fields = {
        **config.train,
        "task": config.task,
        "model": base,
        "init_adapter": adapter,
        "method": "lora",
        "train_data": str(snapshot.train_jsonl),
        "holdout_data": None,
        "registry": None,
        "output_dir": str(work / "adapter"),
        "storage_path": config.train.get("storage_path", str(work / "ray")),
        # A run of an existing name resumes that run's last checkpoint (Ray Train restores by name): every
        # round must be a new run, or it would "train" by reloading the first round's finished state.
        "run_name": f"{config.train.get('run_name', 'retrain')}-{work.name}-{uuid.uuid4().hex[:6]}",
    }
    result = run_train(TrainConfig.model_validate(fields))
    assert result.export_dir is not None
    return base, result.export_dir, result.checkpoint


def publish_and_gate(
    config: RetrainConfig,
    best: VersionInfo,
    candidate: dict[str, Any],
    baseline: dict[str, Any],
    manifest: dict[str, Any],
    adapter: str,
) -> dict[str, Any]:
    """Publish the candidate, then promote it only when the gate says so; the decision as a dict."""
    version = publish(
        config.registry_root, config.task, metrics=candidate, manifest=manifest, source_dir=adapter
    )
    gate = decide(candidate, baseline, config.gate)
    promoted = False
    if gate.promote:
        same_holdout = best.metrics.get("holdout_hash") == candidate["holdout_hash"]
        # the registry re-checks the margin when BEST's metrics.json was measured on this hold-out
        decision = promote(
            config.registry_root,
            config.task,
            version,
            metric=config.gate.metric,
            margin=config.gate.margin,
            force=not same_holdout,
        )
        promoted = decision.promoted
    return {
        "version": version,
        "promoted": promoted,
        "primary_gain": gate.primary_gain,
        "regressions": gate.regressions,
        "reasons": gate.reasons,
    }


@contextlib.contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Record the stage's wall time in seconds (the round report shows where a round spends it)."""
    started = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - started, 2)


def run_retrain(config: RetrainConfig) -> dict[str, Any]:
    """One round; returns its summary (also written as `<work>/round.json` beside the HTML report)."""
    round_id = config.round_id()
    work = Path(config.work_dir).expanduser() / round_id
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with timed(timings, "bootstrap"):
        best = ensure_best(config)
    since = config.today() - dt.timedelta(days=config.window_days - 1)
    with timed(timings, "mine"):
        rows = read_backfill(config.backfill, since=since, until=config.today())
        queue = mine_queue(config, rows, round_id)
    summary: dict[str, Any] = {
        "round": round_id,
        "window": [since.isoformat(), config.today().isoformat()],
        "best_before": best.version,
        "queue": {k: queue[k] for k in ("uri", "n_rows", "n_picked", "skipped")},
        "timings_s": timings,
    }
    with timed(timings, "labels"):
        summary["labels"] = simulated_labels(config, queue, round_id)
        summary["pseudo"] = pseudo_labels(config, rows, queue, work)
    base, _ = model_of(best)
    with timed(timings, "snapshot"):
        snapshot, new_rounds = make_snapshot(config, work, base)
    summary["snapshot"] = {
        "hash": snapshot.content_hash,
        "counts": snapshot.counts,
        "new_rounds": new_rounds,
        "rows": snapshot.export.get("n_written"),
    }
    if not snapshot.export.get("n_written"):
        summary["decision"] = {"promoted": False, "reasons": ["nothing to train on this round"]}
        return finish(config, summary, work)
    with timed(timings, "evaluate_best"):
        baseline = best_metrics(config, best)
    with timed(timings, "train"):
        base, adapter, checkpoint = train_candidate(config, best, snapshot, work)
    with timed(timings, "evaluate_candidate"):
        candidate = evaluate_version(config, model=base, adapter=adapter)
    manifest = {
        "base_model": base,
        "method": "lora",
        "init_from": best.version,
        "checkpoint": checkpoint,
        "data_snapshot": snapshot.content_hash,
        "snapshot_counts": snapshot.counts,
        "new_rounds": new_rounds,
        "round": round_id,
        "shuffled_labels": config.shuffle_labels,
        "config": config.model_dump(mode="json"),
    }
    summary.update(candidate_metrics=candidate, best_metrics=baseline)
    summary["decision"] = publish_and_gate(config, best, candidate, baseline, manifest, adapter)
    summary["candidate"] = summary["decision"]["version"]
    return finish(config, summary, work)


def finish(config: RetrainConfig, summary: dict[str, Any], work: Path) -> dict[str, Any]:
    from fibervlm.registry import best_version

    summary["best_after"] = best_version(config.registry_root, config.task)
    report = Path(config.report_out) if config.report_out else work / "report.html"
    summary["report"] = str(
        render_round_report(summary, list_versions(config.registry_root, config.task), report)
    )
    (work / "round.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
