"""A demo training recipe as a script: config → train → metrics printed; exit 1 when it did not learn.

`python -m fibervlm.train.demo` and `python -m fibervlm.train.cad_demo` are two such recipes: each trains,
scores against its baseline and ships only what beats it, so a run that did not learn fails loudly.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fibervlm.config import Config, load_config
from fibervlm.paths import REPO_ROOT

C = TypeVar("C", bound=Config)
Metrics = dict[str, Any]
LEFT_ALONE = "{config.out_dir} left as it was, metrics in {config.work_dir}"


@dataclass(frozen=True)
class Recipe(Generic[C]):
    doc: str  # the script's docstring; its first line is the --help description
    config_type: type[C]  # with `out_dir` (what ships) and `work_dir` (where the metrics stay)
    config_name: str  # the default config, in configs/train/
    train: Callable[[C], Metrics]
    learned: Callable[[Metrics], bool]
    baseline: str  # what a model must beat to ship, named in the message when it did not
    shown: Callable[[Metrics], Metrics] = lambda metrics: metrics  # what is printed

    def main(self, argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(description=self.doc.splitlines()[0])
        parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "train" / self.config_name))
        parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. n_train=200")
        args = parser.parse_args(argv)
        config = load_config(self.config_type, args.config, args.overrides)
        metrics = self.train(config)
        print(json.dumps(self.shown(metrics), indent=2, default=str))
        if self.learned(metrics):
            return 0
        print(f"not above {self.baseline}: " + LEFT_ALONE.format(config=config))
        return 1
