"""Variables: a name, an initial definition and a step definition.

A definition is a function `fn(ctx, *dependency_values) -> dict[str, array]`
together with the explicit list of what it reads. A dependency is either the
*current* value of another variable (its name, a string) or the value of a
variable at the *previous* step (`previous("name")`, step definitions only).

Random fields are drawn through the `Context` handed to the definition:
`ctx.draw("field", distribution)`. In *sample* mode this samples with a key
the runtime split for this variable and step; in *observe* mode it returns the
logged value and adds its log-probability. Fields computed without `draw` are
deterministic and score 0.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

from simlab.recsim.core.value import FieldSpec


@dataclasses.dataclass(frozen=True)
class Previous:
    """A dependency on a variable's value at the previous step."""

    name: str


def previous(name: str) -> Previous:
    """Declare a dependency on `name`'s value at step t-1."""
    return Previous(name)


Dependency = str | Previous


@dataclasses.dataclass(frozen=True)
class Definition:
    """`fn(ctx, *values_of(dependencies)) -> dict[str, array]`."""

    fn: Callable[..., Mapping[str, Any]]
    dependencies: tuple[Dependency, ...] = ()

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"a Definition needs a callable, got {type(self.fn).__name__}")
        deps = tuple(self.dependencies)
        for dep in deps:
            if not isinstance(dep, (str, Previous)):
                raise TypeError(
                    f"dependency {dep!r} must be a variable name or previous('name')"
                )
        object.__setattr__(self, "dependencies", deps)


def _as_definition(definition) -> Definition:
    if definition is None or isinstance(definition, Definition):
        return definition
    if isinstance(definition, tuple) and len(definition) == 2:
        return Definition(definition[0], tuple(definition[1]))
    if callable(definition):
        return Definition(definition, ())
    raise TypeError(
        f"expected a Definition, a (fn, dependencies) tuple or a callable, got {definition!r}"
    )


@dataclasses.dataclass(frozen=True)
class Variable:
    """A named, time-indexed random value.

    Attributes:
      name: unique within a network.
      initial: definition of the value at t = 0 (may read current values only).
      step: definition of the value at t >= 1; `None` keeps the previous value.
      spec: optional declared `dict[field, FieldSpec]`; inferred from the
        initial value when omitted.
    """

    name: str
    initial: Definition
    step: Definition | None = None
    spec: Mapping[str, FieldSpec] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a Variable needs a non-empty string name, got {self.name!r}")
        object.__setattr__(self, "initial", _as_definition(self.initial))
        object.__setattr__(self, "step", _as_definition(self.step))
        if self.initial is None:
            raise ValueError(f"variable {self.name!r} needs an initial definition")
        for dep in self.initial.dependencies:
            if isinstance(dep, Previous):
                raise ValueError(
                    f"variable {self.name!r}: the initial definition depends on previous("
                    f"{dep.name!r}), but at t = 0 there is no previous step; depend on "
                    f"{dep.name!r} (current) instead."
                )


class Context:
    """Handed to a definition: draws its random fields with explicit keys.

    Sample mode (`observed is None`): `draw` samples; observe mode: `draw`
    returns the logged field and accumulates `log_prob`.
    """

    def __init__(self, key: jax.Array, observed: Mapping[str, jax.Array] | None = None):
        self._key = key
        self._observed = observed
        self._num_draws = 0
        self.log_prob = jnp.zeros((), jnp.float32)

    @property
    def observing(self) -> bool:
        """True in observe (log-probability) mode."""
        return self._observed is not None

    def draw(self, field: str, distribution) -> jax.Array:
        """Sample `field` from `distribution` (or score its logged value)."""
        key = jax.random.fold_in(self._key, self._num_draws)
        self._num_draws += 1
        if self._observed is None:
            return distribution.sample(key)
        if field not in self._observed:
            raise KeyError(
                f"observe mode: the logged value has no field {field!r} (has "
                f"{sorted(self._observed)}); log every drawn field."
            )
        value = self._observed[field]
        self.log_prob = self.log_prob + jnp.sum(distribution.log_prob(value))
        return value

    def draw_all(self, fields: Sequence[str], distribution) -> tuple[jax.Array, ...]:
        """Draw several fields jointly from a distribution whose sample is a tuple.

        The distribution needs `sample_fields(key) -> tuple` and
        `log_prob_fields(*values) -> array`; e.g. a Gaussian mixture that
        returns its component together with the point.
        """
        key = jax.random.fold_in(self._key, self._num_draws)
        self._num_draws += 1
        if self._observed is None:
            return tuple(distribution.sample_fields(key))
        values = tuple(self._observed[f] for f in fields)
        self.log_prob = self.log_prob + jnp.sum(distribution.log_prob_fields(*values))
        return values
