"""One composition, image(s) → enriched reports: geometry → stage 1 → VLM → grade.

The CLI's `inspect`, the backfill's stages and Serve all call this (batch/serve parity). The steps
are separate methods so the backfill can run each as its own actor stage; the per-image state
(`Inspection`) is a JSON-able model that travels between them.

    >>> from fibervlm.synth import sample_endface
    >>> image, truth = sample_endface(seed=0, index=2, profile="sm-pc")  # grayscale uint8, (480, 640)
    >>> [inspection] = Inspector(InspectorConfig(vlm=None)).inspect([image])
    >>> inspection.status, inspection.report.provenance.grading_table
    ('ok', 'iec61300-3-35-ed2/sm-pc')
    >>> inspection.report.pass_fail, inspection.report.failed_rule  # a scratch over 3 µm wide in the cladding
    ('FAIL', 'sm-pc/B/scratches/>3um')
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import numpy as np
from pydantic import Field

from fibervlm import __version__
from fibervlm.classical.report import ClassicalConfig
from fibervlm.config import Config
from fibervlm.detect.config import DetectorConfig, QualityConfig
from fibervlm.eval.matching import box_iou
from fibervlm.grading import DEFAULT_EDITION, grade_report_fields, table_for_profile
from fibervlm.mining import disagreement
from fibervlm.schemas import (
    Defect,
    EndfaceReport,
    FibreProfile,
    PassFail,
    Provenance,
    StrictModel,
    VlmReport,
    ZoneGeometry,
)
from fibervlm.tasks import get_task


class VlmSettings(Config):
    """Which VLM answers, and how."""

    model: str = Field(
        default="tiny-qwen2-vl", description="Preset name (configs/models/) or a local model directory."
    )
    adapter: str | None = Field(default=None, description="A peft LoRA adapter directory, or None.")
    backend: Literal["transformers", "vllm"] = Field(
        default="transformers",
        description="What generates: `transformers` (any machine) or `vllm` (GPU; the optional extra "
        '`pip install -e ".[vllm]"`; refused with that message where vLLM is missing). Serve runs '
        "transformers whatever this says.",
    )
    batch_size: int = Field(default=8, ge=1, description="Images per generate call.")
    constrained: bool = Field(
        default=True, description="Grammar-constrained decoding (schema-valid by construction)."
    )
    max_new_tokens: int | None = Field(default=None, gt=0, description="Decoding budget; None: the preset's.")
    device: str | None = Field(default=None, description="torch device; None: CUDA if available, else CPU.")
    num_threads: int | None = Field(default=None, ge=1, description="torch threads (1 inside Ray actors).")
    stage1_context: bool = Field(default=True, description="Tell the VLM what geometry and stage 1 found.")
    confidence: float = Field(default=0.5, ge=0, le=1, description="Confidence given to the VLM's defects.")


class FusionConfig(Config):
    """Which proposals are graded: the rules decide PASS/FAIL on the fused defect list.

    The VLM's boxes are recorded and scored for disagreement by default, not graded: add "vlm" once a
    fine-tuned model beats the classical stage on your hold-out (`fibervlm eval`).
    """

    sources: list[Literal["classical", "yolo", "vlm"]] = Field(
        default=["classical", "yolo"], description="Sources whose defects are graded."
    )
    min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="Proposals below this are recorded, not graded."
    )
    duplicate_iou: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="A proposal overlapping a kept defect this much is the same defect.",
    )


class InspectorConfig(Config):
    """The whole composition; each stage may be switched off (None)."""

    task: str = Field(default="endface", description="Task name (fibervlm.tasks).")
    profile: FibreProfile | Literal["auto"] = Field(
        default="auto",
        description="Fibre profile when the request or metadata gives none: a fixed profile, or `auto` "
        "to infer sm-pc or mm-pc from the measured core (recorded as `profile_inferred`; APC cannot be "
        "told from a grey image, so name sm-apc where it applies).",
    )
    um_per_px: float | None = Field(
        default=None, gt=0, description="Pixel scale; None: calibrate on the cladding."
    )
    edition: str = Field(default=DEFAULT_EDITION, description="Grading tables: configs/grading/<edition>/.")
    classical: ClassicalConfig = Field(
        default_factory=ClassicalConfig,
        description="The classical stage: geometry, proposals, and when a face is `unsure` "
        "(min_geometry_confidence, min_sharpness, min_edge_in_view).",
    )
    detector: DetectorConfig | None = Field(default=None, description="Stage-1 YOLO settings, or None.")
    quality: QualityConfig | None = Field(default=None, description="Quality classifier settings, or None.")
    vlm: VlmSettings | None = Field(
        default_factory=VlmSettings, description="VLM settings, or None for --no-vlm."
    )
    fusion: FusionConfig = Field(
        default_factory=FusionConfig, description="How proposals become graded defects."
    )


class Inspection(StrictModel):
    """One image's state between steps, and the final outcome.

    `unsure` rows (read, but the face not really seen) still go through stage 1 and the VLM: their
    answers are recorded for mining and review, never turned into a verdict.
    """

    status: Literal["ok", "unsure", "error"] = "ok"
    error: str | None = Field(default=None, description="Why the row is `error` or `unsure`.")
    profile: FibreProfile | None = Field(
        default=None, description="Requested, else set by the classical step."
    )
    um_per_px: float | None = None
    width: int = 0
    height: int = 0
    report: EndfaceReport | None = None
    classical: list[Defect] = Field(default_factory=list)
    stage1: list[Defect] | None = None
    quality_label: PassFail | None = None
    quality_confidence: float | None = None
    vlm: VlmReport | None = None
    vlm_raw: str | None = None
    vlm_valid: bool | None = None
    vlm_confidence: float | None = Field(
        default=None, description="The VLM's confidence in its answer's decisions (`VlmResult.confidence`)."
    )
    vlm_defects: list[Defect] | None = None
    disagreement: float | None = None
    provenance: Provenance = Field(default_factory=Provenance)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @property
    def zones(self) -> ZoneGeometry:
        """The fibre's geometry; only rows past the classical step have one."""
        if self.report is None:
            raise ValueError(f"no fibre geometry: {self.error or 'the classical step has not run'}")
        return self.report.zones

    def fail(self, stage: str, error: Exception | str) -> None:
        self.status, self.error = "error", f"{stage}: {error}"


@contextmanager
def _timed(inspections: Sequence[Inspection], stage: str) -> Iterator[None]:
    """Charge a batch step's wall time to each of its images, equally (ms)."""
    start = time.perf_counter()
    yield
    per_image_ms = (time.perf_counter() - start) * 1000 / max(len(inspections), 1)
    for inspection in inspections:
        inspection.timings_ms[stage] = round(per_image_ms, 3)


class Inspector:
    """Loads each enabled stage once; the steps then run on batches of images."""

    def __init__(self, config: InspectorConfig | None = None, *, stages: Sequence[str] | None = None) -> None:
        """`stages` limits what is loaded (e.g. `["vlm"]` in a backfill VLM actor); default: all enabled."""
        from fibervlm.classical import ClassicalInspector

        self.config = config or InspectorConfig()
        self.task = get_task(self.config.task)
        wanted = set(stages) if stages is not None else {"classical", "stage1", "vlm"}
        self.classical = ClassicalInspector(self.config.classical) if "classical" in wanted else None
        self.detector = self.quality = self.vlm = None
        if "stage1" in wanted and self.config.detector is not None:
            from fibervlm.detect import YoloDetector

            self.detector = YoloDetector(self.config.detector)
        if "stage1" in wanted and self.config.quality is not None:
            from fibervlm.detect import QualityClassifier

            self.quality = QualityClassifier(self.config.quality)
        if "vlm" in wanted and self.config.vlm is not None:
            from fibervlm.vlm import VlmPredictor

            settings = self.config.vlm
            backend = None
            if settings.backend == "vllm":
                from fibervlm.vlm import load_preset
                from fibervlm.vlm.vllm_backend import VllmBackend

                backend = VllmBackend(load_preset(settings.model), adapter=settings.adapter)
            self.vlm = VlmPredictor(
                settings.model,
                task=self.config.task,
                adapter=settings.adapter,
                device=settings.device,
                batch_size=settings.batch_size,
                constrained=settings.constrained,
                max_new_tokens=settings.max_new_tokens,
                num_threads=settings.num_threads,
                backend=backend,
            )

    # --- the steps -------------------------------------------------------------------------------

    def start(
        self, image: np.ndarray, *, profile: str | None = None, um_per_px: float | None = None
    ) -> Inspection:
        """Geometry + classical proposals, graded (or `unsure`): the report every later step refines."""
        default = None if self.config.profile == "auto" else self.config.profile
        inspection = Inspection(
            profile=profile or default,
            um_per_px=um_per_px or self.config.um_per_px,
            height=int(image.shape[0]),
            width=int(image.shape[1]),
        )
        assert self.classical is not None, "this Inspector was built without the classical stage"
        with _timed([inspection], "classical"):
            try:
                inspection.report = self.classical(
                    image, profile=inspection.profile, um_per_px=inspection.um_per_px
                )
                inspection.classical = list(inspection.report.defects)
                inspection.profile = inspection.report.profile
                if inspection.report.status == "unsure":
                    inspection.status, inspection.error = "unsure", inspection.report.unsure_reason
            except ValueError as error:  # no fibre, unusable image: this row only
                inspection.fail("classical", error)
        return inspection

    def add_stage1(self, images: Sequence[np.ndarray], inspections: Sequence[Inspection]) -> None:
        """Stage-1 detections (and the quality classifier's verdict) for the rows still ok."""
        imgs, todo = _live(images, inspections)
        if self.detector is not None and todo:
            with _timed(todo, "stage1"):
                found = self.detector.predict(imgs, [ins.zones for ins in todo])
            for ins, defects in zip(todo, found, strict=True):
                ins.stage1 = defects
        if self.quality is not None and todo:
            with _timed(todo, "quality"):
                verdicts = self.quality.predict(imgs, [ins.zones for ins in todo])
            for ins, (label, confidence) in zip(todo, verdicts, strict=True):
                ins.quality_label, ins.quality_confidence = label, confidence

    def add_vlm(self, images: Sequence[np.ndarray], inspections: Sequence[Inspection]) -> None:
        """The VLM's answer (told what geometry and stage 1 found) for the rows still ok."""
        imgs, todo = _live(images, inspections)
        if self.vlm is None or not todo:
            return
        from fibervlm.vlm import format_context, to_defects

        settings = self.config.vlm
        assert settings is not None
        contexts = [
            format_context(ins.classical + (ins.stage1 or []), ins.zones) if settings.stage1_context else None
            for ins in todo
        ]
        with _timed(todo, "vlm"):
            results = self.vlm(imgs, contexts, [ins.zones for ins in todo])
        for ins, result in zip(todo, results, strict=True):
            if result.error is not None and not result.raw:
                ins.fail("vlm", result.error)
                continue
            ins.vlm, ins.vlm_raw, ins.vlm_valid = result.report, result.raw, result.valid
            ins.vlm_confidence = result.confidence
            ins.vlm_defects = to_defects(
                result,
                preset=self.vlm.preset,
                um_per_px=ins.zones.um_per_px,
                confidence=settings.confidence,
            )
            ins.provenance.model_id = self.vlm.model_id
            ins.provenance.adapter_id = self.vlm.adapter_id

    def finish(self, inspection: Inspection) -> Inspection:
        """Fuse the proposals, grade them with the IEC rules, and score the disagreement.

        An `unsure` row gets its provenance and the VLM's answer recorded, and no verdict.
        """
        if inspection.status == "error" or inspection.report is None:
            return inspection
        with _timed([inspection], "grade"):
            table = table_for_profile(inspection.report.profile, self.config.edition)
            inspection.provenance.task = self.task.name
            inspection.provenance.prompt_hash = self.task.prompt_hash
            inspection.provenance.schema_hash = self.task.schema_hash
            inspection.provenance.grading_table = table.id
            inspection.provenance.fibervlm_version = __version__
            update: dict = {"vlm": inspection.vlm, "provenance": inspection.provenance}
            if inspection.status == "ok":  # an unsure row keeps its reason and gets no verdict
                graded = grade_report_fields(self._fuse(inspection), inspection.report.zones, table)
                inspection.disagreement = disagreement(
                    rules_verdict=graded["pass_fail"],
                    measured=inspection.classical,
                    vlm_verdict=inspection.vlm.pass_fail if inspection.vlm else None,
                    vlm_defects=inspection.vlm_defects,
                    stage1_defects=inspection.stage1,
                )
                update |= {**graded, "explanation": _explain(graded)}
            inspection.report = inspection.report.model_copy(update=update)
        inspection.report.timings_ms = dict(inspection.timings_ms)  # after the block: includes "grade"
        return inspection

    def inspect(
        self,
        images: Sequence[np.ndarray],
        *,
        profiles: Sequence[str | None] | None = None,
        um_per_px: Sequence[float | None] | None = None,
    ) -> list[Inspection]:
        """All steps on a batch of grayscale uint8 images; one Inspection per image, errors included."""
        n = len(images)
        profiles = profiles or [None] * n
        scales = um_per_px or [None] * n
        inspections = [
            self.start(img, profile=p, um_per_px=s)
            for img, p, s in zip(images, profiles, scales, strict=True)
        ]
        self.add_stage1(images, inspections)
        self.add_vlm(images, inspections)
        return [self.finish(ins) for ins in inspections]

    # --- helpers ---------------------------------------------------------------------------------

    def _fuse(self, inspection: Inspection) -> list[Defect]:
        """Classical measurements first (their sizes are measured); other sources add what they alone saw."""
        fusion = self.config.fusion
        by_source = {
            "classical": inspection.classical,
            "yolo": inspection.stage1 or [],
            "vlm": inspection.vlm_defects or [],
        }
        kept: list[Defect] = []
        for source in ("classical", "yolo", "vlm"):
            if source not in fusion.sources:
                continue
            for defect in sorted(by_source[source], key=lambda d: -d.confidence):
                if defect.confidence < fusion.min_confidence:
                    continue
                if source == "classical" or all(
                    box_iou(defect.bbox, k.bbox) < fusion.duplicate_iou for k in kept
                ):
                    kept.append(defect)
        return kept


def _live(images: Sequence[np.ndarray], inspections: Sequence[Inspection]) -> tuple[list, list[Inspection]]:
    """The images and inspections of the rows no step has failed yet (`unsure` ones included)."""
    live = [(img, ins) for img, ins in zip(images, inspections, strict=True) if ins.status != "error"]
    return [img for img, _ in live], [ins for _, ins in live]


def _explain(graded: dict) -> str:
    if graded["pass_fail"] == "PASS":
        return f"PASS: {len(graded['defects'])} defect(s), none over the IEC limits."
    return f"FAIL: {graded['violations'][0].message}."
