"""A Task = report schema + prompt + metrics; a registry by name.

Adding a task is one `register(Task(...))` call with its schema and prompt template:

    >>> from fibervlm.tasks import get_task
    >>> get_task("endface").output_model.__name__
    'VlmReport'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import BaseModel

from fibervlm.prompts import PromptTemplate, load_prompt
from fibervlm.schemas import DEFECT_TYPES, CadReport, InfraReport, VlmReport, json_schema, schema_hash
from fibervlm.schemas.cad import GlobalShape
from fibervlm.schemas.infra import ConditionClass


@dataclass(frozen=True)
class Task:
    """One inspection task. `output_model` is what the VLM must emit (its JSON Schema constrains decoding)."""

    name: str
    output_model: type[BaseModel]
    prompt: PromptTemplate
    description: str = ""
    metrics: tuple[str, ...] = ("json_validity", "slot_f1")
    labels: dict[str, Any] = field(default_factory=dict)  # e.g. the class names of the task

    @property
    def json_schema(self) -> dict[str, Any]:
        return json_schema(self.output_model)

    @property
    def schema_hash(self) -> str:
        return schema_hash(self.output_model)

    @property
    def prompt_hash(self) -> str:
        return self.prompt.prompt_hash


_REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in _REGISTRY:
        raise ValueError(f"task {task.name!r} is already registered")
    _REGISTRY[task.name] = task
    return task


def get_task(name: str) -> Task:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def task_names() -> list[str]:
    return sorted(_REGISTRY)


register(
    Task(
        name="endface",
        output_model=VlmReport,
        prompt=load_prompt("endface"),
        description="Fibre-optic connector end faces graded against IEC 61300-3-35.",
        metrics=("json_validity", "slot_f1", "defect_f1", "map50", "pass_fail_accuracy"),
        labels={"classes": list(DEFECT_TYPES)},
    )
)
register(
    Task(
        name="infra",
        output_model=InfraReport,
        prompt=load_prompt("infra"),
        description="Drainage-infrastructure condition classification after stage-1 detection (9 classes).",
        labels={"classes": list(get_args(ConditionClass))},
    )
)
register(
    Task(
        name="cad",
        output_model=CadReport,
        prompt=load_prompt("cad"),
        description="Multi-view part drawings + OCR text to strict CAD JSON, then OpenSCAD (fibervlm.cad).",
        metrics=("json_validity", "slot_f1", "dimension_accuracy", "render_success"),
        labels={"classes": list(get_args(GlobalShape))},
    )
)
