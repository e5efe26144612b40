"""Fixtures of the pipeline tests: synthetic shards with broken files mixed in, and a local S3 server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_factories import DATE, N_GOOD, SMALL_FACES, bad_files, unseen_files

from fibervlm.synth import write_dataset


@pytest.fixture(scope="session")
def image_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`date=2026-11-20/shard-0000{0,1}/*.png`: 44 synthetic end faces, 1 blurred one, 5 broken files."""
    root = tmp_path_factory.mktemp("shards")
    write_dataset(
        out=root, n=N_GOOD, seed=3, fmt="images", shards=2, profile="sm-pc", date=DATE, config=SMALL_FACES
    )
    shard = root / f"date={DATE}" / "shard-00001"
    good = sorted(shard.glob("*.png"))[0].read_bytes()
    for name, data in {**bad_files(good), **unseen_files()}.items():
        (shard / name).write_bytes(data)
    return root


@pytest.fixture(scope="session")
def parquet_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`date=2026-11-20/part-0000{0,1}.parquet` with image bytes and a profile column (mixed profiles)."""
    root = tmp_path_factory.mktemp("parquet")
    write_dataset(
        out=root, n=16, seed=5, fmt="parquet", shards=2, profile="mixed", date=DATE, config=SMALL_FACES
    )
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Ray workers inherit the environment of the cluster's start, and the session's Ray may start before any
# S3 test runs: so the S3 settings are fixed at collection, and the server starts on that port when needed.
S3_PORT = _free_port()
for _key, _value in {
    "AWS_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}",
    "AWS_ACCESS_KEY_ID": "testing",  # moto accepts any key; never a real credential
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real HTTP S3 (moto) at AWS_ENDPOINT_URL (127.0.0.1); stopped at the end of the session."""
    from moto.server import ThreadedMotoServer

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    host, port = endpoint.removeprefix("http://").split(":")
    if host != "127.0.0.1":
        pytest.fail(f"AWS_ENDPOINT_URL={endpoint} is not a local test server")
    server = ThreadedMotoServer(ip_address=host, port=int(port))
    server.start()
    yield endpoint
    server.stop()
