"""Fuzzing recsim network specifications (issue 26): random sets of variables, with current and previous
dependencies (some on unknown names, some cyclic), duplicate or empty names, initial definitions that
read previous values, and definitions whose field shapes or dtypes change between the initial and the
step definition, or that return a non-dict.

Property: `Network(...)` and `Runtime(...).trajectory(key, n)` either succeed, or raise ValueError/TypeError
(`DependencyCycleError` is a ValueError) whose message names the offending variable; never an error from
inside JAX. An independent oracle decides which: a spec is valid exactly when names are unique and non-empty,
every dependency is known, initial definitions read no previous values, both current-dependency graphs are
acyclic and every definition returns the declared fields. Valid specs must run, with every variable's value
computed by its definition from the right dependency values (checked numerically), shapes `[n + 1, ...]`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import event, given, strategies as st

from simlab.engine.distributions import Normal
from simlab.recsim import DependencyCycleError, Network, Runtime, Variable, previous
from fuzz_settings import bounded, deep, jax_internal

NAMES = ["a", "b", "c", "d", "e"]
NUM_STEPS = 3


@st.composite
def specs(draw):
    """A list of variable descriptions: name, initial deps, step deps (None: static), output kind, noise."""
    count = draw(st.integers(1, 5))
    out = []
    for i in range(count):
        # Mostly well-formed, so that cycles, bad values and valid networks are common too.
        name = draw(st.sampled_from([NAMES[i]] * 10 + ["", "zz"] + NAMES[:count]))
        dep = st.sampled_from(NAMES[:count] * 6 + ["unknown"])
        initial = draw(st.lists(st.one_of(dep, dep.map(lambda n: ("prev", n))), max_size=2, unique=True))
        if draw(st.integers(0, 6)) != 3:  # mostly keep the initial definition free of previous() reads
            initial = [d for d in initial if not isinstance(d, tuple)]
        step = draw(st.one_of(st.none(), st.lists(st.one_of(dep, dep.map(lambda n: ("prev", n))), max_size=3,
                                                    unique=True)))
        kind = draw(st.sampled_from(["ok", "ok", "shape", "ok", "dtype", "ok", "field", "ok", "not_dict"]))
        out.append({"name": name, "initial": initial, "step": step, "kind": kind, "noise": draw(st.booleans())})
    return out


def _definition(spec, phase):
    """`fn(ctx, *values)`: {'x': 1 + sum of the dependencies' x (+ noise)}; `kind` breaks the step value."""
    deps = spec["initial"] if phase == "initial" else spec["step"]

    def fn(ctx, *values):
        x = jnp.ones((2,), jnp.float32) + sum((v["x"] for v in values), jnp.zeros((2,), jnp.float32))
        if spec["noise"]:
            x = x + ctx.draw("noise", Normal(jnp.zeros((2,)), jnp.ones((2,))))
        if phase == "step" and spec["kind"] == "shape":
            return {"x": jnp.ones((3,), jnp.float32)}
        if phase == "step" and spec["kind"] == "dtype":
            return {"x": x.astype(jnp.int32)}
        if phase == "step" and spec["kind"] == "field":
            return {"y": x}
        if phase == "step" and spec["kind"] == "not_dict":
            return x
        return {"x": x}

    return fn, tuple(previous(d[1]) if isinstance(d, tuple) else d for d in deps)


def _variable(spec) -> Variable:
    step = None if spec["step"] is None else _definition(spec, "step")
    return Variable(spec["name"], initial=_definition(spec, "initial"), step=step)


def _has_cycle(graph: dict[str, list[str]]) -> bool:
    """Kahn's algorithm: True when some nodes can never be ordered."""
    remaining = {n: set(d) for n, d in graph.items()}
    while remaining:
        ready = [n for n, deps in remaining.items() if not deps & set(remaining)]
        if not ready:
            return True
        for n in ready:
            del remaining[n]
    return False


def _oracle(spec_list) -> str | None:
    """The reason a spec is invalid (a word its error message must contain), or None when valid."""
    names = [s["name"] for s in spec_list]
    for s in spec_list:
        if not s["name"]:
            return "name"
        if any(isinstance(d, tuple) for d in s["initial"]):
            return "previous"
    if len(set(names)) != len(names):
        return "unique"
    for s in spec_list:
        for d in s["initial"] + (s["step"] or []):
            if (d[1] if isinstance(d, tuple) else d) not in names:
                return "unknown"
    initial = {s["name"]: [d for d in s["initial"] if isinstance(d, str)] for s in spec_list}
    step = {s["name"]: [d for d in (s["step"] or []) if isinstance(d, str)] for s in spec_list}
    if _has_cycle(initial) or _has_cycle(step):
        return "cycle"
    for s in spec_list:
        if s["step"] is not None and s["kind"] != "ok":
            return s["name"]  # the runtime's message names the variable
    return None


def _expected(spec_list, num_steps):
    """Deterministic trajectories of a valid, noise-free spec, computed without recsim."""
    by_name = {s["name"]: s for s in spec_list}
    values = [dict()]
    for t in range(num_steps + 1):
        current = {}
        pending = list(by_name)
        while pending:
            for name in list(pending):
                s = by_name[name]
                deps = s["initial"] if t == 0 else s["step"]
                if t > 0 and deps is None:
                    current[name] = values[-1][name]
                    pending.remove(name)
                    continue
                reads = [(d[1], True) if isinstance(d, tuple) else (d, False) for d in deps]
                if all(prev or n in current for n, prev in reads):
                    current[name] = 1.0 + sum(values[-1][n] if prev else current[n] for n, prev in reads)
                    pending.remove(name)
        values.append(current)
    return values[1:]


def _property(spec_list):
    reason = _oracle(spec_list)
    event(f"invalid: {reason}" if reason in (None, "name", "previous", "unique", "unknown", "cycle") else "invalid: value")
    try:
        network = Network([_variable(s) for s in spec_list])
        trajectory = Runtime(network).trajectory(jax.random.key(0), NUM_STEPS)
    except (ValueError, TypeError) as err:
        assert not jax_internal(err), f"error from inside JAX: {err!r}"
        assert reason is not None, f"a valid spec {spec_list} was refused: {err}"
        words = {"name": "name", "previous": "previous", "unique": "unique", "unknown": "unknown",
                 "cycle": "cycle"}
        assert words.get(reason, repr(reason)) in str(err), f"expected {reason!r} in: {err}"
        if reason == "cycle":
            assert isinstance(err, DependencyCycleError)
        return
    assert reason is None, f"an invalid spec ({reason}) was accepted: {spec_list}"
    for s in spec_list:
        x = np.asarray(trajectory[s["name"]]["x"])
        assert x.shape == (NUM_STEPS + 1, 2) and np.all(np.isfinite(x))
    if not any(s["noise"] for s in spec_list):
        for t, expected in enumerate(_expected(spec_list, NUM_STEPS)):
            for name, value in expected.items():
                np.testing.assert_allclose(np.asarray(trajectory[name]["x"][t]), value, rtol=1e-6)


@bounded(60)
@given(spec_list=specs())
def test_recsim_network_spec_fuzz(spec_list):
    _property(spec_list)


@pytest.mark.slow
@deep(1000)
@given(spec_list=specs())
def test_recsim_network_spec_fuzz_deep(spec_list):
    _property(spec_list)
