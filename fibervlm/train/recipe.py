"""A demo training recipe as a script: config → train → metrics printed; exit 1 when it did not learn.

`python -m fibervlm.train.demo` and `python -m fibervlm.train.cad_demo` are two such recipes: each trains,
scores against its baseline and ships only what beats it, so a run that did not learn fails loudly.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from fibervlm.config import Config, load_config

C = TypeVar("C", bound=Config)
Metrics = dict[str, Any]


@dataclass(frozen=True)
class Recipe(Generic[C]):
    description: str
    config_type: type[C]
    default_config: Path
    train: Callable[[C], Metrics]
    learned: Callable[[Metrics], bool]
    failure: str  # printed when it did not learn; `{config.FIELD}` names the run's config values
    shown: Callable[[Metrics], Metrics] = lambda metrics: metrics  # what is printed

    def main(self, argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(description=self.description)
        parser.add_argument("--config", default=str(self.default_config))
        parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. n_train=200")
        args = parser.parse_args(argv)
        config = load_config(self.config_type, args.config, args.overrides)
        metrics = self.train(config)
        print(json.dumps(self.shown(metrics), indent=2, default=str))
        if self.learned(metrics):
            return 0
        print(self.failure.format(config=config))
        return 1
