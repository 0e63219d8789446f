"""Locomotion tasks: shapes, determinism, 64 x 250 random steps, auto-reset, gymnasium adapter,
and every reward term / observation against gymnasium's v5 code evaluated on the same state."""
from __future__ import annotations

import types

import gymnasium
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from gymnasium.envs.mujoco.humanoid_v5 import mass_center
from gymnasium.utils.env_checker import check_env

from simlab import envs
from simlab.engine import physics
from simlab.envs.locomotion.base import asset_path
from simlab.envs.locomotion.com_frame import BodyFrames

NAMES = ["ant", "halfcheetah", "humanoid", "hopper", "walker2d", "reacher"]
# Each compiled program (a 64-env rollout, the unbatched step, a gymnasium adapter) costs 15-60 s per model on
# CI's 2 cores. The default suite compiles the rollout and the adapter for ant (free body, contacts) and hopper
# (termination), and the unbatched step of every model but humanoid for the reward terms; the rest runs under
# `-m slow` (and every model steps 10M times under random actions in bench/soak.py).
_DEFAULT = ("ant", "hopper")
_slow = lambda names: [n if n in names else pytest.param(n, marks=pytest.mark.slow) for n in NAMES]  # noqa: E731
ROLLOUT_NAMES = CHECK_ENV_NAMES = _slow(_DEFAULT)
REWARD_NAMES = _slow([n for n in NAMES if n != "humanoid"])
NUM_ENVS, NUM_STEPS = 64, 250
# The rollout cuts episodes at EPISODE steps (reacher: its own 50) so that 250 steps see truncations.
EPISODE = 100
# name -> (gymnasium id, kwargs, observation size, action size, gym id)
SPEC = {
    "ant": ("Ant-v5", {}, 105, 8, "simlab/Ant-v0"),
    "halfcheetah": ("HalfCheetah-v5", {}, 17, 6, "simlab/HalfCheetah-v0"),
    "humanoid": ("Humanoid-v5", {"xml_file": asset_path("brax", "humanoid.xml")}, 348, 17, "simlab/Humanoid-v0"),
    "hopper": ("Hopper-v5", {}, 11, 3, "simlab/Hopper-v0"),
    "walker2d": ("Walker2d-v5", {}, 17, 6, "simlab/Walker2d-v0"),
    "reacher": ("Reacher-v5", {}, 10, 2, "simlab/Reacher-v0"),
}


def _random_rollout(name):
    """jit(reset + scan of 250 random-action steps) over 64 auto-resetting envs; per-step summaries."""
    env = envs.make(name, num_envs=NUM_ENVS, episode_length=50 if name == "reacher" else EPISODE)
    spec = env.action_spec

    def run(key):
        reset_key, action_key = jax.random.split(key)

        def body(state, k):
            action = jax.random.uniform(k, (NUM_ENVS, *spec.shape), minval=spec.low, maxval=spec.high)
            state = env.step(state, action)
            out = dict(finite=jnp.all(jnp.isfinite(state.obs), axis=1), done=state.done,
                       terminated=state.terminated, truncated=state.truncated, steps=state.info["steps"],
                       q=state.sim.q, reward=state.reward, obs0=state.obs[:, 0])
            return state, out

        first = env.reset(reset_key)
        _, trace = jax.lax.scan(body, first, jax.random.split(action_key, NUM_STEPS))
        return first.obs, trace

    return env, jax.jit(run)


@pytest.fixture(scope="module", params=ROLLOUT_NAMES)
def rollout(request):
    env, run = _random_rollout(request.param)
    first_obs, trace = jax.device_get(run(jax.random.key(0)))
    return request.param, env, first_obs, trace


@pytest.fixture(scope="module")
def single():
    """name -> (unbatched time-limited env, jitted reset, jitted step); built on first use."""
    cache = {}

    def get(name):
        if name not in cache:
            env = envs.make(name)
            cache[name] = (env, jax.jit(env.reset), jax.jit(env.step))
        return cache[name]

    return get


def test_shapes_and_no_nan_in_64x250_random_steps(rollout):
    name, env, first_obs, trace = rollout
    _, _, obs_size, act_size, _ = SPEC[name]
    assert env.observation_spec.shape == (obs_size,) and env.action_spec.shape == (act_size,)
    assert first_obs.shape == (NUM_ENVS, obs_size) and first_obs.dtype == np.float32
    assert trace["q"].shape == (NUM_STEPS, NUM_ENVS, env.unwrapped.sys.nq)
    assert trace["finite"].all(), f"{name}: non-finite observations in {np.argwhere(~trace['finite'])[:5]}"
    assert np.isfinite(trace["reward"]).all()


def test_auto_reset_restarts_episodes_near_the_initial_pose(rollout):
    name, env, _, trace = rollout
    done, steps, q = trace["done"], trace["steps"], trace["q"]
    assert done.any(), f"{name}: no episode ended in {NUM_STEPS} steps"
    assert not (trace["terminated"] & trace["truncated"]).any()
    assert (steps[done] == 0).all(), "a finished episode must continue from a fresh reset (step counter 0)"
    previous = np.concatenate([np.zeros((1, NUM_ENVS), steps.dtype), steps[:-1]])
    assert (steps[~done] == previous[~done] + 1).all()
    qpos0 = np.asarray(env.unwrapped.sys.qpos0)
    arm = slice(0, 2) if name == "reacher" else slice(None)  # the reacher's target is drawn in a disc
    bound = {"humanoid": 0.011, "hopper": 0.006, "walker2d": 0.006}.get(name, 0.11)
    deviation = np.abs(q[done][:, arm] - qpos0[arm])
    assert deviation.max() <= bound, f"{name}: a reset state lies {deviation.max()} from qpos0 (noise {bound})"
    if name == "reacher":
        assert (np.linalg.norm(q[done][:, 2:], axis=1) < 0.2).all()
    episode = min(EPISODE, env.unwrapped.default_episode_length)
    if name in ("halfcheetah", "reacher"):  # never terminate: every episode is cut by the time limit
        assert not trace["terminated"].any() and trace["truncated"].sum() == NUM_ENVS * (NUM_STEPS // episode)


@pytest.mark.parametrize("name", _slow(_DEFAULT))
def test_same_key_same_trajectory_and_different_key_differs(single, name):
    env, reset, step = single(name)
    spec = env.action_spec

    def trajectory(seed):
        state = reset(jax.random.key(seed))
        actions = jax.random.uniform(jax.random.key(7), (5, *spec.shape), minval=spec.low, maxval=spec.high)
        observations = [state.obs]
        for action in actions:
            state = step(state, action)
            observations.append(state.obs)
        return np.stack(jax.device_get(observations))

    first, again, other = trajectory(1), trajectory(1), trajectory(2)
    np.testing.assert_array_equal(first, again, err_msg=name)
    assert not np.allclose(first, other), name


@pytest.mark.parametrize("name", CHECK_ENV_NAMES)
def test_gymnasium_adapter_passes_check_env(name):
    renders = envs.make(name).supports_rendering
    env = gymnasium.make(SPEC[name][4], render_mode="rgb_array" if renders else None)
    check_env(env.unwrapped, skip_render_check=not renders)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (SPEC[name][2],) and obs.dtype == np.float32
    _, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert type(reward) is float and "reward_ctrl" in info
    if renders:
        frame = env.render()
        assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0


# ------------------------------------------------------------ gymnasium v5 semantics on the same state
def _gym_env(name):
    gym_id, kwargs, *_ = SPEC[name]
    env = gymnasium.make(gym_id, **kwargs).unwrapped
    env.reset(seed=0)
    return env


def _set_gym_state(genv, q, qd, ctrl):
    genv.data.qpos[:] = q
    genv.data.qvel[:] = qd
    genv.data.ctrl[:] = ctrl
    mujoco.mj_forward(genv.model, genv.data)
    mujoco.mj_rnePostConstraint(genv.model, genv.data)


def _gym_position(name, genv):
    """What each v5 task differentiates for its forward velocity."""
    if name == "ant":
        return genv.data.body(genv._main_body).xpos[:2].copy()
    if name == "humanoid":
        return mass_center(genv.model, genv.data)
    return genv.data.qpos[0]


def _unhealthy(name, q):
    """A configuration outside v5's healthy range (None for tasks without one)."""
    q = q.copy()
    index, value = {"ant": (2, 1.5), "humanoid": (2, 2.5), "hopper": (2, 0.5), "walker2d": (1, 2.5)}.get(
        name, (None, None))
    if index is None:
        return None
    q[index] = value
    return q


def _compare_with_gymnasium(name, env, genv, before, action, after):
    """Our step's reward terms, total, termination and observation vs v5's code on the same states."""
    inner = env.unwrapped
    q0, qd0 = np.asarray(before.sim.q, np.float64), np.asarray(before.sim.qd, np.float64)
    q1, qd1 = np.asarray(after.sim.q, np.float64), np.asarray(after.sim.qd, np.float64)
    action = np.asarray(action, np.float64)
    _set_gym_state(genv, q0, qd0, np.zeros_like(action))
    position_before = _gym_position(name, genv)
    _set_gym_state(genv, q1, qd1, action)
    if name in ("ant", "humanoid"):  # v5's contact terms evaluated on *our* contact wrenches
        genv.data.cfrc_ext[:] = np.asarray(BodyFrames(inner.sys).cfrc_ext(inner.sys, after.sim), np.float64)
    if name == "reacher":
        reward, info = genv._get_rew(action)
        terminated = False
    else:
        velocity = (_gym_position(name, genv) - position_before) / genv.dt
        x_velocity = velocity[0] if np.ndim(velocity) else velocity
        reward, info = genv._get_rew(x_velocity, action)
        terminated = hasattr(genv, "is_healthy") and not bool(genv.is_healthy) and genv._terminate_when_unhealthy
        assert after.metrics["x_velocity"] == pytest.approx(x_velocity, abs=2e-4)
    for key, value in info.items():
        assert float(after.metrics[key]) == pytest.approx(value, rel=1e-4, abs=2e-4), f"{name} {key}"
    assert float(after.reward) == pytest.approx(reward, rel=1e-4, abs=5e-4), name
    assert bool(after.terminated) == terminated, name
    np.testing.assert_allclose(np.asarray(after.obs), genv._get_obs(), rtol=1e-4, atol=2e-4, err_msg=name)
    return info


@pytest.mark.parametrize("name", REWARD_NAMES)
def test_reward_terms_and_observation_match_gymnasium_v5(name, single):
    env, reset, step = single(name)
    genv = _gym_env(name)
    assert env.unwrapped.dt == pytest.approx(genv.dt)
    spec = env.action_spec
    keys = jax.random.split(jax.random.key(3), 12)
    state = reset(keys[0])
    for key in keys[1:-1]:  # a few random steps so that contacts and velocities are non-trivial
        state = step(state, jax.random.uniform(key, spec.shape, minval=spec.low, maxval=spec.high))
    action = jax.random.uniform(keys[-1], spec.shape, minval=spec.low, maxval=spec.high)
    info = _compare_with_gymnasium(name, env, genv, state, action, step(state, action))
    assert info["reward_ctrl"] < 0
    if "reward_survive" in info:
        healthy_reward = env.unwrapped.params.healthy_reward
        assert info["reward_survive"] == healthy_reward
        unhealthy_q = _unhealthy(name, np.asarray(state.sim.q))
        init = jax.jit(physics.init)
        sim = init(env.unwrapped.sys, jnp.asarray(unhealthy_q), state.sim.qd)
        before = state.replace(sim=sim)
        after = step(before, action)
        info = _compare_with_gymnasium(name, env, genv, before, action, after)
        assert float(after.metrics["reward_survive"]) == 0.0 and bool(after.terminated)


def test_contact_wrench_matches_mujoco_cfrc_ext():
    """`cfrc_ext` from MuJoCo's own contacts through our definition equals MuJoCo's.

    (`cinert`, `cvel` and `qfrc_actuator` are compared through the whole Humanoid observation above.)
    """
    path = asset_path("gymnasium", "ant.xml")
    model = mujoco.MjModel.from_xml_path(path)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    data.qpos[:] = model.qpos0
    data.qpos[7:] += rng.uniform(-0.2, 0.2, model.nq - 7)  # bend the legs, then let it settle on its feet
    for _ in range(100):
        mujoco.mj_step(model, data)
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)
    assert data.ncon > 0
    pos, force, body1, body2 = [], [], [], []
    for i in range(data.ncon):
        contact, wrench = data.contact[i], np.zeros(6)
        mujoco.mj_contactForce(model, data, i, wrench)
        pos.append(contact.pos.copy())
        force.append(contact.frame.reshape(3, 3).T @ wrench[:3])  # contact frame -> world, on geom2
        body1.append(model.geom_bodyid[contact.geom1])
        body2.append(model.geom_bodyid[contact.geom2])
    sys = physics.load_mjcf(path)
    frames = BodyFrames(sys)
    frames.contact_on_body1 = BodyFrames._scatter(np.array(body1), model.nbody)
    frames.contact_on_body2 = BodyFrames._scatter(np.array(body2), model.nbody)
    bodies = types.SimpleNamespace(x_com=jnp.asarray(data.xipos, jnp.float32))  # MuJoCo's body COMs
    ours = frames.contact_wrench(sys, bodies, jnp.asarray(np.array(pos), jnp.float32),
                                 jnp.asarray(np.array(force), jnp.float32))
    np.testing.assert_allclose(np.asarray(ours), data.cfrc_ext, atol=1e-4 * np.abs(data.cfrc_ext).max())


@pytest.mark.parametrize("name, option, value, error, match", [
    ("ant", "not_an_option", 1, TypeError, "unknown parameter.*valid ones: forward_reward_weight"),
    ("humanoid", "healthy_z_range", (2.0, 1.0), ValueError, "healthy_z_range must satisfy low <= high"),
    ("hopper", "frame_skip", 0, ValueError, "frame_skip"),
    ("reacher", "reset_noise_scale", 0.1, TypeError, "valid ones: reward_dist_weight"),
    ("walker2d", "ctrl_cost_weight", -1.0, ValueError, "ctrl_cost_weight must be a finite number >= 0"),
])
def test_bad_options_raise_clear_errors(name, option, value, error, match):
    with pytest.raises(error, match=match):
        envs.make(name, **{option: value})


def test_options_change_the_observation():
    assert envs.make("ant", exclude_current_positions_from_observation=False,
                     include_cfrc_ext_in_observation=False).observation_spec.shape == (29,)
    assert envs.make("humanoid", include_cinert_in_observation=False,
                     include_cfrc_ext_in_observation=False).observation_spec.shape == (348 - 130 - 78,)
    assert envs.make("hopper", exclude_current_positions_from_observation=False).observation_spec.shape == (12,)
    env = envs.make("halfcheetah")
    assert env.unwrapped.mjcf_path.endswith("half_cheetah.xml") and env.dt == 0.05
