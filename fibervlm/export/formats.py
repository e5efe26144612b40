"""Training-file formats, one JSON object per line:

- `llava`: `{"id", "image", "conversations"}`, the human turn `<image>` + newline + the instruction,
  the gpt turn the target JSON;
- `messages`: `{"messages", "images"}` with typed content parts (`{"type": "image"}`, `{"type": "text"}`),
  as TRL's vision SFT and the Hugging Face processors' chat templates take them;
- `llamafactory`: `{"messages", "images"}` with string content and an `<image>` placeholder, as
  LLaMA-Factory's `sharegpt` loader takes them (`formatting: sharegpt`, `columns: {messages, images}`,
  `tags: {role_tag: role, content_tag: content, user_tag: user, assistant_tag: assistant}`).

Image paths are written relative to the output file's folder, so the file and the images move together.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from fibervlm.export.sources import Example

Format = Literal["llava", "messages", "llamafactory"]
IMAGE_TOKEN = "<image>"


def llava_record(example: Example, instruction: str, image: str) -> dict:
    return {
        "id": example.image_id or Path(image).stem,
        "image": image,
        "conversations": [
            {"from": "human", "value": f"{IMAGE_TOKEN}\n{instruction}"},
            {"from": "gpt", "value": example.target.model_dump_json()},
        ],
    }


def messages_record(example: Example, instruction: str, image: str) -> dict:
    """TRL's vision SFT shape: typed content parts, the image as a placeholder part, paths in `images`."""
    return {
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]},
            {"role": "assistant", "content": [{"type": "text", "text": example.target.model_dump_json()}]},
        ],
        "images": [image],
    }


def llamafactory_record(example: Example, instruction: str, image: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"{IMAGE_TOKEN}{instruction}"},
            {"role": "assistant", "content": example.target.model_dump_json()},
        ],
        "images": [image],
    }


RECORDS = {"llava": llava_record, "messages": messages_record, "llamafactory": llamafactory_record}
FORMATS = tuple(RECORDS)


def write_jsonl(examples: Iterable[Example], out: Path, *, fmt: Format, instruction: str) -> int:
    """Write one record per example to `out`; returns how many were written. The file appears whole
    or not at all (written aside, then renamed), so a failed export never leaves a short training set."""
    if fmt not in RECORDS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(RECORDS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    n = 0
    try:
        with partial.open("w") as f:
            for example in examples:
                image = os.path.relpath(example.image.resolve(), out.parent.resolve())
                f.write(json.dumps(RECORDS[fmt](example, instruction, image), ensure_ascii=False) + "\n")
                n += 1
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return n
