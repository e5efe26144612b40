"""Pseudo-labels, the second and weaker source (the Llama-3.2-Vision seed's recipe): backfill rows whose
classical geometry and every classical proposal reach `min_confidence`, and whose VLM verdict agrees
with the rules' verdict, kept as labels without review. Written like `labels import` writes reviews.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fibervlm.mining.score import report_of
from fibervlm.review.queue import image_name, publish_folder
from fibervlm.schemas import EndfaceReport
from fibervlm.synth.dataset import label_line


def trusted_report(row: dict[str, Any], min_confidence: float) -> tuple[EndfaceReport | None, str]:
    """The row's report when it qualifies as a pseudo-label, else None and the reason it does not."""
    if (row.get("status") or "ok") != "ok":
        return None, "not_ok"
    raw = report_of(row)
    if raw is None:
        return None, "no_report"
    try:
        report = EndfaceReport.model_validate(raw)
    except ValidationError:
        return None, "invalid_report"
    if report.zones.confidence < min_confidence:
        return None, "low_geometry_confidence"
    if any(d.confidence < min_confidence or d.source == "vlm" for d in report.defects):
        return None, "low_defect_confidence"
    if report.vlm is None or report.vlm.pass_fail != report.pass_fail:
        return None, "vlm_disagrees"
    return report.model_copy(update={"vlm": None}), ""


def write_pseudo_labels(
    rows: Iterable[dict[str, Any]],
    out: str,
    *,
    read_bytes: Callable[[str], bytes],
    min_confidence: float = 0.9,
    exclude_ids: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Write `<out>/labels.jsonl` + images of every qualifying row not in `exclude_ids`; a summary."""
    rejected: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="fibervlm-pseudo-") as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        lines = []
        for row in rows:
            if str(row["image_id"]) in exclude_ids:
                rejected["excluded"] += 1
                continue
            report, reason = trusted_report(row, min_confidence)
            if report is None:
                rejected[reason] += 1
                continue
            name = f"images/{image_name(str(row['image_id']), str(row['source_uri']))}"
            (folder / name).write_bytes(read_bytes(str(row["source_uri"])))
            record = json.loads(label_line(name, str(row["image_id"]), report))
            record["label_source"] = "pseudo"
            lines.append(json.dumps(record, sort_keys=True, separators=(",", ":")))
        (folder / "labels.jsonl").write_text("".join(line + "\n" for line in lines))
        publish_folder(folder, out)
    return {"out": out, "n_pseudo": len(lines), "rejected": dict(sorted(rejected.items()))}
