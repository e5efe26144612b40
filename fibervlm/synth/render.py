"""One synthetic end face: image + its full enriched `EndfaceReport`, graded by the IEC rules.

`sample_face` also says how the face was shown (appearance, frame, defocus):

>>> from fibervlm.synth import SynthConfig, sample_face
>>> face = sample_face(seed=0, index=3, config=SynthConfig(appearance="halo", frame="720x576"))
>>> face.image.shape, face.appearance, face.frame, face.report.pass_fail in ("PASS", "FAIL")
((576, 720), 'halo', '720x576', True)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from fibervlm import __version__
from fibervlm.grading import GradingTable, grade_report_fields, table_for_profile
from fibervlm.schemas import LINEAR_TYPES, Defect, EndfaceReport, Provenance, RuleViolation, ZoneGeometry
from fibervlm.synth.appearance import APPEARANCE_STYLES, Appearance
from fibervlm.synth.config import Frame, SynthConfig
from fibervlm.synth.defects import (
    Canvas,
    draw_chip,
    draw_crack,
    draw_dig,
    draw_particle,
    draw_scratch,
    draw_smear,
)
from fibervlm.synth.face import (
    FaceGeometry,
    expose,
    render_clean_face,
    sample_geometry,
    sample_optics,
    sample_tones,
)

PROFILES = ("sm-pc", "sm-apc", "mm-pc")
EXPLANATION_MAX_CHARS = 200  # what the VLM contract allows, so labels can be training targets
# Sub-streams of a face's seed: choices made by a mix, and the look's own draws, never shift the
# face's main stream, so the same face renders in every appearance (and frame choice stays put).
APPEARANCE_STREAM, FRAME_STREAM, LOOK_STREAM = 1, 2, 3


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = sorted(weights)  # sorted: the draw must not depend on the YAML's key order
    p = np.array([weights[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _zone_radii_um(table: GradingTable, zone: str) -> tuple[float, float]:
    rule = next(z for z in table.zones if z.zone == zone)
    return rule.inner_diameter_um / 2, rule.outer_diameter_um / 2


def _draw_one(
    rng: np.random.Generator, canvas: Canvas, table: GradingTable, config: SynthConfig
) -> Defect | None:
    kind = _pick(rng, config.type_weights)
    zone = _pick(rng, config.zone_weights)
    radii_um = _zone_radii_um(table, zone)
    inner = zone in ("A", "B")
    sizes = config.sizes

    def size(band: tuple[float, float]) -> float:
        return round(float(rng.uniform(*band)), 2)

    if kind == "scratch":
        bright = bool(rng.random() < config.bright_scratch_fraction)
        return draw_scratch(
            rng,
            canvas,
            radii_um,
            width_um=size(sizes.scratch_width_um),
            length_um=size(sizes.scratch_length_um),
            bright=bright,
            bow_frac=config.scratch_bow_frac,
        )
    if kind == "crack":
        return draw_crack(
            rng, canvas, radii_um, width_um=size(sizes.crack_width_um), length_um=size(sizes.crack_length_um)
        )
    if kind == "dig":
        return draw_dig(
            rng, canvas, radii_um, size(sizes.dig_diameter_um if inner else sizes.dig_diameter_outer_um)
        )
    if kind == "chip":
        return draw_chip(rng, canvas, size(sizes.chip_radius_um))
    if rng.random() < config.smear_fraction:
        return draw_smear(rng, canvas, radii_um, size(sizes.smear_length_um))
    diameter_um = size(sizes.particle_diameter_um if inner else sizes.particle_diameter_outer_um)
    return draw_particle(rng, canvas, radii_um, diameter_um)


def draw_defects(
    rng: np.random.Generator,
    reflectance: np.ndarray,
    geometry: FaceGeometry,
    table: GradingTable,
    config: SynthConfig,
) -> list[Defect]:
    """Draw a random set of defects into `reflectance` (in place); their labels, zones not yet set."""
    if rng.random() < config.clean_fraction:
        return []
    canvas = Canvas(reflectance, geometry)
    count = int(rng.integers(config.defects_per_face[0], config.defects_per_face[1] + 1))
    drawn = (_draw_one(rng, canvas, table, config) for _ in range(count))
    return [d for d in drawn if d is not None]


def severity_of(defect: Defect, table: GradingTable) -> str:
    """critical: forbidden at any count here; high: counted against a limit; else by zone."""
    rule = next((z for z in table.zones if z.zone == defect.zone), None)
    if rule is None:
        return "low"
    bands = rule.scratches if defect.type in LINEAR_TYPES else rule.defects
    band = next((b for b in bands if b.contains(defect.size_um)), None)
    if band is not None and band.max_count == 0:
        return "critical"
    if band is not None and band.max_count is not None:
        return "high"
    return "medium" if defect.zone in ("A", "B") else "low"


def explain(defects: list[Defect], violations: list[RuleViolation], profile: str) -> str:
    """One short sentence from the verdict (what a good VLM answer would say)."""
    if violations:
        more = f" (+{len(violations) - 1} more rule(s))" if len(violations) > 1 else ""
        text = f"FAIL ({profile}): {violations[0].message}{more}."
    elif defects:
        counts = Counter(d.type for d in defects)
        listing = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        text = f"PASS ({profile}): {len(defects)} defect(s) ({listing}), all within IEC 61300-3-35 limits."
    else:
        text = f"PASS ({profile}): clean end face, no defects."
    return text[:EXPLANATION_MAX_CHARS]


def build_report(defects: list[Defect], geometry: FaceGeometry, *, profile: str) -> EndfaceReport:
    """Grade the defects against the profile's table; the report's verdict is exactly grade()'s."""
    table = table_for_profile(profile)
    zones = ZoneGeometry(
        center_px=[geometry.center_x, geometry.center_y],
        core_radius_px=geometry.core_radius_px,
        cladding_radius_px=geometry.cladding_radius_px,
        um_per_px=geometry.um_per_px,
    )
    fields = grade_report_fields(defects, zones, table)
    graded = [d.model_copy(update={"severity": severity_of(d, table)}) for d in fields.pop("defects")]
    return EndfaceReport(
        width=geometry.width,
        height=geometry.height,
        profile=profile,
        defects=graded,
        zones=zones,
        explanation=explain(graded, fields["violations"], profile),
        provenance=Provenance(
            task="endface", model_id="synth", grading_table=table.id, fibervlm_version=__version__
        ),
        **fields,
    )


@dataclass(frozen=True, kw_only=True)
class SynthFace:
    """One rendered face: the uint8 (H, W) image, its graded report, and how it was shown."""

    image: np.ndarray
    report: EndfaceReport
    appearance: str  # a name of fibervlm.synth.config.APPEARANCES
    frame: str  # a name of fibervlm.synth.config.FRAMES
    defocus_sigma_px: float


def render_face(
    rng: np.random.Generator,
    look: np.random.Generator,
    *,
    profile: str,
    config: SynthConfig,
    appearance: Appearance,
    frame: Frame,
) -> SynthFace:
    """Render one end face with `rng`; `look` draws the appearance's own choices."""
    if profile not in PROFILES:
        raise ValueError(f"unknown fibre profile {profile!r}; known: {', '.join(PROFILES)}")
    multimode = profile.startswith("mm")
    core_um = float(rng.choice(config.mm_core_diameters_um)) if multimode else config.sm_core_diameter_um
    geometry = sample_geometry(
        rng, core_diameter_um=core_um, frame=frame, max_offset_frac=config.max_offset_frac
    )
    standard_tones = sample_tones(rng, multimode=multimode)
    tones = appearance.restyle_tones(look, standard_tones)
    reflectance = render_clean_face(
        rng, geometry, tones, multimode=multimode, texture_gap_um=standard_tones.adhesive_width_um
    )
    defects = draw_defects(rng, reflectance, geometry, table_for_profile(profile), config)
    optics = appearance.restyle_optics(look, sample_optics(rng, config=config, angled=profile == "sm-apc"))
    return SynthFace(
        image=expose(rng, reflectance, optics),
        report=build_report(defects, geometry, profile=profile),
        appearance=appearance.name,
        frame=frame.name,
        defocus_sigma_px=optics.defocus_sigma_px,
    )


def _choose(choice: str, weights: dict[str, float], stream: list[int]) -> str:
    """`choice` itself, or a draw from `weights` on its own stream when it is 'mixed'."""
    return _pick(np.random.default_rng(stream), weights) if choice == "mixed" else choice


def sample_face(
    seed: int, index: int, *, profile: str | None = None, config: SynthConfig | None = None
) -> SynthFace:
    """Face `index` of the data set `seed`: the same (seed, index, config) gives the same bytes.

    The appearance and frame are the config's, or drawn from its weights when 'mixed'. Changing only
    the appearance or `defocus_sigma_px` shows the same face (geometry, defects, verdict) differently.
    """
    config = config or SynthConfig()
    rng = np.random.default_rng([seed, index])
    profile = profile or _pick(rng, config.profile_weights)
    appearance = _choose(config.appearance, config.appearance_weights, [seed, index, APPEARANCE_STREAM])
    frame = _choose(config.frame, config.frame_weights, [seed, index, FRAME_STREAM])
    return render_face(
        rng,
        np.random.default_rng([seed, index, LOOK_STREAM]),
        profile=profile,
        config=config,
        appearance=APPEARANCE_STYLES[appearance],
        frame=config.frame_named(frame),
    )


def sample_endface(
    seed: int, index: int, *, profile: str | None = None, config: SynthConfig | None = None
) -> tuple[np.ndarray, EndfaceReport]:
    """`sample_face`'s image and report, for callers that do not need to know the look."""
    face = sample_face(seed, index, profile=profile, config=config)
    return face.image, face.report
