"""`envs.make(name, wrappers=[...])`: order of application, the shortcut keywords, boundary errors."""
import functools

import jax
import numpy as np
import pytest

from simlab import envs
from simlab.engine.wrappers import (ActionRatePenalty, AutoReset, DomainRandomization, EpisodeStatistics, NoiseChannels,
                                    ShuffleObservation, TimeLimit, VmapWrapper, Wrapper)


def _chain(env) -> list[str]:
    """Class names from the outside in."""
    names = []
    while env is not None:
        names.append(type(env).__name__)
        env = getattr(env, "env", None)
    return names


def test_wrappers_apply_in_order_inside_the_time_limit_auto_reset_and_vmap():
    calls = []

    def tag(label):
        def apply(env):
            calls.append((label, type(env).__name__))
            return Wrapper(env)
        return apply

    env = envs.make("pendulum", num_envs=2, wrappers=[tag("first"), tag("second")])
    assert calls == [("first", "Pendulum"), ("second", "Wrapper")]
    assert _chain(env) == ["VmapWrapper", "EpisodeStatistics", "AutoReset", "TimeLimit", "Wrapper", "Wrapper",
                           "Pendulum"]
    noise = functools.partial(NoiseChannels, num_channels=2)
    assert _chain(envs.make("pendulum", episode_length=None, wrappers=(noise,))) == ["NoiseChannels", "Pendulum"]
    # the order is visible in the shapes: noise then shuffle permutes n + k channels, shuffle then noise only n
    shuffled_noise = envs.make("pendulum", wrappers=[noise, ShuffleObservation])
    noisy_shuffle = envs.make("pendulum", wrappers=[ShuffleObservation, noise])
    assert jax.eval_shape(shuffled_noise.reset, jax.random.key(0)).info["obs_permutation"].shape == (5,)
    assert jax.eval_shape(noisy_shuffle.reset, jax.random.key(0)).info["obs_permutation"].shape == (3,)
    assert isinstance(shuffled_noise, TimeLimit) and shuffled_noise.observation_spec.shape == (5,)


def _rollout(env, key, steps=12):
    actions = jax.random.uniform(jax.random.key(1), (steps, env.num_envs, env.action_size), minval=-1.0, maxval=1.0)

    def body(state, action):
        state = env.step(state, action)
        return state, (state.obs, state.reward, state.info["episode_return"])

    return jax.jit(lambda k: jax.lax.scan(body, env.reset(k), actions)[1])(key)


def test_action_rate_penalty_shortcut_equals_the_wrapper_list():
    key = jax.random.key(3)
    shortcut = envs.make("pendulum", num_envs=3, episode_length=5, action_rate_penalty=0.7)
    listed = envs.make("pendulum", num_envs=3, episode_length=5,
                       wrappers=[functools.partial(ActionRatePenalty, weight=0.7)])
    assert repr(shortcut) == repr(listed)
    for a, b in zip(_rollout(shortcut, key), _rollout(listed, key)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the shortcut appends after the listed wrappers
    both = envs.make("pendulum", episode_length=None, wrappers=[ShuffleObservation], action_rate_penalty=0.7)
    assert _chain(both) == ["ActionRatePenalty", "ShuffleObservation", "Pendulum"]


def _scale_gains(sys, key):
    return {"act_gain": sys.act_gain * jax.random.uniform(key, sys.act_gain.shape, minval=0.8, maxval=1.2)}


def test_randomize_shortcut_equals_the_wrapper_list():
    shortcut = envs.make("reacher", num_envs=2, randomize=_scale_gains, action_rate_penalty=0.5)
    listed = envs.make("reacher", num_envs=2, wrappers=[functools.partial(DomainRandomization, randomize=_scale_gains),
                                                        functools.partial(ActionRatePenalty, weight=0.5)])
    assert repr(shortcut) == repr(listed)
    assert _chain(shortcut)[-3:] == ["ActionRatePenalty", "DomainRandomization", "Reacher"]
    a, b = (jax.jit(e.reset)(jax.random.key(5)) for e in (shortcut, listed))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # DomainRandomization needs the physics env itself: after another wrapper, the error says to list it first
    with pytest.raises(TypeError, match="first in wrappers"):
        envs.make("reacher", wrappers=[ShuffleObservation], randomize=_scale_gains)


def test_bad_wrappers_are_refused_with_the_item_and_the_fix():
    with pytest.raises(TypeError, match=r"takes a list of callables.*wrappers=\[ActionRatePenalty\]"):
        envs.make("pendulum", wrappers=ActionRatePenalty)
    with pytest.raises(TypeError, match="takes a list"):
        envs.make("pendulum", wrappers="ShuffleObservation")
    with pytest.raises(TypeError, match=r"list\(\.\.\.\)"):
        envs.make("pendulum", wrappers=(w for w in [ShuffleObservation]))
    with pytest.raises(TypeError, match=r"wrappers\[1\] is int 3, not a callable.*functools.partial"):
        envs.make("pendulum", wrappers=[ShuffleObservation, 3])
    built = ShuffleObservation(envs.make("pendulum", episode_length=None))
    with pytest.raises(TypeError, match=r"wrappers\[0\].*already-built wrapper"):
        envs.make("pendulum", wrappers=[built])
    with pytest.raises(TypeError, match=r"wrappers\[0\] = .*<lambda> returned NoneType, not an engine.Env"):
        envs.make("pendulum", wrappers=[lambda env: None])
    with pytest.raises(TypeError, match=r"wrappers\[0\] = ActionRatePenalty.*functools.partial"):
        envs.make("pendulum", wrappers=[ActionRatePenalty])  # its weight is not bound: the error says how
    with pytest.raises(ValueError, match="action_rate_penalty weight"):  # wrappers' own checks are unchanged
        envs.make("pendulum", wrappers=[functools.partial(ActionRatePenalty, weight=-1.0)])


def test_default_stack_is_unchanged():
    plain, empty = envs.make("pendulum", num_envs=2), envs.make("pendulum", num_envs=2, wrappers=[])
    assert repr(plain) == repr(empty)
    assert isinstance(plain, VmapWrapper) and isinstance(plain.env, EpisodeStatistics)
    assert isinstance(plain.env.env, AutoReset) and isinstance(plain.env.env.env, TimeLimit)
    assert plain.env.env.env.env is not None and _chain(plain)[-1] == "Pendulum"
