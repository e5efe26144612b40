from __future__ import annotations

import pytest
from evalkit import make_defect, make_report, record

from fibervlm.eval import evaluate
from fibervlm.schemas import VlmDefect, VlmReport


def _gold_a(scratch_um: float = 4.0, dig_um: float = 6.0):
    # scratch centre 27 px from the fibre centre (zone B, 4 µm wide: FAIL); dig at the centre (zone A)
    return make_report(
        [
            make_defect("scratch", [100, 100, 40, 4], severity="high", size_um=scratch_um),
            make_defect("dig", [125, 125, 6, 6], severity="low", size_um=dig_um),
        ]
    )


def _gold_c():
    # a chip 26 px from the centre (zone B), 8 µm: FAIL
    return make_report([make_defect("chip", [150, 120, 8, 8], severity="medium", size_um=8.0)])


def test_perfect_predictions_score_one():
    golds = [record("a.png", _gold_a()), record("b.png", make_report([]))]
    result = evaluate(golds, golds)
    assert (result.detection.overall.tp, result.detection.overall.fp, result.detection.overall.fn) == (
        2,
        0,
        0,
    )
    assert result.detection.overall.f1 == 1.0
    # as COCO: precision = tp / (tp + fp + eps), so a perfect AP is 1 - 1e-16
    assert result.ap.map50 == pytest.approx(1.0) and result.ap.map50_95 == pytest.approx(1.0)
    assert result.pass_fail.accuracy == 1.0
    assert result.pass_fail.confusion == {"FAIL": {"FAIL": 1}, "PASS": {"PASS": 1}}
    assert result.size.mae_um == 0.0
    assert result.validity is None and result.slots is None


def test_missing_and_error_rows_count_as_all_missed():
    golds = [record("a.png", _gold_a()), record("b.png", make_report([])), record("c.png", _gold_c())]
    preds = [record("a.png", _gold_a()), record("b.png", None, status="error")]
    result = evaluate(preds, golds)
    counts = result.counts
    assert (counts.n_gold, counts.n_evaluated, counts.n_missing, counts.n_error) == (3, 1, 1, 1)
    assert result.detection.per_type["chip"].fn == 1 and result.detection.per_type["chip"].recall == 0.0
    assert result.ap.per_type["chip"].ap50 == 0.0
    assert result.pass_fail.confusion["FAIL"] == {"FAIL": 1, "missing": 1}
    assert result.pass_fail.accuracy == pytest.approx(1 / 3)
    assert any("no prediction" in note and "all-missed" in note for note in result.notes)


def test_unsure_predictions_are_counted_apart_never_right_or_wrong():
    golds = [record("a.png", _gold_a()), record("b.png", make_report([])), record("c.png", _gold_c())]
    unsure = make_report([]).model_copy(
        update={"status": "unsure", "unsure_reason": "out of focus", "pass_fail": None}
    )
    preds = [
        record("a.png", _gold_a()),
        record("b.png", make_report([])),
        record("c.png", unsure, status="unsure"),
    ]
    result = evaluate(preds, golds)
    assert (result.counts.n_evaluated, result.counts.n_unsure, result.counts.n_error) == (2, 1, 0)
    assert (result.pass_fail.n, result.pass_fail.n_unsure, result.pass_fail.accuracy) == (2, 1, 1.0)
    assert result.pass_fail.confusion == {"FAIL": {"FAIL": 1, "unsure": 1}, "PASS": {"PASS": 1}}
    assert "chip" not in result.detection.per_type  # the unsure image's chip is neither found nor missed
    assert result.detection.overall.fn == 0


def test_rows_pair_by_image_id_then_by_image():
    golds = [record("a.png", _gold_a()), record("b.png", make_report([]))]
    preds = [
        {"image": "renamed.png", "image_id": "sha-a.png", "report": _gold_a().model_dump(mode="json")},
        {"image": "b.png", "report": make_report([]).model_dump(mode="json")},
        record("a.png", make_report([])),  # a second row for a: ignored
        record("zzz.png", make_report([])),  # no such gold image
    ]
    result = evaluate(preds, golds)
    counts = result.counts
    assert (counts.n_evaluated, counts.n_duplicate_pred, counts.n_unmatched_pred) == (2, 1, 1)
    assert result.detection.overall.f1 == 1.0  # the first row for a, not the empty duplicate


def test_size_error_and_zones_of_matched_defects():
    golds = [record("a.png", _gold_a(scratch_um=4.0, dig_um=6.0))]
    preds = [record("a.png", _gold_a(scratch_um=6.0, dig_um=6.5))]
    result = evaluate(preds, golds)
    assert result.size.n == 2
    assert result.size.mae_um == pytest.approx((2.0 + 0.5) / 2)
    assert result.size.per_type_mae_um == {"dig": pytest.approx(0.5), "scratch": pytest.approx(2.0)}
    assert set(result.detection.per_zone) == {"A", "B"}


def test_false_positives_count_in_the_zone_of_the_prediction():
    golds = [record("a.png", make_report([]))]
    preds = [record("a.png", make_report([make_defect("dig", [125, 125, 6, 6], confidence=0.7)]))]
    result = evaluate(preds, golds)
    assert result.detection.per_zone["A"].fp == 1
    assert result.detection.overall.precision == 0.0 and result.detection.overall.recall is None
    assert result.ap.per_type == {} and result.ap.map50 is None
    assert any("no true instance" in note for note in result.notes)


def _answer(severity_of_dig: str) -> str:
    return VlmReport(
        defects=[
            VlmDefect(type="scratch", bbox=[390, 390, 156, 16], severity="high"),
            VlmDefect(type="dig", bbox=[488, 488, 23, 23], severity=severity_of_dig),  # type: ignore[arg-type]
        ],
        pass_fail="FAIL",
        explanation="A scratch in the cladding and a dig in the core.",
    ).model_dump_json()


def test_validity_and_slot_f1_on_raw_text():
    golds = [record("a.png", _gold_a()), record("b.png", make_report([])), record("c.png", _gold_c())]
    schema_breaking = (
        '{"defects": [{"type": "bubble", "bbox": [1, 2, 3], "severity": "low"}], "pass_fail": "FAIL"}'
    )
    preds = [
        record("a.png", _gold_a(), raw=_answer("medium")),  # valid; the dig's severity is wrong
        record("b.png", make_report([]), raw='{"defects": [, "pass_fail": "PASS"'),  # not JSON
        record("c.png", _gold_c(), raw=schema_breaking),
    ]
    result = evaluate(preds, golds)
    validity = result.validity
    assert validity is not None
    assert (validity.n_raw, validity.n_valid, validity.n_invalid_json, validity.n_schema_error) == (
        3,
        1,
        1,
        1,
    )
    assert validity.rate == pytest.approx(1 / 3)
    assert any(e.startswith("c.png: schema: defects.0.type") for e in validity.examples)
    slots = result.slots
    assert slots is not None
    # a: types 2 tp; severity scratch:high tp, dig:medium fp, dig:low fn; FAIL tp.
    # b (unparsable → empty answer): PASS fn. c (schema error → empty): chip fn, chip:medium fn, FAIL fn.
    per_slot = {name: (p.tp, p.fp, p.fn) for name, p in slots.per_slot.items()}
    assert per_slot == {"type": (2, 0, 1), "severity": (1, 1, 2), "pass_fail": (1, 0, 2)}
    assert slots.overall.f1 == pytest.approx(2 * 4 / (2 * 4 + 1 + 5))


def test_slots_read_the_reports_vlm_answer_without_raw_text():
    gold = _gold_a()
    pred = _gold_a().model_copy(update={"vlm": VlmReport.model_validate_json(_answer("low"))})
    result = evaluate([record("a.png", pred)], [record("a.png", gold)])
    assert result.validity is None
    assert result.slots is not None and result.slots.overall.f1 == 1.0


def test_empty_inputs_give_undefined_ratios_not_errors():
    result = evaluate([], [])
    assert result.counts.n_gold == 0
    assert (
        result.detection.overall.f1 is None and result.ap.map50 is None and result.pass_fail.accuracy is None
    )


def test_an_invalid_gold_row_is_named():
    with pytest.raises(ValueError, match=r"gold row 0 \(a.png\): .*width"):
        evaluate([], [{"image": "a.png", "report": {"width": -1}}])


def test_inspect_output_lines_pair_by_file_name_and_give_raw_text():
    """`fibervlm inspect` prints `{"source": path, "status", "report", "vlm_raw", ...}` per image, with
    paths as typed on its command line rather than relative to the labels."""
    golds = [
        record("date=2026-11-20/shard-00000/a.png", _gold_a()),
        record("date=2026-11-20/shard-00001/b.png", make_report([])),
    ]
    preds = [
        {"source": "/data/synth/date=2026-11-20/shard-00000/a.png", "status": "ok",
         "report": _gold_a().model_dump(mode="json"), "vlm_raw": _answer("low")},
        {"source": "elsewhere/b.png", "status": "error", "error": "decode: truncated", "report": None,
         "vlm_raw": None},
    ]  # fmt: skip
    result = evaluate(preds, golds)
    assert (result.counts.n_evaluated, result.counts.n_error, result.counts.n_unmatched_pred) == (1, 1, 0)
    assert result.validity is not None and (result.validity.n_raw, result.validity.n_valid) == (1, 1)
    assert any(
        "2 prediction row(s) paired with their gold image by file name only" in n for n in result.notes
    )


def test_a_file_name_shared_by_two_gold_images_is_not_guessed():
    golds = [record("shard-0/x.png", make_report([])), record("shard-1/x.png", make_report([]))]
    preds = [{"source": "other/x.png", "report": make_report([]).model_dump(mode="json")}]
    assert evaluate(preds, golds).counts.n_unmatched_pred == 1
