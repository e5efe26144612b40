"""The evaluation report: `metrics.json` (the EvalResult) and `report.md` (the same, for people)."""

from __future__ import annotations

from pathlib import Path

from fibervlm.eval.evaluate import evaluate_files
from fibervlm.eval.result import PRF, EvalResult


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _prf_table(
    title: str,
    rows: dict[str, PRF],
    extra: dict[str, list[str]] | None = None,
    extra_head: list[str] | None = None,
) -> list[str]:
    head = [title, "tp", "fp", "fn", "precision", "recall", "F1", *(extra_head or [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, prf in rows.items():
        cells = [
            name,
            str(prf.tp),
            str(prf.fp),
            str(prf.fn),
            _num(prf.precision),
            _num(prf.recall),
            _num(prf.f1),
        ]
        cells += (extra or {}).get(name, ["—"] * len(extra_head or []))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _detection_section(result: EvalResult) -> list[str]:
    det, ap, size = result.detection, result.ap, result.size
    extra = {
        t: [
            _num(ap.per_type[t].ap50) if t in ap.per_type else "—",
            _num(ap.per_type[t].ap50_95) if t in ap.per_type else "—",
            _num(size.per_type_mae_um.get(t), 2),
        ]
        for t in det.per_type
    }
    return [
        f"## Defects (matched at IoU ≥ {det.iou_threshold:g}, greedy by confidence, per type)",
        "",
        f"Overall: precision {_num(det.overall.precision)}, recall {_num(det.overall.recall)}, "
        f"F1 {_num(det.overall.f1)}; mAP@0.5 {_num(ap.map50)}, mAP@0.5:0.95 {_num(ap.map50_95)}.",
        "",
        *_prf_table("type", det.per_type, extra, ["AP@0.5", "AP@0.5:0.95", "size MAE µm"]),
        "",
        *_prf_table("zone", det.per_zone),
        "",
        f"Size error of {size.n} matched defects: mean {_num(size.mae_um, 2)} µm, median "
        f"{_num(size.median_abs_um, 2)} µm, max {_num(size.max_abs_um, 2)} µm.",
        "",
    ]


def _model_section(result: EvalResult) -> list[str]:
    lines = ["## Model outputs", ""]
    v = result.validity
    if v is None:
        lines.append("No prediction carries raw model text: JSON validity not measured.")
    else:
        lines.append(
            f"JSON validity: {v.n_valid}/{v.n_raw} = {_num(v.rate)} "
            f"({v.n_invalid_json} not JSON, {v.n_schema_error} schema errors)."
        )
        lines += [f"- {e}" for e in v.examples]
    lines.append("")
    if result.slots is None:
        lines.append("No model answer present: slot F1 not measured.")
    else:
        lines += [f"Slot F1 over {result.slots.n_images} images: {_num(result.slots.overall.f1)}.", ""]
        lines += _prf_table("slot", result.slots.per_slot)
    return [*lines, ""]


def _pass_fail_section(result: EvalResult) -> list[str]:
    pf = result.pass_fail
    verdicts = sorted({p for row in pf.confusion.values() for p in row})
    rows = [
        f"| {g} | " + " | ".join(str(row.get(p, 0)) for p in verdicts) + " |"
        for g, row in sorted(pf.confusion.items())
    ]
    head = ["| true \\ predicted | " + " | ".join(verdicts) + " |", "|---|" + "---|" * len(verdicts)]
    return [
        f"## PASS/FAIL (the rules' verdict): accuracy {_num(pf.accuracy)} over {pf.n} images"
        + (f" ({pf.n_unsure} unsure, not counted)" if pf.n_unsure else ""),
        "",
        *head,
        *rows,
        "",
    ]


def to_markdown(result: EvalResult) -> str:
    c = result.counts
    counts = (
        f"{c.n_gold} gold images, {c.n_pred_rows} prediction rows: {c.n_evaluated} evaluated, "
        f"{c.n_missing} missing, {c.n_error} errors, {c.n_unsure} unsure, {c.n_unmatched_pred} unmatched, "
        f"{c.n_duplicate_pred} duplicates."
    )
    notes = [*(f"- {note}" for note in result.notes), ""] if result.notes else []
    sections = [*_detection_section(result), *_pass_fail_section(result), *_model_section(result)]
    return "\n".join([f"# Evaluation ({result.task})", "", counts, "", *notes, *sections])


def write_report(metrics: EvalResult, out_dir: str | Path) -> tuple[Path, Path]:
    """Write `metrics.json` and `report.md` under `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "metrics.json", out / "report.md"
    json_path.write_text(metrics.model_dump_json(indent=2) + "\n")
    md_path.write_text(to_markdown(metrics) + "\n")
    return json_path, md_path


def summary_line(result: EvalResult) -> str:
    """A compact one-screen summary for the terminal."""
    parts = [
        f"images {result.counts.n_evaluated}/{result.counts.n_gold}",
        f"defect F1 {_num(result.detection.overall.f1)}",
        f"mAP50 {_num(result.ap.map50)}",
        f"mAP50-95 {_num(result.ap.map50_95)}",
        f"pass/fail acc {_num(result.pass_fail.accuracy)}",
    ]
    if result.validity:
        parts.append(f"json valid {_num(result.validity.rate)}")
    if result.slots:
        parts.append(f"slot F1 {_num(result.slots.overall.f1)}")
    if result.size.mae_um is not None:
        parts.append(f"size MAE {result.size.mae_um:.2f} µm")
    return " | ".join(parts)


def run_eval(pred: Path, gold: Path, out: Path | None = None, iou: float = 0.3) -> int:
    """`fibervlm eval`: print a summary, write JSON + Markdown when `out` is given; exit code 0."""
    result = evaluate_files(pred, gold, iou_threshold=iou)
    print(summary_line(result))
    for note in result.notes:
        print(f"  note: {note}")
    if out is not None:
        json_path, md_path = write_report(result, out)
        print(f"wrote {json_path} and {md_path}")
    return 0
