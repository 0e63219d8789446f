"""HPP's control module: a PPO goal-reaching policy for one robot among obstacles.

Trained with `simlab train goal_navigation --agent ppo` (our PPO, registry
defaults) and shipped as `agents/hpp/assets/controller/`. It is imperfect
on purpose, as the paper assumes: it fails on a few percent of goals.
"""
from __future__ import annotations

from pathlib import Path

import jax

from simlab.agents import normalization
from simlab.agents.hpp import assets
from simlab.agents.loading import load_run
from simlab.agents.registry import make_agent


def _agent():
    return make_agent("ppo", "goal_navigation")


def export_controller(run_dir: str | Path, path: Path = assets.CONTROLLER, meta: dict | None = None) -> Path:
    """Copies the policy of a `goal_navigation` PPO run into the shipped parameter file."""
    agent, state, config = load_run(run_dir)
    if config["env"] != "goal_navigation" or config["agent"] != "ppo":
        raise ValueError(f"{run_dir} is a {config['agent']} run on {config['env']}, not ppo on goal_navigation")
    return assets.save_tree(path, (state.policy_params, state.obs_stats), {"run_config": config, **(meta or {})})


def load_controller(path: Path = assets.CONTROLLER):
    """`controller(obs [67], key) -> action [2]` (deterministic), from the shipped parameters."""
    agent = _agent()
    obs_size = agent.env.observation_size
    template = (agent.policy_net.init(jax.random.key(0), jax.numpy.zeros((1, obs_size))),
                normalization.init_stats(obs_size))
    (params, stats), _ = assets.load_tree(path, template)
    act = agent.policy_from(params, stats, deterministic=True)
    return lambda obs, key: act(obs[None], key)[0]
