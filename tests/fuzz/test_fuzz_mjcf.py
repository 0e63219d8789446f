"""Fuzzing `engine.physics.load_mjcf` with mutated valid models (issue 26).

A small valid model (a floor plane, a free sphere, an actuated hinged capsule with a joint range) is
mutated: attribute values replaced by zero, negative, NaN, infinite, huge, non-numeric, empty or wrong-arity
values, geom and joint types renamed (also to unknown names), elements removed. Property: each mutant
either loads, and then `init` + 100 `step`s (with a constant control) keep every state array finite, or
`load_mjcf` raises ValueError/TypeError/FileNotFoundError with a message. Never an error from inside JAX.

Value mutations keep the model's structure, so their 100-step rollout reuses one compiled program (a
module fixture). Structural mutations (types, removed elements) change the compiled program; the default
suite checks that they load or are refused clearly, and the `slow` deep run also steps them.

Former failures of the property (the loader accepted a model whose state became non-finite: NaN/inf in
attributes that were not checked, a negative armature, finite values large enough to make the step diverge,
geoms starting deep inside each other) are now refused by `load_mjcf` (engine/physics/mjcf_checks.py);
`FORMER_NONFINITE` pins each one to a ValueError naming the element, the attribute and the fix, and the
fuzzers no longer leave those classes out.
"""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import event, given, strategies as st

from simlab.engine import physics
from fuzz_settings import bounded, deep, jax_internal

BASE = """
<mujoco>
  <option timestep="0.005" gravity="0 0 -9.81"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="ball" pos="0 0 0.5">
      <freejoint name="free"/>
      <geom name="ball_geom" type="sphere" size="0.1" mass="1"/>
    </body>
    <body name="arm" pos="1 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" range="-45 45" limited="true" damping="0.1"/>
      <geom name="arm_geom" type="capsule" fromto="0 0 0 0.5 0 0" size="0.04" mass="1"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="motor" joint="hinge" gear="50" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>"""

# (element name, attribute): "option" is the <option> element.
ATTRIBUTES = [("option", "timestep"), ("option", "gravity"), ("ball", "pos"), ("arm", "pos"),
              ("ball_geom", "size"), ("ball_geom", "mass"), ("ball_geom", "friction"), ("ball_geom", "pos"),
              ("arm_geom", "size"), ("arm_geom", "mass"), ("arm_geom", "fromto"), ("floor", "size"),
              ("hinge", "range"), ("hinge", "damping"), ("hinge", "axis"), ("hinge", "stiffness"),
              ("hinge", "armature"), ("motor", "gear"), ("motor", "ctrlrange")]
TOKENS = ["0", "-1", "nan", "inf", "-inf", "1e30", "-1e30", "1e-30", "abc", "", "1 2", "0 0 0", "-1 -1 -1",
          "nan nan nan", "1 nan 1", "0.5 0.5 0.5", "1e6", "100"]
# Each former non-finite mutant: (mutations, words its ValueError must contain).
FORMER_NONFINITE = [
    pytest.param([(("option", "gravity"), "nan nan nan")], ["<option>", "gravity", "nan", "finite"], id="gravity-nan"),
    pytest.param([(("hinge", "damping"), "nan")], ["hinge", "damping", "nan", "finite"], id="joint-damping-nan"),
    pytest.param([(("hinge", "damping"), "inf")], ["hinge", "damping", "inf", "finite"], id="joint-damping-inf"),
    pytest.param([(("hinge", "stiffness"), "inf")], ["hinge", "stiffness", "inf", "finite"], id="joint-stiffness-inf"),
    pytest.param([(("hinge", "armature"), "-1")], ["hinge", "armature", "-1", ">= 0"], id="joint-armature-negative"),
    pytest.param([(("hinge", "armature"), "nan")], ["hinge", "armature", "nan", "finite"], id="joint-armature-nan"),
    pytest.param([(("hinge", "axis"), "nan nan nan")], ["hinge", "axis", "nan", "finite"], id="joint-axis-nan"),
    pytest.param([(("motor", "gear"), "nan")], ["motor", "gear", "nan", "finite"], id="actuator-gear-nan"),
    pytest.param([(("ball_geom", "friction"), "nan")], ["ball_geom", "friction", "nan", "finite"],
                 id="geom-friction-nan"),
    pytest.param([(("option", "timestep"), "1e6")], ["ball_geom", "floor", "timestep", "1e+06", "condition number",
                                                     "smaller timestep"], id="timestep-1e6"),
    pytest.param([(("ball_geom", "size"), "100")], ["ball_geom", "floor", "99.5 m inside", "condition number",
                                                    "move the geom"], id="sphere-size-100-in-floor"),
    pytest.param([(("ball_geom", "pos"), "-1 -1 -1")], ["ball_geom", "floor", "0.6 m inside", "condition number",
                                                        "move the geom"], id="sphere-starts-0.6m-inside-floor"),
    pytest.param([(("hinge", "stiffness"), "1e6")], ["hinge", "stiffness", "1e+06", "omega·h", "lower the stiffness",
                                                     "smaller timestep"], id="joint-stiffness-1e6"),
    pytest.param([(("ball_geom", "friction"), "1e6")], ["ball_geom", "floor", "friction 1e+06", "condition number",
                                                        "lower the friction"], id="geom-friction-1e6"),
    pytest.param([(("motor", "gear"), "1e30")], ["motor", "gear", "1e+30", "overflow", "lower the gear"],
                 id="actuator-gear-1e30"),
]


def mutate(xml: str, element: str, attribute: str, value: str) -> str:
    """Sets `attribute="value"` on the element named `element` (or <option>), replacing any old value."""
    if element == "option":
        pattern = r"(<option)([^>]*?)(/?>)"
    else:
        pattern = rf'(<\w+ name="{re.escape(element)}")([^>]*?)(/?>)'

    def replace(m):
        rest = re.sub(rf'\s{re.escape(attribute)}="[^"]*"', "", m.group(2))
        return f'{m.group(1)}{rest} {attribute}="{value}"{m.group(3)}'

    return re.sub(pattern, replace, xml, count=1)


def remove(xml: str, element: str) -> str:
    """Removes the element named `element` (a self-closing one, or a <body> with everything inside it)."""
    if element in ("ball", "arm"):
        return re.sub(rf'\s*<body name="{element}".*?</body>', "", xml, count=1, flags=re.S)
    return re.sub(rf'\s*<\w+ name="{re.escape(element)}"[^>]*/>', "", xml, count=1)


def _rollout(sys):
    """`(initial state, state after 100 steps)`: `init` at the model's reference pose, then 100 `step`s at
    control 0.5 (within ctrlrange)."""
    state = physics.init(sys, sys.qpos0, jnp.zeros((sys.nv,), sys.qpos0.dtype))

    def body(state, _):
        return physics.step(sys, state, jnp.full((sys.nu,), 0.5, state.q.dtype)), None

    return state, jax.lax.scan(body, state, None, length=100)[0]


@pytest.fixture(scope="module")
def rollout():
    """The jitted 100-step rollout, shared by every example (same structure: compiled once)."""
    fn = jax.jit(_rollout)
    initial, final = fn(physics.load_mjcf(BASE))
    assert np.all(np.isfinite(np.asarray(final.q)))  # the unmutated model steps finitely
    return fn


def _load_or_refuse(xml: str):
    """`load_mjcf(xml)`, or None after checking that the refusal is a clear, documented error."""
    try:
        return physics.load_mjcf(xml)
    except (ValueError, TypeError, FileNotFoundError) as err:
        assert not jax_internal(err), f"load_mjcf failed inside JAX: {err!r}"
        assert str(err).strip(), f"{type(err).__name__} without a message"
        return None


def _assert_finite(state, what) -> None:
    bad = [jax.tree_util.keystr(path) for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]
           if jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact) and not np.all(np.isfinite(np.asarray(leaf)))]
    assert not bad, f"{what}: state non-finite after 100 steps in {bad}"


def _step_property(rollout, xml, what):
    sys = _load_or_refuse(xml)
    if sys is None:
        event("refused")
        return
    try:
        _, state = rollout(sys)
    except Exception as err:  # noqa: BLE001 - the property: a loaded model must step
        pytest.fail(f"{what}: loaded, but stepping raised {type(err).__name__}: {err}")
    event("loaded and stepped")
    _assert_finite(state, what)


numbers = st.one_of(st.sampled_from(TOKENS),
                    st.floats(-10, 10, allow_nan=False).map(lambda x: f"{x:.6g}"),
                    st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=4)
                    .map(lambda xs: " ".join(f"{x:.6g}" for x in xs)))
value_mutations = st.lists(st.tuples(st.sampled_from(ATTRIBUTES), numbers), min_size=1, max_size=3)

GEOMS = ["ball_geom", "arm_geom", "floor"]
structural = st.one_of(
    st.tuples(st.just("geom type"), st.sampled_from(GEOMS),
              st.sampled_from(["sphere", "capsule", "box", "cylinder", "ellipsoid", "mesh", "hfield", "sdf",
                               "plane", "bogus", "", "7"])),
    st.tuples(st.just("joint type"), st.just("hinge"), st.sampled_from(["slide", "ball", "free", "bogus", ""])),
    st.tuples(st.just("remove"), st.sampled_from(["free", "hinge", "motor", "floor", "ball", "arm", "ball_geom",
                                                  "arm_geom"]), st.just("")),
)


def _apply_structural(xml, mutation):
    kind, element, value = mutation
    if kind == "remove":
        return remove(xml, element)
    return mutate(xml, element, "type", value)


def _value_property(rollout, mutations):
    xml = BASE
    for (element, attribute), token in mutations:
        xml = mutate(xml, element, attribute, token)
    _step_property(rollout, xml, f"mutations {mutations}")


@bounded(80)
@given(mutations=value_mutations)
def test_mjcf_value_mutations_fuzz(rollout, mutations):
    _value_property(rollout, mutations)


def _structural_xml(mutations) -> str:
    """BASE with each structural mutation applied in order."""
    xml = BASE
    for mutation in mutations:
        xml = _apply_structural(xml, mutation)
    return xml


@bounded(40)
@given(mutations=st.lists(structural, min_size=1, max_size=2))
def test_mjcf_structural_mutations_load_or_refuse_fuzz(mutations):
    xml = _structural_xml(mutations)
    sys = _load_or_refuse(xml)
    event("refused" if sys is None else "loaded")
    if sys is not None:
        assert sys.nv >= 1 and sys.qpos0.shape == (sys.nq,)


@pytest.mark.slow
@deep(600)
@given(mutations=value_mutations)
def test_mjcf_value_mutations_fuzz_deep(rollout, mutations):
    _value_property(rollout, mutations)


@pytest.mark.slow
@deep(40)
@given(mutations=st.lists(structural, min_size=1, max_size=2))
def test_mjcf_structural_mutations_step_fuzz_deep(mutations):
    """Structural mutants (each a new compiled program, so few examples) are also stepped 100 times."""
    xml = _structural_xml(mutations)
    _step_property(jax.jit(_rollout), xml, f"mutations {mutations}")


@pytest.mark.parametrize(("mutations", "words"), FORMER_NONFINITE)
def test_former_nonfinite_mutants_are_refused(mutations, words):
    """Each former non-finite mutant is refused with a message naming the element, attribute, value and fix."""
    xml = BASE
    for (element, attribute), token in mutations:
        xml = mutate(xml, element, attribute, token)
    with pytest.raises(ValueError) as info:
        physics.load_mjcf(xml)
    missing = [w for w in words if w not in str(info.value)]
    assert not missing, f"message lacks {missing}: {info.value}"


def test_mutate_helpers_change_the_model():
    """The mutation helpers edit what they name (so the fuzzer really tests mutants)."""
    assert 'timestep="0.5"' in mutate(BASE, "option", "timestep", "0.5") and 'timestep="0.005"' not in \
        mutate(BASE, "option", "timestep", "0.5")
    assert 'mass="7"' in mutate(BASE, "arm_geom", "mass", "7")
    assert '<motor name="motor"' not in remove(BASE, "motor")
    assert 'name="ball_geom"' not in remove(BASE, "ball")
