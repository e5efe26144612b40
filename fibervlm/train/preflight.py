"""Checks a training set before any worker starts, and refuses to train on errors, naming the rows.

Errors (training would crash or learn garbage):
- an example longer than `max_length`: truncating it would cut image placeholders apart from their
  features ("image features and image tokens do not match") or drop the answer;
- a missing or unreadable image;
- a text-only example: under ZeRO-3 each rank gathers the vision tower's parameters collectively, so a
  batch without an image on one rank hangs the others;
- a target that is not valid JSON of the task's output model.
Warnings: a prompt that differs from the predictor's (training and serving would disagree), and a
class imbalance (PASS/FAIL) beyond `min_class_fraction`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from fibervlm.prompts import PromptTemplate
from fibervlm.schemas import describe_validation_error
from fibervlm.train.data import ExampleEncoder, Row, load_image

MAX_LISTED = 20


@dataclass(frozen=True)
class Problem:
    where: str  # "<file>:<line>"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class PreflightReport:
    n_rows: int
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if self.errors:
            raise PreflightError(self)


class PreflightError(ValueError):
    """Refuses to train: the message lists the offending rows (file:line and why)."""

    def __init__(self, report: PreflightReport) -> None:
        self.report = report
        listed = "\n".join(f"  {p}" for p in report.errors[:MAX_LISTED])
        more = len(report.errors) - MAX_LISTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"preflight: {len(report.errors)} of {report.n_rows} rows cannot be trained on:\n{listed}{tail}"
        )


def preflight(
    rows: Sequence[Row],
    *,
    encoder: ExampleEncoder,
    max_length: int,
    min_class_fraction: float = 0.1,
) -> PreflightReport:
    """Check every row (images are read and encoded through the training encoder: one code path);
    targets are validated with the encoder's output model (the task's)."""
    report = PreflightReport(n_rows=len(rows))
    verdicts: Counter[str] = Counter()
    defect_types: Counter[str] = Counter()
    longest = 0
    for row in rows:
        answer = _check_target(row, encoder.output_model, report)
        if answer is not None:
            verdicts[str(getattr(answer, "pass_fail", "?"))] += 1
            defect_types.update(d.type for d in getattr(answer, "defects", []))
        _check_prompt(row, encoder.prompt, report)
        n_tokens = _check_images_and_length(row, encoder, max_length, report, encode=answer is not None)
        longest = max(longest, n_tokens)
    _check_balance(verdicts, min_class_fraction, report)
    report.stats = {"verdicts": dict(verdicts), "defect_types": dict(defect_types), "max_tokens": longest}
    return report


def _check_target(row: Row, output_model: type[BaseModel], report: PreflightReport) -> BaseModel | None:
    try:
        return output_model.model_validate_json(row.target)
    except ValidationError as error:
        report.errors.append(Problem(row.where, f"invalid target: {describe_validation_error(error)}"))
        return None


def _check_prompt(row: Row, prompt: PromptTemplate, report: PreflightReport) -> None:
    if not row.user_text.startswith(prompt.instruction) or row.system not in (None, prompt.system):
        report.warnings.append(
            Problem(
                row.where,
                f"prompt differs from task prompt {prompt.name!r} v{prompt.version} the predictor uses",
            )
        )


def _check_images_and_length(
    row: Row, encoder: ExampleEncoder, max_length: int, report: PreflightReport, *, encode: bool
) -> int:
    if not row.images:
        report.errors.append(
            Problem(row.where, "text-only example: under ZeRO-3 every batch must carry an image")
        )
        return 0
    images = []
    for uri in row.images:
        try:
            images.append(load_image(uri))
        except FileNotFoundError:
            report.errors.append(Problem(row.where, f"missing image {uri}"))
        except Exception as error:  # PIL raises several types for corrupt files
            report.errors.append(Problem(row.where, f"unreadable image {uri} ({error})"))
    if len(images) != len(row.images) or not encode:
        return 0
    encoded = encoder(row, images)
    if encoded.n_tokens > max_length:
        report.errors.append(
            Problem(
                row.where,
                f"{encoded.n_tokens} tokens ({encoded.n_image_tokens} image tokens, "
                f"{encoded.n_answer_tokens} answer "
                f"tokens) > max_length {max_length}: truncation would split image tokens from image features "
                "or drop the answer; raise max_length or shrink the image budget",
            )
        )
    return encoded.n_tokens


def _check_balance(verdicts: Counter[str], min_fraction: float, report: PreflightReport) -> None:
    total = sum(verdicts.values())
    for verdict in ("PASS", "FAIL"):
        share = verdicts[verdict] / total if total else 0.0
        if total and share < min_fraction:
            report.warnings.append(
                Problem(
                    "<dataset>",
                    f"class imbalance: {verdict} is {share:.0%} of {total} rows (< {min_fraction:.0%})",
                )
            )
