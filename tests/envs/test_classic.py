"""Classic-control dynamics against gymnasium and analytic physics."""
import dataclasses

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
from simlab.envs.classic.cartpole_swingup import CartPoleParams, CartPoleSwingUp, energy


def test_pendulum_matches_gymnasium_step_for_step():
    ours = envs.make("pendulum")
    step = jax.jit(ours.step)
    ref = gymnasium.make("Pendulum-v1").unwrapped
    ref.reset(seed=0)
    state = ours.reset(jax.random.key(0))
    th0, thd0 = 2.5, -0.7
    ref.state = np.array([th0, thd0])
    state = state.replace(sim=jnp.array([th0, thd0], jnp.float32))
    rng = np.random.default_rng(0)
    for _ in range(100):
        u = rng.uniform(-3.0, 3.0, size=(1,)).astype(np.float32)  # includes out-of-range torques
        ref_obs, ref_reward, *_ = ref.step(u)
        state = step(state, jnp.asarray(u))
        np.testing.assert_allclose(np.asarray(state.obs), ref_obs, atol=2e-4)
        np.testing.assert_allclose(float(state.reward), ref_reward, atol=2e-4, rtol=1e-4)
    assert int(state.info["steps"]) == 100


def test_pendulum_truncates_at_200_and_never_terminates():
    env = envs.make("pendulum")
    step = jax.jit(env.step)
    state = env.reset(jax.random.key(1))
    for t in range(200):
        state = step(state, jnp.zeros(1))
        assert not bool(state.terminated)
        assert bool(state.truncated) == (t == 199)


def _simulate(env, sim0, num_steps, action=0.0):
    """Returns the `[num_steps, 4]` trajectory of `sim` under a constant action (one scan)."""
    state = env.reset(jax.random.key(0)).replace(sim=jnp.asarray(sim0, jnp.float32))
    act = jnp.array([action], jnp.float32)

    def body(s, _):
        s = env.step(s, act)
        return s, s.sim

    return np.asarray(jax.jit(lambda s: jax.lax.scan(body, s, None, num_steps)[1])(state))


def test_cartpole_conserves_energy_without_friction():
    # Frictionless and unforced: the Lagrangian energy is conserved; explicit Euler drifts
    # O(dt), so use a small dt and check the drift is small and shrinks with dt.
    drifts = []
    for dt in (1e-3, 5e-4):
        env = CartPoleSwingUp(friction=0.0, dt=dt, x_limit=1e6)
        p = env.params
        sims = _simulate(env, [0.0, 0.3, 2.0, 0.5], int(1.0 / dt))
        e = np.asarray(jax.vmap(lambda s: energy(p, s))(jnp.asarray(sims)))
        e0 = float(energy(p, jnp.array([0.0, 0.3, 2.0, 0.5])))
        scale = p.pole_mass * p.gravity * p.pole_length  # J; energy swings between PE and KE
        drifts.append(np.max(np.abs(e - e0)) / scale)
    assert drifts[0] < 0.02
    assert drifts[1] < 0.6 * drifts[0]  # first-order integrator: drift shrinks with dt


def test_cartpole_small_oscillation_period_with_a_heavy_cart():
    # A very heavy cart stays put: the pole is a physical pendulum hinged at its end,
    # period T = 2 pi sqrt(2 L / (3 g)) for small swings about the hanging position.
    env = CartPoleSwingUp(cart_mass=1e6, friction=0.0, dt=1e-4, x_limit=1e6)
    p = env.params
    sims = _simulate(env, [0.0, 0.0, np.pi + 0.02, 0.0], 20000)
    swing = sims[:, 2] - np.pi
    crossings = np.flatnonzero((swing[:-1] > 0) & (swing[1:] <= 0))  # downward zero crossings
    period = np.mean(np.diff(crossings)) * p.dt
    expected = 2 * np.pi * np.sqrt(2 * p.pole_length / (3 * p.gravity))
    assert abs(period - expected) / expected < 0.01


def test_cartpole_reward_terminal_and_observation():
    env = envs.make("cartpole_swingup")
    state = env.reset(jax.random.key(0)).replace(sim=jnp.array([2.39, 5.0, 0.0, 0.0], jnp.float32))
    state = env.step(state, jnp.array([1.0]))
    assert bool(state.terminated) and not bool(state.truncated)
    x, theta = float(state.sim[0]), float(state.sim[2])
    np.testing.assert_allclose(float(state.reward), (np.cos(theta) + 1) / 2 * np.cos(x / 2.4 * np.pi / 2), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(state.obs)[2:4], [np.cos(theta), np.sin(theta)], atol=1e-6)
    upright = env.reset(jax.random.key(0)).replace(sim=jnp.zeros(4, jnp.float32))
    assert float(env.step(upright, jnp.zeros(1)).reward) == pytest.approx(1.0, abs=1e-6)


def test_cartpole_reset_ranges_follow_the_paper():
    env = envs.make("cartpole_swingup")
    states = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 4000))
    sim = np.asarray(states.sim)
    p = CartPoleParams()
    half = np.array([p.reset_x, p.reset_x_dot, p.reset_theta, p.reset_theta_dot])
    centre = np.array([0, 0, np.pi, 0])
    assert np.all(np.abs(sim - centre) <= half + 1e-5)
    assert np.all(np.abs(sim - centre).max(axis=0) > 0.95 * half)  # the full range is used


def test_unknown_parameter_lists_valid_ones():
    with pytest.raises(TypeError, match="valid ones: gravity"):
        envs.make("cartpole_swingup", gravty=9.8)


def test_render_frames_show_the_system():
    env = envs.make("cartpole_swingup")
    state = env.reset(jax.random.key(0)).replace(sim=jnp.array([0.5, 0.0, 0.3, 0.0], jnp.float32))
    frame = env.render_rgb(jax.device_get(state), 320, 240)
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    cart_blue = np.all(frame == (40, 90, 200), axis=-1)
    cols = np.flatnonzero(cart_blue.any(axis=0))
    # the cart (0.5 m wide) is drawn centred at x = 0.5 m on a 6 m wide view
    assert abs((cols.min() + cols.max()) / 2 - (0.5 + 3.0) / 6.0 * 320) < 3
    pendulum = envs.make("pendulum").render_rgb(jax.device_get(envs.make("pendulum").reset(jax.random.key(0))))
    assert (np.all(pendulum == (200, 60, 60), axis=-1)).sum() > 100
