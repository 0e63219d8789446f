"""Load-time refusals of `load_mjcf` for non-finite, negative and divergent values (issue 26, mjcf_checks)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.engine import physics
from simlab.engine.physics import contacts, mjcf_checks


def _model(ball="", hinge="", motor='gear="50"', option='timestep="0.005"', ball_pos="0 0 0.5"):
    hinge = hinge if "axis=" in hinge else f'axis="0 1 0" {hinge}'
    return f"""
<mujoco>
  <option {option}/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="ball" pos="{ball_pos}">
      <freejoint name="free"/>
      <geom name="ball_geom" type="sphere" size="0.1" mass="1" {ball}/>
    </body>
    <body name="arm" pos="1 0 1">
      <joint name="hinge" type="hinge" range="-45 45" limited="true" {hinge}/>
      <geom name="arm_geom" type="capsule" fromto="0 0 0 0.5 0 0" size="0.04" mass="1"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="motor" joint="hinge" ctrlrange="-1 1" ctrllimited="true" {motor}/>
  </actuator>
</mujoco>"""


def _refused(xml, *words, solver="penalty"):
    with pytest.raises(ValueError) as info:
        physics.load_mjcf(xml, solver=solver)
    message = str(info.value)
    missing = [w for w in words if w not in message]
    assert not missing, f"message lacks {missing}: {message}"
    return message


def test_friction_velocity_eps_matches_the_engine():
    assert mjcf_checks.FRICTION_VELOCITY_EPS == contacts.FRICTION_VELOCITY_EPS


@pytest.mark.parametrize("solver", ["penalty", "mujoco"])
@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(option='timestep="0.005" gravity="0 nan -9.81"'), ["<option>", "gravity", "nan"]),
    (dict(hinge='damping="nan"'), ["<joint name='hinge'>", "damping", "nan"]),
    (dict(hinge='stiffness="inf"'), ["<joint name='hinge'>", "stiffness", "inf"]),
    (dict(hinge='armature="nan"'), ["<joint name='hinge'>", "armature", "nan"]),
    (dict(hinge='axis="nan 1 0"'), ["<joint name='hinge'>", "axis", "nan"]),
    (dict(hinge='springref="inf"'), ["<joint name='hinge'>", "springref", "inf"]),
    (dict(motor='gear="nan"'), ["<actuator name='motor'>", "gear", "nan"]),
    (dict(motor='gear="1" forcelimited="true" forcerange="-1 inf"'), ["<actuator name='motor'>", "forcerange", "inf"]),
    (dict(ball='friction="nan 0.005 0.0001"'), ["<geom name='ball_geom'>", "friction", "nan"]),
    (dict(ball='solref="0.02 nan"'), ["<geom name='ball_geom'>", "solref", "nan"]),
    (dict(ball='margin="inf"'), ["<geom name='ball_geom'>", "margin", "inf"]),
])
def test_non_finite_values_are_refused(solver, kwargs, words):
    _refused(_model(**kwargs), *words, "not finite", "give finite numbers", solver=solver)


@pytest.mark.parametrize("solver", ["penalty", "mujoco"])
@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(hinge='damping="-1"'), ["<joint name='hinge'>", "damping", "-1"]),
    (dict(hinge='armature="-0.5"'), ["<joint name='hinge'>", "armature", "-0.5"]),
    (dict(hinge='stiffness="-2"'), ["<joint name='hinge'>", "stiffness", "-2"]),
    (dict(ball='friction="-1 0.005 0.0001"'), ["<geom name='ball_geom'>", "friction", "-1"]),
])
def test_negative_values_are_refused(solver, kwargs, words):
    _refused(_model(**kwargs), *words, "must be >= 0", solver=solver)


def test_negative_frictionloss_is_refused_with_the_mujoco_solver():
    _refused(_model(hinge='frictionloss="-1"'), "<joint name='hinge'>", "frictionloss", "must be >= 0", solver="mujoco")


def _rollout_finite(xml, solver, steps=200):
    sys = physics.load_mjcf(xml, solver=solver)

    @jax.jit  # one compilation instead of op-by-op dispatch
    def final_q():
        state = physics.init(sys, sys.qpos0, jnp.zeros(sys.nv))
        step = lambda s, _: (physics.step(sys, s, jnp.zeros(sys.nu)), None)
        return jax.lax.scan(step, state, None, length=steps)[0].q

    return bool(np.all(np.isfinite(np.asarray(final_q()))))


@pytest.mark.parametrize("solver", ["penalty", "mujoco"])
def test_joint_spring_bound_is_omega_h_below_2(solver):
    # The arm: dof_invweight0 ≈ 11.3 (1/kg·m²), h = 0.005 s; omega·h < 2 <=> stiffness < 4/(h²·invweight) ≈ 1.4e4.
    message = _refused(_model(hinge='stiffness="2e4"'), "<joint name='hinge'>", "stiffness", "omega·h = 2.3",
                       "stable only for omega·h < 2", "lower the stiffness", "smaller timestep", solver=solver)
    assert "2e+04" in message
    assert _rollout_finite(_model(hinge='stiffness="1.2e4"'), solver)  # just below the bound: loads, stays finite


def test_joint_spring_damping_widens_the_bound():
    # Implicit damping D: h²·k·invw < 4 + 2·h·D·invw; D = 200 lets a 2e4 spring load.
    physics.load_mjcf(_model(hinge='stiffness="2e4" damping="200"'))


def test_position_actuator_kp_counts_as_a_spring():
    _refused(_model(motor='gear="1"').replace("<motor", '<position kp="1e6"').replace("</motor>", ""),
             "<joint name='hinge'>", "actuator kp/kv", "omega·h")


def test_rk4_uses_its_own_stability_region():
    xml = _model(hinge='stiffness="2e4"', option='timestep="0.005" integrator="RK4"')
    physics.load_mjcf(xml, solver="mujoco")  # omega·h = 2.4 < 2.83: RK4 is stable
    _refused(_model(hinge='stiffness="4e4"', option='timestep="0.005" integrator="RK4"'), "RK4", "2.828",
             solver="mujoco")


@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(ball_pos="0 0 -0.5"), ["<geom name='floor'> / <geom name='ball_geom'>", "0.6 m inside", "condition number",
                                 "float32", "move the geom"]),
    (dict(ball='friction="1e6 0.005 0.0001"'), ["friction 1e+06", "resting load 9.81 N", "lower the friction"]),
    (dict(option='timestep="10"'), ["timestep 10", "smaller timestep"]),
])
def test_penalty_contact_conditioning_is_refused(kwargs, words):
    _refused(_model(**kwargs), *words)


def test_deep_start_loads_with_the_mujoco_solver_and_in_float64():
    xml = _model(ball_pos="0 0 -0.5")
    assert _rollout_finite(xml, "mujoco", steps=100)  # an implicit constraint solve: no friction weight in A
    with jax.enable_x64(True):
        physics.load_mjcf(xml, dtype=jnp.float64)  # cond 4e8 is far below 1/u = 9e15


def test_actuator_overflow_is_refused():
    _refused(_model(motor='gear="1e30"'), "<actuator name='motor'>", "gear", "1e+30", "overflow", "lower the gear")
