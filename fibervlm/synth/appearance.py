"""How an end face looks under one microscope: each appearance restyles the face's tones and the optics.

Real inspection scopes differ in illumination, sensor and processing, so the same polished face shows
up in different looks. An appearance changes only how the face looks, never where anything is: the
geometry, defects and verdict of a face are the same in every look. Its random choices come from a
generator of their own, so the face's own random stream (geometry, grain, defects, noise) is the same
whatever the look.

- `standard`: medium-grey glass, a grainy ferrule brighter or darker than it, a thin dark epoxy ring;
- `dark-cladding`: a bright ferrule around a dark glass disc, the core only a faint ring;
- `epoxy-ring`: bright glass inside a wide dark epoxy annulus (3–15 µm), often a second bore edge;
- `halo`: a bright ring a few µm wide along the inside of the cladding edge;
- `camera`: a camera photo: strong vignetting, a lopsided light with a hot spot, a tone curve,
  sharpening and JPEG compression.

    >>> from fibervlm.synth.appearance import APPEARANCE_STYLES
    >>> sorted(APPEARANCE_STYLES)
    ['camera', 'dark-cladding', 'epoxy-ring', 'halo', 'standard']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from fibervlm.synth.face import FaceTones, Optics

ToneChange = Callable[[np.random.Generator, FaceTones], FaceTones]
OpticsChange = Callable[[np.random.Generator, Optics], Optics]


def _same_tones(look: np.random.Generator, tones: FaceTones) -> FaceTones:
    return tones


def _same_optics(look: np.random.Generator, optics: Optics) -> Optics:
    return optics


@dataclass(frozen=True, kw_only=True)
class Appearance:
    """A look: how it changes the face's tones and the shot's optics, drawing from `look`."""

    name: str
    restyle_tones: ToneChange = _same_tones
    restyle_optics: OpticsChange = _same_optics


def _sign(look: np.random.Generator) -> float:
    return float(look.choice([-1.0, 1.0]))


def _dark_cladding(look: np.random.Generator, tones: FaceTones) -> FaceTones:
    """Coaxial light the glass hardly returns: a bright ceramic around a dark disc."""
    ferrule = float(look.uniform(0.68, 0.92))
    cladding = ferrule * float(look.uniform(0.2, 0.4))
    return replace(
        tones,
        ferrule=ferrule,
        cladding=cladding,
        # A snug bore: the epoxy is a hairline, so the dark disc ends where the glass does; the
        # bevel's faint bright rim marks it.
        adhesive=cladding * float(look.uniform(0.45, 0.8)),
        adhesive_width_um=float(look.uniform(0.2, 0.8)),
        adhesive_min_px=0.5,
        rim_contrast=float(look.uniform(0.02, 0.06)),
        core_delta=cladding * float(look.uniform(0.0, 0.04)) * _sign(look),
        # The index step at the core boundary shows as a faint line, not as a brighter disc.
        core_ring_contrast=cladding * float(look.uniform(0.08, 0.2)) * _sign(look),
    )


def _bore_chamfer(look: np.random.Generator) -> tuple[float, float]:
    """(contrast, width in µm) of the band where the ferrule's bore opens up; (0, 0) when none shows."""
    if look.random() >= 0.6:
        return 0.0, 0.0
    # Mostly a shadowed bevel (darker); sometimes a polished one that catches the light.
    contrast = look.uniform(-0.35, -0.12) if look.random() < 0.7 else look.uniform(0.08, 0.2)
    return float(contrast), float(look.uniform(2.0, 6.0))


def _epoxy_ring(look: np.random.Generator, tones: FaceTones) -> FaceTones:
    """Bright glass in a wide, off-centre epoxy annulus; the bore's chamfer often shows as a second edge."""
    cladding = float(look.uniform(0.62, 0.85))
    ferrule = cladding * float(look.uniform(0.6, 1.1))
    chamfer_contrast, chamfer_width_um = _bore_chamfer(look)
    return replace(
        tones,
        cladding=cladding,
        ferrule=ferrule,
        adhesive=min(ferrule, cladding) * float(look.uniform(0.12, 0.35)),
        adhesive_width_um=float(look.uniform(3.0, 15.0)),
        adhesive_eccentricity=float(look.uniform(0.1, 0.45)),
        bore_edge_contrast=chamfer_contrast,
        bore_edge_width_um=chamfer_width_um,
    )


def _halo(look: np.random.Generator, tones: FaceTones) -> FaceTones:
    """The edge of the glass lit up: a bright ring of a few µm instead of the thin rim."""
    return replace(
        tones,
        rim_contrast=0.0,
        halo_contrast=float(look.uniform(0.12, 0.3)),
        halo_width_um=float(look.uniform(1.5, 5.0)),
        halo_phase=float(look.uniform(0, 2 * math.pi)),
    )


def _camera(look: np.random.Generator, optics: Optics) -> Optics:
    """A photo through a probe's camera: strong fall-off, a lopsided LED with a hot spot, JPEG."""
    return replace(
        optics,
        natural_vignetting=True,
        vignetting=float(look.uniform(0.8, 2.2)),
        gradient=float(look.uniform(0.1, 0.3)),
        light_x=float(look.uniform(0.3, 0.7)),
        light_y=float(look.uniform(0.3, 0.7)),
        hotspot_gain=float(look.uniform(0.1, 0.35)),
        hotspot_x=float(look.uniform(0.25, 0.75)),
        hotspot_y=float(look.uniform(0.25, 0.75)),
        hotspot_radius_frac=float(look.uniform(0.15, 0.35)),
        full_well=float(look.uniform(150.0, 800.0)),  # a small sensor: more shot noise
        gamma=float(look.uniform(0.6, 0.85)),
        sharpen_amount=float(look.uniform(0.3, 1.0)),
        jpeg_quality=int(look.integers(50, 91)),
    )


APPEARANCE_STYLES = {
    style.name: style
    for style in (
        Appearance(name="standard"),
        Appearance(name="dark-cladding", restyle_tones=_dark_cladding),
        Appearance(name="epoxy-ring", restyle_tones=_epoxy_ring),
        Appearance(name="halo", restyle_tones=_halo),
        Appearance(name="camera", restyle_optics=_camera),
    )
}
