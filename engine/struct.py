"""Immutable pytree dataclasses.

`pytree_dataclass` turns a class into a frozen dataclass registered with JAX,
so instances pass through `jit`, `vmap` and `lax.scan`. Fields marked with
`static_field()` are part of the tree structure (resolved at trace time), not
leaves.
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import jax

T = TypeVar("T")


def static_field(**kwargs: Any) -> Any:
    """A dataclass field kept in the treedef (hashable, never traced)."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def pytree_dataclass(cls: type[T]) -> type[T]:
    """Frozen dataclass registered as a JAX pytree, with a `.replace(**kw)` method."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    data_fields, meta_fields = [], []
    for field in dataclasses.fields(cls):
        (meta_fields if field.metadata.get("static") else data_fields).append(field.name)
    jax.tree_util.register_dataclass(cls, data_fields=data_fields, meta_fields=meta_fields)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    cls.replace = replace
    return cls
