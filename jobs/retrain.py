"""One round of the weekly retrain loop: mine → review queue → snapshot → Ray Train LoRA from BEST →
hold-out gate → promote → round report.

    ray job submit --working-dir . -- python jobs/retrain.py --config configs/retrain.yaml

The same command as `fibervlm retrain`. Exits 2 on a bad config or data (one line naming it).
"""

import sys

from fibervlm.cli import main

if __name__ == "__main__":
    sys.exit(main(["retrain", *sys.argv[1:]]))
