"""The particle task (issue 19 item 2): shapes, the PD dynamics, the success rule, branch-free and vmappable
step/reset, clear errors for a bad dim, and the oracle solving the task in every episode."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.engine.branchfree import assert_branch_free
from simlab.engine.wrappers import VmapWrapper
from simlab.plugins.ibc.demos import generate_demos, make_oracle_rollout
from simlab.plugins.ibc.oracle import particle_oracle
from simlab.plugins.ibc.particle import ParticleEnv, split_observation

METRICS = {"success", "reached_first_goal", "reached_second_goal", "distance_to_first_goal",
           "distance_to_second_goal"}


@pytest.mark.parametrize("dim", [1, 3, 32])
def test_shapes_specs_and_branch_free_step(dim):
    env = ParticleEnv(dim=dim)
    assert env.observation_spec.shape == (4 * dim,) and env.action_spec.shape == (dim,)
    assert env.default_episode_length == 50 and env.dt == pytest.approx(0.05)
    state = jax.jit(env.reset)(jax.random.key(0))
    assert state.obs.shape == (4 * dim,) and state.obs.dtype == jnp.float32 and set(state.metrics) == METRICS
    position, velocity, first, second = split_observation(state.obs)
    assert np.all(velocity == 0) and all(np.all((x >= 0) & (x <= 1)) for x in (position, first, second))
    next_state = jax.jit(env.step)(state, jnp.full(dim, 0.5))
    assert next_state.obs.shape == (4 * dim,) and set(next_state.metrics) == METRICS
    assert_branch_free(env.step, state, jnp.full(dim, 0.5))
    assert_branch_free(env.reset, jax.random.key(0))


def test_vmapped_batch_matches_single_envs():
    env = ParticleEnv(dim=4)
    batch = VmapWrapper(env, num_envs=3)
    states = jax.jit(batch.reset)(jax.random.key(1))
    keys = jax.random.split(jax.random.key(1), 3)  # VmapWrapper.reset splits its key into one per env
    actions = jnp.linspace(0.0, 1.0, 12).reshape(3, 4)
    stepped = jax.jit(batch.step)(states, actions)
    assert stepped.obs.shape == (3, 16) and stepped.reward.shape == (3,)
    single = env.step(env.reset(keys[1]), actions[1])
    np.testing.assert_allclose(stepped.obs[1], single.obs, rtol=1e-6)


def test_one_control_step_is_ten_pd_substeps_of_semi_implicit_euler():
    env = ParticleEnv(dim=2)
    state = env.reset(jax.random.key(3))
    setpoint = np.array([0.9, 0.1])
    x, v = np.asarray(state.sim.position, np.float64), np.zeros(2)
    for _ in range(10):
        v = v + 0.005 * (10.0 * (setpoint - x) - 5.0 * v)
        x = x + 0.005 * v
    stepped = env.step(state, jnp.asarray(setpoint, jnp.float32))
    np.testing.assert_allclose(stepped.sim.position, x, atol=1e-6)
    np.testing.assert_allclose(stepped.sim.velocity, v, atol=1e-5)
    clipped = env.step(state, jnp.array([2.0, -1.0]))  # set-points are clipped to the unit square
    np.testing.assert_allclose(clipped.obs, env.step(state, jnp.array([1.0, 0.0])).obs)


def _run(env, actions_of_step, key=0):
    state = env.reset(jax.random.key(key))
    for t in range(env.default_episode_length):
        state = env.step(state, actions_of_step(state, t))
    return state


def test_success_needs_goal_1_then_goal_2_and_staying_at_goal_2():
    env = ParticleEnv(dim=2)
    first = lambda s, t: s.sim.first_goal
    second = lambda s, t: s.sim.second_goal
    both = lambda s, t: jnp.where(t < 25, s.sim.first_goal, s.sim.second_goal)
    back_to_first = lambda s, t: jnp.where((t < 25) | (t >= 42), s.sim.first_goal, s.sim.second_goal)
    results = {name: _run(env, policy) for name, policy in
               {"first": first, "second": second, "both": both, "back": back_to_first}.items()}
    assert float(results["both"].metrics["success"]) == 1.0 and float(results["both"].reward) == 1.0
    assert float(results["first"].metrics["success"]) == 0.0  # never reached goal 2
    assert float(results["second"].metrics["reached_first_goal"]) == 0.0  # skipped goal 1
    assert float(results["back"].metrics["reached_second_goal"]) == 1.0  # visited both, did not stay
    assert float(results["back"].metrics["success"]) == 0.0 and float(results["back"].reward) == 0.0


@pytest.mark.parametrize("bad, error", [(0, ValueError), (33, ValueError), (-2, ValueError), (2.5, TypeError),
                                        (True, TypeError), ("4", TypeError)])
def test_a_bad_dim_is_refused_with_the_valid_range(bad, error):
    with pytest.raises(error, match="dim must be .*1 to 32|from 1 to 32"):
        ParticleEnv(dim=bad)
    with pytest.raises(TypeError, match="valid ones: dim, dt"):
        ParticleEnv(dim=2, no_such_option=1)


@pytest.mark.parametrize("dim", [1, 2, 8, 16])
def test_the_oracle_solves_the_particle_in_every_episode(dim):
    env = ParticleEnv(dim=dim)
    demos = generate_demos(env, particle_oracle(), 200, seed=dim)
    assert demos.success.mean() == 1.0
    assert demos.obs.shape == (200, 50, 4 * dim) and demos.actions.shape == (200, 50, dim) and demos.valid.all()
    # every action is one of the two goals of its observation, goal 1 first
    _, _, first, second = np.split(demos.obs, 4, axis=-1)
    at_first = np.all(demos.actions == first, axis=-1)
    assert np.all(at_first | np.all(demos.actions == second, axis=-1))
    assert np.all(np.diff(at_first.astype(int), axis=1) <= 0)  # never back to goal 1 once it switched


def test_the_oracle_rollout_is_one_jitted_branch_free_call():
    env = ParticleEnv(dim=2)
    run = make_oracle_rollout(env, particle_oracle(), 50)
    keys = jax.random.split(jax.random.key(0), 4)
    assert_branch_free(run, keys)
    obs, actions, valid, success = run(keys)
    assert obs.shape == (4, 50, 8) and success.shape == (4,)
