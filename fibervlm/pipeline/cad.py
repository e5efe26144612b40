"""The drawings task's backfill on Ray Data: view rows (`part_id`, `view`, `image`) → a CAD answer per part.

    Parquet of views ─▶ groupby(part_id): group_views (views in suffix order)
    ─▶ CadPartStage (actor pool: OCR context + the VLM reading all views at once + OpenSCAD text)
    ─▶ Parquet, one row per part

A part whose views cannot be read — empty or corrupt bytes, the same view twice — is an `error` row with
the reason naming the view; the other parts are answered. `status` is `ok` for a schema-valid answer,
`invalid` for an answer that does not validate (kept in `raw`), `error` when the model was not asked.

Each written block is one Parquet file, published atomically and named by a hash of its part ids (a
retried write task rewrites the same file). A re-run skips the parts already in the output, so a killed
run resumes without duplicates or gaps; `overwrite` redoes them all.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from pydantic import Field
from ray.data import Datasink
from ray.data.block import Block, BlockAccessor

from fibervlm.config import Config
from fibervlm.pipeline.stage import Stage
from fibervlm.pipeline.storage import list_files, locate, remove_leftovers, write_table_atomically
from fibervlm.ray_session import RayConfig, ray_session
from fibervlm.schemas import stable_hash

_TYPES = {
    "part_id": "string", "status": "string", "error": "string", "views": "string", "context": "string",
    "context_source": "string", "raw": "string", "valid": "bool", "global_shape": "string",
    "W_mm": "int32", "D_mm": "int32", "H_mm": "int32", "scad": "string", "vlm_ms": "float64",
}  # fmt: skip
OUTPUT_COLUMNS = tuple(_TYPES)


def output_schema() -> Any:
    """The answers' Arrow schema: every file the same, whatever its rows hold (nulls included)."""
    import pyarrow as pa

    return pa.schema([(name, pa.type_for_alias(kind)) for name, kind in _TYPES.items()])


class CadBackfillConfig(Config):
    """One drawings backfill: where the views are, where the answers go, which model reads them."""

    input: str = Field(description="Parquet file or folder with the views: part_id, view, image (bytes).")
    output: str = Field(description="Folder for the answers' Parquet files (one row per part).")
    model: str = Field("tiny-qwen2-vl", description="Model preset name or model directory.")
    adapter: str | None = Field(None, description="LoRA adapter directory, if any.")
    key_column: str = Field("part_id", description="The column that groups views into parts.")
    ocr: Literal["auto", "none"] = Field(
        "auto", description="Context text: Tesseract's reading of the views when installed, or none."
    )
    batch_size: int = Field(4, gt=0, description="Parts per generate call.")
    actors: int = Field(1, gt=0, description="VLM actors (each loads the model once).")
    cpus_per_actor: float = Field(1.0, gt=0, description="CPUs reserved per VLM actor.")
    overwrite: bool = Field(False, description="Delete the output first and answer every part (else resume).")
    ray: RayConfig = Field(default_factory=RayConfig, description="Which Ray runs it (local by default).")


def group_views(group: dict[str, np.ndarray], key: str = "part_id") -> dict[str, np.ndarray]:
    """One part's view rows → one row: its views in suffix order, their bytes, or the reason they are broken.

    >>> rows = {"part_id": np.array(["p1", "p1"]), "view": np.array(["b", "a"]),
    ...         "image": np.array([b"B", b""], dtype=object)}
    >>> out = group_views(rows)
    >>> out["views"][0], out["error"][0]
    (['a', 'b'], 'view a: empty image bytes')
    """
    names = [str(v) for v in group["view"]]
    order = np.argsort(names, kind="stable")
    views = [names[i] for i in order]
    images = [bytes(group["image"][i] or b"") for i in order]
    error = None
    duplicates = sorted({v for v in views if views.count(v) > 1})
    if duplicates:
        error = f"view {duplicates[0]} given {views.count(duplicates[0])} times"
    else:
        empty = [v for v, data in zip(views, images, strict=True) if not data]
        if empty:
            error = f"view {empty[0]}: empty image bytes"
    return {
        "part_id": np.array([str(group[key][0])], dtype=object),
        "views": _one(views),
        "images": _one(images),
        "error": np.array([error], dtype=object),
    }


def _one(value: list[Any]) -> np.ndarray:
    """A one-row object column holding a list (np.array would make a 2-D array of it)."""
    column = np.empty(1, dtype=object)
    column[0] = value
    return column


class CadPartStage(Stage):
    """The model reads each part's views (and their OCR text) together; one answer row per part."""

    input_columns = ("part_id", "views", "images", "error")
    output_columns = OUTPUT_COLUMNS

    def __init__(self, *, model: str, adapter: str | None, batch_size: int, ocr: str) -> None:
        from fibervlm.cad.ocr import tesseract_available
        from fibervlm.vlm.multiview import MultiViewPredictor

        self.predictor = MultiViewPredictor(model, task="cad", adapter=adapter, batch_size=batch_size)
        self.ocr = ocr == "auto" and tesseract_available()

    def process(self, batch: dict[str, Any]) -> dict[str, Any]:
        from PIL import Image

        from fibervlm.cad.metrics import parse
        from fibervlm.cad.ocr import read_views
        from fibervlm.cad.openscad import to_scad

        n = len(batch["part_id"])
        rows: list[dict[str, Any]] = [{"error": batch["error"][i]} for i in range(n)]
        asked, groups, contexts = [], [], []
        for i in range(n):
            views, images = list(batch["views"][i]), [bytes(b) for b in batch["images"][i]]
            rows[i].update(views=json.dumps(views), context=None, context_source=None)
            if rows[i]["error"]:
                continue
            decoded: dict[str, Any] = {}
            for name, data in zip(views, images, strict=True):
                try:
                    decoded[name] = Image.open(io.BytesIO(data)).convert("RGB")
                except Exception as error:  # PIL raises several types for corrupt files
                    rows[i]["error"] = (
                        f"view {name}: corrupt or unsupported image bytes ({type(error).__name__})"
                    )
                    break
            if rows[i]["error"]:
                continue
            if self.ocr:
                rows[i].update(context=read_views(decoded), context_source="tesseract")
            asked.append(i)
            groups.append(list(decoded.values()))
            contexts.append(rows[i]["context"])
        for i, result in zip(asked, self.predictor(groups, contexts), strict=True):
            report = parse(result.raw) if result.valid else None
            rows[i].update(raw=result.raw, valid=result.valid, error=result.error, vlm_ms=result.latency_ms)
            if report is not None:
                dims = report.dimensions
                rows[i].update(
                    global_shape=report.global_shape,
                    W_mm=dims.W,
                    D_mm=dims.D,
                    H_mm=dims.H,
                    scad=to_scad(report),
                )
        for i, row in enumerate(rows):
            row.update(part_id=str(batch["part_id"][i]))
            row["status"] = "error" if i not in asked else ("ok" if row.get("valid") else "invalid")
        return {column: [row.get(column) for row in rows] for column in OUTPUT_COLUMNS}


def _as_table(stage: type[Stage]) -> Any:
    """Wrap a stage so Ray Data gets Arrow tables of `output_schema()` (typed nulls, one schema)."""
    import pyarrow as pa

    class Typed:
        def __init__(self, **kwargs: Any) -> None:
            self.stage = stage(**kwargs)

        def __call__(self, batch: dict[str, Any]) -> Any:
            return pa.Table.from_pydict(self.stage(batch), schema=output_schema())

    return Typed


class PartsSink(Datasink[None]):
    """The answers' sink: one atomically published file per write task (see the module's note)."""

    def __init__(self, output: str) -> None:
        self.output = output  # a URI: each worker builds its own filesystem from its environment

    def write(self, blocks: Iterable[Block], ctx: Any) -> None:
        import pyarrow as pa

        tables = [t for t in (BlockAccessor.for_block(b).to_arrow() for b in blocks) if t.num_rows]
        if not tables:
            return
        table = pa.concat_tables(tables)
        location = locate(self.output)
        name = f"part-{stable_hash(sorted(table.column('part_id').to_pylist()), length=20)}.parquet"
        write_table_atomically(location, location.join(name), table)


def answered_parts(output: str) -> set[str]:
    """The part ids already in the output's committed files: what a re-run skips."""
    import pyarrow.parquet as pq

    location = locate(output)
    done: set[str] = set()
    for path in list_files(location, (".parquet",)):
        done.update(pq.read_table(path, columns=["part_id"], filesystem=location.fs).column(0).to_pylist())
    return done


def run_cad_backfill(config: CadBackfillConfig) -> dict[str, Any]:
    """Run it (resuming) and return the counts per status over the whole output (`<output>/_summary.json`)."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    location = locate(config.output)
    if config.overwrite and location.fs.get_file_info(location.path).type != pafs.FileType.NotFound:
        location.fs.delete_dir(location.path)
    remove_leftovers(location)
    done = answered_parts(config.output)
    todo = set(pq.read_table(config.input, columns=[config.key_column]).column(0).to_pylist()) - done
    if todo:
        _answer(config, skip=done)
    return _summarise(config.output, resumed=len(done), answered=len(todo))


def _answer(config: CadBackfillConfig, *, skip: set[str]) -> None:
    """The Ray Data pipeline over the parts not in `skip`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import ray.data
    from ray.data import ActorPoolStrategy

    key = config.key_column
    with ray_session(config.ray):
        views = ray.data.read_parquet(config.input, columns=[key, "view", "image"])
        if skip:
            answered = pa.array(sorted(skip), pa.string())
            views = views.map_batches(
                lambda t: t.filter(pc.invert(pc.is_in(t[key], value_set=answered))), batch_format="pyarrow"
            )
        # Few partitions: each is one block of parts, so the VLM still batches (200 made one part a block).
        grouped = views.groupby(key, num_partitions=max(1, config.actors * 2))
        parts = grouped.map_groups(lambda g: group_views(g, key), batch_format="numpy")
        answers = parts.map_batches(
            _as_table(CadPartStage),
            fn_constructor_kwargs={
                "model": config.model, "adapter": config.adapter,
                "batch_size": config.batch_size, "ocr": config.ocr,
            },
            batch_size=config.batch_size,
            batch_format="numpy",
            compute=ActorPoolStrategy(size=config.actors),
            num_cpus=config.cpus_per_actor,
        )  # fmt: skip
        answers.write_datasink(PartsSink(config.output))


def _summarise(output: str, *, resumed: int, answered: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    location = locate(output)
    files = list_files(location, (".parquet",))
    table = pq.read_table(files, columns=["part_id", "status", "error"], filesystem=location.fs)
    statuses = table.column("status").to_pylist()
    summary = {
        "output": output,
        "parts": table.num_rows,
        "answered_now": answered,
        "already_answered": resumed,
        "status": {s: statuses.count(s) for s in sorted(set(statuses))},
        "errors": {
            p: e for p, s, e in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
            if s != "ok"
        },
    }  # fmt: skip
    location.fs.create_dir(location.path, recursive=True)
    with location.fs.open_output_stream(location.join("_summary.json")) as stream:
        stream.write((json.dumps(summary, indent=2) + "\n").encode())
    return summary
