"""Stage: raw read rows → identified images (content hash, source URI, partition, profile), minus done."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from fibervlm.detect.images import object_column
from fibervlm.pipeline.stage import Stage
from fibervlm.pipeline.storage import partition_of


def _column(batch: dict[str, Any], name: str | None, n: int) -> list[Any]:
    if name is None or name not in batch:
        return [None] * n
    return list(batch[name])


class IdentifyStage(Stage):
    """Names each image by the sha256 of its bytes and drops those a previous run already wrote.

    Stateless and cheap: it runs as a task fused into the read, so it costs no extra CPU slot.

    Input columns: `bytes_column`, `path` (+ optional `name_column`, `profile_column`).
    Output columns: image_id, source_uri, date, profile, image (the encoded bytes).
    """

    output_columns = ("image_id", "source_uri", "date", "profile", "image")

    def __init__(
        self,
        *,
        scheme: str,
        bytes_column: str = "bytes",
        name_column: str | None = None,
        profile_column: str | None = None,
        default_profile: str | None = None,  # None: the inspector's config decides (or infers)
        done_keys: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.scheme = scheme  # pyarrow paths drop "s3://"; the output names the full URI
        self.bytes_column = bytes_column
        self.name_column = name_column
        self.profile_column = profile_column
        self.default_profile = default_profile
        self.done_keys = frozenset(done_keys)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        return (self.bytes_column, "path")

    def process(self, batch: dict[str, Any]) -> dict[str, Any]:
        images = [bytes(b) if b is not None else b"" for b in batch[self.bytes_column]]
        paths = list(batch["path"])
        names = _column(batch, self.name_column, len(paths))
        profiles = _column(batch, self.profile_column, len(paths))
        rows: dict[str, list[Any]] = {column: [] for column in self.output_columns}
        for data, path, name, profile in zip(images, paths, names, profiles, strict=True):
            image_id = hashlib.sha256(data).hexdigest()
            source_uri = f"{self.scheme}{path}" + (f"#{name}" if name is not None else "")
            if (source_uri, image_id) in self.done_keys:
                continue
            rows["image_id"].append(image_id)
            rows["source_uri"].append(source_uri)
            rows["date"].append(partition_of(path) or "")
            rows["profile"].append(profile or self.default_profile)
            rows["image"].append(data)
        return {column: object_column(values) for column, values in rows.items()}
