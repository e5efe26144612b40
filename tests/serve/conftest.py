"""One deployment of the real Serve app for the whole folder: a registry with a tiny model, 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from servekit import API_KEY, Served, free_port, png_bytes, publish_adapter, publish_tiny

from fibervlm.paths import REPO_ROOT


@pytest.fixture(scope="session")
def served(ray_local, tmp_path_factory) -> Iterator[Served]:
    """The app deployed from configs/serve.yaml (as `serve run` does), on a free port of 127.0.0.1."""
    from ray import serve

    from fibervlm.registry import promote
    from fibervlm.serve.runner import deploy, load_serve_file, with_port

    root = str(tmp_path_factory.mktemp("registry"))
    promote(root, "endface", publish_tiny(root, accuracy=0.5))
    overrides = [
        f"registry_root={root}",
        f"api_key={API_KEY}",
        "batching.batch_wait_timeout_s=0.05",
        "inspector.vlm.max_new_tokens=64",  # a short answer budget: tests check plumbing, not prose
        "autoscaling.max_replicas=1",  # a second replica on a 2-core box only slows the tests down
        "limits.request_timeout_s=600",  # the 50-request burst queues for minutes on a loaded box
        "load.max_queued_requests=100",  # ... and must not be shed (tests/serve/test_shedding.py sheds)
        "registry_poll_s=1",  # promotions go live within a second (tests/serve/test_promotion.py)
    ]
    schema = with_port(load_serve_file(REPO_ROOT / "configs" / "serve.yaml", overrides), free_port())
    url = deploy(schema)
    yield Served(url=url, root=root, schema=schema)
    serve.shutdown()


@pytest.fixture(scope="session")
def side(served, tmp_path_factory) -> Iterator[dict[str, str]]:
    """A second app beside `served`, at /side: three LoRA adapters of one base (A is BEST, B is
    `candidate`, C only by its version), two models per replica, and a queue of one image in flight
    plus one waiting, so that a burst is shed (test_multiplex.py, test_shedding.py)."""
    from ray import serve

    from fibervlm.registry import promote, set_alias
    from fibervlm.serve.app import build
    from fibervlm.serve.config import ServeConfig

    root = str(tmp_path_factory.mktemp("adapters"))
    a, b, c = (publish_adapter(root, seed=seed) for seed in (1, 2, 3))
    promote(root, "endface", a)
    set_alias(root, "endface", "candidate", b)
    config = ServeConfig(
        registry_root=root,
        api_key=API_KEY,
        autoscaling={"min_replicas": 1, "max_replicas": 1},
        adapters={"max_per_replica": 2},
        batching={"max_batch_size": 1, "batch_wait_timeout_s": 0},
        load={"max_ongoing_requests": 1, "max_queued_requests": 1, "retry_after_s": 3},
        inspector={"vlm": {"max_new_tokens": 48}},
        model_num_cpus=0.1,
    )
    serve.run(build(config), name="side", route_prefix="/side", blocking=False)
    yield {"url": f"{served.url}/side", "root": root, "A": a, "B": b, "C": c}
    serve.delete("side")


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, headers={"X-API-Key": API_KEY}, timeout=60) as http:
        yield http


@pytest.fixture(scope="session")
def endface_png() -> tuple[bytes, object]:
    """A synthetic sm-pc end face (PNG bytes) and its exact ground-truth report."""
    from fibervlm.synth import SynthConfig, sample_endface

    small = SynthConfig(width_px=320, height_px=240, um_per_px=(0.9, 1.0))  # cheap for the classical stage
    image, report = sample_endface(seed=7, index=0, profile="sm-pc", config=small)
    return png_bytes(image), report
