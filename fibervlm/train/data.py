"""Training data: JSONL rows (LLaVA or messages+images) → model inputs that supervise the answer only.

Both formats come from `fibervlm export`. Rows are read from a file or a folder of `*.jsonl`, local or
`s3://`; image paths are relative to the JSONL's folder. Each example is rendered through the
processor's chat template exactly as `VlmPredictor` prompts (system + user turn with the image, then the
generation prompt); the answer's tokens follow, then the stop token. Labels are -100 everywhere but on
the answer and its stop token, so the model learns to answer, not to repeat the prompt.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
from PIL import Image
from pydantic import BaseModel

from fibervlm.prompts import PromptTemplate
from fibervlm.vlm.constrained import SEPARATORS
from fibervlm.vlm.families import NESTED_IMAGE_FAMILIES
from fibervlm.vlm.prompting import build_messages

IGNORE_INDEX = -100  # torch cross-entropy's ignore index: prompt, image and padding tokens
LLAVA_IMAGE_TAG = "<image>"
# Per-token tensors: padded along the sequence; every other processor output is concatenated on dim 0.
TOKEN_KEYS = (
    "input_ids",
    "attention_mask",
    "labels",
    "mm_token_type_ids",
    "token_type_ids",
    "cross_attention_mask",
)


class DataFormatError(ValueError):
    """A JSONL row that is neither LLaVA nor messages+images; the message names file and line."""


@dataclass(frozen=True)
class Row:
    """One training example as read: where it came from, its images (URIs), the user text and the answer."""

    where: str  # "<file>:<line>", for error messages
    images: tuple[str, ...]
    user_text: str
    target: str
    system: str | None = None


# ---- reading ------------------------------------------------------------------------------------


def _jsonl_files(source: str) -> list[str]:
    fs, path = fsspec.core.url_to_fs(source)
    files = sorted(p for p in fs.ls(path, detail=False) if p.endswith(".jsonl")) if fs.isdir(path) else [path]
    if not files:
        raise FileNotFoundError(f"{source}: no .jsonl files")
    protocol = fs.protocol[0] if isinstance(fs.protocol, tuple) else fs.protocol
    return [f if protocol in ("file", "local") else f"{protocol}://{f}" for f in files]


def read_rows(source: str) -> list[Row]:
    """Every row of a JSONL file (or of a folder's `*.jsonl`), local or `s3://`, in file order."""
    rows = []
    for file in _jsonl_files(source):
        folder = file.rsplit("/", 1)[0]
        with fsspec.open(file, "rt") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    where = f"{file}:{number}"
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise DataFormatError(f"{where}: not JSON ({error})") from None
                    rows.append(parse_record(record, where=where, folder=folder))
    return rows


def _resolve(folder: str, image: str) -> str:
    if "://" in image or image.startswith("/"):
        return image
    return f"{folder}/{image}"


def parse_record(record: dict[str, Any], *, where: str, folder: str) -> Row:
    """A LLaVA (`image` + `conversations`) or TRL (`messages` + `images`) record → `Row`."""
    if "conversations" in record:
        return _parse_llava(record, where, folder)
    if "messages" in record:
        return _parse_messages(record, where, folder)
    raise DataFormatError(
        f"{where}: expected `conversations` (LLaVA) or `messages` (+ `images`), got {sorted(record)}"
    )


def _parse_llava(record: dict[str, Any], where: str, folder: str) -> Row:
    turns = {turn.get("from"): turn.get("value", "") for turn in record["conversations"]}
    if "human" not in turns or "gpt" not in turns:
        raise DataFormatError(f"{where}: a LLaVA record needs one `human` and one `gpt` turn")
    image = record.get("image")
    images = [image] if isinstance(image, str) else list(image or [])
    user_text = turns["human"].replace(LLAVA_IMAGE_TAG, "").strip()
    return Row(
        where, tuple(_resolve(folder, i) for i in images), user_text, turns["gpt"], turns.get("system")
    )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def _parse_messages(record: dict[str, Any], where: str, folder: str) -> Row:
    by_role = {m.get("role"): m.get("content", "") for m in record["messages"]}
    if "user" not in by_role or "assistant" not in by_role:
        raise DataFormatError(f"{where}: `messages` needs one `user` and one `assistant` turn")
    images = tuple(_resolve(folder, i) for i in record.get("images") or [])
    system = _text_of(by_role["system"]) if "system" in by_role else None
    return Row(where, images, _text_of(by_role["user"]), _text_of(by_role["assistant"]), system)


def load_image(uri: str) -> Image.Image:
    with fsspec.open(uri, "rb") as handle:
        data = handle.read()
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


# ---- encoding -----------------------------------------------------------------------------------


def training_messages(prompt: PromptTemplate, row: Row) -> list[dict[str, Any]]:
    """The predictor's messages (`build_messages`) with this row's texts: same template, same order."""
    messages = build_messages(prompt, n_images=len(row.images))
    messages[0]["content"][0]["text"] = row.system if row.system is not None else prompt.system
    messages[1]["content"][-1]["text"] = row.user_text
    return messages


def answer_text(target: str, output_model: type[BaseModel]) -> str:
    """The target as constrained decoding writes it: schema field order, xgrammar's separators.

    Training on another spelling of the same JSON (e.g. compact `","`) would teach tokens that the
    grammar then forbids at inference.
    """
    answer = output_model.model_validate_json(target)
    return json.dumps(answer.model_dump(mode="json"), separators=SEPARATORS, ensure_ascii=False)


@dataclass
class Encoded:
    """One example's tensors (batch dim 1) and its token counts."""

    tensors: dict[str, Any]
    n_tokens: int
    n_image_tokens: int
    n_answer_tokens: int


class ExampleEncoder:
    """Row + images → processor outputs plus answer-only `labels`. The answer is tokenized on its own and
    appended after the generation prompt: the same token boundary the model meets when it generates."""

    def __init__(
        self,
        *,
        processor: Any,
        prompt: PromptTemplate,
        output_model: type[BaseModel],
        family: str,
        stop_token_id: int,
    ) -> None:
        self.processor = processor
        self.prompt = prompt
        self.output_model = output_model
        self.family = family
        self.stop_token_id = stop_token_id
        self.image_token_id = _image_token_id(processor)

    def __call__(self, row: Row, images: Sequence[Image.Image]) -> Encoded:
        import torch

        text = self.processor.apply_chat_template(
            training_messages(self.prompt, row), tokenize=False, add_generation_prompt=True
        )
        batch_images: Any = [list(images)] if self.family in NESTED_IMAGE_FAMILIES else list(images)
        prompt = self.processor(text=[text], images=batch_images or None, return_tensors="pt")
        answer_ids_list = self.processor.tokenizer(
            answer_text(row.target, self.output_model), add_special_tokens=False
        )
        answer = answer_ids_list["input_ids"] + [self.stop_token_id]
        answer_ids = torch.tensor([answer], dtype=torch.long)
        n_prompt = prompt["input_ids"].shape[1]
        tensors = {key: value for key, value in prompt.items() if key not in TOKEN_KEYS}
        tensors["input_ids"] = torch.cat([prompt["input_ids"], answer_ids], dim=1)
        tensors["labels"] = torch.cat([torch.full((1, n_prompt), IGNORE_INDEX), answer_ids], dim=1)
        for key in TOKEN_KEYS:
            if key in prompt and key != "input_ids":
                tensors[key] = _extend(key, prompt[key], len(answer))
        n_image = (
            int((prompt["input_ids"] == self.image_token_id).sum()) if self.image_token_id is not None else 0
        )
        return Encoded(tensors, n_prompt + len(answer), n_image, len(answer))


def _image_token_id(processor: Any) -> int | None:
    token = getattr(processor, "image_token", None)
    if token is None:
        return None
    return int(processor.tokenizer.convert_tokens_to_ids(token))


def _extend(key: str, value: Any, n_answer: int) -> Any:
    """Continue a per-token tensor over the answer: attended, text (type 0), and for Mllama still
    cross-attending the image (repeat the last position)."""
    import torch

    if key == "attention_mask":
        return torch.cat([value, torch.ones((1, n_answer), dtype=value.dtype)], dim=1)
    if key == "cross_attention_mask":
        return torch.cat([value, value[:, -1:].repeat(1, n_answer, *([1] * (value.dim() - 2)))], dim=1)
    return torch.cat([value, torch.zeros((1, n_answer), dtype=value.dtype)], dim=1)


# ---- dataset and collator ---------------------------------------------------------------------------


class VlmDataset:
    """A map-style dataset over rows; images are read and encoded when an item is asked for."""

    def __init__(self, rows: Sequence[Row], encoder: ExampleEncoder) -> None:
        self.rows = list(rows)
        self.encoder = encoder

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        return self.encoder(row, [load_image(uri) for uri in row.images]).tensors


class Collator:
    """Right-pads per-token tensors (`input_ids` with the pad id, labels with -100, masks with 0) and
    concatenates the image tensors on dim 0 (Qwen: patches; others: images), in row order, so image
    placeholders and image features stay aligned."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        length = max(e["input_ids"].shape[1] for e in examples)
        batch: dict[str, Any] = {}
        for key in examples[0]:
            if key in TOKEN_KEYS:
                fill = {"input_ids": self.pad_token_id, "labels": IGNORE_INDEX}.get(key, 0)
                batch[key] = torch.cat([_pad(e[key], length, fill) for e in examples], dim=0)
            else:
                batch[key] = torch.cat([e[key] for e in examples], dim=0)
        return batch


def _pad(value: Any, length: int, fill: int) -> Any:
    import torch

    missing = length - value.shape[1]
    if missing == 0:
        return value
    shape = (value.shape[0], missing, *value.shape[2:])
    return torch.cat([value, torch.full(shape, fill, dtype=value.dtype)], dim=1)
