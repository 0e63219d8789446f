"""Top-down frames of the navigation world (obstacles, robots, goals, trails)."""
from __future__ import annotations

import numpy as np

from simlab.envs import render2d

ROBOT_COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207),
                (227, 119, 194), (127, 127, 127)]


def draw_world(canvas: render2d.Canvas, layout, arena: float) -> None:
    """Arena border and obstacles (host NumPy `layout`)."""
    for a, b in (((-arena, -arena), (arena, -arena)), ((arena, -arena), (arena, arena)),
                 ((arena, arena), (-arena, arena)), ((-arena, arena), (-arena, -arena))):
        canvas.line(a, b, (60, 60, 60), 3)
    for center, half, angle in zip(np.asarray(layout.centers), np.asarray(layout.half_extents), np.asarray(layout.angles)):
        c, s = np.cos(angle), np.sin(angle)
        corners = np.array([[-half[0], -half[1]], [half[0], -half[1]], [half[0], half[1]], [-half[0], half[1]]])
        canvas.polygon(corners @ np.array([[c, s], [-s, c]]) + center, (110, 110, 110))


def draw_robot(canvas: render2d.Canvas, pose, radius: float, color) -> None:
    x, y, h = (float(v) for v in pose)
    canvas.circle((x, y), radius, color)
    canvas.line((x, y), (x + 1.6 * radius * np.cos(h), y + 1.6 * radius * np.sin(h)), (20, 20, 20), 2)


def frame(layout, arena: float, poses, radius: float, goals=None, width: int = 320, height: int = 320) -> np.ndarray:
    """An `[height, width, 3]` uint8 frame with robots at `poses [K, 3]` and optional `goals [K, 2]` (crosses)."""
    canvas = render2d.Canvas(width, height, x_range=(-arena * 1.05, arena * 1.05), y_center=0.0)
    draw_world(canvas, layout, arena)
    poses = np.atleast_2d(np.asarray(poses))
    for i, pose in enumerate(poses):
        color = ROBOT_COLORS[i % len(ROBOT_COLORS)]
        if goals is not None:
            g = np.atleast_2d(np.asarray(goals))[i]
            canvas.line((g[0] - 0.2, g[1] - 0.2), (g[0] + 0.2, g[1] + 0.2), color, 3)
            canvas.line((g[0] - 0.2, g[1] + 0.2), (g[0] + 0.2, g[1] - 0.2), color, 3)
        draw_robot(canvas, pose, radius, color)
    return canvas.pixels
