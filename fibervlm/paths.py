"""Where the project's data files live (configs, bundled models), overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS_DIR = Path(os.environ.get("FIBERVLM_CONFIGS", REPO_ROOT / "configs"))
