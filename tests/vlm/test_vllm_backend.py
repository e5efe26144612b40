"""The vLLM backend's CPU side: engine and sampling settings come from our presets, schema and adapter;
`backend: vllm` validates everywhere and is refused, naming the extra, where vLLM is missing."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fibervlm.inspector import Inspector, InspectorConfig
from fibervlm.tasks import get_task
from fibervlm.vlm import VlmRequest, build_messages, load_preset
from fibervlm.vlm.constrained import schema_grammar
from fibervlm.vlm.vllm_backend import VllmMissingError, engine_kwargs, openai_messages, sampling_params


@pytest.fixture
def without_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM absent, as on this CPU machine (and still absent where a GPU image installs it)."""
    find_spec = importlib.util.find_spec

    def no_vllm(name: str, *args: Any) -> Any:
        return None if name == "vllm" else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", no_vllm)


def test_choosing_vllm_without_it_is_refused_naming_the_extra(without_vllm: None) -> None:
    config = InspectorConfig.model_validate({"vlm": {"backend": "vllm", "model": "qwen2-vl-2b"}})
    assert config.vlm is not None and config.vlm.backend == "vllm"  # the config itself validates
    with pytest.raises(VllmMissingError, match=r'pip install -e "\.\[vllm\]"'):
        Inspector(config)


def test_engine_settings_come_from_the_preset_and_the_adapter(tmp_path: Path) -> None:
    qwen = engine_kwargs(load_preset("qwen2-vl-2b"), adapter=None)
    assert qwen["dtype"] == "bfloat16" and qwen["limit_mm_per_prompt"] == {"image": 1}
    assert qwen["mm_processor_kwargs"] == {"min_pixels": 200704, "max_pixels": 802816}  # the one budget
    assert "enable_lora" not in qwen
    assert "mm_processor_kwargs" not in engine_kwargs(load_preset("gemma-3-4b"), adapter=None)
    adapter = tmp_path / "adapter-7"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 16, "base_model_name_or_path": "x"}))
    lora = engine_kwargs(load_preset("qwen2.5-vl-7b"), adapter=adapter)
    assert (lora["enable_lora"], lora["max_loras"], lora["max_lora_rank"]) == (True, 1, 16)


def test_sampling_is_greedy_and_constrained_by_our_grammar() -> None:
    schema = get_task("endface").json_schema
    params = sampling_params(schema, 1620)
    assert params["temperature"] == 0.0 and params["max_tokens"] == 1620
    assert params["structured_outputs"] == {"grammar": schema_grammar(schema)}
    assert "structured_outputs" not in sampling_params(None, 64)


def test_images_travel_as_lossless_data_urls_in_place_of_the_placeholders() -> None:
    pixels = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    request = VlmRequest(build_messages(get_task("endface").prompt, None), [Image.fromarray(pixels)])
    [message] = [m for m in openai_messages(request) if m["role"] == "user"]
    [part] = [p for p in message["content"] if p["type"] == "image_url"]
    header, data = part["image_url"]["url"].split(",", 1)
    assert header == "data:image/png;base64"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))), pixels)
    assert all(p.get("type") != "image" for p in message["content"])
