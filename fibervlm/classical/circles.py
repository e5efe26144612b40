"""Circle fitting to edge points: RANSAC over 3-point circles, then geometric least squares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    radius: float

    def distances(self, points: np.ndarray) -> np.ndarray:
        """Signed distance of (N, 2) points from the circle: positive outside."""
        return np.hypot(points[:, 0] - self.x, points[:, 1] - self.y) - self.radius


def fit_geometric(points: np.ndarray, start: Circle, iterations: int = 10) -> Circle:
    """Gauss-Newton on the true point-to-circle distances (the Kåsa fit is biased on short arcs)."""
    cx, cy, radius = start.x, start.y, start.radius
    for _ in range(iterations):
        dx, dy = points[:, 0] - cx, points[:, 1] - cy
        dist = np.maximum(np.hypot(dx, dy), 1e-9)
        residual = dist - radius
        jacobian = np.stack([-dx / dist, -dy / dist, -np.ones_like(dist)], axis=1)
        # Normal equations: a 3×3 solve is far cheaper than lstsq's SVD, and well posed on an arc.
        step = np.linalg.solve(jacobian.T @ jacobian + 1e-9 * np.eye(3), -jacobian.T @ residual)
        cx, cy, radius = cx + step[0], cy + step[1], radius + step[2]
        if np.abs(step).max() < 1e-4:
            break
    return Circle(float(cx), float(cy), float(abs(radius)))


def _circumcircles(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Circles through point triples ((K, 2) each): (K, 3) x, y, radius; NaN for collinear triples."""
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]) + c[:, 0] * (a[:, 1] - b[:, 1]))
    d = np.where(np.abs(d) < 1e-9, np.nan, d)
    sa, sb, sc = (a * a).sum(1), (b * b).sum(1), (c * c).sum(1)
    ux = (sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1]) + sc * (a[:, 1] - b[:, 1])) / d
    uy = (sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0]) + sc * (b[:, 0] - a[:, 0])) / d
    return np.stack([ux, uy, np.hypot(a[:, 0] - ux, a[:, 1] - uy)], axis=1)


def fit_ransac(
    points: np.ndarray,
    *,
    inlier_tol_px: float,
    rng: np.random.Generator,
    iterations: int = 200,
) -> tuple[Circle, np.ndarray] | None:
    """RANSAC over 3-point circles (all hypotheses at once), then a geometric fit to the consensus.

    Returns (circle, inlier mask) or None when no circle gathers at least 3 points.
    """
    n = len(points)
    if n < 3:
        return None
    triples = rng.integers(0, n, size=(iterations, 3))  # repeated indices give NaN circles, dropped
    circles = _circumcircles(points[triples[:, 0]], points[triples[:, 1]], points[triples[:, 2]])
    circles = circles[np.isfinite(circles).all(axis=1)]
    if len(circles) == 0:
        return None
    # (hypotheses, points) distances: 200 × 720 floats, cheaper than a Python loop over hypotheses.
    distance = np.hypot(points[None, :, 0] - circles[:, :1], points[None, :, 1] - circles[:, 1:2])
    counts = (np.abs(distance - circles[:, 2:]) < inlier_tol_px).sum(axis=1)
    best = circles[int(np.argmax(counts))]
    circle = Circle(float(best[0]), float(best[1]), float(best[2]))
    inliers = np.abs(circle.distances(points)) < inlier_tol_px
    for _ in range(2):  # refit, re-select: the consensus set grows to the true edge
        if inliers.sum() < 3:
            return None
        circle = fit_geometric(points[inliers], circle)
        inliers = np.abs(circle.distances(points)) < inlier_tol_px
    return circle, inliers
