"""Nightly backfill.

ray job submit --working-dir . -- python jobs/backfill.py --config configs/backfill.yaml
"""

import argparse
import json
import sys

from fibervlm.pipeline import load_backfill_config, run_backfill


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="YAML config (configs/backfill.yaml); default: built-in defaults")
    parser.add_argument("--input", help="input root: folder or s3://bucket/prefix")
    parser.add_argument("--output", help="output root: folder or s3://bucket/prefix")
    parser.add_argument("--date", help="partition to process: YYYY-MM-DD")
    parser.add_argument("--overwrite", action="store_true", help="redo the partition instead of resuming")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE config overrides, e.g. vlm.max_actors=2")
    args = parser.parse_args()
    config = load_backfill_config(
        args.config,
        input=args.input,
        output=args.output,
        date=args.date,
        overwrite=args.overwrite,
        overrides=args.overrides,
    )
    manifest = run_backfill(config)
    print(json.dumps({k: manifest[k] for k in ("run_id", "counts", "manifest_uri")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
