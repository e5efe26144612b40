"""The fibre view: the contact zone at a fixed scale, and boxes mapped both ways."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from fibervlm.detect.dataset import export_yolo_dataset, read_labels
from fibervlm.schemas import ZoneGeometry
from fibervlm.view import VIEW_UM, FibreView, render_views


def _geometry(cx: float, cy: float, um_per_px: float) -> ZoneGeometry:
    return ZoneGeometry(
        center_px=[cx, cy], core_radius_px=4.5 / um_per_px, cladding_radius_px=62.5 / um_per_px,
        um_per_px=um_per_px,
    )  # fmt: skip


def test_the_view_has_a_fixed_scale_whatever_the_magnification():
    for um_per_px in (0.3, 0.5, 0.8):
        view = FibreView.of(_geometry(320, 240, um_per_px), 640, 480, size=320)
        assert view.side * um_per_px == pytest.approx(VIEW_UM, abs=um_per_px)
        assert view.scale * 320 == view.side


def test_boxes_map_back_and_forth_exactly():
    view = FibreView.of(_geometry(300.4, 211.7, 0.5), 640, 480, size=256)
    bbox = [280.0, 190.0, 12.0, 6.0]
    x, y, w, h = view.from_original(bbox)
    assert view.to_original([x, y, x + w, y + h]) == pytest.approx([280.0, 190.0, 292.0, 196.0])


def test_render_puts_the_fibre_centre_in_the_middle_and_pads_outside_the_image():
    image = np.full((480, 640), 200, np.uint8)
    image[236:245, 96:105] = 0  # a dark dot at (100, 240), near the left edge
    view = FibreView.of(_geometry(100, 240, 0.5), 640, 480, size=260)  # 520 px window, 160 px outside
    rendered = view.render(image)
    assert rendered.shape == (260, 260) and rendered.dtype == np.uint8
    dark = np.argwhere(rendered < 100)
    assert dark.mean(axis=0) == pytest.approx([130, 130], abs=1.5)  # (row, col) of the centre
    assert rendered[:, :10].min() == 200  # replicated border, not black


def test_a_flat_view_divides_out_the_light_and_keeps_the_defect():
    # The same face under vignetting and dark glass: the flat views agree, the dig stays as dark.
    yy, xx = np.mgrid[:480, :640]
    face = np.full((480, 640), 160.0)
    face[(yy - 240) ** 2 + (xx - 330) ** 2 < 8**2] = 80.0  # an 8 µm dig at 0.5 µm/px, half as bright
    vignetting = 1 - 0.5 * ((xx - 320) ** 2 + (yy - 240) ** 2) / 150**2
    looks = [face, face * vignetting, face * 0.3]  # as shot, a camera's fall-off, a dark cladding
    view = FibreView.of(_geometry(320, 240, 0.5), 640, 480, size=112, view_um=118, disc=True, flat=True)
    flat = [view.render(look.astype(np.uint8)).astype(float) for look in looks]
    raw = [
        dataclasses.replace(view, flat=False).render(look.astype(np.uint8)).astype(float) for look in looks
    ]
    assert max(np.abs(f - flat[0]).mean() for f in flat) < 5
    assert min(np.abs(r - raw[0]).mean() for r in raw[1:]) > 10
    for rendered in flat:
        assert np.median(rendered) == pytest.approx(128, abs=2)
        assert rendered[54:58, 58:62].mean() == pytest.approx(64, abs=12)  # the dig: half the glass


def test_without_geometry_the_view_is_the_whole_image():
    image = np.zeros((480, 640), np.uint8)
    views, windows = render_views([image], [None], 320)
    assert (windows[0].x0, windows[0].y0, windows[0].side) == (0, 0, 640)
    assert views[0].shape == (320, 320)


def test_view_export_writes_views_with_boxes_in_view_pixels(synth_train, tmp_path):
    data = export_yolo_dataset(labels=synth_train, out=tmp_path, val_fraction=0.25, view_size=96)
    records = {r.path.stem: r for r in read_labels(synth_train)}
    checked = 0
    for label_file in (tmp_path / "labels").rglob("*.txt"):
        report = records[label_file.stem.split("__")[-1]].report
        view = FibreView.of(report.zones, report.width, report.height, 96)
        lines = label_file.read_text().splitlines()
        if len(lines) != len(report.defects):  # a defect outside the view has no line
            continue
        for line, defect in zip(lines, report.defects, strict=True):
            cx, cy = (float(v) * 96 for v in line.split()[1:3])
            x, y, w, h = view.from_original(defect.bbox)
            if w >= 3 and h >= 3 and x > 0 and x + w < 96 and y > 0 and y + h < 96:
                assert (cx, cy) == pytest.approx((x + w / 2, y + h / 2), abs=0.01)
                checked += 1
    assert checked > 0 and data.n_boxes > 0
    image = next((tmp_path / "images" / "train").iterdir())
    assert cv2.imread(str(image), cv2.IMREAD_GRAYSCALE).shape == (96, 96)
