"""The registry: publish, list, show, promote by margin, atomic BEST, local and s3 (moto) roots."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from fibervlm.registry import (
    RegistryError,
    best_version,
    list_versions,
    promote,
    publish,
    resolve_best,
    show,
)

MANIFEST = {
    "base_model": "tiny-qwen2-vl",
    "data_hash": "abc123",
    "config": {"lr": 0.001},
    "git_revision": "deadbeef",
}


def _adapter(tmp_path: Path, marker: str) -> Path:
    folder = tmp_path / f"adapter-{marker}"
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"marker": marker}))
    (folder / "sub" / "weights.bin").write_bytes(marker.encode() * 10)
    return folder


def _publish(root: str, tmp_path: Path, accuracy: float, marker: str) -> str:
    return publish(
        root,
        "endface",
        metrics={"pass_fail_accuracy": accuracy},
        manifest=MANIFEST,
        source_dir=_adapter(tmp_path, marker),
        version=f"v-{marker}",
    )


def test_publish_list_show_round_trip(tmp_path: Path) -> None:
    root = str(tmp_path / "reg")
    version = _publish(root, tmp_path, 0.8, "a")
    [info] = list_versions(root, "endface")
    assert info.version == version and info.metrics == {"pass_fail_accuracy": 0.8}
    assert info.manifest["base_model"] == "tiny-qwen2-vl" and info.manifest["git_revision"] == "deadbeef"
    assert (Path(info.uri) / "sub" / "weights.bin").read_bytes() == b"a" * 10
    assert not info.is_best
    with pytest.raises(RegistryError, match="already published"):
        _publish(root, tmp_path, 0.9, "a")
    with pytest.raises(RegistryError, match="no promoted version"):
        resolve_best(root, "endface")


def test_promotion_needs_to_beat_best_by_margin(tmp_path: Path) -> None:
    root = str(tmp_path / "reg")
    first = _publish(root, tmp_path, 0.80, "first")
    assert promote(root, "endface", first, margin=0.02).promoted  # nothing to beat yet

    worse = _publish(root, tmp_path, 0.70, "worse")
    decision = promote(root, "endface", worse, margin=0.02)
    assert not decision.promoted and decision.previous == first and "kept" in decision.reason
    assert best_version(root, "endface") == first

    marginal = _publish(root, tmp_path, 0.81, "marginal")
    assert not promote(root, "endface", marginal, margin=0.02).promoted

    better = _publish(root, tmp_path, 0.90, "better")
    decision = promote(root, "endface", better, margin=0.02)
    assert decision.promoted and decision.previous_value == pytest.approx(0.80)
    assert resolve_best(root, "endface") == f"{root}/endface/{better}"
    assert show(root, "endface").version == better and show(root, "endface").is_best
    assert {v.version for v in list_versions(root, "endface") if v.is_best} == {better}


def test_lower_is_better_metric_and_missing_metric(tmp_path: Path) -> None:
    root = str(tmp_path / "reg")
    a = publish(root, "endface", metrics={"loss": 0.5}, manifest=MANIFEST, version="a")
    b = publish(root, "endface", metrics={"loss": 0.4}, manifest=MANIFEST, version="b")
    assert promote(root, "endface", a, metric="loss", higher_is_better=False).promoted
    assert promote(root, "endface", b, metric="loss", higher_is_better=False).promoted
    with pytest.raises(RegistryError, match="no numeric 'map50'"):
        promote(root, "endface", a, metric="map50")


def test_incomplete_version_is_invisible_and_not_promotable(tmp_path: Path) -> None:
    root = tmp_path / "reg"
    (root / "endface" / "half").mkdir(parents=True)
    (root / "endface" / "half" / "metrics.json").write_text('{"pass_fail_accuracy": 1.0}')
    assert list_versions(str(root), "endface") == []
    with pytest.raises(RegistryError, match="not a published version"):
        promote(str(root), "endface", "half")


def test_best_is_never_half_written(tmp_path: Path) -> None:
    """A reader polling BEST while it is replaced 200 times always parses a complete pointer."""
    root = str(tmp_path / "reg")
    versions = [_publish(root, tmp_path, 0.5, m) for m in ("x", "y")]
    promote(root, "endface", versions[0])
    pointer = tmp_path / "reg" / "endface" / "BEST"
    seen: set[str] = set()
    errors: list[Exception] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.add(json.loads(pointer.read_text())["version"])
            except Exception as error:  # a torn read would land here
                errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(200):
        promote(root, "endface", versions[i % 2], force=True)
    done.set()
    reader.join()
    assert errors == [] and seen == set(versions)
    assert sorted(p.name for p in pointer.parent.iterdir()) == [
        "BEST",
        *sorted(versions),
    ]  # no temp files left


def test_s3_root_through_moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("s3fs")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for key, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="models")
        import fsspec

        fsspec.config.conf.pop("s3", None)
        root = "s3://models/registry"
        low = _publish(root, tmp_path, 0.6, "low")
        high = _publish(root, tmp_path, 0.9, "high")
        assert promote(root, "endface", high).promoted
        assert not promote(root, "endface", low).promoted
        assert resolve_best(root, "endface") == f"{root}/endface/{high}"
        assert [v.version for v in list_versions(root, "endface")] == [high, low]
        body = (
            boto3.client("s3", endpoint_url=endpoint)
            .get_object(Bucket="models", Key=f"registry/endface/{high}/sub/weights.bin")["Body"]
            .read()
        )
        assert body == b"high" * 10
    finally:
        server.stop()
