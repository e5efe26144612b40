"""Factories for the stage-1 tests: synthetic end faces, a network guard, one tiny trained detector."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fibervlm.synth import write_dataset


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like never leave the machine
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it is already a network access


def _is_ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%")[0])
        return True
    except ValueError:
        return False


@contextmanager
def network_guard() -> Iterator[list[str]]:
    """Any attempt to reach another host raises and is recorded; the caller asserts there were none.

    A guard around the test, not a stand-in for the code under test: nothing is faked, connections
    to anywhere but loopback simply fail, as on an air-gapped machine.
    """
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(f"connect {address}")
            raise OSError(f"network is unreachable in this test: {address}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(f"connect_ex {address}")
            return errno.ENETUNREACH
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if not (_is_loopback(name) or _is_ip_literal(name)):  # an IP literal needs no DNS
            attempts.append(f"getaddrinfo {host}")
            raise socket.gaierror(f"name resolution is off in this test: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield attempts


@pytest.fixture
def no_network() -> Iterator[list[str]]:
    with network_guard() as attempts:
        yield attempts


@pytest.fixture(scope="session")
def synth_train(tmp_path_factory) -> Path:
    """`labels.jsonl` of 16 synthetic end faces (seed 0)."""
    out = tmp_path_factory.mktemp("synth-train")
    return Path(write_dataset(out=out, n=16, seed=0)["labels"])


@pytest.fixture(scope="session")
def synth_test(tmp_path_factory) -> Path:
    """`labels.jsonl` of 6 other synthetic end faces (seed 1)."""
    out = tmp_path_factory.mktemp("synth-test")
    return Path(write_dataset(out=out, n=6, seed=1)["labels"])


@pytest.fixture(scope="session")
def yolo_data(synth_train, tmp_path_factory):
    from fibervlm.detect.dataset import export_yolo_dataset

    return export_yolo_dataset(
        labels=synth_train, out=tmp_path_factory.mktemp("yolo-data"), val_fraction=0.25
    )


@pytest.fixture(scope="session")
def tiny_detector(yolo_data, tmp_path_factory) -> tuple[Path, list[str]]:
    """YOLO11n trained 2 epochs at 128 px on 12 images, with the network unreachable: (weights, attempts)."""
    from fibervlm.detect.yolo import train_detector

    with network_guard() as attempts:
        weights = train_detector(
            data=yolo_data.data_yaml, out=tmp_path_factory.mktemp("yolo-run"), epochs=2, imgsz=128, batch=4
        )
    return weights, attempts
