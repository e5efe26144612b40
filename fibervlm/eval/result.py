"""The evaluation result: one typed record, written as JSON and rendered as Markdown."""

from __future__ import annotations

from pydantic import Field

from fibervlm.schemas import StrictModel


def ratio(num: float, den: float) -> float | None:
    """num / den, or None when the ratio is undefined (nothing to count)."""
    return num / den if den else None


class PRF(StrictModel):
    """Precision, recall and F1 from counts; None where a ratio is 0/0."""

    tp: int = Field(ge=0, description="True positives.")
    fp: int = Field(ge=0, description="False positives.")
    fn: int = Field(ge=0, description="False negatives (misses).")
    precision: float | None = Field(description="tp / (tp + fp).")
    recall: float | None = Field(description="tp / (tp + fn).")
    f1: float | None = Field(description="2 tp / (2 tp + fp + fn).")

    @classmethod
    def of(cls, tp: int, fp: int, fn: int) -> PRF:
        return cls(
            tp=tp,
            fp=fp,
            fn=fn,
            precision=ratio(tp, tp + fp),
            recall=ratio(tp, tp + fn),
            f1=ratio(2 * tp, 2 * tp + fp + fn),
        )


class Counts(StrictModel):
    n_gold: int = Field(description="Images with a true report.")
    n_pred_rows: int = Field(description="Prediction rows read.")
    n_evaluated: int = Field(description="Gold images with a usable prediction.")
    n_missing: int = Field(description="Gold images without a prediction row: counted as all-missed.")
    n_error: int = Field(
        description="Gold images whose prediction is a `status: error` row or has no report: all-missed."
    )
    n_unsure: int = Field(
        default=0,
        description="Gold images predicted `unsure` (no verdict given): left out of the detection, AP and "
        "PASS/FAIL scores, neither right nor wrong; a coverage figure of their own.",
    )
    n_unmatched_pred: int = Field(description="Prediction rows naming no gold image: ignored.")
    n_duplicate_pred: int = Field(
        description="Extra prediction rows for an image already predicted: ignored."
    )


class DetectionMetrics(StrictModel):
    iou_threshold: float = Field(description="IoU a predicted box needs to match a true one of its type.")
    overall: PRF = Field(description="Micro-averaged over every defect.")
    per_type: dict[str, PRF] = Field(description="By defect type.")
    per_zone: dict[str, PRF] = Field(
        description="By IEC zone: the true defect's for tp/fn, the prediction's for fp."
    )


class TypeAP(StrictModel):
    n_gold: int = Field(description="True instances of the type.")
    ap50: float = Field(description="AP at IoU 0.5.")
    ap50_95: float = Field(description="AP averaged over IoU 0.5:0.05:0.95.")


class APMetrics(StrictModel):
    map50: float | None = Field(description="Mean over types with true instances of AP@0.5.")
    map50_95: float | None = Field(description="Mean over types with true instances of AP@0.5:0.95.")
    per_type: dict[str, TypeAP] = Field(description="Types with at least one true instance.")


class PassFailMetrics(StrictModel):
    n: int = Field(description="Gold images given a verdict or none at all (a missing one counts as wrong).")
    accuracy: float | None = Field(description="Share of those n whose predicted verdict is the true one.")
    n_unsure: int = Field(
        default=0, description="Gold images predicted `unsure`: not in n, neither right nor wrong."
    )
    confusion: dict[str, dict[str, int]] = Field(
        description="true verdict → predicted verdict (or `missing`) → count."
    )


class ValidityMetrics(StrictModel):
    n_raw: int = Field(description="Prediction rows carrying the model's raw text.")
    n_valid: int = Field(
        description="Raw texts that parse as JSON and validate against the task's output model."
    )
    n_invalid_json: int = Field(description="Raw texts that are not JSON.")
    n_schema_error: int = Field(description="Raw texts that are JSON but break the schema.")
    rate: float | None = Field(description="n_valid / n_raw.")
    examples: list[str] = Field(default_factory=list, description="A few failures: image and reason.")


class SlotMetrics(StrictModel):
    n_images: int = Field(description="Gold images counted; no or an invalid answer counts as empty.")
    overall: PRF = Field(description="Micro-averaged over every slot.")
    per_slot: dict[str, PRF] = Field(description="`type`, `severity` (with its type) and `pass_fail`.")


class SizeMetrics(StrictModel):
    n: int = Field(description="Matched defect pairs.")
    mae_um: float | None = Field(description="Mean |predicted - true| size (µm).")
    median_abs_um: float | None = Field(description="Median |predicted - true| size (µm).")
    max_abs_um: float | None = Field(description="Largest |predicted - true| size (µm).")
    per_type_mae_um: dict[str, float] = Field(description="Mean absolute size error by defect type (µm).")


class EvalResult(StrictModel):
    task: str = Field(description="The task whose output model judged validity.")
    counts: Counts
    detection: DetectionMetrics
    ap: APMetrics
    pass_fail: PassFailMetrics
    validity: ValidityMetrics | None = Field(description="None when no prediction carries raw text.")
    slots: SlotMetrics | None = Field(description="None when no prediction carries a model answer.")
    size: SizeMetrics
    notes: list[str] = Field(
        default_factory=list, description="What the reader must know to trust the numbers."
    )
