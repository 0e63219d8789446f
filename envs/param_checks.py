"""Type and range checks of the keyword arguments that `envs.make` forwards to an environment.

An environment's options are its constructor's keyword parameters and the fields of its `params`
dataclass (`CartPoleParams`, `AntParams`, ...). `check_kwargs` compares each given value with that
option's annotation (or, without one, its default), so `gravity="abc"` fails in `envs.make` with a
message naming the option, instead of inside JAX after compilation:

    envs.make('cartpole_swingup'): gravity = 'abc' (str) is not valid: must be a number (default 9.82)

Time steps (`dt`, `timestep`, `*_dt`) must be finite and > 0, and step counts (`frame_skip`,
`substeps`) integers >= 1.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import sys
from typing import Any, Callable

_MISSING = object()
TIME_STEP_NAMES = ("dt", "timestep", "time_step")
STEP_COUNT_NAMES = ("frame_skip", "substeps", "n_substeps")


@dataclasses.dataclass(frozen=True)
class Option:
    """One environment option: its annotation (a string, possibly empty) and default (`_MISSING` if none)."""

    annotation: str
    default: Any


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty or annotation is None:
        return ""
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


def _params_class(factory: Callable, annotation: Any):
    """The dataclass named by a `params: XParams | None` annotation, looked up in the factory's module."""
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return annotation
    text = _annotation_text(annotation)
    module = sys.modules.get(getattr(factory, "__module__", ""), None)
    for part in (p.strip() for p in text.split("|")):
        candidate = getattr(module, part, None) if module else None
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None


def _dataclass_options(cls) -> dict[str, Option]:
    options = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = _MISSING
        options[f.name] = Option(_annotation_text(f.type), default)
    return options


def factory_options(factory: Callable) -> dict[str, Option]:
    """Options known from `factory`'s signature and its `params` dataclass (empty if not inspectable)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return {}
    options: dict[str, Option] = {}
    for name, p in signature.parameters.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if name == "params":
            cls = _params_class(factory, p.annotation)
            if cls is not None:
                options.update(_dataclass_options(cls))
            continue
        options[name] = Option(_annotation_text(p.annotation),
                               _MISSING if p.default is inspect.Parameter.empty else p.default)
    return options


def env_options(env: Any) -> dict[str, Option]:
    """Options known from a constructed environment's `params` dataclass."""
    params = getattr(env, "params", None)
    if params is not None and dataclasses.is_dataclass(params) and not isinstance(params, type):
        return _dataclass_options(type(params))
    return {}


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _expected_kind(option: Option) -> str | None:
    """'bool' | 'int' | 'float' | 'str' | 'sequence' | None (unknown: not checked)."""
    parts = [p.strip() for p in option.annotation.split("|") if p.strip() and p.strip() != "None"]
    if len(parts) == 1:
        base = parts[0]
        if base in ("bool", "int", "float", "str"):
            return base
        if base.startswith(("tuple", "Tuple", "list", "List", "Sequence")):
            return "sequence"
    if option.annotation:
        return None
    default = option.default  # no annotation: judge by the default
    if isinstance(default, bool):
        return "bool"
    if _is_int(default) or _is_real(default):
        return "float"  # an int default may still be a physical quantity: accept any real number
    if isinstance(default, str):
        return "str"
    if isinstance(default, (tuple, list)):
        return "sequence"
    return None


def _optional(option: Option) -> bool:
    return "None" in [p.strip() for p in option.annotation.split("|")] or option.default is None


def check_value(env_name: str, key: str, value: Any, option: Option | None) -> None:
    """Raises TypeError (wrong type) or ValueError (out of range) for option `key` of `env_name`."""
    where = f"envs.make({env_name!r}): {key} = {value!r}"
    default = "" if option is None or option.default is _MISSING else f" (default {option.default!r})"
    if option is not None:
        kind = _expected_kind(option)
        if value is None:
            if not _optional(option) and kind is not None:
                raise TypeError(f"{where} is not valid: this option cannot be None{default}")
            return
        if kind == "bool" and not isinstance(value, bool):
            raise TypeError(f"{where} ({type(value).__name__}) is not valid: must be true or false{default}")
        if kind == "int" and not _is_int(value):
            raise TypeError(f"{where} ({type(value).__name__}) is not valid: must be an integer{default}")
        if kind == "float" and not _is_real(value):
            raise TypeError(f"{where} ({type(value).__name__}) is not valid: must be a number{default}")
        if kind == "str" and not isinstance(value, str):
            raise TypeError(f"{where} ({type(value).__name__}) is not valid: must be a string{default}")
        if kind == "sequence":
            if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
                raise TypeError(f"{where} ({type(value).__name__}) is not valid: must be a list{default}")
            ref = option.default if isinstance(option.default, (tuple, list)) else ()
            if ref and all(_is_real(r) for r in ref) and not all(_is_real(v) for v in value):
                raise TypeError(f"{where} is not valid: must be a list of numbers{default}")
        if kind in ("int", "float") and math.isnan(float(value)):
            raise ValueError(f"{where} is not a number{default}")
    if key in TIME_STEP_NAMES or key.endswith("_dt"):
        if not _is_real(value):
            raise TypeError(f"{where} ({type(value).__name__}) is not valid: a time step must be a number > 0"
                            f"{default}")
        if not math.isfinite(float(value)) or value <= 0:
            raise ValueError(f"{where} is out of range: a time step must be a finite number > 0 (valid range "
                             f"(0, inf)){default}")
    if key in STEP_COUNT_NAMES:
        if not _is_int(value):
            raise TypeError(f"{where} ({type(value).__name__}) is not valid: must be an integer >= 1{default}")
        if value < 1:
            raise ValueError(f"{where} is out of range: must be an integer >= 1 (valid range [1, inf)){default}")


def check_kwargs(env_name: str, factory: Callable, kwargs: dict[str, Any]) -> set[str]:
    """Checks `kwargs` against the options of `factory` before it is called; returns the keys it could
    check (the others are checked on the constructed environment by `check_constructed`)."""
    options = factory_options(factory)
    for key, value in kwargs.items():
        check_value(env_name, key, value, options.get(key))
    return {k for k in kwargs if k in options}


def check_constructed(env_name: str, env: Any, kwargs: dict[str, Any], checked: set[str]) -> None:
    """Checks the `kwargs` not known before construction against the environment's `params` dataclass."""
    options = env_options(env)
    for key, value in kwargs.items():
        if key not in checked and key in options:
            check_value(env_name, key, value, options[key])
