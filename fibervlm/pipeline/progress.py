"""The backfill's one progress display: images graded so far, counted by the grade stage, drawn by the driver.

Ray Data's own bars count blocks per operator, and a write's total counts write tasks, not images; the
grade stage finishes each image, so it adds its batch's rows to a `RowCounter` actor that the driver polls.
"""

from __future__ import annotations

import threading
import time
from typing import Any, TextIO

import ray


@ray.remote(num_cpus=0)
class RowCounter:
    """How many rows the stages that report here have finished (an actor: they run in other processes)."""

    def __init__(self) -> None:
        self.rows = 0

    def add(self, rows: int) -> None:
        self.rows += rows

    def value(self) -> int:
        return self.rows


def progress_text(done: int, total: int | None, elapsed_s: float) -> str:
    """One line of the display.

    >>> progress_text(3, 12, 65.2)
    'images 3/12 [#####---------------]  25% · 1:05'
    >>> progress_text(3, None, 5)
    'images 3 · 0:05'
    """
    clock = f"{int(elapsed_s) // 60}:{int(elapsed_s) % 60:02d}"
    if not total:
        return f"images {done} · {clock}"
    filled = round(20 * min(done, total) / total)
    return f"images {done}/{total} [{'#' * filled}{'-' * (20 - filled)}] {done / total:4.0%} · {clock}"


class ProgressLine:
    """Polls a `RowCounter` from a thread while the run executes: redrawn in place on a terminal, one line
    per 10 % otherwise (a log file or CI output should not fill with carriage returns)."""

    def __init__(self, counter: Any, total: int | None, stream: TextIO, *, interval_s: float = 0.5) -> None:
        self.counter, self.total, self.stream, self.interval_s = counter, total, stream, interval_s
        self.interactive = stream.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fibervlm-progress", daemon=True)
        self._start = time.monotonic()
        self._printed: tuple[int, int] | None = None  # (tenth, rows) of the last line printed

    def __enter__(self) -> ProgressLine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._draw(final=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._draw(final=False)

    def _draw(self, *, final: bool) -> None:
        done = ray.get(self.counter.value.remote())
        text = progress_text(done, self.total, time.monotonic() - self._start)
        if self.interactive:
            self.stream.write(f"\r  {text}" + ("\n" if final else ""))
        elif self._news(done, final):
            self.stream.write(f"  {text}\n")
        self.stream.flush()

    def _news(self, done: int, final: bool) -> bool:
        """Non-interactive: a line at each new tenth, and a last one unless it would repeat."""
        tenth = 10 * done // self.total if self.total else done
        last = self._printed
        news = last is None or (done != last[1] if final else tenth != last[0])
        if news:
            self._printed = (tenth, done)
        return news
