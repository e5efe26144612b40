"""Defect proposals on an end face whose geometry is known.

In the spirit of Mei et al., Sensors 18(5):1408, 2018 (DO2MR + LEI), with a flatter background model:
- the residual against the estimated defect-free face (`background.py`, `maps.py`) is judged against
  the noise of its own ring, plus the geometry's uncertainty where the profile is steep;
- regions are seeded and grown by hysteresis and measured at half contrast (`regions.py`);
- chips are bites out of the cladding edge, found ray by ray (`chips.py`);
- scratches are straight tracks through the oriented line means, found whole (`scratches.py`), and
  pieces of one line are joined (`lines.py`).
Only the contact zone is looked at (zone D ends at 250 µm across): the image is cropped to it first.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
from pydantic import Field

from fibervlm.classical.chips import find_chips
from fibervlm.classical.focus import edge_blur_fwhm_px
from fibervlm.classical.geometry import GeometryFit
from fibervlm.classical.lines import merge_collinear
from fibervlm.classical.maps import CONTACT_ZONE_RADIUS_UM, Crop, MapSettings, residual_maps
from fibervlm.classical.regions import find_regions, measure_region
from fibervlm.classical.scratches import find_scratches
from fibervlm.config import Config
from fibervlm.schemas import Defect, ZoneGeometry


class DefectConfig(Config):
    """Thresholds and scales of the defect proposals (noise in σ of each ring's residual)."""

    seed_z: float = Field(
        5.0, gt=0, description="A region must reach this many σ somewhere (smoothed residual)."
    )
    grow_z: float = Field(2.5, gt=0, description="A region extends over pixels above this many σ.")
    ferrule_seed_z: float = Field(
        7.0,
        gt=0,
        description="Seed threshold on the ferrule (outside the glass), whose grain is heavy-tailed.",
    )
    line_seed_z: float = Field(6.0, gt=0, description="Seed threshold on the oriented line-mean response.")
    smooth_px: float = Field(1.0, gt=0, description="Gaussian σ applied to the residual before thresholds.")
    coarse_smooth_um: tuple[float, ...] = Field(
        (2.5, 6.0),
        description="Coarser smoothings (µm) that lift large faint films (smears) out of the noise.",
    )
    line_length_um: float = Field(8.0, gt=0, description="Length of the oriented line means (LEI).")
    line_orientations: int = Field(8, ge=4, description="Orientations of the line means over 180°.")
    edge_ring_inner_um: float = Field(
        1.0, ge=0, description="Masked ring inside the cladding edge, plus 2.5 px."
    )
    edge_ring_outer_um: float = Field(
        4.5, ge=0, description="Masked ring outside the cladding edge (the adhesive gap), plus 2.5 px."
    )
    geometry_error_px: float = Field(
        0.5, ge=0, description="Centre/radius uncertainty: residual allowed where the profile is steep."
    )
    min_relative_contrast: float = Field(
        0.06,
        ge=0,
        description="Least residual / local tone for a seed: grain and glass mottle stay below it.",
    )
    min_area_px: int = Field(3, ge=1, description="Regions smaller than this (at half contrast) are noise.")
    linear_elongation: float = Field(3.0, gt=1, description="Length / width above which a region is a line.")
    min_line_length_um: float = Field(6.0, gt=0, description="Shortest scratch or crack proposed.")
    psf_fwhm_px: float = Field(
        1.8,
        ge=0,
        description="Optical blur (FWHM, px) taken off line widths in quadrature (thin lines read wide) "
        "when the image's own blur cannot be read off its glass edge.",
    )
    max_line_softness: float = Field(
        1.85, gt=1, description="A line must be sharp-edged: soft elongated films (smears) are contamination."
    )
    thin_line_um: float = Field(
        2.5, gt=0, description="Lines this thin are lines however soft (a smear's short axis is wider)."
    )
    chip_min_depth_um: float = Field(1.5, gt=0, description="Shallowest bite out of the edge called a chip.")
    chip_max_depth_um: float = Field(25.0, gt=0, description="Deepest chip searched for.")
    max_defects: int = Field(64, ge=1, description="Most proposals kept per image, most confident first.")
    work_um_per_px: float | None = Field(
        0.5,
        gt=0,
        description="Finer pixels than this are resampled to it before the maps (None: never). A scope's "
        "optics resolve ~1.5 µm, so finer sampling shows nothing more and costs time as its square.",
    )
    outline_fraction: float = Field(
        0.4,
        gt=0,
        lt=1,
        description="A blob's outline is where its contrast falls below this fraction of its peak: under "
        "half, because a pit's lit far wall and a particle's thin rim are fainter than its middle.",
    )
    scratch_track_z: float = Field(
        3.0, gt=0, description="Line-mean σ a pixel needs to vote for a straight scratch track."
    )
    min_scratch_track_um: float = Field(12.0, gt=0, description="Shortest straight track looked for.")
    scratch_z: float = Field(
        8.0, gt=0, description="Significance a track needs over its whole length (σ of its mean)."
    )
    max_core_contrast: float = Field(
        0.12,
        gt=0,
        description="Most a core's tone differs from its cladding's (relative): a darker or brighter spot "
        "at the centre is a defect, not the core.",
    )
    eccentric_um: float = Field(
        3.0,
        ge=0,
        description="How far a ring edge (epoxy, bore, halo) may sit off the fibre's centre and still be "
        "followed by the background, not proposed as a defect.",
    )

    def edge_ring_width_px(self, um_per_px: float) -> float:
        """Width of the masked ring round the cladding edge (with its 2.5 px margins on both sides)."""
        return (self.edge_ring_inner_um + self.edge_ring_outer_um) / um_per_px + 5

    def map_settings(self, zones: ZoneGeometry) -> MapSettings:
        """The scales of the residual maps, in pixels of an image at `zones.um_per_px`."""
        um = zones.um_per_px
        return MapSettings(
            smooth_px=self.smooth_px,
            coarse_px=tuple(max(2.0, scale_um / um) for scale_um in self.coarse_smooth_um),
            line_length_px=self.line_length_um / um,
            line_orientations=self.line_orientations,
            eccentric_px=self.eccentric_um / um,
            edge_ring_px=(
                zones.cladding_radius_px - self.edge_ring_inner_um / um - 2.5,
                zones.cladding_radius_px + self.edge_ring_outer_um / um + 2.5,
            ),
            geometry_error_px=self.geometry_error_px,
            max_core_contrast=self.max_core_contrast,
            # Round enough to judge noise by: past a dig at the centre of a single-mode core (so past
            # the core), but not past 8 µm: a multimode core's own rings are big enough and differ.
            min_ring_radius_px=max(10.0, min(zones.core_radius_px + 2.0, 8.0 / um)),
        )


def _overlaps(box: list[float], other: list[float], margin: float = 2.0) -> bool:
    return not (
        box[0] > other[0] + other[2] + margin
        or other[0] > box[0] + box[2] + margin
        or box[1] > other[1] + other[3] + margin
        or other[1] > box[1] + box[3] + margin
    )


def _part_of_chip(defect: Defect, chip: Defect) -> bool:
    """A bite's inner part also shows as a dark region: the chip stands for both. A crack running on
    from the bite, much longer than it, is a defect of its own."""
    if not _overlaps(defect.bbox, chip.bbox, 0):
        return False
    return defect.line_px is None or (defect.length_um or 0.0) < 1.5 * chip.size_um


def _chip_areas(chips: list[Defect], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the chips' boxes, 2 px wider."""
    areas = np.zeros(shape, dtype=bool)
    for chip in chips:
        x, y, w, h = chip.bbox
        areas[max(0, int(y) - 2) : int(y + h) + 3, max(0, int(x) - 2) : int(x + w) + 3] = True
    return areas


def _along(defect: Defect, track: Defect, um_per_px: float) -> bool:
    """A region lying on a scratch track (a piece of it, or its blurred shoulder) is that scratch."""
    assert track.line_px is not None
    a, b = np.array(track.line_px[:2]), np.array(track.line_px[2:])
    x, y, w, h = defect.bbox
    centre = np.array([x + w / 2, y + h / 2])
    direction = b - a
    t = float(np.clip((centre - a) @ direction / max(float(direction @ direction), 1e-9), 0, 1))
    distance_px = float(np.linalg.norm(centre - (a + t * direction)))
    width_px = track.size_um / um_per_px
    small = defect.line_px is not None or defect.size_um <= 3 * track.size_um + 2
    return small and distance_px <= max(4.0, width_px)


def _to_image(defect: Defect, crop: Crop, scale: float) -> Defect:
    """The defect moved from the (resampled) crop's pixels to the image's."""

    def at(u: float, offset: int) -> float:  # pixel centres map onto pixel centres
        return (u + 0.5) / scale - 0.5 + offset

    x, y, w, h = defect.bbox
    update: dict = {"bbox": [at(x, crop.x0), at(y, crop.y0), w / scale, h / scale]}
    if defect.line_px is not None:
        x1, y1, x2, y2 = defect.line_px
        update["line_px"] = [at(x1, crop.x0), at(y1, crop.y0), at(x2, crop.x0), at(y2, crop.y0)]
    return defect.model_copy(update=update)


def _work_scale(um_per_px: float, config: DefectConfig) -> float:
    """How much the crop is shrunk before the maps (1: not at all)."""
    if config.work_um_per_px is None or um_per_px >= 0.9 * config.work_um_per_px:
        return 1.0
    return um_per_px / config.work_um_per_px


def propose_defects(gray: np.ndarray, fit: GeometryFit, config: DefectConfig | None = None) -> list[Defect]:
    """Every defect proposal on the face, most confident first (`source="classical"`, zone unset)."""
    config = config or DefectConfig()
    zones = fit.zones
    scale = _work_scale(zones.um_per_px, config)
    if (blur_px := edge_blur_fwhm_px(gray, fit)) is not None:  # this image's own blur, off its glass edge
        config = config.model_copy(update={"psf_fwhm_px": float(np.clip(blur_px * scale, 1.0, 4.0))})
    x, y = zones.center_px
    crop = Crop.around(gray.shape, x, y, CONTACT_ZONE_RADIUS_UM / zones.um_per_px)
    image: np.ndarray = crop.of(gray).astype(np.float32)
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # The geometry on the crop's (resampled) pixel grid: pixel centres map onto pixel centres.
    center = ((x - crop.x0 + 0.5) * scale - 0.5, (y - crop.y0 + 0.5) * scale - 0.5)
    local = zones.model_copy(
        update={
            "center_px": list(center),
            "um_per_px": zones.um_per_px / scale,
            "core_radius_px": zones.core_radius_px * scale,
            "cladding_radius_px": zones.cladding_radius_px * scale,
        }
    )
    um = local.um_per_px
    maps = residual_maps(
        image,
        center_px=center,
        core_radius_px=local.core_radius_px,
        cladding_radius_px=local.cladding_radius_px,
        max_radius_px=CONTACT_ZONE_RADIUS_UM / um,
        noise=fit.noise_sigma * scale,  # an average of 1/scale² pixels: white noise shrinks by 1/scale
        settings=config.map_settings(local),
    )
    chips = find_chips(cv2.GaussianBlur(image, (0, 0), config.smooth_px), maps, local, config)
    maps = replace(maps, valid=maps.valid & ~_chip_areas(chips, image.shape))  # a chip stands for its bite
    max_gap_px = max(config.edge_ring_width_px(um), 10.0 / um)
    tracks = merge_collinear(find_scratches(maps, local, config), max_gap_px=max_gap_px)
    regions = [d for r in find_regions(maps, local, config) if (d := measure_region(r, maps, local, config))]
    regions = [d for d in regions if not any(_along(d, t, um) for t in tracks)]
    chips = [c for c in chips if not any(_along(c, t, um) for t in tracks)]  # a crossing
    others = merge_collinear(tracks + regions, max_gap_px=max_gap_px)
    others = [d for d in others if not any(_part_of_chip(d, c) for c in chips)]
    defects = sorted(chips + others, key=lambda d: -d.confidence)[: config.max_defects]
    return [_to_image(d, crop, scale) for d in defects]
