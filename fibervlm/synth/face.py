"""The defect-free end face and the microscope's optics.

The face is built as reflectance (0–1, float32, (H, W)): a grainy zirconia ferrule, the dark
adhesive ring in the bore (and the bore's own edge), the smooth glass cladding with its bright edge
rim or halo, and the core. The optics then apply uneven illumination, blur (and defocus), exposure,
shot + read noise, a camera's tone curve and sharpening, quantise to uint8, and may JPEG-compress.
What each appearance changes in the tones and optics lives in `fibervlm.synth.appearance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from fibervlm.synth.config import Frame, SynthConfig
from fibervlm.synth.shapes import Patch

CLADDING_DIAMETER_UM = 125.0


@dataclass(frozen=True, kw_only=True)
class FaceGeometry:
    """Where the fibre is and how large, in pixels of one image."""

    width: int
    height: int
    center_x: float
    center_y: float
    um_per_px: float
    core_radius_px: float
    cladding_radius_px: float

    def px(self, um: float) -> float:
        return um / self.um_per_px

    def point_at(self, radius_um: float, angle: float) -> tuple[float, float]:
        """The image point `radius_um` from the fibre centre in direction `angle` (radians)."""
        radius_px = self.px(radius_um)
        return self.center_x + radius_px * math.cos(angle), self.center_y + radius_px * math.sin(angle)

    def radius_um_of(self, x: float, y: float) -> float:
        return math.hypot(x - self.center_x, y - self.center_y) * self.um_per_px


def sample_geometry(
    rng: np.random.Generator, *, core_diameter_um: float, frame: Frame, max_offset_frac: float
) -> FaceGeometry:
    """A scale in the frame's range, and a centre that keeps the adhesive ring inside the image."""
    width, height = frame.width_px, frame.height_px
    # Rounded so the label's numbers are exactly the ones used to draw.
    um_per_px = round(float(rng.uniform(*frame.um_per_px)), 4)
    ring_radius_px = 67.5 / um_per_px  # outer edge of zone C: keep all of it in view
    free_x = max(0.0, width / 2 - ring_radius_px) * max_offset_frac
    free_y = max(0.0, height / 2 - ring_radius_px) * max_offset_frac
    return FaceGeometry(
        width=width,
        height=height,
        center_x=round(width / 2 - 0.5 + float(rng.uniform(-free_x, free_x)), 2),
        center_y=round(height / 2 - 0.5 + float(rng.uniform(-free_y, free_y)), 2),
        um_per_px=um_per_px,
        core_radius_px=round(core_diameter_um / 2 / um_per_px, 3),
        cladding_radius_px=round(CLADDING_DIAMETER_UM / 2 / um_per_px, 3),
    )


@cache
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def _coarse_noise(rng: np.random.Generator, shape: tuple[int, int], cell_px: float) -> np.ndarray:
    """Zero-mean, unit-ish noise with features of about `cell_px`: random grid, bicubic upsampling."""
    rows, cols = max(2, round(shape[0] / cell_px)), max(2, round(shape[1] / cell_px))
    coarse = rng.standard_normal((rows, cols), dtype=np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _grain(rng: np.random.Generator, shape: tuple[int, int], grain_px: float) -> np.ndarray:
    """Fine grain of a polished ceramic: white noise blurred to the grain size, about unit std."""
    fine = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), grain_px)
    # Unit white noise blurred by a Gaussian of sigma s has std 1 / (2 s sqrt(pi)).
    return (fine * (2 * grain_px * math.sqrt(math.pi))).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class FaceTones:
    """The reflectances of the parts of the face in one image."""

    cladding: float
    ferrule: float
    adhesive: float
    core_delta: float  # core minus cladding; small, either sign
    adhesive_width_um: float
    grain_amplitude: float
    # The standard look's values below; appearances change them (fibervlm.synth.appearance).
    adhesive_eccentricity: float = 0.5  # the gap's relative swing around the circumference
    adhesive_min_px: float = 2.5  # the gap is drawn at least this wide, to stay visible
    bore_edge_contrast: float = 0.0  # the ferrule's bore chamfer beyond the epoxy: a band of ×(1 + c)
    bore_edge_width_um: float = 0.0
    rim_contrast: float = 0.06  # thin bright rim just inside the cladding edge
    halo_contrast: float = 0.0  # a wider bright ring along the inside of the cladding edge
    halo_width_um: float = 0.0
    halo_phase: float = 0.0  # where around the edge the halo is brightest (radians)
    core_ring_contrast: float = 0.0  # a thin ring at the core boundary, either sign


def sample_tones(rng: np.random.Generator, *, multimode: bool) -> FaceTones:
    cladding = float(rng.uniform(0.42, 0.72))
    # Zirconia reads brighter or darker than glass depending on the scope's illumination.
    if rng.random() < 0.5:
        ferrule = min(0.95, cladding + float(rng.uniform(0.08, 0.22)))
    else:
        ferrule = cladding - float(rng.uniform(0.1, 0.25))
    core_contrast = rng.uniform(0.04, 0.1) if multimode else rng.uniform(0.02, 0.07)
    return FaceTones(
        cladding=cladding,
        ferrule=ferrule,
        # Epoxy in the bore reads darker than both glass and ceramic: the ring that outlines the fibre.
        adhesive=float(rng.uniform(0.2, 0.5)) * min(ferrule, cladding),
        core_delta=float(core_contrast * rng.choice([-1.0, 1.0])),
        adhesive_width_um=float(rng.uniform(1.0, 3.5)),
        grain_amplitude=float(rng.uniform(0.04, 0.08)),
    )


def _fibre_patch(geometry: FaceGeometry, reach_px: float) -> Patch:
    """The square of the image within `reach_px` of the fibre centre."""
    centre = np.array([geometry.center_x, geometry.center_y])
    corners = np.stack([centre - reach_px, centre + reach_px])
    return Patch.around(corners, 0, geometry.width, geometry.height)


def _standard_reach_px(geometry: FaceGeometry, adhesive_width_um: float) -> float:
    """How far from the centre the standard look's bore reaches: glass, a 1.5× wandering gap, margin."""
    return geometry.cladding_radius_px + 1.5 * max(2.5, geometry.px(adhesive_width_um)) + 3


def _embed(values: np.ndarray, source: Patch, target: Patch) -> np.ndarray:
    """`values` of `source` placed on `target`: zero where `source` does not reach."""
    if source == target:
        return values
    placed = np.zeros(target.shape, np.float32)
    x0, y0 = max(source.x0, target.x0), max(source.y0, target.y0)
    x1, y1 = min(source.x1, target.x1), min(source.y1, target.y1)
    placed[y0 - target.y0 : y1 - target.y0, x0 - target.x0 : x1 - target.x0] = values[
        y0 - source.y0 : y1 - source.y0, x0 - source.x0 : x1 - source.x0
    ]
    return placed


def render_clean_face(
    rng: np.random.Generator,
    geometry: FaceGeometry,
    tones: FaceTones,
    *,
    multimode: bool,
    texture_gap_um: float | None = None,
) -> np.ndarray:
    """Reflectance of the defect-free face, (H, W) float32 in 0–1.

    `texture_gap_um`: the standard look's epoxy width (default: the tones' own). The glass texture is
    drawn on the patch that width gives, so a look with another gap draws the same random numbers,
    and so shows the same face, as the standard look.
    """
    shape = (geometry.height, geometry.width)
    grain = _grain(rng, shape, max(0.8, geometry.px(0.8)))
    mottle = _coarse_noise(rng, shape, geometry.px(12.0))
    face = tones.ferrule * (1 + tones.grain_amplitude * grain + 0.03 * mottle)

    # The bore, the glass and the core only touch the fibre's square: work there.
    cladding_px = geometry.cladding_radius_px
    gap_mean_px = max(tones.adhesive_min_px, geometry.px(tones.adhesive_width_um))
    reach_px = cladding_px + (1 + tones.adhesive_eccentricity) * gap_mean_px + 3
    if tones.bore_edge_contrast:
        reach_px += geometry.px(tones.bore_edge_width_um)
    patch = _fibre_patch(geometry, reach_px)
    texture_width_um = tones.adhesive_width_um if texture_gap_um is None else texture_gap_um
    texture_patch = _fibre_patch(geometry, _standard_reach_px(geometry, texture_width_um))
    xs, ys = patch.grid()
    dx, dy = xs - geometry.center_x, ys - geometry.center_y
    radius_px = np.sqrt(dx * dx + dy * dy)
    angle = np.arctan2(dy, dx)
    view = patch.view(face)

    # The epoxy gap between glass and bore: its width wanders around the circumference (the fibre
    # sits off-centre in its bore).
    phase = float(rng.uniform(0, 2 * math.pi))
    bore_px = cladding_px + gap_mean_px * (1 + tones.adhesive_eccentricity * np.cos(angle + phase))
    if tones.bore_edge_contrast:
        edge_px = geometry.px(tones.bore_edge_width_um)
        beyond_bore = np.clip(radius_px - bore_px + 0.5, 0, 1)
        chamfer = np.clip(bore_px + edge_px - radius_px + 0.5, 0, 1) * beyond_bore
        view *= 1 + tones.bore_edge_contrast * chamfer
    adhesive_alpha = np.clip(bore_px - radius_px + 0.5, 0, 1)
    view += adhesive_alpha * (tones.adhesive * (1 + 0.15 * patch.view(grain)) - view)

    texture = _coarse_noise(rng, texture_patch.shape, geometry.px(20.0))
    glass = tones.cladding * (1 + 0.012 * _embed(texture, texture_patch, patch))
    glass += _core(radius_px, geometry, tones.core_delta, multimode=multimode)
    # A thin bright rim just inside the edge: the polished bevel catches the coaxial light.
    glass += tones.rim_contrast * np.exp(-0.5 * ((radius_px - cladding_px + 1.8) / 0.9) ** 2)
    if tones.halo_contrast:
        glass += _halo(radius_px, angle, geometry, tones)
    if tones.core_ring_contrast:
        ring_sigma_px = max(0.6, geometry.px(0.5))
        offset = (radius_px - geometry.core_radius_px) / ring_sigma_px
        glass += tones.core_ring_contrast * np.exp(-0.5 * offset * offset)
    cladding_alpha = np.clip(cladding_px - radius_px + 0.5, 0, 1)
    view += cladding_alpha * (glass - view)
    return face


def _halo(radius_px: np.ndarray, angle: np.ndarray, geometry: FaceGeometry, tones: FaceTones) -> np.ndarray:
    """A bright ring peaking just inside the cladding edge, brighter on the side the light comes from."""
    width_px = geometry.px(tones.halo_width_um)
    offset = (radius_px - (geometry.cladding_radius_px - 0.4 * width_px)) / (0.3 * width_px)
    lopsided = 1 + 0.35 * np.cos(angle - tones.halo_phase)
    return (tones.halo_contrast * lopsided * np.exp(-0.5 * offset * offset)).astype(np.float32)


def _core(radius_px: np.ndarray, geometry: FaceGeometry, delta: float, *, multimode: bool) -> np.ndarray:
    """The core's tone offset: a soft disc (single-mode) or a graded-index dome (multimode)."""
    core_px = geometry.core_radius_px
    edge = 1 / (1 + np.exp(np.minimum((radius_px - core_px) / max(0.6, 0.08 * core_px), 50)))
    if multimode:
        return (delta * (0.5 + 0.5 * np.clip(1 - (radius_px / core_px) ** 2, 0, 1)) * edge).astype(np.float32)
    return (delta * edge).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class Optics:
    """One shot's illumination and camera."""

    vignetting: float
    gradient: float
    gradient_angle: float
    light_x: float  # where the illumination peaks, as a fraction of width/height
    light_y: float
    blur_sigma_px: float
    gain: float
    full_well: float
    read_noise: float
    # The standard look's values below; appearances change them (fibervlm.synth.appearance).
    natural_vignetting: bool = False  # cos⁴-like fall-off that never reaches black, for strong vignetting
    hotspot_gain: float = 0.0  # a specular hot spot of the illuminator: extra light, fraction of full
    hotspot_x: float = 0.5
    hotspot_y: float = 0.5
    hotspot_radius_frac: float = 0.3  # its Gaussian sigma, as a fraction of the half diagonal
    defocus_sigma_px: float = 0.0  # out-of-focus blur on top of the optical blur
    gamma: float = 1.0  # the camera's tone curve: output = signal ** gamma
    sharpen_amount: float = 0.0  # the camera's unsharp mask (0 = none)
    jpeg_quality: int = 0  # 0: the frame is stored losslessly; else JPEG at this quality


def sample_optics(rng: np.random.Generator, *, config: SynthConfig, angled: bool) -> Optics:
    # An angled (APC) face tilts away from the objective: its illumination is more lopsided.
    gradient = float(rng.uniform(*config.gradient)) * (2.0 if angled else 1.0)
    return Optics(
        vignetting=float(rng.uniform(*config.vignetting)),
        gradient=gradient,
        gradient_angle=float(rng.uniform(0, 2 * math.pi)),
        light_x=float(rng.uniform(0.35, 0.65)),
        light_y=float(rng.uniform(0.35, 0.65)),
        blur_sigma_px=float(rng.uniform(*config.blur_sigma_px)),
        gain=float(rng.uniform(*config.exposure_gain)),
        full_well=float(rng.uniform(*config.full_well)),
        read_noise=float(rng.uniform(*config.read_noise)),
        defocus_sigma_px=config.defocus_sigma_px,
    )


def _illumination(optics: Optics, height: int, width: int) -> np.ndarray:
    """Vignetting around an off-centre light plus a linear gradient; smooth, so built at 1/8 scale."""
    small_h, small_w = max(2, height // 8), max(2, width // 8)
    xs, ys = _pixel_grid(small_h, small_w)
    half_diagonal = math.hypot(width, height) / 2
    dx = ((xs + 0.5) * width / small_w - optics.light_x * width) / half_diagonal
    dy = ((ys + 0.5) * height / small_h - optics.light_y * height) / half_diagonal
    along = math.cos(optics.gradient_angle) * dx + math.sin(optics.gradient_angle) * dy
    if optics.natural_vignetting:
        light = 1 / (1 + optics.vignetting * (dx * dx + dy * dy)) ** 2 + optics.gradient * along
    else:
        light = 1 - optics.vignetting * (dx * dx + dy * dy) + optics.gradient * along
    if optics.hotspot_gain:
        hx = ((xs + 0.5) * width / small_w - optics.hotspot_x * width) / half_diagonal
        hy = ((ys + 0.5) * height / small_h - optics.hotspot_y * height) / half_diagonal
        light += optics.hotspot_gain * np.exp(-0.5 * (hx * hx + hy * hy) / optics.hotspot_radius_frac**2)
    if optics.natural_vignetting:
        # A strong gradient may dim a corner, never make it emit negative light.
        light = np.maximum(light, 0.03)
    return cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)


def expose(rng: np.random.Generator, reflectance: np.ndarray, optics: Optics) -> np.ndarray:
    """Illuminate, blur, expose, add shot and read noise, process, quantise: the uint8 (H, W) frame."""
    height, width = reflectance.shape
    blur_sigma_px = optics.blur_sigma_px
    if optics.defocus_sigma_px:
        # Gaussian blurs compose by adding variances; the noise below stays sharp (it is the sensor's).
        blur_sigma_px = math.hypot(blur_sigma_px, optics.defocus_sigma_px)
    signal = cv2.GaussianBlur(reflectance * _illumination(optics, height, width), (0, 0), blur_sigma_px)
    signal = np.clip(signal * optics.gain, 0, 1)
    # Shot noise (variance ∝ signal) and read noise together, as one Gaussian field.
    sigma = np.sqrt(signal * (1 / optics.full_well) + optics.read_noise**2)
    signal += sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    signal = _camera_processing(signal, optics)
    signal *= 255
    signal += 0.5
    frame = np.clip(signal, 0, 255).astype(np.uint8)
    return jpeg_round_trip(frame, optics.jpeg_quality) if optics.jpeg_quality else frame


def _camera_processing(signal: np.ndarray, optics: Optics) -> np.ndarray:
    """What a camera's image processor does before storing: a tone curve and an unsharp mask."""
    if optics.gamma != 1.0:
        signal = np.power(np.clip(signal, 0, 1), optics.gamma, dtype=np.float32)
    if optics.sharpen_amount:
        # Sharpening also amplifies noise and rings at edges: both are part of the look.
        smooth = cv2.GaussianBlur(signal, (0, 0), 1.5)
        signal = cv2.addWeighted(signal, 1 + optics.sharpen_amount, smooth, -optics.sharpen_amount, 0)
    return signal


def jpeg_round_trip(frame: np.ndarray, quality: int) -> np.ndarray:
    """The (H, W) uint8 frame as a camera that stores JPEG delivers it: 8×8 blocks, ringing, banding."""
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"OpenCV could not encode the frame as JPEG (quality {quality})")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    if decoded is None:
        raise ValueError("OpenCV could not decode the JPEG it just encoded")
    return decoded
