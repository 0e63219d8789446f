"""Registers simlab environments with gymnasium as `simlab/<Name>-v0`."""
from __future__ import annotations

import gymnasium

from envs.registry import EnvEntry


def register_gym(entry: EnvEntry) -> None:
    """Adds single and vector entry points for `entry` to gymnasium's registry.

    `gymnasium.make(entry.gym_id)` builds `envs.gym_env.SimlabGymEnv`;
    `gymnasium.make_vec(entry.gym_id, num_envs=n, vectorization_mode="vector_entry_point")`
    builds `envs.gym_vector.SimlabVectorEnv` (one jitted call per batch step).
    The time limit is ours (inside jit), so gymnasium's TimeLimit is not added.
    """
    if entry.gym_id in gymnasium.registry:
        return
    gymnasium.register(
        id=entry.gym_id,
        entry_point="envs.gym_env:SimlabGymEnv",
        vector_entry_point="envs.gym_vector:SimlabVectorEnv",
        kwargs={"env_name": entry.name},
    )
