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
    assert VlmStage.output_columns == ("inspection", "status", "error", "vlm_ms", "vlm_confidence")


def test_the_vlm_confidence_column_flows_from_the_vlm_stage_to_the_output_row() -> None:
    """Geometry → VLM (the bundled demo model) → grade on a dict batch: the VLM stage writes its declared
    `vlm_confidence` column, the grade stage emits it per row, null where the VLM did not answer."""
    from fibervlm.paths import demo_vlm
    from fibervlm.pipeline.columns import OUTPUT_COLUMNS
    from fibervlm.pipeline.geometry import GeometryStage
    from fibervlm.pipeline.grade import GradeStage
    from fibervlm.synth import SynthConfig, sample_endface

    config = SynthConfig(width_px=112, height_px=112, um_per_px=(1.25, 1.35), appearance="standard")
    faces = [sample_endface(4, index, config=config)[0] for index in range(3)]
    faces.append(np.full((112, 112), 128, np.uint8))  # no fibre: an error row, never answered
    batch = {
        "pixels": _objects(faces),
        "profile": _objects(["sm-pc"] * 4),
        "width": np.full(4, 112),
        "height": np.full(4, 112),
        "status": _objects(["ok"] * 4),
        "error": _objects([None] * 4),
    }
    inspector = {"vlm": {"model": demo_vlm(), "batch_size": 4}}
    after_vlm = VlmStage(inspector=inspector)(GeometryStage(inspector=inspector)(batch))
    rows = GradeStage(inspector=inspector)(dict(after_vlm))
    assert "vlm_confidence" in OUTPUT_COLUMNS
    for status, from_stage, in_row in zip(
        rows["status"], after_vlm["vlm_confidence"], rows["vlm_confidence"], strict=True
    ):
        assert from_stage == in_row
        assert (in_row is None) == (status == "error")
        assert in_row is None or 0 < in_row <= 1


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


def test_a_vllm_backfill_without_vllm_is_refused_before_ray_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from fibervlm.vlm.vllm_backend import VllmMissingError

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else find_spec(name, *a)
    )
    config = BackfillConfig.model_validate({"inspector": {"vlm": {"backend": "vllm"}}})
    with pytest.raises(VllmMissingError, match=r"optional extra"):
        default_stages(config)
