"""Nightly backfill: image shards → geometry → stage 1 → VLM → IEC grade → Parquet (one row per image).

    ray job submit --working-dir . -- python jobs/backfill.py --config configs/backfill.yaml --date 2026-11-20

The same command as `fibervlm backfill`; flags: --config, --input, --output, --date, --overwrite, then
KEY=VALUE overrides. Exits non-zero when the run fails.
"""

import sys

from fibervlm.cli import main

if __name__ == "__main__":
    sys.exit(main(["backfill", *sys.argv[1:]]))
