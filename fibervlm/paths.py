"""Where the project's data files live (configs, bundled models), overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS_DIR = Path(os.environ.get("FIBERVLM_CONFIGS", REPO_ROOT / "configs"))
# The demo VLM trained here by `python -m fibervlm.train.demo` (absent until a recipe beat the baseline).
DEMO_VLM_DIR = REPO_ROOT / "models" / "vlm" / "tiny-demo"


def demo_vlm() -> str:
    """The offline demo's VLM: the bundled trained tiny Qwen2-VL, else the untrained preset."""
    return str(DEMO_VLM_DIR) if (DEMO_VLM_DIR / "config.json").is_file() else "tiny-qwen2-vl"
