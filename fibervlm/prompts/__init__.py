"""Versioned prompt templates per task, each with a stable hash. Imports nothing else of fibervlm."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

from fibervlm.schemas.base import stable_hash


@dataclass(frozen=True)
class PromptTemplate:
    """System prompt + instruction (+ an optional stage-1 context line) for one task."""

    name: str
    version: int
    system: str
    instruction: str
    context: str = "{context}"

    @property
    def prompt_hash(self) -> str:
        return stable_hash([self.name, self.version, self.system, self.instruction, self.context])

    def user_text(self, context: str | None = None) -> str:
        """The user turn's text; stage-1 findings, if any, follow the instruction."""
        if not context:
            return self.instruction
        return f"{self.instruction}\n{self.context.format(context=context)}"


def load_prompt(name: str) -> PromptTemplate:
    """Load `templates/<name>.yaml` shipped inside the package."""
    path = resources.files("fibervlm.prompts") / "templates" / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"no prompt template named {name!r}")
    data = yaml.safe_load(path.read_text())
    return PromptTemplate(name=name, **data)
