"""Load test of the online endpoint: p50/p95 latency and requests/s, batching on vs off.

    nice -n 5 .venv/bin/python benchmarks/serve_load.py --duration-s 15 --out /tmp/serve_load.json

Deploys configs/serve.yaml on a local Ray (127.0.0.1, one model replica so that only batching differs)
with a throw-away registry holding the tiny Qwen2-VL model, then drives POST /v1/inspect with 1, 8 and
32 concurrent clients, first with `@serve.batch` at max_batch_size 8, then at 1 (batching off); then an
overload run (`--overload-clients`, default 200) against the batching deployment: shed requests must be
503s with Retry-After answered at once, accepted ones keep a bounded latency, no other errors.
The clients run in `--client-processes` processes (aiohttp, pre-encoded bodies), apart from this one, so
that hundreds of connections do not queue in one Python event loop; they still share the host's cores
with the service: numbers are for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import tempfile
import time
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample_pngs(n: int, width_px: int, height_px: int) -> list[bytes]:
    import io

    from PIL import Image

    from fibervlm.synth import SynthConfig, sample_endface

    # The cladding (125 µm) must fit the frame: coarser scale for smaller frames.
    um_per_px = 125 / (0.6 * min(width_px, height_px))
    config = SynthConfig(width_px=width_px, height_px=height_px, um_per_px=(um_per_px, um_per_px * 1.1))
    pngs = []
    for index in range(n):
        buffer = io.BytesIO()
        Image.fromarray(sample_endface(seed=5, index=index, profile="sm-pc", config=config)[0]).save(
            buffer, "PNG"
        )
        pngs.append(buffer.getvalue())
    return pngs


def make_registry() -> str:
    from fibervlm.registry import promote, publish
    from fibervlm.vlm import build_tiny

    root = tempfile.mkdtemp(prefix="fibervlm-bench-registry-")
    manifest = {"base_model": "tiny-qwen2-vl", "data_snapshot": "bench", "git_revision": "bench"}
    version = publish(root, "endface", metrics={"pass_fail_accuracy": 0.5}, manifest=manifest,
                      source_dir=build_tiny("qwen2_vl"))  # fmt: skip
    promote(root, "endface", version)
    return root


BOUNDARY = "fibervlm-bench-boundary"


def multipart(png: bytes) -> bytes:
    """One `image` part, encoded once: the clients only send bytes (no per-request encoding work)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="face.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    )
    return head.encode() + png + f"\r\n--{BOUNDARY}--\r\n".encode()


async def _clients(url: str, bodies: list[bytes], clients: int, duration_s: float, offset: int) -> dict:
    """`clients` loops posting images back to back for `duration_s` (aiohttp: little CPU per request)."""
    import aiohttp

    seen: dict = {"ok_ms": [], "shed_ms": [], "batch_sizes": [], "errors": 0, "no_retry_after": 0}
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    stop_at = time.perf_counter() + duration_s

    async def client(http: aiohttp.ClientSession, i: int) -> None:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            async with http.post(f"{url}/v1/inspect", data=bodies[i % len(bodies)], headers=headers) as r:
                body = await r.json()
                retry_after = r.headers.get("Retry-After")
            elapsed_ms = (time.perf_counter() - start) * 1000
            if r.status == 200:
                seen["ok_ms"].append(elapsed_ms)
                seen["batch_sizes"].append(body["served"]["batch_size"])
            elif r.status == 503 and body.get("code") == "overloaded":
                seen["shed_ms"].append(elapsed_ms)
                seen["no_retry_after"] += retry_after is None
                await asyncio.sleep(float(retry_after or 1))  # what a client should do
            else:
                seen["errors"] += 1
            i += 1

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=900)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http, offset + k) for k in range(clients)))
        seen["elapsed_s"] = time.perf_counter() - began
    return seen


def client_process(url: str, bodies: list[bytes], clients: int, duration_s: float, offset: int) -> dict:
    """One client process's share of the clients (a `multiprocessing` pool worker)."""
    return asyncio.run(_clients(url, bodies, clients, duration_s, offset))


def _percentile(ordered: list[float], q: float) -> float | None:
    return round(ordered[int(q * (len(ordered) - 1))], 1) if ordered else None


def drive(
    pool: Pool, processes: int, url: str, bodies: list[bytes], clients: int, duration_s: float
) -> dict[str, Any]:
    """`clients` concurrent clients spread over the pool's processes; latency of every answered request.

    The clients run outside the benchmark's own process, so that what is timed is the service, not one
    Python event loop juggling hundreds of connections.
    """
    processes = min(clients, processes)
    shares = [clients // processes + (k < clients % processes) for k in range(processes)]
    offsets = [sum(shares[:k]) for k in range(processes)]
    parts = pool.starmap(
        client_process, [(url, bodies, n, duration_s, o) for n, o in zip(shares, offsets, strict=True)]
    )
    ok = sorted(ms for p in parts for ms in p["ok_ms"])
    shed = sorted(ms for p in parts for ms in p["shed_ms"])
    batch_sizes = [b for p in parts for b in p["batch_sizes"]]
    return {
        "clients": clients,
        "requests": len(ok),
        "errors": sum(p["errors"] for p in parts),
        "rps": round(len(ok) / max(p["elapsed_s"] for p in parts), 2),
        "p50_ms": _percentile(ok, 0.5),
        "p95_ms": _percentile(ok, 0.95),
        "mean_batch": round(statistics.fmean(batch_sizes), 2) if batch_sizes else 0.0,
        "shed": len(shed),
        "shed_p50_ms": _percentile(shed, 0.5),
        "shed_p95_ms": _percentile(shed, 0.95),
        "shed_max_ms": round(shed[-1], 1) if shed else None,
        "shed_without_retry_after": sum(p["no_retry_after"] for p in parts),
    }


def start_ray(attempts: int = 3) -> None:
    """A local Ray; on a crowded host the raylet may miss Ray's fixed 30 s start window, so retry."""
    import ray

    # Ray starts its workers (the proxy and the replicas) at niceness +15; the client processes would then
    # take the cores from the service they time. At 0 the service and its clients are equally nice.
    os.environ.setdefault("RAY_worker_niceness", "0")
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
            return
        except Exception as error:
            if attempt == attempts:
                raise
            print(f"ray.init failed ({error}); retrying", flush=True)
            ray.shutdown()


def run(args: argparse.Namespace) -> list[dict]:
    import ray
    from ray import serve

    from fibervlm.serve.runner import deploy, load_serve_file, with_port

    # Spawned before Ray starts (no forked Ray threads); the clients stay up for every phase.
    pool = multiprocessing.get_context("spawn").Pool(args.client_processes)
    root = make_registry()
    bodies = [multipart(png) for png in sample_pngs(4, args.width_px, args.height_px)]
    start_ray()
    results = []
    port = free_port()  # one port for both phases: Serve keeps its first http_options

    def measure(url: str, clients: int, duration_s: float) -> dict[str, Any]:
        return drive(pool, args.client_processes, url, bodies, clients, duration_s)

    try:
        for label, batch_size in (("on", args.max_batch_size), ("off", 1)):
            overrides = [
                f"registry_root={root}",
                "api_key_env=",
                f"batching.max_batch_size={batch_size}",
                f"batching.batch_wait_timeout_s={args.batch_wait_s}",
                "autoscaling.min_replicas=1",
                "autoscaling.max_replicas=1",
                f"inspector.vlm.max_new_tokens={args.max_new_tokens}",
                "limits.request_timeout_s=600",
                f"classical_threads={args.classical_threads}",
                f"load.max_ongoing_requests={max(batch_size, args.max_ongoing)}",
                f"load.max_queued_requests={args.max_queued}",
            ]
            url = deploy(with_port(load_serve_file(REPO_ROOT / "configs" / "serve.yaml", overrides), port))
            measure(url, 4, args.warmup_s)  # load, JIT, caches
            for clients in args.concurrency:
                measured = measure(url, clients, args.duration_s)
                row = {"batching": label, "max_batch_size": batch_size, **measured}
                print(json.dumps(row), flush=True)
                results.append(row)
            histogram = httpx.get(f"{url}/v1/models", timeout=60).json()["batch_sizes"]
            print(json.dumps({"batching": label, "batch_size_histogram": histogram}), flush=True)
            if label == "on" and args.overload_clients:
                overload = measure(url, args.overload_clients, args.duration_s)
                row = {"batching": "on, overload", "max_batch_size": batch_size, **overload}
                print(json.dumps(row), flush=True)
                results.append(row)
            serve.delete("fibervlm")
    finally:
        pool.terminate()
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration-s", type=float, default=15.0, help="measured seconds per concurrency level"
    )
    parser.add_argument("--warmup-s", type=float, default=5.0, help="unmeasured seconds after each deploy")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients")
    parser.add_argument("--max-batch-size", type=int, default=8, help="max_batch_size with batching on")
    parser.add_argument("--batch-wait-s", type=float, default=0.1, help="batch_wait_timeout_s")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="VLM answer budget (tokens)")
    parser.add_argument("--width-px", type=int, default=640, help="synthetic image width")
    parser.add_argument("--height-px", type=int, default=480, help="synthetic image height")
    parser.add_argument("--classical-threads", type=int, default=2, help="classical_threads per replica")
    parser.add_argument("--max-ongoing", type=int, default=16, help="load.max_ongoing_requests")
    parser.add_argument("--max-queued", type=int, default=32, help="load.max_queued_requests")
    parser.add_argument("--overload-clients", type=int, default=200, help="overload run clients; 0: none")
    parser.add_argument("--client-processes", type=int, default=4, help="processes the clients run in")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = run(args)
    columns = "batching | clients | answered | req/s | p50 ms | p95 ms | batch | shed | shed p50/p95/max ms"
    columns += " | errors"
    print(f"\n| {columns} |\n" + "|---" * 10 + "|")
    for r in results:
        cells = ["batching", "clients", "requests", "rps", "p50_ms", "p95_ms", "mean_batch", "shed"]
        shed = "/".join(str(r[f"shed_{q}_ms"]) for q in ("p50", "p95", "max")) if r["shed"] else "–"
        print("| " + " | ".join(str(r[c]) for c in cells) + f" | {shed} | {r['errors']} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
