"""Local folders and `s3://` behind one pyarrow filesystem: listing partitions, atomic writes, resume keys.

S3 endpoint and credentials come from the standard AWS environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
...), which Ray workers inherit when it is set before `ray.init`; nothing here reads or prints them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

DATE_DIR = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})(?:/|$)")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
RESUME_KEY = ("source_uri", "image_id")


@dataclass(frozen=True)
class Location:
    """A root URI split into its filesystem and the path inside it; `uri(path)` gives a path back as a URI."""

    fs: pafs.FileSystem
    path: str
    scheme: str  # "s3://" or "" (local)

    def uri(self, path: str) -> str:
        return f"{self.scheme}{path}"

    def join(self, *parts: str) -> str:
        return "/".join([self.path.rstrip("/"), *parts])

    @property
    def is_local(self) -> bool:
        return self.scheme == ""


def locate(uri: str) -> Location:
    """`s3://bucket/prefix` or a local path (made absolute, so Ray workers in another cwd agree)."""
    if uri.startswith("s3://"):
        fs, path = pafs.FileSystem.from_uri(uri)
        return Location(fs=fs, path=path.rstrip("/"), scheme="s3://")
    if "://" in uri:
        raise ValueError(f"{uri}: unsupported scheme; use a local path or s3://bucket/prefix")
    return Location(fs=pafs.LocalFileSystem(), path=str(Path(uri).expanduser().resolve()), scheme="")


def partition_of(path: str) -> str | None:
    """The `date=YYYY-MM-DD` value in a path, or None."""
    match = DATE_DIR.search(path)
    return match.group(1) if match else None


def list_files(location: Location, suffixes: tuple[str, ...], date: str | None = None) -> list[str]:
    """Files under the root ending in one of `suffixes`, in `date=<date>/` only when a date is given.

    Hidden and underscore-prefixed names (temporary files, manifests) are never data.
    """
    root = location.join(f"date={date}") if date else location.path
    info = location.fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return []
    selector = pafs.FileSelector(root, recursive=True)
    files = []
    for entry in location.fs.get_file_info(selector):
        name = entry.base_name
        if entry.type != pafs.FileType.File or name.startswith((".", "_")):
            continue
        if name.lower().endswith(suffixes) and (date is None or partition_of(entry.path) == date):
            files.append(entry.path)
    return sorted(files)


def write_table_atomically(location: Location, path: str, table: pa.Table) -> None:
    """Write a whole Parquet file so that readers see all of it or nothing.

    Local: write a hidden temporary file in the same folder, then rename it (atomic on POSIX).
    S3: one PUT (or a multipart upload completed in one call) publishes the object whole; a killed
    upload leaves no object, so writing to the final key is already atomic.
    """
    parent = path.rsplit("/", 1)[0]
    location.fs.create_dir(parent, recursive=True)
    if not location.is_local:
        pq.write_table(table, path, filesystem=location.fs)
        return
    temporary = f"{parent}/.tmp-{uuid.uuid4().hex}.parquet"
    pq.write_table(table, temporary, filesystem=location.fs)
    location.fs.move(temporary, path)


def committed_keys(location: Location, date: str | None = None) -> set[tuple[str, str]]:
    """(source_uri, image_id) of every row in committed output files: what a re-run may skip."""
    keys: set[tuple[str, str]] = set()
    for path in list_files(location, (".parquet",), date):
        table = pq.read_table(path, columns=list(RESUME_KEY), filesystem=location.fs)
        keys.update(zip(*(table.column(c).to_pylist() for c in RESUME_KEY), strict=True))
    return keys


def remove_leftovers(location: Location, date: str | None = None) -> int:
    """Delete temporary files a killed local run left behind; returns how many."""
    if not location.is_local:
        return 0
    root = Path(location.join(f"date={date}") if date else location.path)
    leftovers = list(root.rglob(".tmp-*.parquet")) if root.exists() else []
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def delete_partitions(location: Location, dates: list[str]) -> None:
    """`--overwrite`: remove the output partitions about to be redone."""
    for date in dates:
        root = location.join(f"date={date}")
        if location.fs.get_file_info(root).type != pafs.FileType.NotFound:
            location.fs.delete_dir(root)
