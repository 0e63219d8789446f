"""One place for the checks of agent config dataclasses (`PPOConfig`, `SACConfig`, `APGConfig`, `ESConfig`, ...).

Each config's `__post_init__` calls `validate_config(self, RANGES)`, so the same checks apply to
`simlab train --set`/`--config` files and to the Python API. Every field is checked against its
annotation (an `int` field takes an int, not 1.5, "abc" or True; a `float` field takes a finite
int or float; a `str` field a string; `tuple[int, ...]` a sequence of positive ints), then against
its range. Messages name the field, the value and the valid range:

    PPOConfig.learning_rate = -1 is out of range: must be > 0 (valid range (0, inf))
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
from typing import Any, Iterable


@dataclasses.dataclass(frozen=True)
class Interval:
    """A numeric range; `low`/`high` None means unbounded on that side."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        """Whether `value` lies in the interval."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    def __str__(self) -> str:
        left = "(-inf" if self.low is None else ("(" if self.low_open else "[") + _fmt(self.low)
        right = "inf)" if self.high is None else _fmt(self.high) + (")" if self.high_open else "]")
        return f"{left}, {right}"

    def describe(self) -> str:
        """'> 0', '>= 1', 'in (0, 1]', ... for messages."""
        if self.high is None and self.low is not None:
            return f"{'>' if self.low_open else '>='} {_fmt(self.low)}"
        if self.low is None and self.high is not None:
            return f"{'<' if self.high_open else '<='} {_fmt(self.high)}"
        return f"in {self}"


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


POSITIVE = Interval(0, None, low_open=True)          # > 0
NONNEGATIVE = Interval(0, None)                       # >= 0
AT_LEAST_ONE = Interval(1, None)                      # >= 1 (counts)
UNIT = Interval(0, 1)                                 # [0, 1]
DISCOUNT = Interval(0, 1, low_open=True)              # (0, 1]
OPEN_UNIT = Interval(0, 1, low_open=True, high_open=True)  # (0, 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _base_kind(annotation: Any) -> tuple[str, bool]:
    """('int' | 'float' | 'str' | 'bool' | 'int_tuple' | 'other', optional) from a field annotation
    (a string under `from __future__ import annotations`, or a type)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional["):-1] + " | None"
    parts = [p.strip() for p in text.split("|")]
    optional = "None" in parts
    parts = [p for p in parts if p != "None"]
    if len(parts) != 1:
        return "other", optional
    base = parts[0].replace(" ", "")
    if base in ("int", "float", "str", "bool"):
        return base, optional
    if base in ("tuple[int,...]", "Tuple[int,...]"):
        return "int_tuple", optional
    return "other", optional


def _kind_error(cls: str, name: str, value: Any, kind: str, interval: Interval | None) -> TypeError:
    want = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
            "int_tuple": "a list of positive integers, e.g. [64, 64]"}[kind]
    where = f" {interval.describe()}" if interval is not None and kind in ("int", "float") else ""
    return TypeError(f"{cls}.{name} = {value!r} ({type(value).__name__}) is not valid: must be {want}{where}")


def check_value(cls: str, name: str, value: Any, annotation: Any, interval: Interval | None = None,
                choices: Iterable[str] | None = None) -> Any:
    """Checks one field value; returns it normalized (ints given to float fields become floats, lists of
    sizes become tuples). Raises TypeError (wrong type) or ValueError (out of range / not a choice)."""
    kind, optional = _base_kind(annotation)
    given = value
    if value is None:
        if optional:
            return None
        raise TypeError(f"{cls}.{name} must not be None" + (f"; valid range {interval}" if interval else ""))
    if kind == "int":
        if not _is_int(value):
            raise _kind_error(cls, name, value, kind, interval)
        value = int(value)
    elif kind == "float":
        if not _is_real(value):
            raise _kind_error(cls, name, value, kind, interval)
        value = float(value)
        if math.isnan(value):
            raise ValueError(f"{cls}.{name} = nan is not a number" + (f"; valid range {interval}" if interval else ""))
    elif kind == "str":
        if not isinstance(value, str):
            raise _kind_error(cls, name, value, kind, interval)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _kind_error(cls, name, value, kind, interval)
    elif kind == "int_tuple":
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise _kind_error(cls, name, value, kind, interval)
        items = list(value)
        if not all(_is_int(h) and h >= 1 for h in items):
            raise ValueError(f"{cls}.{name} = {value!r} is not valid: must be a list of positive integers "
                             f"(layer sizes), e.g. [64, 64]")
        value = tuple(int(h) for h in items)
    if interval is not None and kind in ("int", "float") and not interval.contains(value):
        want = interval.describe()
        if kind == "int" and interval == AT_LEAST_ONE:
            want = "a positive integer (>= 1)"
        raise ValueError(f"{cls}.{name} = {given!r} is out of range: must be {want} (valid range {interval})")
    if choices is not None and value not in tuple(choices):
        raise ValueError(f"{cls}.{name} = {value!r} is not valid: choose one of "
                         f"{', '.join(repr(c) for c in choices)}")
    return value


def validate_config(config: Any, ranges: dict[str, Interval] | None = None,
                    choices: dict[str, Iterable[str]] | None = None) -> None:
    """Checks every field of the frozen dataclass `config` (type from its annotation, range from `ranges`,
    allowed strings from `choices`) and stores normalized values back. Raises TypeError or ValueError
    naming the config class, the field, the value and the valid range."""
    cls = type(config).__name__
    ranges, choices = ranges or {}, choices or {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        normalized = check_value(cls, field.name, value, field.type, ranges.get(field.name),
                                 choices.get(field.name))
        if normalized is not value:
            object.__setattr__(config, field.name, normalized)


_TRUE, _FALSE, _NONE = ("true", "yes", "on", "1"), ("false", "no", "off", "0"), ("none", "null")


def parse_text(cls: str, name: str, text: str, annotation: Any) -> Any:
    """The value of field `name` (annotated `annotation`) written as command-line text, converted by the
    field's type: `int` "1000", "1e6" or "1_000_000"; `float` "3e-4"; `bool` true/false/yes/no/on/off/1/0;
    `str` as written; `tuple[int, ...]` "64,64" or "[64, 64]"; "none"/"null" for an optional field.
    Fields of other types take JSON. Raises ValueError naming the field and what it takes; the value's
    range is checked later by the config itself (`validate_config`)."""
    kind, optional = _base_kind(annotation)
    stripped = text.strip()
    if optional and stripped.lower() in _NONE:
        return None
    want = {"int": "an integer, e.g. 64 or 1e6", "float": "a number, e.g. 3e-4", "str": "a string",
            "bool": "true or false", "int_tuple": "comma-separated positive integers, e.g. 64,64",
            "other": "a JSON value"}[kind]
    error = ValueError(f"{cls}.{name} = {text!r} is not valid: must be {want}")
    try:
        if kind == "int":
            value = float(stripped.replace("_", "")) if any(c in stripped.lower() for c in ".e") else \
                int(stripped.replace("_", ""))
            if isinstance(value, float) and not value.is_integer():
                raise error
            return int(value)
        if kind == "float":
            return float(stripped)
        if kind == "str":
            return text
        if kind == "bool":
            if stripped.lower() in _TRUE + _FALSE:
                return stripped.lower() in _TRUE
            raise error
        if kind == "int_tuple":
            inner = stripped.strip("[]()")
            return tuple(int(part) for part in inner.split(",") if part.strip()) if inner else ()
        return json.loads(stripped)
    except (ValueError, OverflowError):
        raise error from None


def parse_assignments(config_cls: type, items: Iterable[str]) -> dict[str, Any]:
    """`["learning_rate=3e-4", "hidden=64,64"]` -> `{"learning_rate": 3e-4, "hidden": (64, 64)}`, each value
    converted by the type of the field of `config_cls` (a config dataclass) it names (`parse_text`).
    Raises ValueError for an item without "=", an unknown field (listing the valid ones) or a value
    that is not of the field's type."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in fields:
            raise ValueError(f"unknown {config_cls.__name__} field {key!r}; valid fields: {sorted(fields)}")
        values[key] = parse_text(config_cls.__name__, key, text, fields[key].type)
    return values


def parse_json_assignments(items: Iterable[str], flag: str = "--env-set") -> dict[str, Any]:
    """`["forward_reward_weight=2", "solver=mujoco"]` -> keyword arguments with JSON values (bare words stay
    strings), for options without a config dataclass (an environment's constructor arguments, which
    `envs.make` checks by name, type and range). Raises ValueError for an item without "="."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            values[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            values[key.strip()] = text
    return values
