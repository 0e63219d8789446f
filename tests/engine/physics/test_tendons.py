"""Tendons (`engine/physics/tendon.py`) against MuJoCo C (`mujoco.mj_step`, float64).

Each model is small and written inline; ours and MuJoCo's run side by side from the same seeded state under
the same seeded controls, and the worst qpos difference over the run must stay below 1e-4 (the one-step
bound of test_mujoco_mode.py; without contacts these runs agree far closer, see the measured values).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from simlab.engine import physics
from simlab.engine.physics import forward as mj_forward

NO_COLLISION = '<default><geom contype="0" conaffinity="0"/></default>'

# (a) Fixed tendons coupling two sibling hinges, and a hinge with a slider of another tree (stiffness with
# a deadband spring length, damping). The cross-tree damping tests that implicitfast keeps only the entries
# of JᵀbJ on M's sparsity, as MuJoCo does.
PAIR_XML = f"""
<mujoco>
  <option timestep="0.002" integrator="{{integrator}}"/>
  {NO_COLLISION}
  <worldbody>
    <body name="base" pos="0 0 1">
      <joint name="yaw" type="hinge" axis="0 0 1" damping="0.05"/>
      <geom type="sphere" size="0.05" mass="1"/>
      <body name="left" pos="0.2 0 0">
        <joint name="l" type="hinge" axis="0 1 0" damping="0.02"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="0.5"/>
      </body>
      <body name="right" pos="-0.2 0 0">
        <joint name="r" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 -0.3 0 0" size="0.02" mass="0.5"/>
      </body>
    </body>
    <body name="slider" pos="1 0 1">
      <joint name="s" type="slide" axis="0 0 1"/>
      <geom type="sphere" size="0.05" mass="0.3"/>
    </body>
  </worldbody>
  <tendon>
    <fixed name="couple" stiffness="2" damping="0.3" springlength="0.1">
      <joint joint="l" coef="1"/><joint joint="r" coef="-0.7"/>
    </fixed>
    <fixed name="cross" stiffness="5" damping="1" springlength="-0.05 0.05">
      <joint joint="l" coef="0.5"/><joint joint="s" coef="2"/>
    </fixed>
  </tendon>
</mujoco>
"""

# (b) A double pendulum falling from horizontal into a tendon length limit L = a + 0.5 b <= 0.4.
LIMIT_XML = f"""
<mujoco>
  <option timestep="0.002"/>
  {NO_COLLISION}
  <worldbody>
    <body pos="0 0 1">
      <joint name="a" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/>
      <body pos="0.3 0 0">
        <joint name="b" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/>
      </body>
    </body>
  </worldbody>
  <tendon>
    <fixed name="limit" range="-0.3 0.4" frictionloss="{{frictionloss}}">
      <joint joint="a" coef="1"/><joint joint="b" coef="0.5"/>
    </fixed>
  </tendon>
</mujoco>
"""

# (c) Actuators with tendon transmissions (position with gear, motor, velocity) next to a joint motor,
# implicitfast (the tendon velocity actuator's kv is integrated implicitly along JᵀJ).
ACTUATOR_XML = f"""
<mujoco>
  <option timestep="0.005" integrator="implicitfast"/>
  {NO_COLLISION}
  <worldbody>
    <body pos="0 0 0.5">
      <joint name="x" type="slide" axis="1 0 0" damping="0.1"/>
      <joint name="y" type="slide" axis="0 1 0"/>
      <geom type="sphere" size="0.05" mass="0.5"/>
      <body pos="0.2 0 0">
        <joint name="h" type="hinge" axis="0 0 1"/>
        <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.2"/>
      </body>
    </body>
  </worldbody>
  <tendon>
    <fixed name="t1"><joint joint="x" coef="1"/><joint joint="h" coef="0.2"/></fixed>
    <fixed name="t2"><joint joint="y" coef="1"/><joint joint="x" coef="-0.5"/></fixed>
  </tendon>
  <actuator>
    <position name="p1" tendon="t1" kp="20" gear="1.5" ctrlrange="-0.5 0.5"/>
    <motor name="m2" tendon="t2" gear="2" ctrlrange="-1 1"/>
    <velocity name="v2" tendon="t2" kv="3"/>
    <motor name="mh" joint="h" ctrlrange="-0.2 0.2"/>
  </actuator>
</mujoco>
"""

# (d) A straight spatial tendon between two sites (dm_control's ball_in_cup string): a ball on slide joints
# hangs from a cup on an actuated slider and falls until the string (range 0..0.3) is taut.
STRING_XML = f"""
<mujoco>
  <option timestep="0.002"/>
  {NO_COLLISION}
  <worldbody>
    <body name="cup" pos="0 0 1">
      <joint name="cx" type="slide" axis="1 0 0" damping="0.5"/>
      <geom type="sphere" size="0.05" mass="1"/>
      <site name="cup" pos="0 0 -0.05"/>
    </body>
    <body name="ball" pos="0.1 0 0.9">
      <joint name="bx" type="slide" axis="1 0 0"/>
      <joint name="by" type="slide" axis="0 1 0"/>
      <joint name="bz" type="slide" axis="0 0 1"/>
      <geom type="sphere" size="0.02" mass="0.1"/>
      <site name="ball"/>
    </body>
  </worldbody>
  <tendon>
    <spatial name="string" limited="true" range="0 0.3" damping="0.05">
      <site site="ball"/><site site="cup"/>
    </spatial>
  </tendon>
  <actuator><motor joint="cx" ctrlrange="-1 1"/></actuator>
</mujoco>
"""


def _run_against_mujoco(xml: str, steps: int, seed: int = 0, ctrl_every: int = 10, iterations: int = 8):
    """Worst |qpos| difference over `steps` steps of ours (float64) vs `mj_step`, and MuJoCo's per-step
    tendon lengths and whether a tendon-limit row was active."""
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    rng = np.random.default_rng(seed)
    d.qpos[:] = m.qpos0 + rng.uniform(-0.2, 0.2, m.nq)
    d.qvel[:] = rng.uniform(-1, 1, m.nv)
    lengths, limit_active = [], []
    with jax.enable_x64(True):
        sys = physics.load_mjcf(xml, solver="mujoco", iterations=iterations, dtype=jnp.float64)
        step = jax.jit(lambda q, v, u, w: mj_forward.step_once(sys, q, v, u, w)[:3])
        q, v, w = jnp.asarray(d.qpos), jnp.asarray(d.qvel), jnp.asarray(d.qacc_warmstart)
        ctrl = np.zeros(m.nu)
        err = 0.0
        for i in range(steps):
            if m.nu and i % ctrl_every == 0:
                ctrl = rng.uniform(m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
            d.ctrl[:] = ctrl
            mujoco.mj_step(m, d)
            q, v, w = step(q, v, jnp.asarray(ctrl), w)
            err = max(err, float(np.max(np.abs(np.asarray(q) - d.qpos))))
            lengths.append(d.ten_length.copy())
            limit_active.append(bool(np.any(d.efc_type[:d.nefc] == int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON))))
    return err, np.array(lengths), np.array(limit_active)


@pytest.mark.parametrize("integrator", ["Euler", "implicitfast"])
def test_tendon_coupled_hinges_match_mujoco(integrator):
    """Measured worst qpos difference over 0.3 s: see docs/physics.md (float64)."""
    err, _, _ = _run_against_mujoco(PAIR_XML.format(integrator=integrator), 150)
    assert err < 1e-4, err


def test_tendon_limit_and_friction_loss_match_mujoco():
    err, lengths, limit_active = _run_against_mujoco(LIMIT_XML.format(frictionloss=0.05), 200)
    assert limit_active.sum() > 20, limit_active.sum()  # the limit was hit and held
    assert err < 1e-4, err
    assert lengths.max() < 0.45  # soft limit: MuJoCo overshoots by 0.04 at impact and settles at 0.402


def test_tendon_actuators_match_mujoco():
    err, _, _ = _run_against_mujoco(ACTUATOR_XML, 100)
    assert err < 1e-4, err


def test_spatial_site_tendon_matches_mujoco():
    err, lengths, limit_active = _run_against_mujoco(STRING_XML, 250)
    assert limit_active.sum() > 20, limit_active.sum()
    assert err < 1e-4, err


def test_penalty_mode_tendons():
    """solver="penalty": a batch of tendon-limited pendulums stays within the range (soft limit, jit + vmap,
    no control flow); the coupled pair (springs, implicit damping) tracks MuJoCo's Euler step loosely."""
    xml = LIMIT_XML.format(frictionloss=0)
    sys = physics.load_mjcf(xml, substeps=10)
    jaxpr = str(jax.make_jaxpr(physics.step)(sys, physics.init(sys, sys.qpos0, jnp.zeros(2)), jnp.zeros(0)))
    assert not any(p in jaxpr for p in ("cond[", "while[", "switch["))

    def run(q0):
        state = physics.init(sys, q0, jnp.zeros(2))
        def body(st, _):
            st = physics.step(sys, st, jnp.zeros(0))
            return st, st.q[0] + 0.5 * st.q[1]
        return jax.lax.scan(body, state, None, 40)[1]

    lengths = jax.jit(jax.vmap(run))(jnp.array([[0.0, 0.0], [0.2, -0.1]]))
    assert bool(jnp.all(jnp.isfinite(lengths)))
    assert float(lengths.max()) < 0.42, float(lengths.max())
    assert float(lengths.max()) > 0.35  # it did swing into the limit

    pair = PAIR_XML.format(integrator="Euler")
    m = mujoco.MjModel.from_xml_string(pair)
    d = mujoco.MjData(m)
    d.qvel[:] = [0.5, -1.0, 1.0, 0.3]
    sys = physics.load_mjcf(pair, substeps=50)
    state = jax.jit(physics.step)(sys, physics.init(sys, d.qpos.copy(), d.qvel.copy()), jnp.zeros(0))
    for _ in range(50):
        mujoco.mj_step(m, d)
    assert float(np.max(np.abs(np.asarray(state.q) - d.qpos))) < 2e-2


WRAP_XML = f"""
<mujoco>
  {NO_COLLISION}
  <worldbody>
    <geom name="pulley" type="sphere" size="0.05" pos="0 0 1.1"/>
    <site name="top" pos="0.1 0 1.2"/>
    <body name="ball" pos="0 0 0.8">
      <joint type="slide" axis="0 0 1"/>
      <geom type="sphere" size="0.02" mass="0.1"/>
      <site name="ball"/>
    </body>
  </worldbody>
  <tendon>
    <spatial name="rope" limited="true" range="0 0.5">
      <site site="ball"/><geom geom="pulley"/><site site="top"/>
    </spatial>
  </tendon>
</mujoco>
"""


def test_refused_tendon_features_name_the_tendon():
    with pytest.raises(ValueError, match=r"<tendon><spatial name='rope'> \(wrapping\): wraps around/through sphere: "
                                         "only fixed tendons and spatial tendons running straight between sites"):
        physics.load_mjcf(WRAP_XML, solver="mujoco")
    with pytest.raises(ValueError, match=r"<tendon><fixed name='limit'> frictionloss: .*needs solver='mujoco'"):
        physics.load_mjcf(LIMIT_XML.format(frictionloss=0.05), solver="penalty")
    actuated = STRING_XML.replace('<motor joint="cx" ctrlrange="-1 1"/>', '<motor tendon="string"/>')
    with pytest.raises(ValueError, match="'string' is a spatial tendon; only fixed tendons can be actuated"):
        physics.load_mjcf(actuated, solver="mujoco")


def test_gradient_through_tendon_stiffness_matches_finite_differences():
    """d(hinge angle after 20 steps)/d(tendon stiffness scale), mujoco mode, float64 (the reverse mode goes
    through the same Newton-step rule, checked in test_mujoco_mode.py)."""
    with jax.enable_x64(True):
        sys = physics.load_mjcf(PAIR_XML.format(integrator="Euler"), solver="mujoco", substeps=20, dtype=jnp.float64)

        def angle(scale):
            scaled = sys.replace(tendon=sys.tendon.replace(stiffness=sys.tendon.stiffness * scale))
            state = physics.init(scaled, scaled.qpos0 + 0.1, jnp.zeros(scaled.nv))
            return physics.step(scaled, state, jnp.zeros(0)).q[1]

        grad = float(jax.jit(jax.jacfwd(angle))(1.0))  # forward mode: compiles in a fraction of reverse mode's time
        eps = 1e-4
        values = jax.jit(jax.vmap(angle))(jnp.array([1.0 + eps, 1.0 - eps]))
        fd = float(values[0] - values[1]) / (2 * eps)
        assert abs(grad - fd) <= 1e-4 * abs(fd), (grad, fd)
