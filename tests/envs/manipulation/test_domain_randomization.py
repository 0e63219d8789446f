"""Domain randomization: 8 parameter sets in one jitted batch, physics-consistent differences, no retracing."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
from simlab.engine import physics
from simlab.engine.env import Env, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.wrappers import DomainRandomization, wrap_for_training

# A box that slides on the floor (free joint) and, far from it, a motor-driven hinge
# rotating about the vertical axis (gravity exerts no torque on it).
PROBE_XML = """
<mujoco>
  <option timestep="0.002"/>  <!-- sliding friction matches v^2/(2 mu g) at 2 ms (engine test) -->
  <worldbody>
    <geom name="floor" type="plane" size="10 10 0.1" friction="0.5"/>
    <body name="box" pos="0 0 0.1">
      <freejoint/>
      <geom name="box" type="box" size="0.1 0.1 0.1" mass="1" friction="0.5"/>
    </body>
    <body name="arm" pos="3 0 1">
      <joint name="hinge" type="hinge" axis="0 0 1" damping="0"/>
      <geom type="capsule" fromto="0 0 0 0.5 0 0" size="0.05" mass="1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator><motor joint="hinge" gear="1"/></actuator>
</mujoco>
"""


class Probe(Env):
    """Box launched at 2 m/s along x; the action is the hinge motor command."""

    default_episode_length = None

    def __init__(self):
        self.sys = physics.load_mjcf(PROBE_XML, substeps=10)
        self.dt = 0.02

    @property
    def observation_spec(self):
        return BoxSpec(shape=(2,))

    @property
    def action_spec(self):
        return BoxSpec(shape=(1,), low=-1.0, high=1.0)

    def reset(self, key):
        q = jnp.array([0, 0, 0.1, 1, 0, 0, 0, 0], jnp.float32)
        qd = jnp.array([2.0, 0, 0, 0, 0, 0, 0], jnp.float32)
        sim = physics.init(self.sys, q, qd)
        return initial_state(sim, self._observe(sim))

    def step(self, state, action):
        sim = physics.step(self.sys, state.sim, action)
        return state.replace(sim=sim, obs=self._observe(sim))

    @staticmethod
    def _observe(sim):
        return jnp.stack([sim.q[0], sim.qd[6]])  # box x (m), hinge velocity (rad/s)


def randomize_friction_and_gain(sys, key):
    friction_key, gain_key = jax.random.split(key)
    friction = jax.random.uniform(friction_key, (), jnp.float32, 0.1, 1.0)
    gain = jax.random.uniform(gain_key, (), jnp.float32, 0.5, 5.0)
    return {"geom_friction": jnp.full_like(sys.geom_friction, friction), "act_gain": sys.act_gain * gain}


@pytest.fixture(scope="module")
def probe_batch():
    env = wrap_for_training(DomainRandomization(Probe(), randomize_friction_and_gain), num_envs=8, auto_reset=None)
    traces = []

    def rollout(state):
        traces.append(1)  # runs only when jax traces (compiles) the function

        def body(state, _):
            state = env.step(state, jnp.ones((8, 1), jnp.float32))
            return state, state.obs

        return jax.lax.scan(body, state, None, length=25)

    return env, jax.jit(env.reset), jax.jit(rollout), traces


def test_eight_parameter_sets_in_one_call_follow_physics(probe_batch):
    env, reset, rollout, _ = probe_batch
    state = reset(jax.random.key(0))
    params = state.info["sys_params"]
    friction = np.asarray(params["geom_friction"][:, 0])
    gain = np.asarray(params["act_gain"][:, 0])
    assert params["geom_friction"].shape == (8, 3) and len(np.unique(friction)) == 8 and len(np.unique(gain)) == 8
    final, obs = rollout(state)  # one jitted call: 8 systems x 25 steps (0.5 s)
    slide = np.asarray(obs[-1, :, 0])
    # Coulomb: the box stops after v^2 / (2 mu g) (< 2.04 m for mu >= 0.1); 0.5 s is enough to stop
    # all but the most slippery; larger friction must give a strictly shorter slide.
    order = np.argsort(friction)
    assert np.all(np.diff(slide[order]) < 0), (friction[order], slide[order])
    stopped = friction * 9.81 * 0.5 > 2.0
    np.testing.assert_allclose(slide[stopped], 4.0 / (2 * friction[stopped] * 9.81), rtol=0.1)
    # Hinge: I = m L^2 / 3 + capsule ends ~ constant; angular velocity after 0.5 s = gain * t / I.
    hinge_velocity = np.asarray(obs[-1, :, 1])
    ratio = hinge_velocity / gain
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-3)  # acceleration proportional to the gain
    assert np.all(np.diff(hinge_velocity[np.argsort(gain)]) > 0)
    np.testing.assert_array_equal(np.asarray(final.info["sys_params"]["act_gain"]), np.asarray(params["act_gain"]))


def test_new_parameter_sets_do_not_retrace(probe_batch):
    _, reset, rollout, traces = probe_batch
    first, second = reset(jax.random.key(1)), reset(jax.random.key(2))
    assert not np.allclose(np.asarray(first.info["sys_params"]["act_gain"]),
                           np.asarray(second.info["sys_params"]["act_gain"]))
    before = len(traces)
    rollout(first)
    rollout(second)
    assert len(traces) - before <= 1 and len(traces) <= 1  # traced once in this module, whatever the parameters


def test_make_with_randomize_on_registered_env():
    def heavier_ball(sys, key):
        return {"body_mass": sys.body_mass.at[-1].set(jax.random.uniform(key, (), jnp.float32, 0.05, 0.5))}

    env = envs.make("grasp", num_envs=4, randomize=heavier_ball)
    state = jax.jit(env.reset)(jax.random.key(0))  # (stepping is covered by the probe tests above)
    masses = np.asarray(state.info["sys_params"]["body_mass"][:, -1])
    assert masses.shape == (4,) and len(np.unique(masses)) == 4 and np.all((masses >= 0.05) & (masses <= 0.5))
    assert np.all(np.isfinite(np.asarray(state.obs)))


@pytest.mark.parametrize("randomize, error, message", [
    (lambda sys, key: {"no_such_field": 1.0}, ValueError, "unknown or static System field 'no_such_field'"),
    (lambda sys, key: {"body_mass": jnp.ones(3)}, ValueError, "must keep the field's shape"),
    (lambda sys, key: 3.0, TypeError, "dict of System fields"),
    ("not callable", TypeError, "randomize must be a function"),
])
def test_bad_randomizers_raise(randomize, error, message):
    with pytest.raises(error, match=message):
        envs.make("ur5e", randomize=randomize)


def test_env_without_system_is_rejected():
    with pytest.raises(TypeError, match="physics System in `.sys`"):
        envs.make("pendulum", randomize=randomize_friction_and_gain)
