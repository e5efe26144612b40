"""Tiny VLMs of the four families, built once per session into a temporary cache, and test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fibervlm.vlm import FAMILIES, ModelPreset, build_tiny, load_preset

TINY_PRESETS = {
    "qwen2_vl": "tiny-qwen2-vl",
    "qwen2_5_vl": "tiny-qwen2.5-vl",
    "mllama": "tiny-mllama",
    "gemma3": "tiny-gemma3",
}


@pytest.fixture(scope="session")
def tiny_dirs() -> dict[str, Path]:
    """family → saved tiny model directory, in the tiny cache (keyed by the recipe's hash: built once)."""
    return {family: build_tiny(family) for family in FAMILIES}


@pytest.fixture(scope="session")
def tiny_presets(tiny_dirs: dict[str, Path]) -> dict[str, ModelPreset]:
    """The shipped tiny presets, pointed at this session's build (the YAMLs are what is tested)."""
    presets = {}
    for family, name in TINY_PRESETS.items():
        preset = load_preset(name)
        presets[family] = preset.model_copy(update={"path": str(tiny_dirs[family])})
    return presets


def endface_images(n: int, seed: int = 0) -> list[np.ndarray]:
    """Synthetic end faces (uint8 HxWx3) from the synth package: real inputs, exact ground truth."""
    from fibervlm.synth import SynthConfig, sample_endface

    # Small faces render fast; the processors resize every image to the model's small budget anyway.
    config = SynthConfig(width_px=160, height_px=120, um_per_px=(1.2, 1.5))
    return [sample_endface(seed, index, config=config)[0] for index in range(n)]


@pytest.fixture(scope="session")
def images() -> list[np.ndarray]:
    return endface_images(8)


@pytest.fixture(scope="session")
def images_200() -> list[np.ndarray]:
    """50 synthetic faces in 4 orientations: 200 distinct inputs."""
    faces = endface_images(50, seed=7)
    return [np.ascontiguousarray(np.rot90(face, k)) for k in range(4) for face in faces]
