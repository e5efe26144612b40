"""The dependency rules of docs/architecture.md hold: its layer table is read from the document itself.

Every import statement of the package counts, lazy ones inside functions too (read from the source),
and one subprocess imports all the layers below Ray to show that none of them loads Ray.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fibervlm.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "fibervlm"
ROW = re.compile(r"^\| (\d+) \| (.+?) \|", re.MULTILINE)
MODEL_LIBRARIES = {"torch", "torchvision", "transformers", "peft", "ultralytics", "deepspeed", "xgrammar"}


def layer_table() -> dict[str, int]:
    """unit → layer, from the table under "Dependency rules" in docs/architecture.md."""
    text = (REPO_ROOT / "docs" / "architecture.md").read_text()
    rules = text[text.index("## Dependency rules") :]
    rules = rules[: rules.index("\n## ")]
    return {unit: int(layer) for layer, units in ROW.findall(rules) for unit in re.findall(r"`(\w+)`", units)}


LAYERS = layer_table()
RAY_LAYER = LAYERS["ray_session"]


def unit_of(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imports_of(path: Path) -> set[str]:
    """Every module an import statement in `path` names, at any depth (relative imports resolved)."""
    package = ".".join(("fibervlm", *path.relative_to(PACKAGE).with_suffix("").parts[:-1]))
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def fibervlm_unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "fibervlm":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "__init__"


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_unit_of_the_package_has_a_layer() -> None:
    units = {unit_of(path) for path in SOURCES}
    assert units == set(LAYERS), (units - set(LAYERS), set(LAYERS) - units)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_imports_point_down(path: Path) -> None:
    unit = unit_of(path)
    upward = set()
    for module in imports_of(path):
        target = fibervlm_unit(module)
        if target is not None and target != unit and LAYERS[target] >= LAYERS[unit]:
            upward.add(f"{module} (layer {LAYERS[target]})")
        top = module.split(".")[0]
        if top == "ray" and LAYERS[unit] < RAY_LAYER:
            upward.add("ray (only the Ray layers may)")
        if top in MODEL_LIBRARIES and LAYERS[unit] <= 3:
            upward.add(f"{top} (layers 0–3 know no models)")
    assert not upward, f"{unit} (layer {LAYERS[unit]}) imports {sorted(upward)}"


def test_importing_the_layers_bottom_up_never_loads_a_higher_one() -> None:
    """In a fresh interpreter, import every unit layer by layer: after each layer, nothing of a higher
    layer may be loaded, and nothing loads Ray before the Ray layer."""
    importable = {u: n for u, n in LAYERS.items() if u != "__main__"}  # importing that one runs the CLI
    by_layer = [
        sorted(u for u, n in importable.items() if n == layer)
        for layer in range(max(importable.values()) + 1)
    ]
    script = (
        "import importlib, json, sys\n"
        f"for units in {by_layer!r}:\n"
        "    for unit in units:\n"
        "        importlib.import_module('fibervlm' if unit == '__init__' else f'fibervlm.{unit}')\n"
        "    loaded = sorted({m.split('.')[1] for m in sys.modules if m.startswith('fibervlm.')})\n"
        "    print(json.dumps({'loaded': loaded, 'ray': 'ray' in sys.modules}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    for layer, line in enumerate(result.stdout.splitlines()[-len(by_layer) :]):
        state = json.loads(line)
        higher = {u for u in state["loaded"] if u in LAYERS and LAYERS[u] > layer}
        assert not higher, f"importing layers 0–{layer} loaded {sorted(higher)}"
        assert layer >= RAY_LAYER or not state["ray"], f"importing layers 0–{layer} loaded Ray"
