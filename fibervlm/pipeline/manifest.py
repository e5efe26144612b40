"""The run manifest: what a backfill read, wrote and skipped, and where its time went (Dataset.stats())."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fibervlm.pipeline.storage import Location


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _sum(summary: Any) -> float | None:
    return None if summary is None else float(summary.sum)


def _all_operators(summary: Any) -> list[Any]:
    """Operators in execution order: a write's summary holds the upstream operators in its parents."""
    upstream = [op for parent in summary.parents for op in _all_operators(parent)]
    return upstream + list(summary.operators_stats)


def operator_throughput(stats_summary: Any) -> list[dict[str, Any]]:
    """Per Ray Data operator: rows out, busy time summed over tasks, wall span, rows/s over the span.

    `busy_s` / `span_s` is how many workers the operator kept busy on average; the operator with the
    lowest rows/s bounds the pipeline.
    """
    operators = []
    for op in _all_operators(stats_summary):
        rows = _sum(op.output_num_rows)
        start, end = op.earliest_start_time, op.latest_end_time
        span_s = (end - start) if start is not None and end is not None else None
        operators.append(
            {
                "operator": op.operator_name,
                "rows": int(rows) if rows is not None else None,
                "busy_s": _sum(op.wall_time),
                "span_s": span_s,
                "rows_per_s": (rows / span_s) if rows and span_s else None,
            }
        )
    return operators


def build_manifest(
    *,
    run_id: str,
    config: dict[str, Any],
    started_at: str,
    inputs: dict[str, Any],
    written: list[dict[str, Any]],
    stats: dict[str, Any],
) -> dict[str, Any]:
    image_ids = [i for w in written for i in w["image_ids"]]
    errors = sum(w["errors"] for w in written)
    unsure = sum(w.get("unsure", 0) for w in written)
    duplicates = [i for i, n in Counter(image_ids).items() if n > 1]
    return {
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": now_iso(),
        "config": config,
        "inputs": inputs,
        "counts": {
            "written": len(image_ids),
            "ok": len(image_ids) - errors - unsure,
            "unsure": unsure,
            "error": errors,
        },
        "duplicate_ids_in_run": duplicates,  # same bytes under two names: two rows, by design
        "files": sorted(f for w in written for f in w["files"]),
        "image_ids": sorted(image_ids),
        "stats": stats,
    }


def write_manifest(location: Location, manifest: dict[str, Any]) -> str:
    """`<output>/_manifests/<run_id>.json` (underscore: never read as data); returns its URI."""
    path = location.join("_manifests", f"{manifest['run_id']}.json")
    location.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with location.fs.open_output_stream(path) as stream:
        stream.write(json.dumps(manifest, indent=2, default=str).encode())
    return location.uri(path)
