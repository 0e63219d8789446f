"""MJCF loading, validation errors, and dynamics terms against MuJoCo C."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from physics_models import BRAX_MODELS, brax_asset, free_body, gym_asset

from simlab.engine import physics


@pytest.mark.parametrize("name", BRAX_MODELS)
def test_brax_standard_models_load_and_step(name):
    sys = physics.load_mjcf(brax_asset(name))
    m = mujoco.MjModel.from_xml_path(brax_asset(name))
    assert (sys.nq, sys.nv, sys.nu, sys.num_bodies) == (m.nq, m.nv, m.nu, m.nbody)
    state = jax.eval_shape(physics.init, sys, m.qpos0, np.zeros(m.nv))
    stepped = jax.eval_shape(physics.step, sys, state, np.zeros(m.nu, np.float32))
    assert stepped.x_pos.shape == (m.nbody, 3)
    assert stepped.q.shape == (m.nq,) and stepped.qd.shape == (m.nv,)


@pytest.mark.parametrize("name", ["ant", "half_cheetah", "hopper", "walker2d", "reacher",
                                  "inverted_pendulum", "inverted_double_pendulum"])
def test_gymnasium_standard_models_load(name):
    sys = physics.load_mjcf(gym_asset(name))
    assert sys.nq == mujoco.MjModel.from_xml_path(gym_asset(name)).nq


@pytest.mark.parametrize("name", ["humanoid", "humanoidstandup"])
def test_gymnasium_humanoids_load(name):
    """Their two fixed tendons have no stiffness, damping, limit or actuator: they exert no force, so the
    loader drops them (`System.tendon` is None; tendons that act are tested in test_tendons.py)."""
    sys = physics.load_mjcf(gym_asset(name))
    assert sys.tendon is None and sys.nq == mujoco.MjModel.from_xml_path(gym_asset(name)).nq


@pytest.mark.parametrize("xml,needle", [
    ("""<mujoco><asset><mesh name="m" vertex="0 0 0 1 0 0 0 1 0 0 0 1"/></asset><worldbody>
        <geom type="plane" size="1 1 1"/><body pos="0 0 1"><freejoint/><geom name="blob" type="mesh" mesh="m"/></body>
        </worldbody></mujoco>""", "blob"),
    ("""<mujoco><worldbody><body name="a"><joint name="j1"/><geom size="0.1"/></body>
        <body name="b"><joint name="j2"/><geom size="0.1"/></body></worldbody>
        <equality><joint joint1="j1" joint2="j2"/></equality></mujoco>""", "equality"),
    ("""<mujoco><option density="1.2"/><worldbody><body><freejoint/><geom size="0.1" fluidshape="ellipsoid"/></body>
        </worldbody></mujoco>""", "fluidshape"),
    ("""<mujoco><worldbody><body><joint name="hinge" frictionloss="1"/><geom size="0.1"/></body></worldbody></mujoco>""",
     "frictionloss"),
    ("""<mujoco><worldbody><body><joint name="j"/><geom size="0.1"/></body></worldbody>
        <actuator><general joint="j" dyntype="filter"/></actuator></mujoco>""", "dyntype"),
])
def test_unsupported_features_raise_naming_the_element(xml, needle):
    with pytest.raises(ValueError, match=needle):
        physics.load_mjcf(xml)


def test_bad_input_messages():
    with pytest.raises(FileNotFoundError, match="not found"):
        physics.load_mjcf("/no/such/model.xml")
    sys = physics.load_mjcf(free_body('<geom type="sphere" size="0.1"/>', z=1.0))
    with pytest.raises(ValueError, match="shape"):
        physics.init(sys, jnp.zeros(3), jnp.zeros(6))


def test_contact_filtering_follows_mujoco_rules():
    ant = physics.load_mjcf(brax_asset("ant"))
    # Only the four foot spheres have contype 1 against the floor's conaffinity 1.
    assert len(ant.contact_pairs) == 4
    names = {ant.geom_names[b] for _, b in ant.contact_pairs}
    assert names == {"left_foot_geom", "right_foot_geom", "third_foot_geom", "fourth_foot_geom"}
    geom1, _ = physics.contact_geoms(ant)
    assert geom1.shape == (4,)


@pytest.mark.parametrize("name", ["ant", "humanoid", "half_cheetah", "inverted_double_pendulum"])
def test_mass_matrix_and_bias_match_mujoco(name):
    m = mujoco.MjModel.from_xml_path(brax_asset(name))
    d = mujoco.MjData(m)
    sys = physics.load_mjcf(m)
    rng = np.random.default_rng(0)

    @jax.jit
    def terms(q, qd):
        out = physics.dynamics_terms(sys, q, qd)
        return out["x_pos"], out["mass_matrix"], out["bias"]

    for _ in range(3):
        q = m.qpos0 + 0.3 * rng.normal(size=m.nq)
        if m.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE:
            q[3:7] /= np.linalg.norm(q[3:7])
        d.qpos[:], d.qvel[:] = q, rng.normal(size=m.nv)
        mujoco.mj_forward(m, d)
        expected_mass = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, expected_mass)
        x_pos, mass, bias = (np.asarray(x) for x in terms(jnp.asarray(q, jnp.float32),
                                                            jnp.asarray(d.qvel, jnp.float32)))
        mass = mass + np.diag(m.dof_armature)
        np.testing.assert_allclose(x_pos, d.xpos, atol=1e-5)
        np.testing.assert_allclose(mass, expected_mass, atol=1e-4 * np.abs(expected_mass).max())
        np.testing.assert_allclose(bias, d.qfrc_bias, atol=1e-4 * np.abs(d.qfrc_bias).max() + 1e-5)


def test_brax_custom_numeric_fields_are_ignored_explicitly():
    assert any("custom" in note for note in physics.IGNORED_FEATURES)
    sys = physics.load_mjcf(brax_asset("ant"))
    assert sys.nq == 15
