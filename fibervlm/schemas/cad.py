"""The drawings task's contract: multi-view drawings + OCR text → strict CAD-ready JSON.

The fields are the seed plan's (object, function, global_shape, components[], interfaces[],
working_principle, dimensions{H, W, D, unit}, materials_guess[], manufacturing[],
assembly_hypothesis, assumptions[], uncertainties[], risks_limits[]). Every string, list and number
is bounded, so its JSON Schema compiles to a finite grammar (`fibervlm.vlm.constrained`).

A component is parametric: its shape, whether it adds material or cuts it, its axis, and the
axis-aligned box it occupies (`at_mm` the lowest corner, `size_mm` the extents along x, y, z; a
cylinder along z of diameter d and length L has `size_mm` [d, d, L]). Whole millimetres: the
drawings are dimensioned in them. W is the extent along x, D along y, H along z.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from fibervlm.schemas.base import StrictModel

MAX_MM = 999  # the largest dimension a drawing of this task may give, in mm
Mm = Annotated[int, Field(ge=0, le=MAX_MM)]
PositiveMm = Annotated[int, Field(ge=1, le=MAX_MM)]
Phrase = Annotated[str, Field(max_length=48)]
GlobalShape = Literal["plate", "bracket", "cylinder", "l-profile"]
ComponentShape = Literal["box", "cylinder"]
LIST_FIELDS = (
    "components",
    "interfaces",
    "materials_guess",
    "manufacturing",
    "assumptions",
    "uncertainties",
    "risks_limits",
)


class CadComponent(StrictModel):
    name: str = Field(max_length=24, description="Short name, e.g. 'base plate', 'hole 1'.")
    shape: ComponentShape = Field(description="The primitive: a box or a cylinder.")
    role: Literal["solid", "cut"] = Field(description="'solid' adds material, 'cut' removes it (holes).")
    axis: Literal["x", "y", "z"] = Field(description="A cylinder's axis (a box's is its longest side).")
    at_mm: list[Mm] = Field(min_length=3, max_length=3, description="Lowest corner [x, y, z] of its box.")
    size_mm: list[PositiveMm] = Field(min_length=3, max_length=3, description="Extents [x, y, z].")


class CadDimensions(StrictModel):
    H: PositiveMm = Field(description="Overall height, along z.")
    W: PositiveMm = Field(description="Overall width, along x.")
    D: PositiveMm = Field(description="Overall depth, along y.")
    unit: Literal["mm"] = Field(description="Always millimetres.")


class CadReport(StrictModel):
    """What the VLM emits for one part, from all its views and the OCR text together."""

    object: str = Field(max_length=32, description="What the part is.")
    function: str = Field(max_length=64, description="What it is for.")
    global_shape: GlobalShape = Field(description="The part's family.")
    components: list[CadComponent] = Field(max_length=6, description="Solids and cuts, in build order.")
    interfaces: list[Phrase] = Field(max_length=3, description="Where it meets other parts.")
    working_principle: str = Field(max_length=64, description="How it works, one sentence.")
    dimensions: CadDimensions = Field(description="Overall extents.")
    materials_guess: list[Phrase] = Field(max_length=2, description="Likely materials.")
    manufacturing: list[Phrase] = Field(max_length=3, description="Likely processes.")
    assembly_hypothesis: str = Field(max_length=64, description="How it is probably assembled.")
    assumptions: list[Phrase] = Field(max_length=2, description="What was assumed.")
    uncertainties: list[Phrase] = Field(max_length=2, description="What the drawings leave open.")
    risks_limits: list[Phrase] = Field(max_length=2, description="Known limits or risks.")
