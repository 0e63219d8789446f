"""The single-environment gymnasium adapter."""
import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from simlab import envs
from simlab.envs.boundary import NonFiniteStateError


# Locomotion envs pass check_env in tests/envs/locomotion/test_locomotion.py. Each physics env's adapter
# is a 15-60 s compile on CI's 2 cores, so fetch's and ur5e's run under `-m slow`.
LOCOMOTION = {"ant", "halfcheetah", "humanoid", "hopper", "walker2d", "reacher"}
CHECKED = [pytest.param(n, marks=pytest.mark.slow) if n in ("fetch", "ur5e") else n
           for n in envs.names() if envs.entry(n).gym and n not in LOCOMOTION]


@pytest.mark.parametrize("name", CHECKED)
def test_check_env_passes(name):
    renders = envs.make(name).supports_rendering
    env = gymnasium.make(envs.entry(name).gym_id, render_mode="rgb_array" if renders else None)
    check_env(env.unwrapped, skip_render_check=not renders)
    obs, info = env.reset(seed=3)
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    if not renders:
        return
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0


def test_seeding_is_reproducible():
    a = gymnasium.make("simlab/CartPoleSwingUp-v0")
    b = gymnasium.make("simlab/CartPoleSwingUp-v0")
    np.testing.assert_array_equal(a.reset(seed=7)[0], b.reset(seed=7)[0])
    actions = [np.array([0.3], np.float32), np.array([-1.0], np.float32)]
    for act in actions:
        np.testing.assert_array_equal(a.step(act)[0], b.step(act)[0])
    assert not np.array_equal(a.reset(seed=8)[0], b.reset(seed=7)[0])


def test_time_limit_truncates():
    env = gymnasium.make("simlab/Pendulum-v0", episode_length=5)
    env.reset(seed=0)
    flags = [env.step(np.zeros(1, np.float32))[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]


@pytest.fixture(scope="module")
def cartpole():
    env = gymnasium.make("simlab/CartPoleSwingUp-v0", disable_env_checker=True)
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("action, error, message", [
    (np.zeros((2,), np.float32), ValueError, r"shape \(1,\), got \(2,\)"),
    (np.zeros((1, 1), np.float32), ValueError, r"reshape it with np.reshape"),
    (np.array(["a"]), TypeError, "real numbers"),
    (np.array([True]), TypeError, "real numbers"),
    (np.array([np.nan], np.float32), ValueError, "NaN or infinity"),
    (np.array([np.inf]), ValueError, "NaN or infinity"),
    ([[0.1], [0.2, 0.3]], ValueError, "must be an array of shape"),
])
def test_bad_actions_raise(cartpole, action, error, message):
    with pytest.raises(error, match=message):
        cartpole.unwrapped.step(action)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                         (True, TypeError), ("3", TypeError)])
def test_bad_seeds_raise(cartpole, seed, error):
    with pytest.raises(error, match="seed"):
        cartpole.unwrapped.reset(seed=seed)


def test_other_boundary_errors():
    from simlab.envs.gym_env import SimlabGymEnv
    with pytest.raises(ValueError, match="render_mode"):
        SimlabGymEnv("pendulum", render_mode="human")
    env = gymnasium.make("simlab/Pendulum-v0", disable_env_checker=True).unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="no options"):
        env.reset(options={"reset_mask": np.ones(1, bool)})
    with pytest.raises(envs.UnknownEnvironmentError):
        gymnasium.make("simlab/CartPoleSwingUp-v0", env_name="cartpol").unwrapped


def test_non_finite_state_is_reported_with_the_fix():
    # A broken parameter (zero pole length: division by zero) makes the dynamics NaN.
    env = gymnasium.make("simlab/CartPoleSwingUp-v0", pole_length=0.0, disable_env_checker=True).unwrapped
    env.reset(seed=0)
    with pytest.raises(NonFiniteStateError, match="debug=True"):
        env.step(np.zeros(1, np.float32))


def test_debug_mode_names_the_failing_operation():
    import jax
    env = gymnasium.make("simlab/CartPoleSwingUp-v0", pole_length=0.0, debug=True,
                         disable_env_checker=True).unwrapped
    env.reset(seed=0)
    from simlab.engine.debug import NonFiniteError
    with pytest.raises(NonFiniteError, match=r"division by zero at .*cartpole_swingup.py:\d+ \(accelerations\)"):
        env.step(np.zeros(1, np.float32))
