"""Differentiability: long horizons, finite differences, and through contact."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from physics_models import DOUBLE_PENDULUM, free_body

from simlab.engine import physics


@pytest.fixture(scope="module")
def pendulum():
    return physics.load_mjcf(DOUBLE_PENDULUM.format(timestep=0.01, damping=0.1))


def final_angles(sys, qd0, num_steps):
    state = physics.init(sys, jnp.array([0.4, -0.2]), qd0)
    def body(state, _):
        return physics.step(sys, state, jnp.zeros(0)), None
    return jax.lax.scan(body, state, None, length=num_steps)[0].q


@pytest.mark.slow
def test_gradient_through_150_steps_is_finite(pendulum):
    def loss(qd0, mass_scale):
        sys = pendulum.replace(body_mass=pendulum.body_mass * mass_scale)
        return jnp.sum(final_angles(sys, qd0, 150) ** 2)
    grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(jnp.array([0.1, 0.0]), 1.0)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    assert float(jnp.abs(grads[0]).sum()) > 0 and float(jnp.abs(grads[1])) > 0


def test_gradient_matches_central_differences_without_contact(pendulum):
    def loss(params):
        qd0, damping = params[:2], params[2]
        sys = pendulum.replace(dof_damping=jnp.full(2, damping))
        angles = final_angles(sys, qd0, 40)
        return angles[0] + 0.5 * angles[1]
    params = jnp.array([0.3, -0.2, 0.1])
    grad = np.asarray(jax.jit(jax.grad(loss))(params))
    loss_jit = jax.jit(loss)
    eps = 1e-2
    fd = np.array([(float(loss_jit(params.at[i].add(eps))) - float(loss_jit(params.at[i].add(-eps)))) / (2 * eps)
                   for i in range(3)])
    np.testing.assert_allclose(grad, fd, rtol=0.03, atol=1e-3)


@pytest.mark.slow
def test_gradient_through_sliding_contact_is_finite_and_nonzero():
    sys = physics.load_mjcf(free_body('<geom type="sphere" size="0.1" mass="1"/>', z=0.3, timestep=0.01,
                                      plane=True, friction=0.5))

    def final_x(vx):
        state = physics.init(sys, sys.qpos0, jnp.array([vx, 0, 0, 0, 0, 0]))
        def body(state, _):
            return physics.step(sys, state, jnp.zeros(0)), state.contact.active[0]
        final, touching = jax.lax.scan(body, state, None, length=60)
        return final.x_pos[1, 0], touching

    (x, touching), = [jax.jit(final_x)(1.0)]
    assert float(jnp.max(touching)) == 1.0  # the sphere did land and roll/slide
    grad = float(jax.jit(jax.grad(lambda v: final_x(v)[0]))(1.0))
    assert np.isfinite(grad) and abs(grad) > 1e-3
