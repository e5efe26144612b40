"""The model replica's logic without Ray: readiness, promotion, and a bad version never taking it down."""

from __future__ import annotations

import numpy as np
import pytest
from servekit import publish_tiny

from fibervlm.registry import promote, publish
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.model import ModelHost
from fibervlm.serve.requests import ImageOptions


def test_empty_registry_is_not_ready_and_says_why(tmp_path) -> None:
    host = ModelHost(ServeConfig(registry_root=str(tmp_path)))
    assert host.load() is False
    card = host.card()
    assert card["ready"] is False and "no promoted version" in card["load_error"]
    [outcome] = host.inspect([np.zeros((64, 64), np.uint8)], [ImageOptions()])
    assert outcome["failure"].startswith("no model loaded") and "no promoted version" in outcome["failure"]
    assert host.card()["batch_sizes"] == {"1": 1}


@pytest.mark.slow
def test_bad_version_keeps_the_current_model(tmp_path, endface_png) -> None:
    from fibervlm.classical.io import decode_image

    root = str(tmp_path)
    good = publish_tiny(root, accuracy=0.5)
    promote(root, "endface", good)
    host = ModelHost(ServeConfig(registry_root=root))
    assert host.load() is True and host.card()["registry_version"] == good
    assert host.load() is False  # same BEST: nothing reloaded

    empty = publish(root, "endface", metrics={"pass_fail_accuracy": 0.9}, manifest={"base_model": "x"})
    promote(root, "endface", empty)
    assert host.load() is False
    card = host.card()
    assert (
        card["registry_version"] == good
        and "neither a LoRA adapter nor a model checkpoint" in card["load_error"]
    )
    [outcome] = host.inspect([decode_image(endface_png[0])], [ImageOptions(profile="sm-pc")])
    assert outcome["inspection"]["status"] == "ok"
    assert outcome["served"]["registry_version"] == good


def test_pinned_version_wins_over_best(tmp_path) -> None:
    root = str(tmp_path)
    first = publish(root, "endface", metrics={"pass_fail_accuracy": 0.5}, manifest={})
    promote(root, "endface", first)
    host = ModelHost(ServeConfig(registry_root=root))
    host.pinned = "no-such-version"
    host.load()
    assert "no-such-version" in host.card()["load_error"]
