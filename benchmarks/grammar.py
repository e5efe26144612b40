"""The grammar's cost per decoding step at batch 1, 8 and 32: xgrammar's row-by-row HF processor
against ours, which fills the batch's masks in one call (`BatchedLogitsProcessor`).

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python benchmarks/grammar.py

The bundled demo model answers 32 faces under the constraint once; each processor then replays those
answers step by step (the same token ids, fresh logits), so only the grammar's work is timed. The demo
model's vocabulary is small (~600 tokens); a real one (Qwen's 151k) costs more per mask.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import torch

from fibervlm.paths import demo_vlm
from fibervlm.synth import SynthConfig, sample_endface
from fibervlm.tasks import get_task
from fibervlm.vlm import VlmRequest, build_messages, load_model
from fibervlm.vlm.backend import TransformersBackend
from fibervlm.vlm.constrained import BatchedLogitsProcessor
from fibervlm.vlm.prompting import to_pil

TASK = get_task("endface")


def faces(n: int) -> list[Any]:
    config = SynthConfig(width_px=160, height_px=120, um_per_px=(1.2, 1.5))
    return [sample_endface(7, i, config=config)[0] for i in range(n)]


def constrained_answers(backend: TransformersBackend, n: int) -> list[list[int]]:
    """Token ids of n constrained answers, stop token included."""
    requests = [VlmRequest(build_messages(TASK.prompt, None), [to_pil(face)]) for face in faces(n)]
    generations = backend.generate(requests, schema=TASK.json_schema, max_new_tokens=256)
    return [list(g.token_ids) for g in generations]


def ms_per_step(make: Callable[[], Any], answers: list[list[int]], vocab: int) -> float:
    """Replay the answers (padded with their last token) through a new processor; ms per step."""
    steps = max(len(a) for a in answers)
    ids = torch.tensor([a + a[-1:] * (steps - len(a)) for a in answers])  # (batch, steps)
    processor, elapsed = make(), 0.0
    for t in range(steps):
        scores = torch.randn(len(answers), vocab)
        start = time.perf_counter()
        processor(ids[:, :t] if t else ids[:, :1], scores)
        elapsed += time.perf_counter() - start
    return 1000.0 * elapsed / steps


def main() -> None:
    from xgrammar.contrib.hf import LogitsProcessor

    torch.set_num_threads(1)
    backend = TransformersBackend(load_model(demo_vlm(), device="cpu"))
    compiled = backend._grammar().compiled(TASK.json_schema)
    answers = constrained_answers(backend, 32)
    for batch in (1, 8, 32):
        rows = answers[:batch]
        rowwise = ms_per_step(lambda: LogitsProcessor(compiled), rows, backend.loaded.vocab_size)
        batched = ms_per_step(lambda: BatchedLogitsProcessor(compiled), rows, backend.loaded.vocab_size)
        print(
            json.dumps(
                {
                    "batch": batch,
                    "rowwise_ms_per_step": round(rowwise, 3),
                    "batched_ms_per_step": round(batched, 3),
                }
            )
        )


if __name__ == "__main__":
    main()
