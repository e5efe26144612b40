"""Fine-tune a VLM on Ray Train (thin entry point for `ray job submit`).

ray job submit -- python jobs/train.py --config configs/train/tiny-lora.yaml [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys

from fibervlm.config import load_config
from fibervlm.train import PreflightError, TrainConfig, run_train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a TrainConfig YAML under configs/train/")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. max_steps=10")
    args = parser.parse_args(argv)
    try:
        result = run_train(load_config(TrainConfig, args.config, args.overrides))
    except PreflightError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(result.summary(), indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
