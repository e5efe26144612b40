"""The predictor: batching does not change answers, bad rows fail alone, bad settings fail before loading."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fibervlm.schemas import Defect, VlmDefect, VlmReport, ZoneGeometry
from fibervlm.tasks import get_task
from fibervlm.vlm import (
    ModelLoadError,
    ModelPreset,
    VlmPredictor,
    format_context,
    load_model,
    render_prompt,
    to_defects,
    zone_crops,
)


@pytest.fixture(scope="module")
def predictor(tiny_presets: dict[str, ModelPreset]) -> VlmPredictor:
    return VlmPredictor(tiny_presets["qwen2_5_vl"], batch_size=6, num_threads=1)


def test_batched_equals_unbatched(predictor: VlmPredictor, images: list[np.ndarray]) -> None:
    contexts = [None, "Detected: scratch at [10, 60, 80, 3] in zone B (2.0 um)"] * 2
    batched = predictor(images[:4], contexts)
    one_by_one = [
        predictor([image], [context])[0] for image, context in zip(images[:4], contexts, strict=True)
    ]
    assert [r.raw for r in batched] == [r.raw for r in one_by_one]
    assert [r.n_tokens for r in batched] == [r.n_tokens for r in one_by_one]
    assert all(r.valid for r in batched)
    assert len({r.raw for r in batched}) > 1  # rows differ, so padding mix-ups would show


def test_batched_equals_unbatched_for_nested_image_families(
    tiny_presets: dict[str, ModelPreset], images: list[np.ndarray]
) -> None:
    mllama = VlmPredictor(tiny_presets["mllama"], batch_size=3, num_threads=1)
    contexts = ["Detected: nothing", None, "Detected: dig at [1, 2, 3, 4] in zone A (1.0 um)"]
    batched = mllama(images[:3], contexts)
    single = [mllama([img], [ctx])[0] for img, ctx in zip(images[:3], contexts, strict=True)]
    assert [r.raw for r in batched] == [r.raw for r in single] and all(r.valid for r in batched)


def test_same_input_same_answer(predictor: VlmPredictor, images: list[np.ndarray]) -> None:
    assert [r.raw for r in predictor(images[:2])] == [r.raw for r in predictor(images[:2])]


def test_bad_rows_get_their_own_error(predictor: VlmPredictor, images: list[np.ndarray]) -> None:
    png = io.BytesIO()
    Image.fromarray(images[1]).save(png, format="PNG")
    rows = [
        images[0],
        b"\x89PNG\r\n\x1a\n not really a png",
        np.zeros((0, 0, 3), np.uint8),
        images[0].astype(np.float32),
        png.getvalue(),
        "a string",
        np.zeros((1, 400, 3), np.uint8),  # decodes, but the Qwen processor refuses its aspect ratio
    ]
    results = predictor(rows)
    assert results[0].valid and results[4].valid
    assert results[4].raw == predictor([images[1]])[0].raw  # encoded bytes are decoded like arrays
    expected = {
        1: "row 1: corrupt",
        2: "row 2: empty image",
        3: "row 3: expected uint8",
        5: "row 5: expected",
        6: "row 6: ValueError: absolute aspect ratio must be smaller than 200",
    }
    for row, start in expected.items():
        assert not results[row].valid and results[row].error is not None
        assert results[row].error.startswith(start), results[row].error


def test_contexts_must_match_images(predictor: VlmPredictor, images: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="2 images but 1 contexts"):
        predictor(images[:2], ["Detected: nothing"])


def test_quantization_on_cpu_fails_before_loading() -> None:
    missing = ModelPreset(
        name="ghost", family="qwen2_vl", path="/nonexistent/model", bbox_convention="grid1000"
    )
    with pytest.raises(ModelLoadError, match="4bit quantization needs a CUDA GPU"):
        load_model(missing, quantization="4bit", device="cpu")


def _lora_adapter(preset: ModelPreset, out: Path) -> Path:
    from peft import LoraConfig, get_peft_model

    loaded = load_model(preset, device="cpu")
    config = LoraConfig(r=2, lora_alpha=4, target_modules=preset.lora_target_modules, init_lora_weights=False)
    get_peft_model(loaded.model, config).save_pretrained(out)
    return out


def test_adapter_of_another_base_is_refused(tiny_presets: dict[str, ModelPreset], tmp_path: Path) -> None:
    adapter = _lora_adapter(tiny_presets["gemma3"], tmp_path / "gemma-adapter")
    with pytest.raises(
        ModelLoadError, match=r"trained on base model .*gemma3.*but preset .tiny-qwen2\.5-vl."
    ):
        load_model(tiny_presets["qwen2_5_vl"], adapter=adapter, device="cpu")
    with pytest.raises(ModelLoadError, match=r"no adapter_config\.json"):
        load_model(tiny_presets["qwen2_5_vl"], adapter=tmp_path, device="cpu")


def test_matching_adapter_changes_the_model(
    tiny_presets: dict[str, ModelPreset], images: list[np.ndarray], tmp_path: Path
) -> None:
    preset = tiny_presets["gemma3"]
    adapter = _lora_adapter(preset, tmp_path / "adapter")
    base = VlmPredictor(preset, num_threads=1)
    tuned = VlmPredictor(preset, adapter=adapter, num_threads=1)
    assert tuned.adapter_id == str(adapter) and tuned.provenance["adapter_id"] == str(adapter)
    assert tuned.provenance["model_id"] == "tiny-gemma3" and tuned.provenance["schema_hash"]
    [base_result], [tuned_result] = base(images[:1]), tuned(images[:1])
    assert tuned_result.valid and tuned_result.raw != base_result.raw  # random LoRA weights move the answer


def test_stage1_context_reaches_the_prompt(predictor: VlmPredictor) -> None:
    defects = [
        Defect(type="scratch", bbox=[10.4, 20, 30, 4], size_um=2.04, zone="B"),
        Defect(type="dig", bbox=[50, 60, 6, 6], size_um=4.5),
    ]
    zones = ZoneGeometry(center_px=[80, 60], core_radius_px=4, cladding_radius_px=40, um_per_px=1.5)
    context = format_context(defects, zones)
    assert context == (
        "Detected: scratch at [10, 20, 30, 4] in zone B (2.0 um); dig at [50, 60, 6, 6] (4.5 um). "
        "Fibre centre [80, 60], cladding radius 40 px"
    )
    text = render_prompt(predictor.backend.loaded.processor, get_task("endface").prompt, context)
    assert context in text and text.count("<|image_pad|>") == 1 and text.endswith("<|im_start|>assistant\n")


def test_zone_crops_are_centred_on_the_fibre(images: list[np.ndarray]) -> None:
    zones = ZoneGeometry(center_px=[80, 60], core_radius_px=4, cladding_radius_px=30, um_per_px=1.5)
    core, cladding, ferrule = zone_crops(Image.fromarray(images[0]), zones)
    # half-widths 0.35, 1.1 and 2.2 cladding radii; the ferrule crop is clipped by the 160×120 image
    assert core.size == (20, 20) and cladding.size == (66, 66) and ferrule.size == (132, 120)


def test_a_view_preset_shows_the_fibre_view_and_maps_boxes_back(
    tiny_presets: dict[str, ModelPreset], images: list[np.ndarray]
) -> None:
    preset = tiny_presets["qwen2_vl"].model_copy(update={"view_um": 60.0})
    viewer = VlmPredictor(preset, batch_size=2, num_threads=1)
    zones = ZoneGeometry(center_px=[80, 60], core_radius_px=4, cladding_radius_px=30, um_per_px=1.5)
    with_view, whole = viewer(images[:2], geometries=[zones, None])
    assert with_view.valid and whole.valid
    assert with_view.view == (60, 40, 40) and whole.view is None  # 60 µm at 1.5 µm/px, centred on the fibre
    assert with_view.original_size == whole.original_size == (images[0].shape[1], images[0].shape[0])
    # a box on the view's 0–1000 grid lands in the original image, shifted by the window's corner
    report = VlmReport(
        defects=[VlmDefect(type="dig", bbox=[500, 250, 100, 100], severity="high")],
        pass_fail="FAIL",
        explanation="",
    )
    seen = with_view.model_copy(update={"report": report})
    [defect] = to_defects(seen, preset=preset, um_per_px=1.5)
    assert defect.bbox == pytest.approx([60 + 20, 40 + 10, 4, 4])
    with pytest.raises(ValueError, match="2 images but 1 geometries"):
        viewer(images[:2], geometries=[zones])
