"""Equality constraints (`engine/physics/equality.py`, solver="mujoco") against MuJoCo C (`mujoco.mj_step`, float64).

Each model is small and inline; ours and MuJoCo's run side by side from the same state, and the worst qpos difference
over 0.3 s must stay below 1e-4 (as in test_tendons.py; the measured values are far smaller, docs/physics.md).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from simlab.engine import physics
from simlab.engine.physics import constraint, forward as mj_forward, kinematics, mj_collision

NO_COLLISION = '<default><geom contype="0" conaffinity="0"/></default>'

# (a) A free box welded to the world (with a relative pose offset and torquescale), under gravity.
WELD_XML = f"""
<mujoco>
  <option timestep="0.002"/>
  {NO_COLLISION}
  <worldbody>
    <body name="box" pos="0.2 0.1 1" euler="10 20 30">
      <freejoint/>
      <geom type="box" size="0.1 0.05 0.02" mass="1"/>
    </body>
  </worldbody>
  <equality><weld name="hold" body1="box" torquescale="2"/></equality>
</mujoco>
"""

# (b) A four-bar loop: a two-link chain whose tip is connected to the tip of a third link (a closed chain).
CONNECT_XML = f"""
<mujoco>
  <option timestep="0.002"/>
  {NO_COLLISION}
  <worldbody>
    <body name="a" pos="0 0 1">
      <joint name="ha" type="hinge" axis="0 1 0" damping="0.01"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/>
      <body name="b" pos="0.3 0 0">
        <joint name="hb" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/>
      </body>
    </body>
    <body name="c" pos="0.6 0 1.3">
      <joint name="hc" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.3" size="0.02" mass="0.5"/>
    </body>
  </worldbody>
  <equality><connect name="loop" body1="b" body2="c" anchor="0.3 0 0"/></equality>
</mujoco>
"""

# (c) Joint couplings: a quartic polynomial between two hinges of different trees, a hinge held at an offset.
JOINT_XML = f"""
<mujoco>
  <option timestep="0.002">{{flag}}</option>
  {NO_COLLISION}
  <worldbody>
    <body pos="0 0 1">
      <joint name="h1" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/>
    </body>
    <body pos="1 0 1">
      <joint name="h2" type="hinge" axis="0 1 0" frictionloss="0.01"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="0.5"/>
      <body pos="0.3 0 0">
        <joint name="h3" type="hinge" axis="0 1 0" range="-0.3 0.3"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="0.5"/>
      </body>
    </body>
  </worldbody>
  <equality>
    <joint name="couple" joint1="h2" joint2="h1" polycoef="0.05 0.5 0.2 0.1 0.05"/>
    <joint name="offset" joint1="h3" polycoef="0.1 0 0 0 0"/>
  </equality>
</mujoco>
"""

# (d) Tendon equalities (as dm_control's quadruped, manipulator and stacker use them): two fixed tendons coupled by a
# polynomial, and a fixed tendon held at its qpos0 length (no second tendon).
TENDON_XML = f"""
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
    <body pos="1 0 1">
      <joint name="c" type="hinge" axis="1 0 0"/>
      <joint name="e" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/>
    </body>
  </worldbody>
  <tendon>
    <fixed name="ab"><joint joint="a" coef="1"/><joint joint="b" coef="0.5"/></fixed>
    <fixed name="c"><joint joint="c" coef="1"/></fixed>
    <fixed name="ce"><joint joint="c" coef="0.3"/><joint joint="e" coef="-1"/></fixed>
  </tendon>
  <equality>
    <tendon name="couple" tendon1="ab" tendon2="c" polycoef="0 0.7 0.1 0 0"/>
    <tendon name="hold" tendon1="ce"/>
  </equality>
</mujoco>
"""


def _run_against_mujoco(xml: str, steps: int = 150, seed: int = 0, perturb: float = 0.0, iterations: int = 8):
    """Worst |qpos| difference over `steps` steps of ours (float64) vs `mj_step`."""
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    rng = np.random.default_rng(seed)
    d.qvel[:] = rng.uniform(-perturb, perturb, m.nv)
    with jax.enable_x64(True):
        sys = physics.load_mjcf(xml, solver="mujoco", iterations=iterations, dtype=jnp.float64)
        step = jax.jit(lambda q, v, u, w: mj_forward.step_once(sys, q, v, u, w)[:3])
        q, v, w = jnp.asarray(d.qpos), jnp.asarray(d.qvel), jnp.asarray(d.qacc_warmstart)
        err = 0.0
        for _ in range(steps):
            mujoco.mj_step(m, d)
            q, v, w = step(q, v, jnp.zeros(m.nu), w)
            err = max(err, float(np.max(np.abs(np.asarray(q) - d.qpos))))
    return err, d


def test_weld_holds_free_body_like_mujoco():
    m = mujoco.MjModel.from_xml_string(WELD_XML)
    err, d = _run_against_mujoco(WELD_XML, perturb=0.5)
    assert err < 1e-4, err
    assert np.max(np.abs(d.qpos[:3] - m.qpos0[:3])) < 0.1  # held in place against gravity and the kick (soft)


def test_connect_four_bar_loop_matches_mujoco():
    err, d = _run_against_mujoco(CONNECT_XML, perturb=1.0)
    assert err < 1e-4, err
    assert abs(d.qpos[0]) > 0.05  # it moved (the loop swings under gravity)


def test_joint_coupling_matches_mujoco():
    err, _ = _run_against_mujoco(JOINT_XML.format(flag=""), perturb=1.0)
    assert err < 1e-4, err


def test_tendon_equality_matches_mujoco():
    err, _ = _run_against_mujoco(TENDON_XML, perturb=1.0)
    assert err < 1e-4, err


def test_equality_disable_flag_matches_mujoco():
    xml = JOINT_XML.format(flag="<flag equality='disable'/>")
    assert "equality='disable'" in xml
    sys = physics.load_mjcf(xml, solver="mujoco")
    assert sys.mj.eq is None
    err, _ = _run_against_mujoco(xml, steps=50, perturb=1.0)
    assert err < 1e-4, err


def test_equality_rows_come_first_in_mujoco_order():
    """Rows and Jacobians of the equality rows match MuJoCo's `efc_*` at a random state, in its order
    (equality, then dof friction loss, then limits: `d.efc_type`)."""
    m = mujoco.MjModel.from_xml_string(JOINT_XML.format(flag=""))
    d = mujoco.MjData(m)
    d.qpos[:] = [0.3, -0.2, 0.35]
    d.qvel[:] = [0.5, -1.0, 0.2]
    mujoco.mj_forward(m, d)
    types = d.efc_type[:d.nefc]
    eq, fr, lim = (int(mujoco.mjtConstraint.mjCNSTR_EQUALITY), int(mujoco.mjtConstraint.mjCNSTR_FRICTION_DOF),
                   int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT))
    assert types.tolist() == [eq, eq, fr, lim]
    with jax.enable_x64(True):
        sys = physics.load_mjcf(JOINT_XML.format(flag=""), solver="mujoco", dtype=jnp.float64)
        q, qd = jnp.asarray(d.qpos), jnp.asarray(d.qvel)
        kin = kinematics.forward_kinematics(sys, q)
        rows = constraint.make_rows(sys, kin, q, qd, mj_collision.collide(sys, kin))
        assert rows.n_equality == 2 and rows.n_friction == 1
        jac = d.efc_J.reshape(d.nefc, m.nv)
        np.testing.assert_allclose(np.asarray(rows.jac[:3]), jac[:3], atol=1e-12)
        np.testing.assert_allclose(np.asarray(rows.aref[:3]), d.efc_aref[:3], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(np.asarray(rows.R[:3]), d.efc_R[:3], rtol=1e-9)
        # the upper limit row (the 4th of ours: lower then upper) is MuJoCo's 4th row
        np.testing.assert_allclose(np.asarray(rows.jac[4]), jac[3], atol=1e-12)


def test_penalty_mode_refuses_equality_by_name():
    with pytest.raises(ValueError, match=r"<equality><connect name='loop'>.*use solver='mujoco'"):
        physics.load_mjcf(CONNECT_XML)
