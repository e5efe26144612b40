"""VLM throughput on CPU: tokens/s and images/s, with and without the grammar constraint, batch 1 vs 8.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python benchmarks/vlm.py --n 16 --validity 200

Every setting answers the same synthetic end faces after one warm-up call. The constraint's overhead is
the ratio of seconds per generated token, constrained / free, at the same batch size (answers differ in
length: the constrained ones stop, a random-weight model's free ones run to the token budget).
`--validity N` also answers N faces both ways and reports the schema-valid rates.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fibervlm.synth import SynthConfig, sample_endface
from fibervlm.vlm import VlmPredictor, load_preset


def faces(n: int, seed: int = 7) -> list[np.ndarray]:
    config = SynthConfig(width_px=160, height_px=120, um_per_px=(1.2, 1.5))
    base = [sample_endface(seed, i, config=config)[0] for i in range((n + 3) // 4)]
    return [np.ascontiguousarray(np.rot90(face, k)) for k in range(4) for face in base][:n]


def measure(predictor: VlmPredictor, images: list[np.ndarray]) -> dict[str, float]:
    predictor(images[:1])  # warm-up: grammar compile, first-call allocations
    start = time.perf_counter()
    results = predictor(images)
    seconds = time.perf_counter() - start
    tokens = sum(r.n_tokens for r in results)
    return {
        "images": len(images),
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 1),
        "images_per_s": round(len(images) / seconds, 2),
        "ms_per_token": round(1000 * seconds / tokens, 3),
        "valid_rate": sum(r.valid for r in results) / len(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny-qwen2.5-vl")
    parser.add_argument("--n", type=int, default=16, help="images per setting")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--free-max-new-tokens", type=int, default=128, help="token budget without constraint"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--validity", type=int, default=0, help="also measure validity on N faces")
    args = parser.parse_args()

    preset = load_preset(args.preset)
    images = faces(args.n)
    rows = []
    for batch_size in args.batch_sizes:
        for constrained in (True, False):
            budget = None if constrained else args.free_max_new_tokens
            predictor = VlmPredictor(
                preset,
                batch_size=batch_size,
                constrained=constrained,
                max_new_tokens=budget,
                num_threads=args.threads,
            )
            row = {"batch_size": batch_size, "constrained": constrained, **measure(predictor, images)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    for batch_size in args.batch_sizes:
        on, off = (
            next(r for r in rows if r["batch_size"] == batch_size and r["constrained"] == c)
            for c in (True, False)
        )
        print(
            json.dumps(
                {
                    "batch_size": batch_size,
                    "constraint_overhead_per_token": round(on["ms_per_token"] / off["ms_per_token"], 3),
                }
            )
        )
    if args.validity:
        many = faces(args.validity)
        for constrained in (True, False):
            budget = None if constrained else args.free_max_new_tokens
            predictor = VlmPredictor(
                preset,
                batch_size=max(args.batch_sizes),
                constrained=constrained,
                max_new_tokens=budget,
                num_threads=args.threads,
            )
            results = predictor(many)
            valid = sum(r.valid for r in results)
            print(
                json.dumps(
                    {
                        "validity_n": len(results),
                        "constrained": constrained,
                        "valid": valid,
                        "valid_rate": valid / len(results),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
