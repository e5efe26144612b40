"""The model to train: loaded by the predictor's loader, then LoRA (peft) or full fine-tuning.

No Ray here: the Ray Train loop (`loop.py`) calls these on each worker.
"""

from __future__ import annotations

import re
from typing import Any

from fibervlm.train.config import TrainConfig
from fibervlm.vlm.loading import LoadedVlm, load_model
from fibervlm.vlm.presets import ModelPreset

# Parameter-name fragments of the vision towers of our families (Qwen `visual`, Mllama `vision_model`,
# Gemma 3 `vision_tower`): frozen in full fine-tuning as well.
VISION_PATTERN = re.compile(r"(^|\.)(visual|vision_model|vision_tower)\.")


def stop_token_id(generation_config: Any, tokenizer: Any) -> int:
    """The first stop id of the generation config (what ends a predictor's answer), else the eos."""
    eos = generation_config.eos_token_id
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    return int(ids[0]) if ids else int(tokenizer.eos_token_id)


def load_for_training(preset: ModelPreset, config: TrainConfig, device: str) -> LoadedVlm:
    """Load through `fibervlm.vlm.load_model`, then wrap for training (LoRA or full)."""
    loaded = load_model(preset, device=device)
    model = loaded.model
    if config.method == "lora" and config.init_adapter:
        model = continue_lora(model, config.init_adapter)
    elif config.method == "lora":
        model = apply_lora(model, config, preset)
    elif config.freeze_vision:
        for name, param in model.named_parameters():
            if VISION_PATTERN.search(name):
                param.requires_grad_(False)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if config.method == "lora":
            model.enable_input_require_grads()  # the frozen embeddings must still pass gradients to LoRA
    model.train()
    loaded.model = model
    return loaded


def apply_lora(model: Any, config: TrainConfig, preset: ModelPreset) -> Any:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora.rank,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules or preset.lora_target_modules,
    )
    # autocast_adapter_dtype=False: peft would upcast adapters to fp32, which breaks ZeRO-3's bf16 partitions.
    peft_model = get_peft_model(model, lora, autocast_adapter_dtype=False)
    # The adapter names its base as the loader knows it: the hub id, else the preset name for tiny
    # presets (their cache path changes with the build recipe), else the local path.
    base = preset.model_id or (preset.name if preset.tiny else preset.model_ref)
    peft_model.peft_config["default"].base_model_name_or_path = base
    return peft_model


def continue_lora(model: Any, adapter: str) -> Any:
    """Load a trained adapter onto the base, trainable: a new round starts where BEST left off."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter, is_trainable=True, autocast_adapter_dtype=False)


def count_parameters(model: Any) -> dict[str, int]:
    """Total and trainable parameters; a ZeRO-3 partitioned parameter counts its full size (`ds_numel`)."""
    total = trainable = 0
    for param in model.parameters():
        numel = int(getattr(param, "ds_numel", param.numel()))
        total += numel
        trainable += numel if param.requires_grad else 0
    return {"total": total, "trainable": trainable}
