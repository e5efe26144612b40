"""Ultralytics without the network: the one place that turns off every download and phone-home.

Call `ultralytics_offline()` instead of `import ultralytics`. Environment variables must be set before
ultralytics is first imported (it reads them at import time), so this module imports it itself:

    >>> from fibervlm.detect.offline import ultralytics_offline
    >>> YOLO = ultralytics_offline().YOLO

What would otherwise reach the network, and what stops it:
- `is_online()` probes, hub and GitHub asset downloads → `YOLO_OFFLINE=1`;
- the Arial.ttf font fetched for plots and labels → a local TTF copied into the config dir;
- telemetry (`sync`) and integrations (hub, wandb, mlflow, ...) → `settings.update(...)`;
- the AMP check, which downloads yolo11n.pt → `amp=False` in every train call (see `yolo.py`);
- its process-wide patch of `PIL.Image.open`, which on any unidentified image tries to pip-install
  `pi-heif` (and then raises ModuleNotFoundError instead of PIL's error) → Pillow's own `open` restored.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from functools import cache
from pathlib import Path
from types import ModuleType

# Settings keys whose integrations or telemetry would reach the network; all off.
_OFF_SETTINGS = (
    "sync", "hub", "raytune", "wandb", "mlflow", "clearml", "comet", "dvc", "neptune", "tensorboard",
    "vscode_msg", "openvino_msg",
)  # fmt: skip
_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
_SYSTEM_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),)


def default_config_dir() -> Path:
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache_home / "fibervlm" / "ultralytics"


def _local_font() -> Path | None:
    """A TTF already here: matplotlib's DejaVuSans (an ultralytics dependency), or the system's."""
    spec = importlib.util.find_spec("matplotlib")
    candidates = list(_SYSTEM_FONTS)
    if spec is not None and spec.origin is not None:
        candidates.insert(0, Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
    return next((p for p in candidates if p.is_file()), None)


def _install_fonts(config_dir: Path) -> None:
    # Ultralytics looks for its fonts in USER_CONFIG_DIR, which is $YOLO_CONFIG_DIR/Ultralytics when set
    # and writable; we fill both so either layout finds them.
    font = _local_font()
    if font is None:
        return
    for folder in (config_dir, config_dir / "Ultralytics"):
        folder.mkdir(parents=True, exist_ok=True)
        for name in _FONT_NAMES:
            if not (folder / name).is_file():
                shutil.copyfile(font, folder / name)


def set_offline_environment(config_dir: str | Path | None = None) -> Path:
    """Set the variables ultralytics reads at import time; returns its config dir. Idempotent."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    if config_dir is not None:
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    path = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(default_config_dir())))
    _install_fonts(path)
    return path


@cache
def ultralytics_offline() -> ModuleType:
    """Import ultralytics with every network path closed; the module, configured once per process."""
    set_offline_environment()
    import ultralytics

    ultralytics.settings.update({key: False for key in _OFF_SETTINGS if key in ultralytics.settings})
    _restore_pillow_open()
    return ultralytics


def _restore_pillow_open() -> None:
    """Undo ultralytics' `Image.open` patch, so a non-image in the same process stays a clear decode error."""
    from PIL import Image
    from ultralytics.utils import patches

    original = getattr(patches, "_image_open", None)
    if original is not None:
        Image.open = original
