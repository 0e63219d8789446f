"""Fuzzing the gymnasium adapters' `reset`/`step` (issue 26): random actions of any shape, dtype and value,
and random seeds and reset options, either work as documented (README "Bad input and non-finite states")
or raise ValueError/TypeError naming the expected form. Never an error from inside JAX.

Documented behaviour checked here:
  * a real-valued action (int/uint/float of any width) of the action space's shape with finite values is
    accepted; values outside the bounds are clamped by the environment, so the next observation is finite;
  * a wrong shape raises ValueError naming the expected shape; NaN/inf raise ValueError ("finite");
    strings, bools, complex and objects raise TypeError ("real numbers");
  * seeds: ints in [0, 2**32 - 1] or None; others raise TypeError/ValueError naming the range.
The environments are built once per module (their jitted `reset`/`step` compile once).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from simlab import envs  # noqa: F401  (registers the gymnasium ids)
from simlab.envs.gym_env import SimlabGymEnv
from simlab.envs.gym_vector import SimlabVectorEnv
from fuzz_settings import bounded, deep, jax_internal

ENV = "cartpole_swingup"  # action shape (1,), bounds [-1, 1]
NUM_ENVS = 3
MAX_SEED = 2**32 - 1


@pytest.fixture(scope="module")
def single():
    env = SimlabGymEnv(ENV)
    env.reset(seed=0)
    return env


@pytest.fixture(scope="module")
def vector():
    env = SimlabVectorEnv(ENV, num_envs=NUM_ENVS)
    env.reset(seed=0)
    return env


FLOAT_DTYPES = ["float16", "float32", "float64"]
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint32"]
BAD_DTYPES = ["bool", "complex64", "U3", "object"]

shapes = st.one_of(st.just(None), st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple))
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([0.0, 1.0, -1.0, 0.999, 1e3, -1e30, 1e300]))


@st.composite
def actions(draw, expected: tuple[int, ...]):
    """`(action, kind)`: kind is "ok" (must be accepted), "shape", "finite" or "dtype" (must be refused)."""
    shape = draw(shapes)
    shape = expected if shape is None else shape
    dtype = draw(st.sampled_from(FLOAT_DTYPES + INT_DTYPES + BAD_DTYPES))
    n = int(np.prod(shape, dtype=np.int64))
    raw = draw(st.lists(values, min_size=n, max_size=n))
    if dtype in BAD_DTYPES:
        if dtype == "U3":
            action = np.array([str(v)[:3] for v in raw], dtype="U3").reshape(shape)
        elif dtype == "object":
            action = np.empty(n, dtype=object)
            action[:] = [draw(st.sampled_from([None, "a", 1.0, [1.0]])) for _ in range(n)]
            action = action.reshape(shape)
        else:
            action = np.array([v == v and v > 0 for v in raw], dtype=dtype).reshape(shape)
        return action, "dtype"
    if dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        ints = [max(int(info.min), min(int(info.max), int(np.nan_to_num(v)))) for v in raw]
        return np.array(ints, dtype=dtype).reshape(shape), ("ok" if shape == expected else "shape")
    with np.errstate(over="ignore", invalid="ignore"):
        action = np.array(raw, dtype=np.float64).astype(dtype).reshape(shape)
    if shape != expected:
        return action, "shape"
    # The adapter casts to float32 first: values beyond float32's range become inf and are refused.
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.all(np.isfinite(action.astype(np.float32)))
    return action, ("ok" if finite else "finite")


def _check_refusal(err: BaseException, kind: str, expected: tuple[int, ...]) -> None:
    assert not jax_internal(err), f"error from inside JAX: {err!r}"
    message = str(err)
    assert message, "the error has no message"
    if kind == "shape":
        assert isinstance(err, ValueError) and str(expected) in message
    elif kind == "finite":
        assert isinstance(err, ValueError) and "finite" in message
    else:
        assert isinstance(err, (TypeError, ValueError)) and ("real numbers" in message or "shape" in message)


def _single_step_property(single, case):
    action, kind = case
    try:
        obs, reward, terminated, truncated, info = single.step(action)
    except (ValueError, TypeError) as err:
        assert kind != "ok", f"a valid action {action!r} ({action.dtype}) was refused: {err}"
        _check_refusal(err, kind, (1,))
        return
    assert kind == "ok", f"an invalid action ({kind}) {action!r} was accepted"
    assert obs.shape == single.observation_space.shape and np.all(np.isfinite(obs))
    assert np.isfinite(reward) and isinstance(terminated, bool) and isinstance(truncated, bool)
    if terminated or truncated:
        single.reset()


def _vector_step_property(vector, case):
    action, kind = case
    try:
        obs, reward, terminated, truncated, info = vector.step(action)
    except (ValueError, TypeError) as err:
        assert kind != "ok", f"valid actions {action!r} ({action.dtype}) were refused: {err}"
        _check_refusal(err, kind, (NUM_ENVS, 1))
        return
    assert kind == "ok", f"invalid actions ({kind}) {action!r} were accepted"
    assert obs.shape == (NUM_ENVS, 5) and np.all(np.isfinite(obs)) and np.all(np.isfinite(reward))
    assert terminated.shape == truncated.shape == (NUM_ENVS,)


seeds = st.one_of(st.none(), st.integers(-2**40, 2**40), st.integers(0, MAX_SEED), st.floats(allow_nan=True),
                  st.booleans(), st.text(max_size=3), st.lists(st.integers(-1, MAX_SEED + 1), max_size=4))


def _valid_seed(seed) -> bool:
    return seed is None or (type(seed) is int and 0 <= seed <= MAX_SEED)


def _reset_property(single, vector, seed, mask, extra_option):
    options = {} if mask is None else {"reset_mask": np.asarray(mask)}
    if extra_option:
        options["bogus"] = 1
    # Single env: seeds only (it accepts no options).
    try:
        obs, info = single.reset(seed=seed, options=options or None)
    except (ValueError, TypeError) as err:
        assert not jax_internal(err) and str(err)
        assert not (_valid_seed(seed) and not options), f"a valid seed {seed!r} was refused: {err}"
        assert ("seed" in str(err)) or ("options" in str(err))
    else:
        assert _valid_seed(seed) and not options, f"reset(seed={seed!r}, options={options}) was accepted"
        assert np.all(np.isfinite(obs))
    # Vector env: also per-env seed lists and reset masks.
    seed_ok = _valid_seed(seed) or (isinstance(seed, list) and len(seed) == NUM_ENVS
                                    and all(0 <= s <= MAX_SEED for s in seed))
    mask_ok = mask is None or (np.asarray(mask).dtype == np.bool_ and np.asarray(mask).shape == (NUM_ENVS,))
    try:
        obs, info = vector.reset(seed=seed, options=options or None)
    except (ValueError, TypeError) as err:
        assert not jax_internal(err) and str(err)
        assert not (seed_ok and mask_ok and not extra_option), f"valid reset {seed!r} {options} refused: {err}"
        assert any(word in str(err) for word in ("seed", "reset_mask", "options"))
    else:
        assert seed_ok and mask_ok and not extra_option, f"reset(seed={seed!r}, options={options}) was accepted"
        assert obs.shape == (NUM_ENVS, 5) and np.all(np.isfinite(obs))


masks = st.one_of(st.none(), st.lists(st.booleans(), min_size=NUM_ENVS, max_size=NUM_ENVS),
                  st.lists(st.booleans(), max_size=5), st.lists(st.integers(0, 1), min_size=NUM_ENVS,
                                                                max_size=NUM_ENVS))


@bounded(60)
@given(case=actions((1,)))
def test_single_env_step_fuzz(single, case):
    _single_step_property(single, case)


@bounded(60)
@given(case=actions((NUM_ENVS, 1)))
def test_vector_env_step_fuzz(vector, case):
    _vector_step_property(vector, case)


@bounded(40)
@given(seed=seeds, mask=masks, extra_option=st.booleans())
def test_reset_fuzz(single, vector, seed, mask, extra_option):
    _reset_property(single, vector, seed, mask, extra_option)


@pytest.mark.slow
@deep(1500)
@given(case=actions((1,)))
def test_single_env_step_fuzz_deep(single, case):
    _single_step_property(single, case)


@pytest.mark.slow
@deep(1500)
@given(case=actions((NUM_ENVS, 1)))
def test_vector_env_step_fuzz_deep(vector, case):
    _vector_step_property(vector, case)


@pytest.mark.slow
@deep(800)
@given(seed=seeds, mask=masks, extra_option=st.booleans())
def test_reset_fuzz_deep(single, vector, seed, mask, extra_option):
    _reset_property(single, vector, seed, mask, extra_option)
