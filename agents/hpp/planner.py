"""Decentralized rendezvous policies: HPP, HPP with straight-line prediction, centroid, centralized oracle.

Every policy maps the multi-agent observation `[K, 64 + 4 + 2 (K - 1)]` of
`envs.navigation.rendezvous.Rendezvous` to goals, and the shared controller
turns each agent's goal into `(v, w)`. Decentralized policies read only their
own row of the observation (lidar, own pose, noisy teammate positions); the
oracle reads the true simulator state. All are pure functions, jitted and
vmapped over episodes by `agents.hpp.evaluate`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from simlab.agents.hpp import prediction
from simlab.agents.hpp.cem import Belief, cem_plan
from simlab.engine.struct import pytree_dataclass
from simlab.envs.navigation import world
from simlab.envs.navigation.goal_navigation import goal_features
from simlab.envs.navigation.rendezvous import Rendezvous, spread


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    replan_every: int = 10  # env steps between CEM updates of the belief
    num_samples: int = 64
    num_elites: int = 8
    iterations: int = 3
    initial_std: float = 2.0
    sample_goal: bool = True  # sample the goal from the belief (the paper) rather than take its mean
    # Weight (per metre) of the distance from a candidate to the observed team centroid, added to the score:
    # a common reference all agents observe alike, which breaks ties between equally good meeting points
    # the same way for every agent.
    centroid_weight: float = 0.2


@pytree_dataclass
class PlanState:
    belief: Belief  # per agent: mean [K, 2], std [K, 2]
    goals: jax.Array  # [K, 2]


def decode_observation(env: Rendezvous, obs: jax.Array):
    """Split one agent's observation row: `(scan [64] (m), pose [3], teammates [K-1, 2] (m))`."""
    arena, beams = env.world.arena, env.robot.lidar_beams
    scan = obs[:beams] * env.world.max_range
    own = obs[beams:beams + 4]
    pose = jnp.stack([own[0] * arena, own[1] * arena, jnp.arctan2(own[3], own[2])])
    team = obs[beams + 4:].reshape(-1, 2) * arena
    return scan, pose, team


def controller_actions(env: Rendezvous, controller, obs: jax.Array, goals: jax.Array, key: jax.Array) -> jax.Array:
    """`[K, 2]` actions driving each agent to its goal, from its own lidar and pose."""

    def one(row, goal, k):
        _, pose, _ = decode_observation(env, row)
        features = jnp.concatenate([row[:env.robot.lidar_beams], goal_features(pose, goal, env.world.arena)])
        return controller(features, k)

    return jax.vmap(one)(obs, goals, jax.random.split(key, obs.shape[0]))


def make_hpp(env: Rendezvous, predict: Callable, pred_config: prediction.PredictionConfig,
             config: PlannerConfig = PlannerConfig()):
    """HPP: each agent runs CEM over meeting points scored by predicted final spread.

    `predict(features [N, 74]) -> offsets [N, H, 2]` (learned network or straight line).
    Returns `(init(obs) -> PlanState, plan(state, obs, key) -> PlanState)`; the caller invokes `plan`
    once every `config.replan_every` steps (a static nested scan, so no branch is needed).
    """
    arena = env.world.arena

    def agent_score(row, goals):
        scan, pose, team = decode_observation(env, row)

        def spread_for(goal):
            bearing = jnp.arctan2(goal[1] - team[:, 1], goal[0] - team[:, 0])
            team_poses = jnp.concatenate([team, bearing[:, None]], axis=1)
            targets = jnp.concatenate([pose[None], team_poses])  # [K, 3], self first
            feats = jax.vmap(lambda tp: prediction._features(env, scan, pose, tp, goal))(targets)
            paths = targets[:, None, :2] + predict(feats)  # [K, H, 2]
            # Mean spread over the predicted horizon: a meeting point everyone reaches sooner scores better
            # (with the final spread alone, every point reachable within the horizon ties).
            centroid = jnp.concatenate([pose[None, :2], team]).mean(axis=0)
            return jnp.mean(jax.vmap(spread, in_axes=1)(paths)) + config.centroid_weight * jnp.linalg.norm(
                goal - centroid)

        return jax.vmap(spread_for)(goals)

    def init(obs):
        def one(row):
            _, pose, team = decode_observation(env, row)
            centroid = jnp.concatenate([pose[None, :2], team]).mean(axis=0)
            return centroid

        means = jax.vmap(one)(obs)
        return PlanState(Belief(means, jnp.full_like(means, config.initial_std)), means)

    def plan(state: PlanState, obs, key):
        def replan(row, belief, k):
            cem_key, sample_key = jax.random.split(k)
            belief, _ = cem_plan(lambda g: agent_score(row, g), belief, cem_key, config.num_samples,
                                 config.num_elites, config.iterations, low=-arena, high=arena)
            goal = belief.sample(sample_key) if config.sample_goal else belief.mean
            return belief, jnp.clip(goal, -arena, arena)

        beliefs, goals = jax.vmap(replan)(obs, state.belief, jax.random.split(key, obs.shape[0]))
        return PlanState(beliefs, goals)

    return init, plan


def make_centroid(env: Rendezvous, every_step: bool = True):
    """Every agent heads to the centroid of its own and its observed teammates' positions.

    `every_step=True` (the `centroid` baseline) re-estimates it from each new observation,
    which makes the team converge like a consensus protocol; `every_step=False`
    (`centroid_once`) fixes each agent's goal at the centroid it observed at the start.
    """

    def goals(obs):
        def one(row):
            _, pose, team = decode_observation(env, row)
            return jnp.concatenate([pose[None, :2], team]).mean(axis=0)

        return jax.vmap(one)(obs)

    def init(obs):
        g = goals(obs)
        return PlanState(Belief(g, jnp.zeros_like(g)), g)

    if every_step:
        plan = lambda state, obs, key: PlanState(state.belief, goals(obs))
    else:
        plan = lambda state, obs, key: state
    return init, plan


def grid_path_lengths(env: Rendezvous, layout: world.Layout, sources: jax.Array, cells: int = 48,
                      sweeps: int = 96) -> tuple[jax.Array, jax.Array]:
    """`world.path_lengths` with the robot radius as clearance: `(centres [cells², 2], lengths [S, cells²])` (m)."""
    return world.path_lengths(env.world, layout, sources, env.robot.radius, cells, sweeps)


def make_oracle(env: Rendezvous):
    """Centralized oracle: knows every position and the map, and sends all agents to the free cell that
    minimizes the longest shortest-path distance (computed once, at the start)."""

    def goals_from_sim(sim):
        centres, lengths = grid_path_lengths(env, sim.layout, sim.poses[:, :2])
        best = centres[jnp.argmin(jnp.max(lengths, axis=0))]
        return jnp.broadcast_to(best, (env.num_agents, 2))

    def init(sim):
        goals = goals_from_sim(sim)
        return PlanState(Belief(goals, jnp.zeros_like(goals)), goals)

    return init
