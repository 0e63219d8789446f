"""Fuzzing `engine.physics.load_mjcf` with mutated valid models (issue 26).

A small valid model (a floor plane, a free sphere, an actuated hinged capsule with a joint range) is
mutated: attribute values replaced by zero, negative, NaN, infinite, huge, non-numeric, empty or wrong-arity
values, geom and joint types renamed (also to unknown names), elements removed. Property: each mutant
either loads, and then `init` + 100 `step`s (with a constant control) keep every state array finite, or
`load_mjcf` raises ValueError/TypeError/FileNotFoundError with a message. Never an error from inside JAX.

Value mutations keep the model's structure, so their 100-step rollout reuses one compiled program (a
module fixture). Structural mutations (types, removed elements) change the compiled program; the default
suite checks that they load or are refused clearly, and the `slow` deep run also steps them.

Known failures of the property (the loader accepts a model whose state becomes non-finite) are listed in
`KNOWN_NONFINITE` with a strict xfail test each; the fuzzer leaves those classes out so that it finds new
ones: non-finite values of attributes `load_mjcf` does not check (`UNCHECKED_NON_FINITE`), a negative joint
armature, finite values large enough to make the explicit step diverge (`DIVERGES_FROM`), and models whose
geoms start more than `DEEP_PENETRATION` inside each other and then diverge. When engine/physics fixes a
class, its xfail test passes and (strict) fails the suite: remove the entry and the exclusion then.
"""
from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, event, given, strategies as st

from engine import physics
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
NON_FINITE = ("nan", "inf")

# Attributes `load_mjcf` does not check for NaN/inf: a non-finite value there loads, and the state becomes
# non-finite on the first steps. (Issue 26 item 7: "NaN positions are accepted"; positions are now checked.)
UNCHECKED_NON_FINITE = {("option", "gravity"), ("hinge", "damping"), ("hinge", "axis"), ("hinge", "stiffness"),
                        ("hinge", "armature"), ("motor", "gear"), ("ball_geom", "friction")}
# Finite values that load but make the explicit (semi-implicit Euler, penalty contact) step diverge within
# 100 steps: (attribute, smallest magnitude known to diverge). Values below it are fuzzed.
DIVERGES_FROM = {("option", "timestep"): 1e6, ("ball_geom", "size"): 100.0, ("arm_geom", "size"): 100.0,
                 ("motor", "gear"): 1e30, ("ball_geom", "friction"): 1e6, ("hinge", "stiffness"): 1e6}

# A geom that starts more than this deep (m) inside another one (e.g. moved into the floor) gets a penalty
# force that the explicit step cannot absorb: the state diverges (0.2 m deep stays finite, 0.4 m diverges).
DEEP_PENETRATION = 0.25

KNOWN_NONFINITE = [
    pytest.param([(("option", "gravity"), "nan nan nan")], id="gravity-nan"),
    pytest.param([(("hinge", "damping"), "nan")], id="joint-damping-nan"),
    pytest.param([(("hinge", "damping"), "inf")], id="joint-damping-inf"),
    pytest.param([(("hinge", "stiffness"), "inf")], id="joint-stiffness-inf"),
    pytest.param([(("hinge", "armature"), "-1")], id="joint-armature-negative"),
    pytest.param([(("hinge", "armature"), "nan")], id="joint-armature-nan"),
    pytest.param([(("hinge", "axis"), "nan nan nan")], id="joint-axis-nan"),
    pytest.param([(("motor", "gear"), "nan")], id="actuator-gear-nan"),
    pytest.param([(("ball_geom", "friction"), "nan")], id="geom-friction-nan"),
    pytest.param([(("option", "timestep"), "1e6")], id="timestep-1e6"),
    pytest.param([(("ball_geom", "size"), "100")], id="sphere-size-100-in-floor"),
    pytest.param([(("ball_geom", "pos"), "-1 -1 -1")], id="sphere-starts-0.6m-inside-floor"),
    pytest.param([(("hinge", "stiffness"), "1e6")], id="joint-stiffness-1e6"),
    pytest.param([(("ball_geom", "friction"), "1e6")], id="geom-friction-1e6"),
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


def _magnitude(token: str) -> float:
    try:
        return max(abs(float(t)) for t in token.split())
    except ValueError:
        return 0.0


def known_nonfinite(mutations) -> bool:
    """True if a mutation is of a class listed in `KNOWN_NONFINITE` (left out of the fuzzed examples)."""
    for target, token in mutations:
        parts = token.split()
        if target in UNCHECKED_NON_FINITE and any(p.lstrip("-+") in NON_FINITE for p in parts):
            return True
        if target == ("hinge", "armature") and any(_is_negative(p) for p in parts):
            return True
        if target in DIVERGES_FROM and _magnitude(token) >= DIVERGES_FROM[target]:
            return True
    return False


def _is_negative(text: str) -> bool:
    try:
        return float(text) < 0
    except ValueError:
        return False


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


def _step_property(rollout, xml, what, excuse_known: bool = True):
    sys = _load_or_refuse(xml)
    if sys is None:
        event("refused")
        return
    try:
        initial, state = rollout(sys)
    except Exception as err:  # noqa: BLE001 - the property: a loaded model must step
        pytest.fail(f"{what}: loaded, but stepping raised {type(err).__name__}: {err}")
    finite = all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree_util.tree_leaves(state)
                 if jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact))
    depth = -float(np.min(np.asarray(initial.contact.dist), initial=np.inf))
    if excuse_known and not finite and depth > DEEP_PENETRATION:
        event("known: starts deeply interpenetrating, diverges")
        return
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
    assume(not known_nonfinite(mutations))
    xml = BASE
    for (element, attribute), token in mutations:
        xml = mutate(xml, element, attribute, token)
    _step_property(rollout, xml, f"mutations {mutations}")


@bounded(80)
@given(mutations=value_mutations)
def test_mjcf_value_mutations_fuzz(rollout, mutations):
    _value_property(rollout, mutations)


@bounded(40)
@given(mutations=st.lists(structural, min_size=1, max_size=2))
def test_mjcf_structural_mutations_load_or_refuse_fuzz(mutations):
    xml = BASE
    for mutation in mutations:
        xml = _apply_structural(xml, mutation)
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
    xml = BASE
    for mutation in mutations:
        xml = _apply_structural(xml, mutation)
    _step_property(jax.jit(_rollout), xml, f"mutations {mutations}")


@pytest.mark.parametrize("mutations", KNOWN_NONFINITE)
@pytest.mark.xfail(strict=True, reason="load_mjcf accepts this model but its state becomes non-finite within 100 "
                                       "steps (engine/physics owns the fix: validate the attribute, or bound it); "
                                       "see the issue 26 report")
def test_known_nonfinite_mutants(rollout, mutations):
    xml = BASE
    for (element, attribute), token in mutations:
        xml = mutate(xml, element, attribute, token)
    _step_property(rollout, xml, f"mutations {mutations}", excuse_known=False)


def test_mutate_helpers_change_the_model():
    """The mutation helpers edit what they name (so the fuzzer really tests mutants)."""
    assert 'timestep="0.5"' in mutate(BASE, "option", "timestep", "0.5") and 'timestep="0.005"' not in \
        mutate(BASE, "option", "timestep", "0.5")
    assert 'mass="7"' in mutate(BASE, "arm_geom", "mass", "7")
    assert '<motor name="motor"' not in remove(BASE, "motor")
    assert 'name="ball_geom"' not in remove(BASE, "ball")
    assert known_nonfinite([(("hinge", "damping"), "nan")]) and not known_nonfinite([(("hinge", "damping"), "2")])
    assert math.isclose(_magnitude("1 -100 2"), 100.0)
