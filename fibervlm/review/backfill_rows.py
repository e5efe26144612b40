"""Read the backfill's Parquet rows of a date window (`date=YYYY-MM-DD/` partitions), local or s3://."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow.parquet as pq

from fibervlm.pipeline.storage import list_files, locate, partition_of


def _in_window(date: str | None, since: dt.date, until: dt.date | None) -> bool:
    if date is None:
        return False
    day = dt.date.fromisoformat(date)
    return since <= day and (until is None or day <= until)


def _newer(row: dict[str, Any], other: dict[str, Any]) -> bool:
    mine, theirs = row.get("processed_at"), other.get("processed_at")
    return theirs is None or (mine is not None and mine >= theirs)


def read_backfill(uri: str, *, since: dt.date, until: dt.date | None = None) -> list[dict[str, Any]]:
    """Every row of the partitions from `since` to `until` (inclusive), one per image: an image seen on
    several days keeps its latest row. Each row gains a `date` key (its partition)."""
    location = locate(uri)
    latest: dict[str, dict[str, Any]] = {}
    for path in list_files(location, (".parquet",)):
        date = partition_of(path)
        if not _in_window(date, since, until):
            continue
        for row in pq.read_table(path, filesystem=location.fs).to_pylist():
            row["date"] = date
            key = str(row["image_id"])
            if key not in latest or _newer(row, latest[key]):
                latest[key] = row
    return [latest[k] for k in sorted(latest)]
