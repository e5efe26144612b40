"""The Parquet sink: one file per written block and partition, each published atomically.

A file's name is a hash of the (source_uri, image_id) keys it holds, so a write task that Ray retries
rewrites the same file instead of adding a second copy of its rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from ray.data import Datasink
from ray.data.block import Block, BlockAccessor
from ray.data.datasource.datasink import WriteResult

from fibervlm import __version__
from fibervlm.pipeline.columns import to_output_table
from fibervlm.pipeline.storage import RESUME_KEY, locate, write_table_atomically
from fibervlm.schemas import stable_hash


def part_name(table: pa.Table) -> str:
    keys = sorted(zip(*(table.column(c).to_pylist() for c in RESUME_KEY), strict=True))
    return f"part-{stable_hash(keys, length=20)}.parquet"


def with_provenance(table: pa.Table, *, run_id: str) -> pa.Table:
    """Stamp the rows with what produced them and when (the write is when a row becomes a result)."""
    now = datetime.now(UTC)
    stamps = {
        "run_id": pa.array([run_id] * table.num_rows, pa.string()),
        "fibervlm_version": pa.array([__version__] * table.num_rows, pa.string()),
        "processed_at": pa.array([now] * table.num_rows, pa.timestamp("ms", tz="UTC")),
    }
    for name, values in stamps.items():
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, values)
    return table


class PartitionedParquetSink(Datasink[dict[str, Any]]):
    """Writes rows under `<output>/date=<date>/part-<hash>.parquet`, cast to OUTPUT_SCHEMA."""

    def __init__(self, *, output: str, rows_per_file: int, run_id: str) -> None:
        self.output = output  # a URI, not a filesystem: each worker builds its own from its environment
        self.rows_per_file = rows_per_file
        self.run_id = run_id
        self.written: list[dict[str, Any]] = []

    @property
    def min_rows_per_write(self) -> int:
        return self.rows_per_file

    def write(self, blocks: Iterable[Block], ctx: Any) -> dict[str, Any]:
        tables = [BlockAccessor.for_block(block).to_arrow() for block in blocks]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return {"files": [], "rows": 0, "image_ids": [], "errors": 0, "unsure": 0}
        table = with_provenance(pa.concat_tables(tables, promote_options="default"), run_id=self.run_id)
        location = locate(self.output)
        files = []
        for date in sorted(set(table.column("date").to_pylist())):
            part = to_output_table(table.filter(pc.equal(table.column("date"), date)))
            folder = location.join(f"date={date}") if date else location.path
            path = f"{folder}/{part_name(part)}"
            write_table_atomically(location, path, part)
            files.append(location.uri(path))
        return {
            "files": files,
            "rows": table.num_rows,
            "image_ids": table.column("image_id").to_pylist(),
            "errors": int(pc.sum(pc.equal(table.column("status"), "error")).as_py() or 0),
            "unsure": int(pc.sum(pc.equal(table.column("status"), "unsure")).as_py() or 0),
        }

    def on_write_complete(self, write_result: WriteResult[dict[str, Any]]) -> None:
        self.written = [r for r in write_result.write_returns if r["rows"]]
