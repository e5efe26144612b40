"""The synthetic end-face renderer's settings: frame, appearance, optics, noise and the defect mix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from fibervlm.config import Config
from fibervlm.schemas import MAX_DEFECTS

Range = tuple[float, float]

# How a face looks under the microscope (see `fibervlm.synth.appearance` for what each one changes).
AppearanceName = Literal["standard", "dark-cladding", "epoxy-ring", "halo", "camera"]
APPEARANCES: tuple[AppearanceName, ...] = get_args(AppearanceName)
# "base" is the configured width_px × height_px at um_per_px; the others are common camera sensors.
FrameName = Literal["base", "720x576", "1152x864"]
FRAMES: tuple[FrameName, ...] = get_args(FrameName)
BASE_FRAME_KEYS = ("width_px", "height_px", "um_per_px")
WEIGHT_FIELDS = ("profile_weights", "type_weights", "zone_weights", "frame_weights", "appearance_weights")


@dataclass(frozen=True, kw_only=True)
class Frame:
    """The size of one rendered image and the range its optical scale is drawn from."""

    name: str
    width_px: int
    height_px: int
    um_per_px: Range


# PAL video scopes (720×576) and 1.3 MP USB cameras (1152×864), at the scales such probes show.
CAMERA_FRAMES = {
    "720x576": Frame(name="720x576", width_px=720, height_px=576, um_per_px=(0.4, 1.2)),
    "1152x864": Frame(name="1152x864", width_px=1152, height_px=864, um_per_px=(0.4, 1.2)),
}


class SizeRanges(Config):
    """Defect sizes in µm, drawn uniformly; chosen to straddle the IEC band limits (2, 3, 5, 10 µm...)."""

    scratch_width_um: Range = Field(
        default=(0.8, 6.0), description="Scratch width (what IEC grades scratches by)."
    )
    scratch_length_um: Range = Field(default=(15.0, 160.0), description="Scratch length.")
    crack_width_um: Range = Field(default=(0.6, 2.0), description="Crack width: cracks are thin.")
    crack_length_um: Range = Field(default=(12.0, 60.0), description="Crack length along its jagged path.")
    dig_diameter_um: Range = Field(default=(0.8, 8.0), description="Dig (pit) diameter in zones A and B.")
    dig_diameter_outer_um: Range = Field(default=(2.0, 14.0), description="Dig diameter in zones C and D.")
    particle_diameter_um: Range = Field(
        default=(1.0, 12.0), description="Particle diameter in zones A and B."
    )
    particle_diameter_outer_um: Range = Field(
        default=(3.0, 35.0), description="Particle diameter in zones C and D."
    )
    smear_length_um: Range = Field(
        default=(10.0, 45.0), description="Long axis of a smear (its graded diameter)."
    )
    chip_radius_um: Range = Field(
        default=(2.0, 12.0), description="Radius of the bite a chip takes out of the edge."
    )


class SynthConfig(Config):
    """How `fibervlm synth` renders end faces; the defaults give ~50% FAIL over the three profiles."""

    width_px: int = Field(default=640, ge=64, le=4096, description="Width of the base frame in pixels.")
    height_px: int = Field(default=480, ge=64, le=4096, description="Height of the base frame in pixels.")
    um_per_px: Range = Field(
        default=(0.3, 0.8),
        description="Range of the base frame's optical scale (µm per pixel); 135 µm must fit.",
    )
    frame: Literal["mixed", FrameName] = Field(
        default="mixed",
        description=(
            "Image size and scale: 'base' (width_px × height_px at um_per_px), '720x576' or '1152x864' "
            "(0.4–1.2 µm/px), or 'mixed' (drawn by frame_weights). Giving width_px, height_px or "
            "um_per_px without a frame pins 'base': a size you ask for is the size you get."
        ),
    )
    frame_weights: dict[str, float] = Field(
        default={"base": 0.4, "720x576": 0.3, "1152x864": 0.3},
        description="Frame mix when frame is 'mixed'.",
    )
    appearance: Literal["mixed", AppearanceName] = Field(
        default="mixed",
        description=(
            "How the face looks: 'standard', 'dark-cladding' (bright ferrule, dark glass, faint core "
            "ring), 'epoxy-ring' (wide dark epoxy annulus in the bore), 'halo' (bright ring inside the "
            "cladding edge), 'camera' (strong vignetting, uneven light, JPEG), or 'mixed'."
        ),
    )
    appearance_weights: dict[str, float] = Field(
        default={name: 1.0 for name in APPEARANCES},
        description="Appearance mix when appearance is 'mixed' (relative weights).",
    )
    defocus_sigma_px: float = Field(
        default=0.0,
        ge=0,
        le=30,
        description=(
            "Out-of-focus blur: Gaussian sigma in pixels of the rendered frame (0 = in focus). It draws "
            "no random numbers, so a face renders the same sharp and defocused; not part of any mix."
        ),
    )
    max_offset_frac: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Off-centre fibre: fraction of the free margin the centre may move.",
    )
    profile_weights: dict[str, float] = Field(
        default={"sm-pc": 0.45, "sm-apc": 0.25, "mm-pc": 0.3}, description="Profile mix when none is given."
    )
    sm_core_diameter_um: float = Field(default=9.0, gt=0, description="Single-mode core diameter.")
    mm_core_diameters_um: tuple[float, ...] = Field(
        default=(50.0, 62.5), description="Multimode core diameters."
    )
    clean_fraction: float = Field(
        default=0.15, ge=0, le=1, description="Fraction of faces with no defect at all."
    )
    defects_per_face: tuple[int, int] = Field(
        default=(1, 6), description="Defect count on a dirty face (inclusive)."
    )
    type_weights: dict[str, float] = Field(
        default={"scratch": 0.28, "dig": 0.24, "contamination": 0.28, "chip": 0.1, "crack": 0.1},
        description="Relative frequency of each defect type.",
    )
    zone_weights: dict[str, float] = Field(
        default={"A": 0.08, "B": 0.42, "C": 0.12, "D": 0.38},
        description="Relative frequency of the zone a defect is aimed at (chips always sit on the edge).",
    )
    smear_fraction: float = Field(
        default=0.3, ge=0, le=1, description="Fraction of contamination that is a smear."
    )
    scratch_bow_frac: float = Field(
        default=0.03,
        ge=0,
        le=0.1,
        description="Largest sag of a curved scratch, as a fraction of its length.",
    )
    bright_scratch_fraction: float = Field(
        default=0.25, ge=0, le=1, description="Fraction of scratches lit bright."
    )
    sizes: SizeRanges = Field(default_factory=lambda: SizeRanges(), description="Defect size ranges in µm.")
    blur_sigma_px: Range = Field(default=(0.5, 1.3), description="Optical blur (Gaussian sigma, pixels).")
    read_noise: Range = Field(
        default=(0.004, 0.015), description="Gaussian sensor noise (fraction of full scale)."
    )
    full_well: Range = Field(
        default=(300.0, 3000.0), description="Photons at full scale: lower means more shot noise."
    )
    exposure_gain: Range = Field(
        default=(0.8, 1.2), description="Exposure variation (multiplies the signal)."
    )
    vignetting: Range = Field(default=(0.1, 0.45), description="Illumination fall-off from centre to corner.")
    gradient: Range = Field(default=(0.0, 0.12), description="Linear illumination gradient across the image.")

    @model_validator(mode="before")
    @classmethod
    def _a_given_size_pins_the_base_frame(cls, data: Any) -> Any:
        if isinstance(data, dict) and "frame" not in data and any(k in data for k in BASE_FRAME_KEYS):
            return {**data, "frame": "base"}
        return data

    @model_validator(mode="after")
    def _check(self) -> SynthConfig:
        for name in ("um_per_px", "blur_sigma_px", "read_noise", "full_well", "exposure_gain"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name}: need 0 <= low <= high, got {low}, {high}")
        fits_um = min(self.width_px, self.height_px) * self.um_per_px[0]
        if fits_um < 135:
            raise ValueError(f"at {self.um_per_px[0]} µm/px the image spans {fits_um:.0f} µm; need >= 135 µm")
        unknown = set(self.profile_weights) - {"sm-pc", "sm-apc", "mm-pc"}
        unknown |= set(self.type_weights) - {"scratch", "dig", "chip", "crack", "contamination"}
        unknown |= set(self.zone_weights) - {"A", "B", "C", "D"}
        unknown |= set(self.frame_weights) - set(FRAMES)
        unknown |= set(self.appearance_weights) - set(APPEARANCES)
        if unknown:
            raise ValueError(f"unknown profile, defect type, zone, frame or appearance: {sorted(unknown)}")
        for name in WEIGHT_FIELDS:
            weights = getattr(self, name)
            if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError(f"{name}: need weights >= 0 with a positive sum, got {weights}")
        low, high = self.defects_per_face
        if not 0 <= low <= high <= MAX_DEFECTS:
            raise ValueError(f"defects_per_face: need 0 <= low <= high <= {MAX_DEFECTS}, got {low}, {high}")
        return self

    def frame_named(self, name: str) -> Frame:
        """The frame called `name`: 'base' is this config's size and scale, the others are fixed."""
        if name == "base":
            return Frame(
                name="base", width_px=self.width_px, height_px=self.height_px, um_per_px=self.um_per_px
            )
        return CAMERA_FRAMES[name]
