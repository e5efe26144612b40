"""The VLM's own confidence: the token probabilities `generate` reports are the model's, and the answer's
confidence is the probability of its two decisions (defect list empty or not, PASS or FAIL)."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from fibervlm.paths import demo_vlm
from fibervlm.synth import SynthConfig, sample_endface
from fibervlm.vlm import VlmPredictor, build_messages
from fibervlm.vlm.backend import VlmRequest
from fibervlm.vlm.confidence import answer_confidence, decision_tokens

DEMO_FACES = SynthConfig(
    width_px=112, height_px=112, um_per_px=(1.25, 1.35), appearance="standard", max_offset_frac=0.0,
    profile_weights={"sm-pc": 1.0}, clean_fraction=0.5, defects_per_face=(1, 2),
    type_weights={"dig": 1.0}, zone_weights={"A": 0.3, "B": 0.7},
)  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> VlmPredictor:
    return VlmPredictor(demo_vlm(), batch_size=4, num_threads=1)


def _request(predictor: VlmPredictor, index: int) -> VlmRequest:
    image, truth = sample_endface(3, index, config=DEMO_FACES)
    shown, _ = predictor._view(Image.fromarray(image).convert("RGB"), truth.zones)  # what the predictor shows
    return VlmRequest(build_messages(predictor.task.prompt), [shown])


def _teacher_forced_probs(predictor: VlmPredictor, request: VlmRequest, token_ids: list[int]) -> list[float]:
    """The model's probability of each generated token, from ONE forward pass over prompt + answer."""
    backend = predictor.backend
    inputs = backend._encode([request])
    answer = torch.tensor([token_ids])
    fed = dict(inputs)
    fed["input_ids"] = torch.cat([inputs["input_ids"], answer], dim=1)
    fed["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(answer)], dim=1)
    if "mm_token_type_ids" in fed:  # text tokens: type 0
        fed["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(answer)], dim=1)
    with torch.inference_mode():
        logits = backend.loaded.model(**fed).logits[0].float()  # (prompt + answer, vocab)
    start = inputs["input_ids"].shape[1] - 1  # the logits at position p predict token p + 1
    steps = logits[start : start + len(token_ids)].log_softmax(-1)
    return steps.gather(-1, answer[0][:, None])[:, 0].exp().tolist()


def test_token_probabilities_are_the_models_own(demo: VlmPredictor) -> None:
    request = _request(demo, 1)
    [free] = demo.backend.generate([request], schema=None, max_new_tokens=demo.max_new_tokens)
    assert free.token_probs == pytest.approx(
        _teacher_forced_probs(demo, request, list(free.token_ids)), abs=1e-4
    )
    # under the grammar a token's probability is among the tokens it allowed: never below the model's
    # own, and 1 where the grammar left one choice (the answer's first token opens the object)
    [bound] = demo.backend.generate(
        [request], schema=demo.task.json_schema, max_new_tokens=demo.max_new_tokens
    )
    raw = _teacher_forced_probs(demo, request, list(bound.token_ids))
    assert all(b >= r - 1e-5 for b, r in zip(bound.token_probs, raw, strict=True))
    assert bound.token_probs[0] == pytest.approx(1.0)
    assert len(bound.token_ends) == bound.n_tokens and bound.token_ends[-1] == len(bound.text)


def test_the_answer_confidence_is_the_probability_of_its_decisions(demo: VlmPredictor) -> None:
    faces = [sample_endface(3, index, config=DEMO_FACES) for index in range(4)]
    requests = [_request(demo, index) for index in range(4)]
    generations = demo.backend.generate(
        requests, schema=demo.task.json_schema, max_new_tokens=demo.max_new_tokens
    )
    results = demo([image for image, _ in faces], geometries=[truth.zones for _, truth in faces])
    for generation, result in zip(generations, results, strict=True):
        tokens = decision_tokens(generation.text, generation.token_ends)
        assert tokens is not None and len(tokens) == 2
        # the tokens found hold the first character of each decision: `]` or `{`, then `P` or `F`
        for token, choices in zip(tokens, ("]{", "PF"), strict=True):
            start = generation.token_ends[token - 1] if token else 0
            span = generation.text[start : generation.token_ends[token]]
            assert any(c in span for c in choices), (span, generation.text)
        expected = math.prod(generation.token_probs[i] for i in tokens)
        assert result.confidence == pytest.approx(expected, rel=1e-6) and 0 < expected <= 1


def test_no_decision_no_confidence() -> None:
    text = '{"defects": [], "pass_fa'  # cut before the verdict
    assert answer_confidence(text, [13, 15, len(text)], [1.0, 0.7, 1.0]) is None
    assert answer_confidence('{"defects": []}', [], []) is None  # a backend without probabilities
