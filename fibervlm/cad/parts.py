"""Simple parametric parts with exact ground truth: plates with holes, brackets, bored cylinders, L-profiles.

`sample_part(seed, index)` is a pure function of its arguments (numpy's generator seeded with
[seed, index]), so the same seed and index give the same part, views and text on every machine.

    >>> part = sample_part(seed=1, index=0)
    >>> part == sample_part(seed=1, index=0), part.report.dimensions.unit
    (True, 'mm')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fibervlm.schemas.cad import CadComponent, CadDimensions, CadReport, GlobalShape

FAMILIES: tuple[GlobalShape, ...] = ("plate", "bracket", "cylinder", "l-profile")
MATERIALS = ("aluminium", "steel", "stainless steel", "brass", "pom")


@dataclass(frozen=True)
class Part:
    """One part: its gold report (components and overall dimensions) and its id."""

    part_id: str
    report: CadReport

    @property
    def family(self) -> GlobalShape:
        return self.report.global_shape


def _even(rng: np.random.Generator, low: int, high: int) -> int:
    """An even integer in [low, high] (hole diameters: their centre stays on whole millimetres)."""
    return 2 * int(rng.integers(low // 2, high // 2 + 1))


def _box(name: str, at: list[int], size: list[int], role: str = "solid") -> CadComponent:
    axis = "xyz"[int(np.argmax(size))]
    return CadComponent.model_validate(
        {"name": name, "shape": "box", "role": role, "axis": axis, "at_mm": at, "size_mm": size}
    )


def _cylinder(name: str, axis: str, centre: list[int], d: int, length: int, role: str) -> CadComponent:
    """A cylinder along `axis`; `centre` is its axis' point at the start (the other two coordinates)."""
    at, size = [], []
    for i, a in enumerate("xyz"):
        at.append(centre[i] if a == axis else centre[i] - d // 2)
        size.append(length if a == axis else d)
    return CadComponent.model_validate(
        {"name": name, "shape": "cylinder", "role": role, "axis": axis, "at_mm": at, "size_mm": size}
    )


def _plate(rng: np.random.Generator) -> tuple[list[CadComponent], list[str], str, str]:
    w, d, t = int(rng.integers(60, 201)), int(rng.integers(40, 151)), int(rng.integers(4, 21))
    hole = _even(rng, 4, 12)
    n = int(rng.choice([2, 4]))
    inset = max(hole, 8)
    corners = [(inset, inset), (w - inset, inset), (inset, d - inset), (w - inset, d - inset)][:n]
    comps = [_box("base plate", [0, 0, 0], [w, d, t])]
    comps += [_cylinder(f"hole {i + 1}", "z", [x, y, 0], hole, t, "cut") for i, (x, y) in enumerate(corners)]
    return comps, [f"{n} mounting holes"], "mounting plate", "bolted to a flat support"


def _bracket(rng: np.random.Generator) -> tuple[list[CadComponent], list[str], str, str]:
    w, d, h, t = (
        int(rng.integers(40, 121)),
        int(rng.integers(20, 61)),
        int(rng.integers(40, 121)),
        int(rng.integers(3, 11)),
    )
    hole = _even(rng, 4, min(12, d - 8))
    comps = [
        _box("base leg", [0, 0, 0], [w, d, t]),
        _box("upright leg", [0, 0, t], [t, d, h - t]),
        _cylinder("base hole", "z", [(w + t) // 2, d // 2, 0], hole, t, "cut"),
        _cylinder("upright hole", "x", [0, d // 2, (h + t) // 2], hole, t, "cut"),
    ]
    return comps, ["base hole", "upright hole"], "angle bracket", "screwed to a wall and a shelf"


def _cylinder_part(rng: np.random.Generator) -> tuple[list[CadComponent], list[str], str, str]:
    dia, h = _even(rng, 20, 120), int(rng.integers(20, 201))
    bore = _even(rng, int(0.3 * dia), int(0.6 * dia))
    comps = [
        _cylinder("body", "z", [dia // 2, dia // 2, 0], dia, h, "solid"),
        _cylinder("bore", "z", [dia // 2, dia // 2, 0], bore, h, "cut"),
    ]
    return comps, ["bore", "end faces"], "bored bushing", "pressed onto a shaft"


def _l_profile(rng: np.random.Generator) -> tuple[list[CadComponent], list[str], str, str]:
    w, h, t, length = (
        int(rng.integers(20, 81)),
        int(rng.integers(20, 81)),
        int(rng.integers(2, 9)),
        int(rng.integers(100, 401)),
    )
    comps = [_box("flange", [0, 0, 0], [w, length, t]), _box("web", [0, 0, t], [t, length, h - t])]
    return comps, ["flange face", "web face"], "angle profile", "welded or bolted into a frame"


_BUILDERS = {"plate": _plate, "bracket": _bracket, "cylinder": _cylinder_part, "l-profile": _l_profile}
_PROCESSES = {
    "plate": ["laser cutting", "drilling"],
    "bracket": ["sheet bending", "drilling"],
    "cylinder": ["turning", "boring"],
    "l-profile": ["extrusion", "cutting to length"],
}


def overall(components: list[CadComponent]) -> tuple[int, int, int]:
    """(W, D, H): the extents of the solids' union, in mm."""
    solids = [c for c in components if c.role == "solid"]
    return tuple(  # type: ignore[return-value]
        max(c.at_mm[i] + c.size_mm[i] for c in solids) - min(c.at_mm[i] for c in solids) for i in range(3)
    )


def sample_part(seed: int, index: int) -> Part:
    """The part `index` of the set `seed`: its family, sizes, material and gold report."""
    rng = np.random.default_rng([seed, index])
    family: GlobalShape = FAMILIES[int(rng.integers(len(FAMILIES)))]
    components, interfaces, function, assembly = _BUILDERS[family](rng)
    material = str(rng.choice(MATERIALS))
    w, d, h = overall(components)
    report = CadReport(
        object=f"{family} part",
        function=function,
        global_shape=family,
        components=components,
        interfaces=interfaces,
        working_principle="a rigid part that holds its neighbours in place",
        dimensions=CadDimensions(H=h, W=w, D=d, unit="mm"),
        materials_guess=[material],
        manufacturing=_PROCESSES[family],
        assembly_hypothesis=assembly,
        assumptions=["dimensions in millimetres"],
        uncertainties=["tolerances not given"],
        risks_limits=["edges not chamfered"],
    )
    return Part(part_id=f"part-{seed:03d}-{index:05d}", report=report)
