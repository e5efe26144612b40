"""`fibervlm labels import`: a reviewed export → labelled reports (synth's labels.jsonl format).

    <out>/labels.jsonl     one line per reviewed image: {"image", "image_id", "report", "label_source"}
    <out>/images/          the images, copied (the labels folder moves as one)
    <out>/import.json      what was imported, skipped (cancelled, no fibre) and from which file

`fibervlm export --source synth --in <out>` turns the folder into training JSONL. The folder is
written whole or not at all; a bad export writes nothing (see `fibervlm.review.reviewed`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from fibervlm.classical.geometry import FibreNotFoundError, find_zones
from fibervlm.classical.io import decode_image
from fibervlm.review.measure import graded_report, measure
from fibervlm.review.queue import publish_folder
from fibervlm.review.reviewed import ReviewedTask, read_export, validate
from fibervlm.schemas import Defect, EndfaceReport, ZoneGeometry
from fibervlm.synth.dataset import label_line


def _zones(task: ReviewedTask, data: bytes) -> ZoneGeometry | None:
    """The classical geometry the queue carried, else measured now; None when no fibre is found."""
    if task.zones is not None:
        return ZoneGeometry.model_validate(task.zones)
    try:
        return find_zones(decode_image(data), profile=str(task.profile)).zones
    except FibreNotFoundError:
        return None


def _proposal_defects(task: ReviewedTask) -> list[Defect]:
    """The classical proposals the queue carried, as measured (what a matching box borrows its size from)."""
    defects = []
    for proposal in task.proposals:
        try:
            defects.append(Defect.model_validate({k: v for k, v in proposal.items() if v is not None}))
        except ValueError:
            continue  # a proposal a tool mangled only loses its measurement; the box is measured instead
    return defects


def labelled_report(task: ReviewedTask, zones: ZoneGeometry) -> EndfaceReport:
    proposals = _proposal_defects(task)
    defects = [measure(kind, bbox, zones, proposals) for kind, bbox in task.boxes]
    return graded_report(
        width=task.width, height=task.height, profile=str(task.profile), zones=zones, defects=defects
    )


def import_labels(
    fmt: str, export: str | Path, out: str, *, images: str | Path | None = None
) -> dict[str, Any]:
    """Validate the whole export, grade each reviewed image, write the labels folder; returns a summary."""
    export = Path(export)
    tasks = read_export(export, fmt)
    folders = [export.parent] + ([Path(images)] if images else [])
    validate(tasks, folders)
    summary: dict[str, Any] = {
        "from": fmt,
        "export": str(export),
        "export_sha256": hashlib.sha256(export.read_bytes()).hexdigest(),
        "out": out,
        "n_tasks": len(tasks),
        "n_imported": 0,
        "skipped": {"cancelled": [], "no_fibre_found": []},
        "pass_fail": {"PASS": 0, "FAIL": 0},
        "defects": 0,
    }
    with tempfile.TemporaryDirectory(prefix="fibervlm-labels-") as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        lines = []
        for task in tasks:
            if task.cancelled:
                summary["skipped"]["cancelled"].append(task.name)
                continue
            assert task.image_path is not None  # validate() resolved it
            data = task.image_path.read_bytes()
            zones = _zones(task, data)
            if zones is None:
                summary["skipped"]["no_fibre_found"].append(task.name)
                continue
            report = labelled_report(task, zones)
            image_id = task.image_id or hashlib.sha256(data).hexdigest()
            name = f"images/{image_id[:16]}{task.image_path.suffix or '.png'}"
            (folder / name).write_bytes(data)
            record = json.loads(label_line(name, image_id, report))
            record["label_source"] = "review"
            lines.append(json.dumps(record, sort_keys=True, separators=(",", ":")))
            summary["n_imported"] += 1
            summary["pass_fail"][report.pass_fail] += 1
            summary["defects"] += len(report.defects)
        (folder / "labels.jsonl").write_text("".join(line + "\n" for line in lines))
        (folder / "import.json").write_text(json.dumps(summary, indent=1) + "\n")
        publish_folder(folder, out)
    return summary
