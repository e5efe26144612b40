"""What a model looks at: a square around the fibre centre, a fixed number of µm wide.

Every IEC 61300-3-35 table ends its last graded zone (D, contact) at 250 µm diameter. Cropping a square of
`VIEW_UM` around the fibre centre and resizing it to the model's input size gives every image the same
µm per pixel: a 5 µm dig is always the same number of pixels, whatever the microscope's magnification,
and the ferrule beyond the contact zone (ungraded) costs no pixels. The stage-1 models see this view.
A VLM preset may ask for a narrower, round one (`ModelPreset.view_um`): only the disc of that diameter,
the rest painted over, so a small model is not distracted by the cladding's dark edge, and the light
flattened (each pixel over the median of a third of the view around it, at mid grey): vignetting, a hot
spot and the tone of the glass (a dark or a bright cladding) divide out, defects smaller than a sixth of
the view stay. Microscopes differ most in exactly those; a small model sees the same face through any.
Without a geometry (the classical stage failed) the view is the whole image, padded to a square.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from fibervlm.schemas import ZoneGeometry

VIEW_UM = 260.0  # zone D's 250 µm plus a margin for an off-centre estimate


@dataclass(frozen=True)
class FibreView:
    """A square window of the original image: `side` original pixels from (x0, y0), shown at `size` px."""

    x0: int
    y0: int
    side: int
    size: int
    disc: bool = False  # paint over what lies outside the inscribed disc
    flat: bool = False  # divide out the light (vignetting, hot spot, the glass's tone)

    @property
    def scale(self) -> float:
        """Original pixels per view pixel."""
        return self.side / self.size

    @classmethod
    def of(
        cls,
        geometry: ZoneGeometry | None,
        width: int,
        height: int,
        size: int | None = None,
        *,
        view_um: float = VIEW_UM,
        disc: bool = False,
        flat: bool = False,
    ) -> FibreView:
        """The window of `view_um` around the fibre, shown at `size` px (None: at its own resolution)."""
        if geometry is None:
            side = max(width, height)
            return cls(0, 0, side, size or side)
        side = max(1, round(view_um / geometry.um_per_px))
        cx, cy = geometry.center_px
        return cls(round(cx - side / 2), round(cy - side / 2), side, size or side, disc, flat)

    @classmethod
    def for_vlm(cls, geometry: ZoneGeometry | None, width: int, height: int, view_um: float) -> FibreView:
        """The round, flat view of a VLM preset with `view_um`, at the image's resolution: training export
        and the predictor both take it from here, so a model is shown what it learned on."""
        return cls.of(geometry, width, height, view_um=view_um, disc=True, flat=True)

    def render(self, image: np.ndarray) -> np.ndarray:
        """The window as a (size, size) uint8 image; parts outside the image repeat its border."""
        height, width = image.shape[:2]
        x1, y1 = self.x0 + self.side, self.y0 + self.side
        inside = image[max(0, self.y0) : max(0, min(height, y1)), max(0, self.x0) : max(0, min(width, x1))]
        if inside.size == 0:  # a geometry far off the image: nothing of the face to show
            inside = np.full((1, 1), int(np.median(image)), dtype=np.uint8)
        pads = (max(0, -self.y0), max(0, y1 - height), max(0, -self.x0), max(0, x1 - width))
        window = cv2.copyMakeBorder(inside, *pads, cv2.BORDER_REPLICATE) if any(pads) else inside
        if self.disc:
            window = _paint_outside_disc(window)
        if self.size != self.side:
            shrink = self.side > self.size  # INTER_AREA keeps small dark defects when shrinking
            interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            window = cv2.resize(window, (self.size, self.size), interpolation=interpolation)
        return _flattened(window) if self.flat else window

    def to_original(self, xyxy: Sequence[float]) -> list[float]:
        """A box (x0, y0, x1, y1) in view pixels → original image pixels."""
        s = self.scale
        return [self.x0 + xyxy[0] * s, self.y0 + xyxy[1] * s, self.x0 + xyxy[2] * s, self.y0 + xyxy[3] * s]

    def from_original(self, bbox: Sequence[float]) -> list[float]:
        """A box [x, y, w, h] in original pixels → [x, y, w, h] in view pixels (not clipped)."""
        s = self.scale
        return [(bbox[0] - self.x0) / s, (bbox[1] - self.y0) / s, bbox[2] / s, bbox[3] / s]


def _paint_outside_disc(window: np.ndarray) -> np.ndarray:
    """The square with everything outside its inscribed disc set to the disc's median grey."""
    side = window.shape[0]
    yy, xx = np.mgrid[:side, :side]
    outside = (yy - (side - 1) / 2) ** 2 + (xx - (side - 1) / 2) ** 2 > (side / 2) ** 2
    painted = window.copy()
    painted[outside] = np.median(window[~outside], axis=0) if (~outside).any() else 0
    return painted


def _flattened(window: np.ndarray) -> np.ndarray:
    """Each pixel over the median of a third of the view around it, at mid grey (128)."""
    background = cv2.medianBlur(window, (window.shape[0] // 3) | 1).astype(np.float32)
    return np.clip(128 * window.astype(np.float32) / np.maximum(background, 4.0), 0, 255).astype(np.uint8)


def render_views(
    images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None], size: int
) -> tuple[list[np.ndarray], list[FibreView]]:
    """Each image's view and the window it came from."""
    views = [FibreView.of(g, i.shape[1], i.shape[0], size) for i, g in zip(images, geometries, strict=True)]
    return [v.render(i) for v, i in zip(views, images, strict=True)], views
