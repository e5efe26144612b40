"""Fine-tune a VLM on Ray Train (DeepSpeed ZeRO-3 or DDP, LoRA), evaluate, publish and promote if better.

    ray job submit --working-dir . -- python jobs/train.py --config configs/train/tiny-lora.yaml

The same command as `fibervlm train`. Exits 2 when the preflight refuses the data, non-zero on failure.
"""

import sys

from fibervlm.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
