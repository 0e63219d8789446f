"""Self-supervised trajectory predictors for HPP.

A predictor answers: "if agent T starts at pose p_T and heads to goal g with the
(imperfect) controller, where will it be over the next H steps?" from the point
of view of an ego agent E that sees only its own lidar and pose:

    input  = [E's lidar / max_range (64), E's pose (x/L, y/L, cos, sin), T's pose (4), g / L (2)]
    output = T's positions relative to its start, every `stride` steps: [H, 2] (metres)

The same network serves self-prediction (E = T) and teammate prediction
(E != T); teammates are homogeneous, so one set of weights covers all of them.
Training data are generated in simulation: random layouts, random ego and
target placements and goals, and the controller driving the target.
`straight_line` is the baseline: full speed straight at the goal.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import optax

from simlab.agents.networks import MLP
from simlab.envs.navigation import world
from simlab.envs.navigation.goal_navigation import GoalNavigation, goal_features
from simlab.envs.navigation.agents import lidar, move

FEATURE_SIZE = 64 + 4 + 4 + 2  # lidar, ego pose, target pose, goal

Controller = Callable[[jax.Array, jax.Array], jax.Array]  # (obs [67], key) -> action [2]


@dataclasses.dataclass(frozen=True)
class PredictionConfig:
    horizon: int = 20  # predicted points
    stride: int = 5  # env steps between points (horizon * stride * dt seconds ahead)
    hidden: tuple[int, ...] = (128, 128)
    learning_rate: float = 1e-3
    batch_size: int = 256
    epochs: int = 30
    # Fraction of training goals drawn uniformly over the arena (possibly inside an obstacle, so unreachable)
    # rather than at a free point: the planner queries such goals, so the predictor must know where the
    # controller ends up when it cannot arrive.
    any_goal_fraction: float = 0.0


def _features(env: GoalNavigation, ego_scan, ego_pose, target_pose, goal):
    arena = env.world.arena

    def pose_features(p):
        return jnp.stack([p[0] / arena, p[1] / arena, jnp.cos(p[2]), jnp.sin(p[2])])

    return jnp.concatenate([ego_scan / env.world.max_range, pose_features(ego_pose), pose_features(target_pose),
                            goal / arena])


def simulate_example(env: GoalNavigation, controller: Controller, config: PredictionConfig, key: jax.Array,
                     self_prediction: jax.Array):
    """One training example `(features [74], future offsets [H, 2])` in a fresh random layout."""
    layout_key, place_key, heading_key, scan_key, roll_key, goal_key = jax.random.split(key, 6)
    layout = world.sample_layout(env.world, layout_key)
    points = world.sample_free_positions(env.world, layout, place_key, 3, clearance=env.robot.radius + 0.2)
    headings = jax.random.uniform(heading_key, (2,), minval=-jnp.pi, maxval=jnp.pi)
    target_pose = jnp.concatenate([points[0], headings[:1]])
    ego_pose = jnp.where(self_prediction, target_pose, jnp.concatenate([points[2], headings[1:]]))
    anywhere_key, pick_key = jax.random.split(goal_key)
    anywhere = jax.random.uniform(anywhere_key, (2,), minval=-env.world.arena, maxval=env.world.arena)
    goal = jnp.where(jax.random.uniform(pick_key) < config.any_goal_fraction, anywhere, points[1])
    scan = lidar(env.robot, env.world, layout, ego_pose, scan_key)

    def step(pose, k):
        obs_key, act_key = jax.random.split(k)
        obs = env.observe(layout, pose, goal, obs_key)
        reached = jnp.linalg.norm(goal - pose[:2]) < env.goal_radius
        new_pose, _ = move(env.robot, env.world, layout, pose, controller(obs, act_key))
        pose = jnp.where(reached, pose, new_pose)  # the controller stops at its goal
        return pose, pose[:2]

    _, positions = jax.lax.scan(step, target_pose, jax.random.split(roll_key, config.horizon * config.stride))
    future = positions[config.stride - 1 :: config.stride] - target_pose[None, :2]
    return _features(env, scan, ego_pose, target_pose, goal), future


def make_dataset(env: GoalNavigation, controller: Controller, config: PredictionConfig, key: jax.Array, size: int):
    """`size` examples, half self-prediction and half teammate prediction: `(X [N, 74], Y [N, H, 2])`."""
    keys = jax.random.split(key, size)
    self_flags = jnp.arange(size) % 2 == 0
    return jax.jit(jax.vmap(lambda k, s: simulate_example(env, controller, config, k, s)))(keys, self_flags)


def make_network(config: PredictionConfig):
    def forward(x):
        return MLP(config.hidden, config.horizon * 2, "relu", name="predictor")(x).reshape(
            *x.shape[:-1], config.horizon, 2)

    return hk.without_apply_rng(hk.transform(forward))


def straight_line(features: jax.Array, config: PredictionConfig, env: GoalNavigation) -> jax.Array:
    """Baseline offsets `[..., H, 2]`: full speed straight at the goal, stopping there."""
    arena = env.world.arena
    start = features[..., 68:70] * arena
    goal = features[..., 72:74] * arena
    delta = goal - start
    distance = jnp.linalg.norm(delta, axis=-1, keepdims=True)
    times = (jnp.arange(1, config.horizon + 1) * config.stride * env.dt)[:, None]
    travelled = jnp.minimum(env.robot.max_speed * times, distance[..., None, :])
    return travelled * (delta / (distance + 1e-9))[..., None, :]


def train_predictor(net, config: PredictionConfig, x: jax.Array, y: jax.Array, key: jax.Array):
    """Fits `net` by mean squared error with Adam; returns `(params, per-epoch losses)`."""
    init_key, shuffle_key = jax.random.split(key)
    params = net.init(init_key, x[:1])
    optimizer = optax.adam(config.learning_rate)
    batches = x.shape[0] // config.batch_size
    if batches < 1:
        raise ValueError(f"need at least batch_size={config.batch_size} examples, got {x.shape[0]}")

    def loss_fn(p, xb, yb):
        return jnp.mean(jnp.sum((net.apply(p, xb) - yb) ** 2, axis=-1))

    def epoch(carry, k):
        params, opt_state = carry
        perm = jax.random.permutation(k, x.shape[0])[: batches * config.batch_size].reshape(batches, -1)

        def step(c, idx):
            p, s = c
            loss, grads = jax.value_and_grad(loss_fn)(p, x[idx], y[idx])
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return (params, opt_state), losses.mean()

    (params, _), losses = jax.jit(lambda p, k: jax.lax.scan(epoch, (p, optimizer.init(p)),
                                                            jax.random.split(k, config.epochs)))(params, shuffle_key)
    return params, losses


def mean_error(predicted: jax.Array, target: jax.Array) -> jax.Array:
    """Mean Euclidean error (m) over examples and horizon points."""
    return jnp.mean(jnp.linalg.norm(predicted - target, axis=-1))


def goal_seeking_controller(env: GoalNavigation) -> Controller:
    """A scripted, imperfect controller: turn toward the goal, drive when roughly facing it.

    It ignores the lidar, so it slides along obstacles (the collision handling
    keeps it outside them) and can get stuck: the kind of behaviour a learned
    predictor can capture and a straight line cannot.
    """
    del env

    def act(obs, key):
        local = obs[64:66]
        bearing = jnp.arctan2(local[1], local[0])
        return jnp.stack([jnp.clip(jnp.cos(bearing), 0.0, 1.0), jnp.clip(2.0 * bearing, -1.0, 1.0)])

    return act


__all__ = ["PredictionConfig", "make_dataset", "make_network", "straight_line", "train_predictor", "mean_error",
           "goal_seeking_controller", "goal_features"]
