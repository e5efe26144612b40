"""The promotion gate: gain over the margin AND no per-profile / per-class drop beyond the tolerance."""

from __future__ import annotations

import pytest

from fibervlm.retrain import GateSettings, decide


def metrics(pass_fail: float, *, dig_f1: float = 0.5, mm_pc: float = 0.9, n_dig: int = 20) -> dict:
    return {
        "pass_fail_accuracy": pass_fail,
        "groups": {
            "profile:mm-pc": {"n": 30, "pass_fail_accuracy": mm_pc},
            "class:dig": {"n": n_dig, "f1": dig_f1},
        },
    }


SETTINGS = GateSettings(metric="pass_fail_accuracy", margin=0.01, tolerance=0.05, min_group_size=10)


def test_gain_without_regression_promotes() -> None:
    decision = decide(metrics(0.93, dig_f1=0.47), metrics(0.90), SETTINGS)  # dig F1 -0.03: tolerated
    assert decision.promote and decision.primary_gain == pytest.approx(0.03) and decision.regressions == []


def test_a_per_class_or_per_profile_drop_refuses_a_better_primary() -> None:
    decision = decide(metrics(0.95, dig_f1=0.30), metrics(0.90), SETTINGS)
    assert not decision.promote
    assert decision.regressions == ["class:dig: 0.500 → 0.300 (drop 0.200 > tolerance 0.05)"]
    profile = decide(metrics(0.95, mm_pc=0.8), metrics(0.90), SETTINGS)
    assert not profile.promote and profile.regressions[0].startswith("profile:mm-pc: 0.900 → 0.800")


def test_no_gain_refuses_and_small_groups_are_not_compared() -> None:
    flat = decide(metrics(0.905), metrics(0.90), SETTINGS)
    assert not flat.promote and "does not exceed the margin 0.01" in flat.reasons[0]
    few_digs = decide(metrics(0.95, dig_f1=0.0, n_dig=3), metrics(0.90, n_dig=3), SETTINGS)
    assert few_digs.promote  # 3 true digs: too few to call a regression
    assert decide(metrics(0.5), None, SETTINGS).promote  # nothing promoted yet
