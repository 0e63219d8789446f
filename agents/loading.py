"""Load a trained run: the agent, its restored state, and a NumPy policy for gymnasium.

    policy = load_policy("runs/cartpole")          # obs [O] or [B, O] -> action (NumPy)
    env = gymnasium.make("simlab/CartPoleSwingUp-v0")
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, _ = env.step(policy(obs))
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from simlab.agents import checkpoint
from simlab.agents.registry import make_agent


def load_run(run_dir: str | Path, step: int | None = None) -> tuple[Any, Any, dict]:
    """Returns `(agent, state, config)` restored from a run directory written by `simlab train`."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise checkpoint.CheckpointError(f"{run_dir} has no config.json; pass the --out directory of `simlab train`")
    try:
        config = json.loads(config_path.read_text())
        algo, env_name = config["agent"], config["env"]
    except (json.JSONDecodeError, KeyError) as err:
        raise checkpoint.CheckpointError(f"{config_path} is corrupt or not a simlab run config ({err})") from None
    cfg = dict(config["config"])
    if "hidden" in cfg:
        cfg["hidden"] = tuple(cfg["hidden"])
    agent = make_agent(algo, env_name, cfg, total_steps=config.get("total_steps"), env_kwargs=config.get("env_kwargs"))
    template = agent.init(jax.random.key(config.get("seed", 0)))
    state, _ = checkpoint.restore(run_dir, template, step)
    return agent, state, config


def load_policy(run_dir: str | Path, deterministic: bool = True, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """A host-side policy `obs -> action` (NumPy in, NumPy out) from a trained run.

    Accepts a single observation `[O]` or a batch `[B, O]`; returns actions of
    the matching leading shape, in the environment's action units.
    """
    agent, state, _ = load_run(run_dir)
    act = jax.jit(agent.policy(state, deterministic))
    key = [jax.random.key(seed)]

    def policy(obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, np.float32)
        single = obs.ndim == 1
        key[0], sub = jax.random.split(key[0])
        action = np.asarray(act(obs[None] if single else obs, sub))
        return action[0] if single else action

    return policy


def load_teacher(run_dir: str | Path) -> Callable[[jax.Array], jax.Array]:
    """`act(obs [B, O]) -> action [B, A]`: the deterministic policy of a `simlab train` run, as a jittable
    function of the observation alone (a teacher for behaviour cloning)."""
    agent, state, _ = load_run(run_dir)
    act, unused_key = agent.policy(state, deterministic=True), jax.random.key(0)
    return lambda obs: act(obs, unused_key)
