"""The particle's scripted oracle: aim the set-point at goal 1 until within 0.01 of it, then at goal 2.

Its memory is one bool, "switched": once the particle has come within `switch_distance` of goal 1 the
oracle targets goal 2 for the rest of the episode (as in the paper). Pure and unbatched; `demos` vmaps it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from simlab.engine.env import State
from simlab.plugins.ibc.demos import Oracle
from simlab.plugins.ibc.particle import split_observation

SWITCH_DISTANCE = 0.01


def particle_oracle(switch_distance: float = SWITCH_DISTANCE) -> Oracle:
    """The go-to-goal-1-then-goal-2 oracle of any `ParticleEnv` (reads only the observation)."""
    if not switch_distance > 0:
        raise ValueError(f"switch_distance must be > 0, got {switch_distance}")

    def init(state: State) -> jax.Array:
        return jnp.zeros((), jnp.bool_)

    def act(switched: jax.Array, state: State) -> tuple[jax.Array, jax.Array]:
        position, _, first_goal, second_goal = split_observation(state.obs)
        switched = switched | (jnp.linalg.norm(position - first_goal) < switch_distance)
        return jnp.where(switched, second_goal, first_goal), switched

    return Oracle(init, act)
