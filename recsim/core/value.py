"""Field specs: the declared shape and dtype of every field of a variable's value.

A *value* is a plain `dict[str, jax.Array]` (a pytree). A `ValueSpec` maps each
field name to a `FieldSpec`; the runtime checks every value a definition
returns against it at trace time, so a shape change between the initial and
the step definition is reported by name instead of as an opaque `lax.scan`
carry mismatch.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import numpy as np

Value = dict  # dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """Shape and dtype of one field (unbatched over replicas, batched over a population)."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @classmethod
    def of(cls, array) -> "FieldSpec":
        """The spec of an array or `jax.ShapeDtypeStruct`."""
        return cls(tuple(array.shape), np.dtype(array.dtype))


ValueSpec = Mapping[str, FieldSpec]


def spec_of(value: Mapping[str, jax.Array]) -> dict[str, FieldSpec]:
    """The `ValueSpec` of a value (a dict of arrays or shape structs)."""
    return {name: FieldSpec.of(array) for name, array in value.items()}


def check_value(variable: str, where: str, value, spec: ValueSpec) -> None:
    """Raise a `ValueError` naming the variable and field if `value` does not match `spec`.

    Args:
      variable: variable name, for the message.
      where: which definition produced the value ("initial", "step", "observed").
      value: dict of arrays (or tracers).
      spec: the declared or inferred `ValueSpec`.
    """
    if not isinstance(value, Mapping):
        raise TypeError(
            f"variable {variable!r}: the {where} definition must return a dict of fields, "
            f"got {type(value).__name__}; return e.g. {{'field': array}}."
        )
    missing = sorted(set(spec) - set(value))
    extra = sorted(set(value) - set(spec))
    if missing or extra:
        raise ValueError(
            f"variable {variable!r}: the {where} value has fields {sorted(value)} but the spec "
            f"declares {sorted(spec)} (missing {missing}, unexpected {extra}); make both "
            "definitions return the same fields."
        )
    for name, field_spec in spec.items():
        shape = tuple(jax.numpy.shape(value[name]))
        dtype = np.dtype(jax.numpy.result_type(value[name]))
        if shape != field_spec.shape:
            raise ValueError(
                f"variable {variable!r} field {name!r}: the {where} value has shape {shape} but "
                f"the spec says {field_spec.shape}; a field keeps one shape at every step."
            )
        if jax.dtypes.canonicalize_dtype(dtype) != jax.dtypes.canonicalize_dtype(field_spec.dtype):
            raise ValueError(
                f"variable {variable!r} field {name!r}: the {where} value has dtype {dtype} but "
                f"the spec says {field_spec.dtype}; cast it (e.g. `.astype(jnp.float32)`)."
            )
