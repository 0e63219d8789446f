"""A tiny NumPy rasterizer for 2-D scenes (classic-control rendering on CPU).

World coordinates are metres; `Canvas` maps them to pixels with y pointing up.
Shapes are drawn with signed-distance tests over the pixel grid, which is
plenty fast for the 320x240 frames used by `render()` and GIF export.
"""
from __future__ import annotations

import numpy as np


class Canvas:
    """An RGB image with world-to-pixel mapping.

    Args:
      width, height: image size in pixels.
      x_range: world x shown from left to right edge (m).
      y_center: world y at the vertical centre (m); the scale is square.
      background: RGB of the empty canvas.
    """

    def __init__(self, width: int, height: int, x_range=(-1.0, 1.0), y_center: float = 0.0,
                 background=(245, 245, 245)):
        if width < 8 or height < 8:
            raise ValueError(f"render size must be at least 8x8 pixels, got {width}x{height}")
        self.pixels = np.empty((height, width, 3), np.uint8)
        self.pixels[:] = np.asarray(background, np.uint8)
        self.scale = width / (x_range[1] - x_range[0])  # pixels per metre
        self.x0 = x_range[0]
        self.y_top = y_center + 0.5 * height / self.scale
        cols = (np.arange(width) + 0.5) / self.scale + self.x0
        rows = self.y_top - (np.arange(height) + 0.5) / self.scale
        self._wx, self._wy = np.meshgrid(cols, rows)

    def _paint(self, mask: np.ndarray, color) -> None:
        self.pixels[mask] = np.asarray(color, np.uint8)

    def line(self, start, end, color, width_px: float = 2.0) -> None:
        """A segment from `start` to `end` (world coordinates), `width_px` thick."""
        a, b = np.asarray(start, float), np.asarray(end, float)
        ab = b - a
        denom = max(float(ab @ ab), 1e-12)
        t = np.clip(((self._wx - a[0]) * ab[0] + (self._wy - a[1]) * ab[1]) / denom, 0.0, 1.0)
        dist = np.hypot(self._wx - (a[0] + t * ab[0]), self._wy - (a[1] + t * ab[1]))
        self._paint(dist * self.scale <= 0.5 * max(width_px, 1.0), color)

    def circle(self, center, radius: float, color) -> None:
        """A filled disc of `radius` metres."""
        dist = np.hypot(self._wx - center[0], self._wy - center[1])
        self._paint(dist <= max(radius, 0.5 / self.scale), color)

    def rect(self, lower_left, upper_right, color) -> None:
        """A filled axis-aligned rectangle."""
        mask = ((self._wx >= lower_left[0]) & (self._wx <= upper_right[0])
                & (self._wy >= lower_left[1]) & (self._wy <= upper_right[1]))
        self._paint(mask, color)

    def polygon(self, vertices, color) -> None:
        """A filled convex polygon with `vertices [N, 2]` in counter-clockwise order (world coordinates)."""
        v = np.asarray(vertices, float)
        inside = np.ones_like(self._wx, dtype=bool)
        for a, b in zip(v, np.roll(v, -1, axis=0)):
            inside &= (b[0] - a[0]) * (self._wy - a[1]) - (b[1] - a[1]) * (self._wx - a[0]) >= 0
        self._paint(inside, color)
