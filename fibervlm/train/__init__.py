"""Fine-tuning on Ray Train: data + preflight, LoRA / full, DDP or DeepSpeed ZeRO-3, export, hold-out eval.

fibervlm train --config configs/train/tiny-demo.yaml
"""

from fibervlm.train.config import LoraSettings, RegistrySettings, TrainConfig
from fibervlm.train.data import Collator, ExampleEncoder, Row, VlmDataset, read_rows
from fibervlm.train.ds_config import (
    DeepSpeedConfigError,
    load_deepspeed_config,
    read_deepspeed_config,
    validate_deepspeed_config,
)
from fibervlm.train.preflight import PreflightError, PreflightReport, preflight
from fibervlm.train.run import TrainResult, check_data, make_trainer, run_train

__all__ = [
    "Collator",
    "DeepSpeedConfigError",
    "ExampleEncoder",
    "LoraSettings",
    "PreflightError",
    "PreflightReport",
    "RegistrySettings",
    "Row",
    "TrainConfig",
    "TrainResult",
    "VlmDataset",
    "check_data",
    "load_deepspeed_config",
    "make_trainer",
    "preflight",
    "read_deepspeed_config",
    "read_rows",
    "run_train",
    "validate_deepspeed_config",
]
