"""Input validation at the Python boundary (gym adapters, CLI, make).

These checks run on host NumPy data before anything is traced, so jitted hot
paths stay branch-free. Each error names the expected form and how to fix it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium
import numpy as np

from simlab.engine.specs import BoxSpec, DiscreteSpec, Spec

MAX_SEED = 2**32 - 1


class NonFiniteStateError(FloatingPointError):
    """A simulation produced NaN or infinity in its observation."""


def to_gym_space(spec: Spec) -> gymnasium.spaces.Space:
    """The gymnasium space of an `engine.specs` spec (same shape, dtype and bounds)."""
    if isinstance(spec, DiscreteSpec):
        return gymnasium.spaces.Discrete(spec.num_values)
    if isinstance(spec, BoxSpec):
        return gymnasium.spaces.Box(low=spec.low, high=spec.high, shape=spec.shape, dtype=spec.dtype)
    raise TypeError(f"no gymnasium space for spec {spec!r}")


def with_overrides(params, overrides: dict[str, Any], env_name: str):
    """`dataclasses.replace(params, **overrides)` with an error listing the valid parameter names."""
    try:
        return dataclasses.replace(params, **overrides)
    except TypeError as err:
        names = ", ".join(f.name for f in dataclasses.fields(params))
        raise TypeError(f"{env_name} got an unknown parameter ({err}); valid ones: {names}") from None


def ready_to_render(render_mode: str | None, state: Any) -> bool:
    """True if `render()` should draw; warns for a missing render_mode, raises before `reset()`."""
    if render_mode is None:
        gymnasium.logger.warn("render() called without render_mode; create the env with render_mode='rgb_array'")
        return False
    if state is None:
        raise RuntimeError("call reset() before render()")
    return True


def check_seed(seed: Any) -> int | None:
    """Returns `seed` as an int in [0, 2**32 - 1], or None.

    Raises TypeError for non-integers (bools and floats included) and ValueError
    for out-of-range values.
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int in [0, {MAX_SEED}] or None, got {type(seed).__name__} {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}] (a uint32), got {seed}; use e.g. seed % 2**32")
    return int(seed)


def check_action(action: Any, spec: Spec, num_envs: int | None = None) -> np.ndarray:
    """Validates an action (or a batch of `num_envs` actions) against `spec`.

    Returns a NumPy array of `spec.dtype` with shape `spec.shape` (or
    `(num_envs, *spec.shape)`). Raises TypeError for a wrong dtype (strings,
    bools, complex, objects; floats for a discrete action) and ValueError for a
    wrong shape, NaN/inf, or a discrete action out of range. Continuous actions
    outside the bounds are accepted and clamped by the environment, as MuJoCo
    clamps controls to ctrlrange.
    """
    expected_shape = spec.shape if num_envs is None else (num_envs, *spec.shape)
    what = "action" if num_envs is None else "actions"
    try:
        array = np.asarray(action)
    except Exception as err:  # ragged lists and the like
        raise ValueError(f"{what} must be an array of shape {expected_shape}: {err}") from None
    kind = array.dtype.kind
    if isinstance(spec, DiscreteSpec):
        if kind not in "iu":
            raise TypeError(
                f"{what} must be integers in [0, {spec.num_values}) with shape {expected_shape}, "
                f"got dtype {array.dtype}"
            )
    elif kind not in "fiu":
        raise TypeError(
            f"{what} must be real numbers (float32) with shape {expected_shape}, got dtype {array.dtype}"
        )
    if array.shape != expected_shape:
        hint = ""
        if num_envs is not None and array.shape == spec.shape:
            hint = f"; a vector env needs one action per sub-environment (num_envs={num_envs})"
        elif array.size == int(np.prod(expected_shape)):
            hint = f"; reshape it with np.reshape(action, {expected_shape})"
        raise ValueError(f"{what} must have shape {expected_shape}, got {array.shape}{hint}")
    if isinstance(spec, DiscreteSpec):
        if np.any((array < 0) | (array >= spec.num_values)):
            raise ValueError(f"{what} must lie in [0, {spec.num_values}), got {array}")
        return array.astype(spec.dtype)
    array = array.astype(spec.dtype)
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[:5].tolist()
        raise ValueError(f"{what} contain NaN or infinity at indices {bad}; actions must be finite")
    return array


def check_finite_obs(obs: np.ndarray, batched: bool) -> None:
    """Raises `NonFiniteStateError` if an observation holds NaN/inf."""
    finite = np.isfinite(obs)
    if finite.all():
        return
    if batched:
        rows = np.unique(np.argwhere(~finite)[:, 0])[:10].tolist()
        where = f"in sub-environments {rows}"
    else:
        where = f"at observation indices {np.argwhere(~finite).ravel()[:10].tolist()}"
    raise NonFiniteStateError(
        f"the simulation produced a non-finite observation {where}. The state is unusable; reset the "
        "environment. To find the operation that first produced the NaN, create the environment with "
        "debug=True (runs each step under jax.experimental.checkify float checks)."
    )
