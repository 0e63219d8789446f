"""Analytic fidelity checks (issue 3, fidelity items 1-8)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from physics_models import DOUBLE_PENDULUM, LIMITED_ARM, SIMPLE_PENDULUM, free_body

from simlab.engine import physics


@functools.partial(jax.jit, static_argnums=(3,))
def rollout(sys, state, ctrl, num_steps):
    """`num_steps` steps under constant `ctrl`; returns the final state and `q` `[T, nq]`."""
    def body(state, _):
        state = physics.step(sys, state, ctrl)
        return state, (state.q, state.qd)
    return jax.lax.scan(body, state, None, length=num_steps)


@jax.jit
def energy(sys, q, qd):
    """Kinetic + potential energy [J] (gravity along -z)."""
    terms = physics.dynamics_terms(sys, q, qd)
    mass = terms["mass_matrix"] + jnp.diag(sys.dof_armature)
    potential = -jnp.sum(sys.body_mass * (terms["com"] @ sys.gravity))
    return 0.5 * qd @ mass @ qd + potential


@pytest.mark.slow
def test_free_fall_one_second_within_1mm():
    sys = physics.load_mjcf(free_body('<geom type="sphere" size="0.1" mass="1"/>', z=10.0, timestep=1e-4),
                            substeps=100)
    state = physics.init(sys, sys.qpos0, jnp.zeros(6))
    final, _ = rollout(sys, state, jnp.zeros(0), 100)  # 100 steps x 100 substeps x 1e-4 s = 1 s
    expected = 10.0 - 0.5 * 9.81 * 1.0 ** 2
    assert abs(float(final.x_pos[1, 2]) - expected) < 1e-3
    assert abs(float(final.qd[2]) + 9.81) < 1e-3
    np.testing.assert_allclose(np.asarray(final.x_pos[1, :2]), 0.0, atol=1e-6)


def test_free_fall_short_matches_discrete_solution():
    """Default-suite companion of the 1 s test: 0.1 s, checked against the closed form of
    semi-implicit Euler, z_n = z_0 - g h^2 n (n + 1) / 2."""
    sys = physics.load_mjcf(free_body('<geom type="sphere" size="0.1" mass="1"/>', z=10.0, timestep=1e-3),
                            substeps=10)
    state = physics.init(sys, sys.qpos0, jnp.zeros(6))
    final, _ = rollout(sys, state, jnp.zeros(0), 10)  # 100 substeps
    n, h = 100, 1e-3
    assert abs(float(final.x_pos[1, 2]) - (10.0 - 9.81 * h * h * n * (n + 1) / 2)) < 1e-4


def test_small_angle_pendulum_period_within_1_percent():
    sys = physics.load_mjcf(SIMPLE_PENDULUM, substeps=10)
    state = physics.init(sys, jnp.array([0.05]), jnp.zeros(1))
    _, (qs, _) = rollout(sys, state, jnp.zeros(0), 600)  # 6 s at 0.01 s per step
    angle = np.asarray(qs[:, 0])
    t = (np.arange(len(angle)) + 1) * 0.01
    down = np.nonzero((angle[:-1] > 0) & (angle[1:] <= 0))[0]
    crossings = t[down] + 0.01 * angle[down] / (angle[down] - angle[down + 1])
    period = np.mean(np.diff(crossings))
    m = mujoco.MjModel.from_xml_string(SIMPLE_PENDULUM)
    pivot_inertia = m.body_inertia[1, 1] + m.body_mass[1] * 1.0 ** 2
    theory = 2 * np.pi * np.sqrt(pivot_inertia / (m.body_mass[1] * 9.81 * 1.0))
    assert len(crossings) >= 2
    assert abs(period - theory) / theory < 0.01


@pytest.mark.slow
def test_double_pendulum_energy_drift_below_1_percent_over_10s():
    sys = physics.load_mjcf(DOUBLE_PENDULUM.format(timestep=0.001, damping=0), substeps=20)
    q0, qd0 = jnp.array([0.5, -0.3]), jnp.array([0.0, 0.0])
    state = physics.init(sys, q0, qd0)
    _, (qs, qds) = rollout(sys, state, jnp.zeros(0), 500)  # 10 s
    energies = jax.jit(jax.vmap(lambda q, qd: energy(sys, q, qd)))(qs, qds)
    e0 = energy(sys, q0, qd0)
    # Energy measured from the hanging rest state, so the arbitrary zero of potential energy does not matter.
    scale = float(e0 - energy(sys, jnp.zeros(2), jnp.zeros(2)))
    drift = float(jnp.max(jnp.abs(energies - e0)))
    assert np.isfinite(drift) and scale > 0.5
    assert drift / scale < 0.01


def test_torque_free_spinning_body_conserves_momenta():
    xml = free_body('<geom type="box" size="0.3 0.2 0.1" mass="2"/>', z=0.0, gravity="0 0 0")
    sys = physics.load_mjcf(xml, substeps=10)
    qd0 = jnp.array([0.3, -0.2, 0.1, 0.2, 3.0, 0.5])  # near the unstable intermediate axis
    state = physics.init(sys, sys.qpos0, qd0)

    def momenta(state):
        rot = jax.vmap(lambda q: physics.math.quat_to_mat_array(q))(state.x_quat[1:2])[0]
        inertia_world = rot @ jnp.diag(sys.body_inertia[1]) @ rot.T
        return sys.body_mass[1] * state.x_vel[1], inertia_world @ state.x_ang[1]

    p0, l0 = momenta(state)
    final, _ = rollout(sys, state, jnp.zeros(0), 1000)  # 10 s at 1 ms
    p1, l1 = momenta(final)
    np.testing.assert_allclose(np.asarray(p1), np.asarray(p0), rtol=1e-5, atol=1e-6)
    assert float(jnp.linalg.norm(l1 - l0) / jnp.linalg.norm(l0)) < 0.01


def test_double_pendulum_matches_mujoco_for_half_a_second():
    xml = DOUBLE_PENDULUM.format(timestep=0.002, damping=0.05)
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    d.qpos[:] = [0.9, -0.4]
    d.qvel[:] = [0.5, 0.0]
    sys = physics.load_mjcf(xml, substeps=5)
    state = physics.init(sys, d.qpos.copy(), d.qvel.copy())
    _, (qs, _) = rollout(sys, state, jnp.zeros(0), 25)  # 0.5 s
    reference = []
    for _ in range(25):
        for _ in range(5):
            mujoco.mj_step(m, d)
        reference.append(d.qpos.copy())
    assert np.max(np.abs(np.asarray(qs) - np.array(reference))) < 0.01


@pytest.mark.parametrize("geom,rest_height", [
    ('<geom type="sphere" size="0.1" mass="1"/>', 0.1),
    ('<geom type="box" size="0.1 0.15 0.05" mass="2"/>', 0.05),
])
def test_resting_on_plane_is_still_and_barely_penetrates(geom, rest_height):
    sys = physics.load_mjcf(free_body(geom, z=rest_height + 0.02, timestep=0.01, plane=True), substeps=10)
    state = physics.init(sys, sys.qpos0, jnp.zeros(6))
    settled, _ = rollout(sys, state, jnp.zeros(0), 20)  # 2 s to land and settle
    final = settled
    for _ in range(5):  # then 10 s more, reusing the compiled 20-step scan
        final, _ = rollout(sys, final, jnp.zeros(0), 20)
    penetration = rest_height - float(final.x_pos[1, 2])
    assert penetration < 5e-3
    assert float(jnp.linalg.norm(final.qd)) < 1e-3
    drift = float(jnp.linalg.norm(final.x_pos[1] - settled.x_pos[1]))
    assert drift < 1e-3


def test_box_sliding_stops_at_v0_squared_over_2_mu_g():
    mu, v0 = 0.5, 2.0
    xml = free_body('<geom type="box" size="0.1 0.1 0.05" mass="1"/>', z=0.05, timestep=0.002,
                    plane=True, friction=mu).replace('<geom type="box"', f'<geom friction="{mu} 0.005 0.0001" type="box"')
    sys = physics.load_mjcf(xml, substeps=5)
    state = physics.init(sys, sys.qpos0, jnp.array([v0, 0, 0, 0, 0, 0]))
    final, _ = rollout(sys, state, jnp.zeros(0), 150)  # 1.5 s, stops after ~0.41 s
    distance = float(final.x_pos[1, 0])
    expected = v0 ** 2 / (2 * mu * 9.81)
    assert abs(distance - expected) / expected < 0.10
    assert float(jnp.abs(final.qd[0])) < 1e-2


@pytest.mark.parametrize("ctrl", [1.0, -1.0])
def test_hinge_limit_holds_under_maximum_actuation(ctrl):
    sys = physics.load_mjcf(LIMITED_ARM, substeps=4)
    state = physics.init(sys, jnp.zeros(1), jnp.zeros(1))
    _, (qs, _) = rollout(sys, state, jnp.array([ctrl]), 100)  # 2 s at full torque
    limit = np.deg2rad(45.0)
    assert np.max(np.abs(np.asarray(qs))) < limit + 0.05
    assert abs(float(qs[-1, 0])) > limit - 0.05  # it really is pushed against the limit
