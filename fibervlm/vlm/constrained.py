"""Grammar-constrained JSON decoding with xgrammar, and parsing answers into the task's model.

The task's JSON Schema becomes a grammar once per (tokenizer, vocabulary size, schema) and a fresh
`BatchedLogitsProcessor` is made for every `generate` call (it holds per-row matchers).

Bounded integers, `maxItems`, `maxLength` and enums make the language finite: `max_answer_tokens`
gives a budget under which every constrained answer completes, so none is ever cut short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from fibervlm.schemas import describe_validation_error, stable_hash

# xgrammar 0.2.8 writes a `maxLength` string's characters as this class, which admits raw control
# characters (invalid JSON: seen from random-weight models). We use printable ASCII without `"` and
# `\` instead: always valid JSON, and one byte per character, which bounds the answer's length.
_XGRAMMAR_STRING_CHAR = r"[^\"\\\r\n]"
_SAFE_STRING_CHAR = r"[ !#-\[\]-~]"
SEPARATORS = (", ", ": ")  # what xgrammar emits with any_whitespace=False


def schema_grammar(schema: dict[str, Any]) -> str:
    """The EBNF grammar of compact JSON answers to `schema`, with safe string characters."""
    import xgrammar as xgr

    ebnf = str(xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False))
    return ebnf.replace(_XGRAMMAR_STRING_CHAR, _SAFE_STRING_CHAR)


class GrammarCache:
    """Compiled grammars of one tokenizer by schema hash; vocab size from the model, not len(tokenizer)."""

    def __init__(self, tokenizer: Any, *, vocab_size: int, stop_token_ids: list[int]) -> None:
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids
        )
        self._compiler = xgr.GrammarCompiler(info)
        self._compiled: dict[str, Any] = {}

    def compiled(self, schema: dict[str, Any]) -> Any:
        key = stable_hash(schema)
        if key not in self._compiled:
            self._compiled[key] = self._compiler.compile_grammar(schema_grammar(schema))
        return self._compiled[key]

    def logits_processor(self, schema: dict[str, Any]) -> BatchedLogitsProcessor:
        """A NEW processor: its matchers are per generate call and per row."""
        return BatchedLogitsProcessor(self.compiled(schema))


class BatchedLogitsProcessor:
    """xgrammar's constraint in `generate`, every row's token bitmask filled in one batched call.

    `xgrammar.contrib.hf.LogitsProcessor` fills the rows one after another in a Python loop, so its
    cost per step grows with the batch (+27 % per step at batch 32 on an H200, issue 19);
    `BatchGrammarMatcher` fills them on xgrammar's own thread pool. Same masks, row for row
    (tests/vlm/test_constrained.py). One instance per `generate` call: its matchers follow one batch.
    """

    def __init__(self, compiled: Any) -> None:
        import xgrammar as xgr

        self._compiled = compiled
        self._batch = xgr.BatchGrammarMatcher("auto")  # one thread per core
        self._matchers: list[Any] = []
        self.token_bitmask: Any = None  # (batch, ceil(vocab / 32)) int32, on the CPU

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """input_ids: (batch, length) so far; scores: (batch, vocab) logits of the next token."""
        import xgrammar as xgr

        if not self._matchers:  # the first step: nothing sampled yet
            self._matchers = [xgr.GrammarMatcher(self._compiled) for _ in range(input_ids.shape[0])]
            self.token_bitmask = xgr.allocate_token_bitmask(
                len(self._matchers), self._compiled.tokenizer_info.vocab_size
            )
        else:
            self._accept(input_ids[:, -1].tolist())
        live = [i for i, matcher in enumerate(self._matchers) if not matcher.is_terminated()]
        # Finished rows keep their last mask: generate pads them, and their scores are never used.
        self._batch.batch_fill_next_token_bitmask(
            [self._matchers[i] for i in live], self.token_bitmask, indices=live
        )
        masked = scores.to("cpu") if scores.device.type != "cuda" else scores
        xgr.apply_token_bitmask_inplace(masked, self.token_bitmask.to(masked.device))
        return masked.to(scores.device)

    def _accept(self, last_tokens: list[int]) -> None:
        import xgrammar as xgr

        live = [i for i, matcher in enumerate(self._matchers) if not matcher.is_terminated()]
        accepted = xgr.BatchGrammarMatcher.batch_accept_token(
            [self._matchers[i] for i in live], [last_tokens[i] for i in live]
        )
        refused = [i for i, ok in zip(live, accepted, strict=True) if not ok]
        if refused:
            raise RuntimeError(f"rows {refused}: the grammar refused a token it had allowed")


def max_answer_tokens(schema: dict[str, Any]) -> int:
    """An upper bound on a constrained answer's tokens: its longest JSON in bytes, plus the stop token.

    Byte-level tokens are at least one byte each and constrained strings are ASCII.
    """
    return _longest(schema, schema.get("$defs", {})) + 1


def _longest(node: dict[str, Any], defs: dict[str, Any]) -> int:
    """Bytes of the longest compact JSON instance of a bounded schema node."""
    if "$ref" in node:
        return _longest(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in node:
        return max(len(json.dumps(v)) for v in node["enum"])
    if "const" in node:  # a one-value Literal, e.g. the drawings task's unit "mm"
        return len(json.dumps(node["const"]))
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties", {})
        keys = sum(len(json.dumps(k)) + len(SEPARATORS[1]) for k in props)
        commas = len(SEPARATORS[0]) * max(0, len(props) - 1)
        return 2 + keys + commas + sum(_longest(v, defs) for v in props.values())
    if kind == "array":
        n = node["maxItems"]
        return 2 + n * _longest(node["items"], defs) + len(SEPARATORS[0]) * max(0, n - 1)
    if kind == "integer":
        return max(len(str(node["minimum"])), len(str(node["maximum"])))
    if kind == "string":
        return 2 + node["maxLength"]
    if kind == "boolean":
        return 5
    raise ValueError(f"schema node {node} is unbounded: add bounds so answers have a finite length")


@dataclass(frozen=True)
class Parsed:
    report: BaseModel | None
    valid: bool
    error: str | None


def parse_answer(raw: str, output_model: type[BaseModel]) -> Parsed:
    """Validate a raw answer against the task's model; never raises (invalid answers are kept and flagged)."""
    text = raw.strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return Parsed(None, False, f"not JSON: {error.msg} at char {error.pos}")
    try:
        return Parsed(output_model.model_validate(data), True, None)
    except ValidationError as error:
        return Parsed(None, False, f"schema: {describe_validation_error(error)}")
