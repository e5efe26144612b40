"""The backfill's output contract as an Arrow schema (docs/architecture.md, "The report contract"), and
the cast to it.

Every file is cast to this one schema, so a file of only error rows has the same column types as any
other and the whole output reads back as one table.
"""

from __future__ import annotations

import pyarrow as pa

STAGE_TIMINGS = ("decode_ms", "geometry_ms", "stage1_ms", "vlm_ms", "grade_ms")

OUTPUT_SCHEMA = pa.schema(
    [
        # identity
        ("image_id", pa.string()),
        ("source_uri", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("profile", pa.string()),  # graded against: the metadata's, the config's, or inferred
        ("profile_inferred", pa.bool_()),
        # outcome: ok | unsure (read, not really seen: no verdict) | error; `error` says why when not ok
        ("status", pa.string()),
        ("error", pa.string()),
        ("geometry_confidence", pa.float64()),
        ("sharpness", pa.float64()),
        # results
        ("report", pa.string()),
        ("pass_fail", pa.string()),
        ("failed_rule", pa.string()),
        ("n_defects", pa.int32()),
        ("stage1", pa.string()),
        ("vlm_valid", pa.bool_()),
        ("vlm_confidence", pa.float64()),  # P(the answer's decisions): empty list or not, PASS or FAIL
        ("disagreement", pa.float64()),
        ("quality_label", pa.string()),
        ("quality_confidence", pa.float64()),
        # provenance
        ("model_id", pa.string()),
        ("adapter_id", pa.string()),
        ("prompt_hash", pa.string()),
        ("schema_hash", pa.string()),
        ("fibervlm_version", pa.string()),
        ("run_id", pa.string()),
        ("processed_at", pa.timestamp("ms", tz="UTC")),
        # per-stage milliseconds (a batched stage's time shared equally by the rows of its batch)
        *[(name, pa.float64()) for name in STAGE_TIMINGS],
    ]
)
OUTPUT_COLUMNS = tuple(OUTPUT_SCHEMA.names)


def to_output_table(table: pa.Table) -> pa.Table:
    """Select and cast to OUTPUT_SCHEMA; a column the pipeline did not produce is all null."""
    columns = []
    for field in OUTPUT_SCHEMA:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=OUTPUT_SCHEMA)
