"""Evaluation of trained sensory / MLP policies under every observation condition."""
from __future__ import annotations

import time
from typing import Callable

import jax
import numpy as np

from simlab.agents.evaluation import make_episode_returns
from simlab.agents.sensory.tasks import CONDITIONS, SensoryTask, condition_env


def evaluate_conditions(task: SensoryTask, agent: str, params, num_episodes: int, seed: int = 0,
                        conditions=CONDITIONS, chunk: int = 250,
                        log: Callable[[str], None] | None = None) -> dict[str, dict[str, float]]:
    """`{condition: {"mean", "std", "episodes"}}` of undiscounted returns over `num_episodes`.

    Episodes run in jitted chunks of at most `chunk` (same policy, fresh keys).
    The MLP reads the first `obs_size` channels of an observation with noise
    channels (its input size is fixed), which after shuffling are a random subset.
    `log`, if given, receives one progress line per finished condition (e.g. a stderr printer).
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    policy = task.sensory_policy() if agent == "sensory" else task.mlp_policy()
    results = {}
    for index, condition in enumerate(conditions):
        start = time.perf_counter()
        size = min(chunk, num_episodes)
        run = jax.jit(make_episode_returns(condition_env(task, condition), policy, size))
        returns, key = [], jax.random.fold_in(jax.random.key(seed), index)
        while sum(map(len, returns)) < num_episodes:
            key, sub = jax.random.split(key)
            returns.append(np.asarray(run(params, sub)))
        values = np.concatenate(returns)[:num_episodes]
        results[condition] = {"mean": float(values.mean()), "std": float(values.std()), "episodes": int(values.size)}
        if log is not None:
            log(f"{agent} {condition}: {values.mean():.1f} ± {values.std():.1f} over {values.size} episodes "
                f"({time.perf_counter() - start:.0f} s)")
    return results
