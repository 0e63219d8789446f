"""A scripted pushing oracle for `block_push.BlockPush` and its demonstration generator.

The oracle is a pure function of one observation (vmap it for batches). It reads where the pusher is
in the frame of the line from the cube to its next target (`along` that line, `lateral` across it),
and moves the pusher's set-point:

1. aligned behind the cube: push along the line at up to 3 cm per step, slower within 3 cm of the
   target, while cancelling the lateral offset (so the pusher stays behind the cube's centre as the
   cube turns and drifts, which re-aims the push every step);
2. behind but off the line: go to a staging point 2 cm behind the cube on the line;
3. beside the cube: go back along its side to beside the staging point;
4. level with the cube or in front of it: back off along the line (rear half) or step sideways
   (front half) until clear of the cube's corners.

Every candidate action is computed and one is chosen with `where`: no branches on data.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import State
from simlab.plugins.ibc.block_push import BLOCK_HALF, MAX_STEP, PUSHER_RADIUS, BlockPush
from simlab.plugins.ibc.demos import Oracle, make_oracle_rollout

CLEARANCE = BLOCK_HALF * np.sqrt(2.0) + PUSHER_RADIUS + 0.02  # m: lateral distance that clears the cube's corners
STAGING = 0.02  # m: gap between the staging point and the cube's farthest corner
ALIGNED = 0.012  # m: lateral offset within which the oracle pushes


def _unit(v: jax.Array) -> jax.Array:
    return v / jnp.sqrt(jnp.sum(jnp.square(v)) + 1e-12)


def _toward(point: jax.Array, setpoint: jax.Array) -> jax.Array:
    """Set-point displacement `[2]` toward `point`, at most `MAX_STEP` long."""
    delta = point - setpoint
    length = jnp.sqrt(jnp.sum(jnp.square(delta)) + 1e-12)
    return delta * jnp.minimum(1.0, MAX_STEP / length)


def push_oracle(obs: jax.Array, multi_target: bool = False) -> jax.Array:
    """The oracle's action `[2]` (m of set-point motion, within ±0.03) for one observation.

    Args:
      obs: `[10]` (single target) or `[13]` (`multi_target`), the layout of `BlockPush.obs_names`.
      multi_target: whether `obs` is a multi-target observation (static).
    """
    obs = jnp.asarray(obs, jnp.float32)
    expected = 13 if multi_target else 10
    if obs.shape != (expected,):
        raise ValueError(f"push_oracle: obs must have shape ({expected},) for multi_target={multi_target}, "
                         f"got {obs.shape}; vmap it for batches")
    pusher, setpoint, block, heading = obs[0:2], obs[2:4], obs[4:6], obs[6:8]
    goal = jnp.where(obs[12] > 0.5, obs[10:12], obs[8:10]) if multi_target else obs[8:10]
    to_goal = goal - block
    distance = jnp.sqrt(jnp.sum(jnp.square(to_goal)) + 1e-12)
    u = _unit(to_goal)
    n = jnp.stack([-u[1], u[0]])
    rel = pusher - block  # phases from where the pusher is; moves relative to where it is sent (the set-point)
    along, lateral = jnp.dot(rel, u), jnp.dot(rel, n)
    # Extent of the cube towards the pusher (its support along -u), so the staging point clears a corner.
    support = BLOCK_HALF * (jnp.abs(jnp.dot(u, heading)) + jnp.abs(u[0] * heading[1] - u[1] * heading[0]))
    contact = support + PUSHER_RADIUS
    side = jnp.where(lateral >= 0.0, 1.0, -1.0)
    local = lambda a, b: block + a * u + b * n  # noqa: E731  (a point in the line's frame)

    speed = jnp.clip(distance, 0.01, MAX_STEP)
    push = u * speed - n * jnp.clip(lateral, -MAX_STEP, MAX_STEP)
    push = push * jnp.minimum(1.0, MAX_STEP / jnp.sqrt(jnp.sum(jnp.square(push)) + 1e-12))
    stage = _toward(local(-(contact + STAGING), 0.0), setpoint)
    along_side = _toward(local(-(contact + STAGING), side * CLEARANCE), setpoint)
    back_off = _toward(local(-(contact + STAGING), lateral), setpoint)
    sidestep = _toward(local(along, side * CLEARANCE), setpoint)

    pushing = (along <= -(BLOCK_HALF + PUSHER_RADIUS - 0.008)) & (jnp.abs(lateral) <= ALIGNED)
    behind = along <= -(contact + 0.005)
    beside = jnp.abs(lateral) >= CLEARANCE - 0.002
    action = jnp.where(along < 0.0, back_off, sidestep)
    action = jnp.where(beside, along_side, action)
    action = jnp.where(behind, stage, action)
    action = jnp.where(pushing, push, action)
    return jnp.clip(action, -MAX_STEP, MAX_STEP)


def block_push_oracle(multi_target: bool = False) -> Oracle:
    """`push_oracle` as a `demos.Oracle` (memoryless: it reads only `state.obs`)."""

    def init(state: State) -> jax.Array:
        return jnp.zeros((), jnp.bool_)

    def act(memory: jax.Array, state: State) -> tuple[jax.Array, jax.Array]:
        return push_oracle(state.obs, multi_target), memory

    return Oracle(init, act)


@functools.lru_cache(maxsize=8)
def _demo_fn(multi_target: bool, goal_tolerance: float, num_steps: int):
    env = BlockPush(multi_target=multi_target, goal_tolerance=goal_tolerance)
    return make_oracle_rollout(env, block_push_oracle(multi_target), num_steps)


def generate_block_push_demos(key: jax.Array, num: int, multi_target: bool = False, goal_tolerance: float = 0.02,
                              num_steps: int | None = None) -> dict:
    """`num` oracle episodes of `BlockPush(multi_target=..., goal_tolerance=...)` in one jitted call (compiled
    once per option set and `num`).

    Args:
      key: PRNG key; episode i starts from `jax.random.split(key, num)[i]`.
      num: number of episodes (>= 1).
      num_steps: steps per episode (default 100 single-target, 200 multi-target).

    Returns a dict of arrays: `obs` `[num, T, obs_size]` (the observation each action answered),
    `actions` `[num, T, 2]` (m), `mask` `[num, T]` bool (True up to and including the step that
    succeeded; the env is stepped on after it so that shapes stay fixed) and `success` `[num]` (0/1).
    Train on `obs[mask & (success[:, None] > 0)]` to keep only successful demonstrations.
    `demos.generate_demos(BlockPush(...), block_push_oracle(...), num)` gives the same episodes for
    the plug-in's seeded `.npz` files.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be a positive integer (episodes), got {num!r}")
    if not isinstance(multi_target, (bool, np.bool_)):
        raise ValueError(f"multi_target must be True or False, got {multi_target!r}")
    num_steps = (200 if multi_target else 100) if num_steps is None else num_steps
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    run = _demo_fn(bool(multi_target), float(goal_tolerance), int(num_steps))
    obs, actions, mask, success = run(jax.random.split(key, int(num)))
    return {"obs": obs, "actions": actions, "mask": mask, "success": success}
