"""Every backfill stage declares its columns, and the shared base class refuses a batch that breaks them.

Without Ray: a stage is a callable on a dict of numpy columns.
"""

from __future__ import annotations

import numpy as np
import pytest

from fibervlm.pipeline import BackfillConfig
from fibervlm.pipeline.backfill import default_stages
from fibervlm.pipeline.decode import DecodeStage
from fibervlm.pipeline.identify import IdentifyStage
from fibervlm.pipeline.stage import Stage, StageContractError
from fibervlm.pipeline.vlm import VlmStage


def _objects(values: list) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def test_a_batch_without_an_input_column_is_refused_naming_stage_and_keys() -> None:
    batch = {"bytes": _objects([b"\x89PNG"]), "path": _objects(["/in/a.png"])}
    with pytest.raises(StageContractError) as refused:
        DecodeStage()(batch)
    assert (
        str(refused.value)
        == "DecodeStage: the batch lacks input column(s) ['image'] (it has ['bytes', 'path'])"
    )


def test_the_contract_follows_the_columns_a_config_names() -> None:
    stage = IdentifyStage(scheme="s3://", bytes_column="image")
    assert stage.required_inputs == ("image", "path")
    with pytest.raises(StageContractError, match=r"IdentifyStage: .* \['image'\]"):
        stage({"bytes": _objects([b"x"]), "path": _objects(["b/date=2026-11-20/a.png"])})
    out = stage({"image": _objects([b"x"]), "path": _objects(["b/date=2026-11-20/a.png"])})
    assert list(out["source_uri"]) == ["s3://b/date=2026-11-20/a.png"] and list(out["date"]) == ["2026-11-20"]


def test_a_result_without_a_declared_output_is_refused() -> None:
    class ForgetsTiming(DecodeStage):
        def process(self, batch):
            out = super().process(batch)
            del out["decode_ms"]
            return out

    with pytest.raises(
        StageContractError, match=r"ForgetsTiming: its result lacks output column\(s\) \['decode_ms'\]"
    ):
        ForgetsTiming()({"image": _objects([b"not an image"])})


def test_the_inspection_shell_derives_its_timing_column_from_its_step() -> None:
    assert VlmStage.input_columns == ("pixels", "inspection")
    assert VlmStage.output_columns == ("inspection", "status", "error", "vlm_ms")


def test_every_default_stage_reads_only_columns_an_earlier_stage_wrote() -> None:
    config = BackfillConfig.model_validate({"inspector": {"detector": {}, "vlm": {}}})
    read = IdentifyStage(scheme="")
    available = {*read.required_inputs, *read.output_columns}
    chain: list[type[Stage]] = [DecodeStage, *(spec.cls for spec in default_stages(config))]
    assert [cls.__name__ for cls in chain] == [
        "DecodeStage",
        "GeometryStage",
        "Stage1Stage",
        "VlmStage",
        "GradeStage",
    ]
    for cls in chain:
        assert set(cls.input_columns) <= available, (cls.__name__, set(cls.input_columns) - available)
        available |= set(cls.output_columns)
