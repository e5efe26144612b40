"""Grammar-constrained decoding: every answer of a random-weight model validates; without it, flagged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xgrammar as xgr

from fibervlm.paths import demo_vlm
from fibervlm.tasks import get_task
from fibervlm.vlm import ModelPreset, VlmPredictor, load_model, parse_answer
from fibervlm.vlm.constrained import (
    BatchedLogitsProcessor,
    GrammarCache,
    max_answer_tokens,
    schema_grammar,
)

SCHEMA = get_task("endface").json_schema


@pytest.mark.slow
def test_200_constrained_answers_are_all_schema_valid(
    tiny_presets: dict[str, ModelPreset], images_200: list[np.ndarray]
) -> None:
    predictor = VlmPredictor(tiny_presets["qwen2_5_vl"], batch_size=50, num_threads=1)
    results = predictor(images_200)
    assert len(results) == 200
    invalid = [(i, r.error, r.raw[:80]) for i, r in enumerate(results) if not r.valid]
    assert not invalid, invalid[:3]
    assert len({r.raw for r in results}) > 5  # answers depend on the image: not one canned string
    assert all(r.n_tokens <= predictor.max_new_tokens for r in results)


def test_unconstrained_invalid_answers_are_kept_raw_and_flagged(
    tiny_presets: dict[str, ModelPreset], images: list[np.ndarray]
) -> None:
    predictor = VlmPredictor(
        tiny_presets["qwen2_5_vl"], batch_size=4, constrained=False, max_new_tokens=24, num_threads=1
    )
    results = predictor(images[:4])
    assert len(results) == 4
    for result in results:
        assert not result.valid and result.report is None and result.raw
        assert result.error is not None and "cut at max_new_tokens=24" in result.error


def _accepts(matcher_grammar: object, tokenizer: object, text: str, stop_id: int) -> bool:
    matcher = xgr.GrammarMatcher(matcher_grammar)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    return all(matcher.accept_token(i) for i in ids) and matcher.accept_token(stop_id)


def test_grammar_refuses_control_characters_and_overlong_strings(
    tiny_presets: dict[str, ModelPreset],
) -> None:
    loaded = load_model(tiny_presets["qwen2_5_vl"], device="cpu")
    stop_id = loaded.tokenizer.convert_tokens_to_ids("<|im_end|>")
    info = xgr.TokenizerInfo.from_huggingface(
        loaded.tokenizer, vocab_size=loaded.vocab_size, stop_token_ids=[stop_id]
    )
    grammar = xgr.GrammarCompiler(info).compile_grammar(schema_grammar(SCHEMA))
    head = '{"defects": [{"type": "dig", "bbox": [1, 2, 3, 1000], "severity": "low"}], "pass_fail": "FAIL", '
    assert _accepts(grammar, loaded.tokenizer, head + '"explanation": "One dig [B]."}', stop_id)
    assert not _accepts(grammar, loaded.tokenizer, head + '"explanation": "a\x13b"}', stop_id)
    assert not _accepts(grammar, loaded.tokenizer, head + '"explanation": "' + "a" * 201 + '"}', stop_id)
    assert not _accepts(
        grammar, loaded.tokenizer, head.replace("1000", "1001") + '"explanation": ""}', stop_id
    )


def test_answer_bound_is_the_longest_answer() -> None:
    defect = '{"type": "contamination", "bbox": [1000, 1000, 1000, 1000], "severity": "critical"}'
    longest = '{"defects": [' + ", ".join([defect] * 16) + '], "pass_fail": "PASS", "explanation": "'
    longest += "x" * 200 + '"}'
    assert parse_answer(longest, get_task("endface").output_model).valid
    assert max_answer_tokens(SCHEMA) == len(longest) + 1


def test_parse_answer_says_why() -> None:
    model = get_task("endface").output_model
    assert parse_answer("{oops", model).error.startswith("not JSON")  # type: ignore[union-attr]
    bad = '{"defects": [], "pass_fail": "MAYBE", "explanation": ""}'
    parsed = parse_answer(bad, model)
    assert not parsed.valid and parsed.error is not None and "pass_fail" in parsed.error


class _RowwiseAndBatched:
    """Runs xgrammar's row-by-row processor and ours on every step of one real generate call."""

    def __init__(self, compiled: object) -> None:
        from xgrammar.contrib.hf import LogitsProcessor

        self.rowwise, self.batched = LogitsProcessor(compiled), BatchedLogitsProcessor(compiled)
        self.steps = 0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        expected = self.rowwise(input_ids, scores.clone())
        masked = self.batched(input_ids, scores)
        assert torch.equal(self.rowwise.token_bitmask, self.batched.token_bitmask), f"step {self.steps}"
        assert torch.equal(expected, masked)
        self.steps += 1
        return masked


def test_batched_masks_equal_the_row_by_row_masks(
    images: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo model answers in a few dozen tokens and its rows stop at different steps, so finished
    # rows (kept out of the batched fill) are exercised too.
    processors: list[_RowwiseAndBatched] = []

    def both(self: GrammarCache, schema: dict[str, object]) -> _RowwiseAndBatched:
        processors.append(_RowwiseAndBatched(self.compiled(schema)))
        return processors[-1]

    monkeypatch.setattr(GrammarCache, "logits_processor", both)
    results = VlmPredictor(demo_vlm(), batch_size=8, num_threads=1)(images[:8])
    assert all(r.valid for r in results)
    assert len(processors) == 1 and processors[0].steps == max(r.n_tokens for r in results)
    assert len({r.n_tokens for r in results}) > 1, "rows that stop at different steps"
