"""The gymnasium layer: every simlab environment with `gym=True` becomes `simlab/<Name>-v0` in gymnasium.

Importing this module (`simlab.envs` does) subscribes `register_gym` to the registry, which calls it
for each entry registered so far and for every later one (plug-ins, `envs.register` in user code).
"""
from __future__ import annotations

import gymnasium

from simlab.envs import registry
from simlab.envs.registry import EnvEntry


def register_gym(entry: EnvEntry) -> None:
    """Adds single and vector entry points for `entry` to gymnasium's registry.

    `gymnasium.make(entry.gym_id)` builds `envs.gym_env.SimlabGymEnv`;
    `gymnasium.make_vec(entry.gym_id, num_envs=n, vectorization_mode="vector_entry_point")`
    builds `envs.gym_vector.SimlabVectorEnv` (one jitted call per batch step).
    The time limit is ours (inside jit), so gymnasium's TimeLimit is not added. Entries with
    `gym=False` are skipped.
    """
    if not entry.gym or entry.gym_id in gymnasium.registry:
        return
    gymnasium.register(
        id=entry.gym_id,
        entry_point="simlab.envs.gym_env:SimlabGymEnv",
        vector_entry_point="simlab.envs.gym_vector:SimlabVectorEnv",
        kwargs={"env_name": entry.name},
    )


registry.on_register(register_gym)
