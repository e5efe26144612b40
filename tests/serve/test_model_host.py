"""The model replica's logic without Ray: readiness, promotion, and a bad version never taking it down."""

from __future__ import annotations

import numpy as np
import pytest
from servekit import publish_tiny

from fibervlm.registry import promote, publish
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.model import ModelHost, ModelUnavailable, UnknownModel
from fibervlm.serve.requests import ImageOptions


def test_empty_registry_is_not_ready_and_says_why(tmp_path) -> None:
    host = ModelHost(ServeConfig(registry_root=str(tmp_path)))
    host.start()
    card = host.card()
    assert card["ready"] is False and "no promoted version" in card["load_error"]
    assert str(tmp_path) not in card["load_error"]  # no internals in a reason a client may see
    [outcome] = host.inspect("BEST", [np.zeros((64, 64), np.uint8)], [ImageOptions()], ["r1"])
    assert outcome["failure"]["code"] == "model_unavailable"
    assert "no promoted version" in outcome["failure"]["reason"]
    assert host.card()["batch_sizes"] == {"1": 1}


def test_unknown_and_malformed_ids_are_unknown_models(tmp_path) -> None:
    host = ModelHost(ServeConfig(registry_root=str(tmp_path)))
    for model_id in ("no-such-version", "../../etc", "a/b"):
        with pytest.raises(UnknownModel):
            host.resolve(model_id)


@pytest.mark.slow
def test_bad_version_keeps_the_current_model(tmp_path, endface_png) -> None:
    from fibervlm.classical.io import decode_image

    root = str(tmp_path)
    good = publish_tiny(root, accuracy=0.5)
    promote(root, "endface", good)
    host = ModelHost(ServeConfig(registry_root=root))
    assert host.load() is True and host.model is not None and host.model.version == good
    assert host.card()["registry_version"] == good
    assert host.refresh() == [] and host.load() is False  # same BEST: nothing reloaded

    empty = publish(root, "endface", metrics={"pass_fail_accuracy": 0.9}, manifest={"base_model": "x"})
    promote(root, "endface", empty)
    assert host.refresh() == []
    card = host.card()
    assert card["registry_version"] == good
    assert "neither a LoRA adapter nor a model checkpoint" in host.load_errors["BEST"]
    [outcome] = host.inspect("BEST", [decode_image(endface_png[0])], [ImageOptions(profile="sm-pc")], ["r1"])
    assert outcome["inspection"]["status"] == "ok"
    assert outcome["served"]["registry_version"] == good


def test_pinned_version_wins_over_best(tmp_path) -> None:
    root = str(tmp_path)
    first = publish(root, "endface", metrics={"pass_fail_accuracy": 0.5}, manifest={})
    promote(root, "endface", first)
    host = ModelHost(ServeConfig(registry_root=root))
    host.pinned = "no-such-version"
    with pytest.raises(UnknownModel, match="no-such-version"):
        host.acquire("BEST")
    host.pinned = None
    with pytest.raises(ModelUnavailable, match="neither a LoRA adapter"):
        host.acquire("BEST")
