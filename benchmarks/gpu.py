"""VLM throughput on a GPU machine with nothing downloaded: models of the real Qwen presets' dimensions with
random weights, a large-vocabulary tokenizer built offline, batch 1–256, constrained or not, transformers
against vLLM (where importable), 8/4-bit loading (where bitsandbytes is importable). One table.

    HF_HUB_OFFLINE=1 python benchmarks/gpu.py                       # on the GPU machine
    HF_HUB_OFFLINE=1 python benchmarks/gpu.py --smoke               # CPU, tiny presets, seconds

Each model is the tiny model of its family (`fibervlm.vlm.tiny`) scaled to the preset's published
dimensions; its tokenizer is the tiny one padded with added tokens up to the real vocabulary, so the
grammar's masks are as wide as Qwen's (151 k). Weights are random: answers are not meaningful, costs are.
Only the Qwen presets are covered (Llama-3.2-Vision and Gemma 3 dimensions are not written down here).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fibervlm.synth import SynthConfig, sample_endface
from fibervlm.vlm import VlmPredictor, load_model, load_preset
from fibervlm.vlm.backend import TransformersBackend
from fibervlm.vlm.tiny import build_tiny

# Published config.json dimensions of the Instruct models. Text: hidden, layers, heads, kv heads, MLP width,
# vocabulary; vision: depth, heads, width, MLP width (Qwen2.5-VL; Qwen2-VL's is 4 × width).
TEXT = {
    "qwen2-vl-2b": (1536, 28, 12, 2, 8960, 151936),
    "qwen2-vl-7b": (3584, 28, 28, 4, 18944, 152064),
    "qwen2.5-vl-3b": (2048, 36, 16, 2, 11008, 151936),
    "qwen2.5-vl-7b": (3584, 28, 28, 4, 18944, 152064),
    "tiny-qwen2-vl": (64, 2, 4, 2, 128, 8192),  # --smoke: the same path at CPU size, 8 k vocabulary
}
VISION = {name: (32, 16, 1280, 3420) for name in TEXT} | {"tiny-qwen2-vl": (2, 2, 32, 64)}


def scaled_model(name: str, out: Path) -> Path:
    """A saved model of preset `name`'s dimensions, random bf16 weights, padded tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    preset = load_preset(name)
    hidden, layers, heads, kv_heads, inter, vocab = TEXT[name]
    depth, vision_heads, width, vision_inter = VISION[name]
    half = hidden // heads // 2  # mrope sections (temporal, height, width) sum to head_dim / 2
    spatial = 3 * half // 8
    tiny = build_tiny(preset.family)
    config = AutoConfig.from_pretrained(tiny)
    text = config.text_config
    text.hidden_size, text.num_hidden_layers, text.intermediate_size = hidden, layers, inter
    text.num_attention_heads, text.num_key_value_heads, text.vocab_size = heads, kv_heads, vocab
    text.layer_types = ["full_attention"] * layers
    text.rope_parameters = {**text.rope_parameters, "mrope_section": [half - 2 * spatial, spatial, spatial]}
    vision = config.vision_config
    vision.depth, vision.num_heads = depth, vision_heads
    if preset.family == "qwen2_vl":
        vision.embed_dim, vision.hidden_size = width, hidden
    else:
        vision.hidden_size, vision.intermediate_size, vision.out_hidden_size = width, vision_inter, hidden
    processor = AutoProcessor.from_pretrained(tiny)
    pad_tokenizer(processor.tokenizer, vocab)
    model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def pad_tokenizer(tokenizer: Any, vocab: int) -> None:
    """Add distinct byte-string tokens until the tokenizer is as large as the model's vocabulary."""
    missing = vocab - len(tokenizer)
    tokenizer.add_tokens([f"w{i:06x}" for i in range(max(0, missing))])


def faces(n: int) -> list[np.ndarray]:
    config = SynthConfig(width_px=640, height_px=480)
    return [sample_endface(11, i % 16, config=config)[0] for i in range(n)]


def peak_gib() -> float:
    """Peak GPU memory allocated; on CPU the process's peak resident memory."""
    import resource

    import torch

    if not torch.cuda.is_available():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return torch.cuda.max_memory_allocated() / 2**30


def measure(predictor: VlmPredictor, batch: int) -> dict[str, Any]:
    import torch

    images = faces(batch)
    predictor.batch_size = batch
    predictor(images)  # warm-up: the first call at a new batch size is several times slower
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    results = predictor(images)
    seconds = time.perf_counter() - start
    tokens = sum(r.n_tokens for r in results)
    return {
        "img_s": round(batch / seconds, 2),
        "tok_s": round(tokens / seconds, 1),
        "valid": sum(r.valid for r in results),
        "peak_gib": round(peak_gib(), 2),
    }


def engines(model_dir: str, *, smoke: bool) -> dict[str, Any]:
    """Name → backend: transformers always; 8/4-bit and vLLM where their packages and a GPU are there."""
    import importlib.util

    import torch

    found: dict[str, Any] = {"transformers": TransformersBackend(load_model(model_dir))}
    if smoke or not torch.cuda.is_available():
        return found
    if importlib.util.find_spec("bitsandbytes") is not None:
        for bits in ("8bit", "4bit"):
            found[f"transformers-{bits}"] = TransformersBackend(load_model(model_dir, quantization=bits))
    if importlib.util.find_spec("vllm") is not None:
        from fibervlm.vlm.vllm_backend import VllmBackend

        found["vllm"] = VllmBackend(load_preset(model_dir))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny presets, batch 1 and 2")
    parser.add_argument("--presets", nargs="*", default=[n for n in TEXT if not n.startswith("tiny")])
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8, 32, 64, 128, 256])
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in ["tiny-qwen2-vl"] if args.smoke else args.presets:
            model_dir = str(scaled_model(name, Path(work) / name))
            for engine, backend in engines(model_dir, smoke=args.smoke).items():
                for constrained in (False, True):
                    predictor = VlmPredictor(
                        model_dir,
                        backend=backend,
                        constrained=constrained,
                        max_new_tokens=args.max_new_tokens,
                    )
                    for batch in [1, 2] if args.smoke else args.batches:
                        row = {"model": name, "engine": engine, "constrained": constrained, "batch": batch}
                        rows.append({**row, **measure(predictor, batch)})
                        print(json.dumps(rows[-1]), flush=True)
    print_table(rows)


def print_table(rows: list[dict[str, Any]]) -> None:
    """One side-by-side table: a row per (model, engine, batch), free and constrained next to each other."""
    print(
        "| model | engine | batch | tok/s free | tok/s constrained | img/s constrained | valid | peak GiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        if not row["constrained"]:
            continue
        free = next(
            r
            for r in rows
            if not r["constrained"] and all(r[k] == row[k] for k in ("model", "engine", "batch"))
        )
        print(
            f"| {row['model']} | {row['engine']} | {row['batch']} | {free['tok_s']} | {row['tok_s']} | "
            f"{row['img_s']} | {row['valid']}/{row['batch']} | {row['peak_gib']} |"
        )


if __name__ == "__main__":
    main()
