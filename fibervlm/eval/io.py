"""Reading report records: JSONL (synth labels, predictions) or the backfill's Parquet output."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

BACKFILL_COLUMNS = ("image_id", "source_uri", "status", "report")


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSONL file; blank lines skipped, a bad line named by number."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error})") from None
    return rows


def read_backfill(path: str | Path) -> list[dict]:
    """Rows of the backfill's Parquet output (a file or a partitioned folder) as prediction records:
    matched by `image_id`, the enriched report parsed from its JSON text."""
    table = pq.read_table(path, columns=list(BACKFILL_COLUMNS))
    return [
        {
            "image": row["source_uri"],
            "image_id": row["image_id"],
            "status": row["status"] or "ok",
            "report": json.loads(row["report"]) if row["report"] else None,
        }
        for row in table.to_pylist()
    ]


def read_records(path: str | Path) -> list[dict]:
    """Report records from JSONL, or from the backfill's Parquet output (`.parquet` or a folder)."""
    path = Path(path)
    return read_backfill(path) if path.is_dir() or path.suffix == ".parquet" else read_jsonl(path)
