"""Shadow mode: the default model (BEST) answers, a shadow model id (`candidate`) is recorded beside it.

The ingress starts a shadow call only after the client's answer is ready, as a background task, so the
client never waits for it; each shadowed image gets one line in `<output_dir>/shadow-<task>.jsonl` (both
versions, verdicts and defect counts, agreement) and one `fibervlm_shadow_requests` count. A shadow that
fails, is unknown or times out is recorded and counted as `failed`, never raised. Nothing here imports Ray:
the ingress passes the call (`send`) and the metrics in.

    >>> primary = {"model_id": "BEST", "registry_version": "v1", "status": "ok", "pass_fail": "PASS",
    ...            "n_defects": 0}
    >>> compare(primary, {**primary, "model_id": "candidate", "registry_version": "v2", "n_defects": 1})
    {'agree': True, 'same_n_defects': False}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from fibervlm.serve.config import ShadowConfig

log = logging.getLogger(__name__)

# (model id, image, options, request id) → the replica's outcome: {"inspection", "served"} or {"failure"}
Send = Callable[[str, Any, Any, str], Awaitable[dict[str, Any]]]


class Counts(Protocol):
    def record(self, shadow_model_id: str, outcome: str) -> None: ...


def answer(outcome: dict[str, Any]) -> dict[str, Any]:
    """What is compared of one model replica outcome: who answered, the verdict and the defect count."""
    if "failure" in outcome:
        return {"error": outcome["failure"]["code"]}
    inspection, served = outcome["inspection"], outcome["served"]
    report = inspection.get("report") or {}
    return {
        "model_id": served["model_id"],
        "registry_version": served["registry_version"],
        "status": inspection["status"],
        "pass_fail": report.get("pass_fail"),
        "n_defects": len(report.get("defects") or []),
    }


def verdict(row: dict[str, Any]) -> str | None:
    """PASS or FAIL when graded, else the status (`unsure`, `error`): unsure disagrees with a PASS."""
    return row["pass_fail"] if row["status"] == "ok" else row["status"]


def compare(primary: dict[str, Any], shadow: dict[str, Any]) -> dict[str, bool]:
    return {
        "agree": verdict(primary) == verdict(shadow),
        "same_n_defects": primary["n_defects"] == shadow["n_defects"],
    }


def log_path(config: ShadowConfig, task: str) -> Path:
    return Path(config.output_dir) / f"shadow-{task}.jsonl"


def append_record(path: Path, record: dict[str, Any]) -> None:
    """One `write` on an O_APPEND descriptor per record: lines of several writers never interleave."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def agreement(path: str | Path, *, shadow_version: str | None = None) -> dict[str, Any]:
    """The shadow log's agreement, e.g. for a promotion: `rate` = agreed / compared (None if none).

    `shadow_version`: only the records whose shadow answer came from that registry version.
    """
    counts = {"compared": 0, "agreed": 0, "same_n_defects": 0, "failed": 0}
    lines = Path(path).read_text().splitlines() if Path(path).is_file() else []
    for record in map(json.loads, lines):
        shadow = record["shadow"]
        if shadow_version is not None and shadow.get("registry_version") != shadow_version:
            continue
        if "error" in shadow:
            counts["failed"] += 1
            continue
        counts["compared"] += 1
        counts["agreed"] += record["agree"]
        counts["same_n_defects"] += record["same_n_defects"]
    rate = counts["agreed"] / counts["compared"] if counts["compared"] else None
    return {**counts, "rate": rate}


class Shadow:
    """Starts bounded, sampled shadow calls and records what they answered (one per ingress)."""

    def __init__(self, config: ShadowConfig, *, task: str, send: Send, metrics: Counts) -> None:
        if config.model_id is None:
            raise ValueError("shadow mode needs shadow.model_id")
        self.model_id = config.model_id
        self.config = config
        self.send = send
        self.metrics = metrics
        self.path = log_path(config, task)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references

    def start(
        self, request_id: str, image_id: str, image: Any, options: Any, primary: dict[str, Any]
    ) -> None:
        """Shadow one answered image in the background (if sampled and there is room); returns at once."""
        if random.random() >= self.config.fraction:
            return
        if len(self._tasks) >= self.config.max_in_flight:
            self.metrics.record(self.model_id, "skipped")
            return
        task = asyncio.get_running_loop().create_task(
            self._run(request_id, image_id, image, options, answer(primary))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, request_id: str, image_id: str, image: Any, options: Any, primary: dict[str, Any]
    ) -> None:
        try:
            shadow = answer(await self.send(self.model_id, image, options, request_id))
        except Exception:  # the shadow's failure is only ever recorded: the client has its answer
            log.exception("request %s: shadow call to %r failed", request_id, self.model_id)
            shadow = {"error": "shadow_call_failed"}
        compared = compare(primary, shadow) if "error" not in shadow else {}
        record = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "request_id": request_id,
            "image_id": image_id,
            "primary": primary,
            "shadow": {"model_id": self.model_id, **shadow},
            **compared,
        }
        outcome = "failed" if not compared else "agreed" if compared["agree"] else "disagreed"
        self.metrics.record(self.model_id, outcome)
        try:
            append_record(self.path, record)
        except OSError:  # a full or missing volume must not break serving: the metric still counts it
            log.exception("request %s: cannot append the shadow record to %s", request_id, self.path)
