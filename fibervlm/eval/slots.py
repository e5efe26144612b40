"""Model outputs as text: JSON validity against the task's output model, and slot F1.

Validity is strict: the raw text must parse as JSON and validate as it is, before any repair
(the backfill's `vlm_valid`). Slots are counted as multisets per image: each defect's `type`, each
defect's `type+severity` (a severity counts only with its type) and the one `pass_fail`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ValidationError

from fibervlm.schemas import describe_validation_error

SLOT_NAMES: tuple[str, ...] = ("type", "severity", "pass_fail")
Failure = Literal["invalid_json", "schema"]


def parse_output(raw: str, model: type[BaseModel]) -> tuple[BaseModel | None, Failure | None, str]:
    """(parsed, failure kind, message): parsed is None exactly when the text is not a valid answer."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, TypeError) as error:
        return None, "invalid_json", str(error)
    try:
        return model.model_validate(data), None, ""
    except ValidationError as error:
        return None, "schema", describe_validation_error(error)


def slots_of(defects: Iterable[tuple[str, str]], pass_fail: str | None) -> dict[str, Counter]:
    """The slot multisets of one answer, from its (type, severity) pairs and verdict."""
    pairs = list(defects)
    return {
        "type": Counter(t for t, _ in pairs),
        "severity": Counter(f"{t}:{s}" for t, s in pairs),
        "pass_fail": Counter([pass_fail] if pass_fail else []),
    }


def slot_counts(pred: dict[str, Counter], gold: dict[str, Counter]) -> dict[str, tuple[int, int, int]]:
    """(tp, fp, fn) per slot name: matched values are the multiset intersection."""
    counts = {}
    for name in SLOT_NAMES:
        tp = sum((pred[name] & gold[name]).values())
        counts[name] = (tp, sum(pred[name].values()) - tp, sum(gold[name].values()) - tp)
    return counts


def sum_counts(rows: Sequence[dict[str, tuple[int, int, int]]]) -> dict[str, tuple[int, int, int]]:
    totals = {}
    for name in SLOT_NAMES:
        tp, fp, fn = (sum(row[name][k] for row in rows) for k in range(3))
        totals[name] = (tp, fp, fn)
    return totals
