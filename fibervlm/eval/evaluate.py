"""`evaluate(preds, golds)`: every metric of the end-face task from two lists of report records.

A record is `{"image": ..., "image_id": ..., "report": {EndfaceReport}}` (synth's labels.jsonl shape);
a prediction may also carry `"raw": "<model text>"` and `"status": "error"`; `fibervlm inspect`'s
lines (`source`, `vlm_raw`) are read too. Predictions are paired with gold by `image_id`, else by
image path, else by file name when it is unambiguous.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ValidationError

from fibervlm.eval.detection import class_ap
from fibervlm.eval.io import read_records
from fibervlm.eval.matching import match_defects
from fibervlm.eval.result import (
    PRF,
    APMetrics,
    Counts,
    DetectionMetrics,
    EvalResult,
    PassFailMetrics,
    SizeMetrics,
    SlotMetrics,
    TypeAP,
    ValidityMetrics,
    ratio,
)
from fibervlm.eval.slots import SLOT_NAMES, parse_output, slot_counts, slots_of, sum_counts
from fibervlm.schemas import DEFECT_TYPES, EndfaceReport, describe_validation_error
from fibervlm.tasks import get_task

MAX_EXAMPLES = 5
TP, FP, FN = 0, 1, 2  # slots of a [tp, fp, fn] counter


@dataclass
class Pair:
    """One gold image and what was predicted for it."""

    name: str
    gold: EndfaceReport
    pred: EndfaceReport | None = None
    state: str = "missing"  # missing | error | unsure | ok
    raw: str | None = None
    answer: Any = None  # the model's parsed answer (the task's output model), if any
    has_model_output: bool = False


@dataclass
class _Alignment:
    pairs: list[Pair]
    n_unmatched: int = 0
    n_duplicate: int = 0
    n_by_name: int = 0
    invalid_reports: list[str] = field(default_factory=list)


def _name(row: dict) -> str:
    return image_of(row) or str(row.get("image_id") or "?")


def _gold_pairs(golds: Sequence[dict]) -> list[Pair]:
    pairs = []
    for number, row in enumerate(golds):
        try:
            pairs.append(Pair(name=_name(row), gold=EndfaceReport.model_validate(row["report"])))
        except (KeyError, TypeError):
            raise ValueError(f"gold row {number} ({_name(row)}): no `report`") from None
        except ValidationError as error:
            raise ValueError(
                f"gold row {number} ({_name(row)}): {describe_validation_error(error)}"
            ) from None
    return pairs


def _fill(pair: Pair, row: dict, output_model: type[BaseModel], alignment: _Alignment) -> None:
    pair.raw = row.get("raw") if "raw" in row else row.get("vlm_raw")  # `fibervlm inspect` says vlm_raw
    if row.get("status", "ok") != "error" and row.get("report") is not None:
        try:
            pair.pred = EndfaceReport.model_validate(row["report"])
            pair.state = pair.pred.status  # ok | unsure
        except ValidationError as error:
            alignment.invalid_reports.append(f"{pair.name}: {describe_validation_error(error)}")
    if pair.state not in ("ok", "unsure"):
        pair.state = "error"
    if pair.raw is not None:
        pair.answer, pair.has_model_output = parse_output(pair.raw, output_model)[0], True
    elif pair.pred is not None and pair.pred.vlm is not None:
        pair.answer, pair.has_model_output = pair.pred.vlm, True


def image_of(row: dict) -> str | None:
    """The image a record names: `image` (labels, predictions) or `source` (`fibervlm inspect` output)."""
    value = row.get("image") or row.get("source")
    return str(value) if value else None


class _GoldIndex:
    """Finds a prediction's gold row: by `image_id`, else by image path, else by file name when only
    one gold image has it (paths differ when predictions ran from another folder or bucket)."""

    def __init__(self, golds: Sequence[dict]) -> None:
        self.by_id: dict[str, int] = {}
        self.by_image: dict[str, int] = {}
        by_name: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(golds):
            image = image_of(row)
            if row.get("image_id"):
                self.by_id.setdefault(row["image_id"], i)
            if image:
                self.by_image.setdefault(image, i)
                by_name[PurePosixPath(image).name].append(i)
        self.by_name = {name: rows[0] for name, rows in by_name.items() if len(rows) == 1}
        self.n_by_name = 0

    def find(self, row: dict) -> int | None:
        image = image_of(row)
        if row.get("image_id") in self.by_id:
            return self.by_id[row["image_id"]]
        if image is None:
            return None
        if image in self.by_image:
            return self.by_image[image]
        index = self.by_name.get(PurePosixPath(image).name)
        self.n_by_name += index is not None
        return index


def _align(preds: Sequence[dict], golds: Sequence[dict], output_model: type[BaseModel]) -> _Alignment:
    """Pair every gold image with its first prediction row."""
    result = _Alignment(_gold_pairs(golds))
    index = _GoldIndex(golds)
    seen: set[int] = set()
    for row in preds:
        found = index.find(row)
        if found is None:
            result.n_unmatched += 1
        elif found in seen:
            result.n_duplicate += 1
        else:
            seen.add(found)
            _fill(result.pairs[found], row, output_model, result)
    result.n_by_name = index.n_by_name
    return result


def _detection(
    pairs: Sequence[Pair], iou_threshold: float
) -> tuple[DetectionMetrics, dict[str, list[float]]]:
    counts: dict[str, dict[str, list[int]]] = {
        "type": defaultdict(lambda: [0, 0, 0]),
        "zone": defaultdict(lambda: [0, 0, 0]),
    }
    size_errors: dict[str, list[float]] = defaultdict(list)
    for pair in pairs:
        preds = pair.pred.defects if pair.pred else []
        golds = pair.gold.defects
        result = match_defects(preds, golds, iou_threshold=iou_threshold)
        # a hit and a miss count in the true defect's type and zone, a false alarm in the prediction's
        outcomes = [(golds[m.gold], TP) for m in result.matches]
        outcomes += [(preds[p], FP) for p in result.unmatched_preds]
        outcomes += [(golds[g], FN) for g in result.unmatched_golds]
        for defect, slot in outcomes:
            counts["type"][defect.type][slot] += 1
            counts["zone"][defect.zone or "unknown"][slot] += 1
        for m in result.matches:
            size_errors[golds[m.gold].type].append(abs(preds[m.pred].size_um - golds[m.gold].size_um))
    totals = [sum(c[k] for c in counts["type"].values()) for k in (TP, FP, FN)]
    metrics = DetectionMetrics(
        iou_threshold=iou_threshold,
        overall=PRF.of(*totals),
        per_type={t: PRF.of(*counts["type"][t]) for t in DEFECT_TYPES if t in counts["type"]},
        per_zone={z: PRF.of(*c) for z, c in sorted(counts["zone"].items())},
    )
    return metrics, size_errors


def _ap(pairs: Sequence[Pair]) -> APMetrics:
    preds = [pair.pred.defects if pair.pred else [] for pair in pairs]
    golds = [pair.gold.defects for pair in pairs]
    per_type: dict[str, TypeAP] = {}
    for defect_type in DEFECT_TYPES:
        aps = class_ap(preds, golds, defect_type)
        if aps is not None:
            n_gold = sum(d.type == defect_type for image in golds for d in image)
            per_type[defect_type] = TypeAP(n_gold=n_gold, ap50=aps[0], ap50_95=statistics.fmean(aps))
    return APMetrics(
        map50=statistics.fmean(a.ap50 for a in per_type.values()) if per_type else None,
        map50_95=statistics.fmean(a.ap50_95 for a in per_type.values()) if per_type else None,
        per_type=per_type,
    )


def _pass_fail(pairs: Sequence[Pair]) -> PassFailMetrics:
    """Accuracy over the images given a verdict (or none at all); `unsure` ones in their own column."""
    confusion: dict[str, dict[str, int]] = {}
    for pair in pairs:
        predicted = (pair.pred.pass_fail or "unsure") if pair.pred else "missing"
        row = confusion.setdefault(str(pair.gold.pass_fail), {})
        row[predicted] = row.get(predicted, 0) + 1
    correct = sum(row.get(verdict, 0) for verdict, row in confusion.items())
    n_unsure = sum(row.get("unsure", 0) for row in confusion.values())
    n = len(pairs) - n_unsure
    return PassFailMetrics(n=n, accuracy=ratio(correct, n), n_unsure=n_unsure, confusion=confusion)


def _validity(pairs: Sequence[Pair], output_model: type[BaseModel]) -> ValidityMetrics | None:
    with_raw = [p for p in pairs if p.raw is not None]
    if not with_raw:
        return None
    failures: Counter = Counter()
    examples: list[str] = []
    for pair in with_raw:
        _, failure, message = parse_output(pair.raw or "", output_model)
        if failure:
            failures[failure] += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append(f"{pair.name}: {failure}: {message[:160]}")
    n_valid = len(with_raw) - sum(failures.values())
    return ValidityMetrics(
        n_raw=len(with_raw),
        n_valid=n_valid,
        n_invalid_json=failures["invalid_json"],
        n_schema_error=failures["schema"],
        rate=ratio(n_valid, len(with_raw)),
        examples=examples,
    )


def _slots(pairs: Sequence[Pair]) -> SlotMetrics | None:
    if not any(p.has_model_output for p in pairs):
        return None
    rows = []
    for pair in pairs:
        gold = slots_of(((d.type, d.severity) for d in pair.gold.defects), pair.gold.pass_fail)
        answer = pair.answer
        pred = slots_of(
            ((d.type, d.severity) for d in answer.defects) if answer else (),
            answer.pass_fail if answer else None,
        )
        rows.append(slot_counts(pred, gold))
    totals = sum_counts(rows)
    overall = [sum(totals[name][k] for name in SLOT_NAMES) for k in range(3)]
    return SlotMetrics(
        n_images=len(pairs), overall=PRF.of(*overall), per_slot={n: PRF.of(*totals[n]) for n in SLOT_NAMES}
    )


def _size(errors_by_type: dict[str, list[float]]) -> SizeMetrics:
    errors = [e for values in errors_by_type.values() for e in values]
    return SizeMetrics(
        n=len(errors),
        mae_um=statistics.fmean(errors) if errors else None,
        median_abs_um=statistics.median(errors) if errors else None,
        max_abs_um=max(errors) if errors else None,
        per_type_mae_um={t: statistics.fmean(v) for t, v in sorted(errors_by_type.items()) if v},
    )


def _notes(aligned: _Alignment, counts: Counts, ap: APMetrics) -> list[str]:
    notes = []
    if counts.n_missing:
        notes.append(
            f"{counts.n_missing} gold image(s) had no prediction: counted as all-missed "
            "(every true defect a miss, the verdict `missing`)."
        )
    if counts.n_error:
        notes.append(f"{counts.n_error} gold image(s) had an error row or no report: counted as all-missed.")
    if aligned.invalid_reports:
        notes.append(
            f"{len(aligned.invalid_reports)} predicted report(s) did not validate (counted as errors), "
            f"e.g. {aligned.invalid_reports[0]}"
        )
    if counts.n_unmatched_pred:
        notes.append(f"{counts.n_unmatched_pred} prediction row(s) named no gold image: ignored.")
    if aligned.n_by_name:
        notes.append(f"{aligned.n_by_name} prediction row(s) paired with their gold image by file name only.")
    if counts.n_duplicate_pred:
        notes.append(
            f"{counts.n_duplicate_pred} duplicate prediction row(s): only the first per image counted."
        )
    confidences = {d.confidence for p in aligned.pairs if p.pred for d in p.pred.defects}
    if len(confidences) == 1:
        notes.append("Every predicted defect has the same confidence: AP ranks them in input order.")
    absent = sorted({d.type for p in aligned.pairs if p.pred for d in p.pred.defects} - set(ap.per_type))
    if absent:
        notes.append(
            f"Predicted types with no true instance (false positives, left out of mAP): {', '.join(absent)}."
        )
    return notes


def evaluate(
    preds: Sequence[dict], golds: Sequence[dict], *, iou_threshold: float = 0.3, task: str = "endface"
) -> EvalResult:
    """Every metric of `preds` against `golds` (lists of report records); see the module docstring."""
    output_model = get_task(task).output_model
    aligned = _align(preds, golds, output_model)
    pairs = aligned.pairs
    states = Counter(p.state for p in pairs)
    counts = Counts(
        n_gold=len(pairs),
        n_pred_rows=len(preds),
        n_evaluated=states["ok"],
        n_missing=states["missing"],
        n_error=states["error"],
        n_unsure=states["unsure"],
        n_unmatched_pred=aligned.n_unmatched,
        n_duplicate_pred=aligned.n_duplicate,
    )
    seen = [p for p in pairs if p.state != "unsure"]  # an unsure image claims nothing: not scored
    detection, size_errors = _detection(seen, iou_threshold)
    ap = _ap(seen)
    return EvalResult(
        task=task,
        counts=counts,
        detection=detection,
        ap=ap,
        pass_fail=_pass_fail(pairs),
        validity=_validity(pairs, output_model),
        slots=_slots(pairs),
        size=_size(size_errors),
        notes=_notes(aligned, counts, ap),
    )


def evaluate_files(
    pred_path: str | Path, gold_path: str | Path, *, iou_threshold: float = 0.3, task: str = "endface"
) -> EvalResult:
    """`evaluate` on two files of records: JSONL, or for predictions also the backfill's Parquet output."""
    return evaluate(read_records(pred_path), read_records(gold_path), iou_threshold=iou_threshold, task=task)
