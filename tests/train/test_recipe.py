"""A demo recipe exits 1 and says what it left alone when its model did not beat the baseline."""

from __future__ import annotations

import pytest

from fibervlm.train.demo import VlmDemoConfig
from fibervlm.train.recipe import Recipe


def _recipe(accuracy: float) -> Recipe[VlmDemoConfig]:
    """The demo's own config and message; `train` reports a fixed score instead of training."""
    return Recipe(
        "A recipe.\n\nMore text.",
        VlmDemoConfig,
        "tiny-demo.yaml",
        train=lambda config: {"accuracy": accuracy, "out": config.out_dir},
        learned=lambda metrics: metrics["accuracy"] > 0.5,
        baseline="the majority baseline",
    )


def test_a_recipe_that_learned_exits_0_and_prints_its_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    assert _recipe(0.9).main(["out_dir=out/x"]) == 0
    assert '"out": "out/x"' in capsys.readouterr().out


def test_a_recipe_that_did_not_learn_exits_1_naming_what_it_left_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _recipe(0.4).main(["out_dir=out/x", "work_dir=/tmp/w"]) == 1
    said = capsys.readouterr().out
    assert "not above the majority baseline: out/x left as it was, metrics in /tmp/w" in said
