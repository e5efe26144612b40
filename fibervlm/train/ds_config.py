"""DeepSpeed JSON configs under `configs/deepspeed/`: loaded, completed from the TrainConfig, validated.

The JSON holds what is a cluster choice (ZeRO stage, precision, offload, bucket sizes, optimizer type);
batch sizes and the learning rate come from the training config, so the two never disagree.
`DeepSpeedConfig` checks the result without any process group (unknown keys, batch arithmetic).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fibervlm.paths import REPO_ROOT

DEEPSPEED_DIR = REPO_ROOT / "configs" / "deepspeed"


class DeepSpeedConfigError(ValueError):
    """A DeepSpeed config that DeepSpeed would refuse; the message names the file and the problem."""


def resolve_path(path: str | Path) -> Path:
    """Absolute, or relative to the working directory, else to the repository root."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return REPO_ROOT / candidate


def read_deepspeed_config(path: str | Path) -> dict[str, Any]:
    resolved = resolve_path(path)
    try:
        return json.loads(resolved.read_text())
    except FileNotFoundError:
        raise DeepSpeedConfigError(f"{path}: no such DeepSpeed config") from None
    except json.JSONDecodeError as error:
        raise DeepSpeedConfigError(f"{path}: not valid JSON ({error})") from None


def complete_config(
    config: dict[str, Any], *, micro_batch_size: int, grad_accum_steps: int, learning_rate: float
) -> dict[str, Any]:
    """Fill the batch sizes and the optimizer's lr from the training config."""
    done = copy.deepcopy(config)
    done["train_micro_batch_size_per_gpu"] = micro_batch_size
    done["gradient_accumulation_steps"] = grad_accum_steps
    done.pop("train_batch_size", None)  # DeepSpeed derives it: micro × accumulation × ranks
    if "optimizer" in done:
        done["optimizer"].setdefault("params", {})["lr"] = learning_rate
    return done


def validate_deepspeed_config(config: dict[str, Any], *, origin: str = "<config>") -> None:
    """Raise `DeepSpeedConfigError` if DeepSpeed's own parser refuses `config`.

    Without a process group DeepSpeed checks the batch arithmetic for one rank; a config that names
    no `train_batch_size` (as completed here) is valid at any world size.
    """
    from deepspeed.runtime.config import DeepSpeedConfig

    try:
        DeepSpeedConfig(copy.deepcopy(config))
    except Exception as error:  # DeepSpeed raises AssertionError, ValueError and pydantic errors
        message = " ".join(str(error).split()) or type(error).__name__
        raise DeepSpeedConfigError(f"{origin}: DeepSpeed refuses this config: {message}") from None


def load_deepspeed_config(
    path: str | Path, *, micro_batch_size: int, grad_accum_steps: int, learning_rate: float
) -> dict[str, Any]:
    """Read, complete and validate; the dict to pass to `deepspeed.initialize(config=...)`."""
    config = complete_config(
        read_deepspeed_config(path),
        micro_batch_size=micro_batch_size,
        grad_accum_steps=grad_accum_steps,
        learning_rate=learning_rate,
    )
    validate_deepspeed_config(config, origin=str(path))
    return config
