"""Labelled data → VLM training files (LLaVA, TRL `messages` + `images`, LLaMA-Factory), as JSONL.

Sources: synthetic labels, classical reports as pseudo-labels, legacy analyser reports. The target
text is the task's VLM answer (`VlmReport`: boxes on the 0–1000 grid, the label's IEC verdict).
"""

from fibervlm.export.build import SOURCES, examples_from, output_path, run_export
from fibervlm.export.crops import REGIONS, clip_box, crop_box_px, crop_examples, crop_target
from fibervlm.export.formats import FORMATS, llamafactory_record, llava_record, messages_record, write_jsonl
from fibervlm.export.legacy import map_report, read_legacy
from fibervlm.export.sources import Example, Tally, read_pseudo, read_synth
from fibervlm.export.targets import default_explanation, grid_box, vlm_target

__all__ = [
    "FORMATS",
    "REGIONS",
    "SOURCES",
    "Example",
    "Tally",
    "clip_box",
    "crop_box_px",
    "crop_examples",
    "crop_target",
    "default_explanation",
    "examples_from",
    "grid_box",
    "llamafactory_record",
    "llava_record",
    "map_report",
    "messages_record",
    "output_path",
    "read_legacy",
    "read_pseudo",
    "read_synth",
    "run_export",
    "vlm_target",
    "write_jsonl",
]
