"""The Ant sensory-neuron task: 27 shuffled observations, re-shuffled every 200 steps, shipped parameters."""
from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.agents.evaluation import episode_length_of
from simlab.agents.sensory import cli
from simlab.agents.sensory.tasks import CONDITIONS, condition_env, load_params, params_path, task_of
from simlab.engine.env import Env, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.wrappers import ShuffleObservation


@pytest.fixture(scope="module")
def task():
    return task_of("ant")


def test_ant_task_builds(task):
    env = task.base_env()
    assert env.observation_size == 27  # qpos[2:] and qvel, no contact forces
    assert env.action_spec.shape == (8,)
    assert episode_length_of(env) == 1000
    assert task.shuffle_every == 200
    sensory, mlp = task.sensory_policy(), task.mlp_policy()
    key = jax.random.key(0)
    def count(policy):  # shapes only: an eager init is slow
        shapes = jax.eval_shape(lambda k: policy.init(k, 27), key)
        return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(shapes))

    n_sensory, n_mlp = count(sensory), count(mlp)
    assert n_sensory == 2472 and abs(n_mlp - n_sensory) < 0.15 * n_sensory


def test_conditions_have_the_right_inputs(task):
    sizes = {c: condition_env(task, c).observation_size for c in CONDITIONS}
    assert sizes == {"unshuffled": 27, "shuffled": 27, "reshuffle_25": 27, "noise": 27 + task.noise_channels}
    assert condition_env(task, "shuffled").reshuffle_every == 200
    assert condition_env(task, "reshuffle_25").reshuffle_every == 25


class Ramp(Env):
    """A stand-in for the Ant physics with the same 27-number observation: obs = step count + index / 100."""

    default_episode_length = 1000

    def reset(self, key):
        return initial_state(jnp.zeros((), jnp.float32), jnp.arange(27, dtype=jnp.float32) / 100)

    def step(self, state, action):
        sim = state.sim + 1.0
        return state.replace(sim=sim, obs=sim + jnp.arange(27, dtype=jnp.float32) / 100)

    @property
    def observation_spec(self):
        return BoxSpec(shape=(27,), dtype=np.float32, low=np.full(27, -np.inf, np.float32),
                       high=np.full(27, np.inf, np.float32))

    @property
    def action_spec(self):
        return BoxSpec(shape=(8,), dtype=np.float32, low=-np.ones(8, np.float32), high=np.ones(8, np.float32))


def test_sensory_policy_reads_the_shuffled_observation(task):
    env = ShuffleObservation(Ramp(), reshuffle_every=task.shuffle_every)
    state = env.reset(jax.random.key(1))
    policy = task.sensory_policy()
    # Random parameters of the right shapes (cheaper than an eager or jitted haiku init).
    shapes = jax.eval_shape(lambda k: policy.init(k, 27), jax.random.key(2))
    leaves, treedef = jax.tree_util.tree_flatten(shapes)
    keys = jax.random.split(jax.random.key(2), len(leaves))
    params = jax.tree_util.tree_unflatten(treedef, [0.3 * jax.random.normal(k, leaf.shape)
                                                    for k, leaf in zip(keys, leaves)])
    carry, action = jax.jit(policy.step)(params, policy.initial_carry(27), state.obs)
    assert state.obs.shape == (27,) and action.shape == (8,)
    assert np.all(np.isfinite(np.asarray(action))) and np.all(np.abs(np.asarray(action)) <= 1.0)


def test_reshuffle_happens_exactly_at_step_200(task):
    ant_env = condition_env(task, "shuffled")
    assert isinstance(ant_env, ShuffleObservation) and ant_env.reshuffle_every == 200 and ant_env.size == 27
    # The same wrapper around a cheap stand-in (the physics does not decide when the permutation changes).
    env = ShuffleObservation(Ramp(), reshuffle_every=ant_env.reshuffle_every)

    def body(state, _):
        state = env.step(state, jnp.zeros(8))
        return state, (state.info["obs_permutation"], state.info["shuffle_steps"], state.obs)

    first_state = env.reset(jax.random.key(3))
    _, (perms, steps, obs) = jax.jit(lambda s: jax.lax.scan(body, s, None, length=401))(first_state)
    perms, steps = np.asarray(perms), np.asarray(steps)
    first = np.asarray(first_state.info["obs_permutation"])
    assert steps[0] == 1 and steps[199] == 200
    changed = [int(steps[i]) for i in range(len(steps))
               if not np.array_equal(perms[i], perms[i - 1] if i else first)]
    assert changed == [200, 400]
    # The observation is the inner one in the current order.
    np.testing.assert_allclose(np.asarray(obs)[199], 200 + perms[199] / 100, rtol=1e-6)


def test_shipped_params_load_and_act(task):
    # An Ant-sized observation (an eager Ant reset is slow), shuffled.
    obs = jax.random.permutation(jax.random.key(5), jax.random.normal(jax.random.key(4), (27,)))
    for agent, policy in (("sensory", task.sensory_policy()), ("mlp", task.mlp_policy())):
        params, meta = load_params(params_path("ant", agent))
        assert meta["command"].startswith("simlab sensory train ant")
        carry, step = policy.initial_carry(27), jax.jit(policy.step)
        for _ in range(3):
            carry, action = step(params, carry, obs)
        assert action.shape == (8,) and np.all(np.isfinite(np.asarray(action)))


def test_teacher_with_other_env_options_is_refused(tmp_path):
    config = {"agent": "ppo", "env": "ant", "env_kwargs": {}, "config": {}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match="include_cfrc_ext_in_observation"):
        cli.main(["train", "ant", "--teacher", str(tmp_path), "--bc-iterations", "1"])


def test_simlab_train_passes_env_options():
    import argparse

    from simlab.agents.cli_train import _env_kwargs, add_train_parser

    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers())
    args = parser.parse_args(["train", "ant", "--env-set", "include_cfrc_ext_in_observation=false",
                              "--env-set", "xml=ant.xml"])
    assert _env_kwargs(args) == {"include_cfrc_ext_in_observation": False, "xml": "ant.xml"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        _env_kwargs(parser.parse_args(["train", "ant", "--env-set", "novalue"]))
