"""Headless MuJoCo rendering of our physics states (EGL or OSMesa on CPU)."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from simlab import envs
from simlab.envs import mjrender


def _pixels_near(frame, rgb, tol=60):
    return int(np.sum(np.all(np.abs(frame.astype(int) - np.array(rgb)) < tol, axis=-1)))


def test_grasp_frame_shows_floor_claw_ball_and_target(backend):
    env = envs.make("grasp")
    state = jax.device_get(jax.jit(env.reset)(jax.random.key(0)))
    frame = env.render_rgb(state, 240, 180)
    assert frame.shape == (180, 240, 3) and frame.dtype == np.uint8
    assert frame.std() > 20  # not a uniform image
    assert _pixels_near(frame, (200, 200, 205)) > 0.1 * frame.shape[0] * frame.shape[1]  # the grey checker floor
    assert _pixels_near(frame, (230, 40, 40), tol=50) >= 20  # the red target marker
    assert _pixels_near(frame, (60, 180, 75), tol=50) >= 10  # the green ball
    assert _pixels_near(frame, (240, 140, 25), tol=50) >= 10  # the orange fingers


def test_frame_follows_the_state(backend):
    env = envs.make("fetch")
    reset = jax.jit(env.reset)
    a = env.render_rgb(jax.device_get(reset(jax.random.key(0))), 96, 64)
    b = env.render_rgb(jax.device_get(reset(jax.random.key(1))), 96, 64)
    assert not np.array_equal(a, b)  # different yaw and target, different picture


def test_bad_inputs_raise(backend):
    env = envs.make("ur5e")
    with pytest.raises(ValueError, match=r"q must have shape \(6,\)"):
        mjrender.render_physics(env.unwrapped.mjcf_path, np.zeros(7), 64, 64)
    with pytest.raises(ValueError, match="non-finite"):
        mjrender.render_physics(env.unwrapped.mjcf_path, np.full(6, np.nan), 64, 64)
    with pytest.raises(ValueError, match="16..4096"):
        mjrender.render_physics(env.unwrapped.mjcf_path, np.zeros(6), 8, 8)
