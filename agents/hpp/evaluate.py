"""Held-out evaluation of rendezvous methods: success rate, time to rendezvous, final spread.

All episodes of a method run as one jitted program: `vmap` over episodes and
a nested `lax.scan` over planning periods and control steps.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.hpp import planner, prediction
from simlab.agents.hpp.controller import load_controller
from simlab.agents.hpp.training import PREDICTION, load_predictor
from simlab.envs.navigation.rendezvous import Rendezvous, spread

METHODS = ("hpp", "straight_line", "centroid", "oracle", "centroid_once")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    num_agents: int = 3
    family: str = "heldout"
    num_obstacles: int = 10
    horizon: int = 300  # env steps (30 s)
    planner: planner.PlannerConfig = planner.PlannerConfig()


def _method(name: str, env: Rendezvous, config: EvalConfig):
    if name == "hpp":
        net, params = load_predictor()
        return planner.make_hpp(env, lambda f: net.apply(params, f), PREDICTION, config.planner)
    if name == "straight_line":
        return planner.make_hpp(env, lambda f: prediction.straight_line(f, PREDICTION, env), PREDICTION,
                                config.planner)
    if name == "centroid":
        return planner.make_centroid(env)
    if name == "centroid_once":
        return planner.make_centroid(env, every_step=False)
    if name == "oracle":
        return planner.make_oracle(env), None
    raise ValueError(f"unknown method {name!r}; choose from {METHODS}")


def make_episode(name: str, config: EvalConfig = EvalConfig()):
    """Returns `episode(key) -> dict` for method `name` (pure; jit and vmap it)."""
    env = Rendezvous(num_agents=config.num_agents, num_obstacles=config.num_obstacles, family=config.family)
    controller = load_controller()
    init, plan = _method(name, env, config)
    period = config.planner.replan_every if name in ("hpp", "straight_line") else 1
    if config.horizon % period:
        raise ValueError(f"horizon {config.horizon} must be a multiple of replan_every {period}")

    def episode(key):
        reset_key, run_key = jax.random.split(key)
        state = env.reset(reset_key)
        plan_state = init(state.sim) if name == "oracle" else init(state.obs)

        def control_step(carry, k):
            state, plan_state, done, success_step, t = carry
            state = env.step(state, planner.controller_actions(env, controller, state.obs, plan_state.goals, k))
            newly = state.terminated & ~done
            return (state, plan_state, done | state.terminated, jnp.where(newly, t + 1, success_step), t + 1), \
                (state.sim.poses, plan_state.goals, plan_state.belief.mean, plan_state.belief.std)

        def period_step(carry, k):
            state, plan_state, done, success_step, t = carry
            plan_key, run = jax.random.split(k)
            if plan is not None:
                plan_state = plan(plan_state, state.obs, plan_key)
            return jax.lax.scan(control_step, (state, plan_state, done, success_step, t),
                                jax.random.split(run, period))

        carry = (state, plan_state, jnp.zeros((), jnp.bool_), jnp.full((), -1), jnp.zeros((), jnp.int32))
        (state, _, done, success_step, _), trace = jax.lax.scan(
            period_step, carry, jax.random.split(run_key, config.horizon // period))
        trace = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), trace)
        return {"success": done, "time_s": success_step * env.dt, "final_spread": spread(state.sim.poses[:, :2]),
                "poses": trace[0], "goals": trace[1], "belief_mean": trace[2], "belief_std": trace[3],
                "layout": state.sim.layout}

    return episode, env


def summarize(result: dict) -> dict:
    """Success rate, mean time to rendezvous and final spread, each with a 95 % confidence half-width."""
    success = np.asarray(result["success"], np.float64)
    n = success.size
    rate = success.mean()
    times = np.asarray(result["time_s"], np.float64)[success > 0]
    spreads = np.asarray(result["final_spread"], np.float64)
    half = lambda x: float(1.96 * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
    return {"success_rate": float(rate), "ci95": float(1.96 * np.sqrt(rate * (1 - rate) / n)),
            "mean_time": float(times.mean()) if len(times) else float("nan"), "mean_time_ci95": half(times),
            "mean_final_spread": float(spreads.mean()), "final_spread_ci95": half(spreads), "episodes": int(n)}


def evaluate(name: str, num_episodes: int, seed: int = 0, config: EvalConfig = EvalConfig(), chunk: int = 100):
    """Runs `num_episodes` held-out episodes of method `name` (in vmapped chunks); returns stacked results."""
    episode, _ = make_episode(name, config)
    run = jax.jit(jax.vmap(episode))
    keys = jax.random.split(jax.random.key(seed), num_episodes)
    parts = [jax.device_get(run(keys[i:i + chunk])) for i in range(0, num_episodes, chunk)]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
