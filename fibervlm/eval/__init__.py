"""Metrics shared by every stage: defect matching, detection mAP, PASS/FAIL accuracy, JSON validity,
slot F1, size error, and a JSON + Markdown report. `EvalResult` is the whole result; the types of its
parts (`Counts`, `PRF`, `DetectionMetrics`, ...) are in `fibervlm.eval.result`.

    >>> from fibervlm.eval import evaluate
    >>> evaluate([], []).counts.n_gold
    0
"""

from fibervlm.eval.detection import COCO_IOU_THRESHOLDS, average_precision, class_ap, interpolated_ap
from fibervlm.eval.evaluate import evaluate, evaluate_files
from fibervlm.eval.io import read_backfill, read_jsonl, read_records
from fibervlm.eval.matching import Match, MatchResult, box_iou, match_defects
from fibervlm.eval.report import run_eval, summary_line, to_markdown, write_report
from fibervlm.eval.result import EvalResult
from fibervlm.eval.slots import parse_output

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "EvalResult",
    "Match",
    "MatchResult",
    "average_precision",
    "box_iou",
    "class_ap",
    "evaluate",
    "evaluate_files",
    "interpolated_ap",
    "match_defects",
    "parse_output",
    "read_backfill",
    "read_jsonl",
    "read_records",
    "run_eval",
    "summary_line",
    "to_markdown",
    "write_report",
]
