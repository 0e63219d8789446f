"""The IBC plug-in's block-pushing task on simlab's physics, and its scripted oracle."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs, ring
from simlab.engine import physics
from simlab.plugins.ibc import block_push_oracle, tasks
from simlab.plugins.ibc.block_push import BLOCK_HALF, MAX_STEP, BlockPush, block_yaw_cos_sin


@functools.lru_cache(maxsize=None)
def _env(multi_target: bool = False) -> BlockPush:
    return BlockPush(multi_target=multi_target)


@functools.lru_cache(maxsize=None)
def _step(multi_target: bool = False):
    return jax.jit(_env(multi_target).step)


def _placed(env: BlockPush, pusher_xy, block_xy, yaw: float = 0.0, seed: int = 0):
    """The reset state of `seed` with the pusher (at rest, set-point on it) and the cube at rest where asked."""
    state = env.reset(jax.random.PRNGKey(seed))
    quat = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
    q = jnp.asarray([*pusher_xy, *block_xy, BLOCK_HALF, *quat], jnp.float32)
    phys = physics.init(env.sys, q, jnp.zeros(env.sys.nv, jnp.float32))
    sim = state.sim.replace(physics=phys, setpoint=jnp.asarray(pusher_xy, jnp.float32))
    return state.replace(sim=sim, obs=env.observe(sim))


@pytest.mark.parametrize("multi_target, obs_size, length", [(False, 10, 100), (True, 13, 200)])
def test_specs_and_batched_shapes(multi_target, obs_size, length):
    env = _env(multi_target)
    assert env.observation_spec.shape == (obs_size,) and len(env.obs_names) == obs_size
    assert env.action_spec.shape == (2,) and np.allclose(env.action_spec.high, MAX_STEP)
    assert env.default_episode_length == length and env.dt == pytest.approx(0.1)
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    states = jax.eval_shape(jax.vmap(env.reset), keys)  # traced, not compiled: jitted runs are below
    states = jax.eval_shape(jax.vmap(env.step), states, jnp.zeros((4, 2), jnp.float32))
    assert states.obs.shape == (4, obs_size) and states.obs.dtype == jnp.float32
    assert states.reward.shape == states.terminated.shape == states.metrics["success"].shape == (4,)


def test_a_push_along_x_moves_the_block_along_x():
    env = _env()
    state = _placed(env, (0.30, -0.2), (0.40, -0.2))
    for _ in range(10):
        state = _step()(state, jnp.asarray([MAX_STEP, 0.0]))
    block = np.asarray(state.sim.physics.q[2:4])
    assert block[0] > 0.40 + 0.15, block  # 0.3 m of set-point travel, minus the 6 cm gap and the servo lag
    assert abs(block[1] + 0.2) < 0.01, block
    cos, sin = np.asarray(block_yaw_cos_sin(state.sim.physics.q[5:9]))
    assert abs(np.arctan2(sin, cos)) < 0.1  # a centred push barely turns it


def test_a_pusher_that_never_touches_leaves_the_block_at_rest():
    env = _env()
    state = _placed(env, (0.30, -0.2), (0.45, -0.1), yaw=0.3)
    start = np.asarray(state.sim.physics.q[2:9])
    for _ in range(15):
        state = _step()(state, jnp.asarray([-0.01, -0.01]))
    np.testing.assert_allclose(np.asarray(state.sim.physics.q[2:9]), start, atol=5e-4)
    assert float(state.metrics["success"]) == 0.0 and not bool(state.terminated)


def test_yaw_of_a_quaternion():
    yaw = 2.0
    cos_sin = block_yaw_cos_sin(jnp.asarray([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)], jnp.float32))
    np.testing.assert_allclose(np.asarray(cos_sin), [np.cos(yaw), np.sin(yaw)], atol=1e-6)


def test_success_latches_and_terminates():
    env = _env()
    state = env.reset(jax.random.PRNGKey(3))
    target = np.asarray(state.sim.targets[0])
    state = _placed(env, (0.2, -0.45), (target[0] + 0.01, target[1]), seed=3)
    state = _step()(state, jnp.zeros(2))
    assert float(state.metrics["success"]) == 1.0 and bool(state.terminated) and float(state.reward) == 1.0
    state = _step()(state, jnp.zeros(2))
    assert float(state.metrics["success"]) == 1.0 and float(state.reward) == 0.0


@pytest.mark.parametrize("multi_target", [False, True])
def test_oracle_solves_seeded_episodes(multi_target):
    demos = block_push_oracle.generate_block_push_demos(jax.random.PRNGKey(0), 32, multi_target,
                                                        num_steps=80 if multi_target else 60)
    success, mask = np.asarray(demos["success"]), np.asarray(demos["mask"])
    assert success.mean() >= 0.95, success.mean()
    assert demos["obs"].shape == (32, 80 if multi_target else 60, 13 if multi_target else 10)
    assert np.all(np.abs(np.asarray(demos["actions"])) <= MAX_STEP + 1e-6)
    first = np.asarray(demos["obs"])[:, 0]  # reset: jitted, vmapped, one draw per key, in range, finite
    assert np.all(np.isfinite(np.asarray(demos["obs"])))
    assert len({tuple(row) for row in first[:, 4:6].round(6)}) == 32
    assert np.all((first[:, 4] > 0.29) & (first[:, 4] < 0.51) & (first[:, 5] > -0.36) & (first[:, 5] < -0.04))
    np.testing.assert_allclose(np.linalg.norm(first[:, 6:8], axis=1), 1.0, atol=1e-5)
    lengths = mask.sum(axis=1)
    assert np.all(lengths[success > 0] < mask.shape[1])  # successful episodes terminate early ...
    assert np.all(mask[:, 0]) and np.all(np.diff(mask.astype(int), axis=1) <= 0)  # ... and stay masked after


def test_bad_options_raise():
    with pytest.raises(ValueError, match="multi_target"):
        BlockPush(multi_target="yes")
    with pytest.raises(ValueError, match="goal_tolerance"):
        BlockPush(goal_tolerance=0.0)
    with pytest.raises(TypeError, match="valid ones"):
        BlockPush(targets=3)
    with pytest.raises(ValueError, match="shape"):
        block_push_oracle.push_oracle(jnp.zeros(13), multi_target=False)
    with pytest.raises(ValueError, match="positive integer"):
        block_push_oracle.generate_block_push_demos(jax.random.PRNGKey(0), 0)
    with pytest.raises(ValueError, match="multi_target"):
        block_push_oracle.generate_block_push_demos(jax.random.PRNGKey(0), 2, multi_target=1)


def test_registered_through_the_plugin_and_in_the_task_table():
    ring.load_all()
    env = envs.make("block_push", multi_target=True)
    assert isinstance(env.unwrapped, BlockPush) and env.unwrapped.multi_target
    assert env.default_episode_length == 200 and env.observation_spec.shape == (13,)
    task = tasks.get_task("block_push")
    assert task.tag() == "block_push_multi_targetfalse" and task.env({"multi_target": True}).multi_target
    with pytest.raises(ValueError, match="multi_target"):
        task.resolve({"multi_target": "yes"})
