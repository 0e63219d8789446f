"""A 2-D world of rotated box obstacles inside a square arena: layouts, signed distance, lidar, collisions.

Everything is branch-free and written for one world; `vmap` batches it.
Units: metres and radians. The arena spans `[-arena, arena]^2`.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from simlab.engine.struct import pytree_dataclass

FAMILIES = ("train", "heldout", "blocks")


@pytree_dataclass
class Layout:
    """Obstacles: `centers [B, 2]`, `half_extents [B, 2]`, `angles [B]` (rad)."""

    centers: jax.Array
    half_extents: jax.Array
    angles: jax.Array


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    arena: float = 5.0
    num_obstacles: int = 6
    family: str = "train"
    max_range: float = 5.0

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"layout family must be one of {FAMILIES}, got {self.family!r}")
        if self.num_obstacles < 0 or self.arena <= 1.0:
            raise ValueError("need num_obstacles >= 0 and arena > 1 m")


def sample_layout(config: WorldConfig, key: jax.Array) -> Layout:
    """Draws obstacles. "train": compact boxes (half-extents 0.3-0.8 m); "heldout": thin walls
    (half-extents 0.8-1.5 m by 0.15-0.3 m), a family never seen in training; "blocks": large
    buildings (half-extents 0.8-1.6 m on both sides), also never seen in training."""
    b = config.num_obstacles
    kc, ks, ka = jax.random.split(key, 3)
    margin = config.arena - 1.0
    centers = jax.random.uniform(kc, (b, 2), minval=-margin, maxval=margin)
    if config.family == "train":
        half = jax.random.uniform(ks, (b, 2), minval=0.3, maxval=0.8)
    elif config.family == "blocks":
        half = jax.random.uniform(ks, (b, 2), minval=0.8, maxval=1.6)
    else:
        long_side = jax.random.uniform(ks, (b, 1), minval=0.8, maxval=1.5)
        short_side = jax.random.uniform(jax.random.fold_in(ks, 1), (b, 1), minval=0.15, maxval=0.3)
        half = jnp.concatenate([long_side, short_side], axis=1)
    angles = jax.random.uniform(ka, (b,), minval=0.0, maxval=jnp.pi)
    return Layout(centers, half, angles)


def _to_box_frame(layout: Layout, point: jax.Array) -> jax.Array:
    """`point [2]` expressed in each box's frame: `[B, 2]`."""
    c, s = jnp.cos(layout.angles), jnp.sin(layout.angles)
    d = point[None, :] - layout.centers
    return jnp.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], axis=-1)


def signed_distance(config: WorldConfig, layout: Layout, point: jax.Array) -> jax.Array:
    """Distance from `point [2]` to the nearest obstacle or wall (negative inside an obstacle/outside the arena)."""
    arena = config.arena - jnp.max(jnp.abs(point))
    if config.num_obstacles == 0:
        return arena
    q = jnp.abs(_to_box_frame(layout, point)) - layout.half_extents
    outside = jnp.linalg.norm(jnp.maximum(q, 0.0) + 1e-12, axis=-1)
    inside = jnp.minimum(jnp.max(q, axis=-1), 0.0)
    return jnp.minimum(jnp.min(outside + inside), arena)


def raycast(config: WorldConfig, layout: Layout, origin: jax.Array, angles: jax.Array) -> jax.Array:
    """Distances `[R]` along rays from `origin [2]` at world `angles [R]`, capped at `max_range`.

    Analytic slab intersection with every box and the arena walls; no branches.
    """
    directions = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)  # [R, 2]

    def safe(v):
        return jnp.where(jnp.abs(v) < 1e-9, jnp.where(v < 0, -1e-9, 1e-9), v)

    # Arena walls seen from inside: the exit distance along each axis.
    wall = (jnp.sign(safe(directions)) * config.arena - origin[None, :]) / safe(directions)
    distance = jnp.min(jnp.where(wall > 0, wall, jnp.inf), axis=-1)
    if config.num_obstacles:
        o = _to_box_frame(layout, origin)  # [B, 2]
        c, s = jnp.cos(layout.angles), jnp.sin(layout.angles)
        u = jnp.stack([directions[:, None, 0] * c + directions[:, None, 1] * s,
                       -directions[:, None, 0] * s + directions[:, None, 1] * c], axis=-1)  # [R, B, 2]
        inv = 1.0 / safe(u)
        t1 = (-layout.half_extents[None] - o[None]) * inv
        t2 = (layout.half_extents[None] - o[None]) * inv
        t_near = jnp.max(jnp.minimum(t1, t2), axis=-1)
        t_far = jnp.min(jnp.maximum(t1, t2), axis=-1)
        hit = (t_far >= t_near) & (t_far > 0)
        t_hit = jnp.where(hit, jnp.maximum(t_near, 0.0), jnp.inf)
        distance = jnp.minimum(distance, jnp.min(t_hit, axis=-1))
    return jnp.minimum(distance, config.max_range)


def visible(config: WorldConfig, layout: Layout, a: jax.Array, b: jax.Array) -> jax.Array:
    """Whether the segment from `a [2]` to `b [2]` is free of obstacles (line of sight): `[]` bool."""
    d = b - a
    length = jnp.linalg.norm(d)
    hit = raycast(config, layout, a, jnp.arctan2(d[1], d[0])[None])[0]
    return hit >= jnp.minimum(length, config.max_range) - 1e-4


def resolve_collision(config: WorldConfig, layout: Layout, position: jax.Array, radius: float,
                      iterations: int = 4) -> tuple[jax.Array, jax.Array]:
    """Pushes a disc of `radius` at `position [2]` out of obstacles along the SDF gradient.

    Returns `(position, in_contact)`. A fixed number of projection steps handles
    corners between two obstacles; motion per step must stay below the thinnest
    obstacle (it does for the speeds used here), so nothing tunnels through.
    """
    sdf_and_grad = jax.value_and_grad(lambda p: signed_distance(config, layout, p))
    contact = jnp.zeros((), jnp.bool_)
    for _ in range(iterations):
        distance, normal = sdf_and_grad(position)
        penetration = jnp.maximum(radius - distance, 0.0)
        normal = normal / (jnp.linalg.norm(normal) + 1e-9)
        position = position + penetration * normal
        contact = contact | (penetration > 0)
    return position, contact


def path_lengths(config: WorldConfig, layout: Layout, sources: jax.Array, clearance: float, cells: int = 48,
                 sweeps: int = 96) -> tuple[jax.Array, jax.Array]:
    """Shortest 8-connected path lengths (m) on a `cells x cells` grid from each source `[S, 2]`.

    Cells closer than `clearance` (the robot radius) to an obstacle are blocked. Fixed
    `sweeps` of min-plus relaxation (no data-dependent loops); unreachable cells stay
    `inf`. Returns `(centres [cells*cells, 2], lengths [S, cells*cells])`.
    """
    arena = config.arena
    axis = (jnp.arange(cells) + 0.5) / cells * 2 * arena - arena
    xs, ys = jnp.meshgrid(axis, axis, indexing="ij")
    centres = jnp.stack([xs.ravel(), ys.ravel()], axis=1)
    free = jax.vmap(lambda p: signed_distance(config, layout, p))(centres).reshape(cells, cells) > clearance
    h = 2 * arena / cells
    shifts = [(dx, dy, h * (2 ** 0.5 if dx and dy else 1.0)) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]

    def from_source(src):
        index = jnp.clip(((src + arena) / h).astype(jnp.int32), 0, cells - 1)
        dist = jnp.full((cells, cells), jnp.inf).at[index[0], index[1]].set(0.0)

        def sweep(d, _):
            padded = jnp.pad(d, 1, constant_values=jnp.inf)
            best = d
            for dx, dy, cost in shifts:
                best = jnp.minimum(best, padded[1 + dx:1 + dx + cells, 1 + dy:1 + dy + cells] + cost)
            return jnp.where(free, best, jnp.inf), None

        dist, _ = jax.lax.scan(sweep, dist, None, sweeps)
        return dist.ravel()

    return centres, jax.vmap(from_source)(sources)


def sample_free_positions(config: WorldConfig, layout: Layout, key: jax.Array, count: int, clearance: float,
                          candidates: int = 64) -> jax.Array:
    """`count` positions `[count, 2]` with at least `clearance` to obstacles and walls.

    Draws `candidates` points per position and keeps the first that is free
    (falling back to the one with the most clearance), without branches.
    """
    points = jax.random.uniform(key, (count, candidates, 2), minval=-config.arena, maxval=config.arena)
    sdf = jax.vmap(jax.vmap(lambda p: signed_distance(config, layout, p)))(points)
    free = sdf > clearance
    index = jnp.where(jnp.any(free, axis=1), jnp.argmax(free, axis=1), jnp.argmax(sdf, axis=1))
    return jnp.take_along_axis(points, index[:, None, None], axis=1)[:, 0]
